import pytest
import torch

from unfold.backprop import Backprop, Checkpointed, Full, Truncated, parse_backprop
from unfold.implicit import Implicit


def grads(model, p):
    model.zero_grad()
    model(p).pow(2).sum().backward()
    return {k: r.grad.clone() for k, r in model.raw.items()}


def saved_numel(model, p):
    count = 0

    def pack(t):
        nonlocal count
        count += t.numel()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(p).sum()
    return count


def model_with(tutorial, backprop, n_layers=12, tying="untied"):
    A = torch.randn(6, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) / 3
    m = tutorial.LISTA(A, n_layers=n_layers, tying=tying, backprop=backprop).double()
    y = torch.randn(3, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return m, tutorial.Problem(y)


@pytest.mark.parametrize("tying", ["tied", "untied"])
def test_truncated_full_depth_equals_full(tutorial, tying):
    full = grads(*model_with(tutorial, Full(), tying=tying))
    trunc = grads(*model_with(tutorial, Truncated(12), tying=tying))
    for k in full:
        torch.testing.assert_close(trunc[k], full[k], rtol=0, atol=0)


@pytest.mark.parametrize("segment", [None, 1, 5, 12])
def test_checkpointed_equals_full(tutorial, segment):
    full = grads(*model_with(tutorial, Full()))
    ck = grads(*model_with(tutorial, Checkpointed(segment)))
    for k in full:
        torch.testing.assert_close(ck[k], full[k], rtol=0, atol=1e-10)


def test_truncated_only_last_layers_get_gradient(tutorial):
    g = grads(*model_with(tutorial, Truncated(4)))
    assert (g["S"][:8] == 0).all()
    assert (g["S"][8:].abs().sum((1, 2)) > 0).all()


def test_strategies_agree_in_forward(tutorial):
    outs = [model_with(tutorial, b)[0](model_with(tutorial, b)[1]) for b in
            (Full(), Truncated(3), Checkpointed())]
    for o in outs[1:]:
        torch.testing.assert_close(o, outs[0])


def test_truncated_graph_size_is_independent_of_depth(tutorial):
    """Saved activations (the memory of backprop) stay constant in L for Truncated."""
    def saved(strategy, n_layers):
        return saved_numel(*model_with(tutorial, strategy, n_layers=n_layers, tying="tied"))

    assert saved(Truncated(5), 10) == saved(Truncated(5), 80)
    assert saved(Full(), 80) > 4 * saved(Full(), 10)
    assert saved(Checkpointed(), 80) < saved(Full(), 80) / 4


def test_parse_backprop():
    assert isinstance(parse_backprop("full"), Full)
    assert parse_backprop("truncated:7").b == 7
    assert parse_backprop("truncated").b == 30
    assert parse_backprop("checkpointed:4").segment == 4
    for bad in ["trunc", "truncated:x", "truncated:0", "full:3"]:
        with pytest.raises(ValueError, match="allowed|must|bad"):
            parse_backprop(bad)


# -- implicit backprop -------------------------------------------------------------------------

def contractive_lista(tutorial, backprop, n_layers, tying="tied"):
    """Tied LISTA at its ISTA initialisation on a well-conditioned A (100 × 20, float64): the
    step contracts by ≈ 1 − σ_min²/σ_max² ≈ 0.85, so 400 layers reach the fixed point."""
    g = torch.Generator().manual_seed(3)
    A = torch.randn(100, 20, generator=g, dtype=torch.float64) / 10
    m = tutorial.LISTA(A, lam=0.05, n_layers=n_layers, tying=tying, backprop=backprop).double()
    y = torch.randn(3, 100, generator=g, dtype=torch.float64) / 5
    return m, tutorial.Problem(y)


def weighted_loss(model, p):
    w = torch.linspace(-1, 1, 20, dtype=torch.float64)
    return (model(p) * w).sum() + 0.5 * model(p).pow(2).sum()


def implicit_grads(model, p):
    model.zero_grad()
    weighted_loss(model, p).backward()
    return torch.cat([r.grad.reshape(-1) for r in model.raw.values()])


def test_implicit_gradient_matches_finite_differences_of_the_converged_output(tutorial):
    model, p = contractive_lista(tutorial, Implicit(400), 400)
    grad = implicit_grads(model, p)
    raw = list(model.raw.values())
    flat = torch.cat([r.detach().reshape(-1) for r in raw])

    def loss_at(x):
        with torch.no_grad():
            i = 0
            for r in raw:
                r.copy_(x[i:i + r.numel()].view_as(r))
                i += r.numel()
            return float(weighted_loss(model, p))

    g, eps = torch.Generator().manual_seed(4), 1e-6
    for _ in range(3):
        direction = torch.randn(flat.shape, generator=g, dtype=torch.float64)
        fd = (loss_at(flat + eps * direction) - loss_at(flat - eps * direction)) / (2 * eps)
        assert abs(float(grad @ direction) - fd) < 1e-4 * abs(fd)


def test_implicit_equals_full_at_a_converged_state(tutorial):
    full = implicit_grads(*contractive_lista(tutorial, Full(), 400))
    implicit = implicit_grads(*contractive_lista(tutorial, Implicit(400), 400))
    assert float((implicit - full).norm() / full.norm()) < 1e-4
    few = implicit_grads(*contractive_lista(tutorial, Implicit(2), 400))
    assert float((few - full).norm() / full.norm()) > 1e-2  # b terms matter: not the limit yet


def test_implicit_zero_is_the_jacobian_free_gradient(tutorial):
    """implicit:0 = one step with a graph from the detached last state = Truncated(1), one deeper."""
    jfb = implicit_grads(*contractive_lista(tutorial, Implicit(0), 50))
    one = implicit_grads(*contractive_lista(tutorial, Truncated(1), 51))
    torch.testing.assert_close(jfb, one, rtol=0, atol=0)


def test_implicit_value_and_evaluation(tutorial):
    """With a graph the value is f(s_n) (n + 1 steps); under no_grad the plain n layers."""
    model, p = contractive_lista(tutorial, Implicit(5), 7)
    plain, _ = contractive_lista(tutorial, Full(), 8)
    torch.testing.assert_close(model(p), plain(p), rtol=0, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(model(p), plain(p, n_iter=7), rtol=0, atol=0)


def test_implicit_backward_twice_through_a_retained_graph(tutorial):
    model, p = contractive_lista(tutorial, Implicit(20), 30)
    loss = weighted_loss(model, p)
    loss.backward(retain_graph=True)
    first = model.raw["S"].grad.clone()
    loss.backward()
    torch.testing.assert_close(model.raw["S"].grad, 2 * first)


def test_implicit_graph_size_is_one_step_at_any_depth_and_b(tutorial):
    sizes = {(n, b): saved_numel(*contractive_lista(tutorial, Implicit(b), n))
             for n, b in [(100, 30), (2000, 30), (100, 0), (100, 500)]}
    assert len(set(sizes.values())) == 1
    # one step, its input live (J_* needs S): more than Truncated(1), at most Truncated(2)
    assert sizes[100, 30] <= saved_numel(*contractive_lista(tutorial, Truncated(2), 100))
    assert sizes[100, 30] * 50 < saved_numel(*contractive_lista(tutorial, Full(), 100))


@pytest.mark.parametrize("tying", ["untied", "partial:1"])
def test_implicit_refuses_untied_models(tutorial, tying):
    with pytest.raises(ValueError, match=f"implicit\\(3\\) backprop needs tying 'tied'.*{tying}"):
        contractive_lista(tutorial, "implicit:3", 4, tying=tying)
    model, _ = contractive_lista(tutorial, Full(), 4, tying=tying)
    with pytest.raises(ValueError, match="needs tying 'tied'"):
        model.backprop = Implicit(3)
    assert isinstance(model.backprop, Full)
    contractive_lista(tutorial, Implicit(3), 4, tying="partial:0")  # one group: tied


def test_parse_implicit():
    assert parse_backprop("implicit").b == 30
    assert parse_backprop("implicit:0").describe() == "implicit(0)"
    for bad in ["implicit:-1", "implicit:x"]:
        with pytest.raises(ValueError, match="bad backprop"):
            parse_backprop(bad)
    with pytest.raises(ValueError, match="implicit\\[:b\\]"):
        parse_backprop("neumann")


# -- the interface strategies see --------------------------------------------------------------

def test_loop_hands_strategies_the_layer_range(tutorial):
    seen = []

    class Spy(Full):
        def unroll(self, loop, state):
            seen.append((loop.start, loop.stop, loop.n, loop.model, loop.problem))
            assert loop.theta(loop.start).keys() == {"We", "S", "thresh"}
            return super().unroll(loop, state)

    model, p = tutorial.LISTA.example()
    model.backprop = Spy()
    state = model.run(p, 2)
    model.run(p, 5, state=state, start=2)
    assert seen == [(0, 2, 2, model, p), (2, 5, 3, model, p)]


def test_old_backprop_interface_still_works_with_a_warning(tutorial):
    class OldStyle(Backprop):
        def run(self, step, state, n, callback=None):
            for t in range(n):
                state = step(state, t)
            return state

    model, p = tutorial.LISTA.example()
    with torch.no_grad():
        want = model(p)
    model.backprop = OldStyle()
    with pytest.warns(DeprecationWarning, match="unroll"), torch.no_grad():
        torch.testing.assert_close(model(p), want)
    with pytest.warns(DeprecationWarning, match="deprecated"):
        x = Full().run(lambda s, t: s + t, torch.zeros(()), 4)
    assert float(x) == 6
