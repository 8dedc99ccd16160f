"""The math of admm-pr against independent references (scipy, brute-force minimisation)."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar
from scipy.special import lambertw as sp_lambertw

from unfold.nn.apl import NegSquare, apl, apl_bar, apl_inverse
from unfold_plugins.admm_pr.lambertw import lambertw, lambertw_exp
from unfold_plugins.admm_pr.prox import PROXES, get_prox


def test_lambertw_matches_scipy_over_wide_range():
    z = np.concatenate([[0.0], np.logspace(-300, 300, 2001), [np.e, 1.0, 2.0]])
    ours = lambertw(torch.tensor(z, dtype=torch.float64)).numpy()
    ref = sp_lambertw(z).real
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-300)


def test_lambertw_from_log_beyond_float_range():
    logz = torch.tensor([800.0, 5000.0, -800.0], dtype=torch.float64)
    w = lambertw_exp(logz)
    # w + log w = log z for the large ones; W(e^-800) = e^-800 to double precision (underflows to 0)
    np.testing.assert_allclose((w[:2] + torch.log(w[:2])).numpy(), logz[:2].numpy(), rtol=1e-14)
    assert w[2] == 0.0


def test_lambertw_gradient_is_the_analytic_one():
    z = torch.tensor([0.1, 1.0, 2.5, 10.0, 1e5], dtype=torch.float64, requires_grad=True)
    w = lambertw(z)
    (g,) = torch.autograd.grad(w.sum(), z)
    ref = w / (z * (1 + w))  # dW/dz
    np.testing.assert_allclose(g.numpy(), ref.detach().numpy(), rtol=1e-10)


def test_lambertw_rejects_negative():
    with pytest.raises(ValueError, match="z >= 0"):
        lambertw(torch.tensor([-0.1]))


def _divergence(name, u, R):
    if name == "quadratic":
        return 0.5 * (u - R) ** 2
    if name == "kl":
        return u * np.log(u / R) - u + R
    return u / R - np.log(u / R) - 1


@pytest.mark.parametrize("name", sorted(PROXES))
@pytest.mark.parametrize("rho", [1e-3, 0.5, 20.0])
def test_prox_is_the_minimiser(name, rho):
    rng = np.random.default_rng(1)
    ys = rng.uniform(0, 5, 6)
    Rs = rng.uniform(0.05, 4, 6)
    ours = get_prox(name)(torch.tensor(ys), torch.tensor(Rs), rho).numpy()
    for y, R, u in zip(ys, Rs, ours, strict=True):
        def obj(v, y=y, R=R):
            return _divergence(name, v, R) / rho + 0.5 * (v - y) ** 2

        res = minimize_scalar(obj,
                              bounds=(1e-9, 50), method="bounded",
                              options={"xatol": 1e-12})
        assert u == pytest.approx(res.x, rel=1e-5, abs=1e-7), (name, rho, y, R)


@pytest.mark.parametrize("name", sorted(PROXES))
def test_prox_fixes_the_measurement(name):
    R = torch.tensor([0.01, 0.3, 2.0], dtype=torch.float64)
    torch.testing.assert_close(get_prox(name)(R, R, 1e-3), R)


def test_prox_unknown_name_lists_allowed():
    with pytest.raises(ValueError, match="quadratic, kl, is"):
        get_prox("huber")


def test_prox_kl_zero_measurement_gives_zero_and_no_nan():
    u = get_prox("kl")(torch.tensor([0.0, 3.0]), torch.tensor([0.0, 0.0]), 1e-3)
    assert torch.isfinite(u).all() and float(u.abs().max()) < 1e-30


def _random_apl(C=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = -(torch.rand(C, generator=g, dtype=torch.float64) * 0.8 + 0.1)
    b = torch.randn(C, generator=g, dtype=torch.float64)
    return w, b


def test_apl_matches_definition_and_is_increasing():
    w, b = _random_apl()
    z = torch.linspace(-4, 4, 2001, dtype=torch.float64)
    ref = np.maximum(z.numpy(), 0) + sum(
        wc * np.maximum(-z.numpy() + bc, 0) for wc, bc in zip(w.numpy(), b.numpy(), strict=True))
    np.testing.assert_allclose(apl(z, w, b).numpy(), ref, rtol=1e-14)
    assert bool((apl(z, w, b).diff() > 0).all())


def test_apl_inverse_and_antiderivative():
    w, b = _random_apl(seed=3)
    z = torch.linspace(-3, 3, 601, dtype=torch.float64, requires_grad=True)
    y = apl(z, w, b)
    torch.testing.assert_close(apl_inverse(y.detach(), w, b), z.detach())
    (g,) = torch.autograd.grad(apl_bar(z, w, b).sum(), z)
    torch.testing.assert_close(g, y.detach())
    # continuity of the antiderivative across every breakpoint
    for bc in b:
        e = torch.tensor([bc - 1e-9, bc + 1e-9], dtype=torch.float64)
        v = apl_bar(e, w, b)
        assert float((v[1] - v[0]).abs()) < 1e-7


def test_negsquare_round_trip_and_sign():
    c = NegSquare()
    v = torch.tensor([-0.25, -1e-4, 0.0])
    torch.testing.assert_close(c.forward(c.inverse(v)), v)
    assert bool((c.forward(torch.randn(50)) <= 0).all())
    with pytest.raises(ValueError, match="<= 0"):
        c.inverse(torch.tensor([0.1]))
