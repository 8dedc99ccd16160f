"""`unfold cp-dequant quantize | dequantize`: round trip and every refusal, through the CLI."""

import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from unfold import checkpoint
from unfold.cli import main
from unfold_plugins.cp_dequant.cp import cp_step, dct_matrix


def tone(path, n=1000, clip=False, silent=False, rate=16000):
    t = np.arange(n)
    x = 0.5 * np.sin(0.03 * t) + 0.2 * np.sin(0.11 * t)
    if clip:
        x = np.clip(2 * x, -0.6, 0.6)
    sf.write(str(path), np.zeros(n) if silent else x, rate, subtype="FLOAT")
    return x


def err(capsys):
    return capsys.readouterr().err


def test_quantize_then_dequantize_round_trip(tmp_path, capsys):
    x = tone(tmp_path / "in.wav")
    assert main(["cp-dequant", "quantize", str(tmp_path / "in.wav"), "-o", str(tmp_path / "q.wav"),
                 "--bits", "4"]) == 0
    q, _ = sf.read(str(tmp_path / "q.wav"))
    ref = x / np.abs(x).max()
    assert np.abs(q - ref).max() <= 0.0625 + 1e-6 and len(np.unique(q)) <= 16
    assert main(["cp-dequant", "dequantize", str(tmp_path / "q.wav"), "-o",
                 str(tmp_path / "y.wav"), "--frame", "64", "--iterations", "200"]) == 0
    assert "padded 24 samples" in err(capsys)
    y, _ = sf.read(str(tmp_path / "y.wav"))
    assert y.shape == x.shape and np.abs(y - q).max() <= 0.0625 + 1e-6  # stays in the box
    xf = torch.tensor(np.r_[q, np.full(24, 0.0625)], dtype=torch.float32).reshape(-1, 64)
    yy, yb, psi, K = xf, xf, torch.zeros_like(xf), dct_matrix(64)
    for _ in range(200):  # the frames, run through Algorithm 1 by hand
        yy, yb, psi = cp_step(yy, yb, psi, xf, K, 9.9, 0.099, 0.0625)
    np.testing.assert_allclose(y, yy.reshape(-1)[:1000].numpy(), atol=1e-5)


@pytest.mark.parametrize("case,message", [
    ("exists", "exists; pass --force"),
    ("silent", "is silent"),
    ("clipped", "looks clipped"),
])
def test_quantize_refusals(tmp_path, capsys, case, message):
    tone(tmp_path / "in.wav", clip=case == "clipped", silent=case == "silent")
    out = tmp_path / "q.wav"
    if case == "exists":
        out.write_bytes(b"keep me")
    assert main(["cp-dequant", "quantize", str(tmp_path / "in.wav"), "-o", str(out),
                 "--bits", "3"]) == 2
    assert message in err(capsys)
    if case == "exists":
        assert out.read_bytes() == b"keep me"


@pytest.mark.parametrize("bits", ["0", "17", "x"])
def test_bits_outside_range_are_refused(tmp_path, capsys, bits):
    tone(tmp_path / "in.wav")
    with pytest.raises(SystemExit) as e:
        main(["cp-dequant", "quantize", str(tmp_path / "in.wav"), "-o", str(tmp_path / "q.wav"),
              "--bits", bits])
    assert e.value.code == 2 and "bits must be an integer in 1..16" in err(capsys)


def cp_checkpoint(path, frame, plugin="cp-dequant"):
    """A checkpoint of a 2-layer tied ChambollePock on frames of ``frame`` samples (DCT + noise)."""
    from unfold.recipe import to_dict
    from unfold_plugins.cp_dequant.recipes import RECIPES
    from unfold_plugins.cp_dequant.task import DequantTask

    cfg = RECIPES[0].resolve(overrides=[f"data.frame={frame}", "model.layers=2"])
    model = DequantTask().build_model(cfg, "tied")
    with torch.no_grad():
        model.raw["K"].add_(0.01 * torch.randn(model.raw["K"].shape,
                                               generator=torch.Generator().manual_seed(0)))
    checkpoint.save_atomic(checkpoint.build(model, plugin=plugin, recipe="cp-dequant",
                                            tying="tied", config=to_dict(cfg)), path)
    return model


def test_dequantize_refuses_unquantised_input_and_wrong_checkpoint(tmp_path, capsys):
    tone(tmp_path / "in.wav")
    assert main(["cp-dequant", "dequantize", str(tmp_path / "in.wav"), "-o",
                 str(tmp_path / "y.wav")]) == 2
    assert "not 4-bit midpoint-quantised" in err(capsys)
    main(["cp-dequant", "quantize", str(tmp_path / "in.wav"), "-o", str(tmp_path / "q.wav"),
          "--bits", "4"])
    cp_checkpoint(tmp_path / "bad.pt", 32)
    assert main(["cp-dequant", "dequantize", str(tmp_path / "q.wav"), "-o",
                 str(tmp_path / "y.wav"), "--frame", "64", "--model", str(tmp_path / "bad.pt")]) == 2
    assert "frames of n = 32 samples, not --frame 64" in err(capsys)
    model = cp_checkpoint(tmp_path / "good.pt", 64)
    assert main(["cp-dequant", "dequantize", str(tmp_path / "q.wav"), "-o",
                 str(tmp_path / "y.wav"), "--frame", "64", "--iterations", "3", "--model",
                 str(tmp_path / "good.pt")]) == 0
    assert "learned K from good.pt (tied, last layer)" in capsys.readouterr().out
    q, _ = sf.read(str(tmp_path / "q.wav"))
    xf = torch.tensor(np.r_[q, np.full(24, 0.0625)], dtype=torch.float32).reshape(-1, 64)
    from unfold_plugins.cp_dequant.unroller import ChambollePock, CPProblem

    ref = ChambollePock(3, n=64, K_init=model.value("K")[-1], trainable=False)(
        CPProblem(xf, torch.full((xf.shape[0], 1), 0.0625)))
    np.testing.assert_allclose(sf.read(str(tmp_path / "y.wav"))[0],
                               ref.reshape(-1)[:1000].numpy(), atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt", "good.pt", "in.wav", "q.wav",
                                                        "y.wav"]


def test_docs_code_runs():
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "cp-dequant.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, str(doc), "exec"), {})


def test_dequantize_in_small_chunks_equals_one_chunk_with_a_bar_only_on_a_terminal(
        tmp_path, capsys, monkeypatch):
    from unfold_plugins.cp_dequant import commands

    tone(tmp_path / "in.wav", n=2000)
    q = tmp_path / "q.wav"
    assert main(["cp-dequant", "quantize", str(tmp_path / "in.wav"), "-o", str(q), "--bits", "4"]) == 0
    outs = []
    for chunk in (1000, 3):  # one chunk of all 63 frames, then 21 chunks of 3 frames
        monkeypatch.setattr(commands, "CHUNK", chunk)
        outs.append(tmp_path / f"y{chunk}.wav")
        assert main(["cp-dequant", "dequantize", str(q), "-o", str(outs[-1]), "--frame", "32",
                     "--iterations", "20"]) == 0
    assert "frames" not in err(capsys)  # not a terminal: no progress bar
    one, chunks = (sf.read(str(p))[0] for p in outs)
    assert one.shape == chunks.shape == (2000,) and np.abs(one - chunks).max() <= 1e-6
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["cp-dequant", "dequantize", str(q), "-o", str(outs[0]), "--frame", "32",
                 "--iterations", "2", "--force"]) == 0
    assert "frames" in err(capsys)
