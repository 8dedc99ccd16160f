"""Paired statistics: the difference of two methods over the same test items, with a t interval.

For a trained method a and a classical baseline b evaluated on the same n test items, the
per-item differences are d_i = a_i − b_i (i = 1 … n, in the metric's own units). The run reports

    d̄ = (1/n) Σ_i d_i,                                                                     (1)
    s = sqrt( Σ_i (d_i − d̄)² / (n − 1) ),                                                  (2)
    CI₉₅ = d̄ ± t_{0.975, n−1} · s / √n,                                                    (3)

the paired t interval (the interval of ``scipy.stats.ttest_rel``), and the count of items on
which a is better than b in the metric's direction (a_i > b_i when higher is better, a_i < b_i
otherwise; ties count for neither). For n < 2 the interval (3) is undefined and reported as None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from unfold.results import MethodResult, Paired


@dataclass(frozen=True)
class PairedInterval:
    """d̄ (1), the 95 % interval (3) or None for n < 2, items where a beats b, and n."""

    mean_diff: float
    ci95: tuple[float, float] | None
    better: int
    n: int


def paired_t(a: Sequence[float], b: Sequence[float], higher_is_better: bool = True,
             level: float = 0.95) -> PairedInterval:
    """Eqs. (1)–(3) for per-item values ``a`` and ``b`` of the same items, in the same order."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"paired values need two equal, non-empty lists; got {x.size} and {y.size}")
    d = x - y
    n = int(d.size)
    mean = float(d.mean())
    better = int(np.sum(d > 0) if higher_is_better else np.sum(d < 0))
    if n < 2:
        return PairedInterval(mean, None, better, n)
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, n - 1)) * float(d.std(ddof=1)) / math.sqrt(n)
    return PairedInterval(mean, (mean - half, mean + half), better, n)


def paired_differences(methods: Sequence[MethodResult],
                       per_item: Mapping[str, Mapping[str, Sequence[float]]], metric: str,
                       higher_is_better: bool = True) -> list[Paired]:
    """Every trained method against every classical one at the same iterations, on ``metric``.

    ``per_item`` maps ``MethodResult.label`` to per-item values (all methods saw the same test
    items in the same order). Pairs where either side lacks ``metric`` are skipped.
    """
    out = []
    for m in methods:
        if not m.trained or metric not in per_item.get(m.label, {}):
            continue
        for b in methods:
            if b.trained or b.iterations != m.iterations or metric not in per_item.get(b.label, {}):
                continue
            s = paired_t(per_item[m.label][metric], per_item[b.label][metric], higher_is_better)
            out.append(Paired(m.name, m.tying, b.name, m.iterations, metric, s.mean_diff, s.ci95,
                              s.better, s.n))
    return out
