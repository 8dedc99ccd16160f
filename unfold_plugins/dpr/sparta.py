"""SPARTA (sparse truncated amplitude flow, Wang et al., IEEE TSP 2018) in a 2-D DCT basis.

The image y = Ψ^T v has DCT coefficients v = Ψ y (Ψ orthonormal, ``dct_basis``); the same
measurements read b = |A y| = |B v| with B = A Ψ^T, and SPARTA recovers an s-sparse v:

1. support: the s largest Z_j = Σ_i b_i² B_ij²  (rows a_i ~ N(0, I/m));
2. init on the support S: leading eigenvector of Σ_{i ∈ I} B_{i,S} B_{i,S}^T / ‖B_i‖², over the
   ⌈m/6⌉ rows with the largest b_i/‖B_i‖ (orthogonality-promoting), scaled by sqrt(Σ b_i²);
3. truncated amplitude flow plus hard thresholding H_s (keep the s largest |v_j|):

.. math::

    v_{t+1} = H_s\\Big(v_t - \\frac{μ}{\\|A\\|_2^2} \\sum_{i ∈ \\mathcal I_t}
    \\big(B_i v_t - b_i\\,\\mathrm{sgn}(B_i v_t)\\big) B_i^T\\Big),

    \\mathcal I_t = \\{i : |B_i v_t| ≥ b_i/(1 + γ)\\}

with μ = 1 and γ = 0.7 (the paper's values, rescaled to N(0, 1/m) rows). The step is divided by
‖A‖² = ‖B‖² (≈ 1 for m ≫ n): with the paper's plain μ = 1 the iteration diverges when m is
not much larger than s. Output: y = Ψ^T v, up to a global sign. State: v (batch, n).

The sparsity s is a setting of the model. The dpr recipes choose it on the **valid** split
V_m (the valid problems at m), from a grid S, by the mean per-pixel MSE (``SparsityChoice``):

.. math::

    \\hat s(m) = \\arg\\min_{s ∈ S} \\frac{1}{|V_m|} \\sum_{(A, y_0) ∈ V_m}
    \\mathrm{MSE}\\big(\\mathrm{SPARTA}_s(A, |A y_0|),\\, y_0\\big)

(ties go to the smaller s), never on the test split. (The paper runs a range of s and keeps
the reconstruction with the lowest error to the true test image: an oracle.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from unfold.params import Param
from unfold.unroller import Theta, Unroller

from .dpr import example_problem
from .problem import PRProblem

GAMMA = 0.7


def dct_matrix(size: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Orthonormal DCT-II matrix D (size, size): coefficients c = D x."""
    i = torch.arange(size, dtype=dtype)
    D = torch.cos(math.pi * (i[None, :] + 0.5) * i[:, None] / size) * math.sqrt(2 / size)
    D[0] /= math.sqrt(2)
    return D


