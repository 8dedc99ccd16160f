r"""The learned proximity operator of UADMM (Vial et al. 2022, eqs. 18–19) and the ADMM update
(5)–(9) around it, fused into one autograd Function.

With ρ_β = e^{(β−1) log r} (log r floored at ``R_FLOOR``, computed once per problem; the
r-term γ̃² ρ_β is evaluated as e^{log γ̃² + (β−1) log r}, one pass less):

.. math::

    F(y, r) = \mathrm{APL}\big(γ^{(1)} y + \tilde γ^{(2)} ρ_β\big),
    \qquad \mathrm{APL}(z) = (z)_+ + \sum_c w_c (b_c - z)_+                    \quad (18), (19)

**The layer in scaled form.** With q_t = λ_t/ρ and e_t = u_{t+1} ⊙ e^{iθ_{t+1}} − q_t the
input of the synthesis (8), eq. (9) reads q_{t+1} = q_t + A x_{t+1} − u ⊙ e^{iθ} =
A x_{t+1} − e_t, so a layer needs only A x_t and the previous e (λ_0 = 0: e_{−1} = A x_0):

.. math::

    q = A x - e_{prev},\quad h = A x + q                                         \quad (5)

    m = |h|,\quad z = γ^{(1)} m + \tilde γ^{(2)} ρ_β,\quad
    s = \frac{\mathrm{APL}(z)}{m + ε},\quad e = h\, s - q                        \quad (6), (7)

and x_{t+1} = A^+ e (8). ρ drops out: with F in place of the fixed prox nothing else depends on
it (the fixed proxes of ``prox.py`` hold ρ, so :class:`ADMM` keeps λ). |h| is floored at √tiny
as in :func:`unfold.signal.modulus.modulus`.

**Backward.** Written as modulus, prox, phase factor and the λ/ρ arithmetic (the reference,
:func:`learned_admm_update_reference`), autograd ran, per layer and with the STFT's, 28
complex and 49 real operations over full-size ``(batch, freq, frames)`` arrays (forward and
backward; a complex × real product first copies the real operand to complex, and z·z̄ copies
the conjugate); with this Function and its hand-written backward, 15 and 36. PyTorch's
convention for complex tensors, G = ∂L/∂Re e + i ∂L/∂Im e; p = Re(\bar h G):

.. math::

    ∂_u = \frac{p}{m + ε},\quad
    ∂_z = ∂_u \big(1_{z > 0} - \sum_c w_c 1_{z < b_c}\big),\quad
    ∂_m = γ^{(1)} ∂_z - s\, ∂_u

    ∂_h = G\, s + h\, \frac{∂_m}{m},\qquad
    ∂_{e_{prev}} = G - ∂_h,\qquad ∂_{Ax} = ∂_h - ∂_{e_{prev}} = 2 ∂_h - G

    ∂_{γ^{(1)}} = \sum ∂_z m,\quad ∂_{\tilde γ^{(2)}} = \sum ∂_z ρ_β,\quad
    ∂_β = \tilde γ^{(2)} \sum ∂_z ρ_β \log r,\quad ∂_{\log r} = (β - 1) \tilde γ^{(2)} ∂_z ρ_β

    ∂_{w_c} = \sum ∂_u (b_c - z)_+,\qquad ∂_{b_c} = w_c \sum ∂_u 1_{z < b_c}

(sums over all elements; the indicator derivatives are those of ``torch.relu``, 0 at the
kinks). A second derivative (``create_graph=True``) goes through the reference instead.
Shapes: A x, e ``(batch, freq, frames)`` complex, log r the same shape real, γ¹, γ̃², β 0-d,
w and b ``(C,)``.
"""

from __future__ import annotations

import torch

from unfold.nn.apl import apl
from unfold.signal.modulus import modulus
from unfold.unroller import Theta

Tensor = torch.Tensor
R_FLOOR = 1e-6


def r_term(r: Tensor, theta: Theta, log_r: Tensor | None = None) -> Tensor:
    """γ̃² r^{β−1} (the paper's γ² r^{β−1}/(β−1)); r floored at ``R_FLOOR``. ``log_r``:
    log max(r, R_FLOOR) when already computed (``PRProblem.log_r``, once per problem)."""
    if log_r is None:
        log_r = torch.log(r.clamp_min(R_FLOOR))
    return theta.gamma2 * torch.exp((theta.beta - 1) * log_r)


def learned_prox(y: Tensor, r: Tensor, theta: Theta, log_r: Tensor | None = None) -> Tensor:
    """F(y, r) of eq. (19) with the parameters of one layer (``log_r`` as in :func:`r_term`)."""
    return apl(torch.addcmul(r_term(r, theta, log_r), theta.gamma1, y), theta.w, theta.b)


def apl_tolerance(w: Tensor, b: Tensor) -> float:
    """Bound on |F − prox_quad| at initialisation: Σ_c |w_c| max(b_c, 0)."""
    return float((w.abs() * b.clamp_min(0)).sum().detach())


def learned_admm_update(Ax: Tensor, e_prev: Tensor, log_r: Tensor, theta: Theta,
                        eps: float) -> Tensor:
    """e = F(|h|, r) h / (|h| + ε) − q with q = A x − e_prev, h = A x + q (module doc)."""
    return _LearnedADMMUpdate.apply(Ax, e_prev, log_r, theta.gamma1, theta.gamma2, theta.beta,
                                    theta.w, theta.b, eps)


