"""``unfold run --sweep``: on the tutorial's plugin, registered as a third-party plugin would be."""

import json
import math
import os
import subprocess
import sys

import pytest
from conftest import ROOT
from importlib_metadata import EntryPoint

from unfold import cli
from unfold.plugin import Registry
from unfold.stats import paired_t
from unfold.sweep import (
    Axis,
    SweepError,
    axis_paired,
    declared_axes,
    method_keys,
    plan,
    run_sweep,
    split_values,
    sweep_table,
    write_outputs,
)

TINY = ["--set", "data.n_train=40", "--set", "data.n_valid=10", "--set", "data.n_test=10",
        "--set", "model.n_layers=2", "--set", "train.epochs=1", "--set", "train.batch_size=20"]


@pytest.fixture
def registry(tutorial, monkeypatch):
    reg = Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])
    monkeypatch.setattr(cli, "Registry", lambda: reg)
    return reg


def test_sweep_of_a_config_key_tying_and_seed_writes_points_json_table_and_figure(
        registry, tmp_path, capsys):
    out = tmp_path / "sw"
    argv = ["run", "lista", "--out", str(out), "--device", "cpu", "--no-progress", *TINY,
            "--sweep", "train.lr=0.01,0.001", "--sweep", "tying=tied,untied",
            "--sweep", "seed=0,1"]
    assert cli.main(argv) == 0
    assert "sweep written to" in capsys.readouterr().out
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["axes"] == {"train.lr": [0.01, 0.001], "tying": ["tied", "untied"], "seed": [0, 1]}
    assert sweep["primary_metric"] == "nmse_db" and len(sweep["points"]) == 8
    first = sweep["points"][0]
    assert first["label"] == "train.lr=0.01,tying=tied,seed=0"
    assert first["values"] == {"train.lr": 0.01, "tying": "tied", "seed": 0}
    for p in sweep["points"]:
        run = out / p["dir"]
        results = json.loads((run / "results.json").read_text())
        assert p["methods"] == results["methods"]  # exactly as in the point's results.json
        assert p["paired"] == results["paired"] and p["paired"]
        assert results["seed"] == p["values"]["seed"]
        assert results["config"]["train"]["lr"] == p["values"]["train.lr"]
        assert {r["tying"] for r in results["methods"] if r["trained"]} == {p["values"]["tying"]}
    # seeds differ, so a seed-averaged cell has a non-zero spread; tied and untied rows differ
    lista = [[r for r in p["methods"] if r["name"] == "LISTA" and r["iterations"] == 2][0]
             ["metrics"]["nmse_db"]["mean"] for p in sweep["points"]]
    assert lista[0] != lista[1] and lista[0] != lista[2]
    table = (out / "sweep.md").read_text()
    assert "| train.lr | tying | ISTA-2 |" in table and "± " in table
    row = next(line for line in table.splitlines() if line.startswith("| 0.01 | tied |"))
    mean = (lista[0] + lista[1]) / 2
    assert f"{mean:.4g} ± " in row
    paired = table[table.index("## Paired differences"):]
    first = sweep["points"][0]["paired"][0]
    assert f"| 0.01 | tied | LISTA tied | {first['baseline']} | {first['iterations']} |" in paired
    assert f"[{first['ci95'][0]:.3g}, {first['ci95'][1]:.3g}]; [" in paired  # one per seed
    assert (out / "sweep.png").stat().st_size > 1000
    # between points: lr 0.001 − lr 0.01 per (tying, seed), same method, same test items; the
    # tying axis pairs nothing (a tied and an untied model are different methods), nor does seed
    between = sweep["axis_paired"]
    assert {d["axis"] for d in between} == {"train.lr"}
    assert {(d["value"], d["reference"]) for d in between} == {(0.001, 0.01)}
    assert {(d["at"]["tying"], d["at"]["seed"]) for d in between} == {
        ("tied", 0), ("tied", 1), ("untied", 0), ("untied", 1)}
    d = next(d for d in between if d["at"] == {"tying": "untied", "seed": 1}
             and d["method"] == "LISTA untied-2")
    items = {p["values"]["train.lr"]: json.loads((out / p["dir"] / "per_item.json").read_text())
             for p in sweep["points"] if p["values"]["tying"] == "untied" and p["values"]["seed"] == 1}
    expect = paired_t(items[0.001]["LISTA untied-2"]["nmse_db"],
                      items[0.01]["LISTA untied-2"]["nmse_db"], higher_is_better=False)
    assert d["mean_diff"] == pytest.approx(expect.mean_diff) and d["n"] == expect.n == 10
    assert d["ci95"] == pytest.approx(list(expect.ci95)) and d["better"] == expect.better
    assert "## Paired differences between points" in table
    assert (f"| train.lr | 0.001 − 0.01 | tying=untied, seed=1 | LISTA untied-2 | nmse_db | "
            f"{d['mean_diff']:+.3g} |") in table


