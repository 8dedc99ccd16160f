"""The recipes: ``cp-dequant`` (the comparison, quick-capable) and ``cp-dequant-paper``."""

from __future__ import annotations

from unfold.recipe import Recipe
from unfold_plugins.cp_dequant.config import CPDConfig


def _task():
    from unfold_plugins.cp_dequant.task import DequantTask

    return DequantTask()


def paper_config() -> CPDConfig:
    """The paper's setting (Sec. III); every point of its sweep is traced to L_inference =
    10^4 (each point's ``mse_vs_inference.png``: Fig. 4 for that L_train and backprop)."""
    cfg = CPDConfig()
    cfg.eval.depths = (30, 100, 1000, 10_000)
    return cfg


#: Figs. 3 and 4: one tied K per (L_train, backprop), every other setting the recipe's; the
#: paper's three backprops plus the core's implicit:30 (#14 item 3)
PAPER_SWEEP: dict[str, list] = {
    "model.layers": [10, 20, 30, 40, 60, 80, 100, 200, 500, 1000],
    "train.backprop": ["full", "truncated:30", "frozen:30", "implicit:30"],
}


QUICK = {
    "data.n_train": 30, "data.n_valid": 5, "data.n_test": 5, "data.max_train_frames": 1024,
    "data.max_valid_frames": 256, "data.max_test_frames": 256, "train.epochs": 3,
    "train.lr": 1e-4, "train.lr_end": 1e-5, "eval.depths": (100,), "eval.opt_max_iter": 1000,
}

RECIPES = [
    Recipe("cp-dequant", _task, CPDConfig, quick=QUICK,
           description="4-bit speech dequantization: CP with learned K (L = 30) vs DCT K"),
    Recipe("cp-dequant-paper", _task, paper_config, tyings=("tied",),
           quick={**QUICK, "train.epochs": 2}, sweep=PAPER_SWEEP,
           description="Brauer & Lorenz: L_train sweep, full vs truncated vs frozen-Jacobian vs "
           "implicit BP (Figs. 3, 4; a sweep recipe)"),
]
