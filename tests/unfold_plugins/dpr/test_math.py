"""The objective, its gradients, and the solvers against independent references."""

import dataclasses

import numpy as np
import pytest
import scipy.fft
import torch

from unfold_plugins.dpr.amplitude_flow import AmplitudeFlow, spectral_init
from unfold_plugins.dpr.dpr import DPR, best_candidate, example_problem, negation_check
from unfold_plugins.dpr.dpr_adam import DPRAdam
from unfold_plugins.dpr.generator import Generator
from unfold_plugins.dpr.metrics import mse, resolve_sign, ssim
from unfold_plugins.dpr.objective import amplitude_grad, latent_grad, latent_loss
from unfold_plugins.dpr.problem import PRProblem, collate, gaussian_matrix, measure
from unfold_plugins.dpr.sparta import SPARTA, dct_basis, hard_threshold

D = torch.float64


def test_gaussian_matrix_scaling_and_errors():
    g = torch.Generator().manual_seed(0)
    A = gaussian_matrix(4000, 50, g)
    assert abs(A.var().item() * 4000 - 1) < 0.02
    y = torch.randn(50, generator=g)
    assert abs((A @ y).norm() / y.norm() - 1) < 0.05  # E‖Ay‖² = ‖y‖²
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="m must be an integer >= 1"):
            gaussian_matrix(bad, 5)


def test_nan_measurements_and_k_above_n_are_rejected():
    p = example_problem()
    with pytest.raises(ValueError, match="NaN"):
        dataclasses.replace(p, b=p.b.clone().index_fill_(1, torch.tensor([0]), float("nan")))
    with pytest.raises(ValueError, match="NaN"):
        measure(torch.tensor([1.0, float("nan")]), torch.eye(2))
    with pytest.raises(ValueError, match="exceeds the signal dimension"):
        dataclasses.replace(p, z_init=torch.zeros(2, 1, 13, dtype=D))
    with pytest.raises(ValueError, match="latent dimension"):
        Generator(13, (8,), 12)


def test_amplitude_grad_matches_autograd():
    g = torch.Generator().manual_seed(1)
    A, y = torch.randn(3, 7, 5, generator=g, dtype=D), torch.randn(3, 2, 5, generator=g, dtype=D)
    b = torch.rand(3, 7, generator=g, dtype=D)
    y.requires_grad_(True)
    f = 0.5 * ((y @ A.transpose(1, 2)).abs() - b[:, None]).pow(2).sum()
    (ref,) = torch.autograd.grad(f, y)
    torch.testing.assert_close(amplitude_grad(A, b, y.detach()), ref)


def test_latent_grad_linear_generator_closed_form():
    """G(z) = W z: ∇f(z) = W^T A^T (A W z − b ⊙ sgn(A W z)), written out with numpy."""
    g = torch.Generator().manual_seed(2)
    W, A = torch.randn(6, 3, generator=g, dtype=D), torch.randn(1, 9, 6, generator=g, dtype=D)
    b, z = torch.rand(1, 9, generator=g, dtype=D), torch.randn(1, 1, 3, generator=g, dtype=D)
    G = torch.nn.Linear(3, 6, bias=False).double()
    G.weight.data = W
    Wn, An, bn, zn = W.numpy(), A[0].numpy(), b[0].numpy(), z[0, 0].numpy()
    r = An @ Wn @ zn
    ref = Wn.T @ An.T @ (r - bn * np.sign(r))
    np.testing.assert_allclose(latent_grad(G, A, b, z)[0, 0].numpy(), ref, rtol=1e-12)


def test_latent_grad_is_differentiable_for_training():
    """With z in a graph, ∇f keeps its graph: gradcheck of z ↦ ∇f(z) (second derivatives)."""
    p = example_problem()
    z = p.z_init.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: latent_grad(p.G, p.A, p.b, z), (z,), eps=1e-6,
                                    atol=1e-5)
    with torch.no_grad():  # evaluation: no graph, same value
        torch.testing.assert_close(latent_grad(p.G, p.A, p.b, z), latent_grad(p.G, p.A, p.b, z))
        assert not latent_grad(p.G, p.A, p.b, z).requires_grad
    z2 = z.detach().requires_grad_(True)
    f = latent_loss(p.G, p.A, p.b, z2).sum()
    torch.testing.assert_close(latent_grad(p.G, p.A, p.b, z2), torch.autograd.grad(f, z2)[0])


@pytest.mark.parametrize("cls", [DPR, DPRAdam])
def test_one_unrolled_layer_gradcheck_in_step_size(cls):
    model, p = cls.example("untied")
    state = model.step(model.init(p), model.theta(0), p)
    raw = model.raw[next(iter(model.raw))][1].detach().clone().requires_grad_(True)
    name = next(iter(model.raw))

    def layer(r):
        theta = model.theta(1)
        theta[name] = model.constraints[name].forward(r)
        return model.step(state, theta, p).z

    assert torch.autograd.gradcheck(layer, (raw,), eps=1e-6, atol=1e-6)


def test_negation_check_flips_only_when_negation_fits_better():
    p = example_problem(restarts=1)
    z0 = p.z_init  # measurements come from other codes; build b from -z0 instead
    p = dataclasses.replace(p, b=measure(p.G(-z0[:, 0]), p.A))
    flipped = negation_check(p, z0)
    torch.testing.assert_close(flipped, -z0)
    torch.testing.assert_close(negation_check(p, -z0), -z0)


