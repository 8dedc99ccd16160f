"""The fused UADMM update (learned prox, phase, scaled dual) against the code it replaced
(admm_step's λ arithmetic around modulus, learned prox and phase factor, all through autograd),
kept here as the reference."""

import pytest
import torch

from unfold.nn.apl import apl
from unfold.signal.modulus import modulus, with_phase_of
from unfold.unroller import Theta
from unfold_plugins.admm_pr.gla import EPS
from unfold_plugins.admm_pr.learned_prox import R_FLOOR, learned_admm_update

TOL = {torch.float32: 1e-5, torch.float64: 1e-11}
CDTYPE = {torch.float32: torch.complex64, torch.float64: torch.complex128}
RHO = 1e-3


def old_update(Ax, lam, log_r, theta):
    """admm_step (d = 1) with uadmm's learned prox as they were: returns (synthesis input,
    u ⊙ e^{iθ}); the dual update was λ + ρ (A x_{t+1} − u ⊙ e^{iθ})."""
    scaled_lam = lam * (1 / torch.as_tensor(RHO, dtype=lam.real.dtype))
    h = Ax + scaled_lam
    mag = modulus(h)
    r_term = theta.gamma2 * torch.exp((theta.beta - 1) * log_r)
    u = apl(torch.addcmul(r_term, theta.gamma1, mag), theta.w, theta.b)
    v = with_phase_of(h, u, mag, EPS)
    return v - scaled_lam, v


def _inputs(dtype, pieces=3, shape=(2, 9, 7), seed=0):
    """A x and λ with moduli of h spread over the APL's kinks, r partly below R_FLOOR; drawn in
    float64 and rounded to ``dtype`` (the same values in both precisions)."""
    g = torch.Generator().manual_seed(seed)
    Ax = torch.randn(shape, generator=g, dtype=torch.complex128) * 0.3
    lam = torch.randn(shape, generator=g, dtype=torch.complex128) * 0.2 * RHO
    Ax[0, 0, 0] = lam[0, 0, 0] = 0  # h = 0 in any arithmetic: modulus at its floor
    r = torch.rand(shape, generator=g, dtype=torch.float64)
    r[0, 1, :3] = 1e-8
    log_r = torch.log(r.clamp_min(R_FLOOR))
    params = {
        "gamma1": torch.tensor(0.7, dtype=torch.float64),
        "gamma2": torch.tensor(0.4, dtype=torch.float64),
        "beta": torch.tensor(1.6, dtype=torch.float64),
        "w": -0.3 * torch.rand(pieces, generator=g, dtype=torch.float64) - 0.05,
        "b": torch.linspace(0.2, 0.9, pieces, dtype=torch.float64),
    }
    return (Ax.to(CDTYPE[dtype]), lam.to(CDTYPE[dtype]), log_r.to(dtype),
            {k: v.to(dtype) for k, v in params.items()})


def _leaves(*tensors, params):
    return [t.clone().requires_grad_() for t in tensors], Theta(
        {k: v.clone().requires_grad_() for k, v in params.items()})


def _close(a, b, dtype):
    tol = TOL[dtype]
    torch.testing.assert_close(a, b, rtol=tol, atol=tol * float(b.detach().abs().max()))


@pytest.mark.parametrize("pieces", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equals_old_code_forward_and_every_gradient(dtype, pieces):
    """e_prev = A x − λ/ρ; both e and the next λ/ρ (= A x_{t+1} − e) are compared, with the
    gradients of a loss on both for every input."""
    Ax, lam, log_r, params = _inputs(dtype, pieces)
    g = torch.Generator().manual_seed(1)
    Ax_next = torch.randn(Ax.shape, generator=g, dtype=torch.complex128).to(Ax.dtype)
    ge, gq = (torch.randn(Ax.shape, generator=g, dtype=torch.complex128).to(Ax.dtype)
              for _ in range(2))

    (ax, lm, lr), th = _leaves(Ax, lam, log_r, params=params)
    e = learned_admm_update(ax, ax - lm / RHO, lr, th, EPS)
    q_next = Ax_next - e
    (ax_o, lm_o, lr_o), th_o = _leaves(Ax, lam, log_r, params=params)
    e_old, v_old = old_update(ax_o, lm_o, lr_o, th_o)
    q_next_old = (lm_o + RHO * (Ax_next - v_old)) / RHO
    _close(e, e_old, dtype)
    _close(q_next, q_next_old, dtype)

    def loss(e, q):
        return (torch.view_as_real(e) * torch.view_as_real(ge)).sum() + (
            torch.view_as_real(q) * torch.view_as_real(gq)).sum()

    ours = torch.autograd.grad(loss(e, q_next), [ax, lm, lr, *th.values()])
    ref = torch.autograd.grad(loss(e_old, q_next_old), [ax_o, lm_o, lr_o, *th_o.values()])
    for a, b in zip(ours, ref, strict=True):
        assert a.shape == b.shape
        _close(a, b, dtype)


def test_frame_major_layout_kept():
    """The iterates are transposed views (frame-major); the result keeps that layout."""
    Ax, lam, log_r, params = _inputs(torch.float64, shape=(2, 7, 9))

    def fm(t):
        return t.transpose(1, 2).contiguous().transpose(1, 2)

    e = learned_admm_update(fm(Ax), fm(Ax - lam / RHO), fm(log_r), Theta(params), EPS)
    assert e.stride() == fm(Ax).stride()
    _close(e, old_update(Ax, lam, log_r, Theta(params))[0], torch.float64)


def test_gradcheck_and_gradgradcheck_float64():
    Ax, lam, log_r, params = _inputs(torch.float64, shape=(2, 4, 3))
    Ax[0, 0, 0] = 0.1  # keep away from the modulus floor, where the derivative jumps
    names = list(params)

    def f(Ax, e_prev, log_r, *values):
        return learned_admm_update(Ax, e_prev, log_r, Theta(dict(zip(names, values, strict=True))),
                                   EPS)

    (ax, ep, lr), th = _leaves(Ax, Ax - lam / RHO, log_r, params=params)
    args = (ax, ep, lr, *th.values())
    assert torch.autograd.gradcheck(f, args)
    assert torch.autograd.gradgradcheck(f, args)


def test_only_requested_gradients_are_computed():
    """Frozen parameters and data (no requires_grad): the state's gradients still match."""
    Ax, lam, log_r, params = _inputs(torch.float64)
    (ax, lm), _ = _leaves(Ax, lam, params={})
    e = learned_admm_update(ax, ax - lm / RHO, log_r, Theta(params), EPS)
    ours = torch.autograd.grad(e.abs().sum(), [ax, lm])
    (ax_o, lm_o), _ = _leaves(Ax, lam, params={})
    ref = torch.autograd.grad(old_update(ax_o, lm_o, log_r, Theta(params))[0].abs().sum(),
                              [ax_o, lm_o])
    for a, b in zip(ours, ref, strict=True):
        _close(a, b, torch.float64)
