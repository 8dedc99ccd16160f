"""Speech corpora: the offline eSpeak NG corpus and folder corpora (TIMIT, LibriSpeech, any).

Items are float32 tensors ``(samples,)`` of ``round(seconds * sample_rate)`` samples, starting at
the speech onset and scaled to peak 0.9 (see :mod:`unfold.data.clips`).
"""

from __future__ import annotations

from unfold.data.clips import SpeechClips
from unfold.data.espeak import SPLITS, espeak_corpus
from unfold.data.folder import folder_corpus
from unfold.data.io import load_audio, save_audio

__all__ = [
    "SpeechClips", "espeak_corpus", "folder_corpus", "load_audio", "save_audio", "speech_dataset",
]


def speech_dataset(
    root: str | None,
    split: str,
    n: int | None,
    sample_rate: int,
    seconds: float = 2.0,
    seed: int = 0,
    voices: list[str] | None = None,
) -> SpeechClips:
    """The ``split`` of a speech corpus: eSpeak when ``root`` is None, else the folder ``root``.

    ``n``: number of utterances (required for eSpeak; None takes every usable file of a folder).
    ``voices`` applies to eSpeak only (e.g. ``["en+f3", "en-us+m1"]``).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if root is None:
        if n is None:
            raise ValueError("n (number of utterances) is required for the eSpeak corpus")
        return espeak_corpus(split, n, sample_rate, seconds, seed, voices)
    if voices is not None:
        raise ValueError("voices only applies to the eSpeak corpus (root=None)")
    return folder_corpus(root, split, n, sample_rate, seconds, seed)
