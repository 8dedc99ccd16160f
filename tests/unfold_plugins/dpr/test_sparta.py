"""SPARTA's sparsity s: chosen by the mean MSE on the valid split at each m, never on test."""

import math

import pytest
import torch

from unfold_plugins.dpr import plugin
from unfold_plugins.dpr.config import at_m
from unfold_plugins.dpr.metrics import mse
from unfold_plugins.dpr.sparta import SPARTA, SparsityChoice
from unfold_plugins.dpr.task import DPRTask

TINY = ["generator.epochs=1", "data.n_valid=6", "data.n_test=4", "data.restarts=1",
        "eval.sparta_iterations=20", "eval.sparsity_grid=[2,4,8]", "train.batch_size=4"]


def test_best_is_the_lowest_valid_error_ties_to_the_smaller_s_nan_last():
    c = SparsityChoice.best(128, {4: 0.3, 16: 0.1, 8: 0.1, 32: math.nan}, items=10)
    assert c.s == 8 and c.m == 128 and c.items == 10
    assert "s = 8" in c.note() and "10 valid-split problems" in c.note() and "s=32: nan" in c.note()
    assert SparsityChoice.best(64, {8: math.nan, 4: math.nan}, 1).s == 4
    assert "fixed by eval.sparsity" in SparsityChoice(64, 16).note()
    with pytest.raises(ValueError, match="at least one candidate"):
        SparsityChoice.best(64, {}, 0)


def _recording(task, monkeypatch):
    calls = []
    split = task.split

    def recorded(cfg, name, ms=None, count=None):
        calls.append((name, ms))
        return split(cfg, name, ms, count)

    monkeypatch.setattr(task, "split", recorded)
    return calls


def test_task_chooses_s_on_valid_problems_at_that_m_only(monkeypatch):
    cfg = plugin.recipe("dpr-sweep").resolve(overrides=TINY)  # data.m_train: the sweep's m
    task = DPRTask()
    valid = task.split(cfg, "valid", ms=(32,))
    problem, y0 = task.problem(task.collate([valid[i] for i in range(6)]), cfg, torch.device("cpu"))
    calls = _recording(task, monkeypatch)
    choice = task.sparsity(at_m(cfg, 32), 32)
    assert calls == [("valid", (32,))]  # no test problem, and m = 32, not the training m
    assert choice.items == 6 and sorted(choice.valid_mse) == [2, 4, 8]
    with torch.no_grad():  # independent recomputation on the whole valid batch
        ref = {s: mse(SPARTA(sparsity=s)(problem, n_iter=20), y0).mean().item() for s in (2, 4, 8)}
    for s in ref:
        assert choice.valid_mse[s] == pytest.approx(ref[s], rel=1e-5)
    assert choice.s == min(ref, key=ref.get)
    task.sparsity(at_m(cfg, 32), 32)
    names = [m.name for m in task.methods(at_m(cfg, 32), {})]
    # SPARTA's choice is cached; CoPRAM's s is chosen the same way, on the same valid split
    assert calls == [("valid", (32,))] * 2 and f"SPARTA s={choice.s}" in names
    assert any(n.startswith("CoPRAM s=") for n in names)


def test_a_fixed_sparsity_skips_the_choice(monkeypatch):
    cfg = plugin.recipe("dpr").resolve(overrides=TINY + ["eval.sparsity=5"])
    task = DPRTask()
    calls = _recording(task, monkeypatch)
    assert task.sparsity(cfg, cfg.data.m) == SparsityChoice(128, 5)
    assert "SPARTA s=5" in [m.name for m in task.methods(cfg, {})] and not calls
