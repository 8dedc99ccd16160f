"""The tutorial's code runs as written, and works as a separately installed plugin."""

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile

from conftest import TUTORIAL, tutorial_blocks, write_tutorial_package


def test_tutorial_code_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "tutorial"}
    exec(compile("\n".join(tutorial_blocks()), str(TUTORIAL), "exec"), namespace)
    report = capsys.readouterr().out
    assert "| LISTA | untied | 8 |" in report and "| ISTA | - | 128 |" in report
    code_lines = [ln for ln in "\n".join(tutorial_blocks()[:2]).splitlines()
                  if ln.strip() and not ln.strip().startswith(("#", '"""'))]
    assert len(code_lines) < 100


def build_wheel(src, out):
    """A minimal, valid wheel of the tutorial package, built without network or setuptools."""
    files = {f"lista_tutorial/{p.name}": p.read_bytes() for p in (src / "lista_tutorial").iterdir()
             if p.is_file()}
    info = "lista_tutorial-0.1.dist-info"
    files[f"{info}/METADATA"] = b"Metadata-Version: 2.1\nName: lista-tutorial\nVersion: 0.1\n"
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n")
    files[f"{info}/entry_points.txt"] = b"[unfold.plugins]\nlista-tutorial = lista_tutorial:plugin\n"
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    files[f"{info}/RECORD"] = ("\n".join(record + [f"{info}/RECORD,,"]) + "\n").encode()
    wheel = out / "lista_tutorial-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return wheel


def test_third_party_distribution_appears_and_runs(tmp_path):
    write_tutorial_package(tmp_path / "src")
    wheel = build_wheel(tmp_path / "src", tmp_path)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", str(site), str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site), "UNFOLD_CACHE": str(tmp_path / "cache")}

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
