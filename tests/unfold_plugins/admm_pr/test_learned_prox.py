"""The fused learned prox-and-phase step of UADMM against the composition it replaced (modulus,
learned prox, phase factor, all through autograd), kept here as the reference."""

import pytest
import torch

from unfold.nn.apl import apl
from unfold.signal.modulus import modulus, with_phase_of
from unfold.unroller import Theta
from unfold_plugins.admm_pr.gla import EPS
from unfold_plugins.admm_pr.learned_prox import R_FLOOR, learned_prox_phase

TOL = {torch.float32: 1e-5, torch.float64: 1e-11}
CDTYPE = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def old_prox_phase(h, log_r, theta):
    """The code before the fusion: r_term, learned_prox and with_phase_of of uadmm/admm.py."""
    r_term = theta.gamma2 * torch.exp((theta.beta - 1) * log_r)
    mag = modulus(h)
    u = apl(torch.addcmul(r_term, theta.gamma1, mag), theta.w, theta.b)
    return with_phase_of(h, u, mag, EPS)


def _inputs(dtype, pieces=3, shape=(2, 9, 7), seed=0):
    """h with moduli spread over the APL's kinks, magnitudes r with some below R_FLOOR."""
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(shape, generator=g, dtype=CDTYPE[dtype]) * 0.5
    h[0, 0, 0] = 0  # modulus at its floor
    r = torch.rand(shape, generator=g, dtype=dtype)
    r[0, 1, :3] = 1e-8
    log_r = torch.log(r.clamp_min(R_FLOOR))
    params = {
        "gamma1": torch.tensor(0.7, dtype=dtype),
        "gamma2": torch.tensor(0.4, dtype=dtype),
        "beta": torch.tensor(1.6, dtype=dtype),
        "w": -0.3 * torch.rand(pieces, generator=g, dtype=dtype) - 0.05,
        "b": torch.linspace(0.2, 0.9, pieces, dtype=dtype),
    }
    return h, log_r, params


def _leaves(h, log_r, params):
    h = h.clone().requires_grad_()
    log_r = log_r.clone().requires_grad_()
    theta = Theta({k: v.clone().requires_grad_() for k, v in params.items()})
    return h, log_r, theta


def _close(a, b, dtype):
    tol = TOL[dtype]
    torch.testing.assert_close(a, b, rtol=tol, atol=tol * float(b.detach().abs().max()))


@pytest.mark.parametrize("pieces", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equals_old_code_forward_and_every_gradient(dtype, pieces):
    h, log_r, params = _inputs(dtype, pieces)
    ours_in, ref_in = _leaves(h, log_r, params), _leaves(h, log_r, params)
    ours = learned_prox_phase(ours_in[0], ours_in[1], ours_in[2], EPS)
    ref = old_prox_phase(*ref_in)
    _close(ours, ref, dtype)
    gv = torch.randn(h.shape, generator=torch.Generator().manual_seed(1), dtype=h.dtype)
    leaves_ours = [ours_in[0], ours_in[1], *ours_in[2].values()]
    leaves_ref = [ref_in[0], ref_in[1], *ref_in[2].values()]
    for a, b in zip(torch.autograd.grad(ours, leaves_ours, gv),
                    torch.autograd.grad(ref, leaves_ref, gv), strict=True):
        assert a.shape == b.shape
        _close(a, b, dtype)


def test_frame_major_layout_kept_and_gradients_equal():
    """The iterates are transposed views (frame-major); results must not depend on layout."""
    h, log_r, params = _inputs(torch.float64, shape=(2, 7, 9))
    h_t, log_r_t = h.transpose(1, 2).contiguous().transpose(1, 2), log_r.transpose(1, 2)
    hv, lv, th = _leaves(h_t, log_r_t.contiguous().transpose(1, 2), params)
    out = learned_prox_phase(hv, lv, th, EPS)
    assert out.stride() == h_t.stride()
    ref_in = _leaves(h, log_r, params)
    ref = old_prox_phase(*ref_in)
    _close(out, ref, torch.float64)
    gv = torch.ones_like(out)
    for a, b in zip(torch.autograd.grad(out, [hv, *th.values()], gv),
                    torch.autograd.grad(ref, [ref_in[0], *ref_in[2].values()], gv), strict=True):
        _close(a, b, torch.float64)


def test_gradcheck_and_gradgradcheck_float64():
    h, log_r, params = _inputs(torch.float64, shape=(2, 4, 3))
    names = list(params)

    def f(h, log_r, *values):
        return learned_prox_phase(h, log_r, Theta(dict(zip(names, values, strict=True))), EPS)

    h[0, 0, 0] = 0.3  # keep away from the modulus floor, where the derivative jumps
    args = _leaves(h, log_r, params)
    flat = (args[0], args[1], *args[2].values())
    assert torch.autograd.gradcheck(f, flat)
    assert torch.autograd.gradgradcheck(f, flat)


def test_only_requested_gradients_are_computed():
    h, log_r, params = _inputs(torch.float64)
    hv = h.clone().requires_grad_()
    out = learned_prox_phase(hv, log_r, Theta(params), EPS)
    (g,) = torch.autograd.grad(out.abs().sum(), hv)
    ref_h = h.clone().requires_grad_()
    (g_ref,) = torch.autograd.grad(old_prox_phase(ref_h, log_r, Theta(params)).abs().sum(), ref_h)
    _close(g, g_ref, torch.float64)
