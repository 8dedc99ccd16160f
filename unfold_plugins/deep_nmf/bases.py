"""SNMF bases per source from training spectrograms (paper section 5.3), cached on disk.

Frames ``(B, F, N)`` -> stacked context ``(T F, B N)``; frames whose energy is below 1e-4 of
the loudest are dropped (zero padding, silence), at most ``max_frames`` are kept (seeded draw),
W is initialised with exemplars and refined by ``n_iter`` SNMF iterations (β = 1, μ).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from unfold_plugins.deep_nmf.features import stack_context
from unfold_plugins.deep_nmf.snmf import exemplar_init, snmf


def frames_matrix(mags: torch.Tensor, context: int, max_frames: int, seed: int) -> torch.Tensor:
    """Stacked, non-silent training frames ``(T F, n)``, n <= max_frames."""
    x = stack_context(mags, context).transpose(0, 1).reshape(context * mags.shape[1], -1)
    energy = x[-mags.shape[1]:].sum(0)
    x = x[:, energy > 1e-4 * energy.max()]
    if x.shape[1] > max_frames:
        g = torch.Generator().manual_seed(seed)
        x = x[:, torch.randperm(x.shape[1], generator=g)[:max_frames]]
    return x


def learn_bases(mags: torch.Tensor, rank: int, context: int, mu: float, n_iter: int,
                max_frames: int, seed: int) -> tuple[torch.Tensor, list[float]]:
    """(W̃ ``(T F, rank)``, objective trace) of one source from its magnitudes ``(B, F, N)``."""
    v = frames_matrix(mags.float(), context, max_frames, seed)
    g = torch.Generator().manual_seed(seed)
    w0 = exemplar_init(v, rank, g)
    h0 = torch.full((rank, v.shape[1]), float(v.mean()) + 1e-6, dtype=v.dtype)
    res = snmf(v, w0, h0, n_iter, beta=1.0, mu=mu)
    return res.w.float(), res.objective


def cache_dir() -> Path:
    root = os.environ.get("UNFOLD_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "unfold") / "deep-nmf"


def cache_key(**settings: object) -> str:
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]
