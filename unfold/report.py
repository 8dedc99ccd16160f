"""Reports: Markdown tables and the standard PNG figures of a run (matplotlib, Agg backend).

Standard figures, for every recipe: training curves (train / validation loss per epoch and
model), the primary metric against iterations for every method, a boxplot of the primary
metric per method, and the learned parameters per layer of every trained model. Plugins add
their own through ``Task.figures``. report.md adds the paired differences of ``unfold.stats``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unfold.results import MethodResult, Paired, RunContext, RunResult
from unfold.train import History

if TYPE_CHECKING:
    from unfold.unroller import Unroller


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(path: Path, histories: Mapping[str, History],
                    refs: Mapping[str, float] | None = None, model: str = "",
                    title: str = "") -> Path:
    """Train (solid) and validation (dashed) loss per epoch of each tying's history.

    ``refs``: label -> loss, drawn as dotted horizontal reference lines (e.g. a classical
    method's validation loss); ``model`` prefixes each curve's label."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    prefix = f"{model} " if model else ""
    for i, (tying, h) in enumerate(histories.items()):
        ep = [e.epoch + 1 for e in h.epochs]
        ax.plot(ep, [e.train_loss for e in h.epochs], f"C{i}-", label=f"{prefix}{tying} train")
        ax.plot(ep, [e.val_loss for e in h.epochs], f"C{i}--",
                label=f"{prefix}{tying} validation")
    for j, (label, value) in enumerate((refs or {}).items()):
        ax.axhline(value, color="k", ls=":", lw=1 + j * 0.5, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7 if refs else None)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def metric_vs_iterations(path: Path, rows: Sequence[MethodResult], metric: str,
                         title: str = "", xlabel: str = "layers / iterations") -> Path:
    """Mean of ``metric`` against iterations per method, quartiles as a band."""
    plt = pyplot()
    families: dict[str, list[MethodResult]] = {}
    for r in rows:
        if metric in r.metrics:
            families.setdefault(r.name + (f" {r.tying}" if r.tying else ""), []).append(r)
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (key, pts) in enumerate(sorted(families.items())):
        pts.sort(key=lambda p: p.iterations)
        it = [p.iterations for p in pts]
        ax.plot(it, [p.metrics[metric].mean for p in pts], f"C{i}-o", ms=3, label=key)
        ax.fill_between(it, [p.metrics[metric].q1 for p in pts],
                        [p.metrics[metric].q3 for p in pts], color=f"C{i}", alpha=0.15)
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


def learned_parameters(path: Path, trained: Mapping[str, Unroller]) -> Path | None:
    """Every learned declared parameter of every trained model against its layer t = 1 … L.

    From ``model.value(name)`` (shape (L, *shape)): a scalar parameter is drawn as its value per
    layer; a vector or matrix θ_t as its mean (solid) and RMS ‖θ_t‖₂/√size (dashed) per layer.
    None when no model has a learned (trainable, gradient-carrying) declared parameter.
    """
    curves: dict[str, list[tuple[str, Any, bool]]] = {}
    for tying, model in trained.items():
        for name, spec in model.param_specs().items():
            if spec.trainable and model.raw[name].requires_grad:
                v = model.value(name).detach().double().cpu().reshape(model.n_layers, -1)
                curves.setdefault(name, []).append((tying, v, v.shape[1] == 1))
    if not curves:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(len(curves), 1, figsize=(6, 2.2 * len(curves) + 0.6), squeeze=False)
    for ax, (name, lines) in zip(axes[:, 0], curves.items()):
        for i, (tying, v, scalar) in enumerate(lines):
            layers = range(1, v.shape[0] + 1)
            if scalar:
                ax.plot(layers, v[:, 0].numpy(), f"C{i}-o", ms=3, label=tying)
            else:
                ax.plot(layers, v.mean(1).numpy(), f"C{i}-o", ms=3, label=f"{tying} mean")
                ax.plot(layers, v.pow(2).mean(1).sqrt().numpy(), f"C{i}--", label=f"{tying} RMS")
        ax.set_ylabel(name)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel("layer")
    axes[0, 0].set_title("learned parameters per layer")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def standard_figures(ctx: RunContext[Any]) -> list[Path]:
    metric, run_dir = ctx.results.primary_metric, ctx.run_dir
    out = []
    if any(h.epochs for h in ctx.histories.values()):
        out.append(training_curves(run_dir / "training_curves.png", ctx.histories))
    out.append(metric_vs_iterations(run_dir / f"{metric}_vs_iterations.png", ctx.results.methods,
                                    metric))
    out.append(boxplot(run_dir / f"{metric}_boxplot.png", ctx.per_item, metric))
    params = learned_parameters(run_dir / "learned_parameters.png", ctx.trained)
    return out + ([params] if params else [])


def fmt(x: float) -> str:
    return f"{x:.4g}"


def methods_table(rows: Sequence[MethodResult]) -> str:
    metrics = sorted({m for r in rows for m in r.metrics})
    head = ["method", "tying", "iterations", "params", *[f"{m} mean (median)" for m in metrics],
            "train s", "infer ms/item"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.name, r.tying or "-", str(r.iterations), str(r.params)]
        for m in metrics:
            s = r.metrics.get(m)
            cells.append(f"{fmt(s.mean)} ({fmt(s.median)})" if s else "-")
        train_s = r.seconds.train
        cells += ["-" if train_s is None else f"{train_s:.1f}",
                  f"{1e3 * r.seconds.infer_per_item:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def interval(p: Paired) -> str:
    return f"[{fmt(p.ci95[0])}, {fmt(p.ci95[1])}]" if p.ci95 else "- (n < 2)"


def paired_table(paired: Sequence[Paired], higher_is_better: bool) -> str:
    """Markdown: each trained method minus each classical one at the same iterations."""
    head = "| method | tying | baseline | iterations | metric | mean difference | 95 % interval " \
           "| better / n |"
    lines = [head, "|" + "---|" * 8]
    for p in paired:
        mark = " *" if p.significant else ""
        lines.append(f"| {p.method} | {p.tying or '-'} | {p.baseline} | {p.iterations} | {p.metric} "
                     f"| {p.mean_diff:+.4g}{mark} | {interval(p)} | {p.better} / {p.n} |")
    direction = "higher" if higher_is_better else "lower"
    lines += ["", "Difference = trained − baseline per test item (same items), mean and paired t "
              "interval d̄ ± t₀.₉₇₅,ₙ₋₁·s/√n; * marks an interval that excludes 0. \"better\" counts "
              f"items where the trained method is better ({direction} is better)."]
    return "\n".join(lines)


def write_report(run_dir: Path, results: RunResult, figures: Sequence[Path]) -> Path:
    r = results
    lines = [f"# {r.recipe} ({'quick' if r.quick else 'full'})", "",
             f"Plugin `{r.plugin}`, seed {r.seed}, device {r.device}. Metrics on the test split; "
             f"primary metric: **{r.primary_metric}** "
             f"({'higher' if r.higher_is_better else 'lower'} is better).", "",
             "## Training", "",
             "| model | backprop | epochs | best epoch | best validation loss | seconds |",
             "|---|---|---|---|---|---|"]
    for tying, t in r.training.items():
        lines.append(f"| {tying} | {t.backprop} | {t.epochs} | {t.best_epoch + 1} "
                     f"| {fmt(t.best_val_loss)} | {t.seconds:.1f} |")
    lines += ["", "## Results", "", methods_table(r.methods), ""]
    if r.paired:
        lines += ["## Paired differences to the classical methods", "",
                  paired_table(r.paired, r.higher_is_better), ""]
    if r.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in r.notes], ""]
    lines += ["## Figures", ""]
    lines += [f"![{p.stem}]({p.name})" for p in figures]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
