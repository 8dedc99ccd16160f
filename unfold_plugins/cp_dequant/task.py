"""The dequantization task: frames of speech, quantised per batch, MSE loss, MSE / SNR metrics.

Methods evaluated: the quantised input itself, Chambolle–Pock with the DCT K (classical, at the
trained depth and the ``eval.depths``), each trained K (tied: at every depth; untied: at its
trained depth) and, with ``eval.optimality``, problem (14) solved to a relative primal-dual gap
``eval.opt_tol`` with the DCT and with the tied learned K ("optimality inference").
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from unfold.data import speech_dataset
from unfold.metrics import mse, snr_db
from unfold.results import RunContext
from unfold.signal.quantize import quantize
from unfold.task import Method, Task
from unfold_plugins.cp_dequant.config import CPDConfig
from unfold_plugins.cp_dequant.cp import cp_solve
from unfold_plugins.cp_dequant.frames import speech_frames
from unfold_plugins.cp_dequant.unroller import ChambollePock, CPProblem


def load_signals(cfg: CPDConfig, split: str) -> torch.Tensor:
    """The corpus split as (utterances, samples) at ``data.sample_rate`` (shared loaders)."""
    d = cfg.data
    n = {"train": d.n_train, "valid": d.n_valid, "test": d.n_test}[split]
    ds = speech_dataset(d.root, split, n, d.sample_rate, seconds=d.seconds, seed=d.seed)
    return torch.stack([torch.as_tensor(ds[i]) for i in range(len(ds))])


class Quantized(nn.Module):
    """The quantised input x as the estimate (no reconstruction)."""

    def forward(self, problem: CPProblem, n_iter: int | None = None) -> torch.Tensor:
        return problem.x


class Optimality(nn.Module):
    """Solve (14) with the layer-0 K of ``model`` until the relative gap < tol ("optimality")."""

    def __init__(self, model: ChambollePock, max_iter: int, tol: float) -> None:
        super().__init__()
        self.model, self.max_iter, self.tol = model, max_iter, tol

    def forward(self, problem: CPProblem, n_iter: int | None = None) -> torch.Tensor:
        K = self.model.theta(0).K.detach()
        return cp_solve(problem.x, K, problem.h, self.max_iter, self.tol)[0]


def quantize_batch(frames: torch.Tensor, bits: int) -> CPProblem:
    xq, eta = quantize(frames, bits)
    return CPProblem(xq, torch.full((frames.shape[0], 1), eta / 2, dtype=frames.dtype))


class DequantTask(Task[ChambollePock]):
    primary_metric = "snr_db"

    def datasets(self, cfg: CPDConfig) -> dict[str, Dataset]:
        d = cfg.data
        caps = {"train": d.max_train_frames, "valid": d.max_valid_frames, "test": d.max_test_frames}
        return {split: speech_frames(load_signals(cfg, split), d.frame, d.min_rms_db, cap, d.seed)
                for split, cap in caps.items()}

    def problem(self, batch: torch.Tensor, cfg: CPDConfig,
                device: torch.device) -> tuple[CPProblem, torch.Tensor]:
        y = batch.to(device)
        return quantize_batch(y, cfg.data.bits), y

    def build_model(self, cfg: CPDConfig, tying: str, layers: int | None = None,
                    backprop: str | None = None, trainable: bool = True) -> ChambollePock:
        m = cfg.model
        return ChambollePock(
            layers or m.layers, n=cfg.data.frame, k=m.k or cfg.data.frame, tying=tying,
            backprop=backprop or cfg.train.backprop, trainable=trainable, ratio=m.step_ratio,
            scale=m.step_scale, learn_steps=m.learn_steps and trainable)

    def loss(self, output: torch.Tensor, target: torch.Tensor, problem: CPProblem,
             cfg: CPDConfig) -> torch.Tensor:
        return ((output - target) ** 2).mean()

    def metrics(self, output: torch.Tensor, target: torch.Tensor, problem: CPProblem,
                cfg: CPDConfig) -> dict[str, list[float]]:
        return {"mse": mse(target, output).tolist(), "snr_db": snr_db(target, output).tolist()}

    def methods(self, cfg: CPDConfig, trained: Mapping[str, ChambollePock]) -> list[Method]:
        L, e = cfg.model.layers, cfg.eval
        depths = sorted({L, *e.depths})
        dct = self.build_model(cfg, "tied", layers=L, trainable=False)
        out = [Method("quantized", Quantized(), 0)]
        out += [Method("CP-DCT", dct, n) for n in depths]
        for tying, model in trained.items():
            for n in depths if tying == "tied" else [L]:
                out.append(Method("CP-learnedK", model, n, tying, trained=True))
        if e.optimality:
            out.append(Method("CP-DCT-opt", Optimality(dct, e.opt_max_iter, e.opt_tol),
                              e.opt_max_iter))
            if "tied" in trained:
                out.append(Method("CP-learnedK-opt",
                                  Optimality(trained["tied"], e.opt_max_iter, e.opt_tol),
                                  e.opt_max_iter, "tied", trained=True))
        return out

    def figures(self, ctx: RunContext[ChambollePock]) -> list[Path]:
        from unfold_plugins.cp_dequant import figures

        run_dir, cfg, trained = ctx.run_dir, ctx.cfg, ctx.trained
        paths = [figures.k_rows(run_dir / "K_rows.png", trained, cfg)]
        paths.append(figures.mse_vs_inference(run_dir / "mse_vs_inference.png", self, cfg,
                                              trained, ctx.test_set))
        return paths
