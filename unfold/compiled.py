"""Optional ``torch.compile`` of an unroller's per-layer ``step`` (``train.compile``).

The step, not the whole forward pass, is compiled: one layer's graph is reused by every layer
and every depth, so a tied or untied stack, a longer ``n_iter`` at evaluation and the
Truncated / Checkpointed backprop paths (which call the same step, Checkpointed again during
the backward pass) need no new compilation. A few graphs are still compiled, once each: the
first layer (its state does not require grad yet; ChambollePock's y and ȳ also start as one
tensor), the later layers, and the no-grad pass of validation and evaluation. A new batch shape
compiles once more, with dynamic sizes. Compiling the whole forward pass instead unrolls every
layer into one graph, recompiles per depth, and graph-breaks on data-dependent Python such as
ChambollePock's ‖K‖ cache (see ``docs/scaling.md``).

``CompileSpec.parse`` reads the config value: ``False`` / ``"off"`` (default), ``True`` /
``"on"`` / ``"default"`` (inductor), an inductor mode (``"reduce-overhead"``, ``"max-autotune"``,
``"max-autotune-no-cudagraphs"``), or a debugging backend (``"aot_eager"``: traced and run
through AOTAutograd, no code generated; ``"eager"``: traced only). If compilation is unavailable
(no C++ compiler for inductor on the CPU, no Triton on a GPU, an unsupported Python), the step
falls back to eager with a one-line :class:`CompileFallback` warning instead of failing deep
inside training.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
BACKENDS = ("inductor", "aot_eager", "eager")
OFF = ("off", "false", "no")
ON = ("on", "true", "yes")
ALLOWED = "false/off, true/on, " + ", ".join(MODES[1:]) + ", " + ", ".join(BACKENDS)


class CompileFallback(UserWarning):
    """torch.compile was asked for but could not compile; the step runs eagerly."""


@dataclass(frozen=True)
class CompileSpec:
    """A torch.compile backend and inductor mode (None: the default mode)."""

    backend: str = "inductor"
    mode: str | None = None

    @staticmethod
    def parse(value: bool | str | CompileSpec | None) -> CompileSpec | None:
        """The spec of a ``train.compile`` value; None when compilation is off."""
        if value is None or isinstance(value, CompileSpec):
            return value
        if isinstance(value, bool):
            return CompileSpec() if value else None
        text = str(value).strip().lower()
        if text in OFF:
            return None
        if text in ON or text in ("default", "inductor"):
            return CompileSpec()
        if text in MODES:
            return CompileSpec("inductor", text)
        if text in BACKENDS:
            return CompileSpec(text)
        raise ValueError(f"unknown compile setting {value!r}; allowed: {ALLOWED}")

    def describe(self) -> str:
        return self.backend if self.mode is None else f"{self.backend}:{self.mode}"


def _one_line(e: BaseException) -> str:
    lines = [s.strip() for s in str(e).splitlines() if s.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"


class CompiledStep:
    """``fn(model, *args)`` compiled with ``spec``; after a compilation failure, ``fn`` itself.

    ``fn`` is an unroller class's ``step`` function, not a bound method: the compiled code takes
    the model as its first argument, so it holds no model and a deep copy of the model (bound
    to it by :meth:`~unfold.unroller.Unroller.compile_step`) calls it with the copy. Only
    failures of the compiler are caught (``BackendCompilerFailed``, which covers a missing C++
    compiler, and dynamo's internal errors); an error of the traced code itself propagates, as
    it would eagerly. The backward graph is compiled at the first backward pass; a failure
    there (rare: the forward compiled with the same toolchain) is raised by ``backward()``.
    """

    def __init__(self, fn: Callable[..., Any], spec: CompileSpec, name: str = "step") -> None:
        self.eager, self.spec, self.name = fn, spec, name
        self.failed: str | None = None
        self.compiled: Callable[..., Any] | None = None
        self.compiler_errors: tuple[type[BaseException], ...] = ()
        try:
            from torch._dynamo.exc import BackendCompilerFailed, InternalTorchDynamoError

            self.compiler_errors = (BackendCompilerFailed, InternalTorchDynamoError)
            self.compiled = torch.compile(fn, backend=spec.backend, mode=spec.mode)
        except Exception as e:  # e.g. dynamo not supported on this Python
            self._fall_back(e)

    def _fall_back(self, e: BaseException) -> None:
        self.failed = _one_line(e)
        warnings.warn(f"torch.compile ({self.spec.describe()}) of {self.name} failed, running it "
                      f"eagerly: {self.failed}", CompileFallback, stacklevel=3)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is not None and self.failed is None:
            try:
                return self.compiled(*args, **kwargs)
            except self.compiler_errors as e:
                self._fall_back(e)
        return self.eager(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:  # pickled as its recipe; compiled again on load
        return (CompiledStep, (self.eager, self.spec, self.name))

    def __repr__(self) -> str:
        state = f"failed: {self.failed}" if self.failed else self.spec.describe()
        return f"CompiledStep({self.name}, {state})"
