import numpy as np
import pytest
import torch

from unfold.data import speech_dataset
from unfold.data.espeak import HELD_OUT_VARIANTS, sentences, split_of


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UNFOLD_CACHE", str(tmp_path))
    return tmp_path


def test_sentences_distinct_disjoint_deterministic():
    sizes = (("train", 1000), ("valid", 100), ("test", 100))
    split = {s: sentences(s, n, seed=0) for s, n in sizes}
    for s, texts in split.items():
        assert len(set(texts)) == len(texts)
        assert all(split_of(t) == s for t in texts)
    assert not set(split["train"]) & set(split["test"])
    assert not set(split["train"]) & set(split["valid"])
    assert sentences("valid", 100, seed=0) == split["valid"]
    assert sentences("valid", 100, seed=1) != split["valid"]


def test_corpus_clips_cache_and_voices(cache):
    test = speech_dataset(None, "test", 14, 16000, seconds=0.5)
    assert len(test) == 14
    x = test[0]
    assert x.shape == (8000,) and x.dtype == torch.float32
    assert x.abs().max().item() == pytest.approx(0.9, abs=1e-6)
    assert x[:400].abs().max() > 0.008  # onset (1 % of peak) within 10 ms lead-in + 15 ms
    test_variants = {name.split(":")[0].split("+")[1] for name in test.names}
    assert set(HELD_OUT_VARIANTS) <= test_variants
    train = speech_dataset(None, "train", 6, 16000, seconds=0.5)
    assert not {n.split("+")[1].split(":")[0] for n in train.names} & set(HELD_OUT_VARIANTS)
    cached = list((cache / "speech").iterdir())
    assert len(cached) == 2 and all((d / "clips.npy").is_file() for d in cached)
    again = speech_dataset(None, "test", 14, 16000, seconds=0.5)
    assert again.names == test.names and torch.equal(again.clips, test.clips)


def test_corpus_does_not_depend_on_what_was_synthesised_before(cache, monkeypatch):
    first = speech_dataset(None, "test", 3, 8000, seconds=0.3).clips
    speech_dataset(None, "train", 4, 8000, seconds=0.3)  # eSpeak state that used to leak
    monkeypatch.setenv("UNFOLD_CACHE", str(cache / "other"))
    again = speech_dataset(None, "test", 3, 8000, seconds=0.3).clips
    assert torch.equal(first, again)


def test_explicit_voices_hold_out_last(cache):
    d = speech_dataset(None, "valid", 3, 8000, seconds=0.3, voices=["en+m1", "en-us+f2"])
    assert all(n.startswith("en+m1:") for n in d.names)
    t = speech_dataset(None, "test", 2, 8000, seconds=0.3, voices=["en+m1", "en-us+f2"])
    assert {n.split(":")[0] for n in t.names} == {"en+m1", "en-us+f2"}
    assert np.isfinite(t.clips.numpy()).all()


def test_errors():
    with pytest.raises(ValueError, match="split must be one of"):
        speech_dataset(None, "dev", 3, 16000)
    with pytest.raises(ValueError, match="n .* is required"):
        speech_dataset(None, "train", None, 16000)
    with pytest.raises(ValueError, match="unknown eSpeak voice"):
        speech_dataset(None, "train", 1, 16000, voices=["xx-nonsense+q9"])
    with pytest.raises(ValueError, match="seconds"):
        speech_dataset(None, "train", 1, 16000, seconds=0)
