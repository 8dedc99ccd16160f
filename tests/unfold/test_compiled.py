"""train.compile: the option validates, and a compiled step computes what the eager one does.

The equality tests compile with backend "aot_eager" (dynamo traces the step and AOTAutograd
builds its forward and backward graphs, as for inductor, but no code is generated), so they take
seconds; inductor on the CPU needs a C++ build of every graph (tens of seconds). Its numbers are
checked by benchmarks/compile_speed.py. The fallback test runs inductor with no C++ compiler.
"""

import copy
import warnings

import pytest
import torch

from unfold.backprop import parse_backprop
from unfold.compiled import CompileFallback, CompileSpec
from unfold.recipe import ConfigError, from_dict, to_dict


@pytest.mark.parametrize("value, expected", [
    (False, None), ("off", None), ("false", None),
    (True, CompileSpec()), ("on", CompileSpec()), ("true", CompileSpec()), ("default", CompileSpec()),
    ("reduce-overhead", CompileSpec("inductor", "reduce-overhead")),
    ("max-autotune", CompileSpec("inductor", "max-autotune")),
    ("aot_eager", CompileSpec("aot_eager")), ("eager", CompileSpec("eager")),
])
def test_compile_values(value, expected):
    assert CompileSpec.parse(value) == expected


def test_compile_option_validates(tutorial):
    assert tutorial.lista.resolve().train.compile is False  # off by default
    cfg = tutorial.lista.resolve(overrides=["train.compile=true"])
    assert CompileSpec.parse(cfg.train.compile) == CompileSpec()
    assert from_dict(tutorial.lista, to_dict(cfg)) == cfg
    cfg = tutorial.lista.resolve(overrides=["train.compile=max-autotune"])
    assert CompileSpec.parse(cfg.train.compile) == CompileSpec("inductor", "max-autotune")
    for bad in ["fast", "1"]:
        with pytest.raises(ConfigError, match=r"train.compile: unknown compile setting .*allowed: "
                                              r"false/off, true/on, reduce-overhead"):
            tutorial.lista.resolve(overrides=[f"train.compile={bad}"])


def loss_and_grads(model, problem, n_iter=None):
    model.zero_grad(set_to_none=True)
    out = model(problem, n_iter=n_iter)
    loss = (out ** 2).sum()
    loss.backward()
    return out.detach(), [p.grad.clone() for p in model.parameters() if p.requires_grad]


def perturbed(tutorial, tying):
    model, problem = tutorial.LISTA.example(tying)
    model, problem.y = model.double(), problem.y.double()
    with torch.no_grad():
        for r in model.raw.values():
            r.add_(0.05 * torch.randn_like(r))
    return model, problem


def graphs_compiled():
    from torch._dynamo.utils import counters

    return counters["stats"]["unique_graphs"]


def test_compiled_step_matches_eager_and_compiles_once_per_kind_of_call(tutorial):
    """Outputs and gradients equal eager for every tying, backprop and depth; the graphs compiled
    for the first (tied) model serve the untied and partly untied ones and every depth."""
    before = graphs_compiled()
    for tying in ["tied", "untied", "partial:1"]:
        eager, problem = perturbed(tutorial, tying)
        comp = copy.deepcopy(eager).compile_step("aot_eager")
        assert comp.compiled_step is not None and eager.compiled_step is None
        for bp in ["full", "truncated:2", "checkpointed:2"]:
            eager.backprop = comp.backprop = parse_backprop(bp)
            for n in (None, 5):  # the trained depth, then past it
                out_e, g_e = loss_and_grads(eager, problem, n)
                out_c, g_c = loss_and_grads(comp, problem, n)
                torch.testing.assert_close(out_c, out_e, rtol=1e-12, atol=1e-12)
                for a, b in zip(g_c, g_e):
                    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
        with torch.no_grad():  # the no-grad graph of evaluation, deeper than trained
            torch.testing.assert_close(comp(problem, n_iter=7), eager(problem, n_iter=7))
        assert comp.compiled_step.failed is None
        if tying == "tied":
            first = graphs_compiled() - before
    # first layer and later layers with grad, the no-grad pass of Truncated, of evaluation
    assert first <= 4 and graphs_compiled() - before == first
    comp.compile_step(False)
    assert comp.compiled_step is None


def test_deep_copy_of_a_compiled_model_uses_its_own_parameters(tutorial):
    model, problem = perturbed(tutorial, "tied")
    model.compile_step("aot_eager")
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.raw["thresh"].fill_(5.0)  # every coefficient thresholded to zero
        assert twin(problem).abs().max() == 0 and model(problem).abs().max() > 0


def test_trainer_with_compile_trains_as_eager(tutorial):
    from unfold.train import Trainer

    tiny = ["data.n_train=40", "data.n_valid=20", "data.n_test=20", "model.n_layers=3",
            "train.epochs=1", "train.batch_size=20"]
    task = tutorial.SparseCoding()
    weights = {}
    for setting in ["false", "aot_eager"]:
        cfg = tutorial.lista.resolve(overrides=tiny + [f"train.compile={setting}"])
        data = task.datasets(cfg)
        torch.manual_seed(0)
        model = task.build_model(cfg, "untied")
        Trainer(task, cfg, model, torch.device("cpu"), progress=False).fit(data["train"], data["valid"])
        assert (model.compiled_step is not None) == (setting != "false")
        weights[setting] = model.state_dict()
    for k, v in weights["false"].items():
        torch.testing.assert_close(weights["aot_eager"][k], v)


def test_no_cxx_compiler_falls_back_to_eager_with_one_line(tutorial, tmp_path, monkeypatch):
    import torch._inductor.config as inductor

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    monkeypatch.setattr(inductor.cpp, "cxx", ("/nonexistent/g++",))
    monkeypatch.setattr(inductor, "fx_graph_cache", False)
    model, problem = perturbed(tutorial, "tied")
    expected = model(problem).detach()
    model.compile_step(True)
    with pytest.warns(CompileFallback) as caught:
        out = model(problem)
    msg = str(caught[0].message)
    assert "\n" not in msg and "LISTA.step failed, running it eagerly" in msg and "C++" in msg
    torch.testing.assert_close(out.detach(), expected)
    assert model.compiled_step is not None and model.compiled_step.failed
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once; later calls are eager and quiet
        model(problem)
