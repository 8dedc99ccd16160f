"""Enhancing a recording with a deep NMF model (the ``unfold deep-nmf enhance`` command).

Input handling, documented in docs/plugins/deep-nmf.md:

- the recording is mixed to mono and resampled to the model's rate (each conversion is reported);
- magnitudes are ≥ 0 by construction (|STFT|; ``NMFProblem`` clamps negatives to 0) and every
  division is floored at 1e-12, so silence or digital zeros give zeros, never NaN;
- a recording shorter than the context window (T frames: (T − 1) hops + one window, 105 ms
  for T = 9 at 25 ms / 10 ms) is refused with an InputDataError (a ValueError);
- the output is scaled down only if its peak would exceed 1 (and that is reported).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from unfold.errors import InputDataError
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

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Enhanced waveform ``(samples,)`` of a mono mixture ``(samples,)``."""
        if x.dim() != 1:
            raise ValueError(f"the mixture must be mono (samples,), got shape {tuple(x.shape)}")
        if x.shape[0] < self.min_seconds * self.sample_rate:
            raise InputDataError(
                f"the mixture is {1000 * x.shape[0] / self.sample_rate:.0f} ms long; deep NMF "
                f"needs at least the context window of {self.model.context} frames "
                f"({1000 * self.min_seconds:.0f} ms)")
        if not bool(torch.isfinite(x).all()):
            raise InputDataError("the mixture contains NaN or infinite samples")
        stft = make_stft(self.sample_rate, self.window_ms, self.hop_ms)
        spec = stft(x[None].float())
        p = NMFProblem.from_magnitudes(spec.abs(), self.model.context)
        speech = self.model(p)
        phase = spec / spec.abs().clamp_min(1e-12)
        return stft.inverse(speech * phase, x.shape[0])[0]


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
