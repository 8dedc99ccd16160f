"""Bad input to ``unfold cp-dequant quantize | dequantize``: one case per row, each a one-line
refusal (exit 2, no traceback) that writes nothing and changes nothing, output checked first."""

import os

import numpy as np
import pytest
import torch
from badinput import refused, tone, wav, written_audio_is_finite

from unfold import checkpoint
from unfold.cli import main

from .test_cpd_commands import cp_checkpoint


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x = tone(1000)
    wav(tmp_path / "in.wav", x)
    nan = x.copy()
    nan[10] = np.nan
    wav(tmp_path / "nan.wav", nan)
    inf = x.copy()
    inf[10] = np.inf
    wav(tmp_path / "inf.wav", inf)
    wav(tmp_path / "empty.wav", np.zeros(0))
    wav(tmp_path / "silent.wav", np.zeros(500))
    wav(tmp_path / "clipped.wav", np.clip(3 * x, -0.5, 0.5))
    (tmp_path / "text.wav").write_text("this is not audio\n")
    (tmp_path / "zero-bytes.wav").write_bytes(b"")
    (tmp_path / "exists.wav").write_bytes(b"keep me")
    (tmp_path / "folder.wav").mkdir()
    assert main(["cp-dequant", "quantize", "in.wav", "-o", "q.wav", "--bits", "4"]) == 0
    q = tmp_path / "q.wav"
    qnan = __import__("soundfile").read(str(q))[0]
    qnan[3] = np.nan
    wav(tmp_path / "qnan.wav", qnan)
    cp_checkpoint(tmp_path / "k32.pt", 32)
    m = cp_checkpoint(tmp_path / "k64.pt", 64)
    ck = checkpoint.build(m, plugin="admm-pr", recipe="admm-pr", tying="tied", config={})
    checkpoint.save_atomic(ck, tmp_path / "admm.pt")
    ck = checkpoint.read(tmp_path / "k64.pt")
    ck["model"]["raw.K"][0, 0, 0] = float("nan")
    checkpoint.save_atomic(ck, tmp_path / "nan.pt")
    torch.save({**checkpoint.read(tmp_path / "k64.pt"), "hook": os.getcwd}, tmp_path / "evil.pt")
    (tmp_path / "garbage.pt").write_bytes(b"garbage")
    return tmp_path


