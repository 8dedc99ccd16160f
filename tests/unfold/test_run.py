import csv
import dataclasses
import json

import pytest
import torch
from importlib_metadata import EntryPoint
from scipy import stats

from unfold import checkpoint
from unfold.plugin import Registry
from unfold.recipe import from_dict
from unfold.results import RunResult
from unfold.run import RunDirError, execute, run_recipe
from unfold.train import Trainer


class Payload:
    """A pickled object of this class would run this module's code when loaded."""


TINY = ["data.n_train=60", "data.n_valid=20", "data.n_test=20", "model.n_layers=3",
        "train.epochs=2", "train.batch_size=20"]


@pytest.fixture
def registry(tutorial):
    return Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])


def test_run_writes_the_documented_run_directory(registry, tutorial, tmp_path):
    out = run_recipe(registry, "lista", overrides=TINY, out=tmp_path / "run", device="cpu",
                     progress=False)
    for name in ["config.json", "results.json", "metrics.csv", "report.md", "per_item.json",
                 "training_curves.png", "nmse_db_vs_iterations.png", "nmse_db_boxplot.png",
                 "checkpoints/tied/last.pt", "checkpoints/untied/best.pt"]:
        assert (out / name).is_file(), name
    res = json.loads((out / "results.json").read_text())
    assert {"recipe", "plugin", "quick", "seed", "device", "config", "methods"} <= set(res)
    m = res["methods"][0]
    assert set(m) == {"name", "iterations", "tying", "trained", "params", "metrics", "seconds"}
    assert set(m["metrics"]["nmse_db"]) == {"mean", "median", "q1", "q3", "n"}
    assert m["metrics"]["nmse_db"]["n"] == 20
    trained = [r for r in res["methods"] if r["trained"]]
    assert {r["tying"] for r in trained} == {"tied", "untied"} and all(r["params"] > 0 for r in trained)
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert len(rows) == 4 and set(rows[0]) == {"model", "epoch", "train_loss", "val_loss", "lr", "seconds"}
    saved = json.loads((out / "config.json").read_text())
    assert from_dict(tutorial.lista, saved["config"]) == tutorial.lista.resolve(overrides=TINY)


def test_paired_differences_reach_results_json_and_the_report(registry, tutorial, tmp_path):
    out = run_recipe(registry, "lista", overrides=TINY, out=tmp_path / "run", device="cpu",
                     progress=False)
    res = json.loads((out / "results.json").read_text())
    per_item = json.loads((out / "per_item.json").read_text())
    assert res["higher_is_better"] is False  # the tutorial's NMSE in dB is an error
    assert [(p["method"], p["tying"], p["baseline"], p["iterations"]) for p in res["paired"]] == [
        ("LISTA", "tied", "ISTA", 3), ("LISTA", "untied", "ISTA", 3)]  # ISTA runs 3, 12, 48
    for p in res["paired"]:
        a = per_item[f"LISTA {p['tying']}-3"]["nmse_db"]
        b = per_item["ISTA-3"]["nmse_db"]
        ci = stats.ttest_rel(a, b).confidence_interval(0.95)
        assert p["metric"] == "nmse_db" and p["n"] == 20
        assert p["mean_diff"] == pytest.approx(sum(x - y for x, y in zip(a, b)) / 20)
        assert p["ci95"] == pytest.approx([ci.low, ci.high])
        assert p["better"] == sum(x < y for x, y in zip(a, b))
    report = (out / "report.md").read_text()
    assert "## Paired differences" in report and "| LISTA | untied | ISTA | 3 | nmse_db |" in report
    assert "![learned_parameters](learned_parameters.png)" in report
    assert (out / "learned_parameters.png").is_file()