def test_a_point_that_is_done_is_skipped_on_resume(registry, tmp_path, capsys):
    out = tmp_path / "sw"
    base = ["run", "lista", "--device", "cpu", "--no-progress"]
    argv = [*base, "--out", str(out), *TINY, "--sweep", "model.n_layers=1,2", "--tying", "tied"]
    assert cli.main(argv) == 0
    done = out / "points" / "model.n_layers=1" / "results.json"
    stamp = done.stat().st_mtime_ns
    (out / "points" / "model.n_layers=2" / "results.json").unlink()
    (out / "sweep.json").unlink()
    assert cli.main([*base, "--out", str(out), "--resume"]) == 0
    assert done.stat().st_mtime_ns == stamp
    sweep = json.loads((out / "sweep.json").read_text())
    assert [p["values"]["model.n_layers"] for p in sweep["points"]] == [1, 2]
    # LISTA at its trained depth is one family across the depth sweep
    assert "LISTA tied-model.n_layers" in method_keys(sweep)[1]


def test_bad_points_fail_in_one_line_before_anything_is_created(registry, tmp_path, capsys):
    out = tmp_path / "sw"
    for sweep, match in [("train.lr=0.01,-1", "train.lr must be in (0, 10]"),
                         ("model.nope=1,2", "unknown config key"),
                         ("tying=tied,sometimes", "tying"),
                         ("seed=0,x", "seed expects integers"),
                         ("train.lr", "expects key=v1,v2"),
                         ("train.lr=1,1", "repeated")]:
        assert cli.main(["run", "lista", "--out", str(out), "--sweep", sweep]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and match in err, err
        assert not out.exists()


def test_a_dry_run_sweep_checks_every_point_and_writes_nothing(registry, tmp_path, capsys):
    out = tmp_path / "sw"
    args = ["run", "lista", "--out", str(out), "--sweep", "model.n_layers=2,3", "--dry-run", *TINY]
    assert cli.main(args) == 0
    assert "dry run of the lista sweep" in capsys.readouterr().out
    assert not out.exists()
    # a point whose model cannot be built fails the dry run in one line
    assert cli.main([*args[:5], "model.n_layers=2,0", *args[6:]]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--sweep point model.n_layers=0: the tied model" in err, err
    assert not out.exists()
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert cli.main(args) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"


def test_declared_axes_are_swept_and_a_sweep_axis_replaces_them(tutorial, tmp_path, monkeypatch):
    monkeypatch.setattr(tutorial.lista, "sweep", {"model.n_layers": [1, 2], "tying": ["tied"]})
    reg = Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])
    over = TINY[1::2]
    out = run_sweep(reg, "lista", ["model.n_layers=3"], overrides=over, out=tmp_path / "a",
                    device="cpu", progress=False)
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["axes"] == {"model.n_layers": [3], "tying": ["tied"]}
    assert [p.label for p in plan(tutorial.lista, [Axis("model.n_layers", ("1", "2"))], False,
                                  over, 0, None)] == ["model.n_layers=1", "model.n_layers=2"]


def test_values_split_at_top_level_commas_only():
    assert split_values('1,[2,3], "a,b" ,x') == ["1", "[2,3]", '"a,b"', "x"]
    with pytest.raises(SweepError, match="needs at least one axis"):
        plan(None, [], False, [], 0, None)  # type: ignore[arg-type]


