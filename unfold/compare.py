"""Cross-plugin comparison: each plugin's comparison recipe, tied and untied, in one table.

``unfold compare [PLUGIN ...] [--quick] [--set k=v ...] [--tying T ...]`` runs every named
plugin's ``compare`` recipe (with those overrides and tyings; a ``--set`` key must exist in every
compared recipe, as the ``train.*`` keys do) into
``<out>/<plugin>/`` and writes ``compare.md``, ``compare.json`` and ``compare.png`` into ``<out>``.
For every plugin the table shows, at the trained depth, each trained model and the classical
methods run for the same number of iterations, on that plugin's primary metric, in that metric's
direction (``Task.higher_is_better``): the best mean per plugin is marked.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from unfold.plugin import PluginError, Registry
from unfold.report import fmt, pyplot
from unfold.run import prepare_run_dir, run_recipe, write_json
from unfold.unroller import Tying


def _at_trained_depth(results: dict[str, Any]) -> list[dict[str, Any]]:
    depths = {t["n_layers"] for t in results["training"].values()}
    rows = [r for r in results["methods"] if r["iterations"] in depths]
    return sorted(rows, key=lambda r: (r["iterations"], r["trained"], r["tying"] or ""))


def compare(registry: Registry, names: list[str], quick: bool, out: Path | None, device: str,
            seed: int, progress: bool, overrides: list[str] | None = None,
            tyings: tuple[str, ...] | None = None) -> Path:
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
    table: list[dict[str, Any]] = []
    for p in plugins:
        assert p.compare is not None
        run_dir = run_recipe(registry, p.compare, quick=quick, overrides=overrides,
                             out=out / p.name, device=device, seed=seed, progress=progress,
                             tyings=tyings)
        results = json.loads((run_dir / "results.json").read_text())
        metric = results["primary_metric"]
        higher = bool(results.get("higher_is_better", True))
        rows = []
        for r in _at_trained_depth(results):
            s = r["metrics"][metric]
            rows.append({"plugin": p.name, "recipe": p.compare, "method": r["name"],
                         "tying": r["tying"], "iterations": r["iterations"], "trained": r["trained"],
                         "metric": metric, "higher_is_better": higher, "mean": s["mean"],
                         "median": s["median"], "params": r["params"],
                         "train_seconds": r["seconds"]["train"], "run": str(run_dir.name)})
        best = max(rows, key=lambda r: r["mean"] if higher else -r["mean"], default=None)
        table += [{**r, "best": r is best} for r in rows]
    write_json(out / "compare.json", {"quick": quick, "seed": seed, "device": device, "rows": table})
    _figure(out / "compare.png", table)
    head = "| plugin | method | tying | iterations | metric | mean | median | params | train s |"
    lines = ["# unfold compare" + (" (quick)" if quick else ""), "",
             "Each plugin's comparison recipe, trained tied and untied; classical methods at the "
             "same depth. Per-plugin reports: `<plugin>/report.md`. Metric: ↑ higher is better, "
             "↓ lower is better; the best mean of each plugin in bold.", "", head, "|" + "---|" * 9]
    for r in table:
        mean = f"**{fmt(r['mean'])}**" if r["best"] else fmt(r["mean"])
        lines.append(f"| {r['plugin']} | {r['method']} | {r['tying'] or '-'} | {r['iterations']} | "
                     f"{r['metric']} {'↑' if r['higher_is_better'] else '↓'} | {mean} | "
                     f"{fmt(r['median'])} | {r['params']} | {r['train_seconds']:.1f} |")
    lines += ["", "![compare](compare.png)", ""]
    (out / "compare.md").write_text("\n".join(lines))
    return out


def _figure(path: Path, table: list[dict[str, Any]]) -> None:
    plt = pyplot()
    plugins = list(dict.fromkeys(r["plugin"] for r in table))
    fig, axes = plt.subplots(1, len(plugins), figsize=(4 * len(plugins), 3.5), squeeze=False)
    for ax, name in zip(axes[0], plugins):
        rows = [r for r in table if r["plugin"] == name]
        labels = [f"{r['method']}\n{r['tying'] or ''} {r['iterations']}" for r in rows]
        colors = ["C1" if r["trained"] else "C0" for r in rows]
        ax.bar(range(len(rows)), [r["mean"] for r in rows], color=colors)
        ax.set_xticks(range(len(rows)), labels, rotation=60, ha="right", fontsize=7)
        lo = min(r["mean"] for r in rows)
        hi = max(r["mean"] for r in rows)
        ax.set_ylim(lo - 0.1 * (hi - lo + 1e-9), hi + 0.1 * (hi - lo + 1e-9))
        ax.set_title(f"{name}: {rows[0]['metric']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
