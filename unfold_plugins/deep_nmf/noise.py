"""Non-stationary noise synthesised offline, and mixing at a given SNR.

Classes (every one scaled to unit RMS; ``synth_noise(kind, ...)``):

- ``pink`` / ``brown``: Gaussian noise with power spectrum ∝ 1/f and 1/f² (shaped in the
  frequency domain, a 20 Hz floor), slowly varying in level (±6 dB random walk).
- ``modulated``: pink noise amplitude-modulated by 1 + 0.8 sin(2π f_m t) with f_m ∈ [0.5, 4] Hz
  times a random on/off gate (bursts of 0.1–0.6 s): traffic / fan-with-gusts like.
- ``machinery``: a motor hum (fundamental 40–120 Hz, 12 harmonics with 1/k amplitudes and slow
  frequency drift) on brown noise, plus periodic impacts (a press or a pump).
- ``cafe``: clatter (sparse exponentially decaying band-pass bursts: cutlery, dishes), a faint
  babble of two talkers and a 50 Hz mains hum with harmonics.
- ``babble``: the sum of six talkers from held-out corpus voices (``talkers`` argument).

TRAIN_NOISES and TEST_NOISES share no class, as in CHiME (test noise is unseen in training).
"""

from __future__ import annotations

import math
from typing import cast

import torch

Tensor = torch.Tensor

TRAIN_NOISES = ("pink", "modulated", "machinery")
TEST_NOISES = ("brown", "babble", "cafe")
KINDS = TRAIN_NOISES + TEST_NOISES


def _unit_rms(x: Tensor) -> Tensor:
    return x / x.pow(2).mean().sqrt().clamp_min(1e-12)


def _rand(g: torch.Generator, lo: float = 0.0, hi: float = 1.0) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=g))


def coloured(n: int, sample_rate: int, exponent: float, g: torch.Generator) -> Tensor:
    """Gaussian noise with power ∝ 1/f^exponent ``(n,)``."""
    spec = torch.fft.rfft(torch.randn(n, generator=g, dtype=torch.float64))
    f = torch.fft.rfftfreq(n, 1 / sample_rate, dtype=torch.float64).clamp_min(20.0)
    return _unit_rms(torch.fft.irfft(spec / f ** (exponent / 2), n=n).float())


def _level_walk(n: int, sample_rate: int, g: torch.Generator, db: float = 6.0) -> Tensor:
    steps = max(2, n // (sample_rate // 10))
    walk = torch.randn(steps, generator=g).cumsum(0)
    walk = db * walk / walk.abs().max().clamp_min(1e-6)
    gain = 10 ** (walk / 20)
    return torch.nn.functional.interpolate(gain[None, None], size=n, mode="linear")[0, 0]


def _bursts(n: int, sample_rate: int, g: torch.Generator, rate: float, decay: tuple[float, float],
            band: tuple[float, float]) -> Tensor:
    """Sparse decaying band-pass bursts at ``rate`` per second."""
    out = torch.zeros(n)
    t = torch.arange(n) / sample_rate
    for _ in range(int(torch.poisson(torch.tensor(rate * n / sample_rate), generator=g))):
        start = int(_rand(g, 0, n))
        tau = _rand(g, *decay)
        f0 = _rand(g, *band)
        length = min(n - start, int(6 * tau * sample_rate))
        tt = t[:length]
        ring = torch.sin(2 * math.pi * f0 * tt + _rand(g, 0, 6.28)) * torch.exp(-tt / tau)
        out[start : start + length] += _rand(g, 0.3, 1.0) * ring * (1 + 0.5 * torch.randn(
            length, generator=g))
    return out


def _hum(n: int, sample_rate: int, f0: float, n_harm: int, g: torch.Generator) -> Tensor:
    t = torch.arange(n, dtype=torch.float64) / sample_rate
    drift = 1 + 0.01 * torch.sin(2 * math.pi * _rand(g, 0.05, 0.3) * t)
    phase = 2 * math.pi * f0 * torch.cumsum(drift, 0) / sample_rate
    x = cast(Tensor, sum(torch.sin(k * phase + _rand(g, 0, 6.28)) / k for k in range(1, n_harm + 1)
                         if k * f0 < sample_rate / 2))  # f0 < Nyquist: never the empty sum 0
    return _unit_rms(x.float())


def synth_noise(kind: str, n: int, sample_rate: int, g: torch.Generator,
                talkers: list[Tensor] | None = None) -> Tensor:
    """One noise signal ``(n,)`` of class ``kind`` at unit RMS (see module doc)."""
    if kind == "pink":
        return _unit_rms(coloured(n, sample_rate, 1.0, g) * _level_walk(n, sample_rate, g))
    if kind == "brown":
        return _unit_rms(coloured(n, sample_rate, 2.0, g) * _level_walk(n, sample_rate, g))
    if kind == "modulated":
        t = torch.arange(n) / sample_rate
        am = 1 + 0.8 * torch.sin(2 * math.pi * _rand(g, 0.5, 4.0) * t + _rand(g, 0, 6.28))
        gate = torch.ones(n)
        pos = 0
        while pos < n:
            length = int(_rand(g, 0.1, 0.6) * sample_rate)
            if _rand(g) < 0.3:
                gate[pos : pos + length] = 0.15
            pos += length
        return _unit_rms(coloured(n, sample_rate, 1.0, g) * am * gate)
    if kind == "machinery":
        impacts = _bursts(n, sample_rate, g, rate=_rand(g, 1.0, 3.0), decay=(0.01, 0.05),
                          band=(200.0, 2500.0))
        return _unit_rms(_hum(n, sample_rate, _rand(g, 40, 120), 12, g)
                         + 0.5 * coloured(n, sample_rate, 2.0, g) + 2.0 * _unit_rms(impacts))
    if kind == "cafe":
        clatter = _bursts(n, sample_rate, g, rate=_rand(g, 3.0, 8.0), decay=(0.005, 0.03),
                          band=(1500.0, 7000.0))
        crowd = _babble(talkers, n, g, 2) if talkers else coloured(n, sample_rate, 1.0, g)
        return _unit_rms(1.5 * _unit_rms(clatter) + crowd + 0.3 * _hum(n, sample_rate, 50.0, 6, g))
    if kind == "babble":
        if not talkers:
            raise ValueError("babble noise needs talkers (a list of speech signals)")
        return _babble(talkers, n, g, 6)
    raise ValueError(f"unknown noise kind {kind!r}; allowed: {', '.join(KINDS)}")


def _babble(talkers: list[Tensor], n: int, g: torch.Generator, count: int) -> Tensor:
    out = torch.zeros(n)
    for i in torch.randint(len(talkers), (count,), generator=g).tolist():
        x = talkers[i]
        shift = int(torch.randint(len(x), (), generator=g))
        x = torch.roll(x, shift)
        reps = -(-n // len(x))
        out += _unit_rms(x.repeat(reps)[:n])
    return _unit_rms(out)


def mix(clean: Tensor, noise: Tensor, snr_db: float) -> Tensor:
    """clean + a·noise with 10 log10(‖clean‖² / ‖a·noise‖²) = snr_db."""
    if clean.shape != noise.shape:
        raise ValueError(f"clean {tuple(clean.shape)} and noise {tuple(noise.shape)} differ")
    pc, pn = clean.pow(2).sum(), noise.pow(2).sum().clamp_min(1e-20)
    return clean + noise * torch.sqrt(pc / (pn * 10 ** (snr_db / 10)))
