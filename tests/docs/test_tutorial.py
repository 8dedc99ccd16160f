"""The tutorial's code runs as written, and works as a separately installed plugin."""

import json
import os
import subprocess
import sys

from conftest import TUTORIAL, tutorial_blocks


def test_tutorial_code_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "tutorial"}
    exec(compile("\n".join(tutorial_blocks()), str(TUTORIAL), "exec"), namespace)
    report = capsys.readouterr().out
    assert "| LISTA | untied | 8 |" in report and "| ISTA | - | 128 |" in report
    code_lines = [ln for ln in "\n".join(tutorial_blocks()[:2]).splitlines()
                  if ln.strip() and not ln.strip().startswith(("#", '"""'))]
    assert len(code_lines) < 100


def test_third_party_distribution_appears_and_runs(tmp_path, tutorial_site):
    env = {**os.environ, "PYTHONPATH": str(tutorial_site), "UNFOLD_CACHE": str(tmp_path / "cache")}

    def unfold(*args):
        return subprocess.run([sys.executable, "-m", "unfold.cli", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True)

    listed = unfold("list")
    assert listed.returncode == 0, listed.stderr
    assert "lista-tutorial  0.1  ok  (lista-tutorial)" in listed.stdout
    ran = unfold("run", "lista", "--quick", "--out", "r", "--device", "cpu", "--no-progress",
                 "--set", "data.n_train=40", "--set", "train.epochs=1", "--set", "model.n_layers=2")
    assert ran.returncode == 0, ran.stderr
    assert json.loads((tmp_path / "r" / "results.json").read_text())["plugin"] == "lista-tutorial"
