"""Figures of a run: learned K rows beside the DCT, MSE vs inference iterations (Fig. 4).

Fig. 3 (test MSE vs L_train, training time) is the sweep's own ``sweep_mse.png`` of
``unfold run cp-dequant-paper``; nothing here trains."""

from __future__ import annotations

from collections.abc import Mapping, Sized
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
