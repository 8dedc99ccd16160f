"""Config of the admm-pr recipes: data, model, evaluation and training sections."""

from __future__ import annotations

from dataclasses import dataclass, field

from unfold.data.corpora import check_corpus
from unfold.recipe import ConfigError, TrainConfig, check_choice, check_each, check_each_choice, check_range

LOSSES = ("neg-stoi", "mse", "sc")
BASELINES = ("GLA", "FGLA", "ADMM")
WINDOWS = ("sine", "sqrt-hann")


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
        check_range("data.sample_rate", self.sample_rate, 1000, note="Hz")
        for k in ("n_train", "n_valid", "n_test"):
            check_range(f"data.{k}", getattr(self, k), 1)
        check_choice("data.window", self.window, WINDOWS)


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
        check_choice("model.loss", self.loss, LOSSES)
        check_range("model.layers", self.layers, 1)
        check_range("model.pieces", self.pieces, 1)
        check_range("model.rho", self.rho, 0, lo_open=True)
        if self.slope_init == 0:
            raise ConfigError("model.slope_init must be non-zero (w~ = 0 never moves)")
        check_range("model.bias_lo", self.bias_lo, 0, lo_open=True)
        check_range("model.bias_hi", self.bias_hi, self.bias_lo, note="at least model.bias_lo")
        check_range("model.tied_lr_scale", self.tied_lr_scale, 0, lo_open=True)


@dataclass
class EvalConfig:
    baselines: tuple[str, ...] = BASELINES
    baseline_iters: tuple[int, ...] = (15, 30, 75, 150, 1500)
    uadmm_iters: tuple[int, ...] = (15, 30, 75, 150)
    reference_iters: tuple[int, ...] = (15, 150, 1500)  # ADMM lines on the training curves
    fgla_momentum: float = 0.99

    def validate(self) -> None:
        check_each_choice("eval.baselines", self.baselines, BASELINES)
        for k in ("baseline_iters", "uadmm_iters", "reference_iters"):
            check_each(f"eval.{k}", getattr(self, k), 1)
        check_range("eval.fgla_momentum", self.fgla_momentum, 0, 1, hi_open=True)


def _paper_train() -> TrainConfig:
    return TrainConfig(epochs=200, batch_size=10, lr=1e-4, patience=5)


@dataclass
class ADMMPRConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: TrainConfig = field(default_factory=_paper_train)
