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
