"""The fast STFT overlap-add and the real-arithmetic modulus against the implementations they
replaced (kept here as references): F.fold-based overlap-add, torch.abs."""

import math

import pytest
import torch
import torch.nn.functional as F

from unfold.signal.modulus import modulus, with_phase_of
from unfold.signal.stft import STFT

CONFIGS = [
    {},
    {"window": "sqrt-hann", "pad_mode": "reflect"},
    {"n_fft": 400, "hop": 160, "window": "sqrt-hann", "drop_nyquist": True},
    {"n_fft": 64, "hop": 24, "pad_mode": "reflect"},
    {"n_fft": 64, "hop": 16},
]
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


def reference_adjoint(op: STFT, spec: torch.Tensor, length: int) -> torch.Tensor:
    """A^H by F.fold (col2im), the implementation before the fast overlap-add."""
    left, right = op._pads(length)
    if op.drop_nyquist:
        spec = F.pad(spec, (0, 0, 0, 1))
    frames = torch.fft.irfft(spec.transpose(1, 2), n=op.n_fft, norm="ortho")
    frames = frames * op.window.to(frames.dtype)
    y = F.fold(frames.transpose(1, 2), output_size=(1, left + length + right),
               kernel_size=(1, op.n_fft), stride=(1, op.hop)).reshape(spec.shape[0], -1)
    half = op.n_fft // 2
    x = y[:, half : half + length].clone()
    if op.pad_mode == "reflect":
        x[:, 1 : half + 1] += y[:, :half].flip(-1)
        x[:, length - 1 - half : length - 1] += y[:, half + length :].flip(-1)
    return x


def reference_inverse(op: STFT, spec: torch.Tensor, length: int) -> torch.Tensor:
    """torch.istft-style least squares: windowed OLA over the window-square envelope."""
    left, right = op._pads(length)
    if op.drop_nyquist:
        spec = F.pad(spec, (0, 0, 0, 1))
    frames = torch.fft.irfft(spec.transpose(1, 2), n=op.n_fft, norm="ortho")
    w = op.window.to(frames.dtype)

    def fold(fr):
        return F.fold(fr.transpose(1, 2), output_size=(1, left + length + right),
                      kernel_size=(1, op.n_fft), stride=(1, op.hop)).reshape(fr.shape[0], -1)

    half = op.n_fft // 2
    y = fold(frames * w)[:, half : half + length]
    env = fold((w**2).expand(1, frames.shape[1], -1))[:, half : half + length]
    return y / env


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize("length", [3001, 4096])
def test_adjoint_and_inverse_equal_the_fold_reference(kwargs, length, dtype):
    op = STFT(**kwargs)
    g = torch.Generator().manual_seed(3)
    spec = op(torch.randn(2, length, generator=g, dtype=dtype))
    spec = spec + 0.1 * torch.randn(spec.shape, generator=g, dtype=spec.dtype)  # not consistent
    tol = TOL[dtype]
    torch.testing.assert_close(op.adjoint(spec, length), reference_adjoint(op, spec, length),
                               rtol=tol, atol=tol)
    torch.testing.assert_close(op.inverse(spec, length), reference_inverse(op, spec, length),
                               rtol=tol, atol=tol)


def test_inverse_envelope_cache_is_bounded_and_per_length():
    op = STFT(64, 32)
    for length in range(200, 220):
        x = torch.randn(1, length, dtype=torch.float64)
        torch.testing.assert_close(op.inverse(op(x), length), x, rtol=1e-12, atol=1e-12)
    assert len(op._envelope_cache) <= 8


def test_cached_window_works_with_autograd_after_inference_mode():
    op = STFT(64, 32, length=300)
    with torch.inference_mode():
        op.inverse(op(torch.randn(1, 300)))
    x = torch.randn(1, 300, requires_grad=True)
    op.inverse(op(x)).pow(2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_fast_overlap_add_gradient_float64():
    op = STFT(16, 8, length=50)
    x = torch.randn(2, 50, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: op.adjoint(op(v) * 1.5).sin(), (x,))


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_modulus_equals_abs(dtype):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4, 33, 17, generator=g, dtype=dtype) * torch.logspace(-6, 3, 17)
    real = z.real.dtype
    torch.testing.assert_close(modulus(z), z.abs(), rtol=4 * torch.finfo(real).eps, atol=0)


def test_modulus_gradient_is_abs_gradient_and_zero_at_zero():
    z = torch.randn(50, dtype=torch.complex128)
    z[0] = 0
    z1 = z.clone().requires_grad_()
    z2 = z.clone().requires_grad_()
    (g1,) = torch.autograd.grad((modulus(z1) * torch.arange(50.0)).sum(), z1)
    (g2,) = torch.autograd.grad((z2.abs() * torch.arange(50.0)).sum(), z2)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=0)
    assert g1[0] == 0
    assert float(modulus(torch.zeros(1, dtype=torch.complex64))) <= math.sqrt(
        torch.finfo(torch.float32).tiny) * 1.0001


@pytest.mark.parametrize("kwargs", [{}, {"pad_mode": "reflect"}, {"hop": 6, "drop_nyquist": True},
                                    {"hop": 4}])
def test_hand_written_backward_of_analysis_and_adjoint(kwargs):
    op = STFT(16, kwargs.pop("hop", 8), **kwargs)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 41, generator=g, dtype=torch.float64, requires_grad=True)
    spec = op(x).detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(op, (x,))
    assert torch.autograd.gradcheck(lambda s: op.adjoint(s, 41), (spec,))
    assert torch.autograd.gradgradcheck(op, (x,))
    assert torch.autograd.gradgradcheck(lambda s: op.adjoint(s, 41), (spec,))


def test_modulus_gradcheck():
    z = torch.randn(3, 5, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(modulus, (z,))
    assert torch.autograd.gradgradcheck(modulus, (z,))


def test_with_phase_of_equals_reference_and_gradcheck():
    g = torch.Generator().manual_seed(7)
    z = torch.randn(4, 9, generator=g, dtype=torch.complex128)
    z[0, 0] = 0
    m = torch.rand(4, 9, generator=g, dtype=torch.float64)
    torch.testing.assert_close(with_phase_of(z, m), m * (z / (z.abs() + 1e-16)), rtol=1e-14,
                               atol=0)
    z, m = z[1:].requires_grad_(), m[1:].requires_grad_()
    assert torch.autograd.gradcheck(with_phase_of, (z, m))
    mod = modulus(z).detach().requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b, c: with_phase_of(a, b, c), (z, m, mod))
