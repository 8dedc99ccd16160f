import sys

import pytest
import soundfile as sf
import torch

from unfold import checkpoint
from unfold.cli import main
from unfold.recipe import to_dict
from unfold_plugins.deep_nmf.deep_nmf import DeepNMF
from unfold_plugins.deep_nmf.recipes import deep_nmf


def _checkpoint(path):
    cfg = deep_nmf.resolve(overrides=["model.rank=4", "model.layers=3"])
    w = torch.rand(9 * 200, 8, generator=torch.Generator().manual_seed(0)) + 0.01
    model = DeepNMF(3, w, n_speech=4, n_freq=200, mu=cfg.model.mu, tying="partial:1")
    checkpoint.save_atomic(checkpoint.build(model, plugin="deep-nmf", recipe="deep-nmf",
                                            tying="partial:1", config=to_dict(cfg)), path)
    return path


def test_enhance_writes_output_refuses_overwrite_and_resamples(tmp_path, capsys):
    ck = _checkpoint(tmp_path / "best.pt")
    noisy, out = tmp_path / "noisy.wav", tmp_path / "clean.wav"
    g = torch.Generator().manual_seed(1)
    sf.write(noisy, (0.1 * torch.randn(8000, generator=g)).numpy(), 8000)  # 1 s at 8 kHz
    assert main(["deep-nmf", "enhance", str(noisy), "-o", str(out), "--model", str(ck)]) == 0
    y, rate = sf.read(out)
    assert rate == 16000 and len(y) == 16000
    assert "8000 Hz -> 16000 Hz" in capsys.readouterr().err
    assert main(["deep-nmf", "enhance", str(noisy), "-o", str(out), "--model", str(ck)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["deep-nmf", "enhance", str(noisy), "-o", str(out), "--model", str(ck),
                 "--force"]) == 0


def test_enhance_reports_too_short_input_and_foreign_checkpoint_in_one_line(tmp_path, capsys):
    ck = _checkpoint(tmp_path / "best.pt")
    short = tmp_path / "short.wav"
    sf.write(short, torch.zeros(800).numpy(), 16000)  # 50 ms
    assert main(["deep-nmf", "enhance", str(short), "-o", str(tmp_path / "o.wav"),
                 "--model", str(ck)]) == 2
    assert "context window" in capsys.readouterr().err
    other = checkpoint.read(ck)
    other["plugin"] = "admm"
    checkpoint.save_atomic(other, tmp_path / "other.pt")
    assert main(["deep-nmf", "enhance", str(short), "-o", str(tmp_path / "o.wav"),
                 "--model", str(tmp_path / "other.pt")]) == 2
    assert "not deep-nmf" in capsys.readouterr().err


# -- bad input: one case per row, a one-line refusal that writes nothing ---------------------------
E = ["deep-nmf", "enhance"]
CASES = [
    (E + ["missing.wav", "-o", "o.wav", "--model", "best.pt"], "audio file missing.wav does not exist"),
    (E + ["text.wav", "-o", "o.wav", "--model", "best.pt"], "cannot read audio file text.wav"),
    (E + ["nan.wav", "-o", "o.wav", "--model", "best.pt"], "holds 1 NaN or inf samples"),
    (E + ["nan.wav", "-o", "o.wav"], "holds 1 NaN or inf samples"),  # before the default model
    (E + ["empty.wav", "-o", "o.wav", "--model", "best.pt"], "holds no samples"),
    (E + ["short.wav", "-o", "o.wav", "--model", "best.pt"], "context window"),
    (E + ["noisy.wav", "-o", "o.wav", "--model", "other.pt"], "not deep-nmf"),
    (E + ["noisy.wav", "-o", "o.wav", "--model", "nan.pt"], "holds NaN or inf weights"),
    (E + ["noisy.wav", "-o", "o.wav", "--model", "evil.pt"], "refused as unsafe"),
    (E + ["noisy.wav", "-o", "o.wav", "--model", "garbage.pt"], "corrupt or truncated"),
    (E + ["noisy.wav", "-o", "exists.wav", "--model", "best.pt"], "exists.wav exists; pass --force"),
    (E + ["noisy.wav", "-o", "folder.wav", "--model", "best.pt", "--force"], "is a folder"),
    (E + ["noisy.wav", "-o", "nowhere/o.wav", "--model", "best.pt"], "output folder nowhere does not"),
    (E + ["noisy.wav", "-o", "z" * 252 + ".wav", "--model", "best.pt"], "256 bytes long"),
    (E + ["noisy.wav"], "the following arguments are required: -o/--output"),
]


@pytest.fixture
def files(tmp_path, monkeypatch):
    import os

    import numpy as np

    monkeypatch.chdir(tmp_path)
    ck = _checkpoint(tmp_path / "best.pt")
    g = torch.Generator().manual_seed(1)
    x = (0.1 * torch.randn(4000, generator=g)).numpy().astype("f8")
    sf.write("noisy.wav", x, 16000)
    nan = x.copy()
    nan[7] = np.nan
    sf.write("nan.wav", nan, 16000, subtype="FLOAT")
    sf.write("empty.wav", np.zeros(0), 16000)
    sf.write("short.wav", x[:800], 16000)
    (tmp_path / "text.wav").write_text("hello")
    (tmp_path / "exists.wav").write_bytes(b"keep me")
    (tmp_path / "folder.wav").mkdir()
    (tmp_path / "garbage.pt").write_bytes(b"garbage")
    other = checkpoint.read(ck)
    other["plugin"] = "cp-dequant"
    checkpoint.save_atomic(other, tmp_path / "other.pt")
    bad = checkpoint.read(ck)
    bad["model"]["raw.W"].fill_(float("nan"))
    checkpoint.save_atomic(bad, tmp_path / "nan.pt")
    torch.save({**checkpoint.read(ck), "hook": os.getcwd}, tmp_path / "evil.pt")
    return tmp_path


@pytest.mark.parametrize("argv, match", CASES, ids=[" ".join(a[2:])[:60] for a, _ in CASES])
def test_enhance_refuses_in_one_line_without_writing(files, capsys, argv, match):
    from badinput import refused

    refused(capsys, argv, match, files)


def test_enhanced_output_is_finite(files):
    from badinput import written_audio_is_finite

    assert main(E + ["noisy.wav", "-o", "y.wav", "--model", "best.pt"]) == 0
    assert written_audio_is_finite(files / "y.wav")


def test_enhance_in_small_blocks_equals_one_block_and_bad_block_seconds_is_refused(
        tmp_path, capsys, monkeypatch):
    ck = _checkpoint(tmp_path / "best.pt")
    noisy = tmp_path / "noisy.wav"
    sf.write(noisy, (0.1 * torch.randn(16000, generator=torch.Generator().manual_seed(2))).numpy(),
             16000, subtype="FLOAT")
    outs = [tmp_path / "one.wav", tmp_path / "blocks.wav"]
    for out, secs in zip(outs, ["100", "0.05"]):
        assert main(["deep-nmf", "enhance", str(noisy), "-o", str(out), "--model", str(ck),
                     "--block-seconds", secs]) == 0
    assert "enhance" not in capsys.readouterr().err  # no progress bar: not a terminal
    one, blocks = (sf.read(p)[0] for p in outs)
    assert len(one) == len(blocks) == 16000 and abs(one - blocks).max() <= 1 / 32768
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["deep-nmf", "enhance", str(noisy), "-o", str(outs[0]), "--model", str(ck),
                 "--force"]) == 0
    assert "enhance" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["deep-nmf", "enhance", str(noisy), "-o", str(tmp_path / "x.wav"), "--model",
              str(ck), "--block-seconds", "0"])
    assert e.value.code == 2 and "--block-seconds" in capsys.readouterr().err
