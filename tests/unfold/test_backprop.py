import pytest
import torch

from unfold.backprop import Checkpointed, Full, Truncated, parse_backprop


def grads(model, p):
    model.zero_grad()
    model(p).pow(2).sum().backward()
    return {k: r.grad.clone() for k, r in model.raw.items()}


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
        m, p = model_with(tutorial, strategy, n_layers=n_layers, tying="tied")
        count = 0

        def pack(t):
            nonlocal count
            count += t.numel()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            m(p).sum()
        return count

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
