import numpy as np
import pytest
import soundfile as sf

from unfold.data import folder_corpus, speech_dataset


def _tone(seconds, rate, channels=1, lead=0.1):
    t = np.arange(int(seconds * rate)) / rate
    x = np.sin(2 * np.pi * 300 * t) * (t >= lead) * 0.3
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def _write(path, seconds=1.0, rate=16000, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, _tone(seconds, rate, **kw), rate)


def test_generic_folder_split_mono_resample_and_bad_files(tmp_path):
    for i in range(30):
        _write(tmp_path / f"d{i % 3}" / f"u{i}.wav", rate=8000 if i % 2 else 16000,
               channels=2 if i % 5 == 0 else 1)
    _write(tmp_path / "short.flac", seconds=0.2)
    (tmp_path / "broken.wav").write_bytes(b"junk")
    sf.write(tmp_path / "empty.wav", np.zeros(0), 16000)
    splits = {}
    with pytest.warns(UserWarning) as rec:
        for s in ("train", "valid", "test"):
            splits[s] = folder_corpus(tmp_path, s, None, 16000, seconds=0.5)
    warned = " ".join(str(w.message) for w in rec)
    assert "broken.wav" in warned and "empty.wav" in warned
    names = [set(d.names) for d in splits.values()]
    assert sum(map(len, names)) == 31 and not (names[0] & names[1] or names[0] & names[2])
    x = splits["train"][0]
    assert x.shape == (8000,) and x.abs().max().item() == pytest.approx(0.9, abs=1e-5)
    again = folder_corpus(tmp_path, "train", 3, 16000, seconds=0.5, seed=0)
    assert again.names == folder_corpus(tmp_path, "train", 3, 16000, seconds=0.5).names


def test_short_files_padded_or_skipped(tmp_path):
    _write(tmp_path / "a.wav", seconds=0.3, lead=0.0)
    _write(tmp_path / "b.wav", seconds=2.0, lead=0.0)
    names = {}
    for short in ("pad", "skip"):
        got = []
        for s in ("train", "valid", "test"):
            try:
                got += folder_corpus(tmp_path, s, None, 16000, seconds=1.0, short=short).names
            except ValueError:
                pass
        names[short] = sorted(n.rsplit("/", 1)[1] for n in got)
    assert names == {"pad": ["a.wav", "b.wav"], "skip": ["b.wav"]}


def test_timit_and_librispeech_layouts(tmp_path):
    timit = tmp_path / "timit"
    for split, spk in (("TRAIN", "FAAA0"), ("TRAIN", "MBBB0"), ("TEST", "FCCC0")):
        for utt in ("SA1", "SX12", "SI400"):
            _write(timit / split / "DR1" / spk / f"{utt}.WAV")
    test = folder_corpus(timit, "test", None, 16000, seconds=0.5)
    assert sorted(n.rsplit("/", 1)[1] for n in test.names) == ["SI400.WAV", "SX12.WAV"]
    train = folder_corpus(timit, "train", None, 16000, seconds=0.5)
    assert all("/TRAIN/" in n and "SA1" not in n for n in train.names)
    libri = tmp_path / "LibriSpeech"
    for sub in ("train-clean-100", "dev-clean", "test-clean"):
        _write(libri / sub / "19" / "198" / f"19-198-{sub}.flac")
    for split, sub in (("train", "train-"), ("valid", "dev-"), ("test", "test-")):
        d = speech_dataset(str(tmp_path / "LibriSpeech"), split, 1, 16000, seconds=0.5)
        assert f"/{sub}" in d.names[0]


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        speech_dataset(str(tmp_path / "nope"), "train", 1, 16000)
    _write(tmp_path / "a.wav")
    with pytest.raises(ValueError, match="short must be"):
        folder_corpus(tmp_path, "train", 1, 16000, short="drop")
    with pytest.raises(ValueError, match="usable"):
        folder_corpus(tmp_path, "train", 5, 16000)
    with pytest.raises(ValueError, match="voices only applies"):
        speech_dataset(str(tmp_path), "train", 1, 16000, voices=["en"])
