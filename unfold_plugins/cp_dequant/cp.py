"""Chambolle–Pock for dequantization: the pure iteration, step sizes, gap and a solver.

Problem (14) of Brauer & Lorenz, "Asymptotic analysis and truncated backpropagation for the
unrolled primal-dual algorithm":

.. math::

    \\hat y \\in \\operatorname{argmin}_y \\|K y\\|_1 \\quad \\text{s.t.} \\quad
    \\|y - x\\|_\\infty \\le h = η/2,

i.e. (1) with F = ‖·‖₁ (so F* = indicator of the ℓ∞ unit ball) and G = indicator of the box
‖·‖∞ ≤ h. Algorithm 1 with θ = 1, started at y⁰ = ȳ⁰ = x, ψ⁰ = 0:

.. math::

    ψ^{l+1} = \\operatorname{clip}_{[-1, 1]}(ψ^l + σ K \\bar y^l), \\qquad
    y^{l+1} = x + \\operatorname{clip}_{[-h, h]}(y^l - τ K^⊤ ψ^{l+1} - x), \\qquad
    \\bar y^{l+1} = y^{l+1} + θ (y^{l+1} - y^l).

It converges when στ‖K‖₂² < 1 (Chambolle & Pock 2011). Shapes: x, y, ȳ (batch, n); ψ (batch, k);
K (k, n); h (batch, 1) or a scalar; σ, τ scalars.
"""

from __future__ import annotations

import math

import torch

from unfold_plugins.cp_dequant.dct import Dense, FastDCT, analysis_operator
from unfold_plugins.cp_dequant.dct_layout import DCTLayoutCP

Tensor = torch.Tensor
Operator = Dense | FastDCT


