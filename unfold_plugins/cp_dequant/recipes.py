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


def paper_budget_config() -> CPDConfig:
    """The paper's training budget at L_train = 30, tied K (#14 item 3): every frame kept (the
    paper's 66,628 frames from 504 sentences imply no silence rule), ≥ 60 k training frames,
    20 epochs of batch 32 with Adam, lr 1e-5 → 1e-8, and "optimality" to a relative primal-dual
    gap ≤ 1e-6 or 10^5 iterations (the run's notes say which stopped each solve)."""
    cfg = CPDConfig()
    d, t, e = cfg.data, cfg.train, cfg.eval
    d.min_rms_db, d.n_train, d.n_valid, d.n_test = None, 640, 40, 40
    d.max_train_frames, d.max_valid_frames, d.max_test_frames = 0, 2048, 2048
    t.epochs, t.batch_size, t.lr, t.lr_end, t.patience = 20, 32, 1e-5, 1e-8, 0
    e.depths, e.opt_tol, e.opt_max_iter = (100, 1000), 1e-6, 100_000
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
    Recipe("cp-dequant-budget", _task, paper_budget_config, tyings=("tied", "untied"),
           quick={**QUICK, "data.min_rms_db": None, "train.batch_size": 32},
           description="The learned-K verdict at the paper's budget: all frames, >= 60 k training "
           "frames, 20 epochs, lr 1e-5 -> 1e-8, optimality to gap 1e-6 (add --sweep seed=0,1,2)"),
]
