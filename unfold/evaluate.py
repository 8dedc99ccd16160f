"""Evaluating methods on a test set (``evaluate``), and ``unfold eval CKPT``: load a
checkpoint's model (``unfold.load``) and re-evaluate it.

Rows carry the names the run gave them (``Task.methods``); ``--iters`` re-runs each trained
method at other depths, ``--baselines`` adds the recipe's classical methods, and ``--set`` may
change ``data.*`` and ``eval.*`` keys (another data folder, other depths), never the model's.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from unfold import checkpoint
from unfold import recipe as recipes
from unfold.errors import ConfigError
from unfold.plugin import Registry
from unfold.report import methods_table
from unfold.results import MethodResult, Seconds, Summary, Trained
from unfold.task import Method, Task
from unfold.train import resolve_device
from unfold.unroller import Unroller

#: the sections ``unfold eval --set`` may change: what is evaluated on, not what was trained
EVAL_SECTIONS = ("data", "eval")


def evaluate(task: Task[Any], cfg: Any, methods: list[Method], test: Dataset,
             device: torch.device, batch_size: int, trained: Mapping[str, Trained[Any]] | None = None,
             ) -> tuple[list[MethodResult], dict[str, dict[str, list[float]]]]:
    """Run every method on every test batch: one result per method, and per-item values by
    ``MethodResult.label`` (every method sees the same items in the same order)."""
    loader = DataLoader(test, batch_size=batch_size, shuffle=False, collate_fn=task.collate)
    batches = [task.problem(b, cfg, device) for b in loader]
    rows, per_method = [], {}
    for m in methods:
        m.model.to(device).eval()
        values: dict[str, list[float]] = {}
        seconds, items = 0.0, 0
        with torch.no_grad():
            for problem, target in batches:
                t0 = time.perf_counter()
                out = m(problem)
                seconds += time.perf_counter() - t0
                per_item = task.metrics(out, target, problem, cfg)
                for k, v in per_item.items():
                    values.setdefault(k, []).extend(float(x) for x in v)
                items += len(next(iter(per_item.values()), []))
        owner = trained.get(m.tying) if trained and m.trained and m.tying else None
        rows.append(MethodResult(
            m.name, m.iterations, m.tying, m.trained, m.params,
            {k: Summary.of(v) for k, v in values.items()},
            Seconds(owner.history.seconds if owner else 0.0, seconds / max(items, 1))))
        per_method[rows[-1].label] = values
    return rows, per_method


def load_model(registry: Registry, path: Path, device: torch.device | str = "cpu"
               ) -> tuple[Unroller, Task, Any, str]:
    """(model with the checkpoint's weights, task, config, tying), by ``unfold.load``."""
    model = checkpoint.load(path, registry=registry, device=device)
    info = checkpoint.info(model)
    return model, info.task, info.config, info.tying


def apply_eval_overrides(cfg: Any, overrides: list[str]) -> None:
    """``--set`` of ``data.*`` / ``eval.*`` keys onto a checkpoint's config, validated."""
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        if key.split(".", 1)[0] not in EVAL_SECTIONS:
            raise ConfigError(
                f"unfold eval --set takes {' and '.join(s + '.*' for s in EVAL_SECTIONS)} keys only "
                f"(the model's come from the checkpoint), got {key!r}")
        recipes.set_key(cfg, key, recipes.parse_value(cfg, key, text))
    recipes.validate(cfg)
    recipes.check_paths(cfg)


def checkpoint_methods(task: Task, cfg: Any, model: Unroller, tying: str,
                       iters: list[int] | None, baselines: bool) -> list[Method]:
    """The run's methods for one trained model (names as in its report), optionally at ``iters``
    layers, plus the classical ones when ``baselines``."""
    listed = task.methods(cfg, {tying: model})
    trained = [m for m in listed if m.trained and m.model is model]
    if not trained:
        trained = [Method(type(model).__name__, model, model.n_layers, tying, trained=True)]
    if iters:
        names = list(dict.fromkeys(m.name for m in trained))
        trained = [Method(n, model, k, tying, trained=True) for n in names for k in iters]
    classical = [m for m in listed if not m.trained] if baselines else []
    return classical + trained


def evaluate_checkpoint(registry: Registry, path: Path, iters: list[int] | None, device: str,
                        overrides: list[str] | None = None, baselines: bool = False) -> str:
    """The methods table of the checkpoint's model (names as in its run) at ``iters`` layers
    (default: as the run evaluated it), with the classical methods when ``baselines``."""
    bad = [n for n in iters or [] if n < 1]
    if bad:
        raise ConfigError(f"--iters must be >= 1, got {bad[0]}")
    dev = resolve_device(device)
    model, task, cfg, tying = load_model(registry, path, dev)
    apply_eval_overrides(cfg, overrides or [])
    test = task.datasets(cfg)["test"]
    methods = checkpoint_methods(task, cfg, model, tying, iters, baselines)
    rows, _ = evaluate(task, cfg, methods, test, dev, cfg.train.batch_size)
    # the training time is not known here (the run's report.md has it)
    rows = [dataclasses.replace(r, seconds=Seconds(None, r.seconds.infer_per_item)) for r in rows]
    return methods_table(rows)
