"""The practical DPR of the paper's experiments (§IV): Adam on f from z_1 and from −z_1.

For each restart r the two candidates z_1^r and −z_1^r are descended with Adam
(Kingma & Ba, β1 = 0.9, β2 = 0.999, ε = 1e-8), elementwise on ∇f:

.. math::

    m_t = β_1 m_{t-1} + (1-β_1) g_t, \\quad v_t = β_2 v_{t-1} + (1-β_2) g_t^2, \\quad
    z_{t+1} = z_t - η\\, \\frac{m_t / (1-β_1^t)}{\\sqrt{v_t / (1-β_2^t)} + ε},
    \\quad g_t = ∇f(z_t)

and the output is G(z) of the candidate (among 2R) with the lowest measurement loss f. As a
classical baseline η is frozen (``trainable=False``, the default); unrolled, η_t > 0 is learned
per layer (tied / untied), optionally one per latent coordinate (``per_coordinate=k``), and with
``learn_beta1`` the momentum β1_t ∈ (0, 1) too; the bias correction then divides m_t by
1 − Π_{s ≤ t} β1_s (= 1 − β1^t for a constant β1).

State: z, m, v (batch, 2R, k) and the step count t. Output: (batch, n).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unfold.params import Interval, Param
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
    c1: torch.Tensor  # scalar Π β1 so far (bias correction with per-layer β1)


def adam_step(problem: PRProblem, s: AdamState, lr: torch.Tensor, beta1: torch.Tensor | float = BETA1
              ) -> AdamState:
    g = latent_grad(check_prior(problem), problem.A, problem.b, s.z)
    t = s.t + 1
    c1 = s.c1 * beta1
    m = beta1 * s.m + (1 - beta1) * g
    v = BETA2 * s.v + (1 - BETA2) * g * g
    step = lr * (m / (1 - c1)) / ((v / (1 - BETA2 ** t)).sqrt() + EPS)
    return AdamState(s.z - step, m, v, t, c1)


class DPRAdam(Unroller):
    """Practical DPR: Adam from ±z_1 for every restart, best measurement loss wins."""

    def __init__(self, n_layers: int = 1, tying: str = "tied", backprop=None,
                 trainable: bool = False, lr: float = 0.05, per_coordinate: int = 0,
                 learn_beta1: bool = False) -> None:
        if not lr > 0:
            raise ValueError(f"DPR-Adam learning rate must be > 0, got {lr}")
        self.lr_init = float(lr)
        self.lr_shape = (per_coordinate,) if per_coordinate else ()
        self.learn_beta1 = learn_beta1
        super().__init__(n_layers, tying, backprop, trainable)

    def param_specs(self) -> dict[str, Param]:
        specs = {"lr": Param(self.lr_init, "positive", shape=self.lr_shape,
                             doc="Adam learning rate η")}
        if self.learn_beta1:
            specs["beta1"] = Param(BETA1, Interval(0.0, 1.0), doc="momentum β1")
        return specs

    def init(self, problem: PRProblem) -> AdamState:
        check_prior(problem)
        z = torch.cat([problem.z_init, -problem.z_init], dim=1)
        zero = torch.zeros_like(z)
        one = torch.ones((), dtype=z.dtype, device=z.device)
        return AdamState(z, zero, zero.clone(), 0 * one, one)

    def step(self, state: AdamState, theta: Theta, problem: PRProblem) -> AdamState:
        return adam_step(problem, state, theta.lr, theta.get("beta1", BETA1))

    def readout(self, state: AdamState, problem: PRProblem) -> torch.Tensor:
        return best_candidate(problem, state.z)

    @classmethod
    def example(cls, tying: str = "tied") -> tuple[DPRAdam, PRProblem]:
        model = cls(n_layers=3, tying=tying, trainable=True, lr=0.05, learn_beta1=True)
        return model.double(), example_problem()
