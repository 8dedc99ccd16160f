import pytest
import torch

torch.set_num_threads(1)  # the suite runs beside other jobs on a small machine


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("UNFOLD_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
