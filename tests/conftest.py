"""Shared fixtures: the tutorial's code as an importable module, an isolated cache."""

from __future__ import annotations

import re
import sys
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
