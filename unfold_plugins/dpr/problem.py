"""Gaussian phaseless measurements b = |A y0| (+ noise) and the problem a solver sees.

A has i.i.d. N(0, 1/m) entries (the paper's scaling), so E‖A y‖² = ‖y‖². A batch of problems may
mix several m: each A is padded with zero rows (and b with zeros) up to the largest m of the
batch. A zero row adds |0 − 0| = 0 to every objective below, so padding changes nothing;
``m`` keeps each item's true count for the spectral initialisations.

Shapes: A (batch, m, n), b (batch, m), m (batch,), z_init (batch, restarts, k).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn


@dataclass
class PRProblem:
    """A batch of phase retrieval problems; ``G`` is the generative prior (None without one)."""

    A: torch.Tensor
    b: torch.Tensor
    m: torch.Tensor
    z_init: torch.Tensor
    G: nn.Module | None = None

    def __post_init__(self) -> None:
        if self.A.dim() != 3 or self.b.shape != self.A.shape[:2]:
            raise ValueError(f"A must be (batch, m, n) and b (batch, m); got {tuple(self.A.shape)} "
                             f"and {tuple(self.b.shape)}")
        if not bool(torch.isfinite(self.b).all()):
            raise ValueError("measurements b contain NaN or inf; phase retrieval needs finite |A y0|")
        if self.G is not None and self.z_init.shape[-1] > self.A.shape[-1]:
            raise ValueError(f"latent dimension k={self.z_init.shape[-1]} exceeds the signal "
                             f"dimension n={self.A.shape[-1]}; allowed: 1 <= k <= n")

    @property
    def n(self) -> int:
        return self.A.shape[-1]

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> PRProblem:
        def mv(t: torch.Tensor) -> torch.Tensor:
            return t.to(device=device, dtype=dtype if t.is_floating_point() else None)

        G = self.G.to(device=device, dtype=dtype) if self.G is not None else None
        return replace(self, A=mv(self.A), b=mv(self.b), m=self.m.to(device),
                       z_init=mv(self.z_init), G=G)


def gaussian_matrix(m: int, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A (m, n) with i.i.d. N(0, 1/m) entries."""
    if not isinstance(m, int) or m < 1:
        raise ValueError(f"number of measurements m must be an integer >= 1, got {m!r}")
    return torch.randn(m, n, generator=generator) / math.sqrt(m)


def measure(y0: torch.Tensor, A: torch.Tensor, noise: float = 0.0,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """b = |A y0| + σ ε with ε ~ N(0, I); y0 (…, n), A (…, m, n) → b (…, m)."""
    if not bool(torch.isfinite(y0).all()):
        raise ValueError("signal y0 contains NaN or inf")
    if noise < 0:
        raise ValueError(f"measurement noise must be >= 0, got {noise}")
    b = (A @ y0.unsqueeze(-1)).squeeze(-1).abs()
    if noise > 0:
        b = b + noise * torch.randn(b.shape, generator=generator, dtype=b.dtype)
    return b


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack items, padding A and b with zero rows to the largest m of the batch."""
    m_max = max(it["A"].shape[0] for it in items)

    def pad(t: torch.Tensor) -> torch.Tensor:
        extra = m_max - t.shape[0]
        return torch.cat([t, t.new_zeros(extra, *t.shape[1:])]) if extra else t

    out = {k: torch.stack([it[k] for it in items]) for k in items[0] if k not in ("A", "b")}
    out["A"] = torch.stack([pad(it["A"]) for it in items])
    out["b"] = torch.stack([pad(it["b"]) for it in items])
    return out
