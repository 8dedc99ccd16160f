"""Task, recipes and figures of admm-pr: config checks, same initial phase for every method, the
method list, per-tying step scale, and a tiny end-to-end run through the engine."""

import json

import pytest
import torch

from unfold.recipe import ConfigError
from unfold.run import execute
from unfold_plugins.admm_pr import UADMM, plugin
from unfold_plugins.admm_pr.task import Indexed, PhaseRetrievalTask, build_uadmm


def _cfg(name="admm-pr", quick=True, overrides=()):
    return plugin.recipe(name).resolve(quick=quick, overrides=list(overrides))


@pytest.mark.parametrize("override, message", [
    ("data.sample_rate=8", "data.sample_rate must be >= 1000 (Hz), got 8"),
    ("data.n_valid=0", "data.n_valid must be >= 1, got 0"),
    ("data.window=hann", "data.window must be one of sine, sqrt-hann, got 'hann'"),
    ("model.pieces=0", "model.pieces must be >= 1, got 0"),
    ("model.rho=0", "model.rho must be > 0, got 0.0"),
    ("model.bias_lo=0", "model.bias_lo must be > 0, got 0.0"),
    ("model.bias_hi=0.001", "model.bias_hi must be >= 0.01 (at least model.bias_lo), got 0.001"),
    ("model.tied_lr_scale=-1", "model.tied_lr_scale must be > 0, got -1.0"),
    ("eval.baselines=GLA,PGHI", "eval.baselines must hold values among GLA, FGLA, ADMM, got ['GLA', 'PGHI']"),
    ("eval.uadmm_iters=15,0", "eval.uadmm_iters must hold values >= 1, got [15, 0]"),
    ("eval.fgla_momentum=1", "eval.fgla_momentum must be in [0, 1), got 1.0"),
])
def test_config_errors_name_one_key(override, message):
    with pytest.raises(ConfigError) as e:
        _cfg(overrides=[override])
    assert str(e.value) == message


def test_config_rejects_bad_values_naming_the_key():
    with pytest.raises(ConfigError, match="model.loss must be one of neg-stoi, mse, sc"):
        _cfg(overrides=["model.loss=l1"])
    with pytest.raises(ConfigError, match="eval.baselines"):
        _cfg(overrides=["eval.baselines=GLA,PGHI"])
    with pytest.raises(ConfigError, match="slope_init"):
        _cfg(overrides=["model.slope_init=0"])
    with pytest.raises(ConfigError, match="train.backprop: unknown backprop 'neumann'; allowed"):
        _cfg(overrides=["train.backprop=neumann"])
    assert _cfg(overrides=["train.backprop=implicit:20"]).train.backprop == "implicit:20"


def test_dry_run_refuses_piper_without_the_extra(monkeypatch, capsys, tmp_path):
    from badinput import refused

    from unfold.data import corpora

    monkeypatch.setattr(corpora, "missing_piper_packages", lambda: ["piper-tts"])
    run = ["run", "admm-pr", "--quick", "--dry-run", "--out", tmp_path / "r", "--set"]
    refused(capsys, [*run, "data.corpus=piper"],
            'data.corpus=piper needs the optional extra: pip install "unfold[piper]"', tmp_path)
    refused(capsys, [*run, "data.corpus=festival"],
            "data.corpus must be one of espeak, piper, got 'festival'", tmp_path)
    assert _cfg().data.corpus == "espeak"


def test_paper_recipe_lists_the_papers_methods():
    cfg = _cfg("admm-pr-paper", quick=False)
    assert (cfg.model.layers, cfg.model.pieces, cfg.model.rho) == (15, 3, 1e-3)
    assert (cfg.train.lr, cfg.train.batch_size, cfg.train.epochs) == (1e-4, 10, 200)
    assert (cfg.data.n_train, cfg.data.n_valid, cfg.data.n_test) == (1000, 10, 50)
    task = PhaseRetrievalTask()
    trained = {t: task.build_model(cfg, t) for t in ("tied", "untied")}
    got = {(m.name, m.tying, m.iterations) for m in task.methods(cfg, trained)}
    want = {(n, None, k) for n in ("GLA", "FGLA", "ADMM") for k in (15, 30, 75, 150, 1500)}
    want |= {("UADMM", t, k) for t in ("tied", "untied") for k in (15, 30, 75, 150)}
    assert got == want


def test_tied_model_gets_its_own_learning_rate():
    cfg = _cfg(overrides=["model.tied_lr_scale=0.1", "train.lr=0.01"])
    task = PhaseRetrievalTask()
    opt = task.optimizer(cfg, task.build_model(cfg, "tied"))
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-3)
    assert task.optimizer(cfg, task.build_model(cfg, "untied")) is None


def test_every_method_sees_the_same_initial_phase():
    cfg = _cfg()
    task = PhaseRetrievalTask()
    data = Indexed([torch.randn(4000) for _ in range(3)], "test")
    batch = task.collate([data[i] for i in range(3)])
    p1, _ = task.problem(batch, cfg, torch.device("cpu"))
    p2, _ = task.problem(task.collate([data[2]]), cfg, torch.device("cpu"))
    torch.testing.assert_close(p1.init_spec[2:], p2.init_spec)
    other = task.problem(task.collate([Indexed([data.data[2]] * 3, "valid")[2]]), cfg, "cpu")[0]
    assert not torch.equal(other.init_spec, p2.init_spec)  # another split, another phase


@pytest.mark.parametrize("loss", ["neg-stoi", "mse", "sc"])
def test_losses_are_finite_and_differentiable(loss):
    cfg = _cfg(overrides=[f"model.loss={loss}", "model.layers=2"])
    task = PhaseRetrievalTask()
    t = torch.arange(22050) / 22050
    s = (0.5 * torch.sin(2 * torch.pi * 220 * t) * torch.sin(2 * torch.pi * 2 * t))[None]
    problem, target = task.problem(([0], s), cfg, torch.device("cpu"))
    model = task.build_model(cfg, "untied")
    value = task.loss(model(problem), target, problem, cfg)
    value.backward()
    assert torch.isfinite(value) and model.raw["gamma1"].grad is not None


def test_tiny_run_through_the_engine_writes_results_and_figures(tmp_path):
    cfg = _cfg(overrides=[
        "data.n_train=2", "data.n_valid=1", "data.n_test=2", "data.seconds=1.5",
        "model.layers=2", "train.epochs=1", "train.batch_size=2",
        "eval.baseline_iters=[2,4]", "eval.uadmm_iters=[2,4]", "eval.reference_iters=[2]"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    execute(plugin, plugin.recipe("admm-pr"), cfg, run_dir, "cpu", 0, True, ("tied", "untied"),
            progress=False)
    results = json.loads((run_dir / "results.json").read_text())
    names = {(m["name"], m["tying"], m["iterations"]) for m in results["methods"]}
    assert ("UADMM", "untied", 4) in names and ("ADMM", None, 2) in names
    for m in results["methods"]:
        assert set(m["metrics"]) == {"stoi", "sc", "snr"}
        assert all(v == v for v in m["metrics"]["stoi"].values())  # no NaN
    for fig in ("fig2_training", "fig3_boxplots", "fig4_stoi_vs_iterations", "fig5_divergences"):
        assert (run_dir / f"{fig}.png").stat().st_size > 1000
    assert isinstance(build_uadmm(cfg, "tied"), UADMM)
