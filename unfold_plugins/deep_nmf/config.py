"""Config of the deep-nmf recipes (dataclass tree; ``--set section.key=value``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from unfold.recipe import ConfigError, TrainConfig
from unfold_plugins.deep_nmf.noise import KINDS, TEST_NOISES, TRAIN_NOISES


@dataclass
class DataConfig:
    speech_root: str | None = None  # folder of speech (TIMIT, LibriSpeech, any); None: eSpeak
    noise_root: str | None = None  # folder of noise clips (hash split); None: synthetic classes
    sample_rate: int = 16000
    seconds: float = 2.0
    n_train: int = 200  # utterances, one mixture each
    n_valid: int = 12
    n_test: int = 20  # utterances, each mixed at every SNR
    snrs: tuple[float, ...] = (-6.0, -3.0, 0.0, 3.0, 6.0, 9.0)
    train_noises: tuple[str, ...] = TRAIN_NOISES
    test_noises: tuple[str, ...] = TEST_NOISES
    seed: int = 0

    def validate(self) -> None:
        for key in ("train_noises", "test_noises"):
            bad = [k for k in getattr(self, key) if k not in KINDS]
            if bad:
                raise ConfigError(f"data.{key}: unknown noise {bad}; allowed: {', '.join(KINDS)}")
        if self.n_train < 1 or self.n_valid < 1 or self.n_test < 1:
            raise ConfigError("data.n_train, data.n_valid and data.n_test must be >= 1")
        if not self.snrs:
            raise ConfigError("data.snrs must list at least one SNR in dB")


@dataclass
class ModelConfig:
    rank: int = 100  # R^l per source (speech and noise): R = 2 rank
    context: int = 9  # T frames of left context for the SNMF (non-discriminative) layers
    layers: int = 25  # K
    mu: float = 5.0  # sparsity weight μ
    snmf_iter: int = 100
    snmf_frames: int = 20000  # frames per source used to learn the SNMF bases
    window_ms: float = 25.0
    hop_ms: float = 10.0

    def validate(self) -> None:
        if self.rank < 1 or self.context < 1 or self.layers < 1:
            raise ConfigError("model.rank, model.context and model.layers must be >= 1")
        if self.mu < 0:
            raise ConfigError(f"model.mu must be >= 0, got {self.mu}")


@dataclass
class DeepNMFConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=15, batch_size=10, lr=3e-2, patience=0))
    update: str = "adam"  # adam (W = exp(raw)) | mbp (multiplicative back-propagation, eq. 38)

    def validate(self) -> None:
        if self.update not in ("adam", "mbp"):
            raise ConfigError(f"update must be adam or mbp, got {self.update!r}")
