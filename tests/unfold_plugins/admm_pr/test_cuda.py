"""admm-pr layers and the fast DCT on CUDA equal their CPU results (benchmarks/gpu_check.sh)."""

import pytest
import torch

from unfold.signal.stft import STFT
from unfold_plugins.admm_pr import ADMM, GLA, UADMM
from unfold_plugins.admm_pr.problem import make_problem
from unfold_plugins.cp_dequant.cp import dct_matrix
from unfold_plugins.cp_dequant.dct import FastDCT

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.mark.parametrize("model", [GLA(5), ADMM(5), UADMM(5, "untied")], ids=["gla", "admm", "uadmm"])
def test_layers_on_cuda_equal_cpu(model):
    s = torch.randn(2, 8000, dtype=torch.float64)
    p_cpu = make_problem(s, STFT(512, 256))
    p_gpu = make_problem(s.cuda(), STFT(512, 256).cuda())
    model = model.double()
    with torch.no_grad():
        ref = model(p_cpu)
        out = model.cuda()(p_gpu)
    torch.testing.assert_close(out.cpu(), ref, rtol=1e-9, atol=1e-9)


def test_fast_dct_on_cuda_equals_the_matrix():
    y = torch.randn(64, 320, device="cuda")
    K = dct_matrix(320).cuda()
    torch.testing.assert_close(FastDCT(320).apply(y), y @ K.T, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(FastDCT(320).adjoint(y), y @ K, rtol=1e-5, atol=1e-5)
