"""Adaptive piecewise-linear (APL) activation (Agostinelli et al. 2015), eq. (18), with the
slope constraint of the UADMM paper and the pieces needed to recover its divergence (eqs. 24–26).

.. math::

    \\mathrm{APL}(z) = \\max(z, 0) + \\sum_{c=1}^C w_c \\max(b_c - z, 0),
    \\qquad w_c = -\\tilde w_c^2 \\le 0                                  \\quad (18)

so APL is increasing with slope ≥ 1 on z ≥ 0 (strictly increasing whenever some w_c ≠ 0 reaches
z < 0). Its antiderivative (eq. 24, written here continuous: the paper's form drops the
constants −w_c b_c²/2, which only shift σ piecewise)

.. math::

    \\overline{\\mathrm{APL}}(z) = \\tfrac{z^2}{2} χ_{z ≥ 0}
      + \\sum_c w_c \\big(b_c z - \\tfrac{z^2}{2} - \\tfrac{b_c^2}{2}\\big) χ_{z ≤ b_c}  \\quad (24)

and the inverse (eq. 26) is computed piece by piece. This module belongs in ``unfold/nn``
(reusable by any plugin); it lives here until the lead moves it.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


class NegSquare:
    """Constraint w = −w̃² (raw w̃). Its inverse picks w̃ = +sqrt(−w); w̃ = 0 has zero gradient."""

    name = "neg-square"

    def forward(self, raw: Tensor) -> Tensor:
        return -raw * raw

    def inverse(self, value: Tensor) -> Tensor:
        if bool((value > 0).any()):
            raise ValueError("APL slopes w = -w~^2 need initial values <= 0")
        return torch.sqrt(-value)


def apl(z: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """APL of eq. (18) elementwise; z any shape, w and b ``(C,)``. One pass per piece, with no
    ``(..., C)`` intermediate (summing over a trailing axis of C is slow)."""
    hinges = torch.relu(b[0] - z) * w[0]
    for c in range(1, w.shape[0]):
        hinges = torch.addcmul(hinges, torch.relu(b[c] - z), w[c])
    return torch.relu(z) + hinges


def apl_bar(z: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """Continuous antiderivative of APL (eq. 24)."""
    zc = z.unsqueeze(-1)
    piece = (b * zc - zc * zc / 2 - b * b / 2) * (zc <= b)
    return torch.relu(z) ** 2 / 2 + (w * piece).sum(-1)


def apl_inverse(y: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """APL^{-1}(y) (eq. 26) for an increasing APL: on each piece APL(z) = a z + c, z = (y − c)/a."""
    active = (y.unsqueeze(-1) <= apl(b, w, b)).to(y.dtype)  # z ≤ b_c  ⇔  y ≤ APL(b_c)
    pos = (y >= apl(torch.zeros_like(b[:1]), w, b)).to(y.dtype)  # z ≥ 0
    slope = pos - (w * active).sum(-1)
    offset = (w * b * active).sum(-1)
    return (y - offset) / slope
