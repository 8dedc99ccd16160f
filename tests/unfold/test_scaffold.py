"""unfold new-plugin: the skeleton installs with pip, passes its own tests and runs its recipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import unfold
from unfold import cli
from unfold.scaffold import package_name, write_plugin

ROOT = Path(unfold.__file__).resolve().parents[1]


def test_new_plugin_installs_passes_its_tests_and_runs(tmp_path, capsys):
    pkg = tmp_path / "pkg"
    assert cli.main(["new-plugin", "tv-denoise", "--out", str(pkg)]) == 0
    assert "plugin package written to" in capsys.readouterr().out
    assert 'tv-denoise = "tv_denoise:plugin"' in (pkg / "pyproject.toml").read_text()
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--no-build-isolation", "--target", str(site), str(pkg)],
                   check=True, capture_output=True, cwd=tmp_path)
    assert (site / "tv_denoise" / "unroller.py").is_file()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
           "UNFOLD_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=600)

    tests = run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(pkg / "tests"))
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "8 passed" in tests.stdout, tests.stdout[-1000:]
    listed = run("-m", "unfold.cli", "list")
    assert "tv-denoise  0.1.0  ok  (unfold-tv-denoise)" in listed.stdout, listed.stdout
    ran = run("-m", "unfold.cli", "run", "tv-denoise", "--quick", "--out", "r", "--device", "cpu",
              "--no-progress")
    assert ran.returncode == 0, ran.stderr[-3000:]
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["plugin"] == "tv-denoise" and results["primary_metric"] == "psnr_db"
    names = {(r["name"], r["iterations"]) for r in results["methods"]}
    assert {("GD-TV", 10), ("GD-TV", 40), ("GD-TV", 160), ("unrolled GD-TV", 10)} <= names


def test_new_plugin_refuses_bad_names_and_used_folders(tmp_path, capsys):
    assert package_name("tv-denoise") == "tv_denoise"
    with pytest.raises(ValueError, match="is not allowed"):
        package_name("-tv")
    for bad in ["TV", "1tv", "tv--x", "tv_x", "tv-"]:
        assert cli.main(["new-plugin", bad, "--out", str(tmp_path / "x")]) == 2
        assert "is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "mine.txt").write_text("keep")
    assert cli.main(["new-plugin", "tv", "--out", str(tmp_path / "used")]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "used").iterdir()] == ["mine.txt"]


def test_default_folder_is_unfold_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = write_plugin("tv")
    assert out == Path("unfold-tv") and (tmp_path / "unfold-tv" / "src" / "tv" / "task.py").is_file()
    with pytest.raises(ValueError, match="already exists"):
        write_plugin("tv")


def test_generated_config_checks_name_one_key(tmp_path, monkeypatch):
    import importlib
    import sys

    from unfold.errors import ConfigError

    out = write_plugin("tv-keys", tmp_path / "pkg")
    monkeypatch.syspath_prepend(str(out / "src"))
    try:
        task = importlib.import_module("tv_keys.task")
        task.Data().validate()
        task.Model().validate()
        for cfg, message in [
            (task.Data(pieces=65), "data.pieces must be in [1, 64] (at most data.n), got 65"),
            (task.Data(n=1, pieces=1), "data.n must be >= 2, got 1"),
            (task.Data(n_valid=0), "data.n_valid must be >= 1, got 0"),
            (task.Model(layers=10, eps=0.0), "model.eps must be > 0, got 0.0"),
        ]:
            with pytest.raises(ConfigError) as e:
                cfg.validate()
            assert str(e.value) == message
    finally:
        for name in [m for m in sys.modules if m == "tv_keys" or m.startswith("tv_keys.")]:
            del sys.modules[name]
