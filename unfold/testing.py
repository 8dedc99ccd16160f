"""Contract tests for plugin authors: every unroller and recipe of a plugin, checked in one line.

In a plugin package's tests (pytest collects the returned class)::

    from unfold.testing import contract_tests
    from my_plugin import plugin

    TestContract = contract_tests(plugin, smoke={"my-recipe": ["train.epochs=1"]})

The checks are plain functions, usable without pytest; each raises ``AssertionError`` naming
what broke:

- :func:`check_example`: ``Unroller.example(tying)`` gives a small (model, problem) pair whose
  output is finite at the trained depth and at twice it (the stack repeats past L);
- :func:`check_gradcheck`: float64 ``torch.autograd.gradcheck`` of one layer with respect to
  its raw parameters (the constraint included);
- :func:`check_batch_consistency`: the items of a batch are solved independently, i.e.
  ``model(problem)[i] == model(batch_slice(problem, i))``;
- :func:`check_tied_gradient`: a tied model's gradient equals the sum over layers of the
  gradient of the untied model holding the same value in every layer,
  :math:`\\partial\\ell/\\partial\\theta = \\sum_t \\partial\\ell/\\partial\\theta_t`;
- :func:`check_backprop_equivalence`: ``Truncated(L)`` and ``Checkpointed()`` give the
  gradients of ``Full()`` (float64);
- :func:`check_config_round_trip`: ``from_dict(recipe, to_dict(cfg)) == cfg``, full and quick;
- :func:`check_smoke_run`: the recipe's quick variant (plus overrides) runs end to end into a
  run directory with ``results.json`` and ``report.md``.

The ``Unroller.example`` contract: a classmethod ``example(tying="tied")`` returning
``(model, problem)`` with a batch of 2–3 items, at least one trainable declared parameter, built
deterministically (a seeded ``torch.Generator``) so that two calls give the same problem.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from unfold.backprop import Checkpointed, Full, Truncated
from unfold.plugin import Plugin
from unfold.recipe import Recipe, from_dict, to_dict
from unfold.unroller import Theta, Unroller


def to_double(obj: Any) -> Any:
    """``obj`` (a tensor, module or dataclass of them) in float64 / complex128."""
    if isinstance(obj, torch.Tensor):
        if obj.is_complex():
            return obj.to(torch.complex128)
        return obj.double() if obj.is_floating_point() else obj
    if isinstance(obj, torch.nn.Module):
        return obj.double()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: to_double(getattr(obj, f.name))
                                           for f in dataclasses.fields(obj) if f.init})
    return obj


def leaves(out: Any) -> list[torch.Tensor]:
    """The tensors of an output: a tensor, a dataclass or a tuple/list of them."""
    if isinstance(out, torch.Tensor):
        return [out]
    if dataclasses.is_dataclass(out) and not isinstance(out, type):
        return [v for f in dataclasses.fields(out) for v in leaves(getattr(out, f.name))]
    if isinstance(out, (tuple, list)):
        return [v for o in out for v in leaves(o)]
    return []


def _trainable(model: Unroller) -> list[str]:
    names = [k for k, r in model.raw.items() if r.requires_grad]
    assert names, f"{type(model).__name__}.example(): the model has no trainable parameter"
    return names


def check_example(cls: type[Unroller], tying: str = "tied") -> None:
    model, problem = cls.example(tying)
    assert isinstance(model, cls), f"{cls.__name__}.example() must return ({cls.__name__}, problem)"
    assert model.tying.label == tying, f"{cls.__name__}.example({tying!r}) built {model.tying.label}"
    for n in (model.n_layers, 2 * model.n_layers):
        out = leaves(model(problem, n_iter=n))
        assert out, f"{cls.__name__}: the output holds no tensor"
        assert all(torch.isfinite(o).all() for o in out), f"{cls.__name__}: non-finite output at {n} layers"


def check_gradcheck(cls: type[Unroller]) -> None:
    model, problem = cls.example("untied")
    model, problem = to_double(model), to_double(problem)
    with torch.no_grad():
        state = model.step(model.init(problem), model.theta(0), problem)
    names = _trainable(model)

    def outputs(*raws: torch.Tensor) -> list[torch.Tensor]:
        theta = dict(model.theta(1))
        theta.update({k: model.constraints[k].forward(r) for k, r in zip(names, raws)})
        return leaves(model.step(state, Theta(theta), problem))

    group = model.tying.group(1, model.n_layers)
    raws = [model.raw[k][group].detach().clone().requires_grad_() for k in names]
    live = [i for i, o in enumerate(outputs(*raws)) if o.requires_grad]
    assert live, f"{cls.__name__}: no output of a layer depends on its parameters"

    def layer(*raws: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = outputs(*raws)
        return tuple(out[i] for i in live)

    assert torch.autograd.gradcheck(layer, tuple(raws), eps=1e-6, atol=1e-5, rtol=1e-3,
                                    fast_mode=True)


def check_batch_consistency(cls: type[Unroller]) -> None:
    model, problem = cls.example("untied")
    with torch.no_grad():
        whole = leaves(model(problem))
        batch = whole[0].shape[0]
        assert batch >= 2, f"{cls.__name__}.example(): use a batch of 2-3 items, got {batch}"
        parts = [leaves(model(cls.batch_slice(problem, slice(i, i + 1), batch)))
                 for i in range(batch)]
    for j, w in enumerate(whole):
        torch.testing.assert_close(torch.cat([p[j] for p in parts]), w, rtol=1e-4, atol=1e-5,
                                   msg=lambda m: f"{cls.__name__}: items of a batch interact: {m}")


def _weighted_loss(out: Any, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    total = torch.zeros((), dtype=torch.float64)
    for o in leaves(out):
        if o.is_floating_point() or o.is_complex():
            w = torch.randn(o.shape, generator=g, dtype=torch.float64)
            total = total + (w * (o.abs() if o.is_complex() else o)).sum()
    return total


def _grads(model: Unroller, problem: Any) -> dict[str, torch.Tensor]:
    model.zero_grad()
    _weighted_loss(model(problem)).backward()
    return {k: (r.grad if r.grad is not None else torch.zeros_like(r))
            for k, r in model.raw.items() if r.requires_grad}


def tied_is_trainable(cls: type[Unroller]) -> bool:
    """Whether the tied example has trainable declared parameters (deep NMF's tied model is
    the frozen classical algorithm, so the tied-vs-untied check does not apply to it)."""
    return any(r.requires_grad for r in cls.example("tied")[0].raw.values())


def _close(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    """float64 equality up to rounding, with ``what`` in the message."""
    if not torch.allclose(actual, expected, rtol=1e-6, atol=1e-9):
        err = float((actual - expected).abs().max())
        raise AssertionError(f"{what} (max abs difference {err:.3g})")


def check_tied_gradient(cls: type[Unroller]) -> None:
    """Raises AssertionError on a mismatch; see ``tied_is_trainable`` for when it applies."""
    tied, problem = cls.example("tied")
    untied, _ = cls.example("untied")
    tied, untied, problem = to_double(tied), to_double(untied), to_double(problem)
    untied.load_state_dict({k: v for k, v in tied.state_dict().items() if not k.startswith("raw.")},
                           strict=False)
    with torch.no_grad():
        for k, r in tied.raw.items():
            untied.raw[k].copy_(r[0].expand_as(untied.raw[k]))
    g_tied, g_untied = _grads(tied, problem), _grads(untied, problem)
    assert set(g_tied) == set(g_untied)
    _trainable(tied)
    for k in g_tied:
        _close(g_untied[k].sum(0), g_tied[k][0], f"{cls.__name__}: tied gradient of {k} != "
               "the sum over layers of the untied one")


def check_backprop_equivalence(cls: type[Unroller]) -> None:
    model, problem = cls.example("untied")
    model, problem = to_double(model), to_double(problem)
    _trainable(model)
    model.backprop = Full()
    full = _grads(model, problem)
    for strategy in (Truncated(model.n_layers), Checkpointed()):
        model.backprop = strategy
        got = _grads(model, problem)
        for k in full:
            _close(got[k], full[k], f"{cls.__name__}: {strategy.describe()} gradient of {k} != "
                   "the full one")


def check_config_round_trip(recipe: Recipe) -> None:
    for quick in (False, True):
        cfg = recipe.resolve(quick=quick)
        assert hasattr(cfg, "train"), f"recipe {recipe.name}: the config needs a train section"
        assert from_dict(recipe, to_dict(cfg)) == cfg, f"recipe {recipe.name}: config round trip"


def check_smoke_run(plugin: Plugin, recipe: Recipe, overrides: Sequence[str] = (),
                    folder: Path | None = None) -> Path:
    """The quick variant with ``overrides`` trained, evaluated and reported on the CPU."""
    import json

    from unfold.run import execute, prepare_run_dir, validate_run

    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="unfold-smoke-"))
    cfg = recipe.resolve(quick=True, overrides=list(overrides))
    task = recipe.task()
    validate_run(task, cfg, recipe.tyings)
    run_dir = prepare_run_dir(folder / recipe.name, recipe.name, resume=False)
    execute(plugin, recipe, cfg, run_dir, "cpu", quick=True, progress=False, task=task)
    results = json.loads((run_dir / "results.json").read_text())
    metric = results["primary_metric"]
    assert results["methods"], f"recipe {recipe.name}: no method was evaluated"
    assert all(metric in r["metrics"] for r in results["methods"]), \
        f"recipe {recipe.name}: a method lacks the primary metric {metric!r}"
    assert (run_dir / "report.md").is_file()
    return run_dir


UNROLLER_CHECKS: tuple[Callable[[type[Unroller]], None], ...] = (
    check_example, check_gradcheck, check_batch_consistency, check_tied_gradient,
    check_backprop_equivalence)


def contract_tests(plugin: Plugin, smoke: Mapping[str, Sequence[str]] | None = None,
                   unrollers: Mapping[str, type[Unroller]] | None = None) -> type:
    """A pytest test class checking every unroller and recipe of ``plugin``.

    ``smoke``: recipe name -> ``--set`` overrides of its quick variant for a smoke run (empty
    by default: a quick run may take minutes). ``unrollers``: instead of ``plugin.unrollers``.
    """
    import pytest

    classes = dict(unrollers if unrollers is not None else plugin.unrollers)
    by_unroller = pytest.mark.parametrize("cls", list(classes.values()), ids=list(classes))
    by_recipe = pytest.mark.parametrize("recipe", plugin.recipes, ids=[r.name for r in plugin.recipes])
    runs = dict(smoke or {})

    class TestContract:
        @pytest.mark.parametrize("tying", ["tied", "untied"])
        @by_unroller
        def test_example(self, cls: type[Unroller], tying: str) -> None:
            check_example(cls, tying)

        @by_unroller
        def test_one_layer_gradcheck_float64(self, cls: type[Unroller]) -> None:
            check_gradcheck(cls)

        @by_unroller
        def test_batch_consistency(self, cls: type[Unroller]) -> None:
            check_batch_consistency(cls)

        @by_unroller
        def test_tied_gradient_is_sum_of_untied(self, cls: type[Unroller]) -> None:
            if not tied_is_trainable(cls):
                pytest.skip(f"{cls.__name__}: the tied model has no trainable parameter")
            check_tied_gradient(cls)

        @by_unroller
        def test_backprop_strategies_agree(self, cls: type[Unroller]) -> None:
            check_backprop_equivalence(cls)

        @by_recipe
        def test_config_round_trip(self, recipe: Recipe) -> None:
            check_config_round_trip(recipe)

    if runs:
        @pytest.mark.parametrize("name", list(runs), ids=list(runs))
        def test_smoke_run(self: Any, name: str, tmp_path: Path) -> None:
            check_smoke_run(plugin, plugin.recipe(name), runs[name], tmp_path)

        TestContract.test_smoke_run = test_smoke_run  # type: ignore[attr-defined]
    TestContract.__name__ = TestContract.__qualname__ = "TestContract"
    TestContract.__doc__ = f"unfold's contract tests for plugin {plugin.name!r}"
    return TestContract
