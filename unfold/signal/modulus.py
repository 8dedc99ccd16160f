r"""Modulus of complex tensors by real arithmetic.

.. math:: |z| = \sqrt{\max(\mathrm{Re}(z \bar z),\ \mathrm{tiny})}

``torch.abs`` of a complex CPU tensor evaluates ``hypot`` element by element (overflow-safe,
not vectorised): about 5x slower than the product :math:`z \bar z` (one vectorised complex
multiply) followed by a square root. The square stays finite for float32 moduli up to ~1e19
(audio spectra are far below). Values below :math:`\sqrt{\mathrm{tiny}}` (~1e-19 in float32,
~1e-154 in float64) come out as that floor instead of their modulus, and their gradient is 0,
as ``torch.abs``'s at 0 (a bare square root would give an infinite gradient there). Shapes: any.
"""

from __future__ import annotations

import torch


def modulus(z: torch.Tensor) -> torch.Tensor:
    """|z| of a complex tensor, real, same shape (see module doc for the floor)."""
    tiny = torch.finfo(z.real.dtype).tiny
    return (z * z.conj()).real.clamp_min(tiny).sqrt()
