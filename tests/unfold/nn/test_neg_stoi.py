"""NegSTOI: the same values and gradients as torch-stoi's NegSTOILoss, in fewer passes."""

import warnings

import pytest
import torch

from unfold.nn.neg_stoi import NegSTOI, power_spectrum


def speech_like(batch: int, samples: int, rate: int, seed: int = 0) -> torch.Tensor:
    """Bursts of harmonic sound between near-silent gaps, so the VAD drops some frames."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / rate
    f0 = 100 + 150 * torch.rand(batch, 1, generator=g)
    voiced = sum(torch.sin(2 * torch.pi * k * f0 * t) / k for k in range(1, 6))
    envelope = (torch.sin(2 * torch.pi * (1.5 + torch.rand(batch, 1, generator=g)) * t) > 0.2).float()
    return voiced * envelope + 1e-4 * torch.randn(batch, samples, generator=g)


def reference(rate: int, extended: bool, use_vad: bool):
    from torch_stoi import NegSTOILoss

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return NegSTOILoss(rate, use_vad=use_vad, extended=extended)


def ours(rate: int, extended: bool, use_vad: bool) -> NegSTOI:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return NegSTOI(rate, use_vad=use_vad, extended=extended)


@pytest.mark.parametrize("rate", [22050, 16000, 10000])
@pytest.mark.parametrize("extended", [False, True])
@pytest.mark.parametrize("use_vad", [True, False])
def test_values_and_gradients_equal_torch_stoi(rate, extended, use_vad):
    clean = speech_like(3, int(1.6 * rate), rate)
    noisy = clean + 0.3 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    est_ref, est = noisy.clone().requires_grad_(), noisy.clone().requires_grad_()
    want = reference(rate, extended, use_vad)(est_ref, clean)
    got = ours(rate, extended, use_vad)(est, clean)
    torch.testing.assert_close(got, want, atol=2e-6, rtol=0)
    (want * torch.tensor([1.0, -2.0, 0.5])).sum().backward()
    (got * torch.tensor([1.0, -2.0, 0.5])).sum().backward()
    assert torch.isfinite(est.grad).all()
    scale = est_ref.grad.abs().max()
    torch.testing.assert_close(est.grad / scale, est_ref.grad / scale, atol=1e-5, rtol=0)


def test_a_perfect_estimate_scores_one_and_refuses_mismatched_shapes():
    clean = speech_like(2, 16000, 10000)
    loss = ours(10000, False, True)
    torch.testing.assert_close(loss(clean, clean), torch.full((2,), -1.0), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="one shape"):
        loss(clean[:, :-1], clean)


def test_other_shapes_as_torch_stoi():
    clean = speech_like(4, 16000, 16000)
    noisy = clean + 0.2 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(5))
    loss, ref = ours(16000, False, True), reference(16000, False, True)
    torch.testing.assert_close(loss(noisy[0], clean[0]), ref(noisy[0], clean[0]), atol=2e-6, rtol=0)
    three = loss(noisy.view(2, 2, -1), clean.view(2, 2, -1))
    assert three.shape == (2, 2)
    torch.testing.assert_close(three, ref(noisy.view(2, 2, -1), clean.view(2, 2, -1)), atol=2e-6,
                               rtol=0)


@pytest.mark.parametrize("length, n", [(6, 12), (5, 9), (8, 8)])
def test_power_spectrum_gradient(length, n):
    frames = torch.randn(2, 3, length, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f: power_spectrum(f, n), (frames,))
    torch.testing.assert_close(power_spectrum(frames, n), torch.fft.rfft(frames, n=n).abs() ** 2)
