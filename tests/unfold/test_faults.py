"""Faults during training: ``kill -9`` at several points (mid-epoch, during a checkpoint write)
then ``--resume`` ends with the results of an uninterrupted run; a full disk leaves the last good
checkpoint intact and is one line."""

import errno
import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import write_tutorial_package
from importlib_metadata import EntryPoint

from unfold import checkpoint, cli
from unfold.plugin import Registry

TINY = ["data.n_train=40", "data.n_valid=10", "data.n_test=10", "model.n_layers=3",
        "train.epochs=3", "train.batch_size=10"]
ARGS = [a for s in TINY for a in ("--set", s)] + ["--device", "cpu", "--no-progress"]

# Runs `unfold` with the tutorial plugin and kills itself (SIGKILL, no clean-up of any kind) at
# the n-th training/validation batch ("batch:n") or halfway through the n-th checkpoint write
# ("write:n": half the bytes are on disk, fsynced, when the process dies).
CHILD = """
import io, os, signal, sys
sys.path.insert(0, sys.argv[1])
from importlib_metadata import EntryPoint
import lista_tutorial
from unfold import checkpoint, cli
from unfold.plugin import Registry
reg = Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])
cli.Registry = lambda: reg
mode, n = os.environ["UNFOLD_TEST_FAULT"].split(":")
count = [0]
def due():
    count[0] += 1
    return count[0] == int(n)
if mode == "write":
    real_save = checkpoint.torch.save
    def save(obj, f):
        if due():
            buf = io.BytesIO()
            real_save(obj, buf)
            f.write(buf.getvalue()[: len(buf.getvalue()) // 2]); f.flush(); os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        real_save(obj, f)
    checkpoint.torch.save = save
else:
    real_loss = lista_tutorial.SparseCoding.loss
    def loss(self, *args):
        if due():
            os.kill(os.getpid(), signal.SIGKILL)
        return real_loss(self, *args)
    lista_tutorial.SparseCoding.loss = loss
sys.exit(cli.main(sys.argv[2:]))
"""


@pytest.fixture
def registry(tutorial, monkeypatch):
    reg = Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])
    monkeypatch.setattr(cli, "Registry", lambda: reg)
    return reg


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """results.json and best weights of the uninterrupted run (in a child, like the killed ones)."""
    root = tmp_path_factory.mktemp("straight")
    write_tutorial_package(root / "src")
    env = {**os.environ, "UNFOLD_TEST_FAULT": "batch:0", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", CHILD, str(root / "src"), "run", "lista",
                    "--out", str(root / "run"), *ARGS], env=env, check=True, capture_output=True)
    return root


def outcome(run):
    res = json.loads((run / "results.json").read_text())
    metrics = {(m["name"], m["tying"], m["iterations"]): m["metrics"] for m in res["methods"]}
    weights = {t: checkpoint.read(run / "checkpoints" / t / "best.pt")["model"]
               for t in ("tied", "untied")}
    return metrics, weights, json.loads((run / "config.json").read_text())


# every tying writes >= 4 checkpoints (last.pt each epoch, best.pt at least once): write 7 exists
@pytest.mark.parametrize("fault", ["batch:3", "batch:17", "write:2", "write:7"])
def test_kill_9_then_resume_equals_an_uninterrupted_run(straight, registry, tmp_path, fault):
    out = tmp_path / "run"
    env = {**os.environ, "UNFOLD_TEST_FAULT": fault, "OMP_NUM_THREADS": "1"}
    killed = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "src"), "run", "lista",
                             "--out", str(out), *ARGS], env=env, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    assert not (out / "results.json").exists()
    torch.set_num_threads(1)
    assert cli.main(["run", "lista", "--resume", "--out", str(out), "--no-progress"]) == 0
    got, want = outcome(out), outcome(straight / "run")
    assert got[0] == want[0]  # every method's metrics, exactly
    for tying in ("tied", "untied"):
        for k, v in want[1][tying].items():
            torch.testing.assert_close(got[1][tying][k], v, rtol=0, atol=0)
    assert got[2] == want[2]
    assert list(out.rglob("*.tmp")) == []  # the killed write's temporary file is gone


def test_full_disk_keeps_the_last_good_checkpoint_and_says_so_in_one_line(registry, tmp_path,
                                                                          monkeypatch, capsys):
    real_save, writes = torch.save, []

    def save(obj, f):
        writes.append(obj["epoch"])
        if len(writes) == 3:  # epoch 0 wrote best.pt and last.pt; the disk is full from here
            f.write(b"partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_save(obj, f)

    monkeypatch.setattr(checkpoint.torch, "save", save)
    out = tmp_path / "run"
    assert cli.main(["run", "lista", "--out", str(out), *ARGS]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left on device" in err
    assert "disk full; the previous checkpoint is kept" in err
    last = checkpoint.read(out / "checkpoints" / "tied" / "last.pt")
    assert last["epoch"] == 0 and not last["done"]
    assert list(out.rglob("*.tmp")) == []
    monkeypatch.setattr(checkpoint.torch, "save", real_save)  # space again: resume finishes
    assert cli.main(["run", "lista", "--resume", "--out", str(out), "--no-progress"]) == 0
    assert checkpoint.read(out / "checkpoints" / "untied" / "last.pt")["done"]
