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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unfold.plugin import Registry
from unfold.results import RunResult

Overrides = Mapping[str, Any] | Sequence[str]


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
                    progress: bool = False, registry: Registry | None = None,
                    jobs: int | None = 1) -> Comparison:
    """``unfold compare``: each plugin's comparison recipe (all plugins when none are named),
    ``jobs`` plugins at once in their own processes (None: one per CPU core; the command's
    default).

    Named ``compare_plugins`` because ``unfold.compare`` is the module of the same command.
    """
    from unfold.compare import compare

    folder = compare(registry or Registry(), list(plugins), quick,
                     Path(out) if out is not None else None, device, seed, progress,
                     _override_list(overrides), _tyings(tying), jobs)
    rows = json.loads((folder / "compare.json").read_text())["rows"]
    runs = {p: RunResult.read(folder / p) for p in dict.fromkeys(r["plugin"] for r in rows)}
    return Comparison(folder, rows, runs)
