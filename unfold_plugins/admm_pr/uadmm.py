r"""Unfolded ADMM with a learned proximity operator (UADMM; Vial et al. 2022), eqs. (11)–(19).

Each layer is one ADMM iteration (eqs. 5–9, ``admm.py``) whose prox (6) is replaced by

.. math::

    F_t(y, r) = \mathrm{APL}_t\big(γ^{(1)}_t y + \tilde γ^{(2)}_t r^{β_t - 1}\big),
    \qquad \tilde γ^{(2)} = \frac{γ^{(2)}}{β - 1}                           \quad (19)

with APL of eq. (18) (C pieces, slopes w = −w̃²). The layer runs in scaled form, one fused
autograd Function from A x and the previous synthesis input to the next (``learned_prox.py``);
ρ then drops out of the iterates (it only sets γ¹'s initial value). This is the paper's family
γ² r^{β−1}/(β−1) with the scale γ²/(β−1) learned as one parameter: it is finite at β = 1 (the
r-term becomes the constant γ̃², and γ² = γ̃²(β − 1) → 0 there), so β = 1 is never a division
by zero. The paper's expression itself has no finite limit at β = 1; the β-divergence reading
ψ'_β(r) = (r^{β−1} − 1)/(β − 1) → log r differs from it by the constant 1/(β − 1). We tried that
form with the constant as a learned offset κ: it is ill-conditioned (the offset must cancel
−γ²/(β−1) to within the speech magnitudes, ~1e-2): 12 Adam steps at lr 1e-2 moved κ and β by
3 % and lowered validation STOI from .973 to .960. γ¹, γ̃² > 0: F increases in y and r.

Adam moves every raw parameter by about ``lr`` per step whatever its scale, so each is
parametrised to move by relative steps: γ¹, γ̃², b_c by softplus (γ¹ ≈ ρ is 1e-3, b_c spans
[0.01, 1]), w̃ = w̃_0 · raw (raw starts at 1); β is O(1) already.

Initialisation (close to the quadratic prox (17), every parameter with a non-zero gradient):
γ¹ = ρ/(1 + ρ), γ̃² = 1/(1 + ρ), β = 2, biases b_c geometrically spaced inside the data range,
slopes w_c = −w̃_0² small but non-zero (w̃ = 0 would never move). Then for every input
z = γ¹y + γ̃²r ≥ 0 (y, r ≥ 0)

.. math:: -\sum_c |w_c| b_c \le F(y, r) - \mathrm{prox}_{quad}(y, r) \le 0,

a tolerance of ≈ 1.0e-5 for the defaults (w̃_0 = 0.003, b ∈ [0.01, 1]; speech magnitudes of
the tight STFT have medians ~1e-2, and ADMM's iterates amplify prox deviations: w̃_0 = 0.03
moved the 15-layer output by 15 %, 0.003 by < 1 %). Magnitudes r below ``R_FLOOR`` are floored
in r^{β−1} only. Shapes: y, r ``(batch, freq, frames)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from unfold.nn.apl import NegSquare
from unfold.params import Constraint, Param, as_constraint
from unfold.unroller import Theta, Unroller
from unfold_plugins.admm_pr.gla import EPS
from unfold_plugins.admm_pr.learned_prox import R_FLOOR, learned_admm_update
from unfold_plugins.admm_pr.problem import PRProblem, example_problem

Tensor = torch.Tensor


class Scaled:
    """Constraint c(s·raw): Adam's steps on the parameter are s times ``train.lr``."""

    def __init__(self, inner: Constraint | str | None, scale: float) -> None:
        self.inner, self.scale = as_constraint(inner), scale
        self.name = f"{self.inner.name}*{scale:g}"

    def forward(self, raw: Tensor) -> Tensor:
        return self.inner.forward(raw * self.scale)

    def inverse(self, value: Tensor) -> Tensor:
        return self.inner.inverse(value) / self.scale


@dataclass
class UADMMState:
    """ADMM's state in scaled form (``learned_prox.py``): λ/ρ = A x − e."""

    x: Tensor  # (batch, samples)
    Ax: Tensor  # (batch, freq, frames) complex, A x
    e: Tensor  # (batch, freq, frames) complex, the last input of the synthesis (8)


class UADMM(Unroller):
    """Unfolded ADMM, prox replaced by F_t (eq. 19); ρ fixed (the scaled iterates do not use it)."""

    def __init__(self, n_layers: int = 15, tying: str = "tied", backprop=None,
                 trainable: bool = True, rho: float = 1e-3, pieces: int = 3,
                 slope_init: float = 0.003, bias_range: tuple[float, float] = (0.01, 1.0),
                 beta_init: float = 2.0) -> None:
        if not rho > 0:
            raise ValueError(f"rho must be > 0, got {rho}")
        if not (isinstance(pieces, int) and pieces >= 1):
            raise ValueError(f"pieces (C) must be an integer >= 1, got {pieces!r}")
        if slope_init == 0:
            raise ValueError("slope_init must be non-zero: at w~ = 0 the APL slopes never move")
        lo, hi = bias_range
        if not 0 < lo <= hi:
            raise ValueError(f"bias_range must be 0 < lo <= hi, got {bias_range}")
        self.rho0, self.pieces, self.slope_init = rho, pieces, slope_init
        self.bias_range, self.beta_init = (lo, hi), beta_init
        super().__init__(n_layers, tying, backprop, trainable)

    def param_specs(self) -> dict[str, Param]:
        rho, C = self.rho0, self.pieces
        g2 = 1 / (1 + rho)
        lo, hi = self.bias_range
        if C == 1:
            biases = torch.tensor([math.sqrt(lo * hi)])
        else:
            biases = torch.logspace(math.log10(lo), math.log10(hi), C)
        return {
            "rho": Param(rho, "positive", trainable=False, doc="ρ, sets γ¹'s initial value"),
            "gamma1": Param(rho / (1 + rho), "positive", doc="γ¹, weight of y"),
            "gamma2": Param(g2, "positive", doc="γ̃² = γ²/(β−1), weight of r^{β−1}"),
            "beta": Param(self.beta_init, None, doc="β, power β − 1 of r"),
            "w": Param(-(self.slope_init**2), Scaled(NegSquare(), abs(self.slope_init)),
                       shape=(C,), doc="APL slopes w = −w̃²"),
            "b": Param(biases, "positive", shape=(C,), doc="APL biases > 0"),
        }

    def init(self, problem: PRProblem) -> UADMMState:
        """x_0 = A^+ z_0, λ_0 = 0 (e = A x_0)."""
        x = problem.synthesis(problem.init_spec)
        Ax = problem.analysis(x)
        return UADMMState(x, Ax, Ax)

    def step(self, s: UADMMState, theta: Theta, problem: PRProblem) -> UADMMState:
        e = learned_admm_update(s.Ax, s.e, problem.log_r(R_FLOOR), theta, EPS)  # (5)–(7), (9)
        x = problem.synthesis(e)  # (8)
        return UADMMState(x, problem.analysis(x), e)

    def readout(self, s: UADMMState, problem: PRProblem) -> Tensor:
        return s.x

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, C={self.pieces}, rho={self.rho0:g}"

    @classmethod
    def example(cls, tying: str = "tied") -> tuple[UADMM, PRProblem]:
        return cls(3, tying), example_problem()
