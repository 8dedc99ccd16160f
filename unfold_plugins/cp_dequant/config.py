"""Config of the cp-dequant recipes (a dataclass tree; every leaf settable with ``--set``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from unfold.data.corpora import check_corpus
from unfold.recipe import TrainConfig, check_each, check_range


@dataclass
class DataConfig:
    root: str | None = None  # folder of audio files; None = the synthetic corpus data.corpus
    corpus: str = "espeak"  # espeak | piper (neural voice; extra unfold[piper], GPL-3.0)
    n_train: int = 200  # utterances per split
    n_valid: int = 20
    n_test: int = 20
    sample_rate: int = 16000
    seconds: float = 2.0
    frame: int = 320  # n
    bits: int = 4  # quantiser bits on (−1, 1): η = 2 / 2^bits
    min_rms_db: float | None = -30.0  # non-silent frame rule (frames.py); none: keep every frame
    max_train_frames: int = 0  # 0 = all
    max_valid_frames: int = 1024
    max_test_frames: int = 1024
    seed: int = 0

    def validate(self) -> None:
        check_corpus(self.corpus, folder=None if self.root is None else "data.root")
        check_range("data.bits", self.bits, 1, 16)
        check_range("data.frame", self.frame, 2, note="samples")
        for k in ("n_train", "n_valid", "n_test"):
            check_range(f"data.{k}", getattr(self, k), 1)
        check_range("data.sample_rate", self.sample_rate, 1)
        check_range("data.seconds", self.seconds, 0, lo_open=True)


@dataclass
class ModelConfig:
    layers: int = 30  # L_train
    k: int = 0  # rows of K; 0 = frame length (square, the paper)
    learn_steps: bool = False  # our extension: also learn σ/τ and √(στ)‖K‖ ∈ (0, 1)
    step_ratio: float = 100.0  # σ/τ: σ = 10·c/‖K‖, τ = 0.1·c/‖K‖
    step_scale: float = 0.99  # c

    def validate(self) -> None:
        check_range("model.layers", self.layers, 1)
        check_range("model.k", self.k, 0, note="0 = frame length")
        check_range("model.step_scale", self.step_scale, 0, 1, lo_open=True, hi_open=True)
        check_range("model.step_ratio", self.step_ratio, 0, lo_open=True)


@dataclass
class EvalConfig:
    depths: tuple[int, ...] = (30, 100, 1000)  # extra inference depths (DCT and tied models)
    optimality: bool = True  # also solve (14) to optimality with each tied K
    opt_max_iter: int = 100_000
    opt_tol: float = 1e-4  # relative primal-dual gap

    def validate(self) -> None:
        check_each("eval.depths", self.depths, 1)
        check_range("eval.opt_max_iter", self.opt_max_iter, 1)
        check_range("eval.opt_tol", self.opt_tol, 0, lo_open=True)


@dataclass
class CPDConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=20, batch_size=32, lr=1e-5, lr_end=1e-8))