def cp_step(
    y: Tensor, ybar: Tensor, psi: Tensor, x: Tensor, K: Tensor, sigma: Tensor | float,
    tau: Tensor | float, h: Tensor | float, theta: float = 1.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """One iteration of Algorithm 1 with K a matrix ``(k, n)``; returns (y⁺, ȳ⁺, ψ⁺)."""
    return cp_step_op(y, ybar, psi, x, Dense(K), sigma, tau, h, theta)


def cp_step_op(
    y: Tensor, ybar: Tensor, psi: Tensor, x: Tensor, op: Operator, sigma: Tensor | float,
    tau: Tensor | float, h: Tensor | float, theta: float = 1.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """One iteration of Algorithm 1 with K given as an operator (``Dense`` or ``FastDCT``)."""
    sigma, tau = torch.as_tensor(sigma, dtype=y.dtype), torch.as_tensor(tau, dtype=y.dtype)
    psi_new = torch.clamp(torch.addcmul(psi, sigma, op.apply(ybar)), -1.0, 1.0)
    d = torch.addcmul(y - x, tau, op.adjoint(psi_new), value=-1)
    # torch's clamp overloads take min and max both Tensors or both numbers; -h and h are one or the other
    y_new = x + torch.clamp(d, -h, h)  # type: ignore[arg-type]
    return y_new, torch.add(y_new, y_new - y, alpha=theta), psi_new


def dct_matrix(n: int, k: int | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """Orthonormal DCT-II analysis matrix, rows = frequencies: (k, n), k ≤ n (first k rows).

    C[j, i] = c_j cos(π (2i + 1) j / (2n)), c_0 = √(1/n), c_j = √(2/n). For k > n the n DCT
    rows are followed by the first k − n unit rows (an overcomplete frame, ‖C‖₂ = √2).
    """
    k = n if k is None else k
    if n < 1 or k < 1:
        raise ValueError(f"DCT needs n >= 1 and k >= 1, got n={n}, k={k}")
    i = torch.arange(n, dtype=torch.float64)
    j = torch.arange(min(k, n), dtype=torch.float64)[:, None]
    C = torch.cos(math.pi * (2 * i + 1) * j / (2 * n)) * math.sqrt(2.0 / n)
    C[0] /= math.sqrt(2.0)
    if k > n:
        C = torch.cat([C, torch.eye(n, dtype=torch.float64)[: k - n]], dim=0)
    return C.to(dtype)


def spectral_norm(K: Tensor) -> Tensor:
    """‖K‖₂ = √λ_max(K K^⊤) of K (..., k, n), from the smaller Gram matrix (LAPACK symmetric
    eigenvalues; about 1.5× faster than singular values for a batch of untied K)."""
    gram = K @ K.mT if K.shape[-2] <= K.shape[-1] else K.mT @ K
    return torch.linalg.eigvalsh(gram)[..., -1].clamp_min(0).sqrt()


def step_sizes(norm: Tensor, ratio: Tensor | float = 100.0,
               scale: Tensor | float = 0.99) -> tuple[Tensor, Tensor]:
    """σ = c·√r/‖K‖, τ = c/(√r·‖K‖): στ‖K‖² = c² < 1 for c ∈ (0, 1).

    The defaults r = 100, c = 0.99 give the paper's σ = 10·0.99/‖K‖, τ = 0.1·0.99/‖K‖.
    """
    root = torch.as_tensor(ratio).sqrt()
    return scale * root / norm, scale / (root * norm)


def primal_dual_gap(y: Tensor, psi: Tensor, x: Tensor, K: Tensor | Operator,
                    h: Tensor | float) -> Tensor:
    """Gap P(y) − D(ψ) ≥ 0 per item, for feasible y and ‖ψ‖∞ ≤ 1.

    P(y) = ‖Ky‖₁; D(ψ) = −G*(−K^⊤ψ) = ⟨K^⊤ψ, x⟩ − h‖K^⊤ψ‖₁ (the conjugate of the box indicator
    around x is v ↦ ⟨v, x⟩ + h‖v‖₁). K a matrix ``(k, n)`` or an operator.
    """
    op = as_operator(K)
    kt_psi = op.adjoint(psi)
    primal = op.apply(y).abs().sum(-1)
    h_ = torch.as_tensor(h, dtype=y.dtype).reshape(-1)
    dual = (kt_psi * x).sum(-1) - h_ * kt_psi.abs().sum(-1)
    return primal - dual


def objective(y: Tensor, K: Tensor | Operator) -> Tensor:
    """‖Ky‖₁ per item (K a matrix or an operator)."""
    return as_operator(K).apply(y).abs().sum(-1)


def as_operator(K: Tensor | Operator) -> Operator:
    """An operator for K: a matrix becomes :class:`Dense`; an operator is returned as is."""
    return Dense(K) if isinstance(K, Tensor) else K


@torch.no_grad()
def cp_solve(
    x: Tensor, K: Tensor | Operator, h: Tensor | float, max_iter: int = 100_000, tol: float = 1e-6,
    ratio: float = 100.0, scale: float = 0.99, check_every: int = 50,
) -> tuple[Tensor, Tensor, int]:
    """Run Algorithm 1 until every item's relative gap (P − D)/max(P, 1e-12) < tol.

    Returns (y, ψ, iterations used). "Optimality inference" of the paper (which runs 1e5
    iterations; we stop earlier once the certificate says the problem is solved). A matrix K
    that is exactly ``dct_matrix(n, k)`` (the classical method) is applied by FFT
    (:class:`~unfold_plugins.cp_dequant.dct.FastDCT`, O(n log n) per frame; for k = n the
    ``check_every`` iterations between two gap checks run in
    :class:`~unfold_plugins.cp_dequant.dct_layout.DCTLayoutCP`), any other matrix densely; an
    operator is used as given.
    """
    if max_iter < 0 or tol < 0:
        raise ValueError(f"max_iter and tol must be >= 0, got {max_iter}, {tol}")
    op = analysis_operator(K) if isinstance(K, Tensor) else K
    sigma, tau = step_sizes(op.norm().to(x.dtype), ratio, scale)
    y, ybar, psi = x.clone(), x.clone(), x.new_zeros(x.shape[0], op.shape[0])
    h_ = torch.as_tensor(h, dtype=x.dtype).reshape(-1, 1) if torch.is_tensor(h) else h
    layout = DCTLayoutCP(op.n) if isinstance(op, FastDCT) and op.k == op.n else None
    it = 0
    while it < max_iter:
        steps = min(check_every, max_iter - it)
        if layout is not None:  # the DCT (k = n): the iterations in the FFT's layout
            y, ybar, psi = layout.run(x, h_, steps, sigma, tau, start=(y, ybar, psi))
        else:
            for _ in range(steps):
                y, ybar, psi = cp_step_op(y, ybar, psi, x, op, sigma, tau, h_)
        it += steps
        if bool(solved(y, psi, x, op, h_, tol).all()):
            break
    return y, psi, it


def solved(y: Tensor, psi: Tensor, x: Tensor, K: Tensor | Operator, h: Tensor | float,
           tol: float) -> Tensor:
    """Per item: the relative primal-dual gap (P − D)/max(P, 1e-12) is at most ``tol``."""
    return primal_dual_gap(y, psi, x, K, h) <= tol * objective(y, K).clamp_min(1e-12)
