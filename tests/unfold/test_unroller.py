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


def perturbed(model):
    with torch.no_grad():
        for r in model.raw.values():
            r.add_(0.05 * torch.randn(r.shape, generator=torch.Generator().manual_seed(2)))
    return model


@pytest.mark.parametrize("policy, layers", [("cycle", [0, 1, 2, 0, 1, 2, 0]),
                                            ("last", [0, 1, 2, 2, 2, 2, 2])])
def test_past_depth_policy(tutorial, policy, layers):
    A = torch.randn(6, 8, generator=torch.Generator().manual_seed(0))
    model = perturbed(tutorial.LISTA(A, n_layers=3, tying="untied", past_depth=policy))
    assert [model.layer(t) for t in range(7)] == layers
    assert f"past_depth={policy}" in repr(model)
    p = tutorial.Problem(torch.randn(2, 6, generator=torch.Generator().manual_seed(1)))
    with torch.no_grad():
        state = model.init(p)
        for t in layers:  # by hand: the θ the policy picks
            state = model.step(state, model.theta(t), p)
        torch.testing.assert_close(model(p, n_iter=7), state.x)


def test_past_depth_rejects_unknown(tutorial):
    with pytest.raises(ValueError, match="past_depth must be 'cycle' or 'last', got 'wrap'"):
        tutorial.LISTA(torch.randn(6, 8), n_layers=3, past_depth="wrap")


def test_run_resumes_from_a_state(tutorial):
    model, p = tutorial.LISTA.example("untied")
    model = perturbed(model)
    seen = []
    with torch.no_grad():
        mid = model.run(p, 2)
        resumed = model.run(p, 5, state=mid, start=2, callback=lambda t, s: seen.append(t))
        torch.testing.assert_close(resumed.x, model.run(p, 5).x)
    assert seen == [2, 3, 4]
    with pytest.raises(ValueError, match="needs the state"):
        model.run(p, 5, start=2)
    with pytest.raises(ValueError, match="start must be"):
        model.run(p, 2, state=mid, start=3)


def test_positional_callback_still_works_with_a_warning(tutorial):
    model, p = tutorial.LISTA.example()
    seen = []
    with pytest.warns(DeprecationWarning, match="callback="):
        model.run(p, 3, lambda t, s: seen.append(t))
    assert seen == [0, 1, 2]


def test_hooks_shape_the_run_without_overriding_it(tutorial):
    class Hooked(tutorial.LISTA):
        starts = []

        def layer_params(self, theta, group):  # a derived quantity, read by nothing here
            theta["half"] = theta.thresh / 2
            return theta

        def warm_start(self, problem, n_iter):
            self.starts.append(n_iter)
            return super().warm_start(problem, n_iter)

    model, p = tutorial.LISTA.example()
    hooked = Hooked(model.A, n_layers=3)
    with torch.no_grad():
        assert float(hooked.theta(0).half) == pytest.approx(float(hooked.theta(0).thresh) / 2)
    with torch.no_grad():
        torch.testing.assert_close(hooked(p), model(p))
        values = hooked.trace(p, lambda x, _: x, n_iter=3)
    assert Hooked.starts == [3]  # trace starts from init itself
    assert len(values) == 3
