"""The paper's figures for a run: training curves with ADMM reference lines (Fig. 2), test
boxplots (Fig. 3), STOI against iterations with quartile bands (Fig. 4) and the learned
divergences f_r(y) at r = 1 (Fig. 5, supplementary eq. 31). matplotlib with the Agg backend."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from unfold.report import metric_vs_iterations, pyplot, training_curves
from unfold.results import MethodResult, RunContext
from unfold_plugins.admm_pr.admm import ADMM
from unfold_plugins.admm_pr.divergence import kl, learned_divergence
from unfold_plugins.admm_pr.uadmm import UADMM


@torch.no_grad()
def admm_reference_losses(task: Any, cfg: Any, split: str = "valid") -> dict[int, float]:
    """Mean training loss of ADMM (quadratic, ρ) on ``split`` at ``eval.reference_iters``."""
    from torch.utils.data import DataLoader

    data = task.datasets(cfg)[split]
    loader = DataLoader(data, batch_size=cfg.train.batch_size, collate_fn=task.collate)
    admm = ADMM(1, rho=cfg.model.rho)
    marks = sorted(set(cfg.eval.reference_iters))
    sums, count = dict.fromkeys(marks, 0.0), 0
    for batch in loader:
        problem, target = task.problem(batch, cfg, torch.device("cpu"))
        for k, v in _batch_losses(admm, task, cfg, problem, target, marks).items():
            sums[k] += v
        count += target.shape[0]
    return {k: v / max(count, 1) for k, v in sums.items()}


def _batch_losses(admm: ADMM, task: Any, cfg: Any, problem: Any, target: Any,
                  marks: list[int]) -> dict[int, float]:
    """{k: training loss after k iterations × batch size} for k in ``marks`` (one run)."""
    out: dict[int, float] = {}

    def record(t: int, state: Any) -> None:
        if t + 1 in marks:
            out[t + 1] = float(task.loss(admm.readout(state, problem), target, problem, cfg))
            out[t + 1] *= target.shape[0]

    admm.run(problem, marks[-1], callback=record)
    return out


def boxplots(path: Path, ctx: RunContext[UADMM], depth: int) -> Path:
    rows = ctx.results.methods
    longest: dict[str, int] = {}
    for r in rows:
        if not r.trained:
            longest[r.name] = max(longest.get(r.name, 0), r.iterations)
    keep: list[MethodResult] = [r for r in rows if r.iterations == depth
                                or (not r.trained and r.iterations == longest[r.name])]
    labels = [r.label for r in keep]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(labels)), 4))
    ax.boxplot([ctx.values(r, "stoi") for r in keep])
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("STOI (pystoi)")
    ax.set_title("Test set (Fig. 3)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


@torch.no_grad()
def divergences(path: Path, trained: Mapping[str, UADMM], rho: float) -> Path:
    y = torch.linspace(0.02, 3.0, 300, dtype=torch.float64)
    r = torch.tensor(1.0, dtype=torch.float64)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(y, 0.5 * (y - 1) ** 2, "k-", lw=2, label="quadratic ½(y−1)²")
    ax.plot(y, kl(y, r), "k--", lw=2, label="KL(y|1)")
    for tying, model in trained.items():
        model = model.double().cpu()
        layers = [0] if model.tying.kind == "tied" else sorted({0, model.n_layers // 2,
                                                                model.n_layers - 1})
        for t in layers:
            f = rho * learned_divergence(y, r, model.theta(t))
            ax.plot(y, f - f.min(), label=f"{tying}" + (f" layer {t + 1}" if len(layers) > 1 else ""))
        model.float()
    ax.set_xlabel("y")
    ax.set_ylabel("ρ·f_r(y), shifted to min 0 (r = 1)")
    ax.set_title("Learned divergences (Fig. 5, eq. 31)")
    ax.set_ylim(0, 2.5)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def make_figures(task: Any, ctx: RunContext[UADMM]) -> list[Path]:
    run_dir, cfg, trained = ctx.run_dir, ctx.cfg, ctx.trained
    out = []
    if trained:
        refs = admm_reference_losses(task, cfg)
        out.append(training_curves(
            run_dir / "fig2_training.png", ctx.histories,
            {f"ADMM-{k} (valid)": v for k, v in sorted(refs.items())}, model="UADMM",
            title="Training curves (Fig. 2)"))
    out.append(boxplots(run_dir / "fig3_boxplots.png", ctx, cfg.model.layers))
    out.append(metric_vs_iterations(
        run_dir / "fig4_stoi_vs_iterations.png", ctx.results.methods, "stoi",
        title="STOI against iterations (Fig. 4)",
        xlabel="iterations / layers (UADMM iterated past its depth)"))
    if trained:
        out.append(divergences(run_dir / "fig5_divergences.png", trained, cfg.model.rho))
    return out
