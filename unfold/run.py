"""Running recipes: train every tying, evaluate every method, write the run directory.

A run directory holds ``config.json`` (re-runnable as is), ``results.json`` (shape below),
``metrics.csv`` (one row per model and epoch), ``checkpoints/<tying>/{last,best}.pt``,
``report.md`` and PNG figures. A run never overwrites an earlier run directory; ``resume=True``
continues the one given.

``results.json``::

    {"recipe", "plugin", "quick", "seed", "device", "primary_metric", "higher_is_better",
     "config": {...},
     "methods": [{"name", "iterations", "tying", "trained", "params",
                  "metrics": {metric: {"mean", "median", "q1", "q3", "n"}},
                  "seconds": {"train", "infer_per_item"}}],
     "training": {tying: {"n_layers", "backprop", "epochs", "best_epoch", "best_val_loss",
                          "seconds", "stopped_early"}}}
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from unfold import distributed
from unfold import recipe as recipes
from unfold.backprop import parse_backprop
from unfold.metrics import summarize
from unfold.plugin import Plugin, Registry
from unfold.recipe import Recipe
from unfold.task import Method, Task
from unfold.train import History, Trainer, resolve_device, seed_everything
from unfold.unroller import Tying, Unroller


class RunDirError(ValueError):
    """An output directory that cannot be used (exists, not writable, nothing to resume)."""


def tying_dirname(tying: str) -> str:
    return tying.replace(":", "-")


def prepare_run_dir(out: Path | None, name: str, resume: bool) -> Path:
    """A fresh directory for a new run, or the existing one to resume; never an overwrite."""
    out = check_run_dir(out, name, resume)
    if resume:
        return out
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise RunDirError(f"output directory {out} is not writable ({e.strerror or e})") from None
    return out


def _writable_parent(path: Path) -> None:
    """The nearest existing ancestor of ``path`` is a folder this process may write into."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise RunDirError(f"output directory {path} is not writable ({parent} is not a "
                          "writable folder)")


def check_run_dir(out: Path | None, name: str, resume: bool) -> Path:
    """The directory a run would use, checked as ``prepare_run_dir`` does; creates nothing."""
    if out is None:
        if resume:
            raise RunDirError("--resume needs --out DIR naming the run to continue")
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{name}-{stamp}"
        i = 1
        while out.exists():
            out, i = Path("runs") / f"{name}-{stamp}-{i}", i + 1
    out = Path(out)
    if resume:
        if not (out / "config.json").is_file():
            raise RunDirError(f"cannot resume: {out} holds no run (no config.json)")
        return out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunDirError(f"output directory {out} already exists and is not empty; "
                          "choose another --out or pass --resume to continue that run")
    _writable_parent(out)
    return out


def write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=float) + "\n")
    os.replace(tmp, path)


@dataclass
class Trained:
    model: Unroller
    history: History


def evaluate(task: Task, cfg: Any, methods: list[Method], test: Dataset, device: torch.device,
             batch_size: int, trained: Mapping[str, Trained] | None = None,
             ) -> tuple[list[dict[str, Any]], dict[str, dict[str, list[float]]]]:
    """Run every method on every test batch: summarised rows, and per-item values by label."""
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
        train_s = owner.history.seconds if owner else 0.0
        rows.append({
            "name": m.name, "iterations": m.iterations, "tying": m.tying, "trained": m.trained,
            "params": m.params, "metrics": {k: summarize(v) for k, v in values.items()},
            "seconds": {"train": train_s, "infer_per_item": seconds / max(items, 1)},
        })
        per_method[method_label(rows[-1])] = values
    return rows, per_method


def method_label(row: Mapping[str, Any]) -> str:
    tying = f" {row['tying']}" if row.get("tying") else ""
    return f"{row['name']}{tying}-{row['iterations']}"


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
    dry_run: bool = False,
) -> Path:
    """Resolve, validate, train, evaluate and report one recipe; returns the run directory.

    Everything a run can check is checked before its directory is made: the config, the data
    folders (``*.root`` keys), every tying's model (built once, with ``train.backprop`` set) and
    the output location. ``dry_run=True`` stops there, writes nothing and returns the directory
    the run would use. A new run that fails before its first checkpoint removes its directory.
    """
    plugin, recipe = registry.recipe(name)
    if resume and overrides:
        raise RunDirError("--resume continues a run with its saved config; drop --set")
    if not 0 <= seed < 2**63:
        raise recipes.ConfigError(f"--seed must be an integer in [0, 2**63), got {seed}")
    label = name + ("-quick" if quick else "")
    task = recipe.task()
    if resume:
        run_dir = check_run_dir(out, label, resume=True)
        saved = json.loads((run_dir / "config.json").read_text())
        cfg = recipes.from_dict(recipe, saved["config"])
        quick, seed = saved["quick"], saved["seed"]
        tyings = tuple(saved.get("tyings", recipe.tyings))
    else:
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
    seed_everything(seed)
    task = task if task is not None else recipe.task()
    data = task.datasets(cfg)
    missing = {"train", "valid", "test"} - set(data)
    if missing:
        raise ValueError(f"task of recipe {recipe.name!r} gave no {sorted(missing)} split")
    trained: dict[str, Trained] = {}
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
    methods = task.methods(cfg, {k: t.model for k, t in trained.items()})
    rows, per_item = evaluate(task, cfg, methods, data["test"], dev, cfg.train.batch_size, trained)
    write_json(run_dir / "per_item.json", per_item)
    results = {"recipe": recipe.name, "plugin": plugin.name, "quick": quick, "seed": seed,
               "device": dev.type, "primary_metric": task.primary_metric,
               "higher_is_better": bool(getattr(task, "higher_is_better", True)),
               "config": recipes.to_dict(cfg), "methods": rows,
               "training": {k: _training_summary(t) for k, t in trained.items()}}
    write_json(run_dir / "results.json", results)
    from unfold import report

    figures = report.standard_figures(run_dir, results, per_item,
                                      {k: t.history for k, t in trained.items()})
    figures += task.figures(run_dir, results, cfg, {k: t.model for k, t in trained.items()},
                            data["test"])
    report.write_report(run_dir, results, figures)
    return run_dir


def _training_summary(t: Trained) -> dict[str, Any]:
    h = t.history
    return {"n_layers": t.model.n_layers, "backprop": t.model.backprop.describe(),
            "epochs": len(h.epochs), "best_epoch": h.best_epoch,
            "best_val_loss": h.best_val, "seconds": h.seconds, "stopped_early": h.stopped_early}


def _write_metrics_csv(path: Path, histories: Mapping[str, History]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "epoch", "train_loss", "val_loss", "lr", "seconds"])
        for tying, h in histories.items():
            for e in h.epochs:
                d = asdict(e)
                w.writerow([tying, d["epoch"] + 1, d["train_loss"], d["val_loss"], d["lr"], d["seconds"]])
