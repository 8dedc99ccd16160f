"""The deep-nmf recipes.

Tyings are values of C, the number of untied final layers: "partial:C". C = 0 (tying "tied")
is SNMF, the classical algorithm with nothing to train: it is evaluated as the baseline method
of every run, not trained. "untied" would mean C = K. In ``unfold compare`` the "tied" side of
deep NMF is therefore the SNMF baseline and the untied side the trained C = 1 and C = 2 models.
"""

from __future__ import annotations

from unfold.recipe import Recipe
from unfold_plugins.deep_nmf.config import DeepNMFConfig


def _task():
    from unfold_plugins.deep_nmf.task import DeepNMFTask

    return DeepNMFTask()


QUICK = {
    "data.n_train": 30, "data.n_valid": 4, "data.n_test": 2,
    "model.rank": 20, "model.snmf_iter": 20, "model.snmf_frames": 2000,
    "train.epochs": 4, "train.batch_size": 5,
}

deep_nmf = Recipe(
    name="deep-nmf",
    task=_task,
    config=DeepNMFConfig,
    quick=QUICK,
    description="Deep NMF speech enhancement: SNMF (C=0) vs the last C=1, 2 layers untied, "
                "K=25, unseen test noise (compare recipe)",
    tyings=("partial:1", "partial:2"),
)


def _paper_config() -> DeepNMFConfig:
    cfg = DeepNMFConfig()
    cfg.data.n_train, cfg.data.n_test = 400, 50
    cfg.train.epochs = 20
    return cfg


#: Table 2's two halves: K = 25 and K = 4 layers, each point training C = 1..4 (its tyings)
PAPER_SWEEP: dict[str, list] = {"model.layers": [25, 4]}

deep_nmf_paper = Recipe(
    name="deep-nmf-paper",
    task=_task,
    config=_paper_config,
    quick=QUICK,
    description="Table 2 of the deep unfolding paper: R^l=100, K = 25 and 4 (a sweep recipe), "
                "C=0..4, SDR per input SNR and the SDR-vs-C figure per K",
    tyings=("partial:1", "partial:2", "partial:3", "partial:4"),
    sweep=PAPER_SWEEP,
)


def _dnn_config() -> DeepNMFConfig:
    cfg = DeepNMFConfig()
    cfg.dnn.topology = "3x256"
    cfg.train.epochs, cfg.train.lr, cfg.train.patience = 40, 1e-3, 6
    return cfg


deep_nmf_dnn = Recipe(
    name="deep-nmf-dnn",
    task=_task,
    config=_dnn_config,
    quick={**QUICK, "train.epochs": 8},
    description="The paper's DNN mask baseline (§5.2, Table 1) against SNMF on the deep-nmf data; "
                "--set dnn.topology=2x1024 (or 2x1536) for the larger networks",
    tyings=("untied",),
)
