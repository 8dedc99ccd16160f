import pytest
import torch

from unfold.signal.quantize import normalize_peak, quantize


@pytest.mark.parametrize("bits", [1, 4, 8, 16])
def test_error_within_half_step(bits):
    x = torch.linspace(-1, 1, 100_001, dtype=torch.float64)
    xq, eta = quantize(x, bits)
    assert eta == 2 / 2**bits
    assert (xq - x).abs().max() <= eta / 2 + 1e-12
    assert torch.unique(xq).numel() == min(2**bits, x.numel())


def test_four_bits_levels():
    xq, eta = quantize(torch.tensor([-1.0, -0.99, 0.0, 0.06, 0.99, 1.0]), 4)
    assert eta == 0.125
    torch.testing.assert_close(xq, torch.tensor([-0.9375, -0.9375, 0.0625, 0.0625, 0.9375, 0.9375]))


def test_custom_range_and_errors():
    xq, eta = quantize(torch.tensor([0.0, 3.9]), 2, lo=0.0, hi=4.0)
    assert eta == 1.0
    torch.testing.assert_close(xq, torch.tensor([0.5, 3.5]))
    for bad in (0, 17, 2.5, True):
        with pytest.raises(ValueError, match="bits must be an integer in 1..16"):
            quantize(torch.zeros(3), bad)
    with pytest.raises(ValueError, match="lo < hi"):
        quantize(torch.zeros(3), 4, lo=1.0, hi=1.0)


def test_normalize_peak():
    x = torch.tensor([[0.5, -2.0, 1.0], [0.0, 0.0, 0.0]])
    y = normalize_peak(x)
    assert y[0].abs().max() < 1 and y[0].abs().max() > 0.999
    torch.testing.assert_close(y[0] / y[0, 1], x[0] / x[0, 1])
    assert (y[1] == 0).all()
    torch.testing.assert_close(normalize_peak(x[0], peak=0.9).abs().max(), torch.tensor(0.9))
    with pytest.raises(ValueError, match="peak"):
        normalize_peak(x, peak=2.0)
