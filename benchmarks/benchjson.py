"""What every benchmark's JSON carries: the machine, the load, and a timer."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages (None where the OS has none)."""
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine(device: torch.device, **versions: str) -> dict:
    """Platform, CPU count, torch threads and versions (and the GPU's name on CUDA)."""
    out = {"platform": platform.platform(), "processor": platform.processor(),
           "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
           "torch": torch.__version__, "python": platform.python_version(),
           "device": str(device), **versions}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
    return out


def timed(fn: Callable[[], object], per: int, device: torch.device) -> float:
    """Seconds per iteration of ``fn`` (which runs ``per`` iterations), synchronising CUDA."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - t0) / per


def emit(out: dict, path: Path | None) -> None:
    """Print the benchmark's JSON, and write it to ``path`` when one is given."""
    text = json.dumps(out, indent=2)
    if path:
        path.write_text(text + "\n")
    print(text)
