"""Checkpoints: the one writer, the one loader (``unfold.load``), and what they refuse."""

import ast
import os
from pathlib import Path

import pytest
import torch
from importlib_metadata import EntryPoint

import unfold
from unfold import checkpoint
from unfold.errors import CheckpointError, UnfoldError
from unfold.plugin import Registry
from unfold.recipe import to_dict

ROOT = Path(__file__).resolve().parents[2]
TINY = ["data.n_train=20", "data.n_valid=10", "data.n_test=10", "model.n_layers=3"]


@pytest.fixture
def registry(tutorial):
    return Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])


def saved_model(tutorial, path, tying="untied", plugin="lista-tutorial", recipe="lista", edit=None):
    cfg = tutorial.lista.resolve(overrides=TINY)
    torch.manual_seed(0)
    model = tutorial.SparseCoding().build_model(cfg, tying)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    ck = checkpoint.build(model, plugin=plugin, recipe=recipe, tying=tying, config=to_dict(cfg),
                          epoch=4)
    if edit:
        edit(ck)
    checkpoint.save_atomic(ck, path)
    return model


def test_every_torch_load_in_the_project_passes_weights_only_true():
    calls = []
    for folder in ("unfold", "unfold_plugins", "benchmarks", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "load" and isinstance(node.func.value, ast.Name)
                        and node.func.value.id == "torch"):
                    kw = {k.arg: k.value for k in node.keywords}
                    ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
                    calls.append((f"{path.relative_to(ROOT)}:{node.lineno}", ok))
    assert len(calls) >= 3, calls  # checkpoint.read, the deep-nmf bases cache, the dpr generator
    assert [c for c, ok in calls if not ok] == []


def test_load_returns_the_model_ready_to_run_with_its_origin(tutorial, registry, tmp_path):
    ref = saved_model(tutorial, tmp_path / "ck.pt")
    model = unfold.load(tmp_path / "ck.pt", registry=registry)
    assert isinstance(model, unfold.Unroller) and not model.training
    for a, b in zip(model.state_dict().values(), ref.state_dict().values()):
        torch.testing.assert_close(a, b)
    info = checkpoint.info(model)
    assert (info.plugin, info.recipe.name, info.tying, info.epoch) == ("lista-tutorial", "lista",
                                                                        "untied", 4)
    assert info.config == tutorial.lista.resolve(overrides=TINY)
    assert info.versions["unfold"] == unfold.__version__
    problem, _ = info.task.problem(next(iter(torch.utils.data.DataLoader(
        info.task.datasets(info.config)["test"], batch_size=4))), info.config, torch.device("cpu"))
    torch.testing.assert_close(model(problem), ref.eval()(problem))


@pytest.mark.parametrize("case, message", [
    ("plugin", "is a checkpoint of plugin 'lista-tutorial' (recipe 'lista'), not admm-pr"),
    ("recipe", "is a checkpoint of recipe 'lista', not 'other'"),
    ("nan", "holds NaN or inf weights"),
    ("inf", "holds NaN or inf weights"),
    ("unknown-plugin", "cannot be rebuilt: unknown plugin 'gone'"),
    ("unknown-recipe", "has no recipe 'gone'"),
    ("bad-config", "config its recipe refuses"),
    ("shape", "does not fit the model its config builds"),
    ("no-marker", "not an unfold checkpoint"),
    ("lacks", "lacks tying"),
])
def test_load_refusals_are_one_line_checkpoint_errors(tutorial, registry, tmp_path, case, message):
    def edit(ck):
        if case in ("nan", "inf"):
            key = next(iter(ck["model"]))
            ck["model"][key] = ck["model"][key].clone().fill_(float(case))
        elif case == "unknown-plugin":
            ck["plugin"] = "gone"
        elif case == "unknown-recipe":
            ck["recipe"] = "gone"
        elif case == "bad-config":
            ck["config"]["train"]["lr"] = float("inf")
        elif case == "shape":
            ck["config"]["model"]["n_layers"] = 5
        elif case == "no-marker":
            ck["format"] = "something-else"
        elif case == "lacks":
            del ck["tying"]

    saved_model(tutorial, tmp_path / "ck.pt", edit=edit)
    kwargs = {"plugin": "admm-pr"} if case == "plugin" else {"recipe": "other"} if case == "recipe" else {}
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(tmp_path / "ck.pt", registry=registry, **kwargs)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, UnfoldError) and isinstance(e.value, ValueError)


def _planted_function_pickle():
    return {"format": checkpoint.FORMAT, "model": {}, "config": {}, "plugin": "p", "recipe": "r",
            "tying": "tied", "hook": os.getcwd}


def test_a_pickle_holding_a_function_is_refused_as_unsafe_not_corrupt(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save(_planted_function_pickle(), evil)
    with pytest.raises(CheckpointError, match="refused as unsafe: it asks for .*getcwd") as e:
        checkpoint.read(evil)
    assert "corrupt" not in str(e.value)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(b"\x80\x02not really a pickle")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        checkpoint.read(cut)


def test_build_is_the_one_writer_and_keeps_extra_keys(tutorial):
    model = tutorial.SparseCoding().build_model(tutorial.lista.resolve(overrides=TINY), "tied")
    ck = checkpoint.build(model, plugin="p", recipe="r", tying="tied", config={"a": 1}, epoch=3)
    assert ck["format"] == checkpoint.FORMAT and ck["epoch"] == 3 and set(checkpoint.REQUIRED) <= set(ck)
    assert ck["versions"]["torch"] == str(torch.__version__)
    with pytest.raises(TypeError, match="set by build itself"):
        checkpoint.build(model, plugin="p", recipe="r", tying="t", config={}, versions={})


def test_info_of_a_model_not_loaded_by_unfold_load(tutorial):
    model = tutorial.SparseCoding().build_model(tutorial.lista.resolve(overrides=TINY), "tied")
    with pytest.raises(TypeError, match="not loaded by unfold.load"):
        checkpoint.info(model)
