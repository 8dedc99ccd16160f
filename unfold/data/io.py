"""Reading and writing audio files with soundfile.

Conversion on load: several channels -> their mean (mono); another sampling rate -> resampled with
``torchaudio.functional.resample`` (windowed sinc, its defaults). Each conversion done is listed in
the returned ``notes`` so callers can report it.
"""

from __future__ import annotations

import os
from pathlib import Path

import soundfile as sf
import torch
import torchaudio.functional as AF


def resample(x: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample ``(..., samples)`` from ``orig_rate`` to ``new_rate`` Hz (identity if equal)."""
    if orig_rate <= 0 or new_rate <= 0:
        raise ValueError(f"sampling rates must be positive, got {orig_rate} and {new_rate}")
    return x if orig_rate == new_rate else AF.resample(x, orig_rate, new_rate)


def load_audio(path: str | os.PathLike, sample_rate: int) -> tuple[torch.Tensor, int, list[str]]:
    """Load ``path`` as mono float32 ``(samples,)`` at ``sample_rate``.

    Returns ``(x, original_rate, notes)``. Raises ``ValueError`` for a missing or unreadable file.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"audio file {p} does not exist")
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as err:
        raise ValueError(f"cannot read audio file {p}: {err}") from err
    notes = []
    x = torch.from_numpy(data.T.copy())  # (channels, samples)
    if x.shape[0] > 1:
        notes.append(f"{x.shape[0]} channels -> mean")
    x = x.mean(dim=0)
    if rate != sample_rate:
        notes.append(f"{rate} Hz -> {sample_rate} Hz")
        x = resample(x, rate, sample_rate)
    return x, int(rate), notes


def save_audio(
    path: str | os.PathLike,
    x: torch.Tensor,
    sample_rate: int,
    overwrite: bool = False,
    subtype: str | None = None,
) -> Path:
    """Write mono ``x`` ``(samples,)`` to ``path`` (format from the extension), atomically.

    Refuses to replace an existing file unless ``overwrite=True`` (``FileExistsError``).
    ``subtype`` is soundfile's (default PCM_16 for wav: values outside [-1, 1] clip).
    """
    p = Path(path)
    if x.dim() != 1:
        raise ValueError(f"x must be mono (samples,), got shape {tuple(x.shape)}")
    if p.exists() and not overwrite:
        raise FileExistsError(f"{p} exists; pass overwrite=True to replace it")
    fmt = p.suffix.lstrip(".").upper()
    if fmt not in sf.available_formats():
        raise ValueError(f"unknown audio format {p.suffix!r}; use one of .wav, .flac, .ogg")
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    sf.write(str(tmp), x.detach().cpu().float().numpy(), sample_rate, subtype=subtype, format=fmt)
    os.replace(tmp, p)
    return p
