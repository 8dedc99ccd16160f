"""The paper's experiment: a tied K trained for every (L_train, backprop), Figs. 3 and 4.

For each backprop in ``sweep.backprops`` and L in ``sweep.layers`` the core :class:`Trainer`
fits one tied model (same data, seed and TrainConfig as the recipe; best-validation K kept), and
we record on the test split: MSE with classical inference (L iterations), MSE with optimality
inference (``eval.opt_tol`` / ``eval.opt_max_iter``, if ``eval.optimality``), and the training
time. The DCT K (no training) is the reference row. For L_train in ``sweep.fig4_layers`` the MSE
is also traced over ``sweep.inference`` iterations (Fig. 4). Writes ``sweep.json`` and the
figures into ``out``; checkpoints go to ``out/checkpoints/<backprop>-L<L>/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from unfold.train import Trainer
from unfold_plugins.cp_dequant.config import CPDConfig
from unfold_plugins.cp_dequant.cp import cp_solve
from unfold_plugins.cp_dequant.figures import mse_curve, sweep_figures
from unfold_plugins.cp_dequant.unroller import ChambollePock


def _mse(y: torch.Tensor, target: torch.Tensor) -> float:
    return float(((y - target) ** 2).mean())


def evaluate_sweep_model(model: ChambollePock, problem: Any, target: torch.Tensor,
                         cfg: CPDConfig) -> dict[str, float | None]:
    with torch.no_grad():
        classical = _mse(model(problem), target)
    opt = None
    if cfg.eval.optimality:
        K = model.theta(0).K.detach()
        opt = _mse(cp_solve(problem.x, K, problem.h, cfg.eval.opt_max_iter, cfg.eval.opt_tol)[0],
                   target)
    return {"mse_classical": classical, "mse_optimality": opt}


def run_sweep(task: Any, cfg: CPDConfig, out: Path, seed: int = 0,
              progress: bool = True) -> list[Path]:
    """Train and evaluate the sweep into ``out`` (created); returns the figure paths."""
    out.mkdir(parents=True, exist_ok=True)
    data = task.datasets(cfg)
    test = data["test"]
    problem, target = task.problem(torch.stack([test[i] for i in range(len(test))]), cfg,
                                   torch.device("cpu"))
    s = cfg.sweep
    n_curve = max(s.inference)
    rows: list[dict[str, Any]] = []
    curves: dict[str, tuple[list[int], list[float]]] = {}
    xs = sorted(s.inference)
    for L in s.layers:
        dct = task.build_model(cfg, "tied", layers=L, trainable=False)
        rows.append({"backprop": "DCT (untrained)", "layers": L, "train_seconds": 0.0,
                     **evaluate_sweep_model(dct, problem, target, cfg)})
    baseline = {"quantized": _mse(problem.x, target),
                "dct_optimality": rows[0]["mse_optimality"]}
    dct_curve = mse_curve(task.build_model(cfg, "tied", trainable=False), problem, target, n_curve)
    curves["DCT"] = (xs, [dct_curve[n - 1] for n in xs])
    for bp in s.backprops:
        for L in s.layers:
            torch.manual_seed(seed)
            model = task.build_model(cfg, "tied", layers=L, backprop=bp)
            tag = f"{bp.replace(':', '')}-L{L}"
            trainer = Trainer(task, cfg, model, torch.device("cpu"), out / "checkpoints" / tag,
                              {"plugin": "cp-dequant", "recipe": "cp-dequant-paper", "tying": "tied",
                               "config": _config_with(cfg, L, bp), "quick": False, "seed": seed},
                              seed, progress)
            hist = trainer.fit(data["train"], data["valid"], tag=tag)
            row = {"backprop": bp, "layers": L, "train_seconds": hist.seconds,
                   "epochs": len(hist.epochs), "best_epoch": hist.best_epoch,
                   "seconds_per_step": hist.seconds / max(1, len(hist.epochs))
                   / max(1, -(-len(data["train"]) // cfg.train.batch_size)),
                   **evaluate_sweep_model(model, problem, target, cfg)}
            rows.append(row)
            if L in s.fig4_layers:
                c = mse_curve(model, problem, target, n_curve)
                curves[f"{bp}, L_train = {L}"] = (xs, [c[n - 1] for n in xs])
            (out / "sweep.json").write_text(json.dumps(
                {"rows": rows, "curves": curves, "baseline": baseline,
                 "test_frames": len(test)}, indent=1))
    trained = [r for r in rows if r["backprop"] in s.backprops]
    dct_rows = [r for r in rows if r["backprop"] not in s.backprops]
    return sweep_figures(out, trained, curves, {**baseline, "dct_rows": dct_rows})


def _config_with(cfg: CPDConfig, layers: int, backprop: str) -> dict[str, Any]:
    from dataclasses import asdict

    d = asdict(cfg)
    d["model"].update(layers=layers, backprop=backprop)
    return d
