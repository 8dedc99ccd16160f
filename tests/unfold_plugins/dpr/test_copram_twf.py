"""CoPRAM and thresholded Wirtinger flow: the sparse phase-retrieval baselines of the DPR paper."""

import pytest
import torch

from unfold_plugins.dpr.copram import CoPRAM, cosamp, cosamp_round, min_norm_lstsq
from unfold_plugins.dpr.problem import PRProblem, gaussian_matrix, measure
from unfold_plugins.dpr.sparta import dct_basis
from unfold_plugins.dpr.twf import TWF, twf_init


def sparse_problem(m: int, n: int = 64, s: int = 4, batch: int = 3, seed: int = 0):
    """Signals y0 = Ψ^T v0 with s-sparse DCT coefficients v0; b = |A y0|, A rows N(0, I/m)."""
    g = torch.Generator().manual_seed(seed)
    v0 = torch.zeros(batch, n, dtype=torch.float64)
    for i in range(batch):
        idx = torch.randperm(n, generator=g)[:s]
        v0[i, idx] = torch.randn(s, generator=g, dtype=torch.float64).sign() * (
            1 + torch.rand(s, generator=g, dtype=torch.float64))
    y0 = v0 @ dct_basis(n)
    A = torch.stack([gaussian_matrix(m, n, g) for _ in range(batch)]).double()
    p = PRProblem(A, measure(y0, A), torch.full((batch,), m), torch.zeros(batch, 1, 1))
    return p, y0


def sign_free_error(x: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
    return torch.minimum((x - y0).norm(dim=-1), (x + y0).norm(dim=-1)) / y0.norm(dim=-1)


def test_cosamp_recovers_a_sparse_vector_from_linear_measurements():
    g = torch.Generator().manual_seed(1)
    B = torch.randn(2, 40, 64, generator=g, dtype=torch.float64) / 40 ** 0.5
    w0 = torch.zeros(2, 64, dtype=torch.float64)
    w0[0, [3, 17, 40]] = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    w0[1, [0, 63, 9]] = torch.tensor([-1.0, 1.5, 2.0], dtype=torch.float64)
    u = (B @ w0.unsqueeze(-1)).squeeze(-1)
    w = cosamp(B, u, torch.zeros_like(w0), 3, rounds=10)
    torch.testing.assert_close(w, w0, atol=1e-10, rtol=0)


@pytest.mark.parametrize("m, k", [(40, 12), (10, 12)])
def test_min_norm_lstsq_is_the_pseudo_inverse_with_zeroed_columns_and_fewer_rows(m, k):
    g = torch.Generator().manual_seed(2)
    A = torch.randn(3, m, k, generator=g, dtype=torch.float64)
    A[:, :, -3:] = 0  # padding columns, as cosamp_round zeroes those outside Ω
    rhs = torch.randn(3, m, 1, generator=g, dtype=torch.float64)
    z = min_norm_lstsq(A, rhs)
    torch.testing.assert_close(z, torch.linalg.pinv(A) @ rhs, atol=1e-10, rtol=0)
    assert z[:, -3:].abs().max() < 1e-12


def test_cosamp_round_keeps_s_entries_and_fits_on_its_support():
    g = torch.Generator().manual_seed(2)
    B = torch.randn(1, 30, 20, generator=g, dtype=torch.float64)
    u = torch.randn(1, 30, generator=g, dtype=torch.float64)
    w = cosamp_round(B, u, torch.zeros(1, 20, dtype=torch.float64), 2)
    assert int((w != 0).sum()) == 2


def test_copram_recovers_sparse_signals_up_to_sign():
    p, y0 = sparse_problem(m=160)
    with torch.no_grad():
        x = CoPRAM(sparsity=4)(p, n_iter=20)
    assert (sign_free_error(x, y0) < 1e-8).all()


def test_twf_initial_support_holds_the_largest_marginal_and_scales_to_the_signal():
    p, y0 = sparse_problem(m=400)
    B = p.A @ dct_basis(64).T
    v = twf_init(B, p.b, p.m, 1.5)
    assert ((v != 0).sum(-1) >= 1).all()
    torch.testing.assert_close(v.norm(dim=-1), p.b.pow(2).sum(-1).sqrt())


def test_twf_reduces_the_error_of_its_initialisation_at_large_m():
    p, y0 = sparse_problem(m=400)
    model = TWF()
    with torch.no_grad():
        start = sign_free_error(model(p, n_iter=0), y0)
        end = sign_free_error(model(p, n_iter=300), y0)
    assert (end < 0.1).all() and (end < start).all()


def test_padding_rows_change_nothing():
    p, _ = sparse_problem(m=100, batch=2)
    pad = PRProblem(torch.cat([p.A, p.A.new_zeros(2, 30, 64)], 1),
                    torch.cat([p.b, p.b.new_zeros(2, 30)], 1), p.m, p.z_init)
    for model in (CoPRAM(sparsity=4), TWF()):
        with torch.no_grad():
            torch.testing.assert_close(model(pad, n_iter=5), model(p, n_iter=5))


@pytest.mark.parametrize("kwargs", [{"sparsity": 0}, {"cosamp_iterations": 0}])
def test_copram_refuses_bad_settings(kwargs):
    with pytest.raises(ValueError, match="CoPRAM"):
        CoPRAM(**kwargs)


def test_twf_refuses_bad_settings():
    with pytest.raises(ValueError, match="TWF beta must be a finite number > 0"):
        TWF(beta=float("nan"))


def test_oracle_restart_is_never_worse_than_the_measurement_loss_choice():
    from unfold.task import Method
    from unfold_plugins.dpr.dpr import example_problem
    from unfold_plugins.dpr.dpr_adam import DPRAdam
    from unfold_plugins.dpr.oracle import OracleRestarts, pick_oracle

    p = example_problem(batch=3, restarts=4)
    torch.manual_seed(0)
    y0 = p.G(torch.randn(3, p.z_init.shape[-1], dtype=torch.float64))  # a target off the codes
    adam = DPRAdam(lr=0.1).double()
    with torch.no_grad():
        by_loss = Method("DPR-Adam", adam, 20)(p)
        oracle = pick_oracle(OracleRestarts("DPR-Adam (oracle restart)", adam, 20)(p), y0)
    err = lambda x: (x - y0).pow(2).mean(-1)  # noqa: E731
    assert (err(oracle) <= err(by_loss) + 1e-12).all()


def test_figures_leave_out_the_oracle_rows():
    from unfold_plugins.dpr import plugin
    from unfold_plugins.dpr.figures import figure_methods
    from unfold_plugins.dpr.task import DPRTask

    cfg = plugin.recipe("dpr").resolve(overrides=["data.restarts=2", "eval.sparsity=4"])
    names = [m.name for m in DPRTask().methods(cfg, {})]
    assert "DPR-Adam (oracle restart)" in names
    assert "DPR-Adam (oracle restart)" not in [m.name for m in figure_methods(DPRTask(), cfg, {})]
