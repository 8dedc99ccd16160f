"""Config of the admm-pr recipes: data, model, evaluation and training sections."""

from __future__ import annotations

from dataclasses import dataclass, field

from unfold.data.corpora import check_corpus
from unfold.recipe import ConfigError, TrainConfig

LOSSES = ("neg-stoi", "mse", "sc")
BASELINES = ("GLA", "FGLA", "ADMM")


@dataclass
class DataConfig:
    root: str | None = None  # None: the synthetic corpus data.corpus; else a folder (TIMIT, ...)
    corpus: str = "espeak"  # espeak | piper (neural voice; extra unfold[piper], GPL-3.0)
    sample_rate: int = 22050
    seconds: float = 2.0
    n_train: int = 1000
    n_valid: int = 10
    n_test: int = 50
    seed: int = 0  # corpus seed (sentences; eSpeak voices, speaking rates)
    phase_seed: int = 0  # the initial phase of item i is drawn from (phase_seed, split, i)
    n_fft: int = 1024
    hop: int = 512
    window: str = "sine"

    def validate(self) -> None:
        check_corpus(self.corpus, folder=None if self.root is None else "data.root")
        if self.sample_rate < 1000:
            raise ConfigError(f"data.sample_rate must be >= 1000 Hz, got {self.sample_rate}")
        for k in ("n_train", "n_valid", "n_test"):
            if getattr(self, k) < 1:
                raise ConfigError(f"data.{k} must be >= 1, got {getattr(self, k)}")
        if self.window not in ("sine", "sqrt-hann"):
            raise ConfigError(f"data.window must be sine or sqrt-hann, got {self.window!r}")


@dataclass
class ModelConfig:
    layers: int = 15  # T
    pieces: int = 3  # C
    rho: float = 1e-3
    slope_init: float = 0.003  # w~_0; APL slopes start at -w~_0^2
    bias_lo: float = 0.01  # APL biases start geometrically spaced in [bias_lo, bias_hi]
    bias_hi: float = 1.0
    beta_init: float = 2.0
    loss: str = "neg-stoi"  # neg-stoi | mse | sc
    tied_lr_scale: float = 1.0  # Adam step of the tied model relative to train.lr

    def validate(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"model.loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.layers < 1 or self.pieces < 1:
            raise ConfigError("model.layers and model.pieces must be >= 1")
        if not self.rho > 0:
            raise ConfigError(f"model.rho must be > 0, got {self.rho}")
        if self.slope_init == 0:
            raise ConfigError("model.slope_init must be non-zero (w~ = 0 never moves)")
        if not 0 < self.bias_lo <= self.bias_hi:
            raise ConfigError("model.bias_lo and model.bias_hi must satisfy 0 < lo <= hi")
        if not self.tied_lr_scale > 0:
            raise ConfigError(f"model.tied_lr_scale must be > 0, got {self.tied_lr_scale}")


@dataclass
class EvalConfig:
    baselines: tuple[str, ...] = BASELINES
    baseline_iters: tuple[int, ...] = (15, 30, 75, 150, 1500)
    uadmm_iters: tuple[int, ...] = (15, 30, 75, 150)
    reference_iters: tuple[int, ...] = (15, 150, 1500)  # ADMM lines on the training curves
    fgla_momentum: float = 0.99

    def validate(self) -> None:
        bad = [b for b in self.baselines if b not in BASELINES]
        if bad:
            raise ConfigError(f"eval.baselines: unknown {bad}; allowed: {', '.join(BASELINES)}")
        for k in ("baseline_iters", "uadmm_iters", "reference_iters"):
            if any(n < 1 for n in getattr(self, k)):
                raise ConfigError(f"eval.{k} must hold integers >= 1")
        if not 0 <= self.fgla_momentum < 1:
            raise ConfigError(f"eval.fgla_momentum must be in [0, 1), got {self.fgla_momentum}")


def _paper_train() -> TrainConfig:
    return TrainConfig(epochs=200, batch_size=10, lr=1e-4, patience=5)


@dataclass
class ADMMPRConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: TrainConfig = field(default_factory=_paper_train)
