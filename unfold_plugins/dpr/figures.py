"""The paper's figures from a run: Fig. 2 (error and SSIM against m, every method) and Fig. 3
(reconstructions at two values of m). Both reuse the core's ``unfold.evaluate.evaluate`` on fresh
held-out test problems at each m (same images, same seeds as the run's test split). SPARTA's s
is chosen on the valid split at each m (``DPRTask.sparsity``), recorded in ``sweep.json`` and in
Fig. 3's column titles."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
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


def sweep(task: Any, cfg: Any, trained: Mapping[str, torch.nn.Module], ms: tuple[int, ...]
          ) -> dict[str, Any]:
    """{"m": [...], "methods": {label: {"mse": [...], "ssim": [...]}}, "sparta": [...]}: means
    per m; "sparta" holds SPARTA's s at each m and the valid errors it was chosen by."""
    from unfold.evaluate import evaluate

    out: dict[str, Any] = {"m": list(ms), "n": cfg.data.n, "images": cfg.eval.sweep_images,
                           "signals": cfg.data.signals, "methods": {}, "sparta": []}
    for m in ms:
        cfg_m = at_m(cfg, m)
        methods = figure_methods(task, cfg_m, trained)
        out["sparta"].append(asdict(task.sparsity(cfg_m, m)))
        data = task.split(cfg, "test", ms=(m,), count=cfg.eval.sweep_images)
        rows, _ = evaluate(task, cfg, methods, data, _device(trained), cfg.train.batch_size)
        for r in rows:
            entry = out["methods"].setdefault(family_label(r), {"mse": [], "ssim": []})
            for k in ("mse", "ssim"):
                entry[k].append(r.metrics[k].mean)
    return out


def plot_sweep(path: Path, result: dict[str, Any]) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(6.5, 7), sharex=True)
    s = "/".join(str(c["s"]) for c in result.get("sparta", []))
    for i, (label, v) in enumerate(result["methods"].items()):
        style = "-" if "DPR" in label else "--"
        label += f" (s = {s} on valid)" if label.startswith("SPARTA") and s else ""
        axes[0].plot(result["m"], v["mse"], style, marker="o", color=f"C{i % 10}", label=label)
        axes[1].plot(result["m"], v["ssim"], style, marker="o", color=f"C{i % 10}")
    axes[0].set_yscale("log")
    axes[0].set_ylim(bottom=1e-4)  # exact recoveries (≈ 1e-15) would flatten the rest
    axes[0].set_ylabel("per-pixel MSE (sign resolved; < 1e-4 clipped)")
    axes[1].set_ylabel("mean SSIM")
    axes[1].set_xlabel(f"measurements m (n = {result['n']})")
    axes[0].set_title(f"{result['images']} held-out test {result['signals']} per m")
    axes[0].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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
    run_dir = Path(run_dir)
    paths = [plot_grid(run_dir / "fig3_reconstructions.png", task, cfg, trained,
                       tuple(cfg.eval.grid_m) or (cfg.data.m,))]
    if cfg.eval.sweep_m:
        result = sweep(task, cfg, trained, tuple(cfg.eval.sweep_m))
        (run_dir / "sweep.json").write_text(json.dumps(result, indent=2) + "\n")
        paths.append(plot_sweep(run_dir / "fig2_error_vs_m.png", result))
    return paths
