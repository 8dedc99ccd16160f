"""Frames, task, recipes, the run and the sweep on a tiny synthetic corpus (no eSpeak)."""

import json
import math

import pytest
import torch

from unfold.plugin import Registry
from unfold.recipe import ConfigError
from unfold.run import execute
from unfold.sweep import run_sweep
from unfold_plugins.cp_dequant import plugin
from unfold_plugins.cp_dequant import task as task_mod
from unfold_plugins.cp_dequant.cp import dct_matrix
from unfold_plugins.cp_dequant.frames import frame_signals, nonsilent, speech_frames

TINY = [
    "data.frame=32", "data.max_train_frames=64", "data.max_valid_frames=32",
    "data.max_test_frames=32", "model.layers=6", "train.epochs=2", "train.batch_size=16",
    "train.lr=1e-3", "train.lr_end=1e-4", "eval.depths=[12]", "eval.opt_max_iter=3000",
]


def synthetic(split: str, items: int = 6, samples: int = 800) -> torch.Tensor:
    """Chirps with a silent gap, a different seed per split."""
    g = torch.Generator().manual_seed({"train": 0, "valid": 1, "test": 2}[split])
    t = torch.arange(samples, dtype=torch.float32)
    f = 0.02 + 0.1 * torch.rand(items, 1, generator=g)
    x = 0.6 * torch.sin(f * t + 0.0005 * t**2 * torch.rand(items, 1, generator=g))
    x[:, 300:400] = 0
    return x


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    monkeypatch.setenv("UNFOLD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(task_mod, "load_signals", lambda cfg, split: synthetic(split))
    recipe = plugin.recipe("cp-dequant")
    return recipe, recipe.resolve(quick=True, overrides=TINY)


def test_frames_normalise_drop_tail_and_silence():
    x = synthetic("train", items=2, samples=810)
    fr = frame_signals(x * 3, 32)
    assert fr.shape == (2 * 25, 32)
    assert float(fr.abs().max()) < 1 and float(fr.abs().max()) > 0.999
    kept = nonsilent(fr, -30.0)
    rms = fr.pow(2).mean(1).sqrt()
    assert kept.shape[0] == int((rms >= 10 ** (-1.5)).sum()) < fr.shape[0]  # the gap is dropped
    assert len(speech_frames(x, 32, -30.0, max_frames=5)) == 5
    with pytest.raises(ValueError, match="min_rms_db"):
        speech_frames(torch.zeros(2, 100), 32, -30.0, 0)
    assert torch.equal(nonsilent(fr, None), fr)  # none: every frame, silence included (paper)
    assert len(speech_frames(torch.zeros(2, 100), 32, None, 0)) == 6


def test_optimality_notes_say_whether_the_gap_or_the_cap_stopped_it():
    from unfold_plugins.cp_dequant.task import Optimality, quantize_batch

    dct = plugin.recipe("cp-dequant").task().build_model(
        plugin.recipe("cp-dequant").resolve(overrides=["data.frame=16"]), "tied", trainable=False)
    y = 0.8 * torch.sin(torch.linspace(0, 6, 4 * 16)).reshape(4, 16).double()
    p = quantize_batch(y, 4)
    capped, solved = Optimality(dct.double(), 3, 1e-9), Optimality(dct.double(), 100_000, 1e-3)
    capped(p)
    solved(p)
    assert capped.stops.converged == 0 and capped.stops.iterations == [3]
    assert "1 of 1 test batches stopped at the iteration cap 3" in capped.stops.note("opt", 1e-9, 3)
    assert solved.stops.converged == 1 and solved.stops.iterations[0] < 100_000
    assert "every test batch reached" in solved.stops.note("opt", 1e-3, 100_000)


def test_budget_recipe_keeps_every_frame_and_the_papers_schedule():
    cfg = plugin.recipe("cp-dequant-budget").resolve()
    assert cfg.data.min_rms_db is None and cfg.data.n_train * 100 >= 60_000
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.lr, cfg.train.lr_end) == (20, 32, 1e-5, 1e-8)
    assert (cfg.eval.opt_tol, cfg.eval.opt_max_iter) == (1e-6, 100_000)


def test_problem_quantises_within_half_step_and_metrics(tiny):
    recipe, cfg = tiny
    task = recipe.task()
    y = 0.9 * torch.rand(5, 32) * 2 - 0.9
    problem, target = task.problem(y, cfg, torch.device("cpu"))
    eta = 2 / 2**cfg.data.bits
    assert bool(((problem.x - y).abs() <= eta / 2 + 1e-7).all())
    assert torch.allclose(problem.h, torch.full((5, 1), eta / 2))
    m = task.metrics(problem.x, target, problem, cfg)
    ref = 10 * math.log10(float((y[0] ** 2).sum() / ((y[0] - problem.x[0]) ** 2).sum()))
    assert m["snr_db"][0] == pytest.approx(ref, rel=1e-5)
    assert m["mse"][0] == pytest.approx(float(((y[0] - problem.x[0]) ** 2).mean()), rel=1e-5)


