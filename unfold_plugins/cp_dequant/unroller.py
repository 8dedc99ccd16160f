"""Unrolled Chambolle–Pock with a learned analysis operator K (Algorithm 1 as layers).

Each layer is one :func:`~unfold_plugins.cp_dequant.cp.cp_step` with its own K (untied) or one K
for all layers (tied, the paper). A K that is exactly the fixed DCT and carries no graph (the
classical method's K at inference, ``trainable=False`` or under ``no_grad``) is applied by FFT
(:class:`~unfold_plugins.cp_dequant.dct.FastDCT`); any other K, and every K being trained,
by the dense product. A whole forward pass with one such K (tied, k = n, ``no_grad``) runs in
the FFT's own layout (:class:`~unfold_plugins.cp_dequant.dct_layout.DCTLayoutCP`: no
reordering per layer). The step sizes follow K: before every forward pass

.. math::

    σ = c\\sqrt r/\\|K\\|_2, \\qquad τ = c/(\\sqrt r\\,\\|K\\|_2), \\qquad στ\\|K\\|_2^2 = c^2 < 1,

with r = σ/τ = 100 and c = 0.99 (the paper's σ ≈ 10/‖K‖, τ ≈ 0.1/‖K‖). ‖K‖₂ is the exact
largest singular value, computed without gradient (the paper's "fixed before each gradient
update") unless ``step_grad=True``. ``learn_steps=True`` (our extension, not the paper's) also
learns r > 0 and c ∈ (0, 1) per layer group; convergence στ‖K‖² < 1 still holds by construction.

Shapes: problem.x (batch, n) quantised frames, problem.h (batch, 1) half interval widths η/2;
state y, ȳ (batch, n), ψ (batch, k); K (k, n).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unfold.backprop import Backprop
from unfold.params import Interval, LogPositive, Param
from unfold.unroller import Theta, Tying, Unroller
from unfold_plugins.cp_dequant.cp import Operator, cp_step_op, dct_matrix, spectral_norm, step_sizes
from unfold_plugins.cp_dequant.dct import Dense, FastDCT, analysis_operator
from unfold_plugins.cp_dequant.dct_layout import DCTLayoutCP
from unfold_plugins.cp_dequant.frozen import parse_cp_backprop

Tensor = torch.Tensor


@dataclass
class CPProblem:
    """Quantised frames x (batch, n) and half quantisation steps h = η/2 (batch, 1)."""

    x: Tensor
    h: Tensor

    def to(self, device: torch.device | str) -> CPProblem:
        return CPProblem(self.x.to(device), self.h.to(device))


@dataclass
class CPState:
    """Primal iterate y, extrapolated ȳ (batch, n) and dual ψ (batch, k)."""

    y: Tensor
    ybar: Tensor
    psi: Tensor


class ChambollePock(Unroller):
    """Unrolled Chambolle–Pock (θ = 1) for min ‖Ky‖₁ s.t. ‖y − x‖∞ ≤ h, K learned."""

    def __init__(
        self,
        n_layers: int,
        n: int = 320,
        k: int | None = None,
        tying: str | Tying = "tied",
        backprop: str | Backprop | None = None,
        trainable: bool = True,
        K_init: Tensor | None = None,
        ratio: float = 100.0,
        scale: float = 0.99,
        learn_steps: bool = False,
        step_grad: bool = False,
    ) -> None:
        k = n if k is None else k
        if not isinstance(n, int) or not isinstance(k, int) or n < 1 or k < 1:
            raise ValueError(f"frame length n and rows k must be integers >= 1, got n={n}, k={k}")
        if not ratio > 0:
            raise ValueError(f"step ratio σ/τ must be > 0, got {ratio}")
        if not 0 < scale < 1:
            raise ValueError(f"step scale c must be in (0, 1) so that στ‖K‖² < 1, got {scale}")
        K0 = dct_matrix(n, k) if K_init is None else torch.as_tensor(K_init, dtype=torch.float32)
        if tuple(K0.shape) != (k, n):
            raise ValueError(f"K_init has shape {tuple(K0.shape)}, expected (k, n) = ({k}, {n})")
        self.n, self.k = n, k
        self.learn_steps, self.step_grad = learn_steps, step_grad
        self._specs = {
            "K": Param(K0, None, (k, n), doc="analysis operator, rows = atoms"),
            "ratio": Param(ratio, LogPositive(), (), trainable=learn_steps, doc="σ/τ"),
            "scale": Param(scale, Interval(0.0, 1.0), (), trainable=learn_steps, doc="√(στ)‖K‖"),
        }
        self._norm_cache: tuple[int, int, Tensor] | None = None
        self._fast_ops: dict[tuple, FastDCT | None] = {}  # see ``operator``
        self._layout: DCTLayoutCP | None = None  # see ``forward``
        bp = parse_cp_backprop(backprop) if backprop is not None else None
        super().__init__(n_layers, tying, bp, trainable)

    def param_specs(self) -> dict[str, Param]:
        return self._specs

    # -- step sizes from ‖K‖ ------------------------------------------------------------------
    def norms(self) -> Tensor:
        """‖K_g‖₂ of every parameter group g, shape (groups,); cached until K changes."""
        K = self.raw["K"]
        if self.step_grad:
            return spectral_norm(K)
        key = (K.data_ptr(), K._version)
        if self._norm_cache is None or self._norm_cache[:2] != key:
            with torch.no_grad():
                self._norm_cache = (*key, spectral_norm(K.detach()))
        return self._norm_cache[2]

    def layer_params(self, theta: Theta, group: int) -> Theta:
        """K, r, c of a layer plus the step sizes σ, τ derived from ‖K‖₂ of its group."""
        theta["sigma"], theta["tau"] = step_sizes(self.norms()[group], theta.ratio, theta.scale)
        return theta

    # -- the iteration ------------------------------------------------------------------------
    def init(self, problem: CPProblem) -> CPState:
        x = problem.x
        return CPState(x, x, x.new_zeros(x.shape[0], self.k))

    def operator(self, K: Tensor) -> Operator:
        """How ``step`` applies a layer's K ``(k, n)``: :class:`FastDCT` when K is exactly
        ``dct_matrix(n, k)`` and no graph is recorded through it (``no_grad``, or a K that does
        not require grad), else :class:`Dense`. The comparison with the DCT runs once per K
        value (memoised on K's storage and version counter)."""
        if K.requires_grad and torch.is_grad_enabled():
            return Dense(K)
        key = (K.data_ptr(), K._version, K.dtype, K.device, tuple(K.shape), tuple(K.stride()))
        if key not in self._fast_ops:
            if len(self._fast_ops) > 64:
                self._fast_ops.clear()
            op = analysis_operator(K.detach())
            self._fast_ops[key] = op if isinstance(op, FastDCT) else None
        fast = self._fast_ops[key]
        return Dense(K) if fast is None else fast

    def step(self, state: CPState, theta: Theta, problem: CPProblem) -> CPState:
        y, ybar, psi = cp_step_op(state.y, state.ybar, state.psi, problem.x,
                                  self.operator(theta.K), theta.sigma, theta.tau, problem.h)
        return CPState(y, ybar, psi)

    def readout(self, state: CPState, problem: CPProblem) -> Tensor:
        return state.y

    def forward(self, problem: CPProblem, n_iter: int | None = None) -> Tensor:
        """y after ``n_iter`` layers (default: the trained depth). Without a graph, with one K
        for every layer that is exactly the DCT ``(n, n)``: :class:`DCTLayoutCP` (equal to the
        layer-by-layer run to float rounding); otherwise the core's loop of ``step``."""
        n = self.n_layers if n_iter is None else n_iter
        if torch.is_grad_enabled() or self.k != self.n or self.tying.n_groups(self.n_layers) != 1 \
                or not isinstance(n, int) or n < 0:
            return super().forward(problem, n_iter)
        theta = self.theta(0)
        if not isinstance(self.operator(theta.K), FastDCT):
            return super().forward(problem, n_iter)
        if self._layout is None or self._layout.n != self.n:
            self._layout = DCTLayoutCP(self.n)
        return self.readout(CPState(*self._layout.run(problem.x, problem.h, n, theta.sigma,
                                                     theta.tau)), problem)

    @classmethod
    def example(cls, tying: str = "tied") -> tuple[ChambollePock, CPProblem]:
        """n = 8, k = 6, 4 layers, a random non-orthogonal K (distinct singular values)."""
        g = torch.Generator().manual_seed(0)
        K = dct_matrix(8, 6) + 0.1 * torch.randn(6, 8, generator=g)
        model = cls(4, n=8, k=6, tying=tying, K_init=K, step_grad=True)
        u = 2 * torch.rand(3, 8, generator=g) - 1
        x = -1 + (torch.floor((u + 1) / 0.25) + 0.5) * 0.25  # 3-bit midpoint quantisation
        return model, CPProblem(x, torch.full((3, 1), 0.125))
