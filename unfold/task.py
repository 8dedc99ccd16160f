"""The Task: everything around an unroller that a plugin supplies.

A task says where the data come from, how a batch becomes a (problem, target) pair, how a model
is built for a given tying, the training loss, the per-item metrics, and which methods (classical
baselines and trained models at several depths) are evaluated. The engine (``unfold.train``,
``unfold.run``) drives it and knows nothing about audio, images or any one algorithm.

After evaluation the engine hands the task a typed :class:`~unfold.results.RunContext` (results,
per-item values, training histories, trained models, test set): ``notes(ctx)`` adds lines to
results.json and report.md, ``figures(ctx)`` draws the plugin's own figures from it.
"""

from __future__ import annotations

import inspect
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic

import torch
from torch.utils.data import Dataset

from unfold.results import ModelT, RunContext
from unfold.unroller import Unroller

__all__ = ["Method", "ModelT", "RunContext", "Task", "draw_figures"]


@dataclass
class Method:
    """One evaluated method: a model run for ``iterations`` layers on every test problem."""

    name: str
    model: torch.nn.Module
    iterations: int
    tying: str | None = None
    trained: bool = False

    def __call__(self, problem: Any) -> Any:
        return self.model(problem, n_iter=self.iterations)

    @property
    def params(self) -> int:
        """Trainable scalars of a trained method (the model's own count), 0 for a classical one."""
        if not self.trained:
            return 0
        if isinstance(self.model, Unroller):
            return self.model.n_params()
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)


class Task(ABC, Generic[ModelT]):
    """What a plugin writes for each recipe family. ``cfg`` is the recipe's config dataclass.

    ``class MyTask(Task[MyUnroller])`` types the models handed back to it as ``MyUnroller``.
    """

    #: name of the per-item metric that summarises a method (figures, paired differences, compare)
    primary_metric: str = "loss"
    #: direction of ``primary_metric``: False for an error (MSE, NMSE in dB, loss), True for a
    #: score (STOI, SNR, SSIM); paired statistics count an item as "better" in this direction
    higher_is_better: bool = True

    @abstractmethod
    def datasets(self, cfg: Any) -> Mapping[str, Dataset]:
        """Datasets for the splits "train", "valid" and "test"."""

    def collate(self, items: list[Any]) -> Any:
        """Batch a list of dataset items (default: torch's default collation)."""
        return torch.utils.data.default_collate(items)

    @abstractmethod
    def problem(self, batch: Any, cfg: Any, device: torch.device) -> tuple[Any, Any]:
        """(problem, target) on ``device`` from a collated batch."""

    @abstractmethod
    def build_model(self, cfg: Any, tying: str) -> ModelT:
        """The trainable model for one tying ("tied", "untied", "partial:C")."""

    @abstractmethod
    def loss(self, output: Any, target: Any, problem: Any, cfg: Any) -> torch.Tensor:
        """Scalar training loss (lower is better)."""

    @abstractmethod
    def metrics(self, output: Any, target: Any, problem: Any, cfg: Any) -> dict[str, list[float]]:
        """Per-item evaluation metrics of one batch: name -> one value per item."""

    def methods(self, cfg: Any, trained: Mapping[str, ModelT]) -> list[Method]:
        """Methods to evaluate: baselines and the trained models (by tying) at chosen depths."""
        return [
            Method(type(m).__name__, m, m.n_layers, tying, trained=True)
            for tying, m in trained.items()
        ]

    def optimizer(self, cfg: Any, model: ModelT) -> torch.optim.Optimizer | None:
        """A custom optimiser for ``model`` (e.g. multiplicative updates); None: train.optimizer."""
        return None

    def notes(self, ctx: RunContext[ModelT]) -> list[str]:
        """Lines for results.json's "notes" and report.md's Notes (called before either is written)."""
        return []

    def figures(self, ctx: RunContext[ModelT]) -> list[Path]:
        """Plugin-specific figures drawn from ``ctx`` into ``ctx.run_dir``; returns their paths.

        Figures only draw: they never train, and need not read the run directory back.
        """
        return []


def _legacy_figures(task: Task[Any]) -> bool:
    """Whether ``task`` overrides ``figures`` in the old form (run_dir, results, cfg, ...)."""
    params = list(inspect.signature(type(task).figures).parameters)[1:]
    return len(params) > 1


def draw_figures(task: Task[ModelT], ctx: RunContext[ModelT]) -> list[Path]:
    """``task.figures(ctx)``; a task overriding the old ``figures(run_dir, results, cfg, trained,
    test_set)`` is called that way once more (results as a dict; notes it adds to the dict reach
    ``ctx.results.notes``) with a DeprecationWarning."""
    if not _legacy_figures(task):
        return task.figures(ctx)
    warnings.warn(f"{type(task).__name__}.figures(run_dir, results, cfg, trained, test_set) is "
                  "deprecated; override figures(self, ctx: unfold.results.RunContext) instead",
                  DeprecationWarning, stacklevel=2)
    results = ctx.results.to_json()
    legacy: Any = task  # typed against the old hook
    paths: list[Path] = legacy.figures(ctx.run_dir, results, ctx.cfg, ctx.trained, ctx.test_set)
    ctx.results.notes = [str(n) for n in results.get("notes", [])]
    return paths