def test_new_figures_hook_gets_the_run_context_and_notes_reach_results_json(tutorial, tmp_path):
    seen = {}

    class WithHooks(tutorial.SparseCoding):
        def notes(self, ctx):
            return [f"{len(ctx.per_item)} methods evaluated"]

        def figures(self, ctx):
            seen.update(labels=set(ctx.per_item), trained=set(ctx.trained),
                        epochs=len(ctx.histories["tied"].epochs), results=ctx.results)
            return []

    recipe = dataclasses.replace(tutorial.lista, task=WithHooks)
    cfg = recipe.resolve(overrides=TINY)
    execute(tutorial.plugin, recipe, cfg, tmp_path, "cpu", tyings=("tied",), progress=False)
    res = RunResult.read(tmp_path / "results.json")
    assert res.notes == ["5 methods evaluated"] and seen["results"] == res
    assert seen["labels"] == {m.label for m in res.methods} and seen["trained"] == {"tied"}
    assert seen["epochs"] == 2
    assert "- 5 methods evaluated" in (tmp_path / "report.md").read_text()


def test_old_figures_signature_still_runs_with_a_deprecation_warning(tutorial, tmp_path):
    class OldStyle(tutorial.SparseCoding):
        def figures(self, run_dir, results, cfg, trained, test_set):
            assert isinstance(results, dict) and results["methods"][0]["name"] == "ISTA"
            results.setdefault("notes", []).append("added by the old hook")
            (run_dir / "old.png").write_bytes(b"")
            return [run_dir / "old.png"]

    recipe = dataclasses.replace(tutorial.lista, task=OldStyle)
    cfg = recipe.resolve(overrides=TINY)
    with pytest.warns(DeprecationWarning, match=r"OldStyle.figures\(run_dir, .*figures\(self, ctx"):
        execute(tutorial.plugin, recipe, cfg, tmp_path, "cpu", tyings=("tied",), progress=False)
    assert json.loads((tmp_path / "results.json").read_text())["notes"] == ["added by the old hook"]
    report = (tmp_path / "report.md").read_text()
    assert "- added by the old hook" in report and "![old](old.png)" in report


def test_run_never_overwrites(registry, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    with pytest.raises(RunDirError, match="already exists"):
        run_recipe(registry, "lista", overrides=TINY, out=tmp_path / "run", device="cpu")
    assert (tmp_path / "run" / "keep.txt").read_text() == "mine"


def test_config_is_validated_before_data(registry, tmp_path):
    with pytest.raises(ValueError, match="unknown config key"):
        run_recipe(registry, "lista", overrides=["data.nope=1"], out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def train(tutorial, tmp_path, epochs, stop_after=None, resume=False):
    cfg = tutorial.lista.resolve(overrides=TINY + [f"train.epochs={epochs}"])
    task = tutorial.SparseCoding()
    data = task.datasets(cfg)
    torch.manual_seed(0)
    model = task.build_model(cfg, "untied")

    def interrupt(tag, row):
        if stop_after is not None and row.epoch + 1 == stop_after:
            raise KeyboardInterrupt

    t = Trainer(task, cfg, model, torch.device("cpu"), tmp_path / "ck",
                {"plugin": "p", "recipe": "lista", "tying": "untied", "config": {}},
                progress=False, on_epoch=interrupt)
    t.fit(data["train"], data["valid"], resume=resume)
    return model


def test_resume_after_interrupt_continues_exactly(tutorial, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train(tutorial, tmp_path / "a", epochs=3, stop_after=2)
    ck = checkpoint.read(tmp_path / "a" / "ck" / "last.pt")
    assert ck["epoch"] == 1 and not ck["done"]
    resumed = train(tutorial, tmp_path / "a", epochs=3, resume=True)
    straight = train(tutorial, tmp_path / "b", epochs=3)
    for a, b in zip(resumed.state_dict().values(), straight.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_corrupt_and_unsafe_checkpoints(tutorial, tmp_path):
    train(tutorial, tmp_path, epochs=1)
    good = tmp_path / "ck" / "last.pt"
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(checkpoint.CheckpointError, match="corrupt or truncated"):
        checkpoint.read(cut)
    evil = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "x": Payload()}, evil)
    with pytest.raises(checkpoint.CheckpointError, match="refused"):
        checkpoint.read(evil)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(checkpoint.CheckpointError, match="not an unfold checkpoint"):
        checkpoint.read(other)
    with pytest.raises(checkpoint.CheckpointError, match="does not exist"):
        checkpoint.read(tmp_path / "missing.pt")
