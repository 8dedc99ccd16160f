"""Context stacking of magnitude spectrograms (paper section 5.1).

Each feature vector concatenates T consecutive frames of *left* context ending with the target
frame, oldest first, so the last F rows are the current frame:

.. math:: x_t = [m_{t-T+1}; \\dots; m_{t-1}; m_t] \\in \\mathbb{R}_+^{TF},

with zero frames before the start of the signal (an on-line, causal feature).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def stack_context(m: Tensor, context: int) -> Tensor:
    """``(batch, F, N)`` magnitudes -> ``(batch, context * F, N)`` stacked features."""
    if m.dim() != 3:
        raise ValueError(f"magnitudes must have shape (batch, freq, frames), got {tuple(m.shape)}")
    if context < 1:
        raise ValueError(f"context must be >= 1 frame, got {context}")
    padded = F.pad(m, (context - 1, 0))
    n = m.shape[-1]
    return torch.cat([padded[..., j : j + n] for j in range(context)], dim=1)
