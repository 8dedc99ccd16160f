"""Config validation, the task's problems, and a tiny end-to-end run of both recipes."""

import json
import re

import numpy as np
import pytest
import torch

from unfold.plugin import Registry
from unfold.recipe import ConfigError
from unfold.run import execute
from unfold.sweep import run_sweep
from unfold_plugins.dpr import plugin
from unfold_plugins.dpr.objective import amplitude_loss
from unfold_plugins.dpr.task import DPRTask

TINY = ["generator.epochs=1", "data.n_train=8", "data.n_valid=4", "data.n_test=4",
        "data.restarts=1", "model.layers=3", "train.epochs=1", "train.batch_size=4",
        "eval.dpr_iterations=6", "eval.af_iterations=5", "eval.sparta_iterations=5"]


@pytest.mark.parametrize("override, message", [
    ("data.m=0", "data.m must be >= 1 (measurements), got 0"),
    ("generator.latent=65", "exceeds the signal dimension n=64"),
    ("model.algorithm=lbfgs", "model.algorithm must be one of gd, adam, got 'lbfgs'"),
    ("data.dataset=mnist", "needs data.root"), ("data.noise=-1", "noise must be >= 0"),
    ("eval.sparsity_grid=[4,65]", "s=65 exceeds n=64"), ("eval.sparsity=65", "s=65 exceeds n=64"),
    ("eval.sparsity=0", "eval.sparsity must be none or >= 1 (none: chosen on valid), got 0"),
    ("eval.sparsity_grid=[]", "eval.sparsity_grid must hold one or more values >= 1, got []"),
    ("data.m_train=[16,0]", "data.m_train must hold values >= 1 (measurements), got [16, 0]"),
    ("data.n_valid=0", "data.n_valid must be >= 1, got 0"), ("eval.gd_step=0", "eval.gd_step must be > 0"),
    ("eval.grid_m=[-1]", "eval.grid_m must hold values >= 1 (measurements), got [-1]"),
    ("generator.latent=0", "generator.latent must be none or >= 1, got 0"),
    ("generator.activation=tanh", "generator.activation must be one of relu, softplus, got 'tanh'"),
    ("data.dataset=cifar", "data.dataset must be one of digits, mnist, got 'cifar'"),
])
def test_bad_config_is_rejected_before_any_data(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        plugin.recipe("dpr").resolve(overrides=[override])


def test_problems_are_deterministic_and_consistent():
    cfg = plugin.recipe("dpr").resolve(overrides=TINY + ["data.m=40"])
    task = DPRTask()
    test = task.split(cfg, "test")
    a, b = test[1], task.split(cfg, "test")[1]
    assert all(torch.equal(a[k], b[k]) for k in a)
    problem, y0 = task.problem(task.collate([test[0], test[1]]), cfg, torch.device("cpu"))
    assert problem.A.shape == (2, 40, 64) and torch.equal(y0[1], a["y0"])
    assert amplitude_loss(problem.A, problem.b, y0.unsqueeze(1)).max() < 1e-10
    cfg.data.noise = 0.05
    noisy = task.split(cfg, "test")[1]
    assert torch.equal(noisy["A"], a["A"]) and 0 < (noisy["b"] - a["b"]).std() < 0.1
    cfg.data.signals = "range"  # G(z0): in the range of the generator, exactly measurable
    item = task.split(cfg, "test", count=2)[0]
    G = task.generator(cfg)
    assert item["y0"].shape == (64,) and 0 < item["y0"].min() and item["y0"].max() < 1
    assert G.latent == 10 and G.n == 64


def test_tiny_sweep_over_m_writes_every_point_and_fig2_from_config_alone(tmp_path):
    """Fig. 2 = the dpr-sweep recipe's sweep over data.m; the dpr recipe itself runs end to end
    in the MNIST test below."""
    out = run_sweep(Registry(), "dpr-sweep", ["data.m=8,32"], overrides=TINY + ["data.n_test=2"],
                    out=tmp_path / "sweep", device="cpu", progress=False)
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["axes"] == {"data.m": [8, 32]} and sweep["primary_metric"] == "ssim"
    for p, m in zip(sweep["points"], (8, 32)):
        run = out / p["dir"]
        res = json.loads((run / "results.json").read_text())
        assert res["config"]["data"]["m"] == m and res["config"]["data"]["m_train"] == [
            16, 32, 64, 128, 192, 256, 384]  # one model over every m, tested at this m
        chosen = json.loads((run / "sparta_sparsity.json").read_text())  # at m, on valid
        assert chosen["m"] == m and chosen["items"] == 4 and len(chosen["valid_mse"]) == 6
        copram = json.loads((run / "copram_sparsity.json").read_text())
        assert copram["method"] == "CoPRAM" and copram["m"] == m and copram["items"] == 4
        names = {r["name"] for r in res["methods"]}
        assert {"DPR-Adam", "DPR-GD", "Unrolled DPR", "AmplitudeFlow", f"SPARTA s={chosen['s']}",
                f"CoPRAM s={copram['s']}", "TWF"} <= names
        assert all(-1 <= r["metrics"]["ssim"]["mean"] <= 1 and r["metrics"]["ssim"]["n"] == 2
                   for r in res["methods"])
        assert f"SPARTA at m = {m}: s = {chosen['s']}, the lowest mean MSE on 4 valid" in (
            run / "report.md").read_text()
        assert res["notes"][0].startswith(f"SPARTA at m = {m}: s = {chosen['s']}")  # notes hook
        assert (run / "fig3_reconstructions.png").is_file()
    md = (out / "sweep.md").read_text()
    assert "| data.m |" in md and "| SPARTA-5 |" in md and "| CoPRAM-" in md  # one column each,
    # whatever s each m chose
    assert (out / "sweep.png").is_file() and (out / "sweep_mse.png").is_file()


def test_mnist_files_run_end_to_end_with_the_papers_generator(tmp_path, write_idx):
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (5010, 784)))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 256, (4, 784)))
    recipe = plugin.recipe("dpr")
    cfg = recipe.resolve(overrides=TINY + ["data.dataset=mnist", f"data.root={tmp_path}",
                                           "data.m=100"])
    task = DPRTask()
    G = task.generator(cfg)
    assert [layer.out_features for layer in G.layers] == [500, 500, 784] and G.latent == 20
    run = execute(plugin, recipe, cfg, tmp_path / "run", "cpu", progress=False)
    res = json.loads((run / "results.json").read_text())
    assert all(r["metrics"]["mse"]["n"] == 4 for r in res["methods"])
