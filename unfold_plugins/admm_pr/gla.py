"""Griffin–Lim (GLA) and fast Griffin–Lim (FGLA) as frozen unrollers.

.. math::

    \\text{GLA (Griffin \\& Lim 1984):}\\quad x_{t+1} = A^+\\big(r ⊙ P(A x_t)\\big),
    \\qquad P(z) = z / (|z| + ε)

    \\text{FGLA (Perraudin et al. 2013):}\\quad c_t = A x_t,\\quad
    x_{t+1} = A^+\\Big(r ⊙ P\\big(c_t - \\tfrac{α}{1 + α} c_{t-1}\\big)\\Big),\\quad c_{-1} = 0

with x_0 = A^+ z_0. This is exactly torchaudio's ``griffinlim`` loop (ε = 1e-16, its momentum
written the same way; the t-th iterate equals torchaudio's output for ``n_iter = t``), tested
against ``torchaudio.transforms.GriffinLim``. Shapes: r, c ``(batch, freq, frames)``,
x ``(batch, samples)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from unfold.params import Interval, Param
from unfold.signal.modulus import with_phase_of
from unfold.unroller import Theta, Unroller
from unfold_plugins.admm_pr.problem import PRProblem, example_problem

Tensor = torch.Tensor
EPS = 1e-16  # ε of the phase factor P


def gla_step(x: Tensor, r: Tensor, analysis: Callable[[Tensor], Tensor],
             synthesis: Callable[[Tensor], Tensor]) -> Tensor:
    """One GLA iteration x -> A^+(r ⊙ P(A x))."""
    return synthesis(with_phase_of(analysis(x), r, eps=EPS))


def fgla_step(x: Tensor, prev: Tensor, r: Tensor, momentum: Tensor | float,
              analysis: Callable[[Tensor], Tensor],
              synthesis: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
    """One FGLA iteration (x, c_{t−1}) -> (x_{t+1}, c_t)."""
    c = analysis(x)
    z = c - (momentum / (1 + momentum)) * prev
    return synthesis(with_phase_of(z, r, eps=EPS)), c


@dataclass
class FGLAState:
    x: Tensor  # (batch, samples)
    prev: Tensor  # (batch, freq, frames) complex, c_{t-1}


class FGLA(Unroller):
    """Fast Griffin–Lim with momentum α (0.99 by default; frozen unless ``trainable``).

    α is constrained to (−1, 1) so that α = 0 (GLA) is an interior point a learned model can
    start from and leave.
    """

    def __init__(self, n_layers: int = 100, tying: str = "tied", backprop=None,
                 trainable: bool = False, momentum: float = 0.99) -> None:
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum0 = momentum
        super().__init__(n_layers, tying, backprop, trainable)

    def param_specs(self) -> dict[str, Param]:
        return {"momentum": Param(self.momentum0, Interval(-1.0, 1.0), doc="momentum α")}

    def init(self, problem: PRProblem) -> FGLAState:
        return FGLAState(problem.synthesis(problem.init_spec), torch.zeros_like(problem.init_spec))

    def step(self, s: FGLAState, theta: Theta, problem: PRProblem) -> FGLAState:
        if self.momentum0 == 0 and not self.trainable:  # plain GLA: no momentum term to pay for
            return FGLAState(gla_step(s.x, problem.r, problem.analysis, problem.synthesis), s.prev)
        x, c = fgla_step(s.x, s.prev, problem.r, theta.momentum, problem.analysis,
                         problem.synthesis)
        return FGLAState(x, c)

    def readout(self, s: FGLAState, problem: PRProblem) -> Tensor:
        return s.x

    @classmethod
    def example(cls, tying: str = "tied") -> tuple[FGLA, PRProblem]:
        return cls(4, tying, trainable=True), example_problem()


class GLA(FGLA):
    """Griffin–Lim: FGLA at α = 0 (the momentum term is skipped while frozen)."""

    def __init__(self, n_layers: int = 100, tying: str = "tied", backprop=None,
                 trainable: bool = False, momentum: float = 0.0) -> None:
        super().__init__(n_layers, tying, backprop, trainable, momentum)
