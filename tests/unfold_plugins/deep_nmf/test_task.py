import json

import numpy as np
import pytest
import torch

from unfold_plugins.deep_nmf.deep_nmf import DeepNMF, NMFProblem
from unfold_plugins.deep_nmf.enhance import Enhancer
from unfold_plugins.deep_nmf.report import per_snr_rows, table2, untied_layers
from unfold_plugins.deep_nmf.task import DeepNMFTask, make_stft


def test_stft_has_the_paper_geometry_at_16k():
    stft = make_stft(16000)
    assert (stft.n_fft, stft.hop) == (400, 160)
    assert stft(torch.randn(1, 16000)).shape[1] == 200  # F = 200


def _enhancer(context=9, k=3):
    g = torch.Generator().manual_seed(0)
    w = torch.rand(context * 200, 8, generator=g) + 0.01
    return Enhancer(DeepNMF(k, w, n_speech=4, n_freq=200, mu=1.0), 16000)


def test_enhancer_gives_zeros_not_nan_on_digital_silence():
    y = _enhancer()(torch.zeros(4000))
    assert bool(torch.isfinite(y).all()) and float(y.abs().max()) == 0.0


def test_enhancer_refuses_mixtures_shorter_than_the_context_window():
    enh = _enhancer()
    assert enh.min_seconds == pytest.approx(0.105)
    with pytest.raises(ValueError, match="context window of 9 frames"):
        enh(torch.randn(1600))
    assert enh(torch.randn(1700)).shape == (1700,)


def test_enhancer_rejects_non_finite_and_multichannel_input():
    enh = _enhancer()
    with pytest.raises(ValueError, match="NaN"):
        enh(torch.full((4000,), float("nan")))
    with pytest.raises(ValueError, match="mono"):
        enh(torch.randn(2, 4000))


def test_negative_magnitudes_are_clamped_to_zero():
    p = NMFProblem.from_magnitudes(-torch.ones(1, 4, 3), 2)
    assert float(p.m.abs().sum()) == 0.0


def test_table2_rows_group_sdr_by_input_snr_and_count_parameters():
    results = {"methods": [
        {"name": "SNMF", "iterations": 25, "tying": "tied"},
        {"name": "deep NMF", "iterations": 25, "tying": "partial:2"},
    ]}
    per_item = {
        "SNMF tied-25": {"sdr": [1.0, 3.0, 5.0, 7.0], "input_snr": [-6, -6, 9, 9],
                         "si_sdr": [0, 0, 0, 0], "stoi": [0.5] * 4},
        "deep NMF partial:2-25": {"sdr": [2.0, 4.0, 6.0, 8.0], "input_snr": [-6, -6, 9, 9],
                                  "si_sdr": [1] * 4, "stoi": [0.6] * 4},
    }
    rows = per_snr_rows(results["methods"], per_item, n_freq=200, n_bases=200, context=9)
    assert [r["C"] for r in rows] == [0, 2]
    assert rows[0]["per_snr"] == {-6.0: 2.0, 9.0: 6.0} and rows[1]["avg"] == 5.0
    assert rows[1]["P_D"] == 80_000 and rows[1]["P"] == 440_000  # the paper's 80 K / 440 K
    text = table2(rows)
    assert "K = 25, C = 0 (SNMF)" in text and "| 80 K | 440 K |" in text
    assert untied_layers("untied", 4) == 4 and untied_layers(None, 4) == 0
    json.dumps(rows)
    assert np.isfinite(rows[1]["avg"])


def test_mbp_optimizer_hook_updates_on_the_stashed_training_batch():
    from unfold_plugins.deep_nmf.config import DeepNMFConfig
    from unfold_plugins.deep_nmf.task import DeepNMFTask, Target

    cfg = DeepNMFConfig(update="mbp")
    cfg.train.lr = 1.0
    task = DeepNMFTask()
    model, p = DeepNMF.example("partial:2")
    target = Target(0.6 * p.m, torch.zeros(2, 10), [0.0, 0.0])
    opt = task.optimizer(cfg, model)
    losses = []
    for _ in range(4):
        loss = task.loss(model(p), target, p, cfg)
        losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[-1] < 0.6 * losses[0]
    with torch.no_grad():  # evaluation losses hand nothing to the optimiser
        task.loss(model(p), target, p, cfg)
    assert opt.batch is None
    assert task.optimizer(DeepNMFConfig(), model) is None  # adam: the engine's optimiser


@pytest.mark.parametrize("cache", ["garbage", "truncated", "unsafe", "wrong-shape", "nan", "valid"])
def test_bases_cache_is_read_weights_only_and_relearned_when_unusable(tmp_path, monkeypatch,
                                                                      capsys, cache):
    import os

    import unfold_plugins.deep_nmf.task as task_module
    from unfold_plugins.deep_nmf.bases import cache_dir
    from unfold_plugins.deep_nmf.recipes import deep_nmf

    cfg = deep_nmf.resolve(overrides=["model.rank=2", "model.context=1"])
    shape = (200, 4)  # T F x 2 R
    learned = []

    def fake_learn(mag, rank, *args):
        learned.append(rank)
        return torch.full((shape[0], rank), 0.5), None

    items = [{"clean": torch.zeros(1600), "noisy": torch.zeros(1600), "snr": 0.0}] * 2
    monkeypatch.setattr(task_module, "learn_bases", fake_learn)
    monkeypatch.setattr(DeepNMFTask, "datasets", lambda self, cfg: {"train": items})
    task = DeepNMFTask()
    path = cache_dir() / f"bases-{task._bases_key(cfg)}.pt"
    path.parent.mkdir(parents=True)
    good = torch.full(shape, 0.25)
    if cache == "garbage":
        path.write_bytes(b"not a cache")
    elif cache == "truncated":
        torch.save({"w": good}, path)
        path.write_bytes(path.read_bytes()[:100])
    elif cache == "unsafe":
        torch.save({"w": good, "hook": os.getcwd}, path)
    elif cache == "wrong-shape":
        torch.save({"w": torch.ones(3, 3)}, path)
    elif cache == "nan":
        torch.save({"w": torch.full(shape, float("nan"))}, path)
    else:
        torch.save({"w": good}, path)
    w = task.bases(cfg)
    if cache == "valid":
        assert learned == [] and torch.equal(w, good)
        return
    assert learned == [2, 2] and w.shape == shape and torch.equal(w, torch.full(shape, 0.5))
    assert "bases cache" in capsys.readouterr().err
    assert torch.equal(torch.load(path, weights_only=True)["w"], w)  # replaced by the good one
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
