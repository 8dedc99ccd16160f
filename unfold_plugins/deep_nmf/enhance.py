"""Enhancing a recording with a deep NMF model (the ``unfold deep-nmf enhance`` command).

Input handling, documented in docs/plugins/deep-nmf.md:

- the recording is mixed to mono and resampled to the model's rate (each conversion is reported);
- magnitudes are ≥ 0 by construction (|STFT|; ``NMFProblem`` clamps negatives to 0) and every
  division is floored at 1e-12, so silence or digital zeros give zeros, never NaN;
- a recording shorter than the context window (T frames: (T − 1) hops + one window, 105 ms
  for T = 9 at 25 ms / 10 ms) is refused with an InputDataError (a ValueError);
- the output is scaled down only if its peak would exceed 1 (and that is reported);
- a long recording is enhanced in blocks (:meth:`Enhancer.blocks`), equal to enhancing it whole
  up to float rounding, in memory that does not grow with its length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from unfold.errors import InputDataError
from unfold.signal.blocks import Block, BlockPlan, Tick, owned, run_blocks, sample_reach, segment
from unfold_plugins.deep_nmf.deep_nmf import DeepNMF, NMFProblem
from unfold_plugins.deep_nmf.task import make_stft


@dataclass
class Enhancer:
    model: DeepNMF
    sample_rate: int
    window_ms: float = 25.0
    hop_ms: float = 10.0

    @property
    def min_seconds(self) -> float:
        return ((self.model.context - 1) * self.hop_ms + self.window_ms) / 1000

    def check_length(self, samples: int) -> None:
        """Refuse a mixture shorter than the context window (InputDataError, one line)."""
        if samples < self.min_seconds * self.sample_rate:
            raise InputDataError(
                f"the mixture is {1000 * samples / self.sample_rate:.0f} ms long; deep NMF "
                f"needs at least the context window of {self.model.context} frames "
                f"({1000 * self.min_seconds:.0f} ms)")

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Enhanced waveform ``(samples,)`` of a mono mixture ``(samples,)``, held whole."""
        if x.dim() != 1:
            raise ValueError(f"the mixture must be mono (samples,), got shape {tuple(x.shape)}")
        self.check_length(x.shape[0])
        if not bool(torch.isfinite(x).all()):
            raise InputDataError("the mixture contains NaN or infinite samples")
        stft = make_stft(self.sample_rate, self.window_ms, self.hop_ms)
        return stft.inverse(self.speech_spec(stft(x[None].float())), x.shape[0])[0]

    def speech_spec(self, spec: torch.Tensor) -> torch.Tensor:
        """Speech STFT ``(1, F, N)``: the model's speech magnitude with the mixture's phase."""
        speech = self.model(NMFProblem.from_magnitudes(spec.abs(), self.model.context))
        return speech * (spec / spec.abs().clamp_min(1e-12))

    def blocks(self, read: Callable[[int, int], torch.Tensor], length: int, block_frames: int,
               desc: str = "enhance") -> Iterator[torch.Tensor]:
        r"""The enhanced waveform of a mixture of ``length`` samples, block by block.

        ``read(a, b)`` gives mixture samples ``[a, b)`` (zeros outside the signal). Blocks of
        ``block_frames`` centre frames (:mod:`unfold.signal.blocks`) with a margin of
        :math:`T - 1 + \lceil N / 2h \rceil` frames each side: a frame's output depends on its
        own and the :math:`T - 1` previous frames (the stacked context), and a sample on the
        frames that cover it; so each block's owned samples equal :meth:`__call__`'s up to float
        rounding. Yields the owned samples of each block in order."""
        self.check_length(length)
        stft = make_stft(self.sample_rate, self.window_ms, self.hop_ms)
        n_frames = stft.n_frames(length)
        plan = BlockPlan(n_frames, block_frames, self.model.context - 1 + sample_reach(stft))

        @torch.no_grad()
        def one(b: Block, tick: Tick) -> torch.Tensor:
            s0, s1 = segment(stft, b.start, b.stop)
            spec = stft.segment_frames(read(s0, s1)[None].float())
            y, env = stft.segment_overlap_add(self.speech_spec(spec))
            lo, hi = owned(stft, b, n_frames, length)
            tick(1)
            return y[0, lo - s0 : hi - s0] / env[0, lo - s0 : hi - s0]

        return run_blocks(plan, one, desc)


def from_checkpoint(path: str | Path) -> Enhancer:
    """A trained deep NMF from a run's checkpoint (``checkpoints/<tying>/best.pt``)."""
    from unfold import checkpoint

    model = checkpoint.load(path, plugin="deep-nmf")
    m = checkpoint.info(model).config
    assert isinstance(model, DeepNMF)
    return Enhancer(model, m.data.sample_rate, m.model.window_ms, m.model.hop_ms)


def default_enhancer() -> Enhancer:
    """SNMF (C = 0, K = 25) with the bases of the quick ``deep-nmf`` recipe (learned once on the
    eSpeak corpus and synthetic training noise, then cached)."""
    from unfold_plugins.deep_nmf.recipes import deep_nmf
    from unfold_plugins.deep_nmf.task import DeepNMFTask

    cfg = deep_nmf.resolve(quick=True)
    m = cfg.model
    n_freq = make_stft(cfg.data.sample_rate, m.window_ms, m.hop_ms).n_fft // 2
    model = DeepNMF(m.layers, DeepNMFTask().bases(cfg), n_speech=m.rank, n_freq=n_freq, mu=m.mu,
                    tying="tied")
    return Enhancer(model.eval(), cfg.data.sample_rate, m.window_ms, m.hop_ms)
