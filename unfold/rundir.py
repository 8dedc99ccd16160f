"""Run directories: a fresh one per run, the existing one to resume, never an overwrite."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from unfold.errors import RunDirError

__all__ = ["RunDirError", "check_run_dir", "prepare_run_dir", "tying_dirname"]


def tying_dirname(tying: str) -> str:
    return tying.replace(":", "-")


def prepare_run_dir(out: Path | None, name: str, resume: bool) -> Path:
    """A fresh directory for a new run, or the existing one to resume; never an overwrite."""
    out = check_run_dir(out, name, resume)
    if resume:
        return out
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise RunDirError(f"output directory {out} is not writable ({e.strerror or e})") from None
    return out


def _writable_parent(path: Path) -> None:
    """The nearest existing ancestor of ``path`` is a folder this process may write into."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise RunDirError(f"output directory {path} is not writable ({parent} is not a "
                          "writable folder)")


def check_run_dir(out: Path | None, name: str, resume: bool) -> Path:
    """The directory a run would use, checked as ``prepare_run_dir`` does; creates nothing."""
    if out is None:
        if resume:
            raise RunDirError("--resume needs --out DIR naming the run to continue")
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{name}-{stamp}"
        i = 1
        while out.exists():
            out, i = Path("runs") / f"{name}-{stamp}-{i}", i + 1
    out = Path(out)
    if resume:
        if not (out / "config.json").is_file():
            raise RunDirError(f"cannot resume: {out} holds no run (no config.json)")
        return out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunDirError(f"output directory {out} already exists and is not empty; "
                          "choose another --out or pass --resume to continue that run")
    _writable_parent(out)
    return out
