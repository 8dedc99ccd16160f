"""Gradient strategies for an unrolled loop ``s_{t+1} = step(s_t, t)``, t = start … stop − 1.

The Unroller owns the loop: :meth:`Unroller.run <unfold.unroller.Unroller.run>` describes one
run as a :class:`Loop` (its step, θ per layer, the layer range) and hands it to the model's
strategy, whose :meth:`Backprop.unroll` decides which stretches of layers run with a graph.
They differ only when autograd is recording:

- ``Full()``: every step keeps its graph; memory grows linearly in n.
- ``Truncated(b)``: the first n − b steps run without a graph and the state is detached, so only
  the last b steps carry gradients; peak memory is independent of n. ``Truncated(n)`` equals Full.
- ``Checkpointed(segment)``: exact gradients; only the states at segment boundaries are kept and
  each segment is recomputed during the backward pass (default segment ≈ √n, memory ~ √n).
- ``Implicit(b)`` (:mod:`unfold.implicit`): the gradient of the fixed point, b Neumann terms of
  the step's Jacobian at the last state; memory independent of n and of b. Tied models only.

States are dataclasses of tensors (or a single tensor); fields that are not tensors pass through.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.checkpoint import checkpoint

StepFn = Callable[[Any, int], Any]
Callback = Callable[[int, Any], None] | None


def detach_state(state: Any) -> Any:
    """A copy of ``state`` whose tensors are cut from the graph."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    changes = {
        f.name: getattr(state, f.name).detach()
        for f in dataclasses.fields(state)
        if isinstance(getattr(state, f.name), torch.Tensor)
    }
    return dataclasses.replace(state, **changes)


def state_tensors(state: Any) -> tuple[tuple[torch.Tensor, ...], Callable[..., Any]]:
    """The tensor fields of ``state`` and a function rebuilding a state from new ones.

    ``tensors, rebuild = state_tensors(s)``; ``rebuild(*tensors)`` is ``s`` again. A single
    tensor is a state of one field; fields that are not tensors are carried over unchanged.
    """
    if isinstance(state, torch.Tensor):
        return (state,), lambda x: x
    names = [f.name for f in dataclasses.fields(state) if isinstance(getattr(state, f.name), torch.Tensor)]

    def rebuild(*tensors: torch.Tensor) -> Any:
        return dataclasses.replace(state, **dict(zip(names, tensors, strict=True)))

    return tuple(getattr(state, k) for k in names), rebuild


@dataclass(frozen=True)
class Loop:
    """One run of an unrolled model as a backprop strategy sees it.

    Layers ``t = start … stop − 1`` are applied to the state handed to ``Backprop.unroll``.

    Attributes:
        step: ``step(state, t)`` applies layer t (its θ and the problem are bound in).
        theta: ``theta(t)``, the constrained parameters of layer t (a ``Theta``).
        start, stop: the layer range; ``n = stop − start`` layers run.
        callback: ``callback(t, state)`` after layer t, or None.
        model: the Unroller (None when a bare step function was wrapped).
        problem: the problem the run solves.
    """

    step: StepFn
    theta: Callable[[int], Any]
    start: int
    stop: int
    callback: Callback = None
    model: Any = None
    problem: Any = None

    @property
    def n(self) -> int:
        return self.stop - self.start

    def iterate(self, state: Any, start: int, stop: int, report: bool = True) -> Any:
        """State after layers ``start … stop − 1`` — the one loop over layers in unfold.

        ``report=False`` skips the callback (a stretch that is replayed, e.g. by checkpointing).
        """
        for t in range(start, stop):
            state = self.step(state, t)
            if report and self.callback is not None:
                self.callback(t, state)
        return state


class Backprop:
    """Base class: how gradients flow through the unrolled loop.

    A strategy implements ``unroll(loop, state)``: the state after the loop's layers, computed
    through ``loop.iterate`` (with or without a graph, in stretches of its choosing).
    """

    #: whether the backward pass calls the step function again (checkpointing)
    recomputes = False

    def unroll(self, loop: Loop, state: Any) -> Any:
        if type(self).run is not Backprop.run:  # a strategy written against the old interface
            warnings.warn(f"{type(self).__name__}.run(step, state, n, callback) is deprecated; "
                          "implement unroll(loop, state) instead", DeprecationWarning, stacklevel=2)
            return self.run(lambda s, t: loop.step(s, loop.start + t), state, loop.n,
                            None if loop.callback is None else
                            lambda t, s: loop.callback(loop.start + t, s))  # type: ignore[misc]
        raise NotImplementedError(f"{type(self).__name__} does not implement unroll(loop, state)")

    def run(self, step: StepFn, state: Any, n: int, callback: Callback = None) -> Any:
        """Deprecated: ``unroll(Loop(step, ...), state)``; kept for callers of the old interface."""
        warnings.warn("Backprop.run(step, state, n, callback) is deprecated; use "
                      "Unroller.run or Backprop.unroll(Loop(...), state)", DeprecationWarning,
                      stacklevel=2)
        return self.unroll(Loop(step, _no_theta, 0, n, callback), state)

    def check(self, model: Any) -> None:
        """Raise ValueError if this strategy cannot train ``model`` (e.g. its tying)."""

    def describe(self) -> str:
        return type(self).__name__