def learned_admm_update_reference(Ax: Tensor, e_prev: Tensor, log_r: Tensor, gamma1: Tensor,
                                  gamma2: Tensor, beta: Tensor, w: Tensor, b: Tensor,
                                  eps: float) -> Tensor:
    """The same map composed of differentiable pieces (autograd's backward, any order)."""
    q = Ax - e_prev
    h = Ax + q
    m = modulus(h)
    z = torch.addcmul(gamma2 * torch.exp((beta - 1) * log_r), gamma1, m)
    return h * (apl(z, w, b) / (m + eps)) - q


def _re_conj_product(a: Tensor, b: Tensor) -> Tensor:
    """Re(ā b) = Re a Re b + Im a Im b, real: one product of the real views and one sum of their
    planes (a complex product would first copy the conjugate, ~1.5x the time on CPU)."""
    prod = torch.view_as_real(a) * torch.view_as_real(b)
    return torch.add(prod[..., 0], prod[..., 1])


def _sum_of_product(a: Tensor, b: Tensor) -> Tensor:
    return torch.mul(a, b).sum()


class _LearnedADMMUpdate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, Ax: Tensor, e_prev: Tensor, log_r: Tensor,  # type: ignore[override]
                gamma1: Tensor, gamma2: Tensor, beta: Tensor, w: Tensor, b: Tensor,
                eps: float) -> Tensor:
        tiny = torch.finfo(log_r.dtype).tiny
        q = Ax - e_prev  # λ/ρ
        h = Ax + q
        m = _re_conj_product(h, h).clamp_min_(tiny).sqrt_()
        gamma2_rho = torch.addcmul(torch.log(gamma2), log_r, beta - 1).exp_()  # γ̃² ρ_β
        z = torch.addcmul(gamma2_rho, gamma1, m)
        s = torch.relu(z)
        hinges = []
        for c in range(w.shape[0]):
            hinge = torch.sub(b[c], z).relu_()  # (b_c − z)_+
            s.addcmul_(hinge, w[c])
            hinges.append(hinge)
        denom = m + eps
        s.div_(denom)  # s = APL(z) / (m + ε)
        s_c = s.to(h.dtype)  # once: complex × real would convert s here and again in backward
        ctx.eps = eps
        ctx.save_for_backward(Ax, e_prev, log_r, gamma1, gamma2, beta, w, b, h, m, denom, s, s_c,
                              z, gamma2_rho, *hinges)
        return (h * s_c).sub_(q)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (Ax, e_prev, log_r, gamma1, gamma2, beta, w, b, h, m, denom, s, s_c, z, gamma2_rho,
         *hinges) = ctx.saved_tensors
        needs = ctx.needs_input_grad
        if torch.is_grad_enabled():  # create_graph: differentiate the reference, twice if asked
            inputs = (Ax, e_prev, log_r, gamma1, gamma2, beta, w, b)
            wanted = [x for x, n in zip(inputs, needs, strict=False) if n]
            e = learned_admm_update_reference(*inputs, ctx.eps)
            got = iter(torch.autograd.grad(e, wanted, grad, create_graph=True, allow_unused=True))
            return (*(next(got) if n else None for n in needs[:8]), None)
        g_u = _re_conj_product(h, grad).div_(denom)  # ∂_u = Re(h̄ G) / (m + ε)
        g_z = torch.ops.aten.threshold_backward(g_u, z, 0)  # ∂_u 1[z > 0]
        g_w, g_b = [], []
        for c, hinge in enumerate(hinges):
            inside = torch.ops.aten.threshold_backward(g_u, hinge, 0)  # ∂_u 1[z < b_c]
            g_z.addcmul_(inside, -w[c])
            if needs[6]:
                g_w.append(_sum_of_product(g_u, hinge))
            if needs[7]:
                g_b.append(w[c] * inside.sum())
        g_m = torch.mul(g_z, gamma1).addcmul_(g_u, s, value=-1)  # γ¹ ∂_z − s ∂_u
        g_h = (h * g_m.div_(m)).addcmul_(grad, s_c)  # h ∂_m / m + G s
        g_prev = grad - g_h
        g_Ax = g_h.sub_(g_prev)  # 2 ∂_h − G
        g_log_r = g_gamma2 = g_beta = None
        if needs[2] or needs[4] or needs[5]:
            g_r = torch.mul(g_z, gamma2_rho)  # ∂_z γ̃² ρ_β
            if needs[2]:
                g_log_r = g_r * (beta - 1)
            if needs[4]:
                g_gamma2 = (g_r.sum() / gamma2).reshape(gamma2.shape)
            if needs[5]:
                g_beta = _sum_of_product(g_r, log_r).reshape(beta.shape)
        return (
            g_Ax,
            g_prev,
            g_log_r,
            _sum_of_product(g_z, m).reshape(gamma1.shape) if needs[3] else None,
            g_gamma2,
            g_beta,
            torch.stack(g_w).reshape(w.shape) if needs[6] else None,
            torch.stack(g_b).reshape(b.shape) if needs[7] else None,
            None,
        )
