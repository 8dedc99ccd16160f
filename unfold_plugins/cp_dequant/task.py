"""The dequantization task: frames of speech, quantised per batch, MSE loss, MSE / SNR metrics.

Methods evaluated: the quantised input itself, Chambolle–Pock with the DCT K (classical, at the
trained depth and the ``eval.depths``), each trained K (tied: at every depth; untied: at its
trained depth) and, with ``eval.optimality``, problem (14) solved to a relative primal-dual gap
``eval.opt_tol`` with the DCT and with the tied learned K ("optimality inference").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
from unfold_plugins.cp_dequant.cp import cp_solve, solved
from unfold_plugins.cp_dequant.frames import speech_frames
from unfold_plugins.cp_dequant.unroller import ChambollePock, CPProblem


def load_signals(cfg: CPDConfig, split: str) -> torch.Tensor:
    """The corpus split as (utterances, samples) at ``data.sample_rate`` (shared loaders)."""
    d = cfg.data
    n = {"train": d.n_train, "valid": d.n_valid, "test": d.n_test}[split]
    ds = speech_dataset(d.root, split, n, d.sample_rate, seconds=d.seconds, seed=d.seed,
                        corpus=d.corpus)
    return torch.stack([torch.as_tensor(ds[i]) for i in range(len(ds))])


class Quantized(nn.Module):
    """The quantised input x as the estimate (no reconstruction)."""

    def forward(self, problem: CPProblem, n_iter: int | None = None) -> torch.Tensor:
        return problem.x


@dataclass
class Stops:
    """How the optimality solves of one method ended, over the test batches."""

    batches: int = 0
    converged: int = 0  # batches whose every item reached the gap tolerance
    iterations: list[int] = field(default_factory=list)

    def note(self, name: str, tol: float, max_iter: int) -> str:
        most = max(self.iterations, default=0)
        if self.converged == self.batches:
            return (f"{name}: every test batch reached the relative primal-dual gap <= {tol:g} "
                    f"(at most {most} iterations; cap {max_iter}).")
        return (f"{name}: {self.batches - self.converged} of {self.batches} test batches stopped at "
                f"the iteration cap {max_iter} before the relative gap <= {tol:g}: not solved to "
                "optimality.")


class Optimality(nn.Module):
    """Solve (14) with the layer-0 K of ``model`` until the relative gap < tol ("optimality"),
    recording in ``stops`` whether the gap or the iteration cap ended each batch."""

    def __init__(self, model: ChambollePock, max_iter: int, tol: float) -> None:
        super().__init__()
        self.model, self.max_iter, self.tol = model, max_iter, tol
        self.stops = Stops()

    def forward(self, problem: CPProblem, n_iter: int | None = None) -> torch.Tensor:
        K = self.model.theta(0).K.detach()
        y, psi, it = cp_solve(problem.x, K, problem.h, self.max_iter, self.tol)
        done = solved(y, psi, problem.x, K, problem.h.reshape(-1, 1), self.tol)
        self.stops.batches += 1
        self.stops.converged += int(bool(done.all()))
        self.stops.iterations.append(it)
        return y


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
        self._optimality = {}
        if e.optimality:
            self._optimality["CP-DCT-opt"] = Optimality(dct, e.opt_max_iter, e.opt_tol)
            if "tied" in trained:
                self._optimality["CP-learnedK-opt"] = Optimality(trained["tied"], e.opt_max_iter,
                                                                 e.opt_tol)
            for name, solver in self._optimality.items():
                out.append(Method(name, solver, e.opt_max_iter, "tied" if name != "CP-DCT-opt"
                                  else None, trained=name != "CP-DCT-opt"))
        return out

    def notes(self, ctx: RunContext[ChambollePock]) -> list[str]:
        """Which stopped each optimality solve: the gap tolerance or the iteration cap."""
        e = ctx.cfg.eval
        return [solver.stops.note(name, e.opt_tol, e.opt_max_iter)
                for name, solver in getattr(self, "_optimality", {}).items()
                if solver.stops.batches]

    def figures(self, ctx: RunContext[ChambollePock]) -> list[Path]:
        from unfold_plugins.cp_dequant import figures

        run_dir, cfg, trained = ctx.run_dir, ctx.cfg, ctx.trained
        paths = [figures.k_rows(run_dir / "K_rows.png", trained, cfg)]
        paths.append(figures.mse_vs_inference(run_dir / "mse_vs_inference.png", self, cfg,
                                              trained, ctx.test_set))
        return paths
