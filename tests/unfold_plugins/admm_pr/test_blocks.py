"""``reconstruct`` in small blocks equals whole-file processing (margin >= iterations + 2)."""

import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from unfold.cli import main
from unfold.signal.blocks import BlockPlan
from unfold.signal.stft import STFT
from unfold_plugins.admm_pr.admm import ADMM
from unfold_plugins.admm_pr.command import reconstruct
from unfold_plugins.admm_pr.gla import FGLA, GLA
from unfold_plugins.admm_pr.problem import frame_phase

TOL = 1e-5  # block vs whole file, max abs sample difference (float32 rounding: measured ~1e-7)


def _signal(n=3000):
    t = torch.arange(n) / 8000
    return 0.4 * torch.sin(2 * torch.pi * 300 * t * (1 + 3 * t)) + 0.02 * torch.randn(
        n, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("model", [GLA(1), FGLA(1), ADMM(1)], ids=["gla", "fgla", "admm"])
def test_small_blocks_equal_the_whole_signal(model):
    op, x, iters = STFT(32, 16), _signal(), 6
    r = op(x[None]).abs()[0]
    frames = lambda a, b: r[:, a:b]  # noqa: E731
    n = r.shape[1]

    def run(block, margin):
        plan = BlockPlan(n, block, margin)
        return torch.cat(list(reconstruct(model, iters, frames, plan, op, x.numel(), 3, "t")))

    whole = run(n, 0)
    assert whole.shape == x.shape
    assert float((run(9, iters + 2) - whole).abs().max()) <= TOL
    assert float((run(9, 1) - whole).abs().max()) > 1e-3  # too small a margin is not exact


def test_frame_phase_is_a_function_of_the_frame_alone():
    whole = frame_phase(7, 0, 40, seed=5)
    assert torch.equal(frame_phase(7, 13, 29, seed=5), whole[:, 13:29])
    assert not torch.equal(frame_phase(7, 0, 40, seed=6), whole)
    assert float(whole.min()) >= -torch.pi and float(whole.max()) < torch.pi


def _wav(path, seconds=1.5, rate=22050):
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.4 * np.sin(2 * np.pi * 180 * t * (1 + t))).astype("f4"), rate,
             subtype="FLOAT")
    return path


def test_command_blocks_equal_one_block_and_no_bar_without_a_terminal(tmp_path, capsys):
    src = _wav(tmp_path / "in.wav")
    outs = [tmp_path / "one.wav", tmp_path / "blocks.wav"]
    for out, secs in zip(outs, ["100", "0.2"]):
        assert main(["admm-pr", "reconstruct", str(src), "-o", str(out), "--algo", "fgla",
                     "--iters", "4", "--block-seconds", secs]) == 0
    assert "iterations" not in capsys.readouterr().err  # no progress bar: not a terminal
    one, blocks = (sf.read(p)[0] for p in outs)
    assert len(one) == len(blocks) and np.abs(one - blocks).max() <= 1 / 32768  # PCM_16 LSB


def test_progress_bar_on_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["admm-pr", "reconstruct", str(_wav(tmp_path / "in.wav", 0.5)), "-o",
                 str(tmp_path / "o.wav"), "--algo", "gla", "--iters", "2"]) == 0
    assert "gla iterations" in capsys.readouterr().err


@pytest.mark.parametrize("secs", ["0", "-1", "nan", "inf", "x"])
def test_bad_block_seconds_is_one_line_and_exit_2(tmp_path, capsys, secs):
    with pytest.raises(SystemExit) as e:
        main(["admm-pr", "reconstruct", str(_wav(tmp_path / "in.wav", 0.2)), "-o",
              str(tmp_path / "o.wav"), "--block-seconds", secs])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1
    assert "--block-seconds" in err[-1] and not (tmp_path / "o.wav").exists()
