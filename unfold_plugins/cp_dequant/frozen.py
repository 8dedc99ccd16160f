"""The paper's truncated backprop: the core's implicit gradient with the Jacobian at s^{L−1}.

Brauer & Lorenz, Theorem 2 and Sec. III ("Truncated BP"): for L → ∞ the gradient (9) tends to

.. math::

    ∇_K ℓ = σ Δ_D (y^*)^⊤ − τ ψ^* (Δ_P)^⊤, \\qquad
    Δ_P = \\sum_l δ_P^l, \\; Δ_D = \\sum_l δ_D^l,                                        (12)

approximated by the final iterate and b steps of Algorithm 2 (4)–(6) with the prox Jacobians
frozen at z_P^L, z_D^L. That is the Neumann series of :class:`unfold.implicit.Implicit`: b
terms k = 0 … b − 1 (b − 1 vector–Jacobian products) of the Jacobian of the step
s^{L−1} → s^L (the core's ``implicit:b`` takes it one step later, at s^L → s^{L+1}, and
sums b + 1 terms; on a converged state the two agree). The forward value is the plain
L-iteration output y^L. What differs, and is written here, is the step the VJPs run through
(``frozen_step``): its value is Algorithm 1's, its Jacobian in the state has the masks
D_D = 1{|z_D^L| < 1}, D_P = 1{|z_P^L − x| < α}, and its K-terms are taken at (y^L, ψ^L) as in
(12). ``frozen-exact:b`` uses α = η/2 (the exact prox Jacobian); ``frozen:b`` the paper's α = 1
("makes the training procedure more stable"; D_P is then the identity almost everywhere).

Tied K only (refused otherwise); no gradient reaches the data x.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from unfold.backprop import Backprop, Loop, parse_backprop, register_backprop
from unfold.implicit import Implicit
from unfold_plugins.cp_dequant.cp import cp_step

Tensor = torch.Tensor


def frozen_step(s: Any, x: Tensor, h: Tensor, K: Tensor, sigma: Tensor, tau: Tensor,
                width: Tensor | float) -> Any:
    """Algorithm 1's step from s = (y, ȳ, ψ), linearised: the value of ``cp_step``; derivatives

    .. math::

        dψ^+ = D_D (dψ + σK\\,d\\bar y + dA\\,y^+), \\quad
        dy^+ = D_P (dy − τK^⊤ dψ^+ − dB^⊤ ψ^+), \\quad d\\bar y^+ = 2dy^+ − dy,

    with A = σK, B = τK, D_D = 1{|ψ + σK ȳ| < 1}, D_P = 1{|y − τK^⊤ψ^+ − x| < width}.
    """
    with torch.no_grad():
        K0, sig0, tau0 = K.detach(), sigma.detach(), tau.detach()
        y, _, psi = cp_step(s.y, s.ybar, s.psi, x, K0, sig0, tau0, h)
        m_d = ((s.psi + sig0 * (s.ybar @ K0.T)).abs() < 1).to(x.dtype)
        m_p = ((s.y - tau0 * (psi @ K0) - x).abs() < width).to(x.dtype)
    A, B = sigma * K, tau * K
    dA, dB = A - A.detach(), B - B.detach()  # value zero, gradient that of A, B

    def d(v: Tensor) -> Tensor:  # value zero, derivative the identity
        return v - v.detach()

    psi_new = psi + m_d * (d(s.psi) + d(s.ybar) @ A.detach().T + y @ dA.T)
    y_new = y + m_p * (d(s.y) - (psi_new - psi) @ B.detach() - psi @ dB)
    return dataclasses.replace(s, y=y_new, ybar=2 * y_new - s.y, psi=psi_new)


class FrozenJacobian(Implicit):
    """``frozen:b`` (α = 1) / ``frozen-exact:b`` (α = η/2): b backward steps of Algorithm 2."""

    lag = 1  # the Jacobian of the step s^{L−1} → s^L; the value is s^L

    def __init__(self, b: int = 30, alpha_one: bool = True) -> None:
        if not isinstance(b, int) or b < 1:
            raise ValueError(f"truncation length b must be an integer >= 1, got {b!r}")
        super().__init__(b)
        self.alpha_one = alpha_one

    @property
    def rounds(self) -> int:
        return self.b - 1  # terms k = 0 … b − 1

    def check(self, model: Any) -> None:
        super().check(model)
        from unfold_plugins.cp_dequant.unroller import ChambollePock

        if not isinstance(model, ChambollePock):
            raise ValueError(f"backprop {self.describe()} is Chambolle–Pock's (Algorithm 2); "
                             f"{type(model).__name__} needs a core strategy")

    def graph_step(self, loop: Loop, z: Any, t: int) -> Any:
        th, p = loop.theta(t), loop.problem
        return frozen_step(z, p.x, p.h, th.K, th.sigma, th.tau, 1.0 if self.alpha_one else p.h)

    def describe(self) -> str:
        return f"frozen({self.b})" if self.alpha_one else f"frozen-exact({self.b})"


def _frozen(alpha_one: bool) -> Callable[[str], Backprop]:
    def make(arg: str) -> Backprop:
        if arg and not arg.isdigit():
            raise ValueError("b must be an integer >= 1")
        return FrozenJacobian(int(arg) if arg else 30, alpha_one=alpha_one)

    return make


register_backprop("frozen", _frozen(True), "frozen[:b]")
register_backprop("frozen-exact", _frozen(False), "frozen-exact[:b]")


def parse_cp_backprop(spec: str | Backprop) -> Backprop:
    """Core specs (full, truncated[:b], checkpointed[:s], implicit[:b]) plus frozen[:b] and
    frozen-exact[:b] (registered with the core, so ``train.backprop`` takes them too)."""
    return parse_backprop(spec)
