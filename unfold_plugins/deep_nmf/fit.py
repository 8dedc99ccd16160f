"""Training of the untied bases with a cached SNMF prefix, by Adam or by MBP (eq. 38).

The first K − C layers use the frozen SNMF bases, so their output is computed once per batch
(no graph) and every epoch runs only the last C layers: training cost is independent of K.
``update="adam"``: Adam on raw = log W (W = exp(raw) stays positive). ``update="mbp"``: the
paper's multiplicative back-propagation, W ← W ∘ ([∇E]_-/[∇E]_+)^η with η = ``lr``.
The bases with the lowest validation loss are kept.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch

from unfold_plugins.deep_nmf.deep_nmf import DeepNMF, NMFProblem, NMFState
from unfold_plugins.deep_nmf.mbp import mbp_step


def _loss(model: DeepNMF, state: Any, p: NMFProblem, s: torch.Tensor) -> torch.Tensor:
    out = model.forward_from(state, p, model.n_shared)
    return ((out - s) ** 2).sum(dim=(1, 2)).mean() / out.shape[-1]


Batch = tuple[NMFProblem, torch.Tensor]
Cached = tuple[NMFState, NMFProblem, torch.Tensor]


def with_prefix(model: DeepNMF, batches: Sequence[Batch | Cached], depth: int | None = None
                ) -> list[Cached]:
    """(state after ``depth`` (default K − C) layers, problem, target) for every batch; a batch
    given as (state at a smaller depth d, p, s) is advanced from d by the shared layers."""
    depth = model.n_shared if depth is None else depth
    out = []
    for b in batches:
        if len(b) == 2:
            out.append((model.prefix(b[0], depth), b[0], b[1]))
            continue
        state, p, s = b
        with torch.no_grad():
            for t in range(state.depth, depth):
                state = model.step(state, model.theta(t), p)
        out.append((NMFState(state.h, state.w, depth), p, s))
    return out


def fit(model: DeepNMF, train: Sequence[Batch | Cached], valid: Sequence[Batch | Cached],
        epochs: int, update: str = "adam", lr: float = 1e-2, seed: int = 0
        ) -> dict[str, list[float]]:
    """Train ``model``'s untied bases on (problem, clean magnitudes) batches, or on batches
    with a cached prefix (see ``with_prefix``); returns the losses per epoch."""
    if update not in ("adam", "mbp"):
        raise ValueError(f"update must be adam or mbp, got {update!r}")
    history: dict[str, list[float]] = {"train": [], "valid": []}
    if model.n_untied == 0:
        return history
    start = model.n_shared
    cached, cached_valid = with_prefix(model, train), with_prefix(model, valid)

    def valid_loss() -> float:
        with torch.no_grad():
            return sum(float(_loss(model, st, p, s)) for st, p, s in cached_valid) / len(valid)

    best, best_state = valid_loss(), copy.deepcopy(model.state_dict())
    history["valid"].append(best)
    opt = torch.optim.Adam([model.raw["W"]], lr=lr) if update == "adam" else None
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        total = 0.0
        for i in torch.randperm(len(cached), generator=g).tolist():
            st, p, s = cached[i]
            if opt is not None:
                opt.zero_grad()
                loss = _loss(model, st, p, s)
                loss.backward()
                opt.step()
                total += float(loss.detach())
            else:
                with torch.no_grad():
                    total += float(_loss(model, st, p, s))
                mbp_step(model, p, s, lr, st, start)
        history["train"].append(total / len(cached))
        history["valid"].append(valid_loss())
        if history["valid"][-1] < best:
            best, best_state = history["valid"][-1], copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return history
