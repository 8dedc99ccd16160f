"""A small recipe trained on 1 and on 2 CPU processes (torchrun, gloo) gives the same model."""

import json
import os
import subprocess
import sys

import torch

from unfold import checkpoint

TINY = ["--set", "data.n_train=60", "--set", "data.n_valid=20", "--set", "data.n_test=20",
        "--set", "model.n_layers=3", "--set", "train.epochs=2", "--set", "train.batch_size=20"]


def unfold(args, site, cwd, nproc=None):
    env = {**os.environ, "PYTHONPATH": str(site), "UNFOLD_CACHE": str(cwd / "cache"),
           "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "unfold.cli"]
    if nproc:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                    f"--nproc_per_node={nproc}", "-m", "unfold.cli"]
    out = subprocess.run(launcher + args, env=env, cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_two_processes_train_like_one(tutorial_site, tmp_path):
    common = ["run", "lista", "--device", "cpu", "--no-progress", *TINY]
    unfold([*common, "--out", "one"], tutorial_site, tmp_path)
    unfold([*common, "--out", "two"], tutorial_site, tmp_path, nproc=2)
    for tying in ("tied", "untied"):
        a = checkpoint.read(tmp_path / "one" / "checkpoints" / tying / "last.pt")
        b = checkpoint.read(tmp_path / "two" / "checkpoints" / tying / "last.pt")
        for k in a["model"]:
            torch.testing.assert_close(a["model"][k], b["model"][k], rtol=1e-4, atol=1e-6)
    ra = json.loads((tmp_path / "one" / "results.json").read_text())["methods"]
    rb = json.loads((tmp_path / "two" / "results.json").read_text())["methods"]
    for x, y in zip(ra, rb):
        assert abs(x["metrics"]["nmse_db"]["mean"] - y["metrics"]["nmse_db"]["mean"]) < 1e-3


def test_resume_on_another_number_of_processes(tutorial_site, tmp_path):
    args = ["run", "lista", "--device", "cpu", "--no-progress", "--out", "r"]
    unfold([*args, *TINY], tutorial_site, tmp_path, nproc=2)
    last = tmp_path / "r" / "checkpoints" / "untied" / "last.pt"
    ck = checkpoint.read(last)
    ck["epoch"], ck["done"], ck["history"] = 0, False, ck["history"][:1]  # as if killed after epoch 1
    checkpoint.save_atomic(ck, last)
    (tmp_path / "r" / "results.json").unlink()
    unfold([*args, "--resume"], tutorial_site, tmp_path)
    resumed = checkpoint.read(last)
    assert resumed["done"] and len(resumed["history"]) == 2
    assert (tmp_path / "r" / "results.json").is_file()
