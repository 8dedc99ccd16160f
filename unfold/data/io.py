"""Reading and writing audio files with soundfile, for the plugins' audio commands.

Conversion on load: several channels -> their mean (mono); another sampling rate -> resampled with
``torchaudio.functional.resample`` (windowed sinc, its defaults). Each conversion done is listed in
the returned ``notes`` so callers can report it.

Refused on load (:class:`~unfold.errors.InputDataError`, one line): a missing file, one soundfile
cannot read (not audio, empty, truncated), one with no samples, one holding NaN or inf samples.
Refused on save: samples that are not all finite (nothing is written). :func:`check_output`
checks an output path *before* a command computes anything: an existing file without
``--force``, a path that is a folder, a missing folder, a folder that cannot be written, a name
longer than the file system allows. Writes are atomic (a temporary file in the target folder,
then ``os.replace``) and leave no temporary file behind on failure.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import soundfile as sf
import torch

from unfold.errors import InputDataError, OutputExistsError, RunDirError


def resample(x: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample ``(..., samples)`` from ``orig_rate`` to ``new_rate`` Hz (identity if equal)."""
    if orig_rate <= 0 or new_rate <= 0:
        raise InputDataError(f"sampling rates must be positive, got {orig_rate} and {new_rate}")
    if orig_rate == new_rate:
        return x
    import torchaudio.functional as AF  # imported only where a rate changes

    return AF.resample(x, orig_rate, new_rate)


def load_audio(path: str | os.PathLike, sample_rate: int | None
               ) -> tuple[torch.Tensor, int, list[str]]:
    """Load ``path`` as mono float32 ``(samples,)`` at ``sample_rate`` (None: the file's own).

    Returns ``(x, original_rate, notes)``. Raises ``InputDataError`` (a ``ValueError``) for a
    missing, unreadable, empty or non-finite file.
    """
    p = Path(path)
    if not p.is_file():
        raise InputDataError(f"audio file {p} does not exist" if not p.exists()
                             else f"audio input {p} is not a file")
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, OSError) as err:
        raise InputDataError(unreadable(p, err)) from None
    if data.shape[0] == 0:
        raise InputDataError(f"audio file {p} holds no samples")
    x = torch.from_numpy(data.T.copy())  # (channels, samples)
    bad = int((~torch.isfinite(x)).any(dim=0).sum())
    if bad:
        raise InputDataError(f"audio file {p} holds {bad} NaN or inf samples; "
                             "only finite samples can be processed")
    notes = []
    if x.shape[0] > 1:
        notes.append(f"{x.shape[0]} channels -> mean")
    x = x.mean(dim=0)
    target = rate if sample_rate is None else sample_rate
    if rate != target:
        notes.append(f"{rate} Hz -> {target} Hz")
        x = resample(x, rate, target)
    return x, int(rate), notes


def unreadable(p: Path, err: BaseException) -> str:
    """The one-line refusal of an audio file soundfile cannot read."""
    detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return f"cannot read audio file {p} (wav, flac or ogg expected): {detail}"


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def check_output(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """``path`` if a command may write it; otherwise one ``RunDirError`` line, before any work."""
    p = Path(path)
    folder = p.parent
    if not folder.is_dir():
        raise RunDirError(f"output folder {folder} does not exist; create it first")
    limit = _name_max(folder)
    if len(p.name.encode()) > limit:  # before any stat of p, which would fail on it
        raise RunDirError(f"output file name is {len(p.name.encode())} bytes long; this file "
                          f"system allows at most {limit}")
    if p.is_dir():
        raise RunDirError(f"output {p} is a folder; give a file name, e.g. {p / 'out.wav'}")
    if p.exists() and not overwrite:
        raise OutputExistsError(f"{p} exists; pass --force (overwrite=True) to replace it")
    if sf.available_formats().get(p.suffix.lstrip(".").upper()) is None:
        raise RunDirError(f"unknown audio format {p.suffix!r} for {p}; use .wav, .flac or .ogg")
    try:
        fd, probe = tempfile.mkstemp(prefix=".unfold-", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise RunDirError(f"output folder {folder} is not writable ({e.strerror or e})") from None
    return p


def save_audio(
    path: str | os.PathLike,
    x: torch.Tensor,
    sample_rate: int,
    overwrite: bool = False,
    subtype: str | None = None,
) -> Path:
    """Write mono ``x`` ``(samples,)`` to ``path`` (format from the extension), atomically.

    Refuses to replace an existing file unless ``overwrite=True``, and refuses samples that are
    not all finite (``InputDataError``; nothing written). ``subtype`` is soundfile's (default
    PCM_16 for wav: values outside [-1, 1] clip).
    """
    from unfold.data.stream import AudioWriter  # the one atomic writer (stream imports io)

    with AudioWriter(path, sample_rate, overwrite=overwrite, subtype=subtype) as out:
        out.write(x)
    return out.path


def progress_bar(total: int, desc: str) -> Any:
    """A tqdm bar on stderr for a long command, shown only when stderr is a terminal."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True,
                disable=not sys.stderr.isatty())