def dct_basis(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Ψ (n, n) of the 2-D DCT of a square image flattened row-major: v = Ψ y."""
    side = math.isqrt(n)
    if side * side != n:
        raise ValueError(f"the 2-D DCT basis needs square images; n={n} is not a square")
    D = dct_matrix(side, dtype)
    return torch.kron(D, D)


def hard_threshold(v: torch.Tensor, s: int) -> torch.Tensor:
    """Keep the s largest-magnitude entries of each row of v (batch, n)."""
    idx = v.abs().topk(s, dim=-1).indices
    return torch.zeros_like(v).scatter(-1, idx, v.gather(-1, idx))


def sparse_init(B: torch.Tensor, b: torch.Tensor, m: torch.Tensor, s: int) -> torch.Tensor:
    """Steps 1–2 above: an s-sparse initial v (batch, n)."""
    score = (b.pow(2).unsqueeze(-1) * B.pow(2)).sum(1)
    support = score.topk(s, dim=-1).indices  # (batch, s)
    row_norm = B.norm(dim=-1).clamp_min(1e-12)  # padded rows: b = 0, never selected
    keep = torch.zeros_like(b, dtype=torch.bool)
    for i in range(len(b)):
        top = int(math.ceil(int(m[i]) / 6))
        keep[i, (b[i] / row_norm[i]).topk(top).indices] = True
    BS = B.gather(2, support.unsqueeze(1).expand(-1, B.shape[1], -1)) / row_norm.unsqueeze(-1)
    BS = BS * keep.unsqueeze(-1)
    u = torch.linalg.eigh(BS.transpose(1, 2) @ BS).eigenvectors[..., -1]
    v = torch.zeros(B.shape[0], B.shape[2], dtype=B.dtype, device=B.device)
    return v.scatter(-1, support, b.pow(2).sum(-1, keepdim=True).sqrt() * u)


def sparta_step(B: torch.Tensor, b: torch.Tensor, v: torch.Tensor, mu: torch.Tensor, s: int
                ) -> torch.Tensor:
    Bv = (B @ v.unsqueeze(-1)).squeeze(-1)
    active = (Bv.abs() >= b / (1 + GAMMA)).to(v.dtype)
    r = active * (Bv - b * torch.sign(Bv))
    return hard_threshold(v - mu * (r.unsqueeze(1) @ B).squeeze(1), s)


@dataclass(frozen=True)
class SparsityChoice:
    """A sparse method's s at m measurements (SPARTA's, CoPRAM's): fixed (``valid_mse`` empty) or
    ``best`` of a grid by the mean per-pixel MSE on ``items`` valid problems (ties: the smaller
    s; NaN counts as +inf)."""

    m: int
    s: int
    valid_mse: dict[int, float] = field(default_factory=dict)
    items: int = 0
    method: str = "SPARTA"

    @classmethod
    def best(cls, m: int, valid_mse: dict[int, float], items: int, method: str = "SPARTA"
             ) -> SparsityChoice:
        if not valid_mse:
            raise ValueError("SparsityChoice.best needs at least one candidate s")
        s = min(valid_mse, key=lambda k: (math.inf if math.isnan(valid_mse[k]) else valid_mse[k], k))
        return cls(m, s, dict(valid_mse), items, method)

    def note(self) -> str:
        if not self.valid_mse:
            return f"{self.method} at m = {self.m}: s = {self.s}, fixed by eval.sparsity."
        table = ", ".join(f"s={k}: {v:.4f}" for k, v in sorted(self.valid_mse.items()))
        return (f"{self.method} at m = {self.m}: s = {self.s}, the lowest mean MSE on {self.items} "
                f"valid-split problems over eval.sparsity_grid ({table}).")


@dataclass
class SparseState:
    v: torch.Tensor  # (batch, n) DCT coefficients
    B: torch.Tensor  # (batch, m, n) = A Ψ^T
    scale: torch.Tensor  # (batch, 1) = 1 / ‖A‖²


class SPARTA(Unroller):
    """Sparse truncated amplitude flow in the 2-D DCT basis (classical, ``trainable=False``)."""

    def __init__(self, n_layers: int = 1, tying: str = "tied", backprop=None,
                 trainable: bool = False, sparsity: int = 16, mu: float = 1.0) -> None:
        if not isinstance(sparsity, int) or sparsity < 1:
            raise ValueError(f"SPARTA sparsity s must be an integer >= 1, got {sparsity!r}")
        self.sparsity, self.mu_init = sparsity, float(mu)
        super().__init__(n_layers, tying, backprop, trainable)

    def param_specs(self) -> dict[str, Param]:
        return {"mu": Param(self.mu_init, "positive", doc="truncated-flow step μ")}

    def init(self, problem: PRProblem) -> SparseState:
        if self.sparsity > problem.n:
            raise ValueError(f"SPARTA sparsity s={self.sparsity} exceeds n={problem.n}")
        psi = dct_basis(problem.n, problem.A.dtype).to(problem.A.device)
        B = problem.A @ psi.T
        scale = torch.linalg.matrix_norm(problem.A, ord=2).pow(-2).unsqueeze(-1)
        return SparseState(sparse_init(B, problem.b, problem.m, self.sparsity), B, scale)

    def step(self, state: SparseState, theta: Theta, problem: PRProblem) -> SparseState:
        v = sparta_step(state.B, problem.b, state.v, theta.mu * state.scale, self.sparsity)
        return SparseState(v, state.B, state.scale)

    def readout(self, state: SparseState, problem: PRProblem) -> torch.Tensor:
        psi = dct_basis(problem.n, state.v.dtype).to(state.v.device)
        return state.v @ psi

    @classmethod
    def example(cls, tying: str = "tied") -> tuple[SPARTA, PRProblem]:
        p = example_problem(n=16)
        return cls(n_layers=3, tying=tying, trainable=True, sparsity=4).double(), p
