"""Running recipes: train every tying, evaluate every method, write the run directory.

A run directory holds ``config.json`` (re-runnable as is), ``results.json`` (shape below),
``metrics.csv`` (one row per model and epoch), ``checkpoints/<tying>/{last,best}.pt``,
``report.md`` and PNG figures. A run never overwrites an earlier run directory; ``resume=True``
continues the one given.

``results.json``: the shape documented in :mod:`unfold.results` (written from its typed
``RunResult``), with ``paired`` holding each trained method's difference to each classical method
at the same iterations on the primary metric (:mod:`unfold.stats`). ``per_item.json`` maps each
method's label to its per-item metric values.

After evaluation the task's hooks get a typed ``RunContext``: ``Task.notes`` before results.json
is written, then ``Task.figures``; report.md follows, with the learned parameters per layer of
every trained model.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from unfold import distributed
from unfold import recipe as recipes
from unfold.evaluate import evaluate
from unfold.plugin import Plugin, Registry
from unfold.recipe import Recipe
from unfold.results import (
    RunContext,
    RunResult,
    Trained,
    TrainingSummary,
    method_label,
    write_json,
)
from unfold.rundir import RunDirError, prepare_run_dir, tying_dirname
from unfold.stats import paired_differences
from unfold.task import draw_figures
from unfold.train import History, Trainer, resolve_device, seed_everything
from unfold.unroller import Tying

#: kept importable from here for one release; they live in unfold.results / .evaluate / .rundir
__all__ = ["RunDirError", "Trained", "evaluate", "execute", "method_label", "prepare_run_dir",
           "run_recipe", "write_json"]


def run_recipe(
    registry: Registry,
    name: str,
    quick: bool = False,
    overrides: list[str] | None = None,
    out: Path | None = None,
    device: str = "auto",
    seed: int = 0,
    resume: bool = False,
    progress: bool = True,
    tyings: tuple[str, ...] | None = None,
) -> Path:
    """Resolve, validate, train, evaluate and report one recipe; returns the run directory."""
    plugin, recipe = registry.recipe(name)
    dev = distributed.setup(resolve_device(device))
    if resume and overrides:
        raise RunDirError("--resume continues a run with its saved config; drop --set")
    cfg = None if resume else recipe.resolve(quick=quick, overrides=overrides)  # before any data
    run_dir = _shared_run_dir(out, name + ("-quick" if quick else ""), resume)
    if resume:
        saved = json.loads((run_dir / "config.json").read_text())
        cfg = recipes.from_dict(recipe, saved["config"])
        quick, seed = saved["quick"], saved["seed"]
        tyings = tuple(saved.get("tyings", recipe.tyings))
    else:
        tyings = tuple(tyings or recipe.tyings)
        for t in tyings:
            Tying.parse(t)  # a bad --tying fails before any data load
        if distributed.is_main():
            write_json(run_dir / "config.json", {
                "recipe": name, "plugin": plugin.name, "quick": quick, "seed": seed,
                "tyings": list(tyings), "config": recipes.to_dict(cfg)})
    try:
        return execute(plugin, recipe, cfg, run_dir, dev, seed, quick, tyings, resume, progress)
    finally:
        distributed.shutdown()


def _shared_run_dir(out: Path | None, name: str, resume: bool) -> Path:
    """Rank 0 prepares the run directory; every rank gets its path (or its error)."""
    result: tuple[str, str] = ("", "")
    if distributed.is_main():
        try:
            result = ("ok", str(prepare_run_dir(out, name, resume)))
        except RunDirError as e:
            result = ("error", str(e))
    result = distributed.broadcast(result)
    if result[0] == "error":
        raise RunDirError(result[1])
    return Path(result[1])


def execute(plugin: Plugin, recipe: Recipe, cfg: Any, run_dir: Path,
            dev: torch.device | str = "cpu", seed: int = 0, quick: bool = False,
            tyings: tuple[str, ...] | None = None, resume: bool = False,
            progress: bool = True) -> Path:
    """Train every tying of a resolved config, evaluate, and write the run into ``run_dir``."""
    dev = resolve_device(dev) if isinstance(dev, str) else dev
    tyings = tuple(tyings or recipe.tyings)
    seed_everything(seed)
    task = recipe.task()
    data = task.datasets(cfg)
    missing = {"train", "valid", "test"} - set(data)
    if missing:
        raise ValueError(f"task of recipe {recipe.name!r} gave no {sorted(missing)} split")
    trained: dict[str, Trained[Any]] = {}
    csv_path = run_dir / "metrics.csv"
    for tying in tyings:
        seed_everything(seed)
        model = task.build_model(cfg, tying)
        meta = {"plugin": plugin.name, "recipe": recipe.name, "tying": tying,
                "config": recipes.to_dict(cfg), "quick": quick, "seed": seed}
        trainer = Trainer(task, cfg, model, dev, run_dir / "checkpoints" / tying_dirname(tying),
                          meta, seed, progress)
        history = trainer.fit(data["train"], data["valid"], resume=resume, tag=tying)
        trained[tying] = Trained(model, history)
    if not distributed.is_main():  # rank 0 alone evaluates and writes the report
        return run_dir
    _write_metrics_csv(csv_path, {k: t.history for k, t in trained.items()})
    models = {k: t.model for k, t in trained.items()}
    methods = task.methods(cfg, models)
    rows, per_item = evaluate(task, cfg, methods, data["test"], dev, cfg.train.batch_size, trained)
    write_json(run_dir / "per_item.json", per_item)
    metric, higher = task.primary_metric, task.higher_is_better
    results = RunResult(
        recipe.name, plugin.name, quick, seed, dev.type, metric, recipes.to_dict(cfg), rows, higher,
        paired_differences(rows, per_item, metric, higher),
        {k: _training_summary(t) for k, t in trained.items()})
    ctx = RunContext(run_dir, results, per_item, {k: t.history for k, t in trained.items()}, cfg,
                     models, data["test"])
    results.notes.extend(task.notes(ctx))
    results.write(run_dir / "results.json")  # before figures: a failing figure loses no result
    written = list(results.notes)
    from unfold import report

    figures = report.standard_figures(ctx)
    figures += draw_figures(task, ctx)
    if results.notes != written:  # an old-style figures hook added notes to its results dict
        results.write(run_dir / "results.json")
    report.write_report(run_dir, results, figures)
    return run_dir


def _training_summary(t: Trained[Any]) -> TrainingSummary:
    h = t.history
    return TrainingSummary(t.model.n_layers, len(h.epochs), h.best_epoch, h.best_val, h.seconds,
                           h.stopped_early)


def _write_metrics_csv(path: Path, histories: Mapping[str, History]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "epoch", "train_loss", "val_loss", "lr", "seconds"])
        for tying, h in histories.items():
            for e in h.epochs:
                d = asdict(e)
                w.writerow([tying, d["epoch"] + 1, d["train_loss"], d["val_loss"], d["lr"], d["seconds"]])
