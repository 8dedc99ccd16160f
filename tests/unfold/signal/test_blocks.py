"""Block plans and the STFT segment helpers: whole frames, margins, owned samples, exactness."""

import sys

import pytest
import torch

from unfold.signal.blocks import BlockPlan, frames_per_block, owned, run_blocks, sample_reach, segment
from unfold.signal.stft import STFT


def test_centre_frames_tile_the_signal_once_and_margins_stay_inside():
    plan = BlockPlan(23, 5, 3)
    blocks = list(plan)
    assert len(plan) == len(blocks) == 5
    kept = [t for b in blocks for t in range(b.keep_start, b.keep_stop)]
    assert kept == list(range(23))
    for b in blocks:
        assert 0 <= b.start <= b.keep_start - min(3, b.keep_start)
        assert b.stop == min(b.keep_stop + 3, 23)
        assert list(range(b.start, b.stop))[b.keep] == list(range(b.keep_start, b.keep_stop))


@pytest.mark.parametrize("args", [(0, 5, 1), (10, 0, 1), (10, 5, -1)])
def test_bad_plans_are_refused(args):
    with pytest.raises(ValueError):
        BlockPlan(*args)


def test_frames_per_block_and_sample_reach():
    assert frames_per_block(20, 22050, 512) == 861
    assert frames_per_block(1e-6, 16000, 160) == 1
    with pytest.raises(ValueError):
        frames_per_block(0, 16000, 160)
    assert sample_reach(STFT(1024, 512)) == 1 and sample_reach(STFT(400, 160)) == 2


@pytest.mark.parametrize("n_fft, hop, nyq", [(16, 8, False), (20, 8, True)])
def test_segment_frames_and_overlap_add_equal_the_whole_signal_operators(n_fft, hop, nyq):
    op = STFT(n_fft, hop, "sqrt-hann", drop_nyquist=nyq)
    length = 203
    x = torch.randn(1, length, dtype=torch.float64)
    whole = op(x)
    n_frames = whole.shape[-1]
    inverse = op.inverse(whole, length)
    pieces = []
    for b in BlockPlan(n_frames, 4, sample_reach(op)):
        s0, s1 = segment(op, b.start, b.stop)
        padded = torch.zeros(1, s1 - s0, dtype=x.dtype)
        lo, hi = max(s0, 0), min(s1, length)
        padded[:, lo - s0 : hi - s0] = x[:, lo:hi]
        spec = op.segment_frames(padded)
        torch.testing.assert_close(spec, whole[..., b.start : b.stop])
        y, env = op.segment_overlap_add(spec)
        a, z = owned(op, b, n_frames, length)
        pieces.append(y[0, a - s0 : z - s0] / env[0, a - s0 : z - s0])
    torch.testing.assert_close(torch.cat(pieces), inverse[0])


def test_segment_frames_refuses_a_segment_of_no_whole_frames():
    with pytest.raises(ValueError, match="segment"):
        STFT(16, 8).segment_frames(torch.zeros(1, 21))


def test_run_blocks_yields_in_order_with_a_bar_only_on_a_terminal(capsys, monkeypatch):
    def run():
        return list(run_blocks(BlockPlan(10, 3, 1), lambda b, tick: (tick(1), b.index)[1], "blk"))

    assert run() == [0, 1, 2, 3]
    assert capsys.readouterr().err == ""  # pytest's stderr is not a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert run() == [0, 1, 2, 3]
    assert "blk" in capsys.readouterr().err
