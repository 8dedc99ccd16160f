"""Clips of fixed length and the in-memory dataset every corpus returns.

Clip preparation (:func:`make_clips`), the same for all corpora:

1. skip leading silence: start at the first sample whose magnitude reaches 1 % of the peak,
   less 10 ms of lead-in;
2. resample to the target rate (all clips in one batched ``torchaudio`` call);
3. keep ``round(seconds * sample_rate)`` samples; pad a shorter remainder with zeros at the end;
4. scale each clip to peak 0.9 (headroom for outputs that overshoot; silent clips stay 0).

Per-utterance work is numpy: tiny torch ops pay thread-pool overhead on busy machines.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from unfold.data.io import resample

PEAK = 0.9
SILENCE_REL = 0.01
LEAD_IN_SECONDS = 0.01


def n_samples(seconds: float, sample_rate: int) -> int:
    """Clip length in samples; ``ValueError`` unless positive."""
    if seconds <= 0 or sample_rate <= 0:
        raise ValueError(f"seconds and sample_rate must be > 0, got {seconds} and {sample_rate}")
    return int(round(seconds * sample_rate))


def speech_start(x: np.ndarray, sample_rate: int) -> int:
    """Index where speech starts in mono ``x`` ``(samples,)`` (see module doc)."""
    mag = np.abs(x)
    if mag.size == 0 or mag.max() == 0:
        return 0
    first = int(np.argmax(mag >= SILENCE_REL * mag.max()))
    return max(0, first - int(LEAD_IN_SECONDS * sample_rate))


def make_clips(
    signals: list[np.ndarray], orig_rate: int, sample_rate: int, seconds: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(clips (n, samples) float32, padded (n,) bool)`` from mono signals at ``orig_rate``."""
    length = n_samples(seconds, sample_rate)
    need = int(np.ceil(seconds * orig_rate)) + 64  # margin for the resampling filter
    segs = [s[speech_start(s, orig_rate) :][:need] for s in signals]
    padded = np.array([len(s) < seconds * orig_rate for s in segs], dtype=bool)
    batch = np.zeros((len(segs), need), np.float32)
    for i, s in enumerate(segs):
        batch[i, : len(s)] = s
    out = resample(torch.from_numpy(batch), orig_rate, sample_rate).numpy()[:, :length]
    clips = np.zeros((len(segs), length), np.float32)
    clips[:, : out.shape[1]] = out
    peak = np.abs(clips).max(axis=1, keepdims=True)
    clips *= np.where(peak > 0, PEAK / np.maximum(peak, 1e-30), 0.0).astype(np.float32)
    return clips, padded


class SpeechClips(Dataset):
    """Equal-length clips ``(n, samples)`` float32; item ``i`` is ``(samples,)``.

    ``names[i]`` says where clip ``i`` came from (file path, or voice and sentence).
    """

    def __init__(self, clips: torch.Tensor, sample_rate: int, names: list[str]) -> None:
        if clips.dim() != 2 or clips.shape[0] != len(names):
            raise ValueError(f"clips must be (n, samples) with n names, got {tuple(clips.shape)}")
        self.clips, self.sample_rate, self.names = clips.float(), sample_rate, names

    def __len__(self) -> int:
        return self.clips.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.clips[i]
