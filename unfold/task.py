"""The Task: everything around an unroller that a plugin supplies.

A task says where the data come from, how a batch becomes a (problem, target) pair, how a model
is built for a given tying, the training loss, the per-item metrics, and which methods (classical
baselines and trained models at several depths) are evaluated. The engine (``unfold.train``,
``unfold.run``) drives it and knows nothing about audio, images or any one algorithm.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import torch
from torch.utils.data import Dataset

from unfold.unroller import Unroller

#: the unroller class that ``Task.build_model`` returns and the other hooks are handed back
ModelT = TypeVar("ModelT", bound=Unroller)


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

    #: name of the per-item metric that is "higher is better" and summarises a method
    primary_metric: str = "loss"

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

    def figures(self, run_dir: Path, results: dict[str, Any], cfg: Any,
                trained: Mapping[str, ModelT], test_set: Dataset) -> list[Path]:
        """Plugin-specific figures written into ``run_dir``; returns their paths."""
        return []
