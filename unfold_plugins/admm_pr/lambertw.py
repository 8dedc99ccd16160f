"""Principal branch W_0 of the Lambert W function for real z ≥ 0, in torch (which has none).

W(z) solves w e^w = z. We take log z as input, so W(ρ R e^{ρ y}) in the KL prox never overflows:

.. math::

    z \\le e:\\quad w \\leftarrow w - \\frac{f}{e^w (w + 1) - \\frac{(w + 2) f}{2 w + 2}},
    \\quad f = w e^w - z,\\ w_0 = \\log(1 + z)         \\quad\\text{(Halley)}

    z > e:\\quad w \\leftarrow w - \\frac{w + \\log w - \\log z}{1 + 1/w},
    \\quad w_0 = L - \\log L,\\ L = \\log z \\quad\\text{(Newton on } w + \\log w = \\log z)

Fixed iteration counts (no data-dependent loop), differentiable by autograd, ~1e-15 relative
accuracy in float64 against ``scipy.special.lambertw`` (tested).
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def lambertw_exp(logz: Tensor, iters: int = 6) -> Tensor:
    """W_0(exp(logz)) elementwise; ``logz`` may be −inf (W(0) = 0) or very large."""
    big = logz > 1.0
    # Halley branch on z = exp(min(logz, 1)) ∈ [0, e].
    z = torch.exp(torch.clamp(logz, max=1.0))
    w = torch.log1p(z)
    for _ in range(iters):
        ew = torch.exp(w)
        f = w * ew - z
        w = w - f / (ew * (w + 1) - (w + 2) * f / (2 * w + 2))
    # Newton branch on L = max(logz, 1) ≥ 1, where W ≥ 1.
    L = torch.clamp(logz, min=1.0)
    v = L - torch.log(L)
    v = torch.where(L > 1.0, v, torch.ones_like(v))
    for _ in range(iters):
        v = v - (v + torch.log(v) - L) / (1 + 1 / v)
    return torch.where(big, v, w)


def lambertw(z: Tensor, iters: int = 6) -> Tensor:
    """W_0(z) for z ≥ 0 elementwise."""
    if bool((z < 0).any()):
        raise ValueError("lambertw here covers z >= 0 only (the KL prox never needs less)")
    return lambertw_exp(torch.log(z), iters)
