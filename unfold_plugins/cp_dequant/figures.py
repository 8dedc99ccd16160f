"""Figures: learned K rows beside the DCT, MSE vs inference iterations (Fig. 4), the sweep (Fig. 3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Sized
from pathlib import Path
from typing import Any, cast

import torch
from torch.utils.data import Dataset

from unfold.report import pyplot
from unfold_plugins.cp_dequant.cp import dct_matrix
from unfold_plugins.cp_dequant.unroller import ChambollePock

ROWS = (0, 3, 10, 40, 120)


def k_rows(path: Path, trained: Mapping[str, ChambollePock], cfg: Any) -> Path:
    """Rows of the DCT and of each learned K (untied: its last layer), and K − DCT."""
    plt = pyplot()
    n = cfg.data.frame
    dct = dct_matrix(n, cfg.model.k or n)
    Ks = {"DCT": dct, **{f"learned ({t})": m.value("K")[-1] for t, m in trained.items()}}
    rows = [r for r in ROWS if r < dct.shape[0]]
    fig, axes = plt.subplots(len(rows) + 1, len(Ks), figsize=(3.2 * len(Ks), 1.2 * len(rows) + 2.4),
                             squeeze=False)
    for j, (name, K) in enumerate(Ks.items()):
        for i, r in enumerate(rows):
            axes[i][j].plot(K[r].numpy(), lw=0.8, color="C0" if j == 0 else "C1")
            axes[i][j].set_title(f"{name}: row {r}", fontsize=7)
            axes[i][j].tick_params(labelsize=6)
        diff = (K - dct).abs()
        im = axes[-1][j].imshow(diff.numpy(), aspect="auto", cmap="magma")
        axes[-1][j].set_title(f"|K − DCT| (max {float(diff.max()):.2g})", fontsize=7)
        fig.colorbar(im, ax=axes[-1][j])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@torch.no_grad()
def mse_curve(model: ChambollePock, problem: Any, target: torch.Tensor, n_iter: int) -> list[float]:
    """Test MSE after every iteration 1 … n_iter (the tied stack, or the untied one repeated)."""
    return model.trace(problem, lambda y, p: float(((y - target) ** 2).mean()), n_iter)


def mse_vs_inference(path: Path, task: Any, cfg: Any, trained: Mapping[str, ChambollePock],
                     test_set: Dataset, frames: int = 256) -> Path:
    """Fig. 4 for this run: MSE vs L_inference for the DCT and each learned K."""
    plt = pyplot()
    batch = torch.stack([test_set[i] for i in range(min(frames, len(cast(Sized, test_set))))])
    problem, target = task.problem(batch, cfg, torch.device("cpu"))
    n_iter = max(cfg.model.layers, *cfg.eval.depths)
    dct = task.build_model(cfg, "tied", trainable=False)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.axhline(float(((problem.x - target) ** 2).mean()), color="gray", ls=":", label="quantized")
    ax.plot(range(1, n_iter + 1), mse_curve(dct, problem, target, n_iter), color="k", label="DCT K")
    for t, m in trained.items():
        ax.plot(range(1, n_iter + 1), mse_curve(m.cpu(), problem, target, n_iter),
                label=f"learned K ({t}, L_train = {m.n_layers})")
    ax.axvline(cfg.model.layers, color="gray", lw=0.5)
    ax.set(xscale="log", xlabel="L_inference", ylabel=f"test MSE ({len(batch)} frames)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def sweep_figures(out: Path, rows: Sequence[Mapping[str, Any]], curves: Mapping[str, Any],
                  baseline: Mapping[str, Any]) -> list[Path]:
    """Fig. 3 (test MSE vs L_train, classical/optimality, training-time bars) and Fig. 4.

    ``baseline``: "quantized" and "dct_optimality" MSEs, "dct_rows" (the untrained DCT rows).
    """
    plt = pyplot()
    bps = list(dict.fromkeys(r["backprop"] for r in rows))
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(6.5, 6), sharex=True,
                                 gridspec_kw={"height_ratios": [2, 1]})
    for i, bp in enumerate(bps):
        rs = sorted((r for r in rows if r["backprop"] == bp), key=lambda r: r["layers"])
        Ls = [r["layers"] for r in rs]
        ax.plot(Ls, [r["mse_classical"] for r in rs], "-o", color=f"C{i}", ms=3,
                label=f"{bp}, classical")
        if any(r.get("mse_optimality") is not None for r in rs):
            ax.plot(Ls, [r["mse_optimality"] for r in rs], ":s", color=f"C{i}", ms=3,
                    label=f"{bp}, optimality")
        w = [0.12 * L for L in Ls]
        bx.bar([L * (1 + 0.14 * (i - (len(bps) - 1) / 2)) for L in Ls],
               [r["train_seconds"] for r in rs], width=w, color=f"C{i}", label=bp)
    dct = sorted(baseline.get("dct_rows", ()), key=lambda r: r["layers"])
    if dct:
        ax.plot([r["layers"] for r in dct], [r["mse_classical"] for r in dct], "--", color="k",
                lw=0.8, label="DCT K, classical")
    for name, style in (("dct_optimality", "-."),):
        if baseline.get(name) is not None:
            ax.axhline(baseline[name], color="k", ls=style, lw=0.8, label=name.replace("_", ", "))
    ax.set(xscale="log", ylabel="test MSE")
    ax.legend(fontsize=6)
    bx.set(xscale="log", xlabel="L_train", ylabel="training s")
    bx.legend(fontsize=6)
    fig.tight_layout()
    p3 = out / "fig3_mse_vs_Ltrain.png"
    fig.savefig(p3, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for j, (label, (xs, ys)) in enumerate(curves.items()):
        ax.plot(xs, ys, "-" if "full" in label else ":", color=f"C{j}", label=label)
    if baseline.get("quantized") is not None:
        ax.axhline(baseline["quantized"], color="gray", ls=":", label="quantized")
    ax.set(xscale="log", xlabel="L_inference", ylabel="test MSE")
    ax.legend(fontsize=6)
    fig.tight_layout()
    p4 = out / "fig4_mse_vs_Linference.png"
    fig.savefig(p4, dpi=110)
    plt.close(fig)
    return [p3, p4]
