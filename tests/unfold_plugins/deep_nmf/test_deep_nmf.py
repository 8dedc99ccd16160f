import numpy as np
import pytest
import torch

from unfold_plugins.deep_nmf.deep_nmf import DeepNMF, NMFProblem
from unfold_plugins.deep_nmf.features import stack_context
from unfold_plugins.deep_nmf.mbp import mbp_step, split_gradients


def _snmf_enhance_numpy(m, w_bar, n_speech, mu, k, context):
    """SNMF speech enhancement written out in numpy: K KL-MU steps on stacked frames, Wiener."""
    f, n = m.shape
    w = w_bar / np.linalg.norm(w_bar, axis=0)
    padded = np.pad(m, ((0, 0), (context - 1, 0)))
    x = np.concatenate([padded[:, j:j + n] for j in range(context)])
    h = np.ones((w.shape[1], n))
    for _ in range(k):
        h = h * (w.T @ (x / (w @ h))) / (w.T @ np.ones_like(x) + mu)
    wf = w[-f:]
    return (wf[:, :n_speech] @ h[:n_speech]) / (wf @ h) * m


@pytest.mark.parametrize("tying", ["tied", "partial:0"])
def test_c_zero_reproduces_snmf_exactly(tying):
    g = torch.Generator().manual_seed(1)
    w_bar = torch.rand(15, 8, dtype=torch.float64, generator=g) + 0.1
    model = DeepNMF(6, w_bar, n_speech=3, n_freq=5, mu=0.7, tying=tying).double()
    p = NMFProblem.from_magnitudes(torch.rand(2, 5, 9, dtype=torch.float64, generator=g), 3)
    out = model(p).numpy()
    for i in range(p.m.shape[0]):
        ref = _snmf_enhance_numpy(p.m[i].numpy(), w_bar.numpy(), 3, 0.7, 6, 3)
        np.testing.assert_allclose(out[i], ref, rtol=1e-12, atol=1e-14)
    assert model.n_params() == 0 and model.discriminative_params() == 0


def test_stack_context_orders_oldest_first_and_zero_pads():
    m = torch.arange(1.0, 7.0).reshape(1, 2, 3)  # F = 2, N = 3
    x = stack_context(m, 2)
    torch.testing.assert_close(x[:, -2:], m)
    torch.testing.assert_close(x[0, :2, 0], torch.zeros(2))
    torch.testing.assert_close(x[0, :2, 1:], m[0, :, :2])


@pytest.mark.parametrize("tying,c", [("partial:1", 1), ("partial:3", 3), ("untied", 4)])
def test_untied_layers_get_own_bases_and_table2_counts(tying, c):
    model, p = DeepNMF.example(tying)
    assert model.n_untied == c
    f, r, t = model.n_freq, model.w_bar.shape[1], model.context
    assert model.discriminative_params() == c * f * r
    assert model.total_params() == (t + c) * f * r
    ((model(p) - 0.5 * p.m) ** 2).sum().backward()
    grad = model.raw["W"].grad
    k_all = range(model.n_layers)
    used = {model.tying.group(k, model.n_layers) for k in k_all if model.is_untied(k)}
    for g in range(grad.shape[0]):
        assert bool(grad[g].abs().sum() > 0) == (g in used)


def test_untied_output_at_init_differs_from_snmf_and_is_finite():
    tied, p = DeepNMF.example("tied")
    untied, _ = DeepNMF.example("partial:2")
    a, b = tied(p), untied(p)
    assert bool(torch.isfinite(b).all()) and not torch.allclose(a, b)
    assert bool((b >= 0).all()) and bool((b <= p.m + 1e-6).all())  # a mask in [0, 1]


