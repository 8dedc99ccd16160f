"""The practical DPR of the paper's experiments (§IV): Adam on f from z_1 and from −z_1.

For each restart r the two candidates z_1^r and −z_1^r are descended with Adam
(Kingma & Ba, β1 = 0.9, β2 = 0.999, ε = 1e-8), elementwise on ∇f:

.. math::

    m_t = β_1 m_{t-1} + (1-β_1) g_t, \\quad v_t = β_2 v_{t-1} + (1-β_2) g_t^2, \\quad
    z_{t+1} = z_t - η\\, \\frac{m_t / (1-β_1^t)}{\\sqrt{v_t / (1-β_2^t)} + ε},
    \\quad g_t = ∇f(z_t)

and the output is G(z) of the candidate (among 2R) with the lowest measurement loss f. As a
classical baseline η is frozen (``trainable=False``, the default); unrolled, η_t > 0 is learned
per layer (tied / untied), optionally one per latent coordinate (``per_coordinate=k``).

State: z, m, v (batch, 2R, k) and the step count t. Output: (batch, n).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unfold.params import Param
from unfold.unroller import Theta, Unroller

from .dpr import best_candidate, check_prior, example_problem
from .objective import latent_grad
from .problem import PRProblem

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


@dataclass
class AdamState:
    z: torch.Tensor  # (batch, 2R, k)
    m: torch.Tensor
    v: torch.Tensor
    t: torch.Tensor  # scalar step count


def adam_step(problem: PRProblem, s: AdamState, lr: torch.Tensor) -> AdamState:
    g = latent_grad(problem.G, problem.A, problem.b, s.z)
    t = s.t + 1
    m = BETA1 * s.m + (1 - BETA1) * g
    v = BETA2 * s.v + (1 - BETA2) * g * g
    step = lr * (m / (1 - BETA1 ** t)) / ((v / (1 - BETA2 ** t)).sqrt() + EPS)
    return AdamState(s.z - step, m, v, t)


class DPRAdam(Unroller):
    """Practical DPR: Adam from ±z_1 for every restart, best measurement loss wins."""

    def __init__(self, n_layers: int = 1, tying: str = "tied", backprop=None,
                 trainable: bool = False, lr: float = 0.05, per_coordinate: int = 0) -> None:
        if not lr > 0:
            raise ValueError(f"DPR-Adam learning rate must be > 0, got {lr}")
        self.lr_init = float(lr)
        self.lr_shape = (per_coordinate,) if per_coordinate else ()
        super().__init__(n_layers, tying, backprop, trainable)

    def param_specs(self) -> dict[str, Param]:
        return {"lr": Param(self.lr_init, "positive", shape=self.lr_shape,
                            doc="Adam learning rate η")}

    def init(self, problem: PRProblem) -> AdamState:
        check_prior(problem)
        z = torch.cat([problem.z_init, -problem.z_init], dim=1)
        zero = torch.zeros_like(z)
        return AdamState(z, zero, zero.clone(), torch.zeros((), dtype=z.dtype, device=z.device))

    def step(self, state: AdamState, theta: Theta, problem: PRProblem) -> AdamState:
        return adam_step(problem, state, theta.lr)

    def readout(self, state: AdamState, problem: PRProblem) -> torch.Tensor:
        return best_candidate(problem, state.z)

    @classmethod
    def example(cls, tying: str = "tied") -> tuple[DPRAdam, PRProblem]:
        return cls(n_layers=3, tying=tying, trainable=True, lr=0.05).double(), example_problem()