Q = ["cp-dequant", "quantize"]
D = ["cp-dequant", "dequantize"]
LONG = "x" * 252 + ".wav"
CASES = [
    # quantize: input
    (Q + ["missing.wav", "-o", "o.wav", "--bits", "4"], "audio file missing.wav does not exist"),
    (Q + ["text.wav", "-o", "o.wav", "--bits", "4"], "cannot read audio file text.wav"),
    (Q + ["zero-bytes.wav", "-o", "o.wav", "--bits", "4"], "cannot read audio file zero-bytes.wav"),
    (Q + ["empty.wav", "-o", "o.wav", "--bits", "4"], "audio file empty.wav holds no samples"),
    (Q + ["nan.wav", "-o", "o.wav", "--bits", "4"], "holds 1 NaN or inf samples"),
    (Q + ["inf.wav", "-o", "o.wav", "--bits", "4"], "holds 1 NaN or inf samples"),
    (Q + ["silent.wav", "-o", "o.wav", "--bits", "4"], "is silent"),
    (Q + ["clipped.wav", "-o", "o.wav", "--bits", "4"], "looks clipped"),
    (Q + ["folder.wav", "-o", "o.wav", "--bits", "4"], "audio input folder.wav is not a file"),
    # quantize: bits
    (Q + ["in.wav", "-o", "o.wav", "--bits", "0"], "bits must be an integer in 1..16"),
    (Q + ["in.wav", "-o", "o.wav", "--bits", "17"], "bits must be an integer in 1..16"),
    (Q + ["in.wav", "-o", "o.wav"], "the following arguments are required: --bits"),
    # quantize: output (checked before any work)
    (Q + ["in.wav", "-o", "exists.wav", "--bits", "4"], "exists.wav exists; pass --force"),
    (Q + ["in.wav", "-o", "folder.wav", "--bits", "4", "--force"], "output folder.wav is a folder"),
    (Q + ["in.wav", "-o", "no/such/dir/o.wav", "--bits", "4"], "output folder no/such/dir does not exist"),
    (Q + ["in.wav", "-o", "/sys/o.wav", "--bits", "4"], "output folder /sys is not writable"),
    (Q + ["in.wav", "-o", LONG, "--bits", "4"], "output file name is 256 bytes long"),
    (Q + ["in.wav", "-o", "o.xyz", "--bits", "4"], "unknown audio format '.xyz'"),
    (Q + ["nan.wav", "-o", "exists.wav", "--bits", "4"], "exists.wav exists"),  # output first
    # dequantize: numbers
    (D + ["q.wav", "-o", "o.wav", "--frame", "0"], "argument --frame: expected a frame length >= 2"),
    (D + ["q.wav", "-o", "o.wav", "--frame", "-3"], "argument --frame: expected a frame length >= 2"),
    (D + ["q.wav", "-o", "o.wav", "--frame", "1"], "argument --frame: expected a frame length >= 2"),
    (D + ["q.wav", "-o", "o.wav", "--iterations", "-5"], "argument --iterations: expected an integer >= 0"),
    (D + ["q.wav", "-o", "o.wav", "--iterations", "1e3"], "argument --iterations"),
    (D + ["q.wav", "-o", "o.wav", "--bits", "99"], "bits must be an integer in 1..16"),
    # dequantize: input
    (D + ["in.wav", "-o", "o.wav"], "is not 4-bit midpoint-quantised audio"),
    (D + ["q.wav", "-o", "o.wav", "--bits", "3"], "is not 3-bit midpoint-quantised audio"),
    (D + ["qnan.wav", "-o", "o.wav"], "holds 1 NaN or inf samples"),
    (D + ["nan.wav", "-o", "o.wav"], "holds 1 NaN or inf samples"),
    (D + ["empty.wav", "-o", "o.wav"], "holds no samples"),
    (D + ["text.wav", "-o", "o.wav"], "cannot read audio file"),
    # dequantize: --model
    (D + ["q.wav", "-o", "o.wav", "--frame", "64", "--model", "admm.pt"],
     "is a checkpoint of plugin 'admm-pr' (recipe 'admm-pr'), not cp-dequant"),
    (D + ["q.wav", "-o", "o.wav", "--frame", "64", "--model", "k32.pt"],
     "works on frames of n = 32 samples, not --frame 64"),
    (D + ["q.wav", "-o", "o.wav", "--frame", "64", "--model", "nan.pt"], "holds NaN or inf weights"),
    (D + ["q.wav", "-o", "o.wav", "--frame", "64", "--model", "evil.pt"], "refused as unsafe"),
    (D + ["q.wav", "-o", "o.wav", "--frame", "64", "--model", "garbage.pt"], "corrupt or truncated"),
    (D + ["q.wav", "-o", "o.wav", "--frame", "64", "--model", "missing.pt"], "does not exist"),
    # dequantize: output
    (D + ["q.wav", "-o", "exists.wav"], "exists.wav exists; pass --force"),
    (D + ["q.wav", "-o", "folder.wav", "--force"], "is a folder"),
    (D + ["q.wav", "-o", "nowhere/o.wav"], "output folder nowhere does not exist"),
    (D + ["q.wav", "-o", LONG], "output file name is 256 bytes long"),
]


@pytest.mark.parametrize("argv, match", CASES, ids=[" ".join(a[1:])[:70] for a, _ in CASES])
def test_refused_in_one_line_without_writing(files, capsys, argv, match):
    refused(capsys, argv, match, files)


def test_a_non_finite_result_is_not_written(files, capsys, monkeypatch):
    import unfold_plugins.cp_dequant.unroller as unroller

    monkeypatch.setattr(unroller.ChambollePock, "readout", lambda self, s, p: s.y * float("nan"))
    refused(capsys, D + ["q.wav", "-o", "o.wav", "--frame", "64", "--iterations", "2"],
            "the result holds NaN or inf samples; o.wav was not written", files)


def test_written_outputs_are_finite(files):
    assert main(D + ["q.wav", "-o", "y.wav", "--frame", "64", "--iterations", "5"]) == 0
    assert written_audio_is_finite(files / "y.wav")
    assert written_audio_is_finite(files / "q.wav")


S = ["run", "cp-dequant-paper", "--quick"]  # the L_train x backprop sweep is this recipe's
SWEEP_CASES = [
    (S + ["--sweep", "model.layers=10,x", "--out", "s"], "model.layers"),
    (S + ["--set", "train.lr=1e400", "--out", "s"], "train.lr must be a finite number"),
    (S + ["--set", "data.frame=1", "--out", "s"], "data.frame must be >= 2"),
    (S + ["--set", "train.max_batches=-1", "--out", "s"], "train.max_batches must be >= 0"),
    (S + ["--sweep", "train.backprop=full,frozen:x", "--out", "s"], "frozen:x"),
    (S + ["--out", "folder.wav/sub", "--set", "nope=1"], "unknown config key 'nope'"),
]


@pytest.mark.parametrize("argv, match", SWEEP_CASES, ids=[" ".join(a[3:])[:60] for a, _ in SWEEP_CASES])
def test_sweep_refused_in_one_line_without_writing(files, capsys, argv, match):
    refused(capsys, argv, match, files)
    assert not (files / "s").exists()
