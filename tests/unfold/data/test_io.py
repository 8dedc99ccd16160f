import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from unfold.data.io import load_audio, save_audio
from unfold.errors import InputDataError


def test_load_stereo_and_resample(tmp_path):
    t = np.arange(8000) / 8000
    stereo = np.stack([np.sin(2 * np.pi * 200 * t), np.zeros_like(t)], axis=1) * 0.5
    sf.write(tmp_path / "a.wav", stereo, 8000, subtype="FLOAT")
    x, rate, notes = load_audio(tmp_path / "a.wav", 16000)
    assert rate == 8000 and x.shape == (16000,) and x.dtype == torch.float32
    assert notes == ["2 channels -> mean", "8000 Hz -> 16000 Hz"]
    assert x.abs().max() == pytest.approx(0.25, abs=0.01)
    same, _, notes = load_audio(tmp_path / "a.wav", 8000)
    assert notes == ["2 channels -> mean"]
    np.testing.assert_allclose(same.numpy(), stereo.mean(axis=1), atol=1e-6)


def test_save_refuses_overwrite(tmp_path):
    x = torch.linspace(-0.5, 0.5, 100)
    path = save_audio(tmp_path / "o.flac", x, 16000)
    back, _, notes = load_audio(path, 16000)
    assert notes == [] and torch.allclose(back, x, atol=1e-4)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_audio(path, x, 16000)
    save_audio(path, -x, 16000, overwrite=True)
    assert load_audio(path, 16000)[0][0] > 0.49
    assert [p.name for p in tmp_path.iterdir()] == ["o.flac"]  # no temp files left


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_audio(tmp_path / "missing.wav", 16000)
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    with pytest.raises(ValueError, match="cannot read"):
        load_audio(tmp_path / "bad.wav", 16000)
    with pytest.raises(ValueError, match="mono"):
        save_audio(tmp_path / "s.wav", torch.zeros(2, 10), 16000)
    with pytest.raises(ValueError, match="format"):
        save_audio(tmp_path / "s.xyz", torch.zeros(10), 16000)


# -- properties: any bytes, any array --------------------------------------------------------------
FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(data=st.binary(max_size=2048),
       header=st.sampled_from([b"", b"RIFF", b"RIFF\x24\x00\x00\x00WAVEfmt "]))
def test_load_audio_of_random_bytes_is_audio_or_one_input_data_error(tmp_path, data, header):
    path = tmp_path / "random.wav"
    path.write_bytes(header + data)
    try:
        x, rate, _ = load_audio(path, 16000)
    except InputDataError as e:
        assert "\n" not in str(e) and str(path) in str(e)
        return
    assert x.dim() == 1 and x.numel() > 0 and bool(torch.isfinite(x).all()) and rate > 0


@FAST
@given(a=hnp.arrays(np.float32, st.tuples(st.integers(0, 300), st.integers(1, 3)),
                    elements=st.floats(-2, 2, width=32) | st.sampled_from([np.nan, np.inf, -np.inf])))
def test_load_audio_of_random_arrays_is_finite_mono_or_refused(tmp_path, a):
    path = tmp_path / "a.wav"
    sf.write(str(path), a, 8000, subtype="FLOAT")
    try:
        x, rate, notes = load_audio(path, None)
    except InputDataError as e:
        assert a.shape[0] == 0 or not np.isfinite(a).all()
        assert ("no samples" in str(e)) if a.shape[0] == 0 else ("NaN or inf" in str(e))
        return
    assert np.isfinite(a).all() and rate == 8000
    np.testing.assert_allclose(x.numpy(), a.mean(axis=1), rtol=1e-6, atol=1e-6)
    assert (a.shape[1] > 1) == any("channels" in n for n in notes)


@pytest.mark.parametrize("tty", [False, True])
def test_progress_bar_only_on_a_terminal(monkeypatch, tty):
    import io
    import sys

    from unfold.data.io import progress_bar

    class Err(io.StringIO):
        def isatty(self):
            return tty

    monkeypatch.setattr(sys, "stderr", Err())
    with progress_bar(3, "frames") as bar:
        bar.update(3)
        shown = not bar.disable
    assert shown is tty
    assert ("frames" in sys.stderr.getvalue()) is tty
