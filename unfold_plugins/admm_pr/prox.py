"""Proximity operators of the left Bregman PR problem (eq. 6): u = prox_{ρ^{-1} D(·|R)}(y).

With R = r^d the measurements and y = |h| ≥ 0 (Vial et al. 2021; ANCHORS.md):

.. math::

    \\text{quadratic } D = \\tfrac12 (u - R)^2:\\quad u = \\frac{ρ y + R}{ρ + 1}     \\quad (17)

    \\text{KL } D = u \\log\\frac{u}{R} - u + R:\\quad u = \\frac{W(ρ R e^{ρ y})}{ρ}

    \\text{IS } D = \\frac{u}{R} - \\log\\frac{u}{R} - 1:\\quad
    u = \\frac{-b + \\sqrt{b^2 + 4ρ}}{2ρ},\\ b = \\frac1R - ρ y

The quadratic prox follows the paper's eq. (17) (D = ½(u − R)², as ψ(z) = z²/2 for the Bregman
family). The authors' earlier code writes (ρy + 2R)/(ρ + 2), which is D = (u − R)²: the same
prox at ρ/2. W is evaluated from log z (``lambertw_exp``), so large ρy cannot overflow. R is
floored at the dtype's tiny for the KL and IS proxes (log R and 1/R).

Shapes: y, R ``(batch, freq, frames)`` real, ρ a scalar (float or 0-d tensor).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from unfold_plugins.admm_pr.lambertw import lambertw_exp

Tensor = torch.Tensor
Prox = Callable[[Tensor, Tensor, Tensor | float], Tensor]


def _log(v: Tensor | float) -> Tensor | float:
    return torch.log(v) if torch.is_tensor(v) else math.log(v)


def prox_quadratic(y: Tensor, R: Tensor, rho: Tensor | float) -> Tensor:
    return (rho * y + R) / (rho + 1)


def prox_kl(y: Tensor, R: Tensor, rho: Tensor | float) -> Tensor:
    tiny = torch.finfo(R.dtype).tiny
    logz = _log(rho) + torch.log(R.clamp_min(tiny)) + rho * y
    return lambertw_exp(logz) / rho


def prox_is(y: Tensor, R: Tensor, rho: Tensor | float) -> Tensor:
    tiny = torch.finfo(R.dtype).tiny
    b = 1 / R.clamp_min(tiny) - rho * y
    # (−b + sqrt(b² + 4ρ)) / 2ρ written as 2 / (b + sqrt(b² + 4ρ)) where b > 0 (no cancellation)
    s = torch.sqrt(b * b + 4 * rho)
    return torch.where(b > 0, 2 / (b + s), (s - b) / (2 * rho))


PROXES: dict[str, Prox] = {"quadratic": prox_quadratic, "kl": prox_kl, "is": prox_is}


def get_prox(name: str) -> Prox:
    if name not in PROXES:
        raise ValueError(f"unknown loss {name!r} for the ADMM prox; allowed: {', '.join(PROXES)}")
    return PROXES[name]
