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
import shutil
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from unfold import checkpoint, distributed
from unfold import recipe as recipes
from unfold.backprop import parse_backprop
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
from unfold.rundir import RunDirError, check_run_dir, prepare_run_dir, tying_dirname
from unfold.runtime import tune_allocator
from unfold.stats import paired_differences
from unfold.task import Task, draw_figures
from unfold.train import History, Trainer, resolve_device, seed_everything
from unfold.unroller import Tying, Unroller

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
    seed: int | None = None,
    resume: bool = False,
    progress: bool = True,
    tyings: tuple[str, ...] | None = None,
    dry_run: bool = False,
) -> Path:
    """Resolve, validate, train, evaluate and report one recipe; returns the run directory.

    Everything a run can check is checked before its directory is made: the config, the data
    folders (``*.root`` keys), every tying's model (built once, with ``train.backprop`` set) and
    the output location. ``dry_run=True`` stops there, writes nothing and returns the directory
    the run would use. A new run that fails before its first checkpoint removes its directory.
    ``seed`` defaults to 0 (a new run) or the saved one (``resume``, where another is refused).
    """
    plugin, recipe = registry.recipe(name)
    if resume and overrides:
        raise RunDirError("--resume continues a run with its saved config; drop --set")
    if seed is not None and not 0 <= seed < 2**63:
        raise recipes.ConfigError(f"--seed must be an integer in [0, 2**63), got {seed}")
    label = name + ("-quick" if quick else "")
    task = recipe.task()
    if resume:
        run_dir = check_run_dir(out, label, resume=True)
        saved = checkpoint.read_run_config(run_dir)
        checkpoint.check_resume_flags(saved, seed, tyings)
        cfg = recipes.from_dict(recipe, saved["config"])
        quick, seed = saved["quick"], saved["seed"]
        tyings = tuple(saved.get("tyings", recipe.tyings))
    else:
        seed = 0 if seed is None else seed
        cfg = recipe.resolve(quick=quick, overrides=overrides)  # before any data
        tyings = tuple(tyings or recipe.tyings)
    validate_run(task, cfg, tyings)
    if dry_run:
        return check_run_dir(out, label, resume)
    dev = distributed.setup(resolve_device(device))
    existed = out is not None and Path(out).exists()
    run_dir = _shared_run_dir(out, label, resume)
    try:
        if not resume and distributed.is_main():
            write_json(run_dir / "config.json", {
                "recipe": name, "plugin": plugin.name, "quick": quick, "seed": seed,
                "tyings": list(tyings), "config": recipes.to_dict(cfg)})
        return execute(plugin, recipe, cfg, run_dir, dev, seed, quick, tyings, resume, progress,
                       task=task)
    except BaseException:
        if not resume and distributed.is_main() and not any((run_dir / "checkpoints").rglob("*.pt")):
            _remove_run(run_dir, keep_dir=existed)  # nothing to --resume: leave nothing behind
        raise
    finally:
        distributed.shutdown()


def _remove_run(run_dir: Path, keep_dir: bool) -> None:
    """Delete what a failed run wrote; the folder itself too unless it existed (empty) before."""
    if not keep_dir:
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    for child in run_dir.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def validate_run(task: Task, cfg: Any, tyings: tuple[str, ...]) -> None:
    """What a run checks before it writes anything: data folders, tyings, each tying's model."""
    recipes.check_paths(cfg)
    for t in tyings:
        Tying.parse(t)
    for t in tyings:
        try:
            build_model(task, cfg, t)
        except ValueError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise recipes.ConfigError(f"the {t} model cannot be built from this config: "
                                      f"{first}") from e


def build_model(task: Task, cfg: Any, tying: str) -> Unroller:
    """``task.build_model`` with the core's ``train.backprop`` strategy set on the model."""
    model = task.build_model(cfg, tying)
    model.backprop = parse_backprop(cfg.train.backprop)
    return model


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
            progress: bool = True, task: Task | None = None) -> Path:
    """Train every tying of a resolved config, evaluate, and write the run into ``run_dir``.

    ``task``: the recipe's task instance to use (default: a new one from ``recipe.task()``).
    """
    dev = resolve_device(dev) if isinstance(dev, str) else dev
    tyings = tuple(tyings or recipe.tyings)
    tune_allocator()  # keep freed training buffers in the process (unfold/runtime.py)
    seed_everything(seed)
    task = task if task is not None else recipe.task()
    data = task.datasets(cfg)
    missing = {"train", "valid", "test"} - set(data)
    if missing:
        raise ValueError(f"task of recipe {recipe.name!r} gave no {sorted(missing)} split")
    trained: dict[str, Trained[Any]] = {}
    csv_path = run_dir / "metrics.csv"
    for tying in tyings:
        seed_everything(seed)
        model = build_model(task, cfg, tying)
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
                           h.stopped_early, t.model.backprop.describe())


def _write_metrics_csv(path: Path, histories: Mapping[str, History]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "epoch", "train_loss", "val_loss", "lr", "seconds"])
        for tying, h in histories.items():
            for e in h.epochs:
                d = asdict(e)
                w.writerow([tying, d["epoch"] + 1, d["train_loss"], d["val_loss"], d["lr"], d["seconds"]])
