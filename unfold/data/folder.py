"""Speech corpora from a folder of audio files (``.wav``, ``.flac``, any case, recursive).

Layouts, detected in this order:

- **TIMIT**: ``TRAIN/`` and ``TEST/`` (any case) with ``<dialect>/<speaker>/*.WAV`` (NIST SPHERE,
  read by soundfile). Official split: test = ``TEST``; train = ``TRAIN`` less the speakers whose
  name hash falls in the valid bucket (1 in 10), which form valid. The SA1/SA2 sentences, read by
  every speaker, are left out (common practice).
- **LibriSpeech**: subfolders ``train-*``, ``dev-*``, ``test-*`` (``speaker/chapter/*.flac``),
  at the root or in ``LibriSpeech/``: train / valid / test respectively.
- **generic**: every audio file; the split is the SHA-1 of its path relative to the root mod 10
  (0-7 train, 8 valid, 9 test), stable across machines and file additions.

Every file is decoded at construction (mono = mean of channels, resampled, cut by
:func:`unfold.data.clips.make_clips`), so a bad file is found then: unreadable or empty files are
skipped with a ``warnings.warn`` naming them. Files shorter than ``seconds`` are zero-padded
(``short="pad"``, default) or skipped (``short="skip"``). With ``n`` given, a seeded shuffle of the
split's files picks ``n`` usable ones. Memory: ``n * seconds * sample_rate`` floats.
"""

from __future__ import annotations

import hashlib
import random
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from unfold.data.clips import SpeechClips, make_clips, n_samples
from unfold.errors import InputDataError

AUDIO_SUFFIXES = (".wav", ".flac")


def _bucket(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest(), 16) % 10


def _audio_files(folder: Path) -> list[Path]:
    found = (p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    return sorted(p for p in found if p.is_file())


def _child(folder: Path, name: str) -> Path | None:
    for c in folder.iterdir():
        if c.is_dir() and c.name.lower() == name:
            return c
    return None


def split_files(root: Path, split: str) -> tuple[str, list[Path]]:
    """``(layout, files)`` of ``split`` under ``root`` (see module doc)."""
    train, test = _child(root, "train"), _child(root, "test")
    if train is not None and test is not None:
        if split == "test":
            files = _audio_files(test)
        else:
            want_valid = split == "valid"
            files = [p for p in _audio_files(train) if (_bucket(p.parent.name) == 8) == want_valid]
        return "timit", [p for p in files if not p.stem.upper().startswith("SA")]
    base = _child(root, "librispeech") or root
    prefix = {"train": "train-", "valid": "dev-", "test": "test-"}[split]
    subsets = [c for c in sorted(base.iterdir()) if c.is_dir() and c.name.startswith(
        ("train-", "dev-", "test-"))]
    if subsets:
        return "librispeech", [p for c in subsets if c.name.startswith(prefix)
                               for p in _audio_files(c)]
    want = {"train": range(8), "valid": (8,), "test": (9,)}[split]
    return "generic", [p for p in _audio_files(root)
                       if _bucket(p.relative_to(root).as_posix()) in want]


def _read_mono(path: Path) -> tuple[np.ndarray, int] | None:
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # noqa: BLE001 - any decoder failure means "skip this file"
        warnings.warn(f"skipping unreadable audio file {path}: {err}", stacklevel=3)
        return None
    if data.size == 0:
        warnings.warn(f"skipping empty audio file {path}", stacklevel=3)
        return None
    return data.mean(axis=1), int(rate)


def folder_corpus(
    root: str | Path,
    split: str,
    n: int | None,
    sample_rate: int,
    seconds: float = 2.0,
    seed: int = 0,
    short: str = "pad",
) -> SpeechClips:
    """Clips of ``split`` from the audio folder ``root`` (see module doc)."""
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise InputDataError(f"data folder {folder} does not exist")
    if short not in ("pad", "skip"):
        raise ValueError(f"short must be 'pad' or 'skip', got {short!r}")
    n_samples(seconds, sample_rate)  # validates
    layout, files = split_files(folder, split)
    random.Random(f"unfold-folder-{seed}").shuffle(files)
    chosen: list[tuple[Path, np.ndarray, int]] = []
    for path in files:
        if n is not None and len(chosen) == n:
            break
        read = _read_mono(path)
        if read is not None and (short == "pad" or len(read[0]) >= seconds * read[1]):
            chosen.append((path, *read))
    if not chosen or (n is not None and len(chosen) < n):
        raise InputDataError(
            f"{layout} folder {folder} has {len(chosen)} usable {split} files, "
            f"{'need ' + str(n) if n else 'need at least one'}"
        )
    by_rate: dict[int, list[int]] = defaultdict(list)
    for i, (_, _, rate) in enumerate(chosen):
        by_rate[rate].append(i)
    clips = np.zeros((len(chosen), n_samples(seconds, sample_rate)), np.float32)
    for rate, idx in by_rate.items():
        clips[idx] = make_clips([chosen[i][1] for i in idx], rate, sample_rate, seconds)[0]
    names = [str(p) for p, _, _ in chosen]
    return SpeechClips(torch.from_numpy(clips), sample_rate, names)
