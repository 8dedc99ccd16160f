import pytest
import torch


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("UNFOLD_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
