"""unfold show, run --dry-run, run --help, validation before the run directory, train.backprop."""

from __future__ import annotations

import dataclasses
import json
import warnings

import pytest
from importlib_metadata import EntryPoint

from unfold import cli
from unfold.backprop import Truncated
from unfold.plugin import Registry
from unfold.recipe import ConfigError, Recipe, describe, field_help, from_dict, to_dict
from unfold.run import build_model, run_recipe

TINY = ["data.n_train=40", "data.n_valid=10", "data.n_test=10", "model.n_layers=2",
        "train.epochs=1", "train.batch_size=20"]


@pytest.fixture
def registry(tutorial, monkeypatch):
    reg = Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])
    monkeypatch.setattr(cli, "Registry", lambda: reg)
    return reg


def test_show_prints_every_key_with_value_type_default_and_help(registry, capsys, tmp_path,
                                                                  monkeypatch):
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    assert cli.main(["show", "lista", "--quick", "--set", "train.lr=0.02"]) == 0
    out = capsys.readouterr().out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.strip()}
    recipe = registry.recipe("lista")[1]
    for entry in describe(recipe, recipe.resolve()):
        assert entry.key in lines, entry.key
    assert lines["train.lr"].split()[1:5] == ["*", "0.02", "float", "0.001"]
    assert "learning rate" in lines["train.lr"]
    assert lines["data.n_train"].split()[1:5] == ["*", "500", "int", "2000"]
    assert lines["train.backprop"].split()[1:4] == ["full", "str", "full"]
    assert "tyings: tied, untied" in out
    assert not any((tmp_path / "cwd").iterdir())


@dataclasses.dataclass
class Section:
    a: int = 1  # the a
    # the b, from the line
    # above it
    b: float | None = None
    c: tuple[int, ...] = dataclasses.field(default=(1,), metadata={"help": "the c"})


@dataclasses.dataclass
class SectionConfig:
    s: Section = dataclasses.field(default_factory=Section)


def test_describe_reads_help_from_metadata_and_comments():
    assert field_help(Section) == {"a": "the a", "b": "the b, from the line above it", "c": "the c"}
    recipe = Recipe("r", task=object, config=SectionConfig)
    cfg = recipe.resolve(overrides=["s.a=3"])
    entries = {e.key: e for e in describe(recipe, cfg)}
    assert (entries["s.a"].value, entries["s.a"].default, entries["s.a"].type) == (3, 1, "int")
    assert entries["s.b"].type == "float | None" and entries["s.c"].type == "tuple[int, ...]"


def test_run_help_lists_the_recipes(registry, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "recipes (" in out and "lista" in out and "LISTA vs ISTA" in out


def test_dry_run_validates_and_writes_nothing(registry, capsys, tmp_path):
    out = tmp_path / "runs" / "r"
    sets = [a for s in TINY for a in ("--set", s)]
    assert cli.main(["run", "lista", "--dry-run", "--out", str(out), *sets]) == 0
    assert "nothing was written" in capsys.readouterr().out
    assert not (tmp_path / "runs").exists()
    (out).mkdir(parents=True)
    (out / "x").write_text("")
    assert cli.main(["run", "lista", "--dry-run", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("bad, match", [
    ("train.backprop=sideways", "train.backprop: unknown backprop 'sideways'; allowed: full"),
    ("train.weight_decay=-1", "train.weight_decay must be >= 0"),
])
def test_bad_config_leaves_nothing_behind(registry, tmp_path, bad, match):
    with pytest.raises(ConfigError, match=match):
        run_recipe(registry, "lista", overrides=[*TINY, bad], out=tmp_path / "r", device="cpu")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("bad, match", [
    ("eval.depths=[-5]", r"eval.depths must hold values >= 1, got \[-5\]"),
    ("data.root=/no/such/folder", "data.root: /no/such/folder does not exist"),
    ("train.backprop=truncated:0", "train.backprop: bad backprop"),
])
def test_plugin_config_errors_leave_nothing_behind(tmp_path, bad, match):
    with pytest.raises(ConfigError, match=match):
        run_recipe(Registry(), "cp-dequant", quick=True, overrides=[bad], out=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_a_model_that_cannot_be_built_fails_before_the_run_directory(registry, tutorial, tmp_path,
                                                                       monkeypatch):
    def broken(self, cfg, tying):
        raise ValueError(f"tying {tying} is not supported")

    monkeypatch.setattr(tutorial.SparseCoding, "build_model", broken)
    with pytest.raises(ConfigError, match="the tied model cannot be built.*not supported"):
        run_recipe(registry, "lista", overrides=TINY, out=tmp_path / "r", device="cpu")
    assert not (tmp_path / "r").exists()


def test_bad_seed_leaves_nothing(registry, tmp_path):
    with pytest.raises(ConfigError, match="--seed"):
        run_recipe(registry, "lista", overrides=TINY, out=tmp_path / "r", seed=-1)
    assert not (tmp_path / "r").exists()


def test_failure_before_the_first_checkpoint_removes_the_run(registry, tutorial, tmp_path,
                                                             monkeypatch):
    def no_data(self, cfg):
        raise FileNotFoundError("the data went missing")

    monkeypatch.setattr(tutorial.SparseCoding, "datasets", no_data)
    with pytest.raises(FileNotFoundError):
        run_recipe(registry, "lista", overrides=TINY, out=tmp_path / "r", device="cpu",
                   progress=False)
    assert not (tmp_path / "r").exists()
    (tmp_path / "empty").mkdir()  # a folder the user made is kept, emptied
    with pytest.raises(FileNotFoundError):
        run_recipe(registry, "lista", overrides=TINY, out=tmp_path / "empty", device="cpu",
                   progress=False)
    assert (tmp_path / "empty").is_dir() and not any((tmp_path / "empty").iterdir())


def test_failure_after_a_checkpoint_keeps_the_run_for_resume(registry, tutorial, tmp_path,
                                                             monkeypatch):
    def broken_metrics(self, output, target, problem, cfg):
        raise RuntimeError("metric bug")

    monkeypatch.setattr(tutorial.SparseCoding, "metrics", broken_metrics)
    with pytest.raises(RuntimeError, match="metric bug"):
        run_recipe(registry, "lista", overrides=TINY, out=tmp_path / "r", device="cpu",
                   progress=False)
    assert (tmp_path / "r" / "config.json").is_file()
    assert (tmp_path / "r" / "checkpoints" / "tied" / "last.pt").is_file()


def test_backprop_is_applied_recorded_and_reported(registry, tutorial, tmp_path):
    cfg = tutorial.lista.resolve(overrides=[*TINY, "train.backprop=truncated:1"])
    model = build_model(tutorial.SparseCoding(), cfg, "untied")
    assert isinstance(model.backprop, Truncated) and model.backprop.b == 1
    out = run_recipe(registry, "lista", overrides=[*TINY, "train.backprop=truncated:1"],
                     out=tmp_path / "r", device="cpu", progress=False)
    training = json.loads((out / "results.json").read_text())["training"]
    assert {t["backprop"] for t in training.values()} == {"truncated(1)"}
    assert "| tied | truncated(1) |" in (out / "report.md").read_text()


def test_saved_model_backprop_is_read_as_train_backprop():
    _, recipe = Registry().recipe("admm-pr")
    saved = to_dict(recipe.resolve())
    saved["model"]["backprop"] = "truncated:5"  # as configs saved before the move hold it
    del saved["train"]["backprop"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = from_dict(recipe, saved)
    assert cfg.train.backprop == "truncated:5"
    assert any("model.backprop is now train.backprop" in str(w.message) for w in caught)
