"""Deep phase retrieval (DPR), Algorithm 1 of Hand, Leong & Voroninski, and its unrolled form.

For every candidate latent code z (one per random restart), layer t does

.. math::

    z ← -z \\ \\text{ if } f(-z) < f(z)                       \\quad \\text{(Alg. 1, lines 3–5)}

    z ← z - s_t ∇f(z)                                       \\quad \\text{(Alg. 1, lines 6–7)}

with f and ∇f from ``objective`` (eq. II.1). The classical method has one fixed step α
(``trainable=False``); the unrolled network learns s_t > 0 (tied: one s, untied: one per layer;
``per_coordinate=k``: a vector s_t ∈ ℝ^k_{>0} applied elementwise, a learned diagonal
preconditioner).
The output is G(z) of the candidate with the lowest *measurement* loss f — never a choice by
distance to the ground truth.

State: z (batch, R, k), R = restarts. Output: (batch, n).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from unfold.params import Param
from unfold.unroller import Theta, Unroller

from .objective import latent_grad, latent_loss
from .problem import PRProblem


@dataclass
class LatentState:
    z: torch.Tensor  # (batch, C, k)


def negation_check(problem: PRProblem, z: torch.Tensor) -> torch.Tensor:
    """Each candidate z or −z, whichever has the lower f (Alg. 1, lines 3–5)."""
    G, A, b = check_prior(problem), problem.A, problem.b
    flip = latent_loss(G, A, b, -z) < latent_loss(G, A, b, z)
    return torch.where(flip.unsqueeze(-1), -z, z)


def dpr_step(problem: PRProblem, z: torch.Tensor, step: torch.Tensor, negation: bool = True
             ) -> torch.Tensor:
    """One layer of Algorithm 1: optional negation check, then z − s ∇f(z)."""
    if negation:
        z = negation_check(problem, z)
    return z - step * latent_grad(check_prior(problem), problem.A, problem.b, z)


def best_candidate(problem: PRProblem, z: torch.Tensor) -> torch.Tensor:
    """G(z) of the candidate with the lowest measurement loss, (batch, n)."""
    G = check_prior(problem)
    y = G(z)
    idx = latent_loss(G, problem.A, problem.b, z).argmin(dim=1)
    return y[torch.arange(len(y)), idx]


def check_prior(problem: PRProblem) -> nn.Module:
    """The generative prior G of ``problem``; a ValueError when it has none."""
    if problem.G is None:
        raise ValueError("DPR needs a generative prior: the problem has G=None")
    return problem.G


class DPR(Unroller):
    """Algorithm 1 (``trainable=False``, fixed α) or unrolled DPR with learned steps s_t > 0."""

    def __init__(self, n_layers: int, tying: str = "tied", backprop=None, trainable: bool = True,
                 step: float = 1.0, negation: bool = True, per_coordinate: int = 0) -> None:
        if not step > 0:
            raise ValueError(f"DPR step size must be > 0, got {step}")
        self.step_init, self.negation = float(step), negation
        self.step_shape = (per_coordinate,) if per_coordinate else ()
        super().__init__(n_layers, tying, backprop, trainable)

    def param_specs(self) -> dict[str, Param]:
        return {"step": Param(self.step_init, "positive", shape=self.step_shape,
                              doc="gradient step s_t")}

    def init(self, problem: PRProblem) -> LatentState:
        check_prior(problem)
        return LatentState(problem.z_init)

    def step(self, state: LatentState, theta: Theta, problem: PRProblem) -> LatentState:
        return LatentState(dpr_step(problem, state.z, theta.step, self.negation))

    def readout(self, state: LatentState, problem: PRProblem) -> torch.Tensor:
        return best_candidate(problem, state.z)

    @classmethod
    def example(cls, tying: str = "tied") -> tuple[DPR, PRProblem]:
        return cls(n_layers=3, tying=tying, step=0.5).double(), example_problem()


def example_problem(batch: int = 2, n: int = 12, k: int = 3, m: int = 20, restarts: int = 2,
                    seed: int = 0) -> PRProblem:
    """A tiny float64 problem with a random generator and in-range signals (contract tests)."""
    from .generator import Generator
    from .problem import gaussian_matrix, measure

    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    G = Generator(k, (8,), n, "softplus").double()
    for p in G.parameters():
        p.requires_grad_(False)
    z0 = torch.randn(batch, k, generator=g, dtype=torch.float64)
    A = torch.stack([gaussian_matrix(m, n, g) for _ in range(batch)]).double()
    b = measure(G(z0), A)
    z_init = torch.randn(batch, restarts, k, generator=g, dtype=torch.float64)
    return PRProblem(A, b, torch.full((batch,), m), z_init, G)
