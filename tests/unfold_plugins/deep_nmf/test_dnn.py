"""The DNN mask baseline of §5.2 (Table 1 topologies) and its deep-nmf-dnn recipe."""

import json

import pytest
import torch

from unfold.run import execute
from unfold_plugins.deep_nmf import plugin
from unfold_plugins.deep_nmf.config import parse_topology
from unfold_plugins.deep_nmf.deep_nmf import NMFProblem
from unfold_plugins.deep_nmf.dnn import MaskDNN


@pytest.mark.parametrize("topology, params", [("3x256", 644_040), ("2x1024", 3_098_824),
                                               ("2x1536", 5_434_568)])
def test_table1_topologies_have_the_papers_parameter_counts(topology, params):
    # Table 1: 644 K, 3.1 M, 5.5 M at F = 200, T = 9
    assert MaskDNN(topology).n_params() == params


@pytest.mark.parametrize("bad", ["1x1024", "3x0", "x256", "256", "3*256"])
def test_topologies_outside_dxw_are_refused(bad):
    with pytest.raises(ValueError, match="DNN topology must be 'DxW'"):
        parse_topology(bad)


def test_output_is_the_masked_mixture_and_the_layers_are_the_hidden_ones():
    model, p = MaskDNN.example()
    with torch.no_grad():
        out = model(p)
        h = model.init(p)
        for t in range(model.n_layers):
            h = torch.tanh(h @ model.value("W")[t].T + model.value("b")[t])
        mask = torch.sigmoid(model.out(h)).transpose(1, 2)
    torch.testing.assert_close(out, mask * p.m)
    assert ((out >= 0) & (out <= p.m)).all()


def test_input_noise_only_while_training():
    model = MaskDNN("2x8", n_freq=4, context=2, noise=0.5)
    p = NMFProblem.from_magnitudes(torch.rand(1, 4, 6), 2)
    model.eval()
    assert torch.equal(model(p), model(p))
    model.train()
    assert not torch.equal(model(p), model(p))


def test_dnn_recipe_trains_and_writes_its_table(tmp_path, monkeypatch):
    monkeypatch.setenv("UNFOLD_CACHE", str(tmp_path / "cache"))
    recipe = plugin.recipe("deep-nmf-dnn")
    cfg = recipe.resolve(overrides=[
        "data.n_train=4", "data.n_valid=2", "data.n_test=1", "data.seconds=0.5", "model.rank=3",
        "model.snmf_iter=2", "model.snmf_frames=200", "model.layers=3", "train.epochs=2",
        "train.batch_size=2", "dnn.topology=2x16", "data.train_noises=[\"pink\"]",
        "data.test_noises=[\"brown\"]"])
    run = execute(plugin, recipe, cfg, tmp_path / "run", "cpu", tyings=recipe.tyings,
                  progress=False)
    res = json.loads((run / "results.json").read_text())
    names = [(m["name"], m["trained"], m["params"]) for m in res["methods"]]
    assert names[0][:2] == ("SNMF (C=0, K=3)", False)
    assert names[1][:2] == ("DNN 2x16", True) and names[1][2] == MaskDNN("2x16", 200, 9).n_params()
    table = (run / "dnn_table.md").read_text()
    assert "DNN 2x16 untied-1" in table and "− SNMF (95 % CI), better" in table
