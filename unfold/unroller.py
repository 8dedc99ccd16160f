"""The Unroller: an iterative algorithm as a stack of layers with learnable parameters.

A subclass declares its parameters and writes three methods (template method):

.. math::

    s_0 = \\mathrm{init}(p), \\qquad s_{t+1} = \\mathrm{step}(s_t, θ_{g(t)}, p), \\qquad
    \\hat y = \\mathrm{readout}(s_n, p)

where p is the problem (a batch of measurements and operators) and g maps layer t to its
parameter group: tied (one θ for all layers), untied (one θ per layer), or partly untied (the
last C layers have their own θ, the first L − C share one). Running past the trained depth
(n > L) follows the past-depth policy: ``past_depth="cycle"`` (default) uses g(t mod L), the
untied stack applied again as the UADMM paper's iterated model; ``past_depth="last"`` keeps the
last layer's θ, g(min(t, L − 1)), the LISTA convention.

``run`` is the one loop over layers (``trace``, the backprop strategies and the plugins all go
through it). Two hooks let a subclass shape it without overriding ``run`` or ``theta``:
``layer_params(θ, group)`` (derived quantities, or fixed values for a group) and
``warm_start(problem, n_iter)`` (resume from a memoised state instead of ``init``).

Example::

    class ISTA(Unroller):
        params = {"step": Param(1.0, "positive"), "thresh": Param(0.1, "positive")}
        def init(self, p): return p.y.new_zeros(p.y.shape[0], p.A.shape[1])
        def step(self, x, θ, p):
            z = x - θ.step * (x @ p.A.T - p.y) @ p.A
            return torch.sign(z) * torch.relu(z.abs() - θ.thresh)
        def readout(self, x, p): return x

Subclasses whose parameter declarations depend on constructor arguments override
``param_specs()`` and set the attributes it reads *before* calling ``super().__init__``.
"""

from __future__ import annotations

import dataclasses
import types
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from unfold.backprop import Backprop, Full, Loop, parse_backprop
from unfold.compiled import CompiledStep, CompileSpec
from unfold.params import Param, as_constraint


@dataclass(frozen=True)
class Tying:
    """How layers share parameters: the last ``untied`` layers own theirs, the rest share one.

    ``Tying.parse`` accepts "tied", "untied", "partial:C" (last C untied) or a Tying.
    """

    kind: str  # "tied" | "untied" | "partial"
    untied: int = 0

    @staticmethod
    def parse(spec: str | Tying) -> Tying:
        if isinstance(spec, Tying):
            return spec
        name, _, arg = str(spec).partition(":")
        if name in ("tied", "untied") and not arg:
            return Tying(name)
        if name == "partial" and arg.isdigit():
            return Tying("partial", int(arg))
        raise ValueError(f"unknown tying {spec!r}; allowed: tied, untied, partial:C (C >= 0)")

    @property
    def label(self) -> str:
        return self.kind if self.kind != "partial" else f"partial:{self.untied}"

    def n_groups(self, n_layers: int) -> int:
        if self.kind == "tied":
            return 1
        if self.kind == "untied" or self.untied >= n_layers:
            return n_layers
        return self.untied + 1

    def group(self, t: int, n_layers: int) -> int:
        t = t % n_layers
        if self.kind == "tied":
            return 0
        if self.kind == "untied" or self.untied >= n_layers:
            return t
        shared = n_layers - self.untied
        return 0 if t < shared else t - shared + 1


PAST_DEPTH = ("cycle", "last")


class Theta(dict):
    """The constrained parameters of one layer; read them as attributes (``θ.step``)."""

    def __getattr__(self, name: str) -> torch.Tensor:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no parameter {name!r}; declared: {sorted(self)}") from None


