"""Checkpoints: one writer, one reader and one loader.

A checkpoint is a dict (the format below) holding a model's state dict plus what rebuilds the
model: the resolved config, plugin, recipe and tying, and the versions that wrote it.

- :func:`build` is the one writer of that dict (the trainer adds its resume state as ``extra``);
  :func:`save_atomic` writes it atomically (a temporary file in the same folder, fsync, then
  ``os.replace``), so a kill mid-write leaves the previous checkpoint intact, and a full disk is
  one :class:`CheckpointError` line with the previous checkpoint untouched.
- :func:`read` checks the format and returns the dict. It uses
  ``torch.load(weights_only=True)``: a checkpoint from someone else can hold tensors, numbers,
  strings, lists and dicts, but never code; a pickle asking for anything else is refused as unsafe.
- :func:`load` (``unfold.load``) is the one loader of models: read, rebuild through the registry
  (plugin → recipe → ``task.build_model(cfg, tying)``), load the weights (all finite), eval mode;
  :class:`CheckpointInfo` is attached as ``model.checkpoint_info``.

Format ``unfold-checkpoint-1``::

    {"format", "model": state dict, "config": to_dict(cfg), "plugin", "recipe", "tying",
     "versions": {"unfold", "torch", "python"}, **extra}
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import platform
import re
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch

import unfold
from unfold.errors import CheckpointError, RunDirError

if TYPE_CHECKING:
    from unfold.plugin import Registry
    from unfold.recipe import Recipe
    from unfold.task import Task
    from unfold.unroller import Unroller

__all__ = ["FORMAT", "REQUIRED", "CheckpointError", "CheckpointInfo", "build",
           "check_resume_flags", "info", "load", "read", "read_run_config",
           "remove_partial_writes", "save_atomic", "versions"]

REQUIRED = ("format", "model", "config", "plugin", "recipe", "tying")
FORMAT = "unfold-checkpoint-1"


def versions() -> dict[str, str]:
    return {"unfold": unfold.__version__, "torch": str(torch.__version__),
            "python": platform.python_version()}


def build(model: torch.nn.Module | Mapping[str, torch.Tensor], *, plugin: str, recipe: str,
          tying: str, config: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The checkpoint dict of ``model`` (a module or its state dict); ``extra`` keys are kept."""
    state = model.state_dict() if isinstance(model, torch.nn.Module) else dict(model)
    reserved = set(REQUIRED) | {"versions"}
    clash = reserved & set(extra)
    if clash:
        raise TypeError(f"checkpoint.build: {sorted(clash)} are set by build itself")
    return {"format": FORMAT, "model": state, "config": dict(config), "plugin": plugin,
            "recipe": recipe, "tying": tying, "versions": versions(), **extra}


