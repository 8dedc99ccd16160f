"""``unfold eval CKPT``: load a checkpoint's model (``unfold.load``) and re-evaluate it."""

from __future__ import annotations

from pathlib import Path

from unfold import checkpoint
from unfold.errors import ConfigError
from unfold.plugin import Registry
from unfold.report import methods_table
from unfold.run import evaluate
from unfold.task import Method
from unfold.train import resolve_device


def evaluate_checkpoint(registry: Registry, path: Path, iters: list[int] | None,
                        device: str) -> str:
    """The methods table of the checkpoint's model at ``iters`` layers (default: its depth)."""
    bad = [n for n in iters or [] if n < 1]
    if bad:
        raise ConfigError(f"--iters must be >= 1, got {bad[0]}")
    dev = resolve_device(device)
    model = checkpoint.load(path, registry=registry, device=dev)
    info = checkpoint.info(model)
    test = info.task.datasets(info.config)["test"]
    methods = [Method(type(model).__name__, model, n, info.tying, trained=True)
               for n in (iters or [model.n_layers])]
    rows, _ = evaluate(info.task, info.config, methods, test, dev, info.config.train.batch_size)
    return methods_table(rows)
