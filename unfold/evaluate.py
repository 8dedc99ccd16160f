"""``unfold eval CKPT``: rebuild a checkpoint's model from its config and re-evaluate it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unfold import checkpoint
from unfold import recipe as recipes
from unfold.plugin import Registry
from unfold.report import methods_table
from unfold.run import evaluate
from unfold.task import Method, Task
from unfold.train import resolve_device
from unfold.unroller import Unroller


def load_model(registry: Registry, path: Path) -> tuple[Unroller, Task, Any]:
    """(model with the checkpoint's weights, task, config) — the model rebuilt from its config."""
    ck = checkpoint.load(path)
    _, recipe = registry.recipe(ck["recipe"])
    cfg = recipes.from_dict(recipe, ck["config"])
    task = recipe.task()
    model = task.build_model(cfg, ck["tying"])
    try:
        model.load_state_dict(ck["model"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise checkpoint.CheckpointError(
            f"checkpoint {path} does not fit the model its config builds: {first}") from None
    return model, task, cfg


def evaluate_checkpoint(registry: Registry, path: Path, iters: list[int] | None,
                        device: str) -> str:
    model, task, cfg = load_model(registry, path)
    ck = checkpoint.load(path)
    dev = resolve_device(device)
    test = task.datasets(cfg)["test"]
    methods = [Method(type(model).__name__, model, n, ck["tying"], trained=True)
               for n in (iters or [model.n_layers])]
    rows, _ = evaluate(task, cfg, methods, test, dev, cfg.train.batch_size)
    return methods_table(rows)
