"""The fast STFT and modulus on CUDA equal their CPU results (run by benchmarks/gpu_check.sh)."""

import pytest
import torch

from unfold.signal.modulus import modulus, with_phase_of
from unfold.signal.stft import STFT

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.mark.parametrize("kwargs", [{}, {"window": "sqrt-hann", "pad_mode": "reflect"}])
def test_stft_forward_adjoint_and_gradient_on_cuda_equal_cpu(kwargs):
    op = STFT(1024, 512, **kwargs)
    x = torch.randn(3, 22050, dtype=torch.float64)
    xc = x.cuda().requires_grad_()
    spec = op.cuda()(xc)
    out = op.adjoint(with_phase_of(spec, modulus(spec) ** 0.5), 22050)
    out.pow(2).sum().backward()
    xr = x.clone().requires_grad_()
    op_cpu = STFT(1024, 512, **kwargs)
    spec_r = op_cpu(xr)
    ref = op_cpu.adjoint(with_phase_of(spec_r, modulus(spec_r) ** 0.5), 22050)
    ref.pow(2).sum().backward()
    torch.testing.assert_close(out.cpu(), ref.detach(), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(xc.grad.cpu(), xr.grad, rtol=1e-10, atol=1e-10)
