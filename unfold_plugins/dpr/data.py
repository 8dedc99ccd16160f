"""Image corpora for phase retrieval under a generative prior, all offline.

- ``digits``: scikit-learn's handwritten digits (1797 images, 8 × 8, n = 64), shipped inside the
  scikit-learn package; pixels scaled from 0 … 16 to [0, 1].
- ``mnist``: MNIST IDX files the user already has (``root`` holds ``train-images-idx3-ubyte`` and
  ``t10k-images-idx3-ubyte``, optionally ``.gz``); 28 × 28, n = 784, pixels in [0, 1].

``load_images(dataset, root)`` returns the splits as float32 tensors of shape (count, n):
"train" (the generator is fitted on it, and unrolled models too), "valid" and "test" (held out:
the generator never sees them). Digits are split by a fixed permutation (seed 0): 1437 / 160 / 200.
MNIST: the last 5000 training images are "valid", the t10k file is "test".
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from unfold.errors import ConfigError, InputDataError

DATASETS = ("digits", "mnist")
SHAPES = {"digits": (8, 8), "mnist": (28, 28)}
_DIGITS_SPLIT = (1437, 160, 200)
_MNIST_VALID = 5000


def load_images(dataset: str = "digits", root: str | None = None) -> dict[str, torch.Tensor]:
    """Splits {"train", "valid", "test"} of images flattened to (count, n), values in [0, 1]."""
    if dataset == "digits":
        return _digits()
    if dataset == "mnist":
        if root is None:
            raise ConfigError("data.dataset=mnist needs data.root: a folder with the MNIST IDX files "
                              "train-images-idx3-ubyte[.gz] and t10k-images-idx3-ubyte[.gz]")
        train = read_idx_images(_find(Path(root), "train-images-idx3-ubyte"))
        test = read_idx_images(_find(Path(root), "t10k-images-idx3-ubyte"))
        if len(train) <= _MNIST_VALID:
            raise InputDataError(f"MNIST train file has {len(train)} images; need more than {_MNIST_VALID}")
        return {"train": train[:-_MNIST_VALID], "valid": train[-_MNIST_VALID:], "test": test}
    raise ConfigError(f"unknown data.dataset {dataset!r}; allowed: {', '.join(DATASETS)}")


def _digits() -> dict[str, torch.Tensor]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # scikit-learn is where the digits ship
        raise ConfigError("data.dataset=digits needs scikit-learn (pip install scikit-learn), "
                          "or use data.dataset=mnist with data.root") from e
    x = torch.from_numpy(load_digits().data.astype(np.float32) / 16.0)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    a, b, _ = _DIGITS_SPLIT
    return {"train": x[perm[:a]], "valid": x[perm[a:a + b]], "test": x[perm[a + b:]]}


def _find(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx3", ".idx3")):
        if (root / name).is_file():
            return root / name
    raise InputDataError(f"MNIST file {stem}[.gz] not found in data.root={str(root)!r}")


def read_idx_images(path: str | Path) -> torch.Tensor:
    """Images of an IDX3 file (magic 2051, unsigned bytes) as float32 (count, rows·cols) in [0, 1]."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 16:
        raise InputDataError(f"{path}: too short for an IDX image file ({len(raw)} bytes)")
    magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 2051:
        raise InputDataError(f"{path}: not an IDX3 unsigned-byte image file (magic {magic}, expected 2051)")
    if len(raw) != 16 + count * rows * cols:
        raise InputDataError(f"{path}: header says {count}×{rows}×{cols} pixels but the file holds "
                             f"{len(raw) - 16} bytes")
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows * cols)
    return torch.from_numpy(pixels.astype(np.float32) / 255.0)
