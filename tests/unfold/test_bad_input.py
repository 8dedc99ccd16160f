"""Bad input to the core commands (``run``, ``eval``, ``compare``, ``show``, argparse): one case per row,
each a one-line refusal with exit status 2, no traceback, nothing written or changed."""

import json
import os

import pytest
import torch
from badinput import refused
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from importlib_metadata import EntryPoint

from unfold import checkpoint, cli
from unfold.plugin import Registry
from unfold.recipe import ConfigError, to_dict

TINY = ["data.n_train=20", "data.n_valid=10", "data.n_test=10", "model.n_layers=2",
        "train.epochs=1", "train.batch_size=10"]


@pytest.fixture
def setup(tutorial, monkeypatch, tmp_path):
    """The tutorial plugin as the only one, a saved run to resume and checkpoints to evaluate."""
    reg = Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])
    monkeypatch.setattr(cli, "Registry", lambda: reg)
    monkeypatch.chdir(tmp_path)
    cfg = tutorial.lista.resolve(overrides=TINY)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({
        "recipe": "lista", "plugin": "lista-tutorial", "quick": False, "seed": 0,
        "tyings": ["tied", "untied"], "config": to_dict(cfg)}))
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "config.json").write_text('{"recipe": "lista", "conf')
    (tmp_path / "noconfig").mkdir()
    (tmp_path / "noconfig" / "config.json").write_text('{"recipe": "lista"}')
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    (tmp_path / "a-file").write_text("")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint at all")
    model = tutorial.SparseCoding().build_model(cfg, "tied")

    def save(name, edit=None, plugin="lista-tutorial"):
        ck = checkpoint.build(model, plugin=plugin, recipe="lista", tying="tied",
                              config=to_dict(cfg))
        if edit:
            edit(ck)
        checkpoint.save_atomic(ck, tmp_path / name)

    save("nan.pt", lambda ck: next(iter(ck["model"].values())).fill_(float("nan")))
    save("other-plugin.pt", plugin="gone")
    save("evil.pt", lambda ck: ck.update(hook=os.getcwd))
    torch.save({"weights": torch.zeros(2)}, tmp_path / "plain.pt")
    return tmp_path