class Unroller(nn.Module, ABC):
    """Base class of every unrolled algorithm; see the module docstring."""

    params: ClassVar[dict[str, Param]] = {}
    _backprop: Backprop

    def __init__(
        self,
        n_layers: int,
        tying: str | Tying = "tied",
        backprop: str | Backprop | None = None,
        trainable: bool = True,
        past_depth: str = "cycle",
    ) -> None:
        super().__init__()
        if not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"n_layers must be an integer >= 1, got {n_layers!r}")
        if past_depth not in PAST_DEPTH:
            raise ValueError(f"past_depth must be 'cycle' or 'last', got {past_depth!r}")
        self.n_layers = n_layers
        self.tying = Tying.parse(tying)
        self.past_depth = past_depth
        self.backprop = parse_backprop(backprop) if backprop is not None else Full()
        self.trainable = trainable
        self.specs = dict(self.param_specs())
        self.constraints = {k: as_constraint(s.constraint) for k, s in self.specs.items()}
        self.raw = nn.ParameterDict()
        self._groups: dict[str, tuple[torch.Tensor, ...]] | None = None
        groups = self.tying.n_groups(n_layers)
        for name, spec in self.specs.items():
            r = spec.initial_raw()
            r = r.unsqueeze(0).repeat(groups, *([1] * r.dim()))
            self.raw[name] = nn.Parameter(r, requires_grad=trainable and spec.trainable)

    # -- what a subclass writes -------------------------------------------------------------
    def param_specs(self) -> dict[str, Param]:
        """The declared parameters; defaults to the class attribute ``params``."""
        return type(self).params

    @property
    def backprop(self) -> Backprop:
        """The gradient strategy; setting it checks that it can train this model."""
        return self._backprop

    @backprop.setter
    def backprop(self, strategy: str | Backprop) -> None:
        bp = parse_backprop(strategy)
        bp.check(self)
        self.__dict__["_backprop"] = bp

    @abstractmethod
    def init(self, problem: Any) -> Any:
        """The initial state s_0 (a dataclass of tensors, or a tensor)."""

    @abstractmethod
    def step(self, state: Any, theta: Theta, problem: Any) -> Any:
        """One iteration s_{t+1} = step(s_t, θ_t, p)."""

    def readout(self, state: Any, problem: Any) -> Any:
        """The output read from the final state; the state itself by default."""
        return state

    # -- hooks a subclass may override ---------------------------------------------------------
    def layer_params(self, theta: Theta, group: int) -> Theta:
        """Hook: the θ the layers of parameter group ``group`` use, from its constrained declared
        parameters ``theta``. Default: ``theta`` unchanged.

        Override to add quantities derived from the parameters (step sizes from an operator
        norm) or to substitute fixed values for a group (a frozen pretrained dictionary)."""
        return theta

    def warm_start(self, problem: Any, n_iter: int) -> tuple[Any, int]:
        """Hook: ``(state, start)`` a run of ``n_iter`` layers begins from when ``run`` is given no
        state: the state after layers 0 … start − 1. Default ``(init(problem), 0)``.

        Override to resume from memoised states (e.g. layers whose θ is frozen, computed once
        per item); the state must equal what those layers produce, without a graph."""
        return self.init(problem), 0

    @classmethod
    def example(cls, tying: str = "tied") -> tuple[Unroller, Any]:
        """A tiny (model, problem) pair for the contract tests run over every registered unroller.

        The problem should be small (a batch of 2–3 items) so a float64 gradcheck of one layer
        and a smoke run take well under a second.
        """
        raise NotImplementedError(f"{cls.__name__} does not provide example()")

    @staticmethod
    def batch_slice(problem: Any, index: slice, batch: int) -> Any:
        """The sub-problem of items ``index`` of a batch of ``batch`` items.

        By default every tensor field of a dataclass problem whose first dimension equals
        ``batch`` is sliced and the rest is shared; override when that guess is wrong.
        """
        if isinstance(problem, torch.Tensor):
            return problem[index]
        changes = {
            f.name: getattr(problem, f.name)[index]
            for f in dataclasses.fields(problem)
            if isinstance(getattr(problem, f.name), torch.Tensor)
            and getattr(problem, f.name).dim() > 0 and getattr(problem, f.name).shape[0] == batch
        }
        return dataclasses.replace(problem, **changes)

    # -- parameters ---------------------------------------------------------------------------
    def layer(self, t: int) -> int:
        """The trained layer whose θ iteration t uses (``past_depth``: cycle or keep the last)."""
        if t < self.n_layers:
            return t
        return t % self.n_layers if self.past_depth == "cycle" else self.n_layers - 1

    def theta(self, t: int) -> Theta:
        """Constrained parameters of layer t (t may exceed n_layers: see ``past_depth``), passed
        through the ``layer_params`` hook.

        During ``run`` every parameter is constrained and split into its groups once per
        forward pass, so backward does not allocate a full-size gradient per layer."""
        g = self.tying.group(self.layer(t), self.n_layers)
        if self._groups is not None:
            th = Theta({k: v[g] for k, v in self._groups.items()})
        else:
            th = Theta({k: self.constraints[k].forward(r[g]) for k, r in self.raw.items()})
        return self.layer_params(th, g)

    def value(self, name: str) -> torch.Tensor:
        """Constrained value of parameter ``name`` for every layer, shape (n_layers, *shape)."""
        if name not in self.raw:
            raise KeyError(f"no parameter {name!r}; declared: {sorted(self.raw)}")
        idx = [self.tying.group(t, self.n_layers) for t in range(self.n_layers)]
        with torch.no_grad():
            return self.constraints[name].forward(self.raw[name][idx]).clone()

    def n_params(self) -> int:
        """Number of trainable scalars (declared parameters and any submodule's)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    # -- compilation --------------------------------------------------------------------------
    def compile_step(self, spec: bool | str | CompileSpec | None = True) -> Unroller:
        """Run ``step`` through ``torch.compile`` from now on; ``False`` / ``"off"`` undoes it.

        The compiled step replaces ``self.step`` on this instance, so every caller gets it: the
        core's loop (``run``, hence ``trace`` and every backprop strategy). ``spec`` is a
        ``train.compile`` value (see :mod:`unfold.compiled`). Returns the model.
        """
        parsed = CompileSpec.parse(spec)
        self.__dict__.pop("step", None)
        if parsed is not None:
            fn = CompiledStep(type(self).step, parsed, f"{type(self).__name__}.step")
            self.__dict__["step"] = types.MethodType(fn, self)
        return self

    @property
    def compiled_step(self) -> CompiledStep | None:
        """The compiled step set by ``compile_step``, or None when ``step`` runs eagerly."""
        bound = self.__dict__.get("step")
        fn = getattr(bound, "__func__", None)
        return fn if isinstance(fn, CompiledStep) else None

    # -- running ------------------------------------------------------------------------------
    def run(
        self,
        problem: Any,
        n_iter: int | None = None,
        *legacy: Callable[[int, Any], None] | None,
        state: Any = None,
        start: int = 0,
        callback: Callable[[int, Any], None] | None = None,
    ) -> Any:
        """State after layers ``start … n_iter − 1`` — the one loop over layers.

        Args:
            n_iter: the layer to stop before (default: the trained depth); may exceed it.
            state: the state after the first ``start`` layers; default: the ``warm_start``
                hook's (``init(problem)`` at layer 0 unless a subclass memoises a prefix).
            start: the index of the first layer to apply (needs ``state``).
            callback: ``callback(t, state)`` after layer t (the backprop strategy decides
                which layers it sees: all of them, except with ``Checkpointed``).

        The model's backprop strategy receives the loop as a :class:`~unfold.backprop.Loop`.
        """
        if legacy:
            warnings.warn("Unroller.run(problem, n_iter, callback): pass callback= by keyword",
                          DeprecationWarning, stacklevel=2)
            if len(legacy) > 1 or callback is not None:
                raise TypeError("run() takes one callback: pass it as callback=")
            callback = legacy[0]
        n = self.n_layers if n_iter is None else n_iter
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n_iter must be an integer >= 0, got {n_iter!r}")
        if state is None:
            if start:
                raise ValueError(f"run(start={start}) needs the state after layer {start - 1}")
            state, start = self.warm_start(problem, n)
        if not isinstance(start, int) or not 0 <= start <= n:
            raise ValueError(f"start must be an integer in [0, n_iter={n}], got {start!r}")

        def one(s: Any, t: int) -> Any:
            return self.step(s, self.theta(t), problem)

        loop = Loop(one, self.theta, start, n, callback, self, problem)
        if self.backprop.recomputes:  # the backward pass replays step(): θ must come from raw
            return self.backprop.unroll(loop, state)
        self._groups = {k: self.constraints[k].forward(r).unbind(0) for k, r in self.raw.items()}
        try:
            return self.backprop.unroll(loop, state)
        finally:
            self._groups = None

    def forward(self, problem: Any, n_iter: int | None = None) -> Any:
        return self.readout(self.run(problem, n_iter), problem)

    @torch.no_grad()
    def trace(
        self, problem: Any, fn: Callable[[Any, Any], Any], n_iter: int | None = None
    ) -> list[Any]:
        """``fn(readout, problem)`` after every layer 1 … n (for metric-vs-layer plots)."""
        out: list[Any] = []
        self.run(problem, n_iter, state=self.init(problem),
                 callback=lambda t, s: out.append(fn(self.readout(s, problem), problem)))
        return out

    def extra_repr(self) -> str:
        return (
            f"n_layers={self.n_layers}, tying={self.tying.label}, "
            f"backprop={self.backprop.describe()}, trainable={self.trainable}, "
            f"past_depth={self.past_depth}"
        )
