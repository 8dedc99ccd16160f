r"""Evaluation metrics, pure functions, one value per item.

Conventions: inputs are ``(batch, ...)``; a 1-D input is a single item (result of length 1).
Torch metrics return a ``(batch,)`` tensor; metrics wrapping numpy libraries (STOI, SDR) return a
``(batch,)`` float64 ``np.ndarray``.

- :func:`snr_db`: :math:`10\log_{10}\|s\|^2 / \|s - \hat s\|^2`.
- :func:`psnr`: :math:`10\log_{10} R^2 / \tfrac1N\|s - \hat s\|^2`, R the data range (the
  peak :math:`\max_i |s_i|` of each reference when not given).
- :func:`si_sdr`: :math:`\alpha = \langle \hat s, s\rangle / \|s\|^2`,
  :math:`10\log_{10}\|\alpha s\|^2 / \|\alpha s - \hat s\|^2` (Le Roux et al. 2019; no mean
  removal).
- :func:`sdr`: BSS Eval SDR (Vincent et al. 2006) from ``mir_eval.separation.bss_eval_sources``,
  one source per item (512-tap distortion filter). mir_eval 0.8 deprecates that module (removal
  announced for 0.9, pointing to museval); its FutureWarning is silenced here.
- :func:`stoi`: pystoi (Taal et al. 2011; ``extended=True`` for ESTOI). Evaluation metric.
- :func:`neg_stoi_loss`: torch-stoi's differentiable approximation, for training only
  (:class:`unfold.nn.neg_stoi.NegSTOI`: the same function in fewer passes).
- :func:`spectral_convergence`: :math:`\||X| - |Y|\|_F / \||X|\|_F`.
- :func:`ssim`: Wang et al. 2004, Gaussian window 11x11, sigma 1.5, ``K1=0.01, K2=0.03``, data range
  1, statistics over the valid part only (as skimage's ``gaussian_weights=True,
  use_sample_covariance=False``), mean over the map.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

Array = Any  # np.ndarray or torch.Tensor


def _batch(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(1, -1) if x.dim() == 1 else x.reshape(x.shape[0], -1)


def _pair(ref: torch.Tensor, est: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if ref.shape != est.shape:
        raise ValueError(
            f"shapes differ: reference {tuple(ref.shape)}, estimate {tuple(est.shape)}"
        )
    return _batch(ref), _batch(est)


def _numpy_pair(ref: Array, est: Array) -> tuple[np.ndarray, np.ndarray]:
    r, e = (torch.as_tensor(np.asarray(v) if not torch.is_tensor(v) else v) for v in (ref, est))
    r2, e2 = _pair(r.detach().cpu().double(), e.detach().cpu().double())
    return r2.numpy(), e2.numpy()


def _ratio_db(num: torch.Tensor, den: torch.Tensor, eps: float = 1e-20) -> torch.Tensor:
    return 10 * torch.log10(num.clamp_min(eps) / den.clamp_min(eps))


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error per item ``(batch,)``."""
    a2, b2 = _pair(a, b)
    return ((a2 - b2) ** 2).mean(dim=1)


