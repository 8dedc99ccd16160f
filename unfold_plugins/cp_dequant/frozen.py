"""The paper's truncated backprop: b backward steps with every Jacobian frozen at the last iterate.

Brauer & Lorenz, Theorem 2 and Sec. III ("Truncated BP"): for L → ∞ the gradient (9) tends to

.. math::

    ∇_K ℓ = σ Δ_D (y^*)^⊤ − τ ψ^* (Δ_P)^⊤, \\qquad
    Δ_P = \\sum_l δ_P^l, \\; Δ_D = \\sum_l δ_D^l,                                        (12)

and they approximate (y*, ψ*) by the final iterate (y^L, ψ^L) and the series by b steps of
Algorithm 2 (4)–(6) in which the prox Jacobians are evaluated at z_P^L, z_D^L throughout. The
backward pass then needs no intermediate iterate: memory is constant in L and the forward pass
runs without a graph.

We obtain exactly that gradient from autograd, without writing Algorithm 2 by hand: Algorithm 2
with frozen Jacobians is the adjoint of the *linearised* forward recursion with fixed masks
D_D = 1{|z_D^L| < 1}, D_P = 1{|z_P^L − x| < α} and the K-terms evaluated at (y^L, ψ^L):

.. math::

    dψ^{l} = D_D (dψ^{l-1} + σK\\,d\\bar y^{l-1} + dA\\,y^L), \\quad
    dy^{l} = D_P (dy^{l-1} − τK^⊤ dψ^{l} − dB^⊤ ψ^L), \\quad
    d\\bar y^{l} = 2dy^{l} − dy^{l-1},

with A = σK, B = τK and dA = A − A.detach() (value zero, gradient that of A). The output
y^L + dy^b has the value y^L and the gradient of the paper. The paper uses α = 1 for the primal
Jacobian as well (it "makes the training procedure more stable"; with |z_P − x| < 1 almost
everywhere D_P is then the identity): ``alpha_one=True`` (default), ``False`` uses α = η/2.

Differs from the core's ``Truncated(b)``, which backpropagates exactly through the last b
iterations (their own Jacobians and iterates); the two agree when the iteration has converged.
Only for a tied K (one operator for all layers) and only gradients in K (and σ, τ, which are
functions of K and the learned step parameters); no gradient reaches the data x.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from unfold.backprop import Backprop, Callback, StepFn, _loop
from unfold_plugins.cp_dequant.cp import cp_step

if TYPE_CHECKING:
    from unfold_plugins.cp_dequant.unroller import ChambollePock, CPProblem, CPState


class FrozenJacobian(Backprop):
    """Paper's truncated BP with b frozen-Jacobian backward steps (ChambollePock, tied only)."""

    def __init__(self, b: int = 30, alpha_one: bool = True) -> None:
        if not isinstance(b, int) or b < 1:
            raise ValueError(f"truncation length b must be an integer >= 1, got {b!r}")
        self.b, self.alpha_one = b, alpha_one

    def run(self, step: StepFn, state: Any, n: int, callback: Callback = None) -> Any:
        if torch.is_grad_enabled():
            raise ValueError("FrozenJacobian backprop works only inside the ChambollePock unroller")
        return _loop(step, state, 0, n, callback)

    def describe(self) -> str:
        return f"frozen({self.b})" if self.alpha_one else f"frozen-exact({self.b})"


def parse_cp_backprop(spec: str | Backprop) -> Backprop:
    """Core specs (full, truncated[:b], checkpointed[:s]) plus frozen[:b] and frozen-exact[:b]."""
    from unfold.backprop import parse_backprop

    if isinstance(spec, Backprop):
        return spec
    name, _, arg = str(spec).partition(":")
    if name in ("frozen", "frozen-exact"):
        if arg and not arg.isdigit():
            raise ValueError(f"bad backprop {spec!r}: b must be an integer >= 1")
        return FrozenJacobian(int(arg) if arg else 30, alpha_one=name == "frozen")
    try:
        return parse_backprop(spec)
    except ValueError:
        raise ValueError(f"unknown backprop {spec!r}; allowed: full, truncated[:b], "
                         "checkpointed[:segment], frozen[:b], frozen-exact[:b]") from None


def frozen_run(model: ChambollePock, problem: CPProblem, n: int) -> CPState:
    """Final state after n iterations whose y carries the frozen-Jacobian gradient."""
    from unfold_plugins.cp_dequant.unroller import CPState

    bp = model.backprop
    if not isinstance(bp, FrozenJacobian):
        raise TypeError(f"frozen_run needs a FrozenJacobian backprop, got {bp.describe()}")
    if model.tying.kind != "tied":
        raise ValueError(f"frozen-Jacobian backprop needs a tied K, got tying {model.tying.label}")
    if n < 1:
        raise ValueError(f"frozen-Jacobian backprop needs n_iter >= 1, got {n}")
    th = model.theta(n - 1)
    x, h = problem.x, problem.h
    with torch.no_grad():
        s = model.init(problem)
        for t in range(n - 1):
            s = model.step(s, model.theta(t), problem)
        K0, sig0, tau0 = th.K.detach(), th.sigma.detach(), th.tau.detach()
        z_d = s.psi + sig0 * (s.ybar @ K0.T)
        y, ybar, psi = cp_step(s.y, s.ybar, s.psi, x, K0, sig0, tau0, h)
        z_p = s.y - tau0 * (psi @ K0) - x
        m_d = (z_d.abs() < 1).to(x.dtype)
        m_p = (z_p.abs() < (1.0 if bp.alpha_one else h)).to(x.dtype)
    A, B = th.sigma * th.K, th.tau * th.K
    dA, dB = A - A.detach(), B - B.detach()
    src_d, src_p = y @ dA.T, psi @ dB  # the K-terms at (y^L, ψ^L): zero value, live gradient
    A0, B0 = A.detach(), B.detach()
    dy = dybar = torch.zeros_like(x)
    dpsi = torch.zeros_like(psi)
    for _ in range(bp.b):
        dpsi = m_d * (dpsi + dybar @ A0.T + src_d)
        dy_new = m_p * (dy - dpsi @ B0 - src_p)
        dy, dybar = dy_new, 2 * dy_new - dy
    return CPState(y + dy, ybar, psi)
