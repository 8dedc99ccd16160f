import numpy as np
import pytest
import soundfile as sf
import torch

from unfold.data.io import load_audio, save_audio


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
