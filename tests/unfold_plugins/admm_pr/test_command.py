"""``unfold admm-pr reconstruct``: outputs, conversions and clear refusals of bad input."""

import numpy as np
import pytest
import soundfile as sf

from unfold.cli import main

RATE = 22050


def _speechlike(n=RATE // 2, rate=RATE):
    t = np.arange(n) / rate
    return (0.4 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype("f4")


def _run(*args):
    return main(["admm-pr", "reconstruct", *map(str, args)])


def test_reconstructs_wav_and_refuses_to_overwrite(tmp_path, capsys):
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, _speechlike(), RATE)
    assert _run(src, "-o", out, "--algo", "gla", "--iters", "3") == 0
    y, rate = sf.read(out)
    assert rate == RATE and len(y) == RATE // 2 and np.isfinite(y).all() and np.abs(y).max() > 0.05
    assert _run(src, "-o", out, "--algo", "admm", "--iters", "2") == 2
    assert "exists" in capsys.readouterr().err
    assert _run(src, "-o", out, "--algo", "admm", "--iters", "2", "--force") == 0


def test_stereo_at_another_rate_is_converted_and_reported(tmp_path, capsys):
    src, out = tmp_path / "st.wav", tmp_path / "o.wav"
    x = _speechlike(8000, 16000)
    sf.write(src, np.stack([x, 0.5 * x], 1), 16000)
    assert _run(src, "-o", out, "--algo", "fgla", "--iters", "2") == 0
    text = capsys.readouterr().out
    assert "2 channels -> mean" in text and "16000 Hz -> 22050 Hz" in text
    assert sf.info(out).samplerate == RATE and sf.info(out).channels == 1


def test_magnitude_npy_input(tmp_path):
    mag = np.abs(np.random.default_rng(0).standard_normal((513, 20))).astype("f4")
    src, out = tmp_path / "m.npy", tmp_path / "m.wav"
    np.save(src, mag)
    assert _run(src, "-o", out, "--algo", "admm", "--iters", "2") == 0
    assert len(sf.read(out)[0]) == 19 * 512


@pytest.mark.parametrize("bad, message", [
    (np.full((513, 10), np.nan, "f4"), "NaN or inf"),
    (np.full((513, 10), np.inf, "f4"), "NaN or inf"),
    (-np.ones((513, 10), "f4"), "negative"),
    (np.ones((512, 10), "f4"), "shape \\(513"),
    (np.ones((2, 513, 10), "f4"), "shape \\(513"),
    (np.zeros((513, 10), "f4"), "silent"),
])
def test_bad_magnitudes_are_refused_in_one_line(tmp_path, capsys, bad, message):
    src = tmp_path / "bad.npy"
    np.save(src, bad)
    assert _run(src, "-o", tmp_path / "o.wav", "--algo", "gla", "--iters", "2") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    import re
    assert re.search(message, err)
    assert not (tmp_path / "o.wav").exists()


def test_silent_wav_and_missing_model_messages(tmp_path, capsys, monkeypatch):
    src = tmp_path / "silence.wav"
    sf.write(src, np.zeros(RATE // 2, "f4"), RATE)
    assert _run(src, "-o", tmp_path / "o.wav", "--algo", "gla") == 2
    assert "silent" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # no runs/ here
    sf.write(tmp_path / "x.wav", _speechlike(), RATE)
    assert _run(tmp_path / "x.wav", "-o", tmp_path / "o.wav") == 2
    assert "unfold run admm-pr --quick" in capsys.readouterr().err