@pytest.mark.parametrize("override, message", [
    ("model.layers=0", "model.layers must be >= 1, got 0"),
    ("model.k=-1", "model.k must be >= 0 (0 = frame length), got -1"),
    ("model.step_scale=1", "model.step_scale must be in (0, 1), got 1.0"),
    ("model.step_ratio=0", "model.step_ratio must be > 0, got 0.0"),
    ("data.n_test=0", "data.n_test must be >= 1, got 0"),
    ("data.sample_rate=0", "data.sample_rate must be >= 1, got 0"),
    ("data.seconds=0", "data.seconds must be > 0, got 0.0"),
    ("data.frame=1", "data.frame must be >= 2 (samples), got 1"),
    ("eval.opt_max_iter=0", "eval.opt_max_iter must be >= 1, got 0"),
    ("eval.opt_tol=-1e-4", "eval.opt_tol must be > 0, got -0.0001"),
])
def test_config_errors_name_one_key(override, message):
    with pytest.raises(ConfigError) as e:
        plugin.recipe("cp-dequant").resolve(overrides=[override])
    assert str(e.value) == message


def test_config_errors_name_key_and_allowed_values():
    recipe = plugin.recipe("cp-dequant")
    with pytest.raises(ConfigError, match=r"^data.bits must be in \[1, 16\], got 17$"):
        recipe.resolve(overrides=["data.bits=17"])
    with pytest.raises(ConfigError, match="data.corpus must be one of espeak, piper"):
        recipe.resolve(overrides=["data.corpus=festival"])
    with pytest.raises(ConfigError, match="data.corpus=piper chooses the synthetic corpus, but "
                                          "data.root replaces it"):
        recipe.resolve(overrides=["data.corpus=piper", "data.root=/tmp"])
    with pytest.raises(ConfigError, match="train.backprop.*allowed: full"):
        recipe.resolve(overrides=["train.backprop=paper"])
    with pytest.raises(ConfigError, match=r"^eval.depths must hold values >= 1, got \[-5\]$"):
        recipe.resolve(overrides=["eval.depths=[-5]"])
    paper = plugin.recipe("cp-dequant-paper").resolve()
    assert paper.train.lr == 1e-5 and paper.train.lr_end == 1e-8
    assert paper.train.batch_size == 32 and paper.train.epochs == 20
    assert plugin.recipe("cp-dequant-paper").sweep == {
        "model.layers": [10, 20, 30, 40, 60, 80, 100, 200, 500, 1000],
        "train.backprop": ["full", "truncated:30", "frozen:30", "implicit:30"]}
    assert Registry().get("cp-dequant").compare == "cp-dequant"


def test_run_trains_tied_and_untied_and_reports(tiny, tmp_path):
    recipe, cfg = tiny
    run = execute(plugin, recipe, cfg, tmp_path / "run", "cpu", progress=False)
    res = json.loads((run / "results.json").read_text())
    rows = {(r["name"], r["tying"], r["iterations"]): r for r in res["methods"]}
    snr = {k: r["metrics"]["snr_db"]["mean"] for k, r in rows.items()}
    assert {("CP-learnedK", "tied", 6), ("CP-learnedK", "untied", 6), ("CP-DCT", None, 12),
            ("CP-DCT-opt", None, 3000), ("CP-learnedK-opt", "tied", 3000)} <= set(rows)
    assert all(math.isfinite(v) for v in snr.values())
    dct_snr, quant_snr = snr[("CP-DCT", None, 6)], snr[("quantized", None, 0)]
    assert dct_snr != pytest.approx(quant_snr, abs=1e-3)  # CP did change the input
    with torch.no_grad():  # training moved K away from its DCT initialisation
        for tying in ("tied", "untied"):
            ck = torch.load(run / "checkpoints" / tying / "best.pt", weights_only=True)
            K = ck["model"]["raw.K"]
            assert float((K - dct_matrix(32)).abs().max()) > 1e-4
    assert (run / "K_rows.png").is_file() and (run / "mse_vs_inference.png").is_file()


def test_paper_sweep_trains_every_pair_from_config_alone(tiny, tmp_path):
    """Fig. 3's data (MSE of every (L_train, backprop), classical and optimality inference,
    training time) from ``unfold run cp-dequant-paper``'s sweep; Fig. 4 per point."""
    import re

    axes = ["model.layers=3,6", "train.backprop=full,frozen:4"]
    out = run_sweep(Registry(), "cp-dequant-paper", axes, quick=True, overrides=TINY,
                    out=tmp_path / "sweep", device="cpu", progress=False)
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["axes"] == {"model.layers": [3, 6], "train.backprop": ["full", "frozen:4"]}
    for p in sweep["points"]:
        rows = {(r["name"], r["iterations"]): r for r in p["methods"]}
        L = p["values"]["model.layers"]
        learned = rows[("CP-learnedK", L)]
        assert learned["tying"] == "tied" and learned["seconds"]["train"] > 0
        assert rows[("CP-learnedK-opt", 3000)]["metrics"]["mse"]["mean"] > 0
        assert ("CP-DCT", L) in rows and ("quantized", 0) in rows
        assert (out / p["dir"] / "mse_vs_inference.png").is_file()
    md = (out / "sweep.md").read_text()
    assert "CP-learnedK tied-model.layers" in md and "## mse" in md
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert {"sweep.png", "sweep_mse.png"} <= set(links)
    assert all((out / link).is_file() for link in links)
