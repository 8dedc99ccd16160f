import json

import pytest
from importlib_metadata import EntryPoint

from unfold.compare import compare
from unfold.plugin import PluginError, Registry


def test_compare_writes_one_cross_plugin_table(tutorial, tmp_path, monkeypatch):
    monkeypatch.setattr(tutorial.lista, "quick", {
        "data.n_train": 40, "data.n_valid": 10, "data.n_test": 10, "train.epochs": 1,
        "model.n_layers": 2, "train.batch_size": 20})
    reg = Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])
    out = compare(reg, [], quick=True, out=tmp_path / "cmp", device="cpu", seed=0, progress=False)
    table = json.loads((out / "compare.json").read_text())["rows"]
    assert {(r["method"], r["tying"]) for r in table} >= {("LISTA", "tied"), ("LISTA", "untied"),
                                                          ("ISTA", None)}
    assert all(r["iterations"] == 2 for r in table)
    md = (out / "compare.md").read_text()
    assert "| lista-tutorial | LISTA | untied | 2 |" in md
    assert (out / "compare.png").is_file() and (out / "lista-tutorial" / "report.md").is_file()
    paired = json.loads((out / "compare.json").read_text())["paired"]
    run = json.loads((out / "lista-tutorial" / "results.json").read_text())
    assert paired == [{"plugin": "lista-tutorial", **p} for p in run["paired"]]
    assert {(p["method"], p["tying"], p["baseline"], p["iterations"]) for p in paired} == {
        ("LISTA", "tied", "ISTA", 2), ("LISTA", "untied", "ISTA", 2)}
    p = paired[0]
    row = (f"| lista-tutorial | LISTA | {p['tying']} | ISTA | 2 | nmse_db ↓ | {p['mean_diff']:+.4g} "
           f"| [{p['ci95'][0]:.4g}, {p['ci95'][1]:.4g}] | {p['better']} / 10 |")
    assert "## Paired differences" in md and row in md


def test_compare_unknown_plugin(tutorial, tmp_path):
    reg = Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])
    with pytest.raises(PluginError, match="known plugins: lista-tutorial"):
        compare(reg, ["nope"], quick=True, out=tmp_path / "c", device="cpu", seed=0, progress=False)


def test_compare_passes_overrides_and_tyings(tutorial, tmp_path):
    reg = Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])
    tiny = ["data.n_train=40", "data.n_valid=10", "data.n_test=10", "train.epochs=1",
            "model.n_layers=3", "train.batch_size=20"]
    out = compare(reg, [], quick=True, out=tmp_path / "cmp", device="cpu", seed=0, progress=False,
                  overrides=tiny, tyings=("untied",))
    rows = json.loads((out / "compare.json").read_text())["rows"]
    assert {r["tying"] for r in rows if r["trained"]} == {"untied"}
    assert all(r["iterations"] == 3 for r in rows)
    best = [r for r in rows if r["best"]]  # nmse_db: lower is better (the tutorial says so)
    assert len(best) == 1 and best[0]["mean"] == min(r["mean"] for r in rows)
    assert f"| nmse_db ↓ | **{best[0]['mean']:.4g}** |" in (out / "compare.md").read_text()
    from unfold.recipe import ConfigError

    with pytest.raises(ConfigError, match="unknown config key 'model.nope'"):
        compare(reg, [], quick=True, out=tmp_path / "c2", device="cpu", seed=0, progress=False,
                overrides=["model.nope=1"])
    with pytest.raises(ValueError, match="unknown tying"):
        compare(reg, [], quick=True, out=tmp_path / "c2", device="cpu", seed=0, progress=False,
                tyings=("sideways",))
    assert not (tmp_path / "c2").exists()


TINY = ["data.n_train=40", "data.n_valid=10", "data.n_test=10", "train.epochs=1",
        "model.n_layers=2", "train.batch_size=20"]


def test_compare_in_parallel_processes_matches_one_process(tutorial, tmp_path):
    # a second plugin from the same code under other names, importable by the spawned workers
    (tmp_path / "src" / "lista_two.py").write_text(
        "import dataclasses\nimport lista_tutorial as t\n"
        "recipe = dataclasses.replace(t.plugin.recipes[0], name='lista-two')\n"
        "plugin = dataclasses.replace(t.plugin, name='lista-two', recipes=[recipe], "
        "compare='lista-two')\n")
    reg = Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins"),
                    EntryPoint("lista-two", "lista_two:plugin", "unfold.plugins")])
    serial = compare(reg, [], quick=True, out=tmp_path / "one", device="cpu", seed=0,
                     progress=False, overrides=TINY, jobs=1)
    parallel = compare(reg, [], quick=True, out=tmp_path / "two", device="cpu", seed=0,
                       progress=False, overrides=TINY, jobs=2)
    one = json.loads((serial / "compare.json").read_text())["rows"]
    two = json.loads((parallel / "compare.json").read_text())["rows"]
    assert {r["plugin"] for r in two} == {"lista-tutorial", "lista-two"}
    key = ("plugin", "method", "tying", "iterations")
    assert [tuple(r[k] for k in key) for r in one] == [tuple(r[k] for k in key) for r in two]
    assert [r["mean"] for r in two] == pytest.approx([r["mean"] for r in one], rel=1e-4)
    assert (parallel / "lista-two" / "report.md").is_file()


def test_compare_refuses_zero_jobs(tutorial, tmp_path):
    reg = Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])
    with pytest.raises(ValueError, match="jobs must be >= 1, got 0"):
        compare(reg, [], quick=True, out=tmp_path / "c", device="cpu", seed=0, progress=False,
                jobs=0)
    assert not (tmp_path / "c").exists()


def test_a_failing_plugin_stops_the_others_at_once(tutorial, tmp_path):
    # two plugins from the tutorial's code: one fails as soon as its worker builds the task, the
    # other would write a file after 30 s; the failure must end the comparison without it
    worker = "multiprocessing.current_process().name != 'MainProcess'"
    for name, action in [("lista_fail", "raise RuntimeError('boom in the worker')"),
                         ("lista_slow", f"time.sleep(30); (pathlib.Path({str(tmp_path)!r}) / "
                                        "'slow-finished').touch()")]:
        (tmp_path / "src" / f"{name}.py").write_text(
            "import dataclasses, multiprocessing, pathlib, time\nimport lista_tutorial as t\n"
            "def task():\n"
            f"    if {worker}:\n        {action}\n"
            "    return t.plugin.recipes[0].task()\n"
            f"recipe = dataclasses.replace(t.plugin.recipes[0], name={name!r}, task=task)\n"
            f"plugin = dataclasses.replace(t.plugin, name={name!r}, recipes=[recipe], "
            f"compare={name!r})\n")
    reg = Registry([EntryPoint(n, f"{n}:plugin", "unfold.plugins") for n in ("lista_slow", "lista_fail")])
    with pytest.raises(RuntimeError, match="boom in the worker"):
        compare(reg, [], quick=True, out=tmp_path / "c", device="cpu", seed=0, progress=False,
                overrides=TINY, jobs=2)
    assert not (tmp_path / "slow-finished").exists()
