"""report.md from typed results: methods, paired differences with intervals, notes, figures."""

import pytest

from unfold.report import learned_parameters, metric_vs_iterations, paired_table, write_report
from unfold.results import (
    MethodResult,
    Paired,
    RunResult,
    Seconds,
    Summary,
    TrainingSummary,
)


def results() -> RunResult:
    s = Summary(0.8, 0.81, 0.7, 0.9, 4)
    methods = [MethodResult("ADMM", k, None, False, 0, {"stoi": s}) for k in (15, 30)]
    methods.append(MethodResult("UADMM", 15, "tied", True, 12, {"stoi": s}, Seconds(3.0, 1e-3)))
    paired = [Paired("UADMM", "tied", "ADMM", 15, "stoi", 0.0008, (-0.0004, 0.002), 3, 4),
              Paired("UADMM", "untied", "ADMM", 15, "stoi", 0.0013, (0.0007, 0.0019), 4, 4),
              Paired("UADMM", "untied", "GLA", 15, "stoi", 0.01, None, 1, 1)]
    return RunResult("admm-pr", "admm-pr", True, 0, "cpu", "stoi", {}, methods, True, paired,
                     {"tied": TrainingSummary(15, 2, 1, -0.8, 3.0, False)}, ["s chosen on valid"])


def test_paired_table_shows_difference_interval_and_better_count():
    text = paired_table(results().paired, higher_is_better=True)
    lines = text.splitlines()
    assert lines[2] == "| UADMM | tied | ADMM | 15 | stoi | +0.0008 | [-0.0004, 0.002] | 3 / 4 |"
    assert lines[3].startswith("| UADMM | untied | ADMM | 15 | stoi | +0.0013 * | [0.0007, 0.0019]")
    assert "- (n < 2) | 1 / 1 |" in lines[4]
    assert "paired t interval" in text and "(higher is better)" in text


def test_report_has_tables_notes_and_figures(tmp_path):
    fig = metric_vs_iterations(tmp_path / "stoi_vs_iterations.png", results().methods, "stoi")
    path = write_report(tmp_path, results(), [fig])
    text = path.read_text()
    assert "primary metric: **stoi** (higher is better)" in text
    assert "| tied | - | 2 | 2 | -0.8 | 3.0 |" in text  # no backprop recorded: "-"
    assert "| UADMM | tied | 15 | 12 | 0.8 (0.81) | 3.0 | 1.00 |" in text
    assert "## Paired differences to the classical methods" in text
    assert "- s chosen on valid" in text and "![stoi_vs_iterations](stoi_vs_iterations.png)" in text
    assert fig.is_file()


def test_learned_parameters_draws_every_trainable_parameter_per_layer(tutorial, tmp_path):
    cfg = tutorial.lista.resolve(overrides=["model.n_layers=3"])
    task = tutorial.SparseCoding()
    models = {t: task.build_model(cfg, t) for t in ("tied", "untied")}
    path = learned_parameters(tmp_path / "p.png", models)
    assert path == tmp_path / "p.png" and path.stat().st_size > 0
    frozen = {"ista": tutorial.LISTA(tutorial.dictionary(cfg), 0.1, n_layers=2, trainable=False)}
    assert learned_parameters(tmp_path / "none.png", frozen) is None


@pytest.mark.parametrize("ci", [None, (-1.0, 1.0)])
def test_an_interval_crossing_zero_is_not_marked(ci):
    p = Paired("L", None, "I", 3, "x", 0.5, ci, 2, 4)
    assert "+0.5 |" in paired_table([p], higher_is_better=False)
