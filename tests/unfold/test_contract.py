"""Contract tests run over every registered unroller (and the tutorial's LISTA)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from unfold.plugin import Registry
from unfold.recipe import from_dict, to_dict
from unfold.unroller import Theta

REGISTRY = Registry()
UNROLLERS = [(f"{p}:{n}", cls) for p, n, cls in REGISTRY.unrollers()]


@pytest.fixture(params=[*UNROLLERS, ("tutorial:LISTA", None)], ids=lambda x: x[0])
def unroller(request, tutorial):
    return request.param[1] or tutorial.LISTA


def to_double(obj):
    if isinstance(obj, torch.Tensor):
        if obj.is_complex():
            return obj.to(torch.complex128)
        return obj.double() if obj.is_floating_point() else obj
    if isinstance(obj, torch.nn.Module):
        return obj.double()
    if dataclasses.is_dataclass(obj):
        return dataclasses.replace(obj, **{f.name: to_double(getattr(obj, f.name))
                                           for f in dataclasses.fields(obj) if f.init})
    return obj


def leaves(out):
    if isinstance(out, torch.Tensor):
        return [out]
    if dataclasses.is_dataclass(out):
        return [v for f in dataclasses.fields(out) for v in leaves(getattr(out, f.name))]
    if isinstance(out, (tuple, list)):
        return [v for o in out for v in leaves(o)]
    return []


def test_registered_plugins_all_load():
    broken = [f"{s.name}: {s.error}" for s in REGISTRY.status() if not s.ok]
    assert not broken


@pytest.mark.parametrize("tying", ["tied", "untied"])
def test_smoke_run_is_finite(unroller, tying):
    model, problem = unroller.example(tying)
    out = leaves(model(problem))
    assert out and all(torch.isfinite(o).all() for o in out)
    deeper = leaves(model(problem, n_iter=2 * model.n_layers))
    assert all(torch.isfinite(o).all() for o in deeper)


def test_one_layer_gradcheck_float64(unroller):
    model, problem = unroller.example("untied")
    model, problem = model.double(), to_double(problem)
    with torch.no_grad():
        state = model.step(model.init(problem), model.theta(0), problem)
    names = [k for k, r in model.raw.items() if r.requires_grad]
    assert names, "an example model must have trainable parameters"

    def outputs(*raws):
        theta = dict(model.theta(1))
        theta.update({k: model.constraints[k].forward(r) for k, r in zip(names, raws)})
        return leaves(model.step(state, Theta(theta), problem))

    group = model.tying.group(1, model.n_layers)
    raws = [model.raw[k][group].detach().clone().requires_grad_() for k in names]
    live = [i for i, o in enumerate(outputs(*raws)) if o.requires_grad]
    assert live, "no output of a layer depends on its parameters"

    def layer(*raws):
        out = outputs(*raws)
        return tuple(out[i] for i in live)

    assert torch.autograd.gradcheck(layer, raws, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True)


def test_batch_consistency(unroller):
    model, problem = unroller.example("untied")
    with torch.no_grad():
        whole = leaves(model(problem))
        batch = whole[0].shape[0]
        parts = [leaves(model(unroller.batch_slice(problem, slice(i, i + 1), batch)))
                 for i in range(batch)]
    for j, w in enumerate(whole):
        torch.testing.assert_close(torch.cat([p[j] for p in parts]), w, rtol=1e-4, atol=1e-5)


def test_parameters_are_tied_or_untied(unroller):
    tied, _ = unroller.example("tied")
    untied, _ = unroller.example("untied")
    for k, r in tied.raw.items():
        assert r.shape[0] == 1 and untied.raw[k].shape[0] == untied.n_layers


RECIPES = [(p.name, r) for p in REGISTRY.plugins() for r in p.recipes]


@pytest.mark.parametrize("recipe", [r for _, r in RECIPES], ids=[r.name for _, r in RECIPES])
def test_recipe_config_round_trip(recipe):
    for quick in (False, True):
        cfg = recipe.resolve(quick=quick)
        assert from_dict(recipe, to_dict(cfg)) == cfg
        assert hasattr(cfg, "train")
