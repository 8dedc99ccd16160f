"""dpr: phase retrieval under a deep generative prior (Hand, Leong & Voroninski) and its
unrolled form, with prior-free (amplitude flow) and sparse (SPARTA, CoPRAM, thresholded Wirtinger
flow) baselines.

Recipes: ``dpr`` (m = 2n on scikit-learn digits; quick-capable; the compare recipe) and
``dpr-sweep`` (a sweep recipe over data.m from n/4 to 6n: Fig. 2 and Fig. 3 of the paper).
Heavy modules are imported only when a recipe's task is built.
"""

from __future__ import annotations

from unfold.plugin import Plugin
from unfold.recipe import Recipe

from .amplitude_flow import AmplitudeFlow
from .config import SWEEP_M, DPRConfig, sweep_config
from .dpr import DPR
from .dpr_adam import DPRAdam
from .sparta import SPARTA
from .twf import TWF


def _task():  # noqa: ANN202 - imported on first use
    from .task import DPRTask

    return DPRTask()


QUICK = {"data.restarts": 2, "data.n_train": 256, "data.n_valid": 32, "data.n_test": 50,
         "train.epochs": 8}

plugin = Plugin(
    name="dpr",
    version="0.1.0",
    description="Phase retrieval under a deep generative prior (DPR) and unrolled DPR",
    recipes=[
        Recipe("dpr", task=_task, config=DPRConfig, quick=QUICK,
               description="DPR vs unrolled DPR vs amplitude flow / SPARTA at m = 2n (digits)"),
        Recipe("dpr-sweep", task=_task, config=sweep_config,
               quick={**QUICK, "data.n_test": 10}, sweep={"data.m": list(SWEEP_M)},
               description="Fig. 2 / Fig. 3: every method against m from n/4 to 6n (digits; "
                           "a sweep recipe)"),
    ],
    unrollers={"DPR": DPR, "DPRAdam": DPRAdam, "AmplitudeFlow": AmplitudeFlow, "SPARTA": SPARTA, "TWF": TWF},
    compare="dpr",
)
