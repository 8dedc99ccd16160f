"""Configuration of the dpr recipes (a dataclass tree; every leaf settable with ``--set``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from unfold.recipe import ConfigError, TrainConfig, check_choice, check_each, check_range

from .data import DATASETS, SHAPES
from .generator import ACTIVATIONS

SIGNALS = ("images", "range")


@dataclass
class DataConfig:
    dataset: str = "digits"  # digits (scikit-learn, 8x8) | mnist (IDX files in root, 28x28)
    root: str | None = None  # folder with the MNIST IDX files
    signals: str = "images"  # images: held-out real images | range: G(z0), z0 ~ N(0, I)
    m: int = 128  # measurements per test signal
    m_train: tuple[int, ...] = ()  # m of the training problems (cycled); empty: (m,)
    noise: float = 0.0  # std of additive noise on b
    restarts: int = 5  # random initial latent codes per problem
    n_train: int = 512
    n_valid: int = 64
    n_test: int = 50
    seed: int = 0

    def validate(self) -> None:
        check_choice("data.dataset", self.dataset, DATASETS)
        if self.dataset == "mnist" and not self.root:
            raise ConfigError("data.dataset=mnist needs data.root: the folder holding "
                              "train-images-idx3-ubyte[.gz] and t10k-images-idx3-ubyte[.gz]")
        check_choice("data.signals", self.signals, SIGNALS)
        check_range("data.m", self.m, 1, note="measurements")
        check_each("data.m_train", self.m_train, 1, note="measurements")
        check_range("data.noise", self.noise, 0)
        check_range("data.restarts", self.restarts, 1)
        for key in ("n_train", "n_valid", "n_test"):
            check_range(f"data.{key}", getattr(self, key), 1)

    @property
    def n(self) -> int:
        h, w = SHAPES[self.dataset]
        return h * w


@dataclass
class GeneratorConfig:
    """The VAE decoder; None / empty picks the dataset's default (digits: 10-100-100-64,
    MNIST: the paper's 20-500-500-784)."""

    latent: int | None = None
    hidden: tuple[int, ...] = ()
    activation: str = "relu"
    epochs: int | None = None  # digits 150, MNIST 20
    lr: float = 1e-3
    batch_size: int = 64
    seed: int = 0

    def validate(self) -> None:
        check_choice("generator.activation", self.activation, ACTIVATIONS)
        check_range("generator.latent", self.latent, 1, allow_none=True)


@dataclass
class ModelConfig:
    """Unrolled DPR: ``layers`` steps with learned per-layer sizes, initialised to ``step``.

    ``adam`` unrolls the paper's practical DPR (Adam from ±z_1, learned learning rate η_t per
    layer); ``gd`` unrolls Algorithm 1 (z − s_t ∇f(z), negation check, learned s_t)."""

    layers: int = 30
    algorithm: str = "adam"  # adam | gd
    step: float = 0.2  # initial η_t (adam) or s_t (gd)
    negation: bool = True  # Algorithm 1's check f(-z) < f(z) in every layer
    per_coordinate: bool = True  # one step per latent coordinate (diagonal), not one scalar
    learn_beta1: bool = True  # adam: also learn the momentum β1 ∈ (0, 1) per layer
    loss: str = "mse"  # mse: to the true image | measurement: f of the output (no ground truth)

    def validate(self) -> None:
        check_range("model.layers", self.layers, 1)
        check_choice("model.algorithm", self.algorithm, ("gd", "adam"))
        check_choice("model.loss", self.loss, ("mse", "measurement"))
        check_range("model.step", self.step, 0, lo_open=True)


@dataclass
class EvalConfig:
    """Classical methods, and the m of Fig. 3's reconstructions."""

    dpr_iterations: int = 300  # DPR-Adam (the paper's practical DPR) and DPR-GD
    dpr_lr: float = 0.2  # DPR-Adam's η (best of 0.05 / 0.1 / 0.2 / 0.4 on the valid split)
    gd_step: float = 1.0  # DPR-GD's α (best of 0.3 / 1 / 3 / 10 on the valid split)
    af_iterations: int = 500
    af_mu: float = 0.9
    sparta_iterations: int = 300
    copram_iterations: int = 50  # CoPRAM (Jagatap & Hegde), each a sign update + CoSaMP
    twf_iterations: int = 500  # thresholded Wirtinger flow (Cai, Li & Ma), μ = 0.23
    sparsity: int | None = None  # SPARTA's and CoPRAM's s; None: chosen on the valid split at each m
    sparsity_grid: tuple[int, ...] = (4, 8, 12, 16, 24, 32)  # candidates for that choice
    grid_m: tuple[int, ...] = ()  # Fig. 3: reconstructions at these m (empty: data.m)

    def validate(self) -> None:
        for key in ("dpr_lr", "gd_step", "af_mu"):
            check_range(f"eval.{key}", getattr(self, key), 0, lo_open=True)
        for key in ("dpr_iterations", "af_iterations", "sparta_iterations", "copram_iterations",
                    "twf_iterations"):
            check_range(f"eval.{key}", getattr(self, key), 1)
        check_range("eval.sparsity", self.sparsity, 1, allow_none=True, note="none: chosen on valid")
        check_each("eval.sparsity_grid", self.sparsity_grid, 1, nonempty=True)
        check_each("eval.grid_m", self.grid_m, 1, note="measurements")


@dataclass
class DPRConfig:
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=10, batch_size=32, lr=3e-2, patience=0))

    def validate(self) -> None:
        k = self.generator.latent
        if k is not None and k > self.data.n:
            raise ConfigError(f"generator.latent k={k} exceeds the signal dimension "
                              f"n={self.data.n} of data.dataset={self.data.dataset}; need k <= n")
        s = max(self.eval.sparsity or 0, *self.eval.sparsity_grid)
        if s > self.data.n:
            raise ConfigError(f"eval.sparsity / eval.sparsity_grid: s={s} exceeds n={self.data.n}")


def at_m(cfg: DPRConfig, m: int) -> DPRConfig:
    """A shallow copy of ``cfg`` with data.m = m (test and valid problems at m)."""
    return replace(cfg, data=replace(cfg.data, m=m))


#: Fig. 2's m, from n/4 to 6n on digits: the dpr-sweep recipe's declared axis data.m
SWEEP_M = (16, 32, 64, 128, 192, 256, 384)


def sweep_config() -> DPRConfig:
    """dpr-sweep: one point per m of ``SWEEP_M`` (test problems at that m, 20 digits each), the
    unrolled DPR trained over all of them (training and valid problems do not depend on data.m,
    so every point trains the same model); Fig. 3 is each point's reconstructions at its m."""
    cfg = DPRConfig()
    cfg.data.m_train = SWEEP_M
    cfg.data.n_test = 20
    return cfg
