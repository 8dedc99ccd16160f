"""The Python API (unfold.run_recipe, unfold.compare_plugins, RunResult) and the guide's example."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from importlib_metadata import EntryPoint

import unfold
from unfold.api import RunResult
from unfold.plugin import Registry

ROOT = Path(__file__).resolve().parents[2]

TINY = {"data.n_train": 40, "data.n_valid": 10, "data.n_test": 10, "train.epochs": 1,
        "model.n_layers": 2, "train.batch_size": 20}


@pytest.fixture
def registry(tutorial):
    return Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])


def test_run_recipe_returns_the_typed_results(registry, tmp_path):
    res = unfold.run_recipe("lista", quick=True, overrides={**TINY, "train.backprop": "truncated:1"},
                            tying=["tied"], out=tmp_path / "r", device="cpu", registry=registry)
    assert isinstance(res, RunResult) and res.run_dir == tmp_path / "r"
    assert res.primary_metric == "nmse_db" and res.higher_is_better is False
    assert set(res.training) == {"tied"} and res.training["tied"].backprop == "truncated(1)"
    ista = [m for m in res.methods if m.name == "ISTA"]
    assert [m.iterations for m in ista] == [2, 8, 32]
    best = res.best()
    assert best.mean("nmse_db") == min(m.mean("nmse_db") for m in res.methods)
    assert res.method("LISTA", 2, "tied").label == "LISTA tied-2"
    with pytest.raises(KeyError, match="the run has: ISTA-2"):
        res.method("LISTA")  # at 2 and 4 layers: ambiguous
    assert "| LISTA | tied | 2 |" in res.table()
    assert RunResult.read(res.run_dir) == res


def test_run_recipe_validates_like_the_command(registry, tmp_path):
    with pytest.raises(ValueError, match="unknown config key 'model.nope'"):
        unfold.run_recipe("lista", overrides=["model.nope=1"], out=tmp_path / "r", registry=registry)
    assert not (tmp_path / "r").exists()


def test_the_guides_example_runs(tutorial_site, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(tutorial_site))  # the tutorial installed as a distribution
    monkeypatch.chdir(tmp_path)
    guide = (ROOT / "docs" / "guide.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", guide, re.S) if "run_recipe" in b)
    try:
        exec(compile(block, "docs/guide.md", "exec"), {"__name__": "guide"})
    finally:
        sys.modules.pop("lista_tutorial", None)
    out = capsys.readouterr().out
    assert "| LISTA | untied | 2 |" in out and "full" in out
    assert "('LISTA', 'untied'," in out and "('LISTA', 'tied'," in out
