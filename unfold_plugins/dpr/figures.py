"""Fig. 3 of the paper from a run: reconstructions of held-out test problems at ``eval.grid_m``
(default: data.m) by every method, trained models at their trained depth. SPARTA's s is chosen
on the valid split at each m (``DPRTask.sparsity``) and shown in the column titles.

Fig. 2 (error and SSIM against m) is the sweep of the ``dpr-sweep`` recipe over data.m
(``unfold.sweep``: ``sweep_mse.png`` and ``sweep.png``); nothing here trains or sweeps."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from unfold.report import pyplot
from unfold.results import MethodResult, method_label

from .config import at_m
from .data import SHAPES
from .metrics import resolve_sign


def _device(trained: Mapping[str, torch.nn.Module]) -> torch.device:
    for model in trained.values():
        for p in model.parameters():
            return p.device
    return torch.device("cpu")


def figure_methods(task: Any, cfg: Any, trained: Mapping[str, torch.nn.Module]) -> list[Any]:
    """The task's methods at cfg.data.m, trained models at their trained depth only, without the
    oracle-restart rows (they are a table entry of the run, not a method to draw)."""
    from .oracle import OracleRestarts

    return [m for m in task.methods(cfg, trained)
            if (not m.trained or m.iterations == cfg.model.layers)
            and not isinstance(m, OracleRestarts)]


def family_label(row: MethodResult | Mapping[str, Any]) -> str:
    """``method_label`` without SPARTA's " s=<s>", which may differ from one m to the next."""
    label = method_label(row)
    name = row.name if isinstance(row, MethodResult) else row["name"]
    return label.replace(name, name.split(" s=")[0], 1)


def plot_grid(path: Path, task: Any, cfg: Any, trained: Mapping[str, torch.nn.Module],
              ms: tuple[int, ...], count: int = 6) -> Path:
    """Fig. 3: ground truth, then one row per method, for each m side by side."""
    plt = pyplot()
    methods = figure_methods(task, cfg, trained)
    shape = SHAPES[cfg.data.dataset]
    count = min(count, cfg.data.n_test)
    fig, axes = plt.subplots(len(methods) + 1, len(ms),
                             figsize=(2.2 + 1.1 * count * len(ms), 0.9 * (len(methods) + 1)),
                             squeeze=False)
    for j, m in enumerate(ms):
        methods = figure_methods(task, at_m(cfg, m), trained)
        data = task.split(cfg, "test", ms=(m,), count=count)
        problem, y0 = task.problem(task.collate([data[i] for i in range(count)]), cfg,
                                   _device(trained))
        rows = [("ground truth", y0)]
        with torch.no_grad():
            for meth in methods:
                x = resolve_sign(meth(problem), y0)
                rows.append((family_label({"name": meth.name, "tying": meth.tying,
                                           "iterations": meth.iterations}), x))
        for i, (label, x) in enumerate(rows):
            tiles = x.detach().cpu().clamp(0, 1).reshape(count, *shape)
            gap = torch.full((shape[0], 1), 0.5)
            strip = torch.cat([t for tile in tiles for t in (tile, gap)][:-1], dim=1)
            ax = axes[i][j]
            ax.imshow(strip.numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
            if i == 0:
                ax.set_title(f"m = {m} (SPARTA s = {task.sparsity(at_m(cfg, m), m).s})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def dpr_figures(task: Any, run_dir: Path, cfg: Any, trained: Mapping[str, torch.nn.Module]
                ) -> list[Path]:
    return [plot_grid(Path(run_dir) / "fig3_reconstructions.png", task, cfg, trained,
                      tuple(cfg.eval.grid_m) or (cfg.data.m,))]