def snr_db(ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """Signal-to-noise ratio in dB per item ``(batch,)``."""
    r, e = _pair(ref, est)
    return _ratio_db((r**2).sum(1), ((r - e) ** 2).sum(1))


def psnr(ref: torch.Tensor, est: torch.Tensor, data_range: float | None = None) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per item ``(batch,)``.

    ``data_range``: R, e.g. 1 for images in [0, 1] or 255 for 8-bit ones; None takes each
    reference's peak magnitude.
    """
    r, e = _pair(ref, est)
    if data_range is not None and not data_range > 0:
        raise ValueError(f"data_range must be > 0 or None, got {data_range}")
    peak = r.abs().amax(1) if data_range is None else torch.full_like(r[:, 0], float(data_range))
    return _ratio_db(peak**2, ((r - e) ** 2).mean(1))


def si_sdr(ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """Scale-invariant SDR in dB per item ``(batch,)``."""
    r, e = _pair(ref, est)
    alpha = (r * e).sum(1, keepdim=True) / (r**2).sum(1, keepdim=True).clamp_min(1e-20)
    target = alpha * r
    return _ratio_db((target**2).sum(1), ((target - e) ** 2).sum(1))


def sdr(ref: Array, est: Array) -> np.ndarray:
    """BSS Eval SDR (dB) per item via ``mir_eval`` (a test extra; imported here)."""
    try:
        from mir_eval.separation import bss_eval_sources
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("sdr() needs mir_eval: pip install mir-eval") from err
    r, e = _numpy_pair(ref, est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return np.array([bss_eval_sources(r[i : i + 1], e[i : i + 1])[0][0] for i in range(len(r))])


def stoi(clean: Array, est: Array, sample_rate: int, extended: bool = False) -> np.ndarray:
    """STOI (or ESTOI) per item with pystoi, ``(batch,)`` float64."""
    from pystoi import stoi as _stoi

    c, e = _numpy_pair(clean, est)
    return np.array([_stoi(c[i], e[i], sample_rate, extended=extended) for i in range(len(c))])


class _MeanNegSTOI(torch.nn.Module):
    def __init__(self, sample_rate: int, extended: bool, use_vad: bool) -> None:
        super().__init__()
        from unfold.nn.neg_stoi import NegSTOI

        self.loss = NegSTOI(sample_rate, use_vad=use_vad, extended=extended)

    def forward(self, est: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """``est, clean: (batch, samples)`` -> scalar mean negative STOI."""
        return self.loss(est, clean).mean()


def neg_stoi_loss(
    sample_rate: int, extended: bool = False, use_vad: bool = True
) -> torch.nn.Module:
    """A module ``loss(est, clean) -> scalar``: torch-stoi negative STOI, mean over the batch."""
    return _MeanNegSTOI(sample_rate, extended, use_vad)


def spectral_convergence(target_mag: torch.Tensor, est_mag: torch.Tensor) -> torch.Tensor:
    """``|| |X| - |Y| ||_F / || |X| ||_F`` per item ``(batch,)``; complex inputs use ``abs``."""
    x, y = _pair(target_mag.abs(), est_mag.abs())
    return (x - y).norm(dim=1) / x.norm(dim=1).clamp_min(1e-20)


def spectral_convergence_db(target_mag: torch.Tensor, est_mag: torch.Tensor) -> torch.Tensor:
    """``20 log10`` of :func:`spectral_convergence` (lower is better)."""
    return 20 * torch.log10(spectral_convergence(target_mag, est_mag).clamp_min(1e-20))


def _gaussian_kernel(size: int, sigma: float, dtype: torch.dtype) -> torch.Tensor:
    t = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(
    img1: torch.Tensor, img2: torch.Tensor, win_size: int = 11, sigma: float = 1.5
) -> torch.Tensor:
    """Mean SSIM per image; ``img1, img2: (batch, H, W)`` or ``(H, W)`` with values in [0, 1]."""
    if img1.shape != img2.shape:
        raise ValueError(f"shapes differ: {tuple(img1.shape)} vs {tuple(img2.shape)}")
    if img1.dim() not in (2, 3):
        raise ValueError(f"images must be (H, W) or (batch, H, W), got {tuple(img1.shape)}")
    a = (img1 if img1.dim() == 3 else img1[None]).unsqueeze(1).to(torch.float64)
    b = (img2 if img2.dim() == 3 else img2[None]).unsqueeze(1).to(torch.float64)
    if min(a.shape[-2:]) < win_size:
        raise ValueError(
            f"images must be at least {win_size}x{win_size}, got {tuple(a.shape[-2:])}"
        )
    k = _gaussian_kernel(win_size, sigma, torch.float64).to(a.device)[None, None]

    def filt(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(z, k)

    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a**2
    var_b = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    s = num / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3)).to(img1.dtype if img1.is_floating_point() else torch.float64)


def summarize(values: Iterable[float] | Array) -> dict[str, float]:
    """``{"mean", "median", "q1", "q3", "n"}``: floats, ``n`` an int (as in results.json).

    Quartiles are numpy's linear-interpolation percentiles 25 and 75.
    """
    v = np.asarray(
        values.detach().cpu() if torch.is_tensor(values) else list(values), dtype=np.float64
    ).ravel()
    if v.size == 0:
        raise ValueError("summarize() needs at least one value, got none")
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return {"mean": float(v.mean()), "median": float(med), "q1": float(q1), "q3": float(q3),
            "n": int(v.size)}
