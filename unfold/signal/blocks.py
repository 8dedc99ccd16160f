r"""Block processing of long signals in the STFT domain: whole frames, a margin, centre kept.

A signal of ``T`` STFT frames is cut into blocks of ``B`` *centre* frames,
:math:`[a_j, b_j) = [jB, \min((j+1)B, T))`. Block ``j`` computes the frames
:math:`[a_j - M, b_j + M) \cap [0, T)` (a margin of ``M`` extra frames each side) and keeps only
its centre frames, so every frame of the output comes from exactly one block.

**Exactness.** If output frame ``t`` of a method depends only on input frames
:math:`t - d, \dots, t + d` (its *reach* ``d``), a margin ``M >= d`` makes the centre frames of
every block equal to whole-signal processing up to float rounding. Frame-local methods have a
fixed reach (deep NMF: its context of ``T_c`` frames, ``d = T_c - 1``); an iterative phase
retrieval couples neighbouring frames once per iteration through :math:`A A^+`, so after ``K``
iterations ``d = K + 1`` (one frame per iteration plus the frame's own overlap).

**Samples.** With the STFT's constant padding (see :mod:`unfold.signal.stft`) frame ``t``
covers samples :math:`[t h - N/2, t h + N/2)`, so the frames :math:`[s, e)` are exactly the
frames of the segment :math:`[s h - N/2, (e - 1) h + N/2)` (:func:`segment`), and block ``j``
*owns* the output samples :math:`[a_j h, b_j h) \cap [0, L)` (:func:`owned`; the first block
from 0, the last to ``L``). A sample is covered by the frames within
:math:`\lceil N / 2h \rceil` of its own (:func:`sample_reach`), which a method that resynthesises
samples adds to its reach.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from unfold.signal.stft import STFT

T = TypeVar("T")
Tick = Callable[[int], object]


@dataclass(frozen=True)
class Block:
    """Block ``index``: computed frames ``[start, stop)``, kept (centre) frames
    ``[keep_start, keep_stop)``, all global frame indices."""

    index: int
    start: int
    stop: int
    keep_start: int
    keep_stop: int

    @property
    def n_frames(self) -> int:
        return self.stop - self.start

    @property
    def keep(self) -> slice:
        """The centre frames as a slice of the computed ones."""
        return slice(self.keep_start - self.start, self.keep_stop - self.start)


@dataclass(frozen=True)
class BlockPlan:
    """``n_frames`` frames in blocks of ``block`` centre frames with ``margin`` frames each side."""

    n_frames: int
    block: int
    margin: int

    def __post_init__(self) -> None:
        if self.n_frames < 1:
            raise ValueError(f"n_frames must be >= 1, got {self.n_frames}")
        if self.block < 1:
            raise ValueError(f"block must be >= 1 frame, got {self.block}")
        if self.margin < 0:
            raise ValueError(f"margin must be >= 0 frames, got {self.margin}")

    def __len__(self) -> int:
        return math.ceil(self.n_frames / self.block)

    def __iter__(self) -> Iterator[Block]:
        for j in range(len(self)):
            a, b = j * self.block, min((j + 1) * self.block, self.n_frames)
            yield Block(j, max(a - self.margin, 0), min(b + self.margin, self.n_frames), a, b)


def frames_per_block(seconds: float, rate: int, hop: int) -> int:
    """Centre frames in ``seconds`` of audio at ``rate`` Hz and ``hop`` samples per frame (>= 1)."""
    if not seconds > 0:
        raise ValueError(f"block length must be > 0 seconds, got {seconds}")
    return max(1, round(seconds * rate / hop))


def sample_reach(op: STFT) -> int:
    r"""Frames each side of a sample's own frame that cover it: :math:`\lceil N / 2h \rceil`."""
    return -(-(op.n_fft // 2) // op.hop)


def segment(op: STFT, start: int, stop: int) -> tuple[int, int]:
    """Sample range ``[s h - N/2, (e - 1) h + N/2)`` whose frames are exactly frames ``[s, e)``."""
    half = op.n_fft // 2
    return start * op.hop - half, (stop - 1) * op.hop + half


def owned(op: STFT, block: Block, n_frames: int, length: int) -> tuple[int, int]:
    """Output samples ``[a h, b h) ∩ [0, length)`` of ``block``'s centre frames (the last block
    up to ``length``)."""
    lo = block.keep_start * op.hop
    hi = length if block.keep_stop == n_frames else min(block.keep_stop * op.hop, length)
    return min(lo, length), hi


def run_blocks(plan: BlockPlan, fn: Callable[[Block, Tick], T], desc: str,
               steps: int = 1) -> Iterator[T]:
    """``fn(block, tick)`` for each block in order, yielding its result; a tqdm bar of
    ``len(plan) * steps`` steps on stderr (shown only when stderr is a terminal) that ``fn``
    advances with ``tick(n)``."""
    from unfold.data.io import progress_bar

    with progress_bar(len(plan) * steps, desc) as bar:
        for block in plan:
            yield fn(block, bar.update)
