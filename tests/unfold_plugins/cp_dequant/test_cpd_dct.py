"""The FFT-based DCT operator against the dense matrix it replaces for the classical method."""

import pytest
import torch

from unfold_plugins.cp_dequant.cp import cp_solve, cp_step, dct_matrix, spectral_norm, step_sizes
from unfold_plugins.cp_dequant.dct import Dense, FastDCT, analysis_operator
from unfold_plugins.cp_dequant.unroller import ChambollePock, CPProblem

SIZES = [(8, 8), (7, 7), (320, 320), (9, 5), (320, 200), (8, 12), (5, 9), (6, 12)]
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("n", "k"), SIZES)
def test_fast_dct_equals_the_dense_matrix(n, k, dtype):
    g = torch.Generator().manual_seed(n * 100 + k)
    op, K = FastDCT(n, k), dct_matrix(n, k, dtype)
    y = torch.randn(5, n, generator=g, dtype=dtype)
    psi = torch.randn(5, k, generator=g, dtype=dtype)
    tol = TOL[dtype]
    torch.testing.assert_close(op.apply(y), y @ K.T, rtol=tol, atol=tol)
    torch.testing.assert_close(op.adjoint(psi), psi @ K, rtol=tol, atol=tol)
    # adjointness <Ky, psi> = <y, K^T psi>
    torch.testing.assert_close((op.apply(y) * psi).sum(-1), (y * op.adjoint(psi)).sum(-1),
                               rtol=tol, atol=tol)
    torch.testing.assert_close(op.norm().to(dtype), torch.linalg.matrix_norm(K, 2), rtol=tol,
                               atol=tol)


def test_fast_dct_rejects_bad_sizes():
    with pytest.raises(ValueError, match="1 <= k <= 2n"):
        FastDCT(4, 9)


def test_analysis_operator_picks_fft_only_for_the_exact_dct():
    K = dct_matrix(16)
    assert isinstance(analysis_operator(K), FastDCT)
    assert isinstance(analysis_operator(dct_matrix(16, 24, torch.float64)), FastDCT)
    learned = K + 1e-3 * torch.randn(16, 16)
    assert isinstance(analysis_operator(learned), Dense)
    assert isinstance(analysis_operator(K.clone().requires_grad_()), Dense)
    assert isinstance(analysis_operator(K[:, :8]), Dense)


def test_cp_solve_with_the_fast_dct_equals_the_dense_path():
    g = torch.Generator().manual_seed(0)
    n = 32
    clean = torch.cumsum(torch.randn(6, n, generator=g, dtype=torch.float64), -1) * 0.05
    x = torch.round(clean / 0.1) * 0.1
    K = dct_matrix(n, dtype=torch.float64)
    y_fast, _, it_fast = cp_solve(x, K, 0.05, max_iter=3000, tol=1e-8)
    y_dense, _, it_dense = cp_solve(x, Dense(K), 0.05, max_iter=3000, tol=1e-8)
    torch.testing.assert_close(y_fast, y_dense, rtol=1e-7, atol=1e-7)


def _dense_unrolled(model, problem):
    """The unrolled iteration written with the dense matrix (the code path before the FFT)."""
    K = model.theta(0).K.detach()
    sigma, tau = step_sizes(spectral_norm(K), 100.0, 0.99)
    y, ybar, psi = problem.x, problem.x, problem.x.new_zeros(problem.x.shape[0], K.shape[0])
    for _ in range(model.n_layers):
        y, ybar, psi = cp_step(y, ybar, psi, problem.x, K, sigma, tau, problem.h)
    return y, ybar, psi


@pytest.mark.parametrize(("n", "k"), [(320, 320), (64, 48), (40, 64)])
def test_unrolled_inference_with_the_fixed_dct_runs_by_fft_and_equals_the_dense_path(n, k):
    g = torch.Generator().manual_seed(1)
    clean = torch.cumsum(torch.randn(16, n, generator=g), -1) * 0.02
    x = (torch.round(clean / 0.125 - 0.5) + 0.5) * 0.125
    problem = CPProblem(x, torch.full((16, 1), 0.0625))
    model = ChambollePock(60, n=n, k=k, trainable=False)
    with torch.no_grad():
        fast = model(problem)
    assert isinstance(model.operator(model.theta(0).K), FastDCT)
    torch.testing.assert_close(fast, _dense_unrolled(model, problem)[0], rtol=0, atol=1e-5)


def test_learned_or_training_k_keeps_the_dense_product():
    g = torch.Generator().manual_seed(2)
    learned = ChambollePock(3, n=16, K_init=dct_matrix(16) + 0.01 * torch.randn(16, 16, generator=g))
    with torch.no_grad():
        assert isinstance(learned.operator(learned.theta(0).K), Dense)
    training = ChambollePock(3, n=16)  # starts at the DCT, K trainable
    assert isinstance(training.operator(training.theta(0).K), Dense)
    with torch.no_grad():  # the same model evaluated while K is still the DCT
        assert isinstance(training.operator(training.theta(0).K), FastDCT)
        training.raw["K"].add_(1e-3)  # a training step changes K: dense from then on
        assert isinstance(training.operator(training.theta(0).K), Dense)


@pytest.mark.parametrize("n", [320, 9])
def test_unrolled_forward_in_the_fft_layout_equals_the_dense_path(n):
    """The forward pass with the fixed DCT runs in Makhoul's layout (``DCTLayoutCP``): the same
    y as the dense layer-by-layer iteration to 1e-5, also past the trained depth."""
    g = torch.Generator().manual_seed(3)
    clean = torch.cumsum(torch.randn(12, n, generator=g), -1) * 0.02
    x = (torch.round(clean / 0.125 - 0.5) + 0.5) * 0.125
    problem = CPProblem(x, torch.full((12, 1), 0.0625))
    model = ChambollePock(80, n=n, trainable=False)
    with torch.no_grad():
        fast, longer = model(problem), model(problem, 120)
    assert model._layout is not None
    torch.testing.assert_close(fast, _dense_unrolled(model, problem)[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(longer, _dense_unrolled(ChambollePock(120, n=n), problem)[0],
                               rtol=0, atol=1e-5)
    theta = model.theta(0)
    state = model._layout.run(problem.x, problem.h, 80, theta.sigma, theta.tau)
    for got, want in zip(state, _dense_unrolled(model, problem), strict=True):  # y, ȳ, ψ
        torch.testing.assert_close(got, want, rtol=0, atol=1e-4)
    layer_by_layer = model.readout(model.run(problem), problem)
    torch.testing.assert_close(fast, layer_by_layer, rtol=0, atol=1e-5)
