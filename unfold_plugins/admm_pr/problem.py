"""The phase-retrieval problem seen by every algorithm of this plugin.

A problem is a batch of STFT magnitudes r = |A s| ``(batch, freq, frames)`` of signals s
``(batch, samples)``, the operator A, and the initial spectrogram z_0 = r ⊙ e^{iφ_0}: every method
starts from x_0 = A^+ z_0 with the same φ_0 (uniform in [−π, π), drawn from a seed and the item's
index, so it is part of the problem, not of the method).

A^+ is the pseudo-inverse of the frame: the adjoint A^H when the frame is tight (the paper's
sine window with 50 % overlap and constant padding), ``STFT.inverse`` (= ``torch.istft``)
otherwise, e.g. for the reflect-padded framing that reproduces torchaudio's GriffinLim.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from unfold.signal.stft import STFT

Tensor = torch.Tensor


@dataclass
class PRProblem:
    """Magnitudes ``r`` (batch, freq, frames) ≥ 0, initial spectrogram ``init_spec`` (complex,
    same shape), the operator ``op`` and the signal ``length`` in samples."""

    r: Tensor
    init_spec: Tensor
    op: STFT
    length: int
    tight: bool = field(init=False)
    _log_r: dict[float, Tensor] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.r.dim() != 3 or self.init_spec.shape != self.r.shape:
            raise ValueError(
                f"r and init_spec must both be (batch, freq, frames), got {tuple(self.r.shape)} "
                f"and {tuple(self.init_spec.shape)}"
            )
        # frame-major memory (batch, frames, freq), the layout of the operator's output: mixing
        # layouts in elementwise work with the iterates is ~5x slower on CPU than matching them
        self.r, self.init_spec = frame_major(self.r), frame_major(self.init_spec)
        op = self.op
        self.tight = op.pad_mode == "constant" and op.n_fft == 2 * op.hop and not op.drop_nyquist

    def analysis(self, x: Tensor) -> Tensor:
        """A x: ``(batch, samples)`` -> ``(batch, freq, frames)`` complex."""
        return self.op(x)

    def synthesis(self, spec: Tensor) -> Tensor:
        """A^+ z: ``(batch, freq, frames)`` complex -> ``(batch, samples)``."""
        if self.tight:
            return self.op.adjoint(spec, self.length)
        return self.op.inverse(spec, self.length)

    def log_r(self, floor: float) -> Tensor:
        """log max(r, floor) ``(batch, freq, frames)``, computed once per problem and floor."""
        if floor not in self._log_r:
            self._log_r[floor] = torch.log(self.r.clamp_min(floor))
        return self._log_r[floor]

    @property
    def batch_size(self) -> int:
        return self.r.shape[0]


def frame_major(spec: Tensor) -> Tensor:
    """``spec`` ``(batch, freq, frames)`` with frame-major strides (a copy only if needed)."""
    return spec.transpose(1, 2).contiguous().transpose(1, 2)


def random_phase(shape: Sequence[int], seed: int, index: int,
                 dtype: torch.dtype = torch.float32) -> Tensor:
    """Uniform phase in [−π, π) of ``shape``, a function of (seed, index) only."""
    g = torch.Generator().manual_seed((int(seed) * 1_000_003 + int(index)) % (2**63 - 1))
    u = torch.rand(tuple(shape), generator=g, dtype=torch.float64)
    return ((2 * u - 1) * math.pi).to(dtype)


def make_problem(signals: Tensor, op: STFT, indices: Sequence[int] | None = None,
                 seed: int = 0) -> PRProblem:
    """Problem from clean signals ``(batch, samples)``: r = |A s|, φ_0 from (seed, index)."""
    if signals.dim() != 2:
        raise ValueError(f"signals must be (batch, samples), got {tuple(signals.shape)}")
    r = op(signals).abs()
    idx = list(range(signals.shape[0])) if indices is None else [int(i) for i in indices]
    phase = torch.stack([random_phase(r.shape[1:], seed, i, r.dtype) for i in idx]).to(r.device)
    return PRProblem(r, torch.polar(r, phase), op, signals.shape[-1])


def frame_phase(n_freq: int, start: int, stop: int, seed: int,
                dtype: torch.dtype = torch.float32) -> Tensor:
    r"""Uniform phase in [−π, π) for frames ``[start, stop)``: ``(n_freq, stop - start)``.

    Entry (k, t) is a function of (seed, t, k) alone — a counter-based draw,
    :math:`\varphi_{k,t} = (2 u - 1)\pi` with ``u`` the top 53 bits of
    splitmix64(splitmix64(seed) + t · n_freq + k) — so any block of frames of a long signal gets
    the same initial phase as the whole signal (block processing, :mod:`unfold.signal.blocks`).
    """
    t = np.arange(start, stop, dtype=np.uint64)[None, :]
    k = np.arange(n_freq, dtype=np.uint64)[:, None]
    base = _splitmix64(np.array([seed], dtype=np.uint64))
    u = (_splitmix64(base + t * np.uint64(n_freq) + k) >> np.uint64(11)) * (1.0 / 2**53)
    return torch.from_numpy((2 * u - 1) * math.pi).to(dtype)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, elementwise on uint64 (wrapping arithmetic)."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def from_magnitude(r: Tensor, op: STFT, length: int, seed: int = 0,
                   first_frame: int = 0) -> PRProblem:
    """Problem from one magnitude ``(1, freq, frames)`` alone (no clean signal known), frames
    ``first_frame, ...`` of a longer signal: φ_0 from :func:`frame_phase`."""
    if r.dim() != 3 or r.shape[0] != 1:
        raise ValueError(f"r must be (1, freq, frames), got {tuple(r.shape)}")
    phase = frame_phase(r.shape[1], first_frame, first_frame + r.shape[2], seed, r.dtype)
    return PRProblem(r, torch.polar(r, phase[None].to(r.device)), op, length)


def example_problem(batch: int = 2, samples: int = 96) -> PRProblem:
    """A tiny problem for contract tests: random chirps, 16-point sine-window STFT (small enough
    that a float64 gradcheck over the whole state, two complex fields included, is quick)."""
    g = torch.Generator().manual_seed(0)
    t = torch.arange(samples, dtype=torch.float32) / 8000
    f0 = 500 + 1500 * torch.rand(batch, 1, generator=g)
    s = 0.5 * torch.sin(2 * torch.pi * f0 * t * (1 + 20 * t))
    s = s + 0.05 * torch.randn(batch, samples, generator=g)
    return make_problem(s, STFT(16, 8, "sine"), seed=0)
