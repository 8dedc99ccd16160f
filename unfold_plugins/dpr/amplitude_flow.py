"""Amplitude flow with spectral initialisation: phase retrieval without any prior.

Initialisation (spectral, Candès et al.): the leading eigenvector u of

.. math::

    Y = \\sum_i b_i^2 a_i a_i^T  \\qquad (E\\,Y = (\\|y_0\\|^2 I + 2 y_0 y_0^T)/m
    \\text{ for } a_i \\sim N(0, I/m)),  \\qquad x_0 = \\sqrt{\\textstyle\\sum_i b_i^2}\\; u

Iteration (amplitude flow, Wang, Giannakis & Eldar, gradient of ½‖|Ax| − b‖²):

.. math::

    x_{t+1} = x_t - \\frac{μ}{\\|A\\|_2^2} A^T\\big(A x_t - b ⊙ \\mathrm{sgn}(A x_t)\\big)

μ is a frozen parameter (classical baseline). The recovered x is defined up to a global sign.
State: x (batch, n) and the per-item 1/‖A‖² (batch, 1). Output: (batch, n).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unfold.params import Param
from unfold.unroller import Theta, Unroller

from .dpr import example_problem
from .objective import amplitude_grad
from .problem import PRProblem


@dataclass
class FlowState:
    x: torch.Tensor  # (batch, n)
    scale: torch.Tensor  # (batch, 1) = 1 / ‖A‖²


def spectral_init(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """sqrt(Σ b²) times the leading eigenvector of Σ b_i² a_i a_i^T; (batch, n)."""
    Y = A.transpose(1, 2) @ (b.pow(2).unsqueeze(-1) * A)
    u = torch.linalg.eigh(Y).eigenvectors[..., -1]
    return b.pow(2).sum(-1, keepdim=True).sqrt() * u


def flow_step(A: torch.Tensor, b: torch.Tensor, x: torch.Tensor, step: torch.Tensor
              ) -> torch.Tensor:
    return x - step * amplitude_grad(A, b, x.unsqueeze(1)).squeeze(1)


class AmplitudeFlow(Unroller):
    """Amplitude flow from the spectral initialisation (classical, ``trainable=False``)."""

    def __init__(self, n_layers: int = 1, tying: str = "tied", backprop=None,
                 trainable: bool = False, mu: float = 0.9) -> None:
        if not mu > 0:
            raise ValueError(f"amplitude-flow step μ must be > 0, got {mu}")
        self.mu_init = float(mu)
        super().__init__(n_layers, tying, backprop, trainable)

    def param_specs(self) -> dict[str, Param]:
        return {"mu": Param(self.mu_init, "positive", doc="step μ relative to 1/‖A‖²")}

    def init(self, problem: PRProblem) -> FlowState:
        scale = torch.linalg.matrix_norm(problem.A, ord=2).pow(-2).unsqueeze(-1)
        return FlowState(spectral_init(problem.A, problem.b), scale)

    def step(self, state: FlowState, theta: Theta, problem: PRProblem) -> FlowState:
        x = flow_step(problem.A, problem.b, state.x, theta.mu * state.scale)
        return FlowState(x, state.scale)

    def readout(self, state: FlowState, problem: PRProblem) -> torch.Tensor:
        return state.x

    @classmethod
    def example(cls, tying: str = "tied") -> tuple[AmplitudeFlow, PRProblem]:
        return cls(n_layers=3, tying=tying, trainable=True).double(), example_problem()
