"""The Trainer: fits one unroller of a task with the recipe's TrainConfig.

Adam (or AdamW / SGD), an optional linear learning-rate decay ``lr → lr_end`` over all steps,
gradient-norm clipping, early stopping on the validation loss, seeded shuffling (epoch e shuffles
with seed + e, so a resumed run sees the same order), progress bars with loss and ETA, and a
checkpoint per epoch (``last.pt``; ``best.pt`` whenever the validation loss improves), written
atomically. ``resume=True`` continues from ``last.pt``. Ctrl-C leaves ``last.pt`` of the last
finished epoch usable. At the end the best-validation weights are loaded into the model.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from unfold import checkpoint, distributed
from unfold.compiled import CompileSpec
from unfold.errors import ConfigError
from unfold.recipe import TrainConfig
from unfold.task import Task
from unfold.unroller import Unroller


class TrainingDiverged(ConfigError, FloatingPointError):
    """The training loss became NaN or inf: a config to change (lr, clip), said in one line."""


def resolve_device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA device is available; use cpu or auto")
    if spec not in ("cpu", "cuda"):
        raise ConfigError(f"unknown device {spec!r}; allowed: auto, cpu, cuda")
    return torch.device(spec)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class Epoch:
    epoch: int
    train_loss: float
    val_loss: float
    lr: float
    seconds: float


@dataclass
class History:
    epochs: list[Epoch] = field(default_factory=list)
    best_epoch: int = -1
    best_val: float = math.inf
    seconds: float = 0.0
    stopped_early: bool = False


def make_optimizer(cfg: TrainConfig, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)


class Trainer:
    """Trains ``model`` on ``task``; ``ckpt_dir`` holds last.pt / best.pt when given."""

    def __init__(
        self,
        task: Task,
        cfg: Any,
        model: Unroller,
        device: torch.device,
        ckpt_dir: Path | None = None,
        meta: dict[str, Any] | None = None,
        seed: int = 0,
        progress: bool = True,
        on_epoch: Callable[[str, Epoch], None] | None = None,
    ) -> None:
        self.task, self.cfg, self.model, self.device = task, cfg, model.to(device), device
        self.tcfg: TrainConfig = cfg.train
        self.ckpt_dir, self.meta, self.seed = ckpt_dir, dict(meta or {}), seed
        missing = [k for k in ("plugin", "recipe", "tying", "config") if k not in self.meta]
        if ckpt_dir is not None and missing:
            raise TypeError(f"Trainer with ckpt_dir needs meta with {missing}: a checkpoint "
                            "must say what rebuilds its model")
        self.progress, self.on_epoch = progress, on_epoch
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ConfigError(f"{type(model).__name__} has no trainable parameters (trainable=False?)")
        if CompileSpec.parse(self.tcfg.compile) is not None:  # kept for the run's evaluation too
            model.compile_step(self.tcfg.compile)
        self.forward: torch.nn.Module = self.model
        self.per_rank_batch = self.tcfg.batch_size
        if distributed.active():
            w = distributed.world()
            if self.tcfg.batch_size % w:
                raise ConfigError(f"train.batch_size ({self.tcfg.batch_size}) must be divisible by "
                                 f"the number of processes ({w})")
            self.per_rank_batch = self.tcfg.batch_size // w
            ids = [device.index] if device.type == "cuda" else None
            self.forward = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.opt = task.optimizer(cfg, model) or make_optimizer(self.tcfg, self.params)
        self.history = History()
        self.sched: torch.optim.lr_scheduler.LambdaLR | None = None
        self._best: dict[str, torch.Tensor] | None = None  # best weights when no ckpt_dir

    # -- checkpoints ----------------------------------------------------------------------------
    def _state(self, epoch: int, done: bool) -> dict[str, Any]:
        meta = dict(self.meta)
        ident = {k: meta.pop(k) for k in ("plugin", "recipe", "tying", "config")}
        return checkpoint.build(
            self.model, **ident, **meta, optimizer=self.opt.state_dict(),
            scheduler=self.sched.state_dict() if self.sched else {},
            epoch=epoch, done=done, history=[asdict(e) for e in self.history.epochs],
            best_epoch=self.history.best_epoch, best_val=self.history.best_val,
            train_seconds=self.history.seconds)

    def _resume(self) -> int:
        assert self.ckpt_dir is not None
        if distributed.is_main():
            checkpoint.remove_partial_writes(self.ckpt_dir)
        path = self.ckpt_dir / "last.pt"
        if not path.exists():
            return 0
        ck = checkpoint.read(path, map_location=self.device)
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["optimizer"])
        if self.sched and ck["scheduler"]:
            self.sched.load_state_dict(ck["scheduler"])
        self.history = History([Epoch(**e) for e in ck["history"]], ck["best_epoch"],
                               ck["best_val"], ck["train_seconds"])
        return int(ck["epoch"]) + 1 if not ck["done"] else -1

    # -- loop -----------------------------------------------------------------------------------
    def _loader(self, data: Dataset, shuffle: bool, epoch: int = 0) -> DataLoader:
        """Training batches: epoch e shuffles with seed + e; under DDP each rank takes its
        interleaved share of that same permutation, so global batches equal one process's."""
        if not shuffle:
            return DataLoader(data, batch_size=self.tcfg.batch_size, collate_fn=self.task.collate)
        sampler: DistributedSampler = DistributedSampler(
            data, distributed.world(), distributed.rank(), shuffle=True, seed=self.seed)
        sampler.set_epoch(epoch)
        return DataLoader(data, batch_size=self.per_rank_batch, sampler=sampler,
                          collate_fn=self.task.collate)

    def _batches(self, loader: DataLoader) -> int:
        n = len(loader)
        return min(n, self.tcfg.max_batches) if self.tcfg.max_batches else n

    def evaluate_loss(self, data: Dataset) -> float:
        self.model.eval()
        total, count = 0.0, 0
        loader = self._loader(data, shuffle=False)
        with torch.no_grad():
            for i, batch in enumerate(loader):
                if i >= self._batches(loader):
                    break
                problem, target = self.task.problem(batch, self.cfg, self.device)
                loss = self.task.loss(self.model(problem), target, problem, self.cfg)
                total, count = total + float(loss), count + 1
        return total / max(count, 1)

    def fit(self, train: Dataset, valid: Dataset, resume: bool = False, tag: str = "") -> History:
        steps = max(1, self.tcfg.epochs * self._batches(self._loader(train, True)))
        if self.tcfg.lr_end is not None:
            ratio = self.tcfg.lr_end / self.tcfg.lr
            self.sched = torch.optim.lr_scheduler.LambdaLR(
                self.opt, lambda s: 1.0 + (ratio - 1.0) * min(s, steps) / steps)
        start = self._resume() if resume and self.ckpt_dir else 0
        if start == -1:  # this model finished training in the run being resumed
            self._load_best()
            return self.history
        seed_everything(self.seed + start)
        bad = sum(1 for e in self.history.epochs if e.epoch > self.history.best_epoch)
        from tqdm.auto import tqdm

        for epoch in range(start, self.tcfg.epochs):
            t0 = time.perf_counter()
            self.model.train()
            loader = self._loader(train, True, epoch)
            n = self._batches(loader)
            bar = tqdm(total=n, desc=f"{tag} epoch {epoch + 1}/{self.tcfg.epochs}", leave=False,
                       disable=not (self.progress and distributed.is_main()), file=sys.stderr,
                       dynamic_ncols=True)
            total = 0.0
            for i, batch in enumerate(loader):
                if i >= n:
                    break
                problem, target = self.task.problem(batch, self.cfg, self.device)
                loss = self.task.loss(self.forward(problem), target, problem, self.cfg)
                if not torch.isfinite(loss):
                    raise TrainingDiverged(f"training loss became {float(loss)} at epoch {epoch + 1}; "
                                             "lower train.lr or set train.clip")
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                if self.tcfg.clip > 0:
                    torch.nn.utils.clip_grad_norm_(self.params, self.tcfg.clip)
                self.opt.step()
                if self.sched:
                    self.sched.step()
                total += float(loss.detach())
                bar.update(1)
                bar.set_postfix(loss=f"{total / (i + 1):.4g}")
            bar.close()
            total = distributed.mean(total)
            val = self.evaluate_loss(valid)  # every rank scores the whole validation set
            row = Epoch(epoch, total / max(n, 1), val, self.opt.param_groups[0]["lr"],
                        time.perf_counter() - t0)
            self.history.epochs.append(row)
            self.history.seconds += row.seconds
            improved = val < self.history.best_val
            if improved:
                self.history.best_val, self.history.best_epoch, bad = val, epoch, 0
            else:
                bad += 1
            stop = self.tcfg.patience > 0 and bad >= self.tcfg.patience
            last = stop or epoch == self.tcfg.epochs - 1
            if improved and not self.ckpt_dir:
                self._best = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            if self.ckpt_dir and distributed.is_main():
                if improved:
                    checkpoint.save_atomic(self._state(epoch, False), self.ckpt_dir / "best.pt")
                checkpoint.save_atomic(self._state(epoch, last), self.ckpt_dir / "last.pt")
            distributed.barrier()
            if self.on_epoch:
                self.on_epoch(tag, row)
            if stop:
                self.history.stopped_early = True
                break
        self._load_best()
        return self.history

    def _load_best(self) -> None:
        if self._best is not None:
            self.model.load_state_dict(self._best)
        elif self.ckpt_dir and (self.ckpt_dir / "best.pt").exists():
            ck = checkpoint.read(self.ckpt_dir / "best.pt", map_location=self.device)
            self.model.load_state_dict(ck["model"])
