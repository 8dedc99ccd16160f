import subprocess
import sys

import pytest
from importlib_metadata import EntryPoint

from unfold import cli
from unfold.plugin import Registry


@pytest.fixture
def tutorial_registry(tutorial, monkeypatch):
    reg = Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])
    monkeypatch.setattr(cli, "Registry", lambda: reg)
    return reg


def one_line_error(capsys, argv, match):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("unfold: error:"), err
    assert match in err, err
    return err


def test_help_does_not_import_torch():
    code = ("import sys\nfrom unfold.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'matplotlib', 'numpy') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout
    assert "run" in out.stdout and "compare" in out.stdout


def test_bad_input_is_one_line_exit_2(tutorial_registry, capsys, tmp_path):
    one_line_error(capsys, ["run", "nope"], "unknown recipe 'nope'; known recipes: lista")
    one_line_error(capsys, ["run", "lista", "--set", "model.layers=3"], "valid keys:")
    one_line_error(capsys, ["run", "lista", "--set", "model.n_layers=x"], "expects int")
    blocker = tmp_path / "file"
    blocker.write_text("")
    one_line_error(capsys, ["run", "lista", "--quick", "--out", str(blocker / "run")], "not writable")
    one_line_error(capsys, ["eval", str(tmp_path / "none.pt")], "does not exist")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    one_line_error(capsys, ["eval", str(bad)], "corrupt or truncated")
    one_line_error(capsys, ["run", "lista", "--resume", "--out", str(tmp_path / "x")], "holds no run")


def test_list_and_run_and_eval(tutorial_registry, capsys, tmp_path):
    assert cli.main(["list"]) == 0
    assert "recipe lista [compare]" in capsys.readouterr().out
    argv = ["run", "lista", "--out", str(tmp_path / "r"), "--device", "cpu", "--no-progress",
            "--set", "data.n_train=40", "--set", "data.n_test=10", "--set", "data.n_valid=10",
            "--set", "train.epochs=1", "--set", "model.n_layers=2", "--set", "train.batch_size=20"]
    assert cli.main(argv) == 0
    assert (tmp_path / "r" / "report.md").is_file()
    capsys.readouterr()
    assert cli.main(["eval", str(tmp_path / "r/checkpoints/untied/best.pt"), "--iters", "2",
                     "--iters", "4", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "| LISTA | untied | 2 |" in out and "| LISTA | untied | 4 |" in out
    one_line_error(capsys, argv, "already exists")


def test_plugin_subcommands_are_dispatched(tutorial, monkeypatch, capsys):
    from unfold.plugin import Command

    seen = {}

    def add(p):
        p.add_argument("--times", type=int, default=1)

    def run(args):
        seen["times"] = args.times
        return 0

    tutorial.plugin.commands = [Command("hello", "say hello", add, run)]
    reg = Registry([EntryPoint("lista-tutorial", "lista_tutorial:plugin", "unfold.plugins")])
    monkeypatch.setattr(cli, "Registry", lambda: reg)
    assert cli.main(["lista-tutorial", "hello", "--times", "3"]) == 0
    assert seen == {"times": 3}
    with pytest.raises(SystemExit):
        cli.main(["lista-tutorial", "--help"])
    assert "hello" in capsys.readouterr().out


def test_eval_names_rows_as_the_run_and_takes_data_overrides_and_baselines(tutorial_registry,
                                                                            capsys, tmp_path):
    argv = ["run", "lista", "--out", str(tmp_path / "r"), "--device", "cpu", "--no-progress",
            "--tying", "untied"]
    for s in ["data.n_train=40", "data.n_test=10", "data.n_valid=10", "train.epochs=1",
              "model.n_layers=2", "train.batch_size=20"]:
        argv += ["--set", s]
    assert cli.main(argv) == 0
    capsys.readouterr()
    ck = str(tmp_path / "r/checkpoints/untied/best.pt")
    assert cli.main(["eval", ck, "--device", "cpu", "--baselines"]) == 0
    out = capsys.readouterr().out
    run = (tmp_path / "r" / "report.md").read_text()
    rows = ["| LISTA | untied | 2 |", "| LISTA | untied | 4 |", "| ISTA | - | 8 |"]
    for row in rows:
        assert row in out and row in run, row
    same = [ln for ln in out.splitlines() if ln.startswith(rows[0])]
    assert same[0].rsplit("|", 3)[0] in run  # the run's numbers, up to the timings
    assert all(line.split("|")[-3].strip() == "-" for line in out.splitlines()[2:])  # train s
    assert cli.main(["eval", ck, "--device", "cpu", "--set", "data.noise=0.5"]) == 0
    noisy = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(rows[0])]
    assert noisy[0].rsplit("|", 3)[0] != same[0].rsplit("|", 3)[0]
    one_line_error(capsys, ["eval", ck, "--set", "model.n_layers=3"], "data.* and eval.* keys only")
