"""Table 2 from config alone: the deep-nmf-paper sweep recipe (K axis; C = the tyings)."""

import json

from unfold.plugin import Registry
from unfold.sweep import run_sweep

TINY = ["data.n_train=4", "data.n_valid=2", "data.n_test=1", "data.seconds=0.5", "model.rank=3",
        "model.snmf_iter=2", "model.snmf_frames=200", "train.epochs=1", "train.batch_size=2",
        "data.train_noises=[\"pink\"]", "data.test_noises=[\"brown\"]"]


def test_paper_sweep_writes_table2_per_k_and_the_sweep_table(tmp_path, monkeypatch):
    monkeypatch.setenv("UNFOLD_CACHE", str(tmp_path / "cache"))
    out = run_sweep(Registry(), "deep-nmf-paper", ["model.layers=3,2"], overrides=TINY,
                    out=tmp_path / "sweep", device="cpu", progress=False,
                    tyings=("partial:1", "partial:2"))
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["axes"] == {"model.layers": [3, 2]} and sweep["primary_metric"] == "sdr"
    for p, k in zip(sweep["points"], (3, 2)):
        names = [(m["name"], m["tying"], m["iterations"]) for m in p["methods"]]
        assert names == [(f"SNMF (C=0, K={k})", "tied", k), (f"deep NMF (C=1, K={k})", "partial:1", k),
                         (f"deep NMF (C=2, K={k})", "partial:2", k)]
        table = (out / p["dir"] / "table2.md").read_text()
        assert f"K = {k}, C = 0 (SNMF)" in table and f"K = {k}, C = 2" in table
        per_item = json.loads((out / p["dir"] / "per_item.json").read_text())
        assert all(len(v["sdr"]) == 6 for v in per_item.values())  # 1 utterance x 6 SNRs
    md = (out / "sweep.md").read_text()
    assert "deep NMF (C=1, K=3) partial:1-model.layers" in md
    assert (out / "sweep.png").is_file()
