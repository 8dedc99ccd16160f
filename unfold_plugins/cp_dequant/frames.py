"""Speech frames for dequantization: normalise, frame, keep the non-silent ones.

Each signal is scaled to peak just below 1 (``normalize_peak``: the paper's "normalised to the
interval (−1, 1) before framing"), cut into non-overlapping frames of n samples (a trailing part
shorter than n is dropped), and a frame is kept when it is *non-silent*:

.. math::

    \\mathrm{RMS}(y) = \\sqrt{\\tfrac1n \\sum_i y_i^2} \\ge 10^{\\mathrm{min\\_rms\\_db}/20}
    \\qquad (\\text{default } -30 \\text{ dB re full scale, i.e. } 0.0316).

Quieter frames quantise at 4 bits (η = 0.125) to nearly constant ±η/2 and carry no speech to
recover; −30 dB keeps about 77 % of the eSpeak frames. Quantisation (pointwise, so it commutes
with framing) happens per batch in the task, at the config's bit depth.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from unfold.errors import InputDataError
from unfold.signal.quantize import normalize_peak


def frame_signals(signals: torch.Tensor, n: int) -> torch.Tensor:
    """(items, samples) → (items · ⌊samples/n⌋, n) after peak normalisation of each item."""
    if signals.dim() != 2:
        raise ValueError(f"signals must be (items, samples), got shape {tuple(signals.shape)}")
    if signals.shape[1] < n:
        raise ValueError(f"signals of {signals.shape[1]} samples are shorter than one frame ({n})")
    sig = normalize_peak(signals.float())
    usable = sig.shape[1] // n * n
    return sig[:, :usable].reshape(-1, n)


def nonsilent(frames: torch.Tensor, min_rms_db: float | None = -30.0) -> torch.Tensor:
    """The rows of ``frames`` (m, n) whose RMS reaches ``min_rms_db`` dB re full scale; every
    row when ``min_rms_db`` is None (−∞ dB: the paper's protocol keeps all frames)."""
    if min_rms_db is None:
        return frames
    rms = frames.pow(2).mean(dim=1).sqrt()
    return frames[rms >= 10 ** (min_rms_db / 20)]


class Frames(Dataset):
    """Clean frames (m, n), float32; item i is the frame (n,)."""

    def __init__(self, frames: torch.Tensor) -> None:
        if frames.dim() != 2 or frames.shape[0] == 0:
            raise ValueError(f"need a non-empty (frames, n) tensor, got shape {tuple(frames.shape)}")
        self.frames = frames.float().contiguous()

    def __len__(self) -> int:
        return self.frames.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.frames[i]


def speech_frames(signals: torch.Tensor, n: int, min_rms_db: float | None, max_frames: int,
                  seed: int = 0) -> Frames:
    """Non-silent frames of ``signals``, at most ``max_frames`` (a seeded random subset; 0 = all)."""
    frames = nonsilent(frame_signals(signals, n), min_rms_db)
    if frames.shape[0] == 0:
        raise InputDataError(f"no frame of the corpus reaches {min_rms_db} dB RMS; lower "
                             "data.min_rms_db or check the audio")
    if max_frames and frames.shape[0] > max_frames:
        idx = torch.randperm(frames.shape[0], generator=torch.Generator().manual_seed(seed))
        frames = frames[idx[:max_frames].sort().values]
    return Frames(frames)
