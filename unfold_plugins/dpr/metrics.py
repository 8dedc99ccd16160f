"""Image metrics with the global sign ambiguity of phase retrieval resolved, as in the paper.

|A y| = |A(−y)|, so a reconstruction x is scored as the better of x and −x (the sign with the
lower per-pixel MSE, used for both metrics): the only ambiguity the measurements cannot resolve.
SSIM is the shared ``unfold.metrics.ssim`` (Gaussian window, σ = 1.5) with a 7 × 7 window on
8 × 8 digits and the standard 11 × 11 on 28 × 28 MNIST.
"""

from __future__ import annotations

import torch

from unfold import metrics


def resolve_sign(x: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
    """x or −x per item (batch, n), whichever is closer to y0."""
    plus = (x - y0).pow(2).sum(-1)
    minus = (x + y0).pow(2).sum(-1)
    return torch.where((minus < plus).unsqueeze(-1), -x, x)


def mse(x: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
    """Per-pixel MSE after sign resolution, (batch,)."""
    return metrics.mse(resolve_sign(x, y0), y0)


def ssim(x: torch.Tensor, y0: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Mean SSIM after sign resolution, (batch,); x, y0 (batch, h·w) are flattened images."""
    win = 11 if min(shape) >= 11 else 7
    return metrics.ssim(resolve_sign(x, y0).reshape(-1, *shape), y0.reshape(-1, *shape),
                        win_size=win)
