"""The generative prior G: ℝ^k → ℝ^n, the decoder of a small VAE, trained once and cached.

Decoder (the paper's generator, 20-500-500-784 on MNIST; 10-100-100-64 on digits by default):

.. math::

    G(z) = σ(W_3\\,φ(W_2\\,φ(W_1 z + c_1) + c_2) + c_3), \\qquad φ ∈ \\{\\mathrm{relu}, \\mathrm{softplus}\\}

The VAE (Kingma & Welling) is fitted with Bernoulli likelihood + KL on the "train" split only, full
precision, fixed seed, one thread order: the same key gives the same weights. The decoder is
cached as ``$UNFOLD_CACHE/dpr/<key>.pt`` (default ``~/.cache/unfold/dpr``), written to a temporary
file then renamed, and loaded with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = ("relu", "softplus")


class Generator(nn.Module):
    """The decoder MLP: (batch, k) → (batch, n), outputs in (0, 1)."""

    def __init__(self, latent: int, hidden: tuple[int, ...], n: int, activation: str = "relu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"generator.activation must be one of {ACTIVATIONS}, got {activation!r}")
        if latent < 1 or latent > n:
            raise ValueError(f"latent dimension k must be in [1, n={n}], got {latent}")
        sizes = (latent, *hidden, n)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = activation
        self.latent, self.n = latent, n

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """The pre-sigmoid output, (batch, n)."""
        act = F.relu if self.activation == "relu" else F.softplus
        for layer in self.layers[:-1]:
            z = act(layer(z))
        return self.layers[-1](z)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(z))


class _Encoder(nn.Module):
    def __init__(self, n: int, hidden: tuple[int, ...], latent: int):
        super().__init__()
        sizes = (n, *reversed(hidden))
        self.body = nn.Sequential(*[m for a, b in zip(sizes[:-1], sizes[1:])
                                    for m in (nn.Linear(a, b), nn.ReLU())])
        self.head = nn.Linear(sizes[-1], 2 * latent)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.head(self.body(x)).chunk(2, dim=-1)
        return mu, logvar


def train_vae(images: torch.Tensor, latent: int, hidden: tuple[int, ...], activation: str = "relu",
              epochs: int = 200, lr: float = 1e-3, batch_size: int = 64, seed: int = 0) -> Generator:
    """Fit a VAE on ``images`` (count, n) in [0, 1]; returns its decoder in eval mode."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    n = images.shape[1]
    dec = Generator(latent, hidden, n, activation)
    enc = _Encoder(n, hidden, latent)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=lr)
    for _ in range(epochs):
        perm = torch.randperm(len(images), generator=g)
        for i in range(0, len(images), batch_size):
            x = images[perm[i:i + batch_size]]
            mu, logvar = enc(x)
            z = mu + torch.randn(mu.shape, generator=g) * (0.5 * logvar).exp()
            rec = F.binary_cross_entropy_with_logits(dec.logits(z), x, reduction="sum")
            kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum()
            opt.zero_grad()
            ((rec + kl) / len(x)).backward()
            opt.step()
    dec.eval()
    for p in dec.parameters():
        p.requires_grad_(False)
    return dec


def cache_dir() -> Path:
    root = os.environ.get("UNFOLD_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "unfold") / "dpr"


def cached_generator(images: torch.Tensor, dataset: str, latent: int, hidden: tuple[int, ...],
                     activation: str = "relu", epochs: int = 200, lr: float = 1e-3,
                     batch_size: int = 64, seed: int = 0) -> Generator:
    """The decoder for these settings, from the cache or trained now and cached atomically."""
    spec = {"dataset": dataset, "latent": latent, "hidden": list(hidden), "activation": activation,
            "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed,
            "count": len(images), "n": images.shape[1],
            "data": hashlib.sha256(images.numpy().tobytes()).hexdigest()[:16]}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"{dataset}-k{latent}-{key}.pt"
    dec = Generator(latent, hidden, images.shape[1], activation)
    if path.is_file():
        dec.load_state_dict(torch.load(path, weights_only=True, map_location="cpu")["state_dict"])
        dec.eval()
        for p in dec.parameters():
            p.requires_grad_(False)
        return dec
    dec = train_vae(images, latent, hidden, activation, epochs, lr, batch_size, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save({"state_dict": dec.state_dict(), "spec": json.dumps(spec)}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dec
