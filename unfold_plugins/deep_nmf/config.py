"""Config of the deep-nmf recipes (dataclass tree; ``--set section.key=value``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from unfold.data.corpora import check_corpus
from unfold.recipe import ConfigError, TrainConfig, check_choice, check_each, check_each_choice, check_range
from unfold_plugins.deep_nmf.noise import KINDS, TEST_NOISES, TRAIN_NOISES


@dataclass
class DataConfig:
    speech_root: str | None = None  # folder of speech (TIMIT, LibriSpeech, any); None: data.corpus
    corpus: str = "espeak"  # espeak | piper (neural voice; extra unfold[piper], GPL-3.0)
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
        check_corpus(self.corpus, folder=None if self.speech_root is None else "data.speech_root")
        for key in ("train_noises", "test_noises"):
            check_each_choice(f"data.{key}", getattr(self, key), KINDS)
        for key in ("n_train", "n_valid", "n_test"):
            check_range(f"data.{key}", getattr(self, key), 1)
        check_each("data.snrs", self.snrs, nonempty=True, note="SNRs in dB")


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
        for key in ("rank", "context", "layers"):
            check_range(f"model.{key}", getattr(self, key), 1)
        check_range("model.mu", self.mu, 0)


def parse_topology(spec: str) -> tuple[int, int]:
    """"3x256" -> (3 hidden layers, width 256); at least 2 hidden layers."""
    found = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", str(spec))
    if not found or int(found.group(1)) < 2 or int(found.group(2)) < 1:
        raise ValueError(f"DNN topology must be 'DxW' with D >= 2 hidden layers of width W >= 1 "
                         f"(e.g. 3x256, 2x1024), got {spec!r}")
    return int(found.group(1)), int(found.group(2))


@dataclass
class DNNConfig:
    """The DNN mask baseline of §5.2 (``deep-nmf-dnn``); empty topology: no DNN (NMF recipes)."""

    topology: str = ""  # "DxW": D >= 2 tanh hidden layers of width W (Table 1: 3x256, 2x1024, 2x1536)
    noise: float = 0.1  # σ of the Gaussian noise added to the inputs while training

    def validate(self) -> None:
        if self.topology:
            try:
                parse_topology(self.topology)
            except ValueError as e:
                raise ConfigError(f"dnn.topology: {e}") from None
        check_range("dnn.noise", self.noise, 0)


@dataclass
class DeepNMFConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    dnn: DNNConfig = field(default_factory=DNNConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=15, batch_size=10, lr=3e-2, patience=0))
    update: str = "adam"  # adam (W = exp(raw)) | mbp (multiplicative back-propagation, eq. 38)

    def validate(self) -> None:
        check_choice("update", self.update, ("adam", "mbp"))
