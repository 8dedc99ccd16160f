"""Parameter declarations and constraints by reparametrisation.

A learned parameter θ of an unrolled algorithm is declared as ``Param(init, constraint, shape)``.
The module stores an unconstrained *raw* tensor r and computes θ = c(r) on every forward pass,
so a constraint holds exactly whatever the optimiser does (no clamping after the step):

.. math::

    \\text{positive: } θ = \\operatorname{softplus}(r), \\qquad
    \\text{negative: } θ = -\\operatorname{softplus}(r), \\qquad
    \\text{interval}(a, b): θ = a + (b - a)\\,σ(r), \\qquad \\text{log-positive: } θ = e^r.

A constraint is any object with ``forward(raw) -> value`` and ``inverse(value) -> raw``; plugins
may define their own (the APL activation uses w = −w̃², see ``unfold.nn.apl``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, Union

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


class Constraint(Protocol):
    """Maps an unconstrained raw tensor to the constrained value, and back."""

    @property
    def name(self) -> str: ...

    def forward(self, raw: Tensor) -> Tensor: ...

    def inverse(self, value: Tensor) -> Tensor: ...


class Unconstrained:
    name = "none"

    def forward(self, raw: Tensor) -> Tensor:
        return raw

    def inverse(self, value: Tensor) -> Tensor:
        return value


class Positive:
    """θ = softplus(r) > 0."""

    name = "positive"

    def forward(self, raw: Tensor) -> Tensor:
        return F.softplus(raw)

    def inverse(self, value: Tensor) -> Tensor:
        if bool((value <= 0).any()):
            raise ValueError("a positive parameter needs an initial value > 0")
        # log(expm1(v)), written to stay finite for large v.
        return value + torch.log(-torch.expm1(-value))


class Negative:
    """θ = −softplus(r) < 0."""

    name = "negative"

    def forward(self, raw: Tensor) -> Tensor:
        return -F.softplus(raw)

    def inverse(self, value: Tensor) -> Tensor:
        if bool((value >= 0).any()):
            raise ValueError("a negative parameter needs an initial value < 0")
        return Positive().inverse(-value)


class LogPositive:
    """θ = exp(r) > 0: Adam moves θ by relative steps, and a multiplicative update θ ∘ ρ is
    the additive step r + log ρ (suits step-size ratios and non-negative NMF bases)."""

    name = "log-positive"

    def forward(self, raw: Tensor) -> Tensor:
        return torch.exp(raw)

    def inverse(self, value: Tensor) -> Tensor:
        if bool((value <= 0).any()):
            raise ValueError("a log-positive parameter needs an initial value > 0")
        return torch.log(value)


@dataclass(frozen=True)
class Interval:
    """θ = lo + (hi − lo)·sigmoid(r) ∈ (lo, hi)."""

    lo: float
    hi: float

    def __post_init__(self) -> None:
        if not self.lo < self.hi:
            raise ValueError(f"interval needs lo < hi, got ({self.lo}, {self.hi})")

    @property
    def name(self) -> str:
        return f"interval({self.lo}, {self.hi})"

    def forward(self, raw: Tensor) -> Tensor:
        return self.lo + (self.hi - self.lo) * torch.sigmoid(raw)

    def inverse(self, value: Tensor) -> Tensor:
        if bool(((value <= self.lo) | (value >= self.hi)).any()):
            raise ValueError(f"{self.name} parameter needs an initial value strictly inside")
        u = (value - self.lo) / (self.hi - self.lo)
        return torch.log(u) - torch.log1p(-u)


_NAMED: dict[str, Callable[[], Constraint]] = {
    "none": Unconstrained,
    "positive": Positive,
    "negative": Negative,
    "log-positive": LogPositive,
}

Init = Union[float, Tensor, Callable[[tuple[int, ...]], Tensor]]  # noqa: UP007 (runtime alias, py3.10)


def as_constraint(c: Constraint | str | None) -> Constraint:
    """Resolve ``None``, a name ("positive", "negative") or a constraint object."""
    if c is None:
        return Unconstrained()
    if isinstance(c, str):
        if c not in _NAMED:
            raise ValueError(f"unknown constraint {c!r}; known: {sorted(_NAMED)} or Interval(lo, hi)")
        return _NAMED[c]()
    if not (hasattr(c, "forward") and hasattr(c, "inverse")):
        raise TypeError(f"a constraint needs forward() and inverse(), got {type(c).__name__}")
    return c


@dataclass(frozen=True)
class Param:
    """Declaration of one learned parameter of an unrolled step.

    ``init`` is the *constrained* initial value: a float (broadcast to ``shape``), a tensor of
    that shape, or a callable ``shape -> tensor``. ``trainable=False`` keeps it fixed (a buffer
    of the classical algorithm) while still being tied/untied like the others.
    """

    init: Init
    constraint: Constraint | str | None = None
    shape: tuple[int, ...] = ()
    trainable: bool = True
    doc: str = field(default="", compare=False)

    def initial_value(self, dtype: torch.dtype = torch.float32) -> Tensor:
        if callable(self.init) and not isinstance(self.init, Tensor):
            value = torch.as_tensor(self.init(self.shape), dtype=dtype)
        else:
            value = torch.as_tensor(self.init, dtype=dtype)
        if value.shape != torch.Size(self.shape):
            if value.numel() == 1:
                value = value.reshape(()).expand(self.shape).clone()
            else:
                raise ValueError(
                    f"initial value has shape {tuple(value.shape)}, declared shape {self.shape}"
                )
        if not bool(torch.isfinite(value).all()):
            raise ValueError("initial value of a parameter must be finite")
        return value

    def initial_raw(self, dtype: torch.dtype = torch.float32) -> Tensor:
        value = self.initial_value(dtype)
        raw = as_constraint(self.constraint).inverse(value)
        return raw.detach().clone()


def numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape) if shape else 1
