"""The rewritten admm-pr steps (real arithmetic, cached log r, APL without a (..., C) axis)
against the implementations they replaced, kept here as references, over several layers."""

import pytest
import torch

from unfold.nn.apl import apl
from unfold.signal.stft import STFT
from unfold_plugins.admm_pr import ADMM, GLA, UADMM
from unfold_plugins.admm_pr.admm import ADMMState
from unfold_plugins.admm_pr.learned_prox import R_FLOOR
from unfold_plugins.admm_pr.problem import PRProblem, make_problem

EPS = 1e-16


def ref_unit(z):
    return z / (z.abs() + EPS)


def ref_cpow(z, p):
    if p == 1:
        return z
    mag = z.abs()
    return z * (mag.clamp_min(1e-30) ** (p - 1)) * (mag > 0)


def ref_apl(z, w, b):
    return torch.relu(z) + (torch.relu(b - z.unsqueeze(-1)) * w).sum(-1)


def ref_admm_step(s, r, rho, prox, d, problem):
    R = r if d == 1 else r * r
    h = ref_cpow(s.Ax, d) + s.lam / rho
    v = prox(h.abs(), R) * ref_unit(h)
    x = problem.synthesis(ref_cpow(v - s.lam / rho, 1 / d))
    Ax = problem.analysis(x)
    return ADMMState(x, Ax, s.lam + rho * (ref_cpow(Ax, d) - v))


def ref_uadmm_prox(y, r, theta):
    rt = theta.gamma2 * torch.exp((theta.beta - 1) * torch.log(r.clamp_min(R_FLOOR)))
    return ref_apl(theta.gamma1 * y + rt, theta.w, theta.b)


def _problem(dtype):
    g = torch.Generator().manual_seed(1)
    t = torch.arange(2000, dtype=torch.float64) / 8000
    s = torch.sin(2 * torch.pi * 440 * t * (1 + t)) + 0.1 * torch.randn(2, 2000, generator=g,
                                                                        dtype=torch.float64)
    return make_problem(s.to(dtype), STFT(128, 64, "sine"), seed=3)


def _close(a, b, dtype):
    tol = 1e-5 if dtype == torch.float32 else 1e-11
    scale = float(b.abs().max())
    torch.testing.assert_close(a, b, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gla_equals_reference(dtype):
    p = _problem(dtype)
    x = p.synthesis(p.init_spec)
    for _ in range(5):
        x = p.synthesis(p.r * ref_unit(p.analysis(x)))
    _close(GLA(5)(p), x, dtype)


def _ref_admm(dtype, d, layers=5):
    p = _problem(dtype)
    model = ADMM(layers, d=d)
    theta = model.theta(0)
    x = p.synthesis(p.init_spec)
    s = ADMMState(x, p.analysis(x), torch.zeros_like(p.init_spec))
    for _ in range(layers):
        s = ref_admm_step(s, p.r, theta.rho, lambda y, R: model.prox_fn(y, R, theta.rho), d, p)
    with torch.no_grad():
        return model(p), s.x


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_admm_equals_reference(dtype, d):
    ours, ref = _ref_admm(dtype, d)
    if dtype == torch.float64 or d == 1:
        _close(ours, ref, dtype)
    else:  # d = 2 amplifies float32 rounding: be as close to float64 as the old code was
        exact = _ref_admm(torch.float64, d)[1]
        assert (ours.double() - exact).abs().max() <= 2 * (ref.double() - exact).abs().max()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_uadmm_equals_reference_forward_and_gradient(dtype):
    p = _problem(dtype)
    model = UADMM(4, "untied", slope_init=0.3).to(dtype)  # slopes large enough to matter
    out = model(p)
    (g,) = torch.autograd.grad(out.pow(2).sum(), model.raw["beta"])
    x = p.synthesis(p.init_spec)
    s = ADMMState(x, p.analysis(x), torch.zeros_like(p.init_spec))
    for t in range(4):
        theta = model.theta(t)
        s = ref_admm_step(s, p.r, theta.rho, lambda y, R, th=theta: ref_uadmm_prox(y, R, th), 1, p)
    (g_ref,) = torch.autograd.grad(s.x.pow(2).sum(), model.raw["beta"])
    _close(out.detach(), s.x.detach(), dtype)
    _close(g, g_ref, dtype)


@pytest.mark.parametrize("pieces", [1, 3, 5])
def test_apl_equals_reference_with_gradients(pieces):
    g = torch.Generator().manual_seed(pieces)
    z = torch.randn(7, 11, generator=g, dtype=torch.float64, requires_grad=True)
    w = -torch.rand(pieces, generator=g, dtype=torch.float64).requires_grad_()
    b = torch.randn(pieces, generator=g, dtype=torch.float64).requires_grad_()
    ours, ref = apl(z, w, b), ref_apl(z, w, b)
    torch.testing.assert_close(ours, ref, rtol=1e-14, atol=1e-14)
    for a, r in zip(torch.autograd.grad(ours.sum(), (z, w, b)),
                    torch.autograd.grad(ref.sum(), (z, w, b)), strict=True):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-12)


def test_problem_stores_frame_major_and_caches_log_r():
    p = _problem(torch.float32)
    r = p.r.contiguous()  # (batch, freq, frames) row-major, as a user would pass it
    q = PRProblem(r, p.init_spec.contiguous(), p.op, p.length)
    assert q.r.transpose(1, 2).is_contiguous() and q.init_spec.transpose(1, 2).is_contiguous()
    assert torch.equal(q.r, r)
    assert q.log_r(R_FLOOR) is q.log_r(R_FLOOR)
    torch.testing.assert_close(q.log_r(R_FLOOR), torch.log(r.clamp_min(R_FLOOR)))
