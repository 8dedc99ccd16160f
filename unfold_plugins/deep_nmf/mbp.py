"""Multiplicative back-propagation for the untied bases of deep NMF (paper eqs. 38–42).

The loss is the squared error of the speech estimate (eq. 37 with β2 = 2, γ = (1, 0)),
E = Σ (S̃ − S)², whose gradient splits as [∂E/∂S̃]_+ = 2 S̃ and [∂E/∂S̃]_- = 2 S. Positive and
negative parts travel down the layers by eqs. 39–42: with J = J_+ − J_- the natural split of
a layer's Jacobian into its positive and negative terms,

.. math::

    δ^k_+ = J_+^T δ^{k+1}_+ + J_-^T δ^{k+1}_-, \\qquad δ^k_- = J_-^T δ^{k+1}_+ + J_+^T δ^{k+1}_-,

so δ_+ − δ_- is the exact gradient. For the KL update h' = h ∘ a / b with v = W h,
a = W^T (m / v), b = W^T 1 + μ:

.. math::

    J_+ = \\mathrm{diag}(a / b), \\qquad
    J_- = \\mathrm{diag}(h / b)\\, W^T \\mathrm{diag}(m / v^2)\\, W,

and for the bases, ∂h'/∂W has the positive term (h/b)(m/v) and the negative terms
(h/b) W (m/v²) h and h a / b². Each untied W^k is then updated by eq. 38,
W^k ← W^k ∘ ([∇E]_- / [∇E]_+)^η, i.e. raw^k += η log([∇E]_- / [∇E]_+) for W = exp(raw).
"""

from __future__ import annotations

import torch

from unfold_plugins.deep_nmf.deep_nmf import DeepNMF, NMFProblem, NMFState
from unfold_plugins.deep_nmf.snmf import EPS

Tensor = torch.Tensor
Split = tuple[Tensor, Tensor]


def _outer(a: Tensor, b: Tensor) -> Tensor:
    """Σ over batch and frames of a b^T: ``(B, F, N), (B, R, N) -> (F, R)``."""
    return torch.einsum("bfn,brn->fr", a, b)


def output_backward(m: Tensor, w: Tensor, h: Tensor, s: Tensor, n_speech: int
                    ) -> tuple[Split, Split]:
    """(δh_+, δh_-), (G_+, G_-) of E = Σ(S̃ − S)² at the Wiener output with bases w (F, R)."""
    v = (w @ h).clamp_min(EPS)
    est = (w[:, :n_speech] @ h[:, :n_speech]) / v * m
    ep, en = 2 * est, 2 * s
    sp = slice(0, n_speech)
    a, b, c, d = ep * m / v, en * m / v, ep * est / v, en * est / v
    dh_p, dh_n = w.T @ d, w.T @ c
    dh_p[:, sp] += w[:, sp].T @ a
    dh_n[:, sp] += w[:, sp].T @ b
    g_p, g_n = _outer(d, h), _outer(c, h)
    g_p[:, sp] += _outer(a, h[:, sp])
    g_n[:, sp] += _outer(b, h[:, sp])
    return (dh_p, dh_n), (g_p, g_n)


def layer_backward(m: Tensor, w: Tensor, h: Tensor, mu: float, delta: Split
                   ) -> tuple[Split, Split]:
    """Eqs. 39–42 through one KL update with single-frame bases w (F, R) applied to h."""
    dp, dn = delta
    v = (w @ h).clamp_min(EPS)
    q, m_v2 = m / v, m / v**2
    a = w.T @ q
    b = (w.sum(0) + mu)[:, None]
    r = h / b
    wrp, wrn = w @ (r * dp), w @ (r * dn)
    dh_p = a / b * dp + w.T @ (m_v2 * wrn)
    dh_n = w.T @ (m_v2 * wrp) + a / b * dn
    col_p = torch.einsum("brn->r", dn * h * a / b**2)
    col_n = torch.einsum("brn->r", dp * h * a / b**2)
    g_p = _outer(q, r * dp) + _outer(m_v2 * wrn, h) + col_p
    g_n = _outer(q, r * dn) + _outer(m_v2 * wrp, h) + col_n
    return (dh_p, dh_n), (g_p, g_n)


@torch.no_grad()
def split_gradients(model: DeepNMF, p: NMFProblem, s: Tensor, state: NMFState | None = None,
                    start: int = 0) -> dict[int, Split]:
    """{raw group index: ([∇E]_+, [∇E]_-)} for every untied bases matrix of ``model``.

    ``state``: the state after the first ``start`` layers (a cached prefix), else init.
    """
    k = model.n_layers
    state = model.init(p) if state is None else state
    inputs: dict[int, NMFState] = {start: state}  # the input of every layer from ``start``

    def record(t: int, out: NMFState) -> None:
        inputs[t + 1] = out

    state = model.run(p, state=state, start=start, callback=record)
    grads: dict[int, Split] = {}
    if not model.is_untied(k - 1):
        return grads

    def add(t: int, g: Split) -> None:
        gi = model.tying.group(t, k)
        old = grads.get(gi)
        grads[gi] = g if old is None else (old[0] + g[0], old[1] + g[1])

    delta, g = output_backward(p.m, state.w, state.h, s, model.n_speech)
    add(k - 1, g)
    for t in sorted((t for t in inputs if max(start, 1) <= t < k), reverse=True):
        if not model.is_untied(t - 1):
            break
        delta, g = layer_backward(p.m, inputs[t].w, inputs[t].h, model.mu, delta)
        add(t - 1, g)
    return grads


@torch.no_grad()
def mbp_step(model: DeepNMF, p: NMFProblem, s: Tensor, eta: float = 1.0,
             state: NMFState | None = None, start: int = 0) -> None:
    """One multiplicative update (eq. 38) of every untied W^k (from a cached prefix if given)."""
    for gi, (g_p, g_n) in split_gradients(model, p, s, state, start).items():
        model.raw["W"][gi] += eta * (torch.log(g_n + EPS) - torch.log(g_p + EPS))


class MBP(torch.optim.Optimizer):
    """Eq. 38 as an optimiser for the engine: ``step()`` applies one multiplicative update of the
    untied bases on the batch stashed by ``DeepNMFTask.loss`` (gradients are ignored); the
    exponent η is the group's ``lr``, so learning-rate schedules apply to it."""

    def __init__(self, model: DeepNMF, eta: float = 1.0) -> None:
        super().__init__([model.raw["W"]], {"lr": eta})
        self.model = model
        self.batch: tuple[NMFProblem, Tensor] | None = None

    @torch.no_grad()
    def step(self, closure=None):
        if self.batch is not None:
            p, s = self.batch
            mbp_step(self.model, p, s, self.param_groups[0]["lr"])
            self.batch = None
