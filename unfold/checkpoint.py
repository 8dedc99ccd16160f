"""Checkpoints: a state dict plus the resolved config, plugin name and versions.

Written atomically (a temporary file in the same folder, then ``os.replace``) so a kill mid-write
leaves the previous checkpoint intact. Read with ``torch.load(weights_only=True)``: a checkpoint
from someone else can hold tensors, numbers, strings, lists and dicts, but never code.
"""

from __future__ import annotations

import os
import pickle
import platform
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

import unfold

REQUIRED = ("format", "model", "config", "plugin", "recipe", "tying")
FORMAT = "unfold-checkpoint-1"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, truncated, unsafe or not an unfold checkpoint."""


def versions() -> dict[str, str]:
    return {"unfold": unfold.__version__, "torch": str(torch.__version__),
            "python": platform.python_version()}


def save_atomic(obj: dict[str, Any], path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and check an unfold checkpoint; every failure is a one-line CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        if found:
            raise CheckpointError(
                f"checkpoint {path} was refused: it holds a {found.group(1)} object, and loading "
                "objects other than tensors and plain data could run code") from None
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated (unpickling failed)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(e).__name__})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an unfold checkpoint (no '{FORMAT}' marker)")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(missing)}")
    return obj
