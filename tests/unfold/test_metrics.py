import math

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from unfold import metrics as M


def _speech_like(n=3, sr=10000, seconds=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(sr * seconds)) / sr
    env = 0.5 * (1 + torch.sin(2 * math.pi * 3 * t))
    tones = sum(torch.sin(2 * math.pi * f * t) for f in (220, 440, 880, 1500))
    return (env * tones)[None].repeat(n, 1) + 0.01 * torch.randn(n, len(t), generator=g)


def test_snr_mse_known_values():
    ref = torch.tensor([[1.0, -1.0, 1.0, -1.0], [2.0, 0.0, 0.0, 0.0]])
    est = torch.tensor([[1.1, -0.9, 1.1, -0.9], [2.0, 0.0, 0.0, 0.0]])
    torch.testing.assert_close(M.mse(ref, est), torch.tensor([0.01, 0.0]))
    snr = M.snr_db(ref, est)
    assert snr[0].item() == pytest.approx(20.0, abs=1e-4)  # 4 / 0.04 = 100
    assert snr[1].item() > 150  # exact estimate: capped by eps, finite
    assert M.snr_db(ref[0], est[0]).shape == (1,)
    with pytest.raises(ValueError, match="shapes differ"):
        M.snr_db(ref, est[:, :3])


def test_si_sdr_is_scale_invariant():
    ref = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    noise = torch.tensor([[2.0, -1.0, 0.0, 0.0]])  # orthogonal to ref
    est = ref + noise
    expected = 10 * math.log10(30 / 5)
    assert M.si_sdr(ref, est).item() == pytest.approx(expected, abs=1e-4)
    assert M.si_sdr(ref, 3 * est).item() == pytest.approx(expected, abs=1e-4)


def test_sdr_close_to_snr_for_white_noise():
    ref = _speech_like(n=2)
    g = torch.Generator().manual_seed(3)
    est = ref + 0.1 * torch.randn(ref.shape, generator=g)
    sdr = M.sdr(ref, est)
    assert sdr.shape == (2,)
    np.testing.assert_allclose(sdr, M.snr_db(ref, est).numpy(), atol=0.5)
    assert M.sdr(ref, 0.5 * ref).min() > 60  # gains are allowed distortions in BSS Eval


def test_stoi_and_loss():
    sr = 10000
    clean = _speech_like(n=2, sr=sr, seconds=1.5)
    assert M.stoi(clean, clean, sr) == pytest.approx([1.0, 1.0], abs=1e-6)
    g = torch.Generator().manual_seed(4)
    noisy = clean + 2.0 * torch.randn(clean.shape, generator=g)
    s = M.stoi(clean.numpy(), noisy.numpy(), sr)
    assert s.shape == (2,) and (s < 0.95).all()
    e = M.stoi(clean, noisy, sr, extended=True)
    assert (e < s).all()  # ESTOI is stricter here
    loss = M.neg_stoi_loss(sr)
    assert loss(clean, clean).item() < -0.99
    assert loss(noisy, clean).dim() == 0 and loss(noisy, clean).item() > loss(clean, clean).item()


def test_spectral_convergence():
    x = torch.tensor([[3.0, 4.0]])
    y = torch.tensor([[3.0, 0.0]])
    assert M.spectral_convergence(x, y).item() == pytest.approx(0.8)
    assert M.spectral_convergence_db(x, y).item() == pytest.approx(20 * math.log10(0.8))
    cx = torch.polar(x, torch.tensor([[1.0, 2.0]]))
    assert M.spectral_convergence(cx, y).item() == pytest.approx(0.8)


def _ssim_reference(a, b):
    """skimage's algorithm (gaussian_weights=True, use_sample_covariance=False) in scipy."""
    f = lambda z: gaussian_filter(z, 1.5, truncate=3.5)  # noqa: E731 - 11 taps
    ua, ub = f(a), f(b)
    va, vb, cab = f(a * a) - ua**2, f(b * b) - ub**2, f(a * b) - ua * ub
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * ua * ub + c1) * (2 * cab + c2)) / ((ua**2 + ub**2 + c1) * (va + vb + c2))
    return s[5:-5, 5:-5].mean()


def test_ssim():
    rng = np.random.default_rng(0)
    a = rng.random((28, 28))
    b = np.clip(a + 0.1 * rng.standard_normal((28, 28)), 0, 1)
    got = M.ssim(torch.tensor(np.stack([a, a])), torch.tensor(np.stack([a, b])))
    assert got[0].item() == pytest.approx(1.0)
    assert got[1].item() == pytest.approx(_ssim_reference(a, b), abs=1e-10)
    # constant images: only the luminance term remains
    c = M.ssim(torch.full((20, 20), 0.2), torch.full((20, 20), 0.6))
    expected = (2 * 0.2 * 0.6 + 1e-4) / (0.2**2 + 0.6**2 + 1e-4)
    assert c.item() == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="at least 11x11"):
        M.ssim(torch.zeros(5, 5), torch.zeros(5, 5))


def test_summarize():
    s = M.summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s == {"mean": 22.0, "median": 3.0, "q1": 2.0, "q3": 4.0, "n": 5}
    assert M.summarize(torch.tensor([1.0, 3.0]))["mean"] == 2.0
    assert M.summarize(np.array([1.0]))["n"] == 1
    with pytest.raises(ValueError, match="at least one value"):
        M.summarize([])


def test_psnr_against_a_hand_value():
    from unfold.metrics import psnr

    ref = torch.tensor([[1.0, -2.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5]], dtype=torch.float64)
    est = torch.tensor([[1.0, -2.0, 1.0, 1.0], [0.5, 0.5, 0.5, 0.0]], dtype=torch.float64)
    # item 0: peak 2, MSE 1/4 -> 10 log10(4 / 0.25) = 10 log10 16; item 1: peak .5, MSE 1/16 -> 10 log10 4
    torch.testing.assert_close(psnr(ref, est), torch.tensor([12.041199826559248, 6.020599913279624],
                                                            dtype=torch.float64))
    torch.testing.assert_close(psnr(ref, est, data_range=1.0)[0],
                               torch.tensor(6.020599913279624, dtype=torch.float64))
    with pytest.raises(ValueError, match="data_range must be > 0"):
        psnr(ref, est, data_range=0.0)


def test_classical_depths():
    from unfold.methods import classical_depths, classical_methods

    assert classical_depths(15) == (15, 60, 240)
    assert classical_depths(4, (1, 2, 2)) == (4, 8)
    ms = classical_methods("ISTA", torch.nn.Identity(), 3)
    assert [(m.name, m.iterations, m.trained) for m in ms] == [("ISTA", 3, False), ("ISTA", 12, False),
                                                                 ("ISTA", 48, False)]
    with pytest.raises(ValueError, match="layers must be an integer >= 1"):
        classical_depths(0)
