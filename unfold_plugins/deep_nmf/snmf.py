"""Sparse NMF (SNMF) with the β-divergence, L1 sparsity and column-normalised bases.

Objective (paper eqs. 32 and 43), for a non-negative data matrix V ``(F, N)``, bases W
``(F, R)`` and activations H ``(R, N)``:

.. math::

    J(W, H) = D_β(V \\mid \\widetilde W H) + μ \\lVert H \\rVert_1, \\qquad
    \\widetilde w_r = w_r / \\lVert w_r \\rVert_2,

    D_β(v \\mid \\hat v) = \\sum \\frac{v^β + (β - 1)\\hat v^β - β v \\hat v^{β-1}}{β(β - 1)}
    \\quad (β = 1: \\text{generalised KL}, \\ β = 2: \\tfrac12 \\text{squared error}).

H update (eq. 33; majorisation–minimisation, so J never increases for β ∈ [1, 2]), Λ = W̃H:

.. math::

    H \\leftarrow H \\circ
    \\frac{\\widetilde W^T (V \\circ Λ^{β-2})}{\\widetilde W^T Λ^{β-1} + μ}

W update (Le Roux, Weninger & Hershey 2015, "Sparse NMF – half-baked or well done?"): the
gradient of J through the normalisation, split into its positive part P and negative part N,

.. math::

    P = Λ^{β-1} H^T + \\widetilde W \\circ (1 1^T (\\widetilde W \\circ (V \\circ Λ^{β-2}) H^T)),
    \\quad
    N = (V \\circ Λ^{β-2}) H^T + \\widetilde W \\circ (1 1^T (\\widetilde W \\circ Λ^{β-1} H^T)),

    W \\leftarrow \\widetilde W \\circ (N / P)^{η}, \\quad \\text{then normalise columns}.

This update is a heuristic (no monotonicity proof), but (N/P)^η points downhill, so we keep
η = 1 when J does not increase and halve η otherwise (``safeguard``, at most 10 halvings, else
W is left unchanged): the returned objective trace never increases.
With ``normalize=False`` and μ = 0 the updates are the classical Lee–Seung / Févotte–Idier MU,
W first and then H in each iteration, as scikit-learn's ``NMF(solver="mu")``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from unfold.errors import InputDataError
from unfold_plugins.deep_nmf.backend import Backend, default_backend

Tensor = torch.Tensor
EPS = 1e-12


def beta_divergence(v: Tensor, vhat: Tensor, beta: float) -> Tensor:
    """D_β(v | v̂) summed over all entries; v̂ is floored at EPS, 0·log 0 = 0."""
    vhat = vhat.clamp_min(EPS)
    if beta == 1:
        return (torch.xlogy(v, v / vhat) - v + vhat).sum()
    if beta == 0:
        v = v.clamp_min(EPS)
        return (v / vhat - torch.log(v / vhat) - 1).sum()
    return ((v**beta + (beta - 1) * vhat**beta - beta * v * vhat ** (beta - 1))
            / (beta * (beta - 1))).sum()


def normalize_columns(w: Tensor) -> Tensor:
    """W̃: each column of ``(..., F, R)`` scaled to unit L2 norm."""
    return w / w.norm(dim=-2, keepdim=True).clamp_min(EPS)


def objective(v: Tensor, w: Tensor, h: Tensor, beta: float, mu: float,
              normalize: bool = True) -> Tensor:
    """J(W, H) = D_β(V | W̃H) + μ‖H‖₁ (W̃ = W when ``normalize`` is False)."""
    wt = normalize_columns(w) if normalize else w
    return beta_divergence(v, wt @ h, beta) + mu * h.sum()


def update_h(v: Tensor, wt: Tensor, h: Tensor, beta: float, mu: float) -> Tensor:
    """One MU step for H (eq. 33) with the bases ``wt`` used as given: ``(..., R, N)``."""
    lam = (wt @ h).clamp_min(EPS)
    if beta == 1:  # W̃^T Λ^0 = column sums of W̃
        num = wt.transpose(-1, -2) @ (v / lam)
        den = wt.sum(-2).unsqueeze(-1) + mu
    else:
        num = wt.transpose(-1, -2) @ (v * lam ** (beta - 2))
        den = wt.transpose(-1, -2) @ lam ** (beta - 1) + mu
    return h * num / den.clamp_min(EPS)


@torch.no_grad()
def kl_h_updates(v: Tensor, w: Tensor, n_iter: int, mu: float, h: Tensor | None = None,
                 backend: Backend | None = None) -> Tensor:
    """``n_iter`` H steps of eq. 33 with β = 1 and fixed bases, for inference (no graph).

    Equal to ``n_iter`` calls of :func:`update_h` within float rounding, with what does not
    change hoisted out of the loop and every large array written in place:

    .. math::

        Λ = \\max(W H, ε), \\quad R = V / Λ, \\quad H \\leftarrow H \\circ (W D^{-1})^T R,
        \\qquad D = \\operatorname{diag}(\\max(W^T 1 + μ, ε))\\ \\text{(computed once)}.

    Per step and item this is two GEMMs (``W H`` and ``Wᵀ R``, F·R·N multiply-adds each) and
    the elementwise passes, in buffers reused by every step. They run frames-major, on Vᵀ
    ``(N, F)`` and Hᵀ ``(N, R)`` (one transposed copy per item), as scikit-learn's MU solver
    does. The columns of H are independent, so a backend may run the frames in ``workers``
    blocks at once (numpy's: one Python thread per block, each with a single-threaded BLAS;
    numpy releases the GIL in its products and ufuncs). Started from H⁰ = 1 (``h=None``, the
    deep NMF init) the first Λ is the row sums of W for every frame, so the first step needs no
    ``W H`` product.

    Args:
        v: data ``(batch, F, N)``, ≥ 0.
        w: bases ``(F, R)``.
        h: activations ``(batch, R, N)`` to start from (not modified); None: H⁰ = 1.
        backend: the library that runs the loop (:mod:`~unfold_plugins.deep_nmf.backend`);
            default :func:`~unfold_plugins.deep_nmf.backend.default_backend` of ``v``.
    Returns:
        H after ``n_iter`` steps ``(batch, R, N)``.
    """
    b, f, n = v.shape
    r = w.shape[1]
    w = w.to(v.dtype).contiguous()
    w_den = w / (w.sum(0) + mu).clamp_min(EPS)  # W D⁻¹ (F, R): eq. 33's denominator folded in
    out = v.new_empty(b, r, n)
    if n_iter == 0:
        return out.fill_(1.0) if h is None else out.copy_(h)
    run = default_backend(v) if backend is None else backend
    vt, ratio = v.new_empty(n, f), v.new_empty(n, f)
    ht, num = v.new_empty(n, r), v.new_empty(n, r)

    def frames(a: int, z: int) -> None:  # the steps on frames a … z − 1 (columns are independent)
        for step in range(n_iter):
            if step or h is not None:
                run.mm(ht[a:z], w.T, ratio[a:z])  # Λᵀ = Hᵀ Wᵀ
            run.ratio(vt[a:z], ratio[a:z], EPS)  # Rᵀ = Vᵀ / max(Λᵀ, ε)
            run.mm(ratio[a:z], w_den, num[a:z])  # ((W D⁻¹)ᵀ R)ᵀ = Rᵀ W D⁻¹
            run.scale(ht[a:z], num[a:z])

    with run.threads() as workers:
        bounds = [n * k // workers for k in range(workers + 1)]
        for i in range(b):
            vt.copy_(v[i].T)
            if h is None:  # H⁰ = 1: Λ = W 1 1ᵀ, the same row sums for every frame
                ht.fill_(1.0)
                ratio.copy_(w.sum(1).expand(n, f))
            else:
                ht.copy_(h[i].T)
            if workers == 1:
                frames(0, n)
            else:
                with ThreadPoolExecutor(workers) as pool:
                    list(pool.map(frames, bounds[:-1], bounds[1:]))
            out[i].copy_(ht.T)
    return out


def _w_ratio(v: Tensor, w: Tensor, h: Tensor, beta: float, normalize: bool) -> Tensor:
    wt = normalize_columns(w) if normalize else w
    lam = (wt @ h).clamp_min(EPS)
    if beta == 1:  # Λ^0 H^T = row sums of H, the same for every f
        pos = h.sum(1).expand(v.shape[0], -1)
        neg = (v / lam) @ h.T
    else:
        pos = lam ** (beta - 1) @ h.T
        neg = (v * lam ** (beta - 2)) @ h.T
    if normalize:
        pos, neg = (pos + wt * (wt * neg).sum(0, keepdim=True),
                    neg + wt * (wt * pos).sum(0, keepdim=True))
    return neg / pos.clamp_min(EPS)


def update_w(v: Tensor, w: Tensor, h: Tensor, beta: float, mu: float, normalize: bool = True,
             safeguard: bool = True, before: float | None = None) -> Tensor:
    """One (safeguarded) MU step for W; returns W̃ (normalised) or W.

    ``before``: J(W, H) if already known (saves one evaluation).
    """
    ratio = _w_ratio(v, w, h, beta, normalize)
    base = normalize_columns(w) if normalize else w
    if not safeguard:
        new = base * ratio
        return normalize_columns(new) if normalize else new
    if before is None:
        before = float(objective(v, w, h, beta, mu, normalize))
    eta = 1.0
    for _ in range(11):
        new = base * ratio**eta
        new = normalize_columns(new) if normalize else new
        if float(objective(v, new, h, beta, mu, normalize)) <= before:
            return new
        eta /= 2
    return base


@dataclass
class SNMFResult:
    w: Tensor  # (F, R), column-normalised when normalize=True
    h: Tensor  # (R, N)
    objective: list[float]  # J after each iteration, starting with the initial value


def snmf(v: Tensor, w0: Tensor, h0: Tensor, n_iter: int, beta: float = 1.0, mu: float = 5.0,
         normalize: bool = True, safeguard: bool = True) -> SNMFResult:
    """Alternate W and H updates (W first, as scikit-learn) for ``n_iter`` iterations.

    Args:
        v: data ``(F, N)``, non-negative.
        w0, h0: initial bases ``(F, R)`` and activations ``(R, N)``, positive.
    """
    if v.dim() != 2 or w0.shape[0] != v.shape[0] or h0.shape != (w0.shape[1], v.shape[1]):
        raise ValueError(f"shapes must be V (F, N), W (F, R), H (R, N); got {tuple(v.shape)}, "
                         f"{tuple(w0.shape)}, {tuple(h0.shape)}")
    if bool((v < 0).any()) or bool((w0 <= 0).any()) or bool((h0 <= 0).any()):
        raise ValueError("V must be >= 0 and the initial W, H > 0")
    w = normalize_columns(w0) if normalize else w0
    h = h0
    trace = [float(objective(v, w, h, beta, mu, normalize))]
    for _ in range(n_iter):
        w = update_w(v, w, h, beta, mu, normalize, safeguard, before=trace[-1])
        h = update_h(v, w, h, beta, mu)
        trace.append(float(objective(v, w, h, beta, mu, normalize)))
    return SNMFResult(w, h, trace)


def exemplar_init(v: Tensor, rank: int, generator: torch.Generator | None = None,
                  floor: float = 1e-3) -> Tensor:
    """Initial bases ``(F, rank)``: random columns of V (exemplars), normalised, floored > 0.

    Columns are drawn among the frames with above-median energy, so silence is not picked.
    """
    energy = v.sum(0)
    candidates = torch.nonzero((energy >= energy.median()) & (energy > 0)).flatten()
    if candidates.numel() < rank:
        raise InputDataError(f"need at least {rank} non-silent frames for exemplar init, got "
                             f"{candidates.numel()}; give more training data or lower the rank")
    pick = candidates[torch.randperm(candidates.numel(), generator=generator)[:rank]]
    w = normalize_columns(v[:, pick])
    return normalize_columns(w + floor * w.max())
