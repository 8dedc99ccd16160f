"""The typed results: results.json's documented shape, written and read back unchanged."""

import json

from unfold.results import (
    MethodResult,
    Paired,
    RunResult,
    Seconds,
    Summary,
    TrainingSummary,
    method_label,
)


def example() -> RunResult:
    ista = MethodResult("ISTA", 3, None, False, 0, {"nmse_db": Summary(-2.5, -2.4, -3.0, -2.0, 20)},
                        Seconds(0.0, 1e-4))
    lista = MethodResult("LISTA", 3, "tied", True, 2401,
                         {"nmse_db": Summary(-4.0, -4.1, -5.0, -3.5, 20)}, Seconds(12.5, 2e-4))
    return RunResult("lista", "lista-tutorial", True, 0, "cpu", "nmse_db", {"model": {"n": 3}},
                     [ista, lista], False,
                     [Paired("LISTA", "tied", "ISTA", 3, "nmse_db", -1.5, (-1.9, -1.1), 18, 20)],
                     {"tied": TrainingSummary(3, 2, 1, 0.25, 12.5, False)}, ["a note"])


def test_json_round_trip_is_exact(tmp_path):
    r = example()
    path = r.write(tmp_path / "results.json")
    assert RunResult.read(path) == r
    assert RunResult.from_json(json.loads(json.dumps(r.to_json()))) == r


def test_results_json_keeps_its_documented_shape():
    d = example().to_json()
    assert set(d) == {"recipe", "plugin", "quick", "seed", "device", "primary_metric",
                      "higher_is_better", "config", "methods", "paired", "training", "notes"}
    assert d["methods"][1] == {
        "name": "LISTA", "iterations": 3, "tying": "tied", "trained": True, "params": 2401,
        "metrics": {"nmse_db": {"mean": -4.0, "median": -4.1, "q1": -5.0, "q3": -3.5, "n": 20}},
        "seconds": {"train": 12.5, "infer_per_item": 2e-4}}
    assert d["paired"] == [{"method": "LISTA", "tying": "tied", "baseline": "ISTA",
                            "iterations": 3, "metric": "nmse_db", "mean_diff": -1.5,
                            "ci95": [-1.9, -1.1], "better": 18, "n": 20}]
    assert set(d["training"]["tied"]) == {"n_layers", "epochs", "best_epoch", "best_val_loss",
                                          "seconds", "stopped_early", "backprop"}


def test_an_older_results_json_still_reads():
    d = example().to_json()
    for key in ("paired", "higher_is_better", "notes"):
        del d[key]
    r = RunResult.from_json(d)
    assert r.paired == [] and r.notes == [] and r.higher_is_better
    assert r.method("LISTA tied-3").params == 2401


def test_method_label_of_a_result_and_of_a_results_json_row_agree():
    m = example().methods[1]
    assert m.label == method_label(m.to_json()) == "LISTA tied-3"
    assert method_label({"name": "ISTA", "iterations": 12, "tying": None}) == "ISTA-12"


def test_an_undefined_interval_is_null_and_not_significant():
    p = Paired("LISTA", None, "ISTA", 3, "x", 0.1, None, 1, 1)
    assert p.to_json()["ci95"] is None and Paired.from_json(p.to_json()) == p
    assert not p.significant
    assert Paired("L", None, "I", 3, "x", 1.0, (0.2, 1.8), 3, 4).significant
