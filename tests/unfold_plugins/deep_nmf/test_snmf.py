import warnings

import numpy as np
import pytest
import torch
from scipy.special import kl_div

from unfold_plugins.deep_nmf.backend import NumpyBackend, TorchBackend
from unfold_plugins.deep_nmf.snmf import (
    beta_divergence,
    exemplar_init,
    kl_h_updates,
    normalize_columns,
    objective,
    snmf,
    update_h,
)


def _data(f=30, n=40, r=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    v = torch.rand(f, n, dtype=torch.float64, generator=g) ** 2
    w0 = torch.rand(f, r, dtype=torch.float64, generator=g) + 0.1
    h0 = torch.rand(r, n, dtype=torch.float64, generator=g) + 0.1
    return v, w0, h0


def test_beta_divergence_matches_scipy_kl_and_half_squared_error():
    v, w0, h0 = _data()
    vhat = w0 @ h0
    ref = kl_div(v.numpy(), vhat.numpy()).sum()
    assert float(beta_divergence(v, vhat, 1)) == pytest.approx(ref)
    assert float(beta_divergence(v, vhat, 2)) == pytest.approx(0.5 * float(((v - vhat) ** 2).sum()))


def test_mu_zero_kl_unnormalised_matches_sklearn_mu_solver():
    from sklearn.decomposition import NMF

    v, w0, h0 = _data()
    ours = snmf(v, w0, h0, 30, beta=1, mu=0.0, normalize=False, safeguard=False)
    ref = NMF(5, solver="mu", beta_loss="kullback-leibler", init="custom", max_iter=30, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w_ref = ref.fit_transform(v.numpy(), W=w0.numpy().copy(), H=h0.numpy().copy())
    np.testing.assert_allclose(ours.w.numpy(), w_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.h.numpy(), ref.components_, rtol=1e-9, atol=1e-12)
    # sklearn reports sqrt(2 D_KL) as its reconstruction error
    assert ours.objective[-1] == pytest.approx(ref.reconstruction_err_**2 / 2, rel=1e-9)


def test_mu_zero_normalised_reaches_the_same_fit_quality_as_sklearn():
    """Normalisation changes the path, not the model class: with μ = 0 the KL fit after 50
    iterations is within 2 % of the unnormalised MU from the same start."""
    v, w0, h0 = _data(seed=1)
    norm = snmf(v, w0, h0, 50, beta=1, mu=0.0)
    plain = snmf(v, w0, h0, 50, beta=1, mu=0.0, normalize=False, safeguard=False)
    assert norm.objective[-1] == pytest.approx(plain.objective[-1], rel=0.02)


@pytest.mark.parametrize("beta", [1.0, 1.5, 2.0])
def test_h_update_alone_never_increases_objective(beta):
    v, w0, h0 = _data(seed=2)
    wt = normalize_columns(w0)
    h, last = h0, float(objective(v, wt, h0, beta, 0.3))
    for _ in range(50):
        h = update_h(v, wt, h, beta, 0.3)
        now = float(objective(v, wt, h, beta, 0.3))
        assert now <= last + 1e-10 * abs(last)
        last = now


@pytest.mark.parametrize("beta,mu", [(1.0, 0.5), (1.0, 5.0), (2.0, 0.1)])
def test_snmf_objective_never_increases_and_columns_stay_unit(beta, mu):
    v, w0, h0 = _data(seed=3)
    res = snmf(v, w0, h0, 80, beta=beta, mu=mu)
    assert np.all(np.diff(res.objective) <= 1e-10 * res.objective[0])
    assert res.objective[-1] < 0.9 * res.objective[0]
    torch.testing.assert_close(res.w.norm(dim=0), torch.ones(5, dtype=torch.float64))
    assert bool((res.w > 0).all()) and bool((res.h >= 0).all())


def test_sparsity_weight_makes_activations_sparser():
    v, w0, h0 = _data(seed=4)
    l1 = [float(snmf(v, w0, h0, 100, mu=mu).h.sum()) for mu in (0.0, 2.0)]
    assert l1[1] < 0.8 * l1[0]


def test_exemplar_init_picks_normalised_loud_frames_and_rejects_too_few():
    v = torch.zeros(4, 10, dtype=torch.float64)
    v[:, 5:] = torch.rand(4, 5, dtype=torch.float64) + 1
    w = exemplar_init(v, 5, torch.Generator().manual_seed(0))
    torch.testing.assert_close(w.norm(dim=0), torch.ones(5, dtype=torch.float64))
    assert bool((w > 0).all())
    with pytest.raises(ValueError, match="non-silent frames"):
        exemplar_init(v, 8)


def test_snmf_rejects_bad_shapes_and_negative_data():
    v, w0, h0 = _data()
    with pytest.raises(ValueError, match="shapes"):
        snmf(v, w0.T, h0, 1)
    with pytest.raises(ValueError, match=">= 0"):
        snmf(-v, w0, h0, 1)


@pytest.mark.parametrize("backend", [TorchBackend(), NumpyBackend()], ids=["torch", "numpy"])
@pytest.mark.parametrize("start", ["ones", "given"])
def test_kl_h_updates_equal_repeated_update_h_in_float32(start, backend):
    """The in-place inference loop is the reference step (``update_h``, β = 1) repeated."""
    g = torch.Generator().manual_seed(4)
    v = torch.rand(2, 36, 50, generator=g) ** 2
    v[1, :, :3] = 0  # silent frames: Λ floored, no NaN
    w = normalize_columns(torch.rand(36, 10, generator=g) + 0.01)
    h0 = torch.ones(2, 10, 50) if start == "ones" else torch.rand(2, 10, 50, generator=g) + 0.1
    ref = h0
    for _ in range(25):
        ref = update_h(v, w, ref, 1.0, 5.0)
    fast = kl_h_updates(v, w, 25, 5.0, None if start == "ones" else h0, backend)
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-7)
    assert bool(torch.isfinite(fast).all())
    torch.testing.assert_close(kl_h_updates(v, w, 0, 5.0, None if start == "ones" else h0), h0)


def test_numpy_backend_in_blocks_of_frames_equals_the_reference_and_restores_threads():
    """With 3 torch threads the numpy backend runs 3 blocks of frames in Python threads: the
    same H as ``update_h`` repeated, and torch's thread count is given back."""
    g = torch.Generator().manual_seed(6)
    v = torch.rand(2, 36, 50, generator=g) ** 2
    w = normalize_columns(torch.rand(36, 10, generator=g) + 0.01)
    ref = torch.ones(2, 10, 50)
    for _ in range(25):
        ref = update_h(v, w, ref, 1.0, 5.0)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        with NumpyBackend().threads() as workers:
            assert workers == 3 and torch.get_num_threads() == 1
        fast = kl_h_updates(v, w, 25, 5.0, backend=NumpyBackend())
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-7)
