"""The restart choice of the DPR authors' public code, for comparison only: an oracle.

DPR runs R restarts (plus their negations) and must return one candidate. The method — the
paper's text and this plugin — keeps the candidate with the lowest *measurement* loss
f(z) = ½‖|A G(z)| − b‖² (``dpr.best_candidate``). The authors' public code keeps the candidate
closest to the true image, which needs the ground truth: an oracle no real user has.

``OracleRestarts`` runs the same model and hands the metrics every candidate (``Candidates``);
``pick_oracle`` keeps, per item, the candidate with the lowest MSE to the target. Its rows are
named "<method> (oracle restart)" and are never the method's result: they show how much of the
gap to the paper's figures the oracle choice accounts for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from unfold.task import Method
from unfold.unroller import Unroller

from .dpr import check_prior
from .problem import PRProblem


@dataclass
class Candidates:
    """G(z) of every candidate after the last layer, (batch, C, n)."""

    y: torch.Tensor


@dataclass
class OracleRestarts(Method):
    """A classical DPR method whose output is all candidates; the metrics pick by the truth."""

    def __call__(self, problem: PRProblem) -> Any:
        if not isinstance(self.model, Unroller):
            raise TypeError(f"OracleRestarts needs an Unroller, got {type(self.model).__name__}")
        state = self.model.run(problem, self.iterations)
        return Candidates(check_prior(problem)(state.z))


def pick_oracle(out: Candidates, target: torch.Tensor) -> torch.Tensor:
    """Per item, the candidate closest to ``target`` (batch, n) in mean squared error."""
    err = (out.y - target.unsqueeze(1)).pow(2).mean(-1)  # (batch, C)
    return out.y[torch.arange(len(out.y)), err.argmin(-1)]
