"""The recipes: ``admm-pr`` (quick-capable; the plugin's compare recipe) and ``admm-pr-paper``."""

from __future__ import annotations

from unfold.recipe import Recipe
from unfold_plugins.admm_pr.config import ADMMPRConfig


def _task():
    from unfold_plugins.admm_pr.task import PhaseRetrievalTask

    return PhaseRetrievalTask()


def _default() -> ADMMPRConfig:
    """Paper settings on a corpus a 2-core machine trains in minutes: 200 training utterances,
    Adam lr 1e-2 decaying to 1e-3 (tied: 3e-3 to 3e-4), early stopping. Measured on the quick
    corpus (100 train, 8 epochs, 80 steps): untied at 1e-2 lowered the training loss (neg-STOI)
    from -.9756 to -.9765; tied at 1e-2 first improved, then rose from -.9755 to -.9741 (test
    STOI at 30 layers .9793, below ADMM-30 .9828); tied at 3e-3 fell steadily from -.9752 to
    -.9759 (test STOI at 30 layers .9816). Hence ``model.tied_lr_scale`` = 0.3."""
    cfg = ADMMPRConfig()
    cfg.data.n_train, cfg.data.n_valid, cfg.data.n_test = 200, 10, 50
    cfg.train.lr, cfg.train.lr_end, cfg.train.epochs, cfg.train.patience = 1e-2, 1e-3, 20, 4
    cfg.model.tied_lr_scale = 0.3
    cfg.eval.baseline_iters = (15, 30, 75, 150, 300)
    cfg.eval.uadmm_iters = (15, 30, 75, 150)
    cfg.eval.reference_iters = (15, 150, 300)
    return cfg


QUICK = {
    "data.n_train": 100,  # 8 epochs of 10 batches: 80 Adam steps, enough to move the APL
    "data.n_valid": 20,  # 5 picked the best epoch by noise: the effect is ~1e-3 STOI
    "data.n_test": 12,
    "train.epochs": 8,
    "train.patience": 0,
    "eval.baseline_iters": [15, 30, 150],
    "eval.uadmm_iters": [15, 30, 150],
    "eval.reference_iters": [15, 150],
}

RECIPES = [
    Recipe("admm-pr", _task, _default, quick=QUICK,
           description="UADMM (learned APL prox) vs GLA/FGLA/ADMM on the eSpeak corpus"),
    Recipe("admm-pr-paper", _task, ADMMPRConfig,
           quick={**QUICK, "train.lr": 1e-2},
           description="Vial et al. 2022 settings: T=15, C=3, rho=1e-3, Adam 1e-4, batch 10, "
                       "<=200 epochs, 1000/10/50 utterances; --set data.root=/path/to/TIMIT"),
]
