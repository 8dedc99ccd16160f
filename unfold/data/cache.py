"""The on-disk cache of synthesised corpora: ``$UNFOLD_CACHE/speech/<key>/`` (clips + names).

``key`` is the first 16 hex digits of the SHA-1 of the corpus's generation parameters (JSON, keys
sorted), so a change of any parameter, of the corpus or of its version makes a new folder. A
folder holds ``clips.npy`` ``(n, samples)`` float32 and ``meta.json`` (the parameters and the
item names); it is written under a temporary name and renamed into place, so readers never see a
half-written corpus and two processes building the same corpus keep the first complete copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from unfold.data.clips import SpeechClips


def cache_root() -> Path:
    """``$UNFOLD_CACHE`` or ``~/.cache/unfold``."""
    env = os.environ.get("UNFOLD_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "unfold"


def corpus_folder(params: dict) -> Path:
    """The cache folder of the corpus generated with ``params`` (JSON-serialisable)."""
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    return cache_root() / "speech" / key


def read_cached(folder: Path, sample_rate: int) -> SpeechClips | None:
    """The corpus cached in ``folder``, or None when it was never written."""
    if not (folder / "clips.npy").is_file():
        return None
    meta = json.loads((folder / "meta.json").read_text())
    return SpeechClips(torch.from_numpy(np.load(folder / "clips.npy")), sample_rate, meta["names"])


def write_atomically(folder: Path, clips: np.ndarray, meta: dict) -> None:
    """Write ``clips.npy`` and ``meta.json`` to ``folder`` (temporary folder, then rename)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    np.save(tmp / "clips.npy", clips)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    try:
        os.rename(tmp, folder)
    except OSError:  # another process finished first: keep its copy
        shutil.rmtree(tmp, ignore_errors=True)
