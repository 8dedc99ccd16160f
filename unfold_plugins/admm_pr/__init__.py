"""admm-pr: phase retrieval of speech by unfolded ADMM with a learned APL prox (Vial et al. 2022).

Unrollers: GLA, FGLA, ADMM (quadratic / KL / IS prox, d = 1 or 2), UADMM. See
docs/plugins/admm-pr.md.
"""

from __future__ import annotations

from unfold.plugin import Command, Plugin
from unfold_plugins.admm_pr import command
from unfold_plugins.admm_pr.admm import ADMM
from unfold_plugins.admm_pr.gla import FGLA, GLA
from unfold_plugins.admm_pr.recipes import RECIPES
from unfold_plugins.admm_pr.uadmm import UADMM

plugin = Plugin(
    name="admm-pr",
    version="0.1.0",
    description="Phase retrieval of speech: unfolded ADMM with a learned APL proximity operator",
    recipes=RECIPES,
    unrollers={"GLA": GLA, "FGLA": FGLA, "ADMM": ADMM, "UADMM": UADMM},
    commands=[Command("reconstruct", "phase-retrieve the magnitude of IN.wav (or a .npy) "
                      "and write audio", command.add_arguments, command.run)],
    compare="admm-pr",
)
