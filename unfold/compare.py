"""Cross-plugin comparison: each plugin's comparison recipe, tied and untied, in one table.

``unfold compare [PLUGIN ...] [--quick] [--set k=v ...] [--tying T ...]`` runs every named
plugin's ``compare`` recipe (with those overrides and tyings; a ``--set`` key must exist in every
compared recipe, as the ``train.*`` keys do) into ``<out>/<plugin>/`` and writes ``compare.md``,
``compare.json`` and ``compare.png`` into ``<out>``.
For every plugin the table shows, at the trained depth, each trained model and the classical
methods run for the same number of iterations, on that plugin's primary metric in that metric's
direction (``Task.higher_is_better``; the best mean per plugin in bold); below it, the
paired differences (trained − classical over the same test items, with the paired t 95 %
interval of :mod:`unfold.stats`). ``compare.png`` draws those differences as points with their
interval bars around a zero line, so a gain whose interval crosses zero reads as such.

``jobs`` plugins run at once, each in its own process (spawned, so no OpenMP state is shared)
with ``cpu_count // jobs`` torch threads: a quick recipe's tensors are small, so one thread per
plugin wastes less than two threads on one plugin. ``jobs=1`` runs them in this process, in turn.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from unfold.plugin import PluginError, Registry
from unfold.report import fmt, interval, pyplot
from unfold.results import MethodResult, Paired, RunResult, write_json
from unfold.run import run_recipe
from unfold.rundir import prepare_run_dir
from unfold.unroller import Tying


@dataclass(frozen=True)
class PluginRun:
    """One plugin's comparison run, restricted to its trained depths."""

    plugin: str
    recipe: str
    run: str
    results: RunResult

    @property
    def depths(self) -> set[int]:
        return {t.n_layers for t in self.results.training.values()}

    def rows(self) -> list[MethodResult]:
        rows = [r for r in self.results.methods if r.iterations in self.depths]
        return sorted(rows, key=lambda r: (r.iterations, r.trained, r.tying or ""))

    def best(self) -> MethodResult | None:
        """The row with the best mean primary metric, in its direction."""
        metric, sign = self.results.primary_metric, 1 if self.results.higher_is_better else -1
        return max(self.rows(), key=lambda r: sign * r.metrics[metric].mean, default=None)

    def paired(self) -> list[Paired]:
        return [p for p in self.results.paired if p.iterations in self.depths]

    def row_json(self, r: MethodResult) -> dict[str, Any]:
        metric = self.results.primary_metric
        s = r.metrics[metric]
        return {"plugin": self.plugin, "recipe": self.recipe, "method": r.name, "tying": r.tying,
                "iterations": r.iterations, "trained": r.trained, "metric": metric,
                "higher_is_better": self.results.higher_is_better, "best": r is self.best(),
                "mean": s.mean, "median": s.median, "params": r.params,
                "train_seconds": r.seconds.train, "run": self.run}


def default_jobs(n_plugins: int, device: str) -> int:
    """One process per CPU core, at most one per plugin; 1 on a GPU (one device, one queue)."""
    import torch

    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        return 1
    return max(1, min(n_plugins, os.cpu_count() or 1))


@dataclass(frozen=True)
class _Job:
    """One plugin's comparison recipe, as a worker process runs it (picklable)."""

    entry_points: list[Any]
    recipe: str
    quick: bool
    overrides: list[str] | None
    out: Path
    device: str
    seed: int
    tyings: tuple[str, ...] | None
    threads: int

    def __call__(self) -> Path:
        import torch

        torch.set_num_threads(self.threads)
        return run_recipe(Registry(self.entry_points), self.recipe, quick=self.quick,
                          overrides=self.overrides, out=self.out, device=self.device,
                          seed=self.seed, progress=False, tyings=self.tyings)


def _run_parallel(jobs: dict[str, _Job], workers: int, progress: bool) -> dict[str, Path]:
    """Every job in a pool of ``workers`` spawned processes. The first failure stops the other
    workers at once (the pool is terminated, not drained) and is raised here as it was raised in
    the worker."""
    start, done = time.perf_counter(), {}
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, maxtasksperchild=1) as pool:  # leaving the block terminates it
        pending = {name: pool.apply_async(job) for name, job in jobs.items()}
        while pending:
            finished = [name for name, r in pending.items() if r.ready()]
            if not finished:
                time.sleep(0.1)
            for name in finished:
                done[name] = pending.pop(name).get()  # raises the worker's exception
                if progress:
                    print(f"compare: {name} finished after "
                          f"{time.perf_counter() - start:.0f} s ({len(done)} of {len(jobs)})",
                          file=sys.stderr, flush=True)
    return done