def save_atomic(obj: dict[str, Any], path: Path) -> None:
    """Write ``obj`` to ``path`` atomically; on any failure ``path`` is as it was, no temp left."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoint {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        full = " (disk full; the previous checkpoint is kept)" if e.errno in (
            errno.ENOSPC, errno.EDQUOT) else ""
        raise CheckpointError(f"cannot write checkpoint {path}: {e.strerror or e}{full}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_partial_writes(folder: Path) -> list[Path]:
    """Delete the temporary files of writes killed midway (``kill -9``) in ``folder``."""
    stale = sorted(Path(folder).glob("*.pt.*.tmp"))
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def read(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and check an unfold checkpoint dict; every failure is a one-line CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e), re.IGNORECASE)  # a class or function asked for
        if found:
            raise CheckpointError(
                f"checkpoint {path} was refused as unsafe: it asks for {found.group(1)}, and "
                "loading objects other than tensors and plain data could run code") from None
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated (unpickling failed)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(e).__name__})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an unfold checkpoint (no '{FORMAT}' marker)")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(missing)}")
    if not isinstance(obj["model"], dict) or not isinstance(obj["config"], dict):
        raise CheckpointError(f"checkpoint {path}: 'model' and 'config' must be dicts")
    return obj


@runtime_checkable
class PreparesFromState(Protocol):
    """A task whose ``build_model`` derives tensors from data (deep-nmf's bases) may take them
    from the checkpoint's state dict instead, before :func:`load` calls ``build_model``."""

    def prepare_from_state(self, cfg: Any, tying: str, state: Mapping[str, torch.Tensor]) -> None:
        ...


@dataclass(frozen=True)
class CheckpointInfo:
    """What a loaded model came from (``model.checkpoint_info``)."""

    path: Path
    plugin: str
    recipe: Recipe
    tying: str
    config: Any  # the recipe's resolved config dataclass
    task: Task = field(repr=False)
    versions: Mapping[str, str] = field(default_factory=dict)
    epoch: int | None = None


def load(path: str | Path, *, plugin: str | None = None, recipe: str | None = None,
         registry: Registry | None = None, device: str | torch.device = "cpu") -> Unroller:
    """The model of checkpoint ``path``, ready to run (eval mode, on ``device``).

    ``plugin`` / ``recipe``: refuse a checkpoint of another plugin or recipe (one line). The
    model is rebuilt through ``registry`` (default: the installed plugins) and carries a
    :class:`CheckpointInfo` as ``model.checkpoint_info``.
    """
    from unfold import recipe as recipes
    from unfold.errors import ConfigError, PluginError

    path = Path(path)
    ck = read(path)
    if plugin is not None and ck["plugin"] != plugin:
        raise CheckpointError(f"{path} is a checkpoint of plugin {ck['plugin']!r} "
                              f"(recipe {ck['recipe']!r}), not {plugin}")
    if recipe is not None and ck["recipe"] != recipe:
        raise CheckpointError(f"{path} is a checkpoint of recipe {ck['recipe']!r}, not {recipe!r}")
    if registry is None:
        from unfold.plugin import Registry

        registry = Registry()
    try:
        rec = registry.get(ck["plugin"]).recipe(ck["recipe"])
    except PluginError as e:
        raise CheckpointError(f"checkpoint {path} cannot be rebuilt: {e}") from None
    try:
        cfg = recipes.from_dict(rec, ck["config"])
    except ConfigError as e:
        raise CheckpointError(f"checkpoint {path} holds a config its recipe refuses: {e}") from None
    bad = [k for k, v in ck["model"].items()
           if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"checkpoint {path} holds NaN or inf weights ({', '.join(bad[:3])}); "
                              "it cannot be evaluated")
    task = rec.task()
    if isinstance(task, PreparesFromState):
        task.prepare_from_state(cfg, ck["tying"], ck["model"])
    model = task.build_model(cfg, ck["tying"])
    try:
        model.load_state_dict(ck["model"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint {path} does not fit the model its config builds: "
                              f"{first}") from None
    model.checkpoint_info = CheckpointInfo(  # type: ignore[assignment]
        path, ck["plugin"], rec, ck["tying"], cfg, task, dict(ck.get("versions", {})),
        ck.get("epoch"))
    return model.to(device).eval()


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """A run directory's config.json (to resume it); a missing or corrupt file is named."""
    path = Path(run_dir) / "config.json"
    try:
        saved = json.loads(path.read_text())
    except OSError as e:
        raise RunDirError(f"cannot resume: cannot read {path} ({e.strerror or e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunDirError(f"cannot resume: {path} is corrupt ({e})") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        raise RunDirError(f"cannot resume: {path} is not a run's config (no 'config' section)")
    return saved


def check_resume_flags(saved: Mapping[str, Any], seed: int | None,
                       tyings: tuple[str, ...] | None) -> None:
    """Refuse ``--seed`` / ``--tying`` that differ from the run being resumed (never ignore them)."""
    if seed is not None and seed != saved.get("seed", 0):
        raise RunDirError(f"--resume continues the run with its saved seed {saved.get('seed', 0)}; "
                          f"--seed {seed} differs (drop it, or start a new run with another --out)")
    if tyings is not None and list(tyings) != list(saved.get("tyings", tyings)):
        raise RunDirError(f"--resume continues the run with its saved tyings "
                          f"{', '.join(saved['tyings'])}; --tying {' '.join(tyings)} differs "
                          "(drop --tying, or start a new run with another --out)")


def info(model: torch.nn.Module) -> CheckpointInfo:
    """The :class:`CheckpointInfo` of a model returned by :func:`load`."""
    found = getattr(model, "checkpoint_info", None)
    if not isinstance(found, CheckpointInfo):
        raise TypeError(f"{type(model).__name__} was not loaded by unfold.load (no checkpoint_info)")
    return found
