"""Running recipes: train every tying, evaluate every method, write the run directory.

A run directory holds ``config.json`` (re-runnable as is), ``results.json`` (shape below),
``metrics.csv`` (one row per model and epoch), ``checkpoints/<tying>/{last,best}.pt``,
``report.md`` and PNG figures. A run never overwrites an earlier run directory; ``resume=True``
continues the one given.

``results.json``::

    {"recipe", "plugin", "quick", "seed", "device", "config": {...},
     "methods": [{"name", "iterations", "tying", "trained", "params",
                  "metrics": {metric: {"mean", "median", "q1", "q3", "n"}},
                  "seconds": {"train", "infer_per_item"}}]}
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from unfold import checkpoint, distributed
from unfold import recipe as recipes
from unfold.errors import RunDirError  # re-exported: unfold.run.RunDirError
from unfold.metrics import summarize
from unfold.plugin import Plugin, Registry
from unfold.recipe import Recipe
from unfold.task import Method, Task
from unfold.train import History, Trainer, resolve_device, seed_everything
from unfold.unroller import Tying, Unroller


def tying_dirname(tying: str) -> str:
    return tying.replace(":", "-")


def prepare_run_dir(out: Path | None, name: str, resume: bool) -> Path:
    """A fresh directory for a new run, or the existing one to resume; never an overwrite."""
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
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise RunDirError(f"output directory {out} is not writable ({e.strerror or e})") from None
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
    seed: int | None = None,
    resume: bool = False,
    progress: bool = True,
    tyings: tuple[str, ...] | None = None,
) -> Path:
    """Resolve, validate, train, evaluate and report one recipe; returns the run directory.

    ``seed`` defaults to 0 (a new run) or the saved one (``resume``, where another is refused)."""
    plugin, recipe = registry.recipe(name)
    dev = distributed.setup(resolve_device(device))
    if resume and overrides:
        raise RunDirError("--resume continues a run with its saved config; drop --set")
    cfg = None if resume else recipe.resolve(quick=quick, overrides=overrides)  # before any data
    run_dir = _shared_run_dir(out, name + ("-quick" if quick else ""), resume)
    if resume:
        saved = checkpoint.read_run_config(run_dir)
        checkpoint.check_resume_flags(saved, seed, tyings)
        cfg = recipes.from_dict(recipe, saved["config"])
        quick, seed = saved["quick"], saved["seed"]
        tyings = tuple(saved.get("tyings", recipe.tyings))
    else:
        seed = 0 if seed is None else seed
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
    trained: dict[str, Trained] = {}
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
    methods = task.methods(cfg, {k: t.model for k, t in trained.items()})
    rows, per_item = evaluate(task, cfg, methods, data["test"], dev, cfg.train.batch_size, trained)
    write_json(run_dir / "per_item.json", per_item)
    results = {"recipe": recipe.name, "plugin": plugin.name, "quick": quick, "seed": seed,
               "device": dev.type, "primary_metric": task.primary_metric,
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
    return {"n_layers": t.model.n_layers, "epochs": len(h.epochs), "best_epoch": h.best_epoch,
            "best_val_loss": h.best_val, "seconds": h.seconds, "stopped_early": h.stopped_early}


def _write_metrics_csv(path: Path, histories: Mapping[str, History]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "epoch", "train_loss", "val_loss", "lr", "seconds"])
        for tying, h in histories.items():
            for e in h.epochs:
                d = asdict(e)
                w.writerow([tying, d["epoch"] + 1, d["train_loss"], d["val_loss"], d["lr"], d["seconds"]])
