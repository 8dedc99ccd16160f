"""Thresholded Wirtinger flow (TWF; Cai, Li & Ma, Ann. Statist. 2016) in the 2-D DCT basis.

Sparse phase retrieval from intensities y_i = ⟨a_i, x⟩² with a_i ~ N(0, I). Our rows are
B_i = a_i/√m (B = A Ψ^T, v = Ψ y the DCT coefficients, see :mod:`.sparta`) and b_i = |B_i v|, so
y_i = m b_i² and ⟨a_i, v⟩ = √m B_i v. In the paper's terms, with φ² = (1/m) Σ y_i:

Initialisation (thresholded spectral method, paper §2.2):

.. math::

    \\hat S = \\Big\\{j : \\frac1m \\sum_i y_i a_{ij}^2 > \\big(1 + α\\sqrt{\\log(mn)/m}\\big) φ^2\\Big\\},
    \\qquad v_0 = φ\\, u_1\\Big(\\frac1m \\sum_i y_i a_{i\\hat S} a_{i\\hat S}^T\\Big) \\text{ on } \\hat S

(an empty Ŝ keeps the single largest marginal). Each layer (paper eq. 2.4):

.. math::

    ∇f(v) = \\frac1m \\sum_i (⟨a_i, v⟩^2 - y_i)⟨a_i, v⟩ a_i, \\qquad
    τ(v)^2 = \\frac{β \\log(mn)}{m^2} \\sum_i (⟨a_i, v⟩^2 - y_i)^2 ⟨a_i, v⟩^2,

    v_{t+1} = \\mathcal T_{μ τ(v_t)/φ^2}\\big(v_t - \\frac{μ}{φ^2} ∇f(v_t)\\big)

with soft thresholding 𝒯_λ(x) = sgn(x) max(|x| − λ, 0). α = 1.5, β = 0.3 and μ = 0.23 are the values
of the public CoPRAM benchmark code that the DPR paper's baselines come from; μ is a learnable
``Param`` (positive), α and β are settings. State: v (batch, n). Output Ψ^T v, up to a global sign.
"""

from __future__ import annotations

import math

import torch

from unfold.params import Param
from unfold.unroller import Theta, Unroller

from .dpr import example_problem
from .problem import PRProblem
from .sparta import SparseState, dct_basis

ALPHA, BETA, MU = 1.5, 0.3, 0.23


def soft_threshold(x: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.relu(x.abs() - lam)


def twf_init(B: torch.Tensor, b: torch.Tensor, m: torch.Tensor, alpha: float) -> torch.Tensor:
    """v_0 (batch, n): the spectral estimate on the thresholded support Ŝ."""
    mf = m.to(B.dtype).unsqueeze(-1)  # (batch, 1) true m of each item (rows past it are padding)
    n = B.shape[-1]
    y = mf * b.pow(2)  # intensities with unit-variance rows
    phi2 = y.sum(-1, keepdim=True) / mf
    marg = (y.unsqueeze(-1) * B.pow(2)).sum(1)  # (1/m) Σ y_i a_ij² = Σ y_i B_ij²
    keep = marg > (1 + alpha * torch.sqrt(torch.log(mf * n) / mf)) * phi2
    keep = keep.scatter(-1, marg.argmax(-1, keepdim=True), True)  # never empty
    BS = B * keep.unsqueeze(1).to(B.dtype)
    M = BS.transpose(1, 2) @ (y.unsqueeze(-1) * BS)  # zero outside Ŝ: float32 eigh can fail on it
    u = torch.linalg.eigh(M.double()).eigenvectors[..., -1].to(B.dtype)
    return phi2.sqrt() * u * keep.to(B.dtype)


def twf_step(B: torch.Tensor, b: torch.Tensor, m: torch.Tensor, v: torch.Tensor, mu: torch.Tensor,
             beta: float) -> torch.Tensor:
    """One TWF layer for every item of the batch."""
    mf = m.to(v.dtype).unsqueeze(-1)
    n = B.shape[-1]
    av = mf.sqrt() * (B @ v.unsqueeze(-1)).squeeze(-1)  # ⟨a_i, v⟩
    y = mf * b.pow(2)
    phi2 = y.sum(-1, keepdim=True) / mf
    r = av.pow(2) - y
    grad = ((r * av).unsqueeze(1) @ B).squeeze(1) * mf.sqrt() / mf  # (1/m) Σ r_i ⟨a_i,v⟩ a_i
    tau = torch.sqrt(beta * torch.log(mf * n) / mf.pow(2) * (r.pow(2) * av.pow(2)).sum(-1, keepdim=True))
    return soft_threshold(v - mu / phi2 * grad, mu * tau / phi2)


class TWF(Unroller):
    """Thresholded Wirtinger flow in the 2-D DCT basis (classical, ``trainable=False``)."""

    def __init__(self, n_layers: int = 1, tying: str = "tied", backprop=None,
                 trainable: bool = False, mu: float = MU, alpha: float = ALPHA,
                 beta: float = BETA) -> None:
        for name, value in (("mu", mu), ("alpha", alpha), ("beta", beta)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"TWF {name} must be a finite number > 0, got {value!r}")
        self.mu_init, self.alpha, self.beta = float(mu), float(alpha), float(beta)
        super().__init__(n_layers, tying, backprop, trainable)

    def param_specs(self) -> dict[str, Param]:
        return {"mu": Param(self.mu_init, "positive", doc="gradient step μ")}

    def init(self, problem: PRProblem) -> SparseState:
        B = problem.A @ dct_basis(problem.n, problem.A.dtype).to(problem.A.device).T
        return SparseState(twf_init(B, problem.b, problem.m, self.alpha), B, problem.b.new_ones(1))

    def step(self, state: SparseState, theta: Theta, problem: PRProblem) -> SparseState:
        v = twf_step(state.B, problem.b, problem.m, state.v, theta.mu, self.beta)
        return SparseState(v, state.B, state.scale)

    def readout(self, state: SparseState, problem: PRProblem) -> torch.Tensor:
        return state.v @ dct_basis(problem.n, state.v.dtype).to(state.v.device)

    @classmethod
    def example(cls, tying: str = "tied") -> tuple[TWF, PRProblem]:
        return cls(n_layers=3, tying=tying, trainable=True).double(), example_problem(n=16)
