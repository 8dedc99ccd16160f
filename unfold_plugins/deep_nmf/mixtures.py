"""Noisy-speech mixtures, made offline: clean utterances + synthetic or user noise at given SNRs.

Items are dicts ``{"noisy": (samples,), "clean": (samples,), "snr": float, "noise": str}``.
Item i of a split uses utterance ``i // len(snrs)`` at SNR ``snrs[i % len(snrs)]`` when
``every_snr`` (test: each utterance at every SNR, for paired per-SNR comparisons), else
utterance i at SNR ``snrs[i % len(snrs)]``; the noise class is ``noises[(i // len(snrs)) %
len(noises)]`` (every class meets every SNR). Noise
signals are drawn from a generator seeded by ``(seed, split, i)``, so a split is reproducible
item by item. A user noise folder replaces the synthetic classes: random crops of its clips.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence, Sized
from typing import cast

import torch
from torch.utils.data import Dataset

from unfold_plugins.deep_nmf.noise import mix, synth_noise


class Mixtures(Dataset):
    def __init__(self, speech: Dataset, snrs: Sequence[float], noises: Sequence[str],
                 sample_rate: int, seed: int, split: str, every_snr: bool = False,
                 talkers: list[torch.Tensor] | None = None,
                 noise_clips: Dataset | None = None) -> None:
        if not snrs:
            raise ValueError("snrs must list at least one SNR in dB")
        if noise_clips is None and not noises:
            raise ValueError("noises must list at least one noise class")
        self.speech, self.snrs, self.noises = speech, tuple(snrs), tuple(noises)
        self.sample_rate, self.every_snr = sample_rate, every_snr
        self.talkers, self.noise_clips = talkers, noise_clips
        self.seed = (seed * 1_000_003 + zlib.crc32(split.encode())) % 2**62

    def __len__(self) -> int:
        return len(cast(Sized, self.speech)) * (len(self.snrs) if self.every_snr else 1)

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < len(self):
            raise IndexError(i)
        utt = i // len(self.snrs) if self.every_snr else i
        clean = self.speech[utt]
        snr = float(self.snrs[i % len(self.snrs)])
        g = torch.Generator().manual_seed(self.seed + i)
        if self.noise_clips is not None:
            j = int(torch.randint(len(cast(Sized, self.noise_clips)), (), generator=g))
            clip = self.noise_clips[j]
            noise = torch.roll(clip, int(torch.randint(len(clip), (), generator=g)))
            noise = noise.repeat(-(-len(clean) // len(noise)))[: len(clean)]
            kind = f"user:{j}"
        else:
            kind = self.noises[(i // len(self.snrs)) % len(self.noises)]
            noise = synth_noise(kind, len(clean), self.sample_rate, g, self.talkers)
        return {"noisy": mix(clean, noise, snr), "clean": clean, "snr": snr, "noise": kind}