@pytest.mark.parametrize("tying", ["partial:1", "partial:2", "untied"])
def test_mbp_split_parts_are_nonnegative_and_differ_by_the_exact_gradient(tying):
    model, p = DeepNMF.example(tying)
    model = model.double()
    p = NMFProblem.from_magnitudes(p.m.double(), model.context)
    s = 0.6 * p.m
    ((model(p) - s) ** 2).sum().backward()
    grads = split_gradients(model, p, s)
    assert len(grads) == model.n_untied
    for g, (gp, gn) in grads.items():
        exact = model.raw["W"].grad[g] / model.raw["W"][g].detach().exp()  # W = exp(raw)
        assert bool((gp >= 0).all() and (gn >= 0).all())
        torch.testing.assert_close(gp - gn, exact, rtol=1e-9, atol=1e-12)


def test_mbp_updates_decrease_the_training_loss_and_keep_bases_positive():
    model, p = DeepNMF.example("partial:2")
    s = 0.6 * p.m
    losses = []
    for _ in range(6):
        losses.append(float(((model(p) - s) ** 2).sum().detach()))
        mbp_step(model, p, s)
    assert losses[-1] < 0.5 * losses[0]
    assert bool((model.value("W") > 0).all())


def test_constructor_rejects_bad_bases_and_sparsity():
    w = torch.rand(12, 4) + 0.1
    with pytest.raises(ValueError, match="w_bar"):
        DeepNMF(3, w, 2, n_freq=5)
    with pytest.raises(ValueError, match="n_speech"):
        DeepNMF(3, w, 4, n_freq=6)
    with pytest.raises(ValueError, match="mu"):
        DeepNMF(3, w, 2, n_freq=6, mu=-1)


@pytest.mark.parametrize("tying", ["partial:1", "partial:3"])
def test_cached_prefix_gives_the_same_output_and_split_gradients(tying):
    model, p = DeepNMF.example(tying)
    s = 0.6 * p.m
    state = model.prefix(p)
    torch.testing.assert_close(model.forward_from(state, p, model.n_shared), model(p))
    full = split_gradients(model, p, s)
    cached = split_gradients(model, p, s, state, model.n_shared)
    assert full.keys() == cached.keys()
    for g in full:
        torch.testing.assert_close(full[g], cached[g])


@pytest.mark.parametrize("tying", ["tied", "partial:2", "untied"])
def test_prefix_cache_gives_the_same_outputs_and_gradients(tying):
    plain, p = DeepNMF.example(tying)
    cached, _ = DeepNMF.example(tying)
    cached.cache_prefix()
    s = 0.6 * p.m
    for _ in range(2):  # first call fills the cache, the second reads it
        out = cached(p)
        torch.testing.assert_close(out, plain(p))
    if plain.n_params():
        ((plain(p) - s) ** 2).sum().backward()
        ((cached(p) - s) ** 2).sum().backward()
        torch.testing.assert_close(cached.raw["W"].grad, plain.raw["W"].grad)
    half = NMFProblem.from_magnitudes(p.m[:1], cached.context)  # an item seen in a batch
    torch.testing.assert_close(cached(half), plain(half))
    assert len(cached.prefix_cache) == (p.m.shape[0] if cached.n_shared else 0)


@pytest.mark.parametrize("tying", ["tied", "partial:2", "untied"])
def test_inference_without_graph_equals_the_layer_by_layer_run_in_float32(tying):
    """Without a graph the frozen layers run in place (``kl_h_updates``); with one, every layer
    is a ``step``: the same outputs to float32 rounding, at the trained depth and beyond."""
    g = torch.Generator().manual_seed(5)
    model = DeepNMF(25, torch.rand(45, 12, generator=g) + 0.01, n_speech=6, n_freq=9, mu=5.0,
                    tying=tying)
    m = torch.rand(2, 9, 40, generator=g)
    m[0, :, :4] = 0
    p = NMFProblem.from_magnitudes(m, model.context)
    for depth in (3, 25, 30):
        with torch.no_grad():
            fast = model(p, depth)
        torch.testing.assert_close(fast, model(p, depth).detach(), rtol=1e-5, atol=1e-7)
        assert bool(torch.isfinite(fast).all())