def _no_theta(t: int) -> Any:
    raise TypeError("this loop wraps a bare step function and has no θ per layer")


class Full(Backprop):
    """Backpropagate through every layer."""

    def unroll(self, loop: Loop, state: Any) -> Any:
        return loop.iterate(state, loop.start, loop.stop)

    def describe(self) -> str:
        return "full"


class Truncated(Backprop):
    """Backpropagate through the last ``b`` layers only (constant memory in depth)."""

    def __init__(self, b: int = 30) -> None:
        if not isinstance(b, int) or b < 1:
            raise ValueError(f"truncation length b must be an integer >= 1, got {b!r}")
        self.b = b

    def unroll(self, loop: Loop, state: Any) -> Any:
        if not torch.is_grad_enabled():
            return loop.iterate(state, loop.start, loop.stop)
        cut = max(loop.stop - self.b, loop.start)
        if cut > loop.start:
            with torch.no_grad():
                state = loop.iterate(state, loop.start, cut)
            state = detach_state(state)
        return loop.iterate(state, cut, loop.stop)

    def describe(self) -> str:
        return f"truncated({self.b})"


class Checkpointed(Backprop):
    """Exact gradients, recomputing each segment of layers in the backward pass.

    The callback sees the state at the end of each segment only."""

    recomputes = True

    def __init__(self, segment: int | None = None) -> None:
        if segment is not None and (not isinstance(segment, int) or segment < 1):
            raise ValueError(f"checkpoint segment must be an integer >= 1 or None, got {segment!r}")
        self.segment = segment

    def unroll(self, loop: Loop, state: Any) -> Any:
        if not torch.is_grad_enabled() or loop.n == 0:
            return loop.iterate(state, loop.start, loop.stop)
        seg = self.segment or max(1, math.isqrt(loop.n - 1) + 1)
        for start in range(loop.start, loop.stop, seg):
            stop = min(start + seg, loop.stop)
            state = self._segment(loop, state, start, stop)
            if loop.callback is not None:
                loop.callback(stop - 1, state)
        return state

    @staticmethod
    def _segment(loop: Loop, state: Any, start: int, stop: int) -> Any:
        tensors, rebuild = state_tensors(state)

        def body(*xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return state_tensors(loop.iterate(rebuild(*xs), start, stop, report=False))[0]

        return rebuild(*checkpoint(body, *tensors, use_reentrant=False))

    def describe(self) -> str:
        return "checkpointed" if self.segment is None else f"checkpointed({self.segment})"


#: strategies that plugins add: spec name -> (factory of the text after ":", "name[:arg]" for
#: messages). ``register_backprop`` fills it; ``parse_backprop`` reads it after the core's names.
_EXTRA: dict[str, tuple[Callable[[str], Backprop], str]] = {}


def register_backprop(name: str, factory: Callable[[str], Backprop], usage: str) -> None:
    """Make ``name[:arg]`` a backprop spec everywhere (``train.backprop``, sweeps): ``factory``
    gets the text after the colon ("" when none) and returns the strategy; ``usage`` is how error
    messages list it, e.g. ``"frozen[:b]"``. A plugin calls this when it is imported; a strategy
    that fits only its own unrollers refuses others in ``Backprop.check``."""
    if name in ("full", "truncated", "checkpointed", "implicit"):
        raise ValueError(f"backprop {name!r} is the core's; choose another name")
    _EXTRA[name] = (factory, usage)


def backprop_names() -> list[str]:
    """Every spec ``parse_backprop`` accepts, as error messages list them."""
    core = ["full", "truncated[:b]", "checkpointed[:segment]", "implicit[:b]"]
    return core + [usage for _, usage in _EXTRA.values()]


def parse_backprop(spec: str | Backprop) -> Backprop:
    """``"full"``, ``"truncated"`` (b = 30), ``"truncated:20"``, ``"checkpointed"``,
    ``"checkpointed:10"``, ``"implicit"`` (b = 30), ``"implicit:b"`` (b >= 0), and the specs
    plugins registered with :func:`register_backprop`."""
    if isinstance(spec, Backprop):
        return spec
    name, _, arg = str(spec).partition(":")
    try:
        if name == "full" and not arg:
            return Full()
        if name == "truncated":
            return Truncated(int(arg) if arg else 30)
        if name == "checkpointed":
            return Checkpointed(int(arg) if arg else None)
        if name == "implicit":
            from unfold.implicit import Implicit

            return Implicit(int(arg) if arg else 30)
        if name in _EXTRA:
            return _EXTRA[name][0](arg)
    except ValueError as e:
        raise ValueError(f"bad backprop {spec!r}: {e}") from None
    raise ValueError(f"unknown backprop {spec!r}; allowed: {', '.join(backprop_names())}")
