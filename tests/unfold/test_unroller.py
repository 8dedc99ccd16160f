import pytest
import torch

from unfold.unroller import Tying


def double(model, problem):
    model = model.double()
    problem.y = problem.y.double()
    return model, problem


@pytest.mark.parametrize("spec, groups, mapping", [
    ("tied", 1, [0, 0, 0, 0, 0]),
    ("untied", 5, [0, 1, 2, 3, 4]),
    ("partial:2", 3, [0, 0, 0, 1, 2]),
    ("partial:0", 1, [0, 0, 0, 0, 0]),
    ("partial:9", 5, [0, 1, 2, 3, 4]),
])
def test_tying_groups(spec, groups, mapping):
    t = Tying.parse(spec)
    assert t.n_groups(5) == groups
    assert [t.group(i, 5) for i in range(5)] == mapping
    assert [t.group(i + 5, 5) for i in range(5)] == mapping  # past the depth the stack repeats


def test_tying_rejects_unknown():
    with pytest.raises(ValueError, match="allowed: tied, untied, partial:C"):
        Tying.parse("loose")


def test_parameter_storage_follows_tying(tutorial):
    A = torch.randn(6, 8)
    for tying, groups in [("tied", 1), ("untied", 4), ("partial:1", 2)]:
        m = tutorial.LISTA(A, n_layers=4, tying=tying)
        assert m.raw["S"].shape == (groups, 8, 8)
        assert m.value("S").shape == (4, 8, 8)
    assert tutorial.LISTA(A, n_layers=4, tying="untied").n_params() == 4 * (48 + 64 + 1)


def test_constraint_value_is_readable(tutorial):
    m = tutorial.LISTA(torch.randn(6, 8), lam=0.2, n_layers=3)
    with torch.no_grad():
        m.raw["thresh"].fill_(-30.0)  # any raw value keeps the threshold positive
    assert (m.value("thresh") > 0).all()


def test_untied_past_depth_reapplies_stack(tutorial):
    model, p = tutorial.LISTA.example("untied")
    with torch.no_grad():
        for r in model.raw.values():
            r.add_(0.01 * torch.randn_like(r))
        twice = model(p, n_iter=2 * model.n_layers)
        state = model.run(p)
        for t in range(model.n_layers):
            state = model.step(state, model.theta(t), p)
    torch.testing.assert_close(twice, state.x)


def test_frozen_model_is_the_classical_algorithm(tutorial):
    A = torch.randn(6, 8) / 6**0.5
    ista = tutorial.LISTA(A, lam=0.1, n_layers=1, trainable=False)
    assert ista.n_params() == 0
    p = tutorial.Problem(torch.randn(3, 6))
    x = torch.zeros(3, 8)
    s = 1 / torch.linalg.matrix_norm(A, ord=2) ** 2
    for _ in range(20):
        x = tutorial.soft(x - s * (x @ A.T - p.y) @ A, s * 0.1)
    torch.testing.assert_close(ista(p, n_iter=20), x, rtol=1e-4, atol=1e-5)


def test_one_layer_gradcheck_float64(tutorial):
    model, p = double(*tutorial.LISTA.example("untied"))
    state = model.init(p)
    state.x = torch.randn_like(state.x)
    names = list(model.raw)

    def layer(*raws):
        theta = {k: model.constraints[k].forward(r) for k, r in zip(names, raws)}
        from unfold.unroller import Theta
        return model.step(state, Theta(theta), p).x

    raws = [model.raw[k][0].detach().clone().requires_grad_() for k in names]
    assert torch.autograd.gradcheck(layer, raws)


def test_tied_gradient_is_sum_of_untied(tutorial):
    tied, p = double(*tutorial.LISTA.example("tied"))
    untied, _ = double(*tutorial.LISTA.example("untied"))
    untied.load_state_dict({k: v.expand_as(untied.raw[k.split(".")[1]]).clone()
                            for k, v in tied.state_dict().items()})
    for m in (tied, untied):
        m(p).pow(2).sum().backward()
    for k in tied.raw:
        torch.testing.assert_close(tied.raw[k].grad[0], untied.raw[k].grad.sum(0), rtol=1e-10, atol=1e-12)


def test_trace_records_every_layer(tutorial):
    model, p = tutorial.LISTA.example()
    values = model.trace(p, lambda x, _: float(x.abs().sum()), n_iter=5)
    assert len(values) == 5
    with torch.no_grad():
        assert values[-1] == pytest.approx(float(model(p, n_iter=5).abs().sum()))


def test_bad_depths(tutorial):
    with pytest.raises(ValueError, match="n_layers"):
        tutorial.LISTA(torch.randn(2, 3), n_layers=0)
    model, p = tutorial.LISTA.example()
    with pytest.raises(ValueError, match="n_iter"):
        model(p, n_iter=-1)