CASES = [
    # run: recipe, --set syntax and values (checked before anything is created)
    (["run", "nope"], "unknown recipe 'nope'; known recipes: lista"),
    (["run", "lista", "--set", "model.layers=3"], "unknown config key 'model.layers'"),
    (["run", "lista", "--set", "model.n_layers=x"], "model.n_layers expects int"),
    (["run", "lista", "--set", "model.n_layers"], "--set expects key=value"),
    (["run", "lista", "--set", "=3"], "--set expects key=value"),
    (["run", "lista", "--set", "model=3"], "'model' is a section"),
    (["run", "lista", "--set", "train.lr=1e400"], "train.lr must be a finite number"),
    (["run", "lista", "--set", "train.lr=NaN"], "train.lr must be a finite number"),
    (["run", "lista", "--set", "train.lr=-Infinity"], "train.lr must be a finite number"),
    (["run", "lista", "--set", "train.lr=-1"], "train.lr must be in (0, 10]"),
    (["run", "lista", "--set", "train.lr=0"], "train.lr must be in (0, 10]"),
    (["run", "lista", "--set", "train.lr=1000"], "train.lr must be in (0, 10]"),
    (["run", "lista", "--set", "train.lr_end=1e999"], "train.lr_end must be a finite number"),
    (["run", "lista", "--set", "train.lr_end=-1"], "train.lr_end must be none or in [0, 10]"),
    (["run", "lista", "--set", "train.max_batches=-1"], "train.max_batches must be >= 0"),
    (["run", "lista", "--set", "train.epochs=-1"], "train.epochs must be >= 0"),
    (["run", "lista", "--set", "train.batch_size=0"], "train.batch_size must be >= 1"),
    (["run", "lista", "--set", "train.weight_decay=-1"], "train.weight_decay must be >= 0"),
    (["run", "lista", "--set", "train.clip=-0.5"], "train.clip must be >= 0"),
    (["run", "lista", "--set", "train.patience=-2"], "train.patience must be >= 0"),
    (["run", "lista", "--set", "train.optimizer=rmsprop"],
     "train.optimizer must be one of adam, adamw, sgd, got 'rmsprop'"),
    (["run", "lista", "--set", "train.compile=bogus"], "train.compile"),
    (["run", "lista", "--set", "train.epochs=1.5"], "train.epochs expects int"),
    (["run", "lista", "--set", "train.epochs=true"], "train.epochs expects int"),
    (["run", "lista", "--set", "data.n_train=99999999999999999999999"], "must fit in 64 bits"),
    (["run", "lista", "--set", "model.lam=1e309"], "model.lam must be a finite number"),
    # run: flags
    (["run", "lista", "--seed", "-1"], "argument --seed: expected a seed (integer) in 0.."),
    (["run", "lista", "--seed", str(2**63)], "argument --seed: expected a seed (integer) in 0.."),
    (["run", "lista", "--seed", "1e23"], "argument --seed: expected a seed (integer)"),
    (["run", "lista", "--seed", "99999999999999999999999"], "argument --seed"),
    (["run", "lista", "--tying", "sometimes"], "argument --tying"),
    (["run", "lista", "--tying", "partial:-1"], "argument --tying"),
    (["run", "lista", "--device", "tpu"], "argument --device: invalid choice"),
    (["run"], "the following arguments are required: recipe"),
    (["frobnicate"], "argument COMMAND: invalid choice"),
    # run: output directory and resume
    (["run", "lista", "--set", "train.epochs=1", "--out", "full"], "already exists and is not empty"),
    (["run", "lista", "--out", "a-file/run"], "not writable"),
    (["run", "lista", "--resume"], "--resume needs --out DIR"),
    (["run", "lista", "--resume", "--out", "empty-or-missing"], "holds no run (no config.json)"),
    (["run", "lista", "--resume", "--out", "corrupt"], "corrupt/config.json is corrupt"),
    (["run", "lista", "--resume", "--out", "noconfig"], "noconfig/config.json is not a run's config"),
    (["run", "lista", "--resume", "--out", "run", "--seed", "99"], "saved seed 0; --seed 99 differs"),
    (["run", "lista", "--resume", "--out", "run", "--tying", "untied"],
     "saved tyings tied, untied; --tying untied differs"),
    (["run", "lista", "--resume", "--out", "run", "--set", "train.lr=1"], "drop --set"),
    # eval
    (["eval", "missing.pt"], "checkpoint missing.pt does not exist"),
    (["eval", "garbage.pt"], "is corrupt or truncated"),
    (["eval", "evil.pt"], "was refused as unsafe: it asks for"),
    (["eval", "nan.pt"], "holds NaN or inf weights"),
    (["eval", "plain.pt"], "is not an unfold checkpoint"),
    (["eval", "other-plugin.pt"], "cannot be rebuilt: unknown plugin 'gone'"),
    (["eval", "nan.pt", "--iters", "0"], "argument --iters: expected an integer >= 1, got 0"),
    (["eval", "nan.pt", "--iters", "-3"], "argument --iters: expected an integer >= 1"),
    (["eval", "nan.pt", "--iters", "x"], "argument --iters: expected an integer >= 1, got 'x'"),
    (["eval", "nan.pt", "--device", "tpu"], "argument --device: invalid choice"),
    # compare
    (["compare", "nope"], "unknown plugin 'nope'"),
    (["compare", "--seed", "-5"], "argument --seed"),
    (["compare", "--device", "gpu"], "argument --device: invalid choice"),
    # show
    (["show", "nope"], "unknown recipe 'nope'"),
    (["show", "lista", "--set", "model.nope=1"], "unknown config key 'model.nope'"),
    (["show", "lista", "--set", "train.lr=1e400"], "train.lr must be a finite number"),
    (["show", "lista", "--set", "train.backprop=sideways"], "unknown backprop 'sideways'"),
    (["show", "lista", "--set", "train.epochs"], "--set expects key=value"),
    (["show"], "the following arguments are required: recipe"),
    # plugin subcommands
    (["lista-tutorial", "nope"], "invalid choice"),
]


