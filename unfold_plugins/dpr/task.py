"""The dpr task: phaseless Gaussian measurements of digits, DPR and unrolled DPR, baselines.

Signals (``data.signals``): "images" are real digits of the held-out splits (valid / test; the
generator was fitted on "train" only), so the error includes how far a digit lies from the range
of G; "range" are G(z0) with z0 ~ N(0, I), the setting of the theory, where exact recovery is
possible. Training problems use "train" images (or fresh G(z0)).

Every item is generated from its own seed (split, index): the same A, b and initial codes z_1
whatever the batch size or order.

SPARTA's sparsity s (unless ``eval.sparsity`` fixes it) is chosen at each m on the valid split
(``DPRTask.sparsity``); the method is named "SPARTA s=<s>", and the run's report notes the
choice and its valid errors (``sparta_sparsity.json``; in a sweep over data.m, one per point).
CoPRAM's s is chosen the same way (``copram_sparsity.json``); thresholded Wirtinger flow (TWF) runs
with the step μ = 0.23 of the public benchmark code, untuned.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from unfold.errors import ConfigError
from unfold.evaluate import evaluate
from unfold.results import RunContext
from unfold.task import Method, Task

from . import metrics
from .amplitude_flow import AmplitudeFlow
from .config import DPRConfig
from .copram import CoPRAM
from .data import SHAPES, load_images
from .dpr import DPR
from .dpr_adam import DPRAdam
from .generator import Generator, cached_generator
from .objective import amplitude_loss
from .oracle import Candidates, OracleRestarts, pick_oracle
from .problem import PRProblem, collate, gaussian_matrix, measure
from .sparta import SPARTA, SparsityChoice
from .twf import TWF

#: the sparse baselines whose s is chosen on the valid split at each m
SPARSE_METHODS = ("SPARTA", "CoPRAM")

_SPLIT_SEED = {"train": 1, "valid": 2, "test": 3}
_DEFAULTS = {"digits": (10, (100, 100), 150), "mnist": (20, (500, 500), 20)}


class PRDataset(Dataset):
    """Phase retrieval problems over ``signals`` (count, n); item i uses m = ms[i % len(ms)]."""

    def __init__(self, signals: torch.Tensor, ms: tuple[int, ...], noise: float, restarts: int,
                 latent: int, seed: int) -> None:
        self.signals, self.ms, self.noise = signals, tuple(ms), noise
        self.restarts, self.latent, self.seed = restarts, latent, seed

    def __len__(self) -> int:
        return len(self.signals)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        y0 = self.signals[i]
        m = self.ms[i % len(self.ms)]
        A = gaussian_matrix(m, y0.shape[0], g)
        return {"y0": y0, "A": A, "b": measure(y0, A, self.noise, g), "m": torch.tensor(m),
                "z_init": torch.randn(self.restarts, self.latent, generator=g)}


def generator_settings(cfg: DPRConfig) -> tuple[int, tuple[int, ...], int]:
    k, hidden, epochs = _DEFAULTS[cfg.data.dataset]
    g = cfg.generator
    return (g.latent or k, tuple(g.hidden) or hidden, g.epochs if g.epochs is not None else epochs)


class DPRTask(Task[DPR | DPRAdam]):
    primary_metric = "ssim"

    def __init__(self) -> None:
        self._images: dict[str, torch.Tensor] | None = None
        self._G: Generator | None = None
        self._key: tuple[Any, ...] | None = None
        self._sparsity: dict[tuple[Any, ...], SparsityChoice] = {}

    # -- data -----------------------------------------------------------------------------------
    def _load(self, cfg: DPRConfig) -> tuple[dict[str, torch.Tensor], Generator]:
        key = (cfg.data.dataset, cfg.data.root, *generator_settings(cfg), cfg.generator.activation,
               cfg.generator.lr, cfg.generator.batch_size, cfg.generator.seed)
        if self._key != key or self._images is None or self._G is None:
            images = load_images(cfg.data.dataset, cfg.data.root)
            k, hidden, epochs = generator_settings(cfg)
            if k > images["train"].shape[1]:
                raise ConfigError(f"generator.latent k={k} exceeds n={images['train'].shape[1]}")
            self._G = cached_generator(images["train"], cfg.data.dataset, k, hidden,
                                       cfg.generator.activation, epochs, cfg.generator.lr,
                                       cfg.generator.batch_size, cfg.generator.seed)
            self._images, self._key = images, key
        return self._images, self._G

    def generator(self, cfg: DPRConfig) -> Generator:
        return self._load(cfg)[1]

    def split(self, cfg: DPRConfig, name: str, ms: tuple[int, ...] | None = None,
              count: int | None = None) -> PRDataset:
        """Problems of split ``name`` ("train", "valid", "test"), optionally at other m / size."""
        images, G = self._load(cfg)
        d = cfg.data
        count = count or {"train": d.n_train, "valid": d.n_valid, "test": d.n_test}[name]
        seed = d.seed * 10 + _SPLIT_SEED[name]
        g = torch.Generator().manual_seed(seed)
        if d.signals == "range":
            with torch.no_grad():
                signals = G(torch.randn(count, G.latent, generator=g))
        elif name == "train":
            pool = images["train"]
            signals = pool[torch.randint(len(pool), (count,), generator=g)]
        else:
            pool = images[name]
            if count > len(pool):
                raise ConfigError(f"data.n_{name}={count} exceeds the {len(pool)} held-out "
                                  f"{name} images of {d.dataset}")
            signals = pool[:count]
        if ms is None:
            ms = (d.m,) if name == "test" or not d.m_train else d.m_train
        return PRDataset(signals, ms, d.noise, d.restarts, G.latent, seed)

    def datasets(self, cfg: DPRConfig) -> dict[str, Dataset]:
        return {name: self.split(cfg, name) for name in ("train", "valid", "test")}

    def collate(self, items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        return collate(items)

    def problem(self, batch: Mapping[str, torch.Tensor], cfg: DPRConfig, device: torch.device
                ) -> tuple[PRProblem, torch.Tensor]:
        p = PRProblem(batch["A"], batch["b"], batch["m"], batch["z_init"], self.generator(cfg))
        return p.to(device), batch["y0"].to(device)

    def sparse_method(self, cfg: DPRConfig, method: str, s: int) -> Method:
        """SPARTA or CoPRAM with sparsity s, run for its ``eval.*_iterations``."""
        e = cfg.eval
        if method == "SPARTA":
            return Method(f"SPARTA s={s}", SPARTA(sparsity=s), e.sparta_iterations)
        if method == "CoPRAM":
            return Method(f"CoPRAM s={s}", CoPRAM(sparsity=s), e.copram_iterations)
        raise ValueError(f"no sparse method {method!r}; known: SPARTA, CoPRAM")

    def sparsity(self, cfg: DPRConfig, m: int, method: str = "SPARTA") -> SparsityChoice:
        """The s of SPARTA or CoPRAM at m: ``eval.sparsity`` if set, else the
        ``eval.sparsity_grid`` value with the lowest mean MSE over the valid problems at m
        (data.n_valid of them). Cached."""
        e = cfg.eval
        if e.sparsity is not None:
            return SparsityChoice(m, e.sparsity, method=method)
        key = (method, repr(cfg.data), repr(cfg.generator), m, tuple(e.sparsity_grid),
               e.sparta_iterations, e.copram_iterations)
        if key not in self._sparsity:
            valid = self.split(cfg, "valid", ms=(m,))
            grid = [self.sparse_method(cfg, method, s) for s in e.sparsity_grid]
            rows, _ = evaluate(self, cfg, grid, valid, torch.device("cpu"), cfg.train.batch_size)
            errors = {s: r.metrics["mse"].mean for s, r in zip(e.sparsity_grid, rows)}
            self._sparsity[key] = SparsityChoice.best(m, errors, len(valid), method)
        return self._sparsity[key]

    # -- models ---------------------------------------------------------------------------------
    def build_model(self, cfg: DPRConfig, tying: str) -> DPR | DPRAdam:
        k = generator_settings(cfg)[0] if cfg.model.per_coordinate else 0
        if cfg.model.algorithm == "adam":
            return DPRAdam(cfg.model.layers, tying, trainable=True, lr=cfg.model.step,
                           per_coordinate=k, learn_beta1=cfg.model.learn_beta1)
        return DPR(cfg.model.layers, tying, step=cfg.model.step, negation=cfg.model.negation,
                   per_coordinate=k)

    def loss(self, output: torch.Tensor, target: torch.Tensor, problem: PRProblem,
             cfg: DPRConfig) -> torch.Tensor:
        if cfg.model.loss == "measurement":
            return amplitude_loss(problem.A, problem.b, output.unsqueeze(1)).mean()
        return (output - target).pow(2).mean()

    def metrics(self, output: torch.Tensor | Candidates, target: torch.Tensor, problem: PRProblem,
                cfg: DPRConfig) -> dict[str, list[float]]:
        if isinstance(output, Candidates):  # the oracle rows only: chosen by the truth
            output = pick_oracle(output, target)
        return {"mse": metrics.mse(output, target).tolist(),
                "ssim": metrics.ssim(output, target, SHAPES[cfg.data.dataset]).tolist()}

    def methods(self, cfg: DPRConfig, trained: Mapping[str, DPR | DPRAdam]) -> list[Method]:
        e, L = cfg.eval, cfg.model.layers
        adam = DPRAdam(lr=e.dpr_lr)
        gd = DPR(1, trainable=False, step=e.gd_step, negation=cfg.model.negation)
        out = [Method("DPR-Adam", adam, n) for n in sorted({L, 2 * L, 4 * L, e.dpr_iterations})]
        if cfg.data.restarts > 1:  # the authors' code's choice, labelled: never the method's result
            out += [OracleRestarts("DPR-Adam (oracle restart)", adam, e.dpr_iterations)]
        out += [Method("DPR-GD", gd, n) for n in sorted({L, e.dpr_iterations})]
        out += [Method("Unrolled DPR", m, n, tying, trained=True)  # past L: the stack repeats
                for tying, m in trained.items() for n in (L, 2 * L, 4 * L)]
        out += [Method("AmplitudeFlow", AmplitudeFlow(mu=e.af_mu), e.af_iterations)]
        out += [self.sparse_method(cfg, name, self.sparsity(cfg, cfg.data.m, name).s)
                for name in SPARSE_METHODS]
        out += [Method("TWF", TWF(), e.twf_iterations)]
        return out

    def notes(self, ctx: RunContext[DPR | DPRAdam]) -> list[str]:
        """SPARTA's and CoPRAM's s at the run's m and the valid errors each was chosen by (and,
        with Fig. 3 at other m, that it is chosen the same way at each m)."""
        cfg = ctx.cfg
        notes = [self.sparsity(cfg, cfg.data.m, name).note() for name in SPARSE_METHODS]
        if cfg.eval.sparsity is None and cfg.eval.grid_m:
            notes.append("Fig. 3: SPARTA's s chosen the same way at each m (its column titles).")
        return notes

    def figures(self, ctx: RunContext[DPR | DPRAdam]) -> list[Path]:
        from .figures import dpr_figures

        for name in SPARSE_METHODS:
            choice = self.sparsity(ctx.cfg, ctx.cfg.data.m, name)
            (ctx.run_dir / f"{name.lower()}_sparsity.json").write_text(
                json.dumps(asdict(choice), indent=2) + "\n")
        return dpr_figures(self, ctx.run_dir, ctx.cfg, ctx.trained)
