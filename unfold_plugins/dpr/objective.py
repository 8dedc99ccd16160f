"""The amplitude objective and its gradients, in signal space and through the generator.

.. math::

    f(z) = \\tfrac12 \\big\\| |A G(z)| - b \\big\\|^2                              \\quad (II.1)

    ∇_y \\tfrac12\\||Ay| - b\\|^2 = A^T\\big(Ay - b ⊙ \\mathrm{sgn}(Ay)\\big) = A_y^T(|Ay| - b)

    ∇f(z) = J_G(z)^T A^T\\big(A G(z) - b ⊙ \\mathrm{sgn}(A G(z))\\big)            \\quad (v_{x,x_0}, §III)

with sgn(0) = 0, the paper's choice (the descent direction is then defined at kinks too).
Shapes: y (batch, C, n) for C candidate signals per problem, A (batch, m, n), b (batch, m); the
results are per candidate, (batch, C) or (batch, C, n | k).
"""

from __future__ import annotations

import torch
from torch import nn


def forward_op(A: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A y for every candidate: (batch, m, n), (batch, C, n) → (batch, C, m)."""
    return y @ A.transpose(1, 2)


def amplitude_loss(A: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """½‖|A y| − b‖² per candidate, (batch, C)."""
    return 0.5 * (forward_op(A, y).abs() - b.unsqueeze(1)).pow(2).sum(-1)


def amplitude_grad(A: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A^T (A y − b ⊙ sgn(A y)), (batch, C, n)."""
    Ay = forward_op(A, y)
    return (Ay - b.unsqueeze(1) * torch.sign(Ay)) @ A


def latent_loss(G: nn.Module, A: torch.Tensor, b: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """f(z) per candidate, z (batch, C, k) → (batch, C)."""
    return amplitude_loss(A, b, G(z))


def latent_grad(G: nn.Module, A: torch.Tensor, b: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """∇f(z), (batch, C, k): the amplitude gradient pulled back through G by autograd.

    The signal-space residual is formed analytically; ``torch.autograd.grad`` applies J_G(z)^T.
    When z is part of a graph being recorded (training an unrolled model), the result keeps its
    graph (``create_graph=True``) so that a loss after later layers can differentiate through
    this gradient; otherwise it is computed on a detached copy and carries no graph.
    """
    keep = torch.is_grad_enabled() and z.requires_grad
    with torch.enable_grad():
        zz = z if keep else z.detach().requires_grad_(True)
        y = G(zz)
        (g,) = torch.autograd.grad(y, zz, grad_outputs=amplitude_grad(A, b, y), create_graph=keep)
    return g