@pytest.mark.parametrize("argv, match", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_core_command_refuses_in_one_line(setup, capsys, argv, match):
    refused(capsys, argv, match, setup)
    assert not (setup / "runs").exists()  # nothing created for a refused run


def test_a_plugin_bug_is_an_internal_error_with_its_location(setup, tutorial, monkeypatch, capsys):
    def buggy(self, cfg):
        a, b, c = (1, 2)  # noqa: F841  (the bug)

    monkeypatch.setattr(tutorial.SparseCoding, "datasets", buggy)
    line = refused(capsys, ["run", "lista", *sum((["--set", s] for s in TINY), []), "--out", "bug"],
                   "unfold: internal error: ValueError: not enough values to unpack",
                   setup / "run", code=1)  # (the run directory itself: issue #12's cleanup)
    assert "test_bad_input.py:" in line and "set UNFOLD_DEBUG=1 for the traceback" in line
    monkeypatch.setenv("UNFOLD_DEBUG", "1")
    with pytest.raises(ValueError, match="not enough values"):
        cli.main(["run", "lista", *sum((["--set", s] for s in TINY), []), "--out", "bug2"])


# -- properties ---------------------------------------------------------------------------------
SET_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # the recipe is read-only
@given(key=st.sampled_from(["train.lr", "train.epochs", "train.lr_end", "train.compile",
                            "train.optimizer", "model.lam", "data.n_train", "nope", "train"]),
       text=SET_TEXT)
def test_set_parsing_accepts_or_refuses_with_a_config_error(tutorial, key, text):
    """Any ``--set key=text``: a valid config (finite floats, ranges held) or a ConfigError."""
    try:
        cfg = tutorial.lista.resolve(overrides=[f"{key}={text}"])
    except ConfigError as e:
        assert str(e).strip() and "\n" not in str(e).strip()
        return
    import math

    t = cfg.train
    assert all(math.isfinite(v) for v in (t.lr, cfg.model.lam, t.weight_decay, t.clip))
    assert 0 < t.lr <= 10 and t.max_batches >= 0 and t.epochs >= 0 and t.batch_size >= 1


# -- through a real process: the installed command, its exit status and stderr are the contract --
SUBPROCESS_CASES = [
    (["run", "admm-pr", "--quick", "--set", "train.lr=1e400"], "train.lr must be a finite number"),
    (["cp-dequant", "dequantize", "in.wav", "-o", "o.wav", "--frame", "0"], "argument --frame"),
]


@pytest.mark.parametrize("argv, match", SUBPROCESS_CASES, ids=[a[1] for a, _ in SUBPROCESS_CASES])
def test_installed_command_refuses_in_one_line(tmp_path, argv, match):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "garbage.pt").write_bytes(b"garbage")
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1"}
    env.pop("UNFOLD_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "unfold.cli", *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and match in lines[0], done.stderr
    assert "Traceback" not in done.stderr and sorted(p.name for p in tmp_path.iterdir()) == ["garbage.pt"]


@pytest.mark.parametrize("err, code, match", [
    (OSError(28, "No space left on device", "run/results.json"), 2,
     "unfold: error: No space left on device: run/results.json"),
    (OSError(30, "Read-only file system", "run/report.md"), 2, "Read-only file system: run/report.md"),
    (OSError(2, "No such file or directory", "lost.txt"), 1, "unfold: internal error: FileNotFoundError"),
])
def test_environment_errors_are_one_line_and_other_os_errors_are_bugs(setup, tutorial, monkeypatch,
                                                                      capsys, err, code, match):
    def fails(self, cfg):
        raise OSError(err.errno, err.strerror, err.filename)

    monkeypatch.setattr(tutorial.SparseCoding, "datasets", fails)
    refused(capsys, ["run", "lista", "--out", "env"], match, setup / "run", code=code)
