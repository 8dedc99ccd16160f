"""CoPRAM (compressive phase retrieval with alternating minimisation, Jagatap & Hegde, NeurIPS 2017)
in the 2-D DCT basis, as a classical unroller.

The measurements b = |A y| = |B v| with B = A Ψ^T and v = Ψ y the DCT coefficients (see
:mod:`.sparta`). Rows of A are N(0, I/m), so B_i = a_i / √m for the paper's a_i ~ N(0, I) and
b_i = |⟨a_i, x⟩| / √m: the paper's ``CoSaMP(A/√m, P y/√m, s, x_t)`` reads CoSaMP(B, P b, s, v_t) here.

Initialisation (the paper's Algorithm 1, lines 1–5):

.. math::

    φ^2 = \\sum_i b_i^2, \\qquad M_j = \\sum_i b_i^2 B_{ij}^2, \\qquad
    \\hat S = \\text{the } s \\text{ largest } M_j,

    v_0 = φ\\, u_1\\Big(\\sum_i b_i^2 B_{i\\hat S} B_{i\\hat S}^T\\Big) \\text{ on } \\hat S

(u_1: the leading eigenvector; all m rows, as in the paper). Each layer (lines 6–9):

.. math::

    p = \\mathrm{sgn}(B v_t), \\qquad v_{t+1} = \\mathrm{CoSaMP}(B, p ∘ b, s, v_t)

where CoSaMP (Needell & Tropp 2009) runs ``cosamp_iterations`` rounds from v_t (the authors'
code runs 10, leaving early once ‖Δv‖ < 10⁻²‖v‖; an item that left early is frozen here):

.. math::

    Ω = \\text{supp}_{2s}\\big(B^T (u - B w)\\big) ∪ \\text{supp}(w), \\qquad
    w ← H_s\\big(\\arg\\min_{\\mathrm{supp}\\, z ⊆ Ω} \\|u - B z\\|_2\\big).

The least squares on Ω is solved in a batch over a fixed 3s columns with those outside Ω zeroed,
by the minimum-norm least-squares solution (:func:`min_norm_lstsq`): it puts 0 on a zeroed column
(set exactly after the solve), and it stays defined when |Ω| > m (small m), where the authors'
MATLAB backslash warns of rank deficiency and returns a basic solution instead. State: v (batch, n).
Output: Ψ^T v, up to a global sign.
"""

from __future__ import annotations

import torch

from unfold.unroller import Theta, Unroller

from .dpr import example_problem
from .problem import PRProblem
from .sparta import SparseState, dct_basis, hard_threshold

EARLY_EXIT = 1e-2


def copram_init(B: torch.Tensor, b: torch.Tensor, s: int) -> torch.Tensor:
    """v_0 (batch, n): s-sparse spectral initialisation from the top-s marginals."""
    b2 = b.pow(2)
    support = (b2.unsqueeze(-1) * B.pow(2)).sum(1).topk(s, dim=-1).indices  # (batch, s)
    BS = B.gather(2, support.unsqueeze(1).expand(-1, B.shape[1], -1))  # (batch, m, s)
    M = BS.transpose(1, 2) @ (b2.unsqueeze(-1) * BS)
    u = torch.linalg.eigh(M).eigenvectors[..., -1]
    phi = b2.sum(-1, keepdim=True).sqrt()
    return torch.zeros(B.shape[0], B.shape[2], dtype=B.dtype, device=B.device).scatter(
        -1, support, phi * u)


