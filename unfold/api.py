"""The Python API: what ``unfold run`` and ``unfold compare`` do, for notebooks and scripts.

::

    import unfold

    result = unfold.run_recipe("lista", quick=True, overrides={"train.epochs": 2})
    print(result.table())                       # the report's results table
    best = result.best()                        # by the task's primary metric
    result.run_dir                              # config.json, results.json, checkpoints, figures

Overrides are a mapping ``{"key": value}`` (or ``["key=value", ...]`` as on the command line);
everything is validated before anything is written, as with the command.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unfold.plugin import Registry

Overrides = Mapping[str, Any] | Sequence[str]


@dataclass(frozen=True)
class MethodResult:
    """One row of ``results.json``: a method at one depth, its metrics summarised."""

    name: str
    iterations: int
    tying: str | None
    trained: bool
    params: int
    metrics: dict[str, dict[str, float]]  # metric -> {"mean", "median", "q1", "q3", "n"}
    seconds: dict[str, float]  # {"train", "infer_per_item"}

    @property
    def label(self) -> str:
        """As in the report and per_item.json: ``name[ tying]-iterations``."""
        return f"{self.name}{' ' + self.tying if self.tying else ''}-{self.iterations}"

    def mean(self, metric: str) -> float:
        return self.metrics[metric]["mean"]


@dataclass(frozen=True)
class RunResult:
    """A finished run directory, read back from its ``results.json``."""

    run_dir: Path
    recipe: str
    plugin: str
    quick: bool
    seed: int
    primary_metric: str
    higher_is_better: bool
    methods: list[MethodResult]
    training: dict[str, dict[str, Any]]  # tying -> {"n_layers", "backprop", "epochs", ...}
    config: dict[str, Any] = field(repr=False)

    @classmethod
    def read(cls, run_dir: str | Path) -> RunResult:
        run_dir = Path(run_dir)
        data = json.loads((run_dir / "results.json").read_text())
        methods = [MethodResult(m["name"], m["iterations"], m["tying"], m["trained"], m["params"],
                                m["metrics"], m["seconds"]) for m in data["methods"]]
        return cls(run_dir, data["recipe"], data["plugin"], data["quick"], data["seed"],
                   data["primary_metric"], bool(data.get("higher_is_better", True)), methods,
                   data.get("training", {}), data["config"])

    def method(self, name: str, iterations: int | None = None,
               tying: str | None = None) -> MethodResult:
        """The row of method ``name`` (at ``iterations`` layers, of ``tying``, when given)."""
        rows = [m for m in self.methods if m.name == name
                and (iterations is None or m.iterations == iterations)
                and (tying is None or m.tying == tying)]
        if len(rows) != 1:
            known = ", ".join(m.label for m in self.methods)
            raise KeyError(f"{len(rows)} methods match {name!r} (iterations={iterations}, "
                           f"tying={tying}); the run has: {known}")
        return rows[0]

    def best(self, metric: str | None = None) -> MethodResult:
        """The method with the best mean ``metric`` (default: the primary one, in its direction)."""
        metric = metric or self.primary_metric
        rows = [m for m in self.methods if metric in m.metrics]
        sign = 1.0 if self.higher_is_better else -1.0
        return max(rows, key=lambda m: sign * m.mean(metric))

    def table(self) -> str:
        """The report's results table (Markdown)."""
        from unfold.report import methods_table

        return methods_table([{"name": m.name, "iterations": m.iterations, "tying": m.tying,
                               "params": m.params, "metrics": m.metrics, "seconds": m.seconds}
                              for m in self.methods])


def _override_list(overrides: Overrides | None) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        out = []
        for key, value in overrides.items():
            text = value if isinstance(value, str) else json.dumps(
                list(value) if isinstance(value, tuple) else value)
            out.append(f"{key}={text}")
        return out
    if isinstance(overrides, str):
        return [overrides]
    return list(overrides)


def _tyings(tying: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if tying is None:
        return None
    return (tying,) if isinstance(tying, str) else tuple(tying)


def run_recipe(name: str, *, quick: bool = False, overrides: Overrides | None = None,
               tying: str | Sequence[str] | None = None, out: str | Path | None = None,
               device: str = "auto", seed: int = 0, resume: bool = False, progress: bool = False,
               registry: Registry | None = None) -> RunResult:
    """``unfold run``: train every tying (or ``tying``), evaluate, report; the run's results."""
    from unfold.run import run_recipe as run

    run_dir = run(registry or Registry(), name, quick, _override_list(overrides),
                  Path(out) if out is not None else None, device, seed, resume, progress,
                  _tyings(tying))
    return RunResult.read(run_dir)


@dataclass(frozen=True)
class Comparison:
    """``unfold compare``'s output: the folder, its table rows and each plugin's run."""

    out: Path
    rows: list[dict[str, Any]]  # compare.json's rows: plugin, method, tying, iterations, mean, ...
    runs: dict[str, RunResult]  # plugin -> its run


def compare_plugins(plugins: Sequence[str] = (), *, quick: bool = False,
                    overrides: Overrides | None = None, tying: str | Sequence[str] | None = None,
                    out: str | Path | None = None, device: str = "auto", seed: int = 0,
                    progress: bool = False, registry: Registry | None = None) -> Comparison:
    """``unfold compare``: each plugin's comparison recipe (all plugins when none are named).

    Named ``compare_plugins`` because ``unfold.compare`` is the module of the same command.
    """
    from unfold.compare import compare

    folder = compare(registry or Registry(), list(plugins), quick,
                     Path(out) if out is not None else None, device, seed, progress,
                     _override_list(overrides), _tyings(tying))
    rows = json.loads((folder / "compare.json").read_text())["rows"]
    runs = {p: RunResult.read(folder / p) for p in dict.fromkeys(r["plugin"] for r in rows)}
    return Comparison(folder, rows, runs)
