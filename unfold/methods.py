"""Helpers for ``Task.methods``: the classical algorithm at the depths papers compare against.

A trained L-layer model is usually compared with its classical algorithm run for L, 4L and 16L
iterations (equal cost, and the classical method given more time)::

    def methods(self, cfg, trained):
        ista = LISTA(A, n_layers=1, trainable=False)
        return classical_methods("ISTA", ista, cfg.model.n_layers) + [
            Method("LISTA", m, m.n_layers, tying, trained=True) for tying, m in trained.items()]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from unfold.task import Method

#: multiples of the trained depth L at which the classical algorithm is evaluated
FACTORS = (1, 4, 16)


def classical_depths(layers: int, factors: Sequence[int] = FACTORS) -> tuple[int, ...]:
    """``(L, 4L, 16L)`` for ``layers`` = L (sorted, without repeats, for other ``factors``)."""
    if not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers must be an integer >= 1, got {layers!r}")
    if not factors or any(not isinstance(f, int) or f < 1 for f in factors):
        raise ValueError(f"factors must be integers >= 1, got {list(factors)}")
    return tuple(sorted({f * layers for f in factors}))


def classical_methods(name: str, model: torch.nn.Module, layers: int,
                      factors: Sequence[int] = FACTORS) -> list[Method]:
    """``Method(name, model, n)`` for every n of ``classical_depths(layers, factors)``; ``model``
    is the classical algorithm (e.g. the unroller built with ``trainable=False``)."""
    return [Method(name, model, n) for n in classical_depths(layers, factors)]
