"""Multi-process training with PyTorch's own distributed engine (DistributedDataParallel).

Under ``torchrun`` (which sets RANK, WORLD_SIZE, MASTER_ADDR, ...) ``setup`` joins the process
group: gloo on CPU, NCCL on CUDA. Each rank trains on its shard of every global batch (a
``DistributedSampler`` over the same seeded permutation a single process would use, with
``batch_size / world`` items per rank), gradients are averaged by DDP, so a run on N processes
takes the same steps as on one, up to floating-point noise. Only rank 0 writes checkpoints,
metrics and reports; checkpoints hold the unwrapped model, so a run can resume on another N.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def requested() -> bool:
    """Whether this process was started by torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def setup(device: torch.device) -> torch.device:
    """Join the process group if torchrun asked for one; returns this rank's device."""
    if not requested() or active():
        return device
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


def broadcast(obj: Any) -> Any:
    """Rank 0's value of ``obj`` on every rank."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def mean(value: float) -> float:
    """The mean of a float over all ranks."""
    if not active():
        return value
    t = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return float(t.item()) / world()


def barrier() -> None:
    if active():
        dist.barrier()


def shutdown() -> None:
    if active():
        dist.destroy_process_group()
