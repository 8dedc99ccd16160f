"""Reports: Markdown tables and the standard PNG figures of a run (matplotlib, Agg backend).

Standard figures, for every recipe: training curves (train / validation loss per epoch and
model), the primary metric against iterations for every method, and a boxplot of the primary
metric per method. Plugins add their own through ``Task.figures``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from unfold.train import History


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(path: Path, histories: Mapping[str, History]) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (tying, h) in enumerate(histories.items()):
        ep = [e.epoch + 1 for e in h.epochs]
        ax.plot(ep, [e.train_loss for e in h.epochs], f"C{i}-", label=f"{tying} train")
        ax.plot(ep, [e.val_loss for e in h.epochs], f"C{i}--", label=f"{tying} validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def metric_vs_iterations(path: Path, rows: Sequence[Mapping[str, Any]], metric: str,
                         title: str = "", xlabel: str = "layers / iterations") -> Path:
    """Mean of ``metric`` against iterations per method, quartiles as a band."""
    plt = pyplot()
    families: dict[str, list[tuple[int, Mapping[str, float]]]] = {}
    for r in rows:
        if metric in r["metrics"]:
            key = r["name"] + (f" {r['tying']}" if r["tying"] else "")
            families.setdefault(key, []).append((r["iterations"], r["metrics"][metric]))
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (key, pts) in enumerate(sorted(families.items())):
        pts.sort(key=lambda p: p[0])
        it = [p[0] for p in pts]
        ax.plot(it, [p[1]["mean"] for p in pts], f"C{i}-o", ms=3, label=key)
        ax.fill_between(it, [p[1]["q1"] for p in pts], [p[1]["q3"] for p in pts],
                        color=f"C{i}", alpha=0.15)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric}: mean, band = quartiles")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def boxplot(path: Path, per_item: Mapping[str, Mapping[str, Sequence[float]]], metric: str) -> Path:
    plt = pyplot()
    labels = [k for k, v in per_item.items() if metric in v]
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(labels)), 4))
    ax.boxplot([per_item[k][metric] for k in labels])
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def standard_figures(run_dir: Path, results: Mapping[str, Any],
                     per_item: Mapping[str, Mapping[str, Sequence[float]]],
                     histories: Mapping[str, History]) -> list[Path]:
    metric = results["primary_metric"]
    out = []
    if any(h.epochs for h in histories.values()):
        out.append(training_curves(run_dir / "training_curves.png", histories))
    out.append(metric_vs_iterations(run_dir / f"{metric}_vs_iterations.png", results["methods"], metric))
    out.append(boxplot(run_dir / f"{metric}_boxplot.png", per_item, metric))
    return out


def fmt(x: float) -> str:
    return f"{x:.4g}"


def methods_table(rows: Sequence[Mapping[str, Any]]) -> str:
    metrics = sorted({m for r in rows for m in r["metrics"]})
    head = ["method", "tying", "iterations", "params", *[f"{m} mean (median)" for m in metrics],
            "train s", "infer ms/item"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["name"], r["tying"] or "-", str(r["iterations"]), str(r["params"])]
        for m in metrics:
            s = r["metrics"].get(m)
            cells.append(f"{fmt(s['mean'])} ({fmt(s['median'])})" if s else "-")
        train_s = r["seconds"]["train"]
        cells += ["-" if train_s is None else f"{train_s:.1f}",
                  f"{1e3 * r['seconds']['infer_per_item']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(run_dir: Path, results: Mapping[str, Any], figures: Sequence[Path]) -> Path:
    lines = [f"# {results['recipe']} ({'quick' if results['quick'] else 'full'})", "",
             f"Plugin `{results['plugin']}`, seed {results['seed']}, device {results['device']}. "
             f"Metrics on the test split; primary metric: **{results['primary_metric']}**.", "",
             "## Training", "",
             "| model | backprop | epochs | best epoch | best validation loss | seconds |",
             "|---|---|---|---|---|---|"]
    for tying, t in results.get("training", {}).items():
        lines.append(f"| {tying} | {t.get('backprop', '-')} | {t['epochs']} | {t['best_epoch'] + 1} "
                     f"| {fmt(t['best_val_loss'])} | {t['seconds']:.1f} |")
    lines += ["", "## Results", "", methods_table(results["methods"]), ""]
    notes = results.get("notes")
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    lines += ["## Figures", ""]
    lines += [f"![{p.stem}]({p.name})" for p in figures]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
