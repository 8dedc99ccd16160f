"""Typed results of a run: what results.json holds, and the context handed to ``Task.figures``.

``RunResult.to_json()`` writes results.json's documented shape (other tools read it)::

    {"recipe", "plugin", "quick", "seed", "device", "primary_metric", "higher_is_better",
     "config": {...},
     "methods": [{"name", "iterations", "tying", "trained", "params",
                  "metrics": {metric: {"mean", "median", "q1", "q3", "n"}},
                  "seconds": {"train", "infer_per_item"}}],
     "paired": [{"method", "tying", "baseline", "iterations", "metric", "mean_diff",
                 "ci95": [lo, hi], "better", "n"}],
     "training": {tying: {"n_layers", "epochs", "best_epoch", "best_val_loss", "seconds",
                          "stopped_early"}},
     "notes": [str]}

and ``RunResult.from_json`` reads it back (also an older file without "paired",
"higher_is_better" or "notes"). ``paired`` is described in :mod:`unfold.stats`.

This module imports neither torch nor the orchestrator, so tools that only read results stay light.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from unfold.train import History
    from unfold.unroller import Unroller

#: the unroller class a task builds; the run context hands its trained models back typed
ModelT = TypeVar("ModelT", bound="Unroller")


def write_json(path: Path, obj: Any) -> None:
    """``obj`` as indented JSON, written to a temporary file then renamed (never half a file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=float) + "\n")
    os.replace(tmp, path)


@dataclass(frozen=True)
class Summary:
    """One metric of one method over the test items; quartiles as in ``unfold.metrics.summarize``."""

    mean: float
    median: float
    q1: float
    q3: float
    n: int

    @classmethod
    def of(cls, values: Any) -> Summary:
        from unfold.metrics import summarize

        return cls.from_json(summarize(values))

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "median": self.median, "q1": self.q1, "q3": self.q3, "n": self.n}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Summary:
        return cls(float(d["mean"]), float(d["median"]), float(d["q1"]), float(d["q3"]), int(d["n"]))


@dataclass(frozen=True)
class Seconds:
    """Wall-clock seconds: training of the method's model (0 if classical; None where not known,
    as in ``unfold eval`` of a checkpoint), inference per item."""

    train: float | None = 0.0
    infer_per_item: float = 0.0


def method_label(row: MethodResult | Mapping[str, Any]) -> str:
    """"<name>[ <tying>]-<iterations>": the key of a method in per_item.json."""
    if isinstance(row, MethodResult):
        name, tying, iterations = row.name, row.tying, row.iterations
    else:
        name, tying, iterations = row["name"], row.get("tying"), row["iterations"]
    return f"{name}{f' {tying}' if tying else ''}-{iterations}"


@dataclass
class MethodResult:
    """One evaluated method: ``metrics`` summarises each per-item metric over the test split."""

    name: str
    iterations: int
    tying: str | None
    trained: bool
    params: int
    metrics: dict[str, Summary]
    seconds: Seconds = field(default_factory=Seconds)

    @property
    def label(self) -> str:
        return method_label(self)

    def mean(self, metric: str) -> float:
        """The mean of ``metric`` over the test items."""
        return self.metrics[metric].mean

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "iterations": self.iterations, "tying": self.tying,
                "trained": self.trained, "params": self.params,
                "metrics": {k: s.to_json() for k, s in self.metrics.items()},
                "seconds": {"train": self.seconds.train,
                            "infer_per_item": self.seconds.infer_per_item}}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> MethodResult:
        s = d.get("seconds", {})
        return cls(d["name"], int(d["iterations"]), d.get("tying"), bool(d["trained"]),
                   int(d.get("params", 0)),
                   {k: Summary.from_json(v) for k, v in d["metrics"].items()},
                   Seconds(None if s.get("train", 0.0) is None else float(s.get("train", 0.0)),
                           float(s.get("infer_per_item", 0.0))))


@dataclass(frozen=True)
class Paired:
    """A trained method minus a classical baseline at the same iterations (see unfold.stats)."""

    method: str
    tying: str | None
    baseline: str
    iterations: int
    metric: str
    mean_diff: float
    ci95: tuple[float, float] | None
    better: int
    n: int

    @property
    def significant(self) -> bool:
        """The 95 % interval excludes zero."""
        return self.ci95 is not None and (self.ci95[0] > 0 or self.ci95[1] < 0)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "tying": self.tying, "baseline": self.baseline,
                "iterations": self.iterations, "metric": self.metric, "mean_diff": self.mean_diff,
                "ci95": list(self.ci95) if self.ci95 is not None else None,
                "better": self.better, "n": self.n}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Paired:
        ci = d.get("ci95")
        return cls(d["method"], d.get("tying"), d["baseline"], int(d["iterations"]), d["metric"],
                   float(d["mean_diff"]), (float(ci[0]), float(ci[1])) if ci else None,
                   int(d["better"]), int(d["n"]))


