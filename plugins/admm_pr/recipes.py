"""The recipes: ``admm-pr`` (quick-capable; the plugin's compare recipe) and ``admm-pr-paper``."""

from __future__ import annotations

from unfold_plugins.admm_pr.config import ADMMPRConfig

from unfold.recipe import Recipe


def _task():
    from unfold_plugins.admm_pr.task import PhaseRetrievalTask

    return PhaseRetrievalTask()


def _default() -> ADMMPRConfig:
    """Paper settings on a corpus a 2-core machine trains in minutes: 200 training utterances,
    lr 1e-2 for untied (1e-3 effective for tied, which diverged at 1e-2 in the probe)."""
    cfg = ADMMPRConfig()
    cfg.data.n_train, cfg.data.n_valid, cfg.data.n_test = 200, 10, 50
    cfg.train.lr, cfg.train.epochs, cfg.train.patience = 1e-2, 20, 4
    cfg.model.tied_lr_scale = 0.1
    cfg.eval.baseline_iters = (15, 30, 75, 150, 300)
    cfg.eval.uadmm_iters = (15, 30, 75, 150)
    cfg.eval.reference_iters = (15, 150, 300)
    return cfg


QUICK = {
    "data.n_train": 40,
    "data.n_valid": 5,
    "data.n_test": 12,
    "train.epochs": 3,
    "train.patience": 0,
    "eval.baseline_iters": [15, 30, 150],
    "eval.uadmm_iters": [15, 30, 150],
    "eval.reference_iters": [15, 150],
}

RECIPES = [
    Recipe("admm-pr", _task, _default, quick=QUICK,
           description="UADMM (learned APL prox) vs GLA/FGLA/ADMM on the eSpeak corpus"),
    Recipe("admm-pr-paper", _task, ADMMPRConfig,
           quick={**QUICK, "train.lr": 1e-2, "model.tied_lr_scale": 0.1},
           description="Vial et al. 2022 settings: T=15, C=3, rho=1e-3, Adam 1e-4, batch 10, "
                       "<=200 epochs, 1000/10/50 utterances; --set data.root=/path/to/TIMIT"),
]
