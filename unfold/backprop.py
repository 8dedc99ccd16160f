"""Gradient strategies for an unrolled loop ``state_{t+1} = step_t(state_t)``, t = 0 … n−1.

Each strategy is a small object whose ``run`` drives the loop; the Unroller hands it the step
function. They differ only when autograd is recording:

- ``Full()``: every step keeps its graph; memory grows linearly in n.
- ``Truncated(b)``: the first n − b steps run without a graph and the state is detached, so only
  the last b steps carry gradients; peak memory is independent of n. ``Truncated(n)`` equals Full.
- ``Checkpointed(segment)``: exact gradients; only the states at segment boundaries are kept and
  each segment is recomputed during the backward pass (default segment ≈ √n, memory ~ √n).

States are dataclasses of tensors (or a single tensor); fields that are not tensors pass through.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
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


def _tensor_fields(state: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(state) if isinstance(getattr(state, f.name), torch.Tensor)]


def _loop(step: StepFn, state: Any, start: int, stop: int, callback: Callback) -> Any:
    for t in range(start, stop):
        state = step(state, t)
        if callback is not None:
            callback(t, state)
    return state


class Backprop:
    """Base class: how gradients flow through the unrolled loop."""

    #: whether the backward pass calls the step function again (checkpointing)
    recomputes = False

    def run(self, step: StepFn, state: Any, n: int, callback: Callback = None) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__


class Full(Backprop):
    """Backpropagate through every layer."""

    def run(self, step: StepFn, state: Any, n: int, callback: Callback = None) -> Any:
        return _loop(step, state, 0, n, callback)

    def describe(self) -> str:
        return "full"


class Truncated(Backprop):
    """Backpropagate through the last ``b`` layers only (constant memory in depth)."""

    def __init__(self, b: int = 30) -> None:
        if not isinstance(b, int) or b < 1:
            raise ValueError(f"truncation length b must be an integer >= 1, got {b!r}")
        self.b = b

    def run(self, step: StepFn, state: Any, n: int, callback: Callback = None) -> Any:
        if not torch.is_grad_enabled():
            return _loop(step, state, 0, n, callback)
        cut = max(n - self.b, 0)
        if cut > 0:
            with torch.no_grad():
                state = _loop(step, state, 0, cut, callback)
            state = detach_state(state)
        return _loop(step, state, cut, n, callback)

    def describe(self) -> str:
        return f"truncated({self.b})"


class Checkpointed(Backprop):
    """Exact gradients, recomputing each segment of layers in the backward pass."""

    recomputes = True

    def __init__(self, segment: int | None = None) -> None:
        if segment is not None and (not isinstance(segment, int) or segment < 1):
            raise ValueError(f"checkpoint segment must be an integer >= 1 or None, got {segment!r}")
        self.segment = segment

    def run(self, step: StepFn, state: Any, n: int, callback: Callback = None) -> Any:
        if not torch.is_grad_enabled() or n == 0:
            return _loop(step, state, 0, n, callback)
        seg = self.segment or max(1, math.isqrt(n - 1) + 1)
        for start in range(0, n, seg):
            stop = min(start + seg, n)
            state = self._segment(step, state, start, stop)
            if callback is not None:
                callback(stop - 1, state)
        return state

    @staticmethod
    def _segment(step: StepFn, state: Any, start: int, stop: int) -> Any:
        if isinstance(state, torch.Tensor):
            return checkpoint(lambda x: _loop(step, x, start, stop, None), state, use_reentrant=False)
        names = _tensor_fields(state)

        def body(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
            s = dataclasses.replace(state, **dict(zip(names, tensors)))
            out = _loop(step, s, start, stop, None)
            return tuple(getattr(out, k) for k in names)

        outs = checkpoint(body, *(getattr(state, k) for k in names), use_reentrant=False)
        return dataclasses.replace(state, **dict(zip(names, outs)))

    def describe(self) -> str:
        return "checkpointed" if self.segment is None else f"checkpointed({self.segment})"


def parse_backprop(spec: str | Backprop) -> Backprop:
    """``"full"``, ``"truncated"`` (b = 30), ``"truncated:20"``, ``"checkpointed"``, ``"checkpointed:10"``."""
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
    except ValueError as e:
        raise ValueError(f"bad backprop {spec!r}: {e}") from None
    raise ValueError(
        f"unknown backprop {spec!r}; allowed: full, truncated[:b], checkpointed[:segment]"
    )
