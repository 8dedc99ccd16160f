"""The admm-pr task: speech phase retrieval from STFT magnitudes (d = 1).

Problem of a batch: r = |A s| of the clean speech s with the paper's STFT (sine window, 1024,
hop 512, tight frame) and the initial phase of item i drawn from (``data.phase_seed``, split, i),
so every method starts from the same x_0 = A^H(r e^{iφ_0}) and λ_0 = 0. Training loss: negative
STOI (torch-stoi; ``model.loss`` = mse | sc as options). Metrics per item: STOI (pystoi),
spectral convergence ‖|Ax| − r‖/‖r‖ and SNR (dB; blind to the sign ambiguity of PR, as GLA).
"""

from __future__ import annotations

from collections.abc import Mapping, Sized
from pathlib import Path
from typing import cast

import torch
from torch.utils.data import Dataset

from unfold.errors import ConfigError
from unfold.results import RunContext
from unfold.signal.stft import STFT
from unfold.task import Method, Task
from unfold_plugins.admm_pr.admm import ADMM
from unfold_plugins.admm_pr.config import ADMMPRConfig
from unfold_plugins.admm_pr.gla import FGLA, GLA
from unfold_plugins.admm_pr.problem import PRProblem, make_problem
from unfold_plugins.admm_pr.uadmm import UADMM

Tensor = torch.Tensor
SPLIT_CODE = {"train": 0, "valid": 1, "test": 2}


class Indexed(Dataset):
    """Items (phase index, signal): the index encodes split and position, for φ_0."""

    def __init__(self, data: Dataset, split: str) -> None:
        self.data, self.offset = data, SPLIT_CODE[split] * 10_000_000

    def __len__(self) -> int:
        return len(cast(Sized, self.data))

    def __getitem__(self, i: int) -> tuple[int, Tensor]:
        return self.offset + i, self.data[i]


def operator(cfg: ADMMPRConfig, device: torch.device | str = "cpu") -> STFT:
    return STFT(cfg.data.n_fft, cfg.data.hop, cfg.data.window).to(device)


def build_uadmm(cfg: ADMMPRConfig, tying: str, n_layers: int | None = None) -> UADMM:
    m = cfg.model
    return UADMM(n_layers or m.layers, tying, cfg.train.backprop, True, m.rho, m.pieces, m.slope_init,
                 (m.bias_lo, m.bias_hi), m.beta_init)


class PhaseRetrievalTask(Task[UADMM]):
    primary_metric = "stoi"

    def __init__(self) -> None:
        self._stoi_loss: dict[int, torch.nn.Module] = {}
        self._ops: dict[str, STFT] = {}

    def datasets(self, cfg: ADMMPRConfig) -> dict[str, Dataset]:
        from unfold.data import speech_dataset

        d = cfg.data
        sizes = {"train": d.n_train, "valid": d.n_valid, "test": d.n_test}
        return {split: Indexed(speech_dataset(d.root, split, n, d.sample_rate, d.seconds, d.seed,
                                              corpus=d.corpus),
                               split)
                for split, n in sizes.items()}

    def collate(self, items: list[tuple[int, Tensor]]) -> tuple[list[int], Tensor]:
        return [i for i, _ in items], torch.stack([x for _, x in items])

    def problem(self, batch: tuple[list[int], Tensor], cfg: ADMMPRConfig,
                device: torch.device) -> tuple[PRProblem, Tensor]:
        idx, s = batch
        s = s.to(device)
        key = str(device)
        if key not in self._ops:
            self._ops[key] = operator(cfg, device)
        return make_problem(s, self._ops[key], idx, cfg.data.phase_seed), s

    def build_model(self, cfg: ADMMPRConfig, tying: str) -> UADMM:
        return build_uadmm(cfg, tying)

    def optimizer(self, cfg: ADMMPRConfig, model: UADMM) -> torch.optim.Optimizer | None:
        """Adam at ``train.lr × model.tied_lr_scale`` for a tied model; the engine's otherwise."""
        scale = cfg.model.tied_lr_scale
        if model.tying.kind != "tied" or scale == 1.0:
            return None
        if cfg.train.optimizer != "adam":
            raise ConfigError("model.tied_lr_scale != 1 needs train.optimizer=adam")
        params = [p for p in model.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=cfg.train.lr * scale,
                                weight_decay=cfg.train.weight_decay)

    def loss(self, output: Tensor, target: Tensor, problem: PRProblem,
             cfg: ADMMPRConfig) -> Tensor:
        name = cfg.model.loss
        if name == "mse":
            return ((output - target) ** 2).mean()
        if name == "sc":
            from unfold.metrics import spectral_convergence

            return spectral_convergence(problem.r, problem.analysis(output).abs()).mean()
        rate = cfg.data.sample_rate
        if rate not in self._stoi_loss:
            from unfold.metrics import neg_stoi_loss

            self._stoi_loss[rate] = neg_stoi_loss(rate)
        return self._stoi_loss[rate].to(output.device)(output, target)

    def metrics(self, output: Tensor, target: Tensor, problem: PRProblem,
                cfg: ADMMPRConfig) -> dict[str, list[float]]:
        from unfold.metrics import snr_db, spectral_convergence, stoi

        sc = spectral_convergence(problem.r, problem.analysis(output).abs())
        return {
            "stoi": [float(v) for v in stoi(target, output, cfg.data.sample_rate)],
            "sc": sc.tolist(),
            "snr": snr_db(target, output).tolist(),
        }

    def baselines(self, cfg: ADMMPRConfig) -> dict[str, torch.nn.Module]:
        """The frozen classical algorithms by name (one model each, run to any depth)."""
        models = {"GLA": GLA(1), "FGLA": FGLA(1, momentum=cfg.eval.fgla_momentum),
                  "ADMM": ADMM(1, rho=cfg.model.rho)}
        return {k: models[k] for k in cfg.eval.baselines}

    def methods(self, cfg: ADMMPRConfig, trained: Mapping[str, UADMM]) -> list[Method]:
        out = [Method(name, model, k) for name, model in self.baselines(cfg).items()
               for k in cfg.eval.baseline_iters]
        out += [Method("UADMM", model, k, tying, trained=True)
                for tying, model in trained.items() for k in cfg.eval.uadmm_iters]
        return out

    def figures(self, ctx: RunContext[UADMM]) -> list[Path]:
        from unfold_plugins.admm_pr.figures import make_figures

        return make_figures(self, ctx)
