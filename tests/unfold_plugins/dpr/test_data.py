"""Digits splits, the MNIST IDX loader and the cached generator."""

import numpy as np
import pytest
import torch

from unfold_plugins.dpr import generator as gen
from unfold_plugins.dpr.data import load_images, read_idx_images


def test_digits_splits_are_disjoint_and_scaled():
    d = load_images("digits")
    assert {k: len(v) for k, v in d.items()} == {"train": 1437, "valid": 160, "test": 200}
    assert all(v.shape[1] == 64 and v.min() >= 0 and v.max() <= 1 for v in d.values())
    train = {tuple(r.tolist()) for r in d["train"]}
    assert not any(tuple(r.tolist()) in train for r in d["test"][:50])  # held out


def test_mnist_idx_files_are_read_and_validated(tmp_path, write_idx):
    rng = np.random.default_rng(0)
    train, test = rng.integers(0, 256, (5003, 784)), rng.integers(0, 256, (7, 784))
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", train)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", test)
    d = load_images("mnist", str(tmp_path))
    assert [len(d[k]) for k in ("train", "valid", "test")] == [3, 5000, 7]
    np.testing.assert_allclose(d["test"].numpy(), test / 255.0, rtol=1e-6)
    bad = tmp_path / "bad"
    bad.mkdir()
    write_idx(bad / "x", test, magic=2049)
    with pytest.raises(ValueError, match="magic 2049"):
        read_idx_images(bad / "x")
    write_idx(bad / "y", test, count=9)
    with pytest.raises(ValueError, match="header says 9"):
        read_idx_images(bad / "y")
    with pytest.raises(ValueError, match="not found"):
        load_images("mnist", str(bad))
    with pytest.raises(ValueError, match="needs data.root"):
        load_images("mnist")
    with pytest.raises(ValueError, match="allowed: digits, mnist"):
        load_images("cifar")


def test_generator_is_deterministic_cached_atomically_and_reloaded(monkeypatch):
    images = load_images("digits")["train"][:200]
    args = (images, "digits", 4, (16,), "softplus", 2, 1e-3, 64, 0)
    G1 = gen.cached_generator(*args)
    files = list(gen.cache_dir().glob("*.pt"))
    assert len(files) == 1 and not list(gen.cache_dir().glob("*.tmp"))
    fresh = gen.train_vae(images, 4, (16,), "softplus", epochs=2)
    for a, b in zip(G1.parameters(), fresh.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)

    def no_training(*a, **k):
        raise AssertionError("a cached generator must not be retrained")

    monkeypatch.setattr(gen, "train_vae", no_training)
    G2 = gen.cached_generator(*args)
    z = torch.randn(5, 4)
    torch.testing.assert_close(G1(z), G2(z), rtol=0, atol=0)
    assert 0 < G2(z).min() and G2(z).max() < 1 and not any(p.requires_grad for p in G2.parameters())
