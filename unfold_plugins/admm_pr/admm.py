"""ADMM for the left Bregman phase-retrieval problem (Vial et al. 2021), eqs. (5)–(9).

.. math::

    h_{t+1} = (A x_t)^d + λ_t / ρ                                                  \\quad (5)

    u_{t+1} = \\mathrm{prox}_{ρ^{-1} D(\\cdot | r^d)}(|h_{t+1}|)                    \\quad (6)

    θ_{t+1} = ∠ h_{t+1}                                                             \\quad (7)

    x_{t+1} = A^+ \\big(u_{t+1} ⊙ e^{iθ_{t+1}} - λ_t / ρ\\big)^{1/d}              \\quad (8)

    λ_{t+1} = λ_t + ρ \\big((A x_{t+1})^d - u_{t+1} ⊙ e^{iθ_{t+1}}\\big)           \\quad (9)

for d = 1 (magnitudes) or d = 2 (power), with z^d := |z|^d e^{i∠z} (the power acts on the
magnitude and keeps the phase, so z ↦ z^d is invertible; the principal complex square would flip
half the coefficients' signs and move even the true signal). Eq. (9) is
written with (A x)^d, the constraint of eq. (4); the paper prints A x, the same for d = 1. The
state carries A x_t so that one iteration costs one analysis and one synthesis. x_0 = A^+ z_0,
λ_0 = 0. The prox is any ``prox(y, R, ρ)``: the fixed ones of ``prox.py`` here, the learned APL
sublayer in ``uadmm.py``. Shapes: x ``(batch, samples)``; Ax, λ ``(batch, freq, frames)`` complex.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from unfold.params import Param
from unfold.signal.modulus import modulus, with_phase_of
from unfold.unroller import Theta, Unroller
from unfold_plugins.admm_pr.gla import EPS
from unfold_plugins.admm_pr.problem import PRProblem, example_problem
from unfold_plugins.admm_pr.prox import Prox, get_prox

Tensor = torch.Tensor


@dataclass
class ADMMState:
    x: Tensor  # (batch, samples)
    Ax: Tensor  # (batch, freq, frames) complex, A x
    lam: Tensor  # (batch, freq, frames) complex, λ


def cpow(z: Tensor, p: float) -> Tensor:
    """z^p := |z|^p e^{i∠z} (identity for p = 1)."""
    if p == 1:
        return z
    return z * modulus(z) ** (p - 1)  # modulus is floored at tiny: finite, and 0 at z = 0


def admm_step(s: ADMMState, r: Tensor, rho: Tensor | float,
              prox: Callable[[Tensor, Tensor], Tensor], d: int,
              analysis: Callable[[Tensor], Tensor],
              synthesis: Callable[[Tensor], Tensor]) -> ADMMState:
    """One ADMM iteration (5)–(9); ``prox(y, R)`` already holds ρ (and any learned parameter)."""
    R = r if d == 1 else r * r
    inv_rho = 1 / torch.as_tensor(rho, dtype=s.lam.real.dtype)  # in the state's precision
    scaled_lam = s.lam * inv_rho  # a product: complex / real costs ~7x as much on CPU
    h = cpow(s.Ax, d) + scaled_lam  # (5)
    mag = modulus(h)
    v = with_phase_of(h, prox(mag, R), mag, EPS)  # (6), (7): u ⊙ e^{iθ}
    x = synthesis(cpow(v - scaled_lam, 1 / d))  # (8)
    Ax = analysis(x)
    lam = s.lam + rho * (cpow(Ax, d) - v)  # (9)
    return ADMMState(x, Ax, lam)


def admm_init(problem: PRProblem) -> ADMMState:
    """x_0 = A^+ z_0, λ_0 = 0."""
    x = problem.synthesis(problem.init_spec)
    Ax = problem.analysis(x)
    return ADMMState(x, Ax, torch.zeros_like(Ax))


class ADMM(Unroller):
    """ADMM with a fixed prox: ``loss`` quadratic | kl | is, ``d`` 1 | 2, augmentation ρ."""

    def __init__(self, n_layers: int = 100, tying: str = "tied", backprop=None,
                 trainable: bool = False, loss: str = "quadratic", d: int = 1,
                 rho: float = 1e-3) -> None:
        if d not in (1, 2):
            raise ValueError(f"d must be 1 (magnitude) or 2 (power), got {d!r}")
        if not rho > 0:
            raise ValueError(f"rho must be > 0, got {rho}")
        self.prox_fn: Prox = get_prox(loss)
        self.loss_name, self.d, self.rho0 = loss, d, rho
        super().__init__(n_layers, tying, backprop, trainable)

    def param_specs(self) -> dict[str, Param]:
        return {"rho": Param(self.rho0, "positive", doc="augmentation ρ")}

    def init(self, problem: PRProblem) -> ADMMState:
        return admm_init(problem)

    def step(self, s: ADMMState, theta: Theta, problem: PRProblem) -> ADMMState:
        rho = theta.rho

        def prox(y: Tensor, R: Tensor) -> Tensor:
            return self.prox_fn(y, R, rho)

        return admm_step(s, problem.r, rho, prox, self.d, problem.analysis, problem.synthesis)

    def readout(self, s: ADMMState, problem: PRProblem) -> Tensor:
        return s.x

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, loss={self.loss_name}, d={self.d}, rho={self.rho0:g}"

    @classmethod
    def example(cls, tying: str = "tied") -> tuple[ADMM, PRProblem]:
        return cls(4, tying, trainable=True), example_problem()
