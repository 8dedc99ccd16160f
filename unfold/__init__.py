"""unfold: deep unfolding of iterative algorithms into trainable networks.

The public names are imported lazily so that ``unfold --help`` does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Unroller": "unfold.unroller",
    "Tying": "unfold.unroller",
    "Theta": "unfold.unroller",
    "Param": "unfold.params",
    "Interval": "unfold.params",
    "Full": "unfold.backprop",
    "Truncated": "unfold.backprop",
    "Checkpointed": "unfold.backprop",
    "Implicit": "unfold.implicit",
    "Loop": "unfold.backprop",
    "Plugin": "unfold.plugin",
    "Command": "unfold.plugin",
    "Registry": "unfold.plugin",
    "Recipe": "unfold.recipe",
    "TrainConfig": "unfold.recipe",
    "ConfigError": "unfold.errors",
    "check_range": "unfold.recipe",
    "check_choice": "unfold.recipe",
    "check_each": "unfold.recipe",
    "check_each_choice": "unfold.recipe",
    "Task": "unfold.task",
    "Method": "unfold.task",
    "run_recipe": "unfold.api",
    "compare_plugins": "unfold.api",
    "RunResult": "unfold.results",
    "MethodResult": "unfold.results",
    "RunContext": "unfold.results",
    "load": "unfold.checkpoint",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'unfold' has no attribute {name!r}")
