"""Bad input to ``unfold admm-pr reconstruct``: one case per row, each a one-line refusal
(exit 2, no traceback) that writes nothing, output problems found before the computation."""

import os

import numpy as np
import pytest
import torch
from badinput import refused, tone, wav, written_audio_is_finite

from unfold import checkpoint
from unfold.cli import main

RATE = 22050
R = ["admm-pr", "reconstruct"]
LONG = "y" * 252 + ".wav"


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/ here: no default model
    x = tone(RATE // 4, RATE)
    wav(tmp_path / "in.wav", x, RATE)
    nan = x.copy()
    nan[100] = np.nan
    wav(tmp_path / "nan.wav", nan, RATE)
    wav(tmp_path / "empty16k.wav", np.zeros(0), 16000)
    wav(tmp_path / "empty.wav", np.zeros(0), RATE)
    wav(tmp_path / "short.wav", x[:100], RATE)
    (tmp_path / "text.wav").write_text("RIFF but not really")
    (tmp_path / "exists.wav").write_bytes(b"keep me")
    (tmp_path / "folder.wav").mkdir()
    np.save(tmp_path / "m.npy", np.abs(np.random.default_rng(0).standard_normal((513, 8))))
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    checkpoint.save_atomic(checkpoint.build({"raw.K": torch.eye(4)[None]}, plugin="cp-dequant",
                                            recipe="cp-dequant", tying="tied", config={}),
                           tmp_path / "cp.pt")
    torch.save({"format": checkpoint.FORMAT, "hook": os.getcwd}, tmp_path / "evil.pt")
    return tmp_path


CASES = [
    (R + ["missing.wav", "-o", "o.wav", "--algo", "gla"], "input missing.wav does not exist"),
    (R + ["text.wav", "-o", "o.wav", "--algo", "gla"], "cannot read audio file text.wav"),
    (R + ["nan.wav", "-o", "o.wav", "--algo", "gla"], "holds 1 NaN or inf samples"),
    (R + ["empty16k.wav", "-o", "o.wav", "--algo", "gla"], "holds no samples"),
    (R + ["empty.wav", "-o", "o.wav", "--algo", "gla"], "holds no samples"),
    (R + ["short.wav", "-o", "o.wav", "--algo", "gla"], "is too short"),
    (R + ["bad.npy", "-o", "o.wav", "--algo", "gla"], "cannot read magnitude array"),
    (R + ["m.npy", "-o", "o.wav", "--algo", "gla", "--rate", "16000"], "the model works at 22050 Hz"),
    (R + ["m.npy", "-o", "o.wav", "--algo", "gla", "--rate", "0"], "argument --rate"),
    (R + ["in.wav", "-o", "o.wav", "--algo", "gla", "--iters", "0"], "argument --iters"),
    (R + ["in.wav", "-o", "o.wav", "--algo", "gla", "--iters", "-2"], "argument --iters"),
    (R + ["in.wav", "-o", "o.wav", "--algo", "gla", "--seed", "-1"], "argument --seed"),
    (R + ["in.wav", "-o", "o.wav", "--algo", "gla", "--seed", str(10**23)], "argument --seed"),
    (R + ["in.wav", "-o", "o.wav", "--algo", "nope"], "argument --algo: invalid choice"),
    (R + ["in.wav", "-o", "o.wav", "--algo", "gla", "--model", "cp.pt"], "--model applies to --algo uadmm"),
    (R + ["in.wav", "-o", "o.wav", "--model", "cp.pt"],
     "is a checkpoint of plugin 'cp-dequant' (recipe 'cp-dequant'), not admm-pr"),
    (R + ["in.wav", "-o", "o.wav", "--model", "evil.pt"], "refused as unsafe"),
    (R + ["in.wav", "-o", "o.wav", "--model", "missing.pt"], "does not exist"),
    (R + ["in.wav", "-o", "o.wav"], "no trained UADMM found"),
    (R + ["in.wav", "-o", "exists.wav", "--algo", "gla"], "exists.wav exists; pass --force"),
    (R + ["in.wav", "-o", "folder.wav", "--algo", "gla", "--force"], "is a folder"),
    (R + ["in.wav", "-o", "no/dir/o.wav", "--algo", "gla"], "output folder no/dir does not exist"),
    (R + ["in.wav", "-o", "/sys/o.wav", "--algo", "gla"], "output folder /sys is not writable"),
    (R + ["in.wav", "-o", LONG, "--algo", "gla"], "output file name is 256 bytes long"),
    (R + ["in.wav", "-o", "o.mp9", "--algo", "gla"], "unknown audio format '.mp9'"),
]


@pytest.mark.parametrize("argv, match", CASES, ids=[" ".join(a[2:])[:70] for a, _ in CASES])
def test_refused_in_one_line_without_writing(files, capsys, argv, match):
    refused(capsys, argv, match, files)


def test_a_non_finite_reconstruction_is_not_written(files, capsys, monkeypatch):
    from unfold_plugins.admm_pr.gla import GLA

    monkeypatch.setattr(GLA, "readout", lambda self, s, p: torch.full((1, 100), float("nan")))
    refused(capsys, R + ["in.wav", "-o", "o.wav", "--algo", "gla", "--iters", "2"],
            "the reconstruction holds NaN or inf samples", files)


def test_written_output_is_finite(files):
    assert main(R + ["in.wav", "-o", "y.wav", "--algo", "gla", "--iters", "2"]) == 0
    assert written_audio_is_finite(files / "y.wav")