def min_norm_lstsq(A: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """The minimum-norm least-squares solution A⁺ rhs of a batch, A (batch, m, k), rhs
    (batch, m, 1) → (batch, k, 1). On the CPU by LAPACK's complete orthogonal factorisation
    (``gelsy``, rank-revealing QR): 3–4× faster than forming the pseudo-inverse by an SVD, equal to
    it within float rounding, rank-deficient A included. CUDA's ``lstsq`` has no rank-revealing
    driver, so other devices keep the pseudo-inverse."""
    if A.device.type == "cpu":
        return torch.linalg.lstsq(A, rhs, driver="gelsy").solution
    return torch.linalg.pinv(A) @ rhs


def cosamp_round(B: torch.Tensor, u: torch.Tensor, w: torch.Tensor, s: int) -> torch.Tensor:
    """One CoSaMP iteration for every item: w (batch, n) → the next s-sparse w."""
    n = B.shape[-1]
    proxy = ((u - (B @ w.unsqueeze(-1)).squeeze(-1)).unsqueeze(1) @ B).squeeze(1).abs()
    k = min(3 * s, n)
    omega = torch.zeros_like(w, dtype=torch.bool)
    omega.scatter_(-1, proxy.topk(min(2 * s, n), dim=-1).indices, True)
    omega |= w != 0
    # the ≤ 3s members of Ω first: they outrank every column outside it
    cols = (omega.to(w.dtype) * (proxy.max() + 1) + proxy).topk(k, dim=-1).indices  # (batch, k)
    inside = omega.gather(-1, cols).to(w.dtype)  # (batch, k): 0 marks a padding column
    BO = B.gather(2, cols.unsqueeze(1).expand(-1, B.shape[1], -1)) * inside.unsqueeze(1)
    z = min_norm_lstsq(BO, u.unsqueeze(-1)).squeeze(-1) * inside
    return hard_threshold(torch.zeros_like(w).scatter(-1, cols, z), s)


def cosamp(B: torch.Tensor, u: torch.Tensor, w: torch.Tensor, s: int, rounds: int) -> torch.Tensor:
    """``rounds`` CoSaMP iterations from w, an item leaving once ‖Δw‖ < 10⁻²‖w‖."""
    done = torch.zeros(w.shape[0], dtype=torch.bool, device=w.device)
    for _ in range(rounds):
        new = cosamp_round(B, u, w, s)
        new = torch.where(done.unsqueeze(-1), w, new)
        done |= (new - w).norm(dim=-1) < EARLY_EXIT * new.norm(dim=-1)
        w = new
        if bool(done.all()):
            break
    return w


class CoPRAM(Unroller):
    """CoPRAM in the 2-D DCT basis (classical: it has no parameters to learn, so it is a baseline
    of the dpr task and not a registered unroller — the contract tests need one)."""

    def __init__(self, n_layers: int = 1, tying: str = "tied", backprop=None,
                 trainable: bool = False, sparsity: int = 16, cosamp_iterations: int = 10) -> None:
        if not isinstance(sparsity, int) or sparsity < 1:
            raise ValueError(f"CoPRAM sparsity s must be an integer >= 1, got {sparsity!r}")
        if not isinstance(cosamp_iterations, int) or cosamp_iterations < 1:
            raise ValueError(f"CoPRAM cosamp_iterations must be an integer >= 1, got {cosamp_iterations!r}")
        self.sparsity, self.cosamp_iterations = sparsity, cosamp_iterations
        super().__init__(n_layers, tying, backprop, trainable)

    def init(self, problem: PRProblem) -> SparseState:
        if self.sparsity > problem.n:
            raise ValueError(f"CoPRAM sparsity s={self.sparsity} exceeds n={problem.n}")
        B = problem.A @ dct_basis(problem.n, problem.A.dtype).to(problem.A.device).T
        return SparseState(copram_init(B, problem.b, self.sparsity), B, problem.b.new_ones(1))

    def step(self, state: SparseState, theta: Theta, problem: PRProblem) -> SparseState:
        u = torch.sign((state.B @ state.v.unsqueeze(-1)).squeeze(-1)) * problem.b
        v = cosamp(state.B, u, state.v, self.sparsity, self.cosamp_iterations)
        return SparseState(v, state.B, state.scale)

    def readout(self, state: SparseState, problem: PRProblem) -> torch.Tensor:
        return state.v @ dct_basis(problem.n, state.v.dtype).to(state.v.device)

    @classmethod
    def example(cls, tying: str = "tied") -> tuple[CoPRAM, PRProblem]:
        return cls(n_layers=3, tying=tying, sparsity=4, cosamp_iterations=2).double(), example_problem(n=16)
