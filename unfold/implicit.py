"""Implicit backprop: the gradient of the fixed point by a Neumann series of one step's Jacobian.

A tied unroller iterates s_{t+1} = f(s_t, θ) and outputs y = g(s_L). If the iteration converges
to s* = f(s*, θ), differentiating the fixed-point equation gives

.. math::

    \\frac{ds^*}{dθ} = (I - J_*)^{-1} B_*, \\qquad (I - J_*)^{-1} = \\sum_{k \\ge 0} J_*^k,  (1)

with J_* = ∂f/∂s and B_* = ∂f/∂θ at the fixed point; the series converges when the spectral
radius of J_* is below one. With v = ∂ℓ/∂s (through g), ``Implicit(b)`` returns

.. math::

    \\frac{dℓ}{dθ} ≈ v^⊤ \\sum_{k=0}^{b} J_*^k B_*,                                      (2)

J_* and B_* taken at the last state s_n (the iterate the L layers reach) — for Chambolle–Pock this
is Theorem 2 of Brauer & Lorenz, for any tied unroller. ``Implicit(0)`` keeps the k = 0 term:
the Jacobian-free gradient (Fung et al. 2022), a descent direction, not the gradient.

How (autograd only, no hand-written adjoint): the n layers run without a graph; one more step
runs with a graph from a detached leaf z = s_n, out = f(z, θ); an identity autograd function
on out replaces the incoming vector v by w = Σ_{k≤b} (J_*^⊤)^k v, computed as b rounds of
w ← v + J_*^⊤ w, each a vector–Jacobian product through that one step
(``torch.autograd.grad(out, z, w, retain_graph=True)``); autograd then hands θ B_*^⊤ w from the
same graph. The VJPs start at the step's outputs, upstream of the identity function, so its
backward does not re-enter itself (the pitfall of a tensor hook, which must remove itself
first), and a second backward through a retained graph gets the same correction. States that
are dataclasses of several tensors are handled field by field (a field the step does not read
has a zero block in J_*). Memory: one step's graph, independent of n and of b.

**The value returned is f(s_n) = s_{n+1}: with a graph, n + 1 steps run** (n without a graph,
one with). Under ``torch.no_grad()`` (evaluation) the n layers run as with every strategy.
Only tied models (one θ for every layer): untied layers have no common fixed point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from unfold.backprop import Backprop, Loop, detach_state, state_tensors

Tensor = torch.Tensor


class _FixedPointGrad(torch.autograd.Function):
    """Identity on the step's outputs whose backward maps v to ``solve(v)``, eq. (2)."""

    @staticmethod
    def forward(ctx: Any, solve: Callable[..., tuple[Tensor, ...]], *outs: Tensor
                ) -> tuple[Tensor, ...]:
        ctx.solve = solve
        return tuple(o.clone() for o in outs)

    @staticmethod
    def backward(ctx: Any, *vs: Tensor) -> tuple[Any, ...]:
        return (None, *ctx.solve(vs))


class Implicit(Backprop):
    """The fixed-point gradient with ``b`` Neumann terms at the last state (see module docs).

    Extension points for a variant (e.g. a Jacobian frozen at another iterate):
    ``lag`` — the graph step starts at s_{n − lag} instead of s_n (the value is then s_{n+1−lag});
    ``rounds`` — the number of VJPs (b by default: terms k = 0 … b);
    ``graph_step(loop, z, t)`` — the step whose Jacobian and θ-derivative are used.
    """

    lag = 0

    def __init__(self, b: int = 30) -> None:
        if not isinstance(b, int) or isinstance(b, bool) or b < 0:
            raise ValueError(f"implicit backprop needs b an integer >= 0, got {b!r}")
        self.b = b

    @property
    def rounds(self) -> int:
        """Vector–Jacobian products per backward pass: b (terms k = 0 … b of eq. (2))."""
        return self.b

    def check(self, model: Any) -> None:
        tying = model.tying
        if tying.n_groups(model.n_layers) != 1:
            raise ValueError(f"{self.describe()} backprop needs tying 'tied' (one θ for every "
                             f"layer, so that a fixed point exists), got {tying.label!r}")

    def graph_step(self, loop: Loop, z: Any, t: int) -> Any:
        """The step run with a graph from the leaf state ``z`` as layer ``t``; its Jacobian in
        z is J_* and its derivative in θ is B_*. Default: the model's step."""
        return loop.step(z, t)

    def unroll(self, loop: Loop, state: Any) -> Any:
        if not torch.is_grad_enabled():
            return loop.iterate(state, loop.start, loop.stop)
        if loop.n < self.lag:
            raise ValueError(f"{self.describe()} backprop needs n_iter >= {self.lag}, got {loop.n}")
        anchor = loop.stop - self.lag
        with torch.no_grad():
            state = loop.iterate(state, loop.start, anchor)
        leaves, rebuild = state_tensors(detach_state(state))
        z = tuple(x.requires_grad_() if x.is_floating_point() or x.is_complex() else x
                  for x in leaves)
        out = self.graph_step(loop, rebuild(*z), anchor)
        outs, rebuild_out = state_tensors(out)
        if len(outs) != len(z):
            raise ValueError(f"implicit backprop needs step() to return a state with the fields "
                             f"of its input; got {len(outs)} tensors for {len(z)}")
        live = [i for i, o in enumerate(outs) if o.requires_grad]  # outputs that carry v
        leaf = [i for i, x in enumerate(z) if x.requires_grad]  # fields J_* acts on
        if not live or not leaf:
            return out
        rounds = self.rounds

        def solve(vs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            w = list(vs)
            for _ in range(rounds):  # w ← v + J_*^T w; after b rounds w = Σ_{k≤b} (J_*^T)^k v
                jt_w = torch.autograd.grad([outs[i] for i in live], [z[i] for i in leaf], w,
                                           retain_graph=True, allow_unused=True)
                back = dict(zip(leaf, jt_w, strict=True))
                w = [v if back.get(i) is None else v + back[i] for v, i in zip(vs, live, strict=True)]
            return tuple(w)

        merged = list(outs)
        for i, o in zip(live, _FixedPointGrad.apply(solve, *(outs[i] for i in live)), strict=True):
            merged[i] = o
        return rebuild_out(*merged)

    def describe(self) -> str:
        return f"implicit({self.b})"