def test_readout_picks_lowest_measurement_loss_not_closest_to_truth():
    p = example_problem(restarts=3)
    y = best_candidate(p, p.z_init)
    f = latent_loss(p.G, p.A, p.b, p.z_init)
    idx = f.argmin(1)
    torch.testing.assert_close(y, p.G(p.z_init)[torch.arange(2), idx])


def test_dpr_recovers_signals_in_range():
    g = torch.Generator().manual_seed(3)
    p = example_problem(batch=3, n=12, k=2, m=48, restarts=3, seed=3)
    for layer in p.G.layers:  # a generator whose outputs vary strongly with z
        layer.weight.mul_(3)
    z0 = torch.randn(3, 2, generator=g, dtype=D)
    p = dataclasses.replace(p, b=measure(p.G(z0), p.A))
    y0 = p.G(z0)
    start = mse(best_candidate(p, p.z_init), y0)
    for model, iters in ((DPRAdam(lr=0.05).double(), 800),
                         (DPR(1, trainable=False, step=1.0).double(), 800)):
        err = mse(model(p, n_iter=iters), y0)
        assert (err < 1e-8 * start).all(), (err, start)


def test_amplitude_flow_exact_at_many_measurements():
    g = torch.Generator().manual_seed(4)
    y0 = torch.randn(2, 10, generator=g, dtype=D)
    A = torch.stack([gaussian_matrix(120, 10, g) for _ in range(2)]).double()
    p = PRProblem(A, measure(y0, A), torch.tensor([120, 120]), torch.zeros(2, 1, 1, dtype=D))
    x0 = spectral_init(A, p.b)
    assert (mse(x0, y0) < 0.5 * y0.pow(2).mean(-1)).all()  # correlated with y0 from the start
    x = AmplitudeFlow().double()(p, n_iter=300)
    assert mse(x, y0).max() < 1e-16


def test_dct_basis_matches_scipy_and_sparta_recovers_sparse_images():
    x = torch.randn(3, 16, dtype=D)
    ref = scipy.fft.dctn(x.reshape(3, 4, 4).numpy(), axes=(1, 2), norm="ortho").reshape(3, 16)
    np.testing.assert_allclose((x @ dct_basis(16).T).numpy(), ref, atol=1e-12)
    torch.testing.assert_close(hard_threshold(torch.tensor([[3.0, -5, 1, 4]]), 2),
                               torch.tensor([[0.0, -5, 0, 4]]))
    g = torch.Generator().manual_seed(5)
    v = torch.zeros(2, 64, dtype=D)
    v[:, :3] = torch.tensor([[3.0, -2.0, 1.5], [2.5, 2.0, -1.8]], dtype=D)
    y0 = v @ dct_basis(64)  # images with 3 DCT coefficients
    A = torch.stack([gaussian_matrix(100, 64, g) for _ in range(2)]).double()
    p = PRProblem(A, measure(y0, A), torch.tensor([100, 100]), torch.zeros(2, 1, 1, dtype=D))
    assert mse(SPARTA(sparsity=3).double()(p, n_iter=200), y0).max() < 1e-12


def test_zero_padding_of_measurements_changes_nothing():
    p = example_problem()
    items = [{"A": p.A[0], "b": p.b[0], "m": p.m[0], "z_init": p.z_init[0], "y0": p.b[0, :3]},
             {"A": p.A[1, :15], "b": p.b[1, :15], "m": torch.tensor(15), "z_init": p.z_init[1],
              "y0": p.b[1, :3]}]
    batch = collate(items)
    assert batch["A"].shape == (2, 20, 12) and (batch["A"][1, 15:] == 0).all()
    padded = PRProblem(batch["A"], batch["b"], batch["m"], batch["z_init"], p.G)
    single = PRProblem(p.A[1:, :15], p.b[1:, :15], torch.tensor([15]), p.z_init[1:], p.G)
    model = DPRAdam(lr=0.05).double()
    torch.testing.assert_close(model(padded, n_iter=20)[1:], model(single, n_iter=20))


def test_metrics_resolve_the_global_sign_only():
    y = torch.rand(4, 64)
    assert mse(-y, y).max() == 0 and torch.allclose(ssim(-y, y, (8, 8)), torch.ones(4))
    x = y.clone()
    x[:, :32] *= -1  # a partial sign flip is an error, not an ambiguity
    assert (mse(x, y) > 0).all() and (ssim(x, y, (8, 8)) < 0.9).all()
    torch.testing.assert_close(resolve_sign(-y + 0.01, y), y - 0.01)


def test_classical_dpr_adam_equals_torch_adam_on_f():
    """Independent reference: torch.optim.Adam on Σ f(z) over the ±z_1 candidates."""
    p = example_problem(restarts=2)
    model = DPRAdam(lr=0.05).double()
    z = torch.cat([p.z_init, -p.z_init], 1).clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=model.value("lr").item())  # 0.05 up to float32 storage
    for _ in range(20):
        opt.zero_grad()
        latent_loss(p.G, p.A, p.b, z).sum().backward()
        opt.step()
    state = model.run(p, n_iter=20)
    torch.testing.assert_close(state.z, z.detach(), rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(model(p, n_iter=20), best_candidate(p, z.detach()))
