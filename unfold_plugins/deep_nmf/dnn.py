"""The DNN mask estimator of the deep NMF paper's baseline (Hershey, Le Roux & Weninger, §5.2).

K − 1 hidden tanh layers and a logistic output layer estimate a magnitude mask y ∈ (0, 1)^F for
the current frame from the log magnitudes of T context frames (the same stacked features the
NMF layers see, :mod:`.features`); the speech estimate is the masked mixture, and training
minimises the paper's objective (the deep-nmf task's loss)

.. math::

    h_0 = \\tanh(W_{in} \\log(x + ε) + b_{in}), \\qquad
    h_{t+1} = \\tanh(W_t h_t + b_t), \\quad t = 0 … L − 1, \\qquad
    y = σ(W_{out} h_L + b_{out}), \\qquad \\hat s = y ∘ m,

    \\mathcal L = \\sum_{f, n} (y_{f n} m_{f n} - s_{f n})^2

with x (TF,) the stacked context of frame n, m its mixture magnitudes (F,), s the clean speech
magnitudes. As an unroller the L = K − 2 hidden-to-hidden layers are the layers (their W_t, b_t
the declared parameters, untied as in the paper; tied shares one hidden layer), the input and
output layers are submodules. During training the input gets Gaussian noise of σ = ``noise``
(0.1 in the paper). Topologies are written "Dx W" (D hidden layers of width W, D ≥ 2), e.g.
Table 1's 3x256 (644 K parameters at F = 200, T = 9), 2x1024 (3.1 M), 2x1536 (5.5 M); the
paper's 1x1024 has no hidden-to-hidden layer and is not expressible here.

Differences from the paper: Adam instead of SGD with momentum and layer-wise pre-training;
early stopping on the validation loss is the engine's.

Shapes: problem.x (batch, T F, N), problem.m (batch, F, N); state (batch, N, W); output
(batch, F, N).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from unfold.params import Param
from unfold.unroller import Theta, Unroller

from .config import parse_topology
from .deep_nmf import NMFProblem

EPS = 1e-5


class MaskDNN(Unroller):
    """The paper's DNN mask estimator; see the module docstring."""

    def __init__(self, topology: str = "3x256", n_freq: int = 200, context: int = 9,
                 tying: str = "untied", noise: float = 0.1, backprop=None, seed: int = 0) -> None:
        depth, width = parse_topology(topology)
        if not (math.isfinite(noise) and noise >= 0):
            raise ValueError(f"DNN input noise must be a finite number >= 0, got {noise!r}")
        self.topology, self.width, self.noise = f"{depth}x{width}", width, float(noise)
        super().__init__(depth - 1, tying, backprop, trainable=True)
        g = torch.Generator().manual_seed(seed)
        self.inp = nn.Linear(context * n_freq, width)
        self.out = nn.Linear(width, n_freq)
        with torch.no_grad():  # Glorot-uniform weights, zero biases, drawn from ``seed``
            for w in (self.inp.weight, self.out.weight, *self.raw["W"]):
                bound = math.sqrt(6 / (w.shape[0] + w.shape[1]))
                w.copy_(torch.empty(w.shape).uniform_(-bound, bound, generator=g))
            self.inp.bias.zero_()
            self.out.bias.zero_()

    def param_specs(self) -> dict[str, Param]:
        return {"W": Param(0.0, shape=(self.width, self.width), doc="hidden layer weights W_t"),
                "b": Param(0.0, shape=(self.width,), doc="hidden layer biases b_t")}

    def init(self, problem: NMFProblem) -> torch.Tensor:
        x = torch.log(problem.x.clamp_min(0) + EPS).transpose(1, 2)  # (batch, N, T F)
        if self.training and self.noise > 0:
            x = x + self.noise * torch.randn_like(x)
        return torch.tanh(self.inp(x))

    def step(self, state: torch.Tensor, theta: Theta, problem: NMFProblem) -> torch.Tensor:
        return torch.tanh(state @ theta.W.transpose(-1, -2) + theta.b)

    def readout(self, state: torch.Tensor, problem: NMFProblem) -> torch.Tensor:
        return torch.sigmoid(self.out(state)).transpose(1, 2) * problem.m

    @classmethod
    def example(cls, tying: str = "untied") -> tuple[MaskDNN, NMFProblem]:
        g = torch.Generator().manual_seed(0)
        m = torch.rand(2, 6, 5, generator=g, dtype=torch.float64) + 0.1
        model = cls("3x4", n_freq=6, context=2, tying=tying, noise=0.0).double()
        return model, NMFProblem.from_magnitudes(m, 2)
