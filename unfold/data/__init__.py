"""Speech corpora: the offline eSpeak NG corpus (default), the optional Piper corpus (extra
``unfold[piper]``) and folder corpora (TIMIT, LibriSpeech, any).

Items are float32 tensors ``(samples,)`` of ``round(seconds * sample_rate)`` samples, starting at
the speech onset and scaled to peak 0.9 (see :mod:`unfold.data.clips`).

The names below are imported lazily: importing ``unfold.data.corpora`` (the config-time check of
``data.corpus``) does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unfold.data.clips import SpeechClips

_EXPORTS = {
    "CORPORA": "unfold.data.corpora",
    "check_corpus": "unfold.data.corpora",
    "SpeechClips": "unfold.data.clips",
    "espeak_corpus": "unfold.data.espeak",
    "piper_corpus": "unfold.data.piper",
    "folder_corpus": "unfold.data.folder",
    "load_audio": "unfold.data.io",
    "save_audio": "unfold.data.io",
}

__all__ = [*_EXPORTS, "speech_dataset"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'unfold.data' has no attribute {name!r}")


def speech_dataset(
    root: str | None,
    split: str,
    n: int | None,
    sample_rate: int,
    seconds: float = 2.0,
    seed: int = 0,
    voices: list[str] | None = None,
    corpus: str = "espeak",
) -> SpeechClips:
    """The ``split`` of a speech corpus: the synthetic ``corpus`` (``espeak`` or ``piper``) when
    ``root`` is None, else the folder ``root``.

    ``n``: number of utterances (required for a synthetic corpus; None takes every usable file of
    a folder). ``voices`` applies to eSpeak only (e.g. ``["en+f3", "en-us+m1"]``).
    """
    from unfold.data.corpora import check_corpus
    from unfold.data.espeak import SPLITS, espeak_corpus
    from unfold.data.folder import folder_corpus
    from unfold.data.piper import piper_corpus

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if voices is not None and (root is not None or corpus != "espeak"):
        raise ValueError("voices only applies to the eSpeak corpus (root=None, corpus='espeak')")
    check_corpus(corpus, key="corpus", folder=None if root is None else f"root={root}")
    if root is not None:
        return folder_corpus(root, split, n, sample_rate, seconds, seed)
    if n is None:
        raise ValueError(f"n (number of utterances) is required for the {corpus} corpus")
    if corpus == "piper":
        return piper_corpus(split, n, sample_rate, seconds, seed)
    return espeak_corpus(split, n, sample_rate, seconds, seed, voices)
