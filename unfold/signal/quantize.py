r"""Uniform midpoint quantiser and peak normalisation.

.. math::

    \eta = \frac{hi - lo}{2^{b}}, \qquad
    Q(x) = lo + \eta \left(\min\left(\left\lfloor \frac{x - lo}{\eta} \right\rfloor,
    2^b - 1\right) + \tfrac12\right)

for ``x`` clipped to ``[lo, hi]``: each of the ``2^b`` intervals maps to its midpoint, so
:math:`|Q(x) - x| \le \eta / 2` on ``[lo, hi]`` (4 bits on ``(-1, 1)``: ``eta = 0.125``).
"""

from __future__ import annotations

import torch


def quantize(
    x: torch.Tensor, bits: int, lo: float = -1.0, hi: float = 1.0
) -> tuple[torch.Tensor, float]:
    """Quantise ``x`` (any shape) to ``bits`` bits on ``[lo, hi]``; returns ``(xq, eta)``."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
        raise ValueError(f"bits must be an integer in 1..16, got {bits!r}")
    if not hi > lo:
        raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
    levels = 2**bits
    eta = (hi - lo) / levels
    idx = torch.floor((x.clamp(lo, hi) - lo) / eta).clamp(max=levels - 1)
    return lo + eta * (idx + 0.5), eta


def normalize_peak(x: torch.Tensor, peak: float = 1.0 - 1e-6, eps: float = 1e-12) -> torch.Tensor:
    """Scale each item of ``x`` ``(batch, samples)`` or ``(samples,)`` so ``max|x| = peak``.

    ``peak`` defaults to just below 1 so the result lies in the open interval ``(-1, 1)``.
    All-zero items stay zero.
    """
    if not 0 < peak <= 1:
        raise ValueError(f"peak must be in (0, 1], got {peak}")
    m = x.abs().amax(dim=-1, keepdim=True)
    return x * (peak / m.clamp_min(eps))
