"""Paired t intervals against a hand computation and scipy.stats.ttest_rel; pairing of methods."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from unfold.results import MethodResult, Summary
from unfold.stats import paired_differences, paired_t


def test_paired_t_matches_a_hand_computation():
    a, b = [1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 1.0, 5.0]  # d = 1, 0, 2, -1
    s = paired_t(a, b)
    sd = math.sqrt((0.5**2 + 0.5**2 + 1.5**2 + 1.5**2) / 3)
    half = 3.182446305284263 * sd / 2  # t_{0.975, 3} from a table
    assert s.mean_diff == 0.5 and s.n == 4
    assert s.ci95 == pytest.approx((0.5 - half, 0.5 + half), abs=1e-12)
    assert s.better == 2  # higher is better: d = 1 and d = 2; the tie d = 0 counts for neither
    assert paired_t(a, b, higher_is_better=False).better == 1


def test_paired_t_is_the_interval_of_ttest_rel():
    rng = np.random.default_rng(0)
    b = rng.normal(size=30)
    a = b + 0.3 + 0.5 * rng.normal(size=30)
    s = paired_t(a.tolist(), b.tolist())
    ref = sps.ttest_rel(a, b).confidence_interval(0.95)
    assert s.ci95 == pytest.approx((ref.low, ref.high), rel=1e-12)
    assert s.mean_diff == pytest.approx(float(np.mean(a - b)), rel=1e-14)
    assert s.better == int(np.sum(a > b))


def test_paired_t_edge_cases():
    one = paired_t([2.0], [1.0])
    assert one.ci95 is None and one.mean_diff == 1.0 and one.better == 1
    assert paired_t([1.0, 2.0], [1.0, 2.0]).ci95 == (0.0, 0.0)
    with pytest.raises(ValueError, match="equal, non-empty"):
        paired_t([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="equal, non-empty"):
        paired_t([], [])


def _method(name, iterations, tying=None, trained=False):
    return MethodResult(name, iterations, tying, trained, 3 if trained else 0,
                        {"err": Summary(0.0, 0.0, 0.0, 0.0, 3)})


def test_each_trained_method_is_paired_with_each_classical_one_at_its_iterations():
    methods = [_method("ISTA", 3), _method("FISTA", 3), _method("ISTA", 12),
               _method("LISTA", 3, "tied", True), _method("LISTA", 6, "tied", True)]
    per_item = {m.label: {"err": [1.0, 2.0, 3.0]} for m in methods}
    per_item["LISTA tied-3"] = {"err": [0.5, 2.5, 2.0]}
    paired = paired_differences(methods, per_item, "err", higher_is_better=False)
    assert [(p.method, p.tying, p.baseline, p.iterations) for p in paired] == [
        ("LISTA", "tied", "ISTA", 3), ("LISTA", "tied", "FISTA", 3)]
    p = paired[0]
    assert p.metric == "err" and p.n == 3 and p.better == 2
    assert p.mean_diff == pytest.approx(-1 / 3)
    assert paired_differences(methods, per_item, "other") == []
