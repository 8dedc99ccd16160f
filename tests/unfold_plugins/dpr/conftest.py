import gzip
import struct

import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # the suite runs beside other jobs on a small machine


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("UNFOLD_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)


@pytest.fixture
def write_idx():
    """Writes an IDX3 image file (optionally gzipped, with a wrong magic or count)."""

    def write_idx(path, images, magic=2051, count=None):
        count = len(images) if count is None else count
        raw = struct.pack(">IIII", magic, count, 28, 28) + images.astype(np.uint8).tobytes()
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "wb") as fh:
            fh.write(raw)

    return write_idx