def _row(name, iterations, mean, trained=False, tying=None):
    return {"name": name, "iterations": iterations, "tying": tying, "trained": trained,
            "params": 0, "metrics": {"nmse_db": {"mean": mean, "median": mean, "q1": mean,
                                                 "q3": mean, "n": 5}},
            "seconds": {"train": 1.0 if trained else 0.0, "infer_per_item": 0.0}}


def test_a_seed_only_sweep_reports_mean_and_spread_over_seeds(tmp_path):
    sweep = {"recipe": "r", "plugin": "p", "quick": True, "primary_metric": "nmse_db",
             "axes": {"seed": [0, 1, 2]},
             "points": [{"label": f"seed={s}", "dir": f"points/seed={s}", "values": {"seed": s},
                         "methods": [_row("ISTA", 4, -3.0),
                                     _row("LISTA s=2", 4, v, True, "tied")]}
                        for s, v in zip((0, 1, 2), (-5.0, -6.0, -7.0))]}
    table = sweep_table(sweep, "nmse_db")
    assert table.splitlines()[0] == "| ISTA-4 | LISTA tied-4 |"
    assert table.splitlines()[2] == "| -3 ± 0 | -6 ± 1 |"  # sample standard deviation of -5, -6, -7
    figures = write_outputs(tmp_path, sweep)
    assert [p.name for p in figures] == ["sweep.png"] and (tmp_path / "sweep.md").is_file()


def test_every_declared_sweep_of_the_installed_plugins_resolves():
    """A plugin's declared axes are valid config: every point resolves, full and quick."""
    sweeps = [r for p in Registry().plugins() for r in p.recipes if r.sweep]
    assert {r.name for r in sweeps} >= {"cp-dequant-paper", "dpr-sweep", "deep-nmf-paper"}
    for recipe in sweeps:
        for quick in (False, True):
            points = plan(recipe, declared_axes(recipe), quick, [], 0, None)
            assert len(points) == math.prod(len(v) for v in recipe.sweep.values())


def test_sweep_of_a_separately_installed_plugin_from_the_command_line(tutorial_site, tmp_path):
    """The tutorial pip-installed as its own distribution, found through its entry point."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tutorial_site}",
           "UNFOLD_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "unfold.cli", "run", "lista", "--out", "sw",
                          "--no-progress", "--device", "cpu", *TINY, "--tying", "untied",
                          "--sweep", "seed=0,1"], env=env, cwd=tmp_path, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    sweep = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert sweep["plugin"] == "lista-tutorial" and [p["label"] for p in sweep["points"]] == [
        "seed=0", "seed=1"]
    assert (tmp_path / "sw" / "sweep.md").is_file() and (tmp_path / "sw" / "sweep.png").is_file()


def test_points_whose_test_items_differ_are_not_paired(tmp_path):
    def point(label, lr, classical, trained):
        (tmp_path / label).mkdir()
        (tmp_path / label / "per_item.json").write_text(json.dumps(
            {"ISTA-2": {"nmse_db": classical}, "LISTA tied-2": {"nmse_db": trained}}))
        methods = [{"name": "ISTA", "tying": None, "iterations": 2, "trained": False},
                   {"name": "LISTA", "tying": "tied", "iterations": 2, "trained": True}]
        return {"label": label, "dir": label, "values": {"data.seed": lr}, "methods": methods}

    sweep = {"primary_metric": "nmse_db", "higher_is_better": False,
             "axes": {"data.seed": [0, 1]},
             "points": [point("a", 0, [1.0, 2.0, 3.0], [0.5, 1.0, 2.0]),
                        point("b", 1, [1.5, 2.0, 3.0], [0.4, 1.1, 1.0])]}
    assert axis_paired(tmp_path, sweep) == []  # ISTA differs: other test items
    (tmp_path / "b" / "per_item.json").write_text(json.dumps(
        {"ISTA-2": {"nmse_db": [1.0, 2.0, 3.0]}, "LISTA tied-2": {"nmse_db": [0.4, 1.1, 1.0]}}))
    [d] = axis_paired(tmp_path, sweep)
    assert (d.method, d.value, d.reference, d.n, d.better) == ("LISTA tied-2", 1, 0, 3, 2)
    assert d.mean_diff == pytest.approx((-0.1 + 0.1 - 1.0) / 3)