@dataclass(frozen=True)
class TrainingSummary:
    """How training of one tying went (``best_epoch`` counts from 0, −1 if never validated)."""

    n_layers: int
    epochs: int
    best_epoch: int
    best_val_loss: float
    seconds: float
    stopped_early: bool
    backprop: str = "-"  # the gradient strategy it trained with (``train.backprop``)

    def to_json(self) -> dict[str, Any]:
        return {"n_layers": self.n_layers, "epochs": self.epochs, "best_epoch": self.best_epoch,
                "best_val_loss": self.best_val_loss, "seconds": self.seconds,
                "stopped_early": self.stopped_early, "backprop": self.backprop}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TrainingSummary:
        return cls(int(d["n_layers"]), int(d["epochs"]), int(d["best_epoch"]),
                   float(d["best_val_loss"]), float(d["seconds"]), bool(d["stopped_early"]),
                   str(d.get("backprop", "-")))


@dataclass
class RunResult:
    """Everything results.json holds (module docstring); ``notes`` end up in report.md too."""

    recipe: str
    plugin: str
    quick: bool
    seed: int
    device: str
    primary_metric: str
    config: dict[str, Any]
    methods: list[MethodResult]
    higher_is_better: bool = True
    paired: list[Paired] = field(default_factory=list)
    training: dict[str, TrainingSummary] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: the run directory it was read from (not part of results.json)
    run_dir: Path | None = field(default=None, compare=False)

    def method(self, name: str, iterations: int | None = None,
               tying: str | None = None) -> MethodResult:
        """The method whose label is ``name`` ("LISTA tied-3"), or the one method called ``name``
        (at ``iterations`` layers, of ``tying``, when given); a KeyError when not exactly one."""
        if iterations is None and tying is None:
            for m in self.methods:
                if m.label == name:
                    return m
        rows = [m for m in self.methods if m.name == name
                and (iterations is None or m.iterations == iterations)
                and (tying is None or m.tying == tying)]
        if len(rows) != 1:
            raise KeyError(f"{len(rows)} methods match {name!r} (iterations={iterations}, "
                           f"tying={tying}); the run has: {', '.join(m.label for m in self.methods)}")
        return rows[0]

    def best(self, metric: str | None = None) -> MethodResult:
        """The method with the best mean ``metric`` (default: the primary one, in its direction)."""
        metric = metric or self.primary_metric
        rows = [m for m in self.methods if metric in m.metrics]
        if not rows:
            raise KeyError(f"no method has metric {metric!r}")
        sign = 1.0 if self.higher_is_better else -1.0
        return max(rows, key=lambda m: sign * m.mean(metric))

    def table(self) -> str:
        """The report's results table (Markdown)."""
        from unfold.report import methods_table

        return methods_table(self.methods)

    def to_json(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "plugin": self.plugin, "quick": self.quick,
                "seed": self.seed, "device": self.device, "primary_metric": self.primary_metric,
                "higher_is_better": self.higher_is_better, "config": self.config,
                "methods": [m.to_json() for m in self.methods],
                "paired": [p.to_json() for p in self.paired],
                "training": {k: t.to_json() for k, t in self.training.items()},
                "notes": list(self.notes)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RunResult:
        return cls(d["recipe"], d["plugin"], bool(d["quick"]), int(d["seed"]), d["device"],
                   d.get("primary_metric", "loss"), dict(d.get("config", {})),
                   [MethodResult.from_json(m) for m in d["methods"]],
                   bool(d.get("higher_is_better", True)),
                   [Paired.from_json(p) for p in d.get("paired", [])],
                   {k: TrainingSummary.from_json(t) for k, t in d.get("training", {}).items()},
                   [str(n) for n in d.get("notes", [])])

    def write(self, path: Path) -> Path:
        write_json(path, self.to_json())
        return path

    @classmethod
    def read(cls, path: str | Path) -> RunResult:
        """A run's results from its ``results.json`` or its run directory (``run_dir`` set)."""
        path = Path(path)
        if path.is_dir():
            path = path / "results.json"
        result = cls.from_json(json.loads(path.read_text()))
        result.run_dir = path.parent
        return result


@dataclass
class Trained(Generic[ModelT]):
    """A model trained by the run and its training history."""

    model: ModelT
    history: History


@dataclass
class RunContext(Generic[ModelT]):
    """What ``Task.notes`` and ``Task.figures`` are handed once every method is evaluated.

    ``per_item[label][metric]``: one value per test item, in test-set order, for the method
    whose ``MethodResult.label`` is ``label``; ``histories`` and ``trained`` by tying.
    Figures draw from it; they never train and never re-read the run directory.
    """

    run_dir: Path
    results: RunResult
    per_item: dict[str, dict[str, list[float]]]
    histories: dict[str, History]
    cfg: Any
    trained: dict[str, ModelT]
    test_set: Dataset

    def values(self, method: MethodResult | str, metric: str) -> list[float]:
        """Per-item values of ``metric`` for a method (or its label)."""
        label = method if isinstance(method, str) else method.label
        return self.per_item[label][metric]