def compare(registry: Registry, names: list[str], quick: bool, out: Path | None, device: str,
            seed: int, progress: bool, overrides: list[str] | None = None,
            tyings: tuple[str, ...] | None = None, jobs: int | None = 1) -> Path:
    """Run every named plugin's comparison recipe (``jobs`` at once; None: one per core, see
    :func:`default_jobs`) and write the table."""
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    plugins = [registry.get(n) for n in names] if names else registry.plugins()
    plugins = [p for p in plugins if p.compare]
    if not plugins:
        raise PluginError("no plugin offers a comparison recipe; see `unfold list`")
    for p in plugins:  # every recipe accepts the overrides and tyings before anything runs
        assert p.compare is not None
        p.recipe(p.compare).resolve(quick=quick, overrides=overrides)
        for t in tyings or ():
            Tying.parse(t)
    if out is None:
        out = Path("runs") / f"compare-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out = prepare_run_dir(out, "compare", resume=False)
    recipes = {p.name: p.compare for p in plugins if p.compare is not None}
    workers = min(jobs or default_jobs(len(recipes), device), len(recipes))
    if workers == 1:
        run_dirs = {name: run_recipe(registry, recipe, quick=quick, overrides=overrides,
                                     out=out / name, device=device, seed=seed, progress=progress,
                                     tyings=tyings) for name, recipe in recipes.items()}
    else:
        threads = max(1, (os.cpu_count() or 1) // workers)
        run_dirs = _run_parallel({name: _Job(registry.entry_points(), recipe, quick, overrides,
                                             out / name, device, seed, tyings, threads)
                                  for name, recipe in recipes.items()}, workers, progress)
    runs = [PluginRun(name, recipe, run_dirs[name].name,
                      RunResult.read(run_dirs[name] / "results.json"))
            for name, recipe in recipes.items()]
    write_json(out / "compare.json", {
        "quick": quick, "seed": seed, "device": device,
        "rows": [run.row_json(r) for run in runs for r in run.rows()],
        "paired": [{"plugin": run.plugin, **p.to_json()} for run in runs for p in run.paired()]})
    _figure(out / "compare.png", runs)
    (out / "compare.md").write_text(_markdown(runs, quick))
    return out


def _markdown(runs: list[PluginRun], quick: bool) -> str:
    head = "| plugin | method | tying | iterations | metric | mean | median | params | train s |"
    lines = ["# unfold compare" + (" (quick)" if quick else ""), "",
             "Each plugin's comparison recipe, trained tied and untied; classical methods at the "
             "same depth. Per-plugin reports: `<plugin>/report.md`. Metric: ↑ higher is better, "
             "↓ lower is better; the best mean of each plugin in bold.", "", head, "|" + "---|" * 9]
    for run in runs:
        metric = run.results.primary_metric
        best = run.best()
        for r in run.rows():
            s = r.metrics[metric]
            mean = f"**{fmt(s.mean)}**" if r is best else fmt(s.mean)
            arrow = "↑" if run.results.higher_is_better else "↓"
            lines.append(f"| {run.plugin} | {r.name} | {r.tying or '-'} | {r.iterations} | "
                         f"{metric} {arrow} | {mean} | {fmt(s.median)} | {r.params} | "
                         f"{r.seconds.train:.1f} |")
    lines += ["", "## Paired differences", "",
              "Trained − classical at the same iterations, per test item (the same items for "
              "both), on each plugin's primary metric: mean, paired t 95 % interval "
              "d̄ ± t₀.₉₇₅,ₙ₋₁·s/√n, and the items on which the trained method is better. An "
              "interval that contains 0 is no evidence of a difference.", "",
              "| plugin | method | tying | baseline | iterations | metric | mean difference "
              "| 95 % interval | better / n |", "|" + "---|" * 9]
    for run in runs:
        direction = "↑" if run.results.higher_is_better else "↓"
        for p in run.paired():
            lines.append(f"| {run.plugin} | {p.method} | {p.tying or '-'} | {p.baseline} | "
                         f"{p.iterations} | {p.metric} {direction} | {p.mean_diff:+.4g} | "
                         f"{interval(p)} | {p.better} / {p.n} |")
    lines += ["", "![compare](compare.png)", ""]
    return "\n".join(lines)


def _figure(path: Path, runs: list[PluginRun]) -> None:
    """Per plugin: each paired difference as a point with its 95 % interval, and a zero line."""
    plt = pyplot()
    height = max(3.0, 0.35 * max((len(r.paired()) for r in runs), default=1) + 1.5)
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), height), squeeze=False)
    for ax, run in zip(axes[0], runs):
        pairs = run.paired()
        metric = run.results.primary_metric
        better = "higher" if run.results.higher_is_better else "lower"
        ax.axvline(0.0, color="k", lw=0.8)
        for y, p in enumerate(pairs):
            lo, hi = p.ci95 if p.ci95 else (p.mean_diff, p.mean_diff)
            color = "C0" if p.significant else "0.5"
            ax.errorbar([p.mean_diff], [y], xerr=[[p.mean_diff - lo], [hi - p.mean_diff]],
                        fmt="o", color=color, capsize=3, ms=4)
        ax.set_yticks(range(len(pairs)),
                      [f"{p.method} {p.tying or ''} − {p.baseline}, {p.iterations}" for p in pairs],
                      fontsize=7)
        ax.set_ylim(max(len(pairs), 1) - 0.3, -0.7)  # first pair on top
        if not pairs:
            ax.text(0.5, 0.5, "no classical method at the trained depth", ha="center",
                    va="center", transform=ax.transAxes, fontsize=8)
        ax.set_xlabel(f"Δ {metric} (trained − baseline; {better} is better)", fontsize=8)
        ax.set_title(f"{run.plugin}: mean and 95 % paired t interval", fontsize=9)
        ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
