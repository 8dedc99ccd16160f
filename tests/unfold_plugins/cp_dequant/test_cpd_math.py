"""Chambolle–Pock math against independent references (numpy loop, scipy DCT, exact LP)."""

import numpy as np
import pytest
import torch
from scipy.fft import dct
from scipy.optimize import linprog

from unfold_plugins.cp_dequant.cp import (
    cp_solve,
    cp_step,
    dct_matrix,
    objective,
    primal_dual_gap,
    spectral_norm,
    step_sizes,
)
from unfold_plugins.cp_dequant.unroller import ChambollePock, CPProblem


def speechlike(n_items: int, n: int, bits: int = 4, seed: int = 0):
    """Sums of damped sinusoids in (−1, 1), quantised at ``bits`` (midpoint reconstruction)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = np.zeros((n_items, n))
    for i in range(n_items):
        for _ in range(4):
            f, a, ph = rng.uniform(0.01, 0.4), rng.uniform(0.05, 0.3), rng.uniform(0, 6.3)
            y[i] += a * np.sin(f * t + ph)
    y = 0.95 * y / np.abs(y).max(axis=1, keepdims=True)
    eta = 2.0 / 2**bits
    x = -1 + (np.floor((y + 1) / eta) + 0.5) * eta
    return torch.tensor(y), torch.tensor(x), eta / 2


def test_dct_matches_scipy_orthonormal():
    C = dct_matrix(20, dtype=torch.float64).numpy()
    np.testing.assert_allclose(C, dct(np.eye(20), norm="ortho", axis=0), atol=1e-12)
    np.testing.assert_allclose(C @ C.T, np.eye(20), atol=1e-12)


def test_cp_step_matches_numpy_algorithm1():
    _, x, h = speechlike(3, 12)
    g = torch.Generator().manual_seed(1)
    K = torch.randn(9, 12, generator=g, dtype=torch.float64)
    sigma, tau = 0.7, 0.05
    y, yb, psi = x.clone(), x.clone(), torch.zeros(3, 9, dtype=torch.float64)
    Y, YB, P, X, Kn = y.numpy().copy(), yb.numpy().copy(), psi.numpy().copy(), x.numpy(), K.numpy()
    for _ in range(7):
        y, yb, psi = cp_step(y, yb, psi, x, K, sigma, tau, h)
        for i in range(3):  # Algorithm 1, one item at a time, column vectors
            zd = P[i] + sigma * Kn @ YB[i]
            P[i] = np.minimum(1, np.maximum(-1, zd))
            zp = Y[i] - tau * Kn.T @ P[i]
            ynew = np.minimum(h, np.maximum(-h, zp - X[i])) + X[i]
            YB[i], Y[i] = 2 * ynew - Y[i], ynew
    np.testing.assert_allclose(y.numpy(), Y, atol=1e-12)
    np.testing.assert_allclose(yb.numpy(), YB, atol=1e-12)
    np.testing.assert_allclose(psi.numpy(), P, atol=1e-12)


def lp_solution(x: np.ndarray, K: np.ndarray, h: float) -> float:
    """min Σ t s.t. −t ≤ Ky ≤ t, x − h ≤ y ≤ x + h, by HiGHS (exact LP)."""
    k, n = K.shape
    eye = np.eye(k)
    res = linprog(
        np.r_[np.zeros(n), np.ones(k)],
        A_ub=np.block([[K, -eye], [-K, -eye]]), b_ub=np.zeros(2 * k),
        bounds=[(v - h, v + h) for v in x] + [(0, None)] * k, method="highs",
    )
    assert res.status == 0
    return float(res.fun)


@pytest.mark.parametrize("kind", ["dct", "random"])
def test_optimality_inference_matches_exact_lp(kind):
    n = 48
    _, x, h = speechlike(3, n, seed=2)
    if kind == "dct":
        K = dct_matrix(n, dtype=torch.float64)
    else:  # a non-orthogonal, overcomplete operator, as a learned K may be
        K = dct_matrix(n, 60, dtype=torch.float64)
        K = K + 0.05 * torch.randn(60, n, generator=torch.Generator().manual_seed(3), dtype=K.dtype)
    y, psi, it = cp_solve(x, K, h, max_iter=100_000, tol=1e-5)
    assert it < 100_000
    assert bool(((y - x).abs() <= h + 1e-12).all())  # feasible
    ours = objective(y, K).numpy()
    for i in range(3):
        ref = lp_solution(x[i].numpy(), K.numpy(), h)
        assert abs(ours[i] - ref) <= 1e-4 * ref
    assert bool((primal_dual_gap(y, psi, x, K, h) >= -1e-9).all())  # weak duality


def test_step_sizes_satisfy_convergence_condition_after_K_changes():
    model = ChambollePock(3, n=16, tying="untied")
    with torch.no_grad():
        model.raw["K"][1].mul_(7.0).add_(torch.randn(16, 16))
    for t in range(3):
        th = model.theta(t)
        norm = torch.linalg.svdvals(th.K.detach().double())[0]
        assert float(th.sigma * th.tau * norm**2) < 1
        assert float(th.sigma / th.tau) == pytest.approx(100.0, rel=1e-5)
    sigma, tau = step_sizes(torch.tensor(2.0))
    assert float(sigma) == pytest.approx(9.9 / 2) and float(tau) == pytest.approx(0.099 / 2)


def test_spectral_norm_cache_follows_optimizer_updates():
    model = ChambollePock(2, n=8)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    before = float(model.norms()[0])
    model.raw["K"].grad = torch.ones_like(model.raw["K"])
    opt.step()
    after = float(model.norms()[0])
    assert before == pytest.approx(1.0, rel=1e-5)
    assert after == pytest.approx(float(spectral_norm(model.raw["K"][0].detach())), rel=1e-5)
    assert after != pytest.approx(before)


def test_unroller_equals_cp_step_loop():
    _, x, h = speechlike(2, 32, seed=4)
    model = ChambollePock(40, n=32, trainable=False).double()
    prob = CPProblem(x, torch.full((2, 1), h, dtype=torch.float64))
    K = dct_matrix(32, dtype=torch.float64)
    y, yb, psi = x, x, torch.zeros_like(x)
    for _ in range(40):
        y, yb, psi = cp_step(y, yb, psi, x, K, 9.9, 0.099, h)
    np.testing.assert_allclose(model(prob).numpy(), y.numpy(), atol=1e-6)  # K stored in float32
    assert model.n_params() == 0


def test_learned_step_sizes_get_gradients_and_keep_the_condition():
    _, x, h = speechlike(2, 16, seed=6)
    model = ChambollePock(5, n=16, learn_steps=True).double()
    prob = CPProblem(x, torch.full((2, 1), h, dtype=torch.float64))
    ((model(prob) - x) ** 2).sum().backward()
    assert float(model.raw["ratio"].grad.abs().sum()) > 0
    assert float(model.raw["scale"].grad.abs().sum()) > 0
    with torch.no_grad():  # any raw value keeps στ‖K‖² = c² < 1
        model.raw["scale"].fill_(30.0)
        model.raw["ratio"].fill_(-8.0)
    th = model.theta(0)
    assert float(th.sigma * th.tau * model.norms()[0] ** 2) < 1
    assert float(th.sigma / th.tau) == pytest.approx(float(torch.exp(torch.tensor(-8.0))))
