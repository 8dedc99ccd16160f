"""Shared fixtures: the tutorial's code as an importable module, an isolated cache."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"


def tutorial_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", TUTORIAL.read_text(), re.S)


def write_tutorial_package(folder: Path, name: str = "lista_tutorial") -> Path:
    """Sections 1–2 of the tutorial plus its Plugin object, as a package in ``folder``."""
    blocks = tutorial_blocks()
    plugin_line = next(line for line in blocks[2].splitlines() if "unfold.Plugin(" in line)
    start = blocks[2].index(plugin_line)
    end = blocks[2].index("\n\n", start)
    pkg = folder / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(blocks[0] + "\n" + blocks[1] + "\n" + blocks[2][start:end] + "\n")
    return pkg


@pytest.fixture
def tutorial(tmp_path, monkeypatch):
    """The tutorial's unroller, task and recipe, imported from its code blocks."""
    write_tutorial_package(tmp_path / "src")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    sys.modules.pop("lista_tutorial", None)
    import lista_tutorial

    yield lista_tutorial
    sys.modules.pop("lista_tutorial", None)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("UNFOLD_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)


def pytest_configure(config):
    torch.set_num_threads(min(2, torch.get_num_threads()))


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


@pytest.fixture(scope="session")
def tutorial_site(tmp_path_factory):
    """A folder where pip installed the tutorial as a separate distribution (put it on PYTHONPATH)."""
    root = tmp_path_factory.mktemp("tutorial-dist")
    write_tutorial_package(root / "src")
    wheel = build_wheel(root / "src", root)
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", str(site), str(wheel)], check=True, capture_output=True)
    return site
