"""``Enhancer.blocks``: small blocks equal enhancing the whole mixture (context margin)."""

import pytest
import torch

from unfold_plugins.deep_nmf.deep_nmf import DeepNMF
from unfold_plugins.deep_nmf.enhance import Enhancer

TOL = 1e-5  # block vs whole, max abs sample difference (float32 rounding: measured ~1e-8)


def _enhancer(context=5):
    w = torch.rand(context * 200, 8, generator=torch.Generator().manual_seed(0)) + 0.01
    return Enhancer(DeepNMF(3, w, n_speech=4, n_freq=200, mu=1.0, tying="partial:1").eval(),
                    16000)


def _reader(x):
    def read(a, b):
        out = torch.zeros(b - a)
        lo, hi = max(a, 0), min(b, x.numel())
        out[lo - a : hi - a] = x[lo:hi]
        return out
    return read


@pytest.mark.parametrize("n", [8000, 8123])
def test_small_blocks_equal_the_whole_mixture(n):
    enh = _enhancer()
    x = 0.2 * torch.randn(n, generator=torch.Generator().manual_seed(1))
    whole = enh(x)
    blocks = torch.cat(list(enh.blocks(_reader(x), n, block_frames=7)))
    assert blocks.shape == whole.shape
    assert float((blocks - whole).abs().max()) <= TOL * float(whole.abs().max())


def test_blocks_refuse_a_mixture_shorter_than_the_context():
    with pytest.raises(ValueError, match="context window"):
        list(_enhancer().blocks(_reader(torch.zeros(100)), 100, block_frames=7))
