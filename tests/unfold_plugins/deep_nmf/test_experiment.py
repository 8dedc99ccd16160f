import json

from unfold_plugins.deep_nmf import experiment


def test_experiment_driver_writes_table2_figure_and_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("UNFOLD_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    sets = ["data.n_train=4", "data.n_valid=2", "data.n_test=1", "data.seconds=0.5",
            "model.rank=3", "model.snmf_iter=2", "model.snmf_frames=200", "train.epochs=1",
            "train.batch_size=2", "data.train_noises=[\"pink\"]", "data.test_noises=[\"brown\"]"]
    argv = ["--out", str(out), "--ks", "3", "--cs", "1", "--updates", "adam,mbp"]
    for s in sets:
        argv += ["--set", s]
    assert experiment.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert [(m["name"], m["tying"]) for m in results["methods"]] == [
        ("SNMF", "tied"), ("deep NMF (adam)", "partial:1"), ("deep NMF (mbp)", "partial:1")]
    per_item = json.loads((out / "per_item.json").read_text())
    assert all(len(v["sdr"]) == 6 for v in per_item.values())  # 1 utterance x 6 SNRs
    table = (out / "table2-mbp.md").read_text()
    assert "K = 3, C = 0 (SNMF)" in table and "K = 3, C = 1" in table
    assert (out / "sdr_vs_c-adam.png").stat().st_size > 0
    assert (out / "K3-C1-mbp.pt").is_file()
