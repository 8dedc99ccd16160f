"""The DCT-layout iteration's two loops: the native CPU loop against the torch operations."""

import os
import subprocess
import sys

import pytest
import torch

from unfold_plugins.cp_dequant.cp import step_sizes
from unfold_plugins.cp_dequant.dct_layout import DCTLayoutCP, default_loop, native_loop, torch_loop
from unfold_plugins.cp_dequant.dct_layout_kernels import BLOCK, _compiler, _mkl_dfti

needs_cc = pytest.mark.skipif(_compiler() is None or _mkl_dfti() is None,
                              reason="no C compiler or no MKL in torch for the native loop")

# 40 iterations of float rounding: torch.lerp computes v̄ as v⁺ − (1 − c)(v⁺ − v) (c ≥ 0.5),
# the native loop as v + c (v⁺ − v).
TOL = {torch.float32: 2e-5, torch.float64: 1e-12}


def _problem(n: int, batch: int, dtype: torch.dtype, seed: int) -> tuple[torch.Tensor, float]:
    g = torch.Generator().manual_seed(seed)
    clean = torch.cumsum(torch.randn(batch, n, generator=g, dtype=dtype), -1) * 0.05
    step = 0.125
    return (torch.round(clean / step - 0.5) + 0.5) * step, step / 2


@needs_cc
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [320, 9, 2])
@pytest.mark.parametrize("theta", [1.0, 0.5])
def test_native_loop_equals_the_torch_loop(n, dtype, theta):
    """(y, ȳ, ψ) of both loops agree to float rounding, with ψ active (clipped) and inactive,
    over two full blocks of rows and a shorter last one."""
    batch = 2 * BLOCK + 6
    x, h = _problem(n, batch, dtype, seed=n)
    sigma, tau = step_sizes(torch.tensor(1.0, dtype=torch.float64))
    h_rows = torch.linspace(0.5, 1.5, batch, dtype=dtype)[:, None] * h  # one step per frame
    for h_ in (h, h_rows):
        got = DCTLayoutCP(n, native_loop).run(x, h_, 40, sigma, tau, theta)
        want = DCTLayoutCP(n, torch_loop).run(x, h_, 40, sigma, tau, theta)
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=TOL[dtype])
    assert (want[2].abs() == 1).any() and (want[2].abs() < 1).any()  # both sides of the clip


@needs_cc
@pytest.mark.parametrize("threads", [2, 3])
def test_threads_share_the_blocks(threads):
    """Rows split over threads by blocks: the same result as one thread, bit for bit."""
    x, h = _problem(64, 3 * BLOCK + 5, torch.float32, seed=5)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = DCTLayoutCP(64, native_loop).run(x, h, 30, 9.0, 0.11)
        torch.set_num_threads(threads)
        many = DCTLayoutCP(64, native_loop).run(x, h, 30, 9.0, 0.11)
    finally:
        torch.set_num_threads(before)
    for a, b in zip(one, many, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("n", [8, 9])
@pytest.mark.parametrize("loop", [torch_loop, pytest.param(native_loop, marks=needs_cc)])
def test_a_run_resumed_from_its_state_continues_it(n, loop):
    """run(a) then run(b, start=state) is run(a + b): the state converts to the layout and back
    exactly (ψ's slots included)."""
    x, h = _problem(n, 5, torch.float64, seed=6)
    layout = DCTLayoutCP(n, loop)
    whole = layout.run(x, h, 30, 9.0, 0.11)
    resumed = layout.run(x, h, 12, 9.0, 0.11, start=layout.run(x, h, 18, 9.0, 0.11))
    for a, b in zip(whole, resumed, strict=True):
        assert torch.equal(a, b)
    psi = torch.randn(5, n, dtype=torch.float64)
    assert torch.equal(layout.run(x, h, 0, 9.0, 0.11, start=(x, x, psi))[2], psi)
    with pytest.raises(ValueError, match="start must be three"):
        layout.run(x, h, 1, 9.0, 0.11, start=(x, x, psi[:, :-1]))


@needs_cc
def test_zero_iterations_return_the_start():
    x, h = _problem(16, 3, torch.float32, seed=1)
    y, ybar, psi = DCTLayoutCP(16, native_loop).run(x, h, 0, 10.0, 0.1)
    assert torch.equal(y, x) and torch.equal(ybar, x) and not psi.any()


@needs_cc
def test_the_default_loop_is_native_on_the_cpu_in_float32_and_float64_only():
    assert default_loop(torch.zeros(1, 4)) is native_loop  # CI's machine can build it
    assert default_loop(torch.zeros(1, 4, dtype=torch.float64)) is native_loop
    assert default_loop(torch.zeros(1, 4, dtype=torch.bfloat16)) is torch_loop
    assert default_loop(torch.zeros(1, 4, device="meta")) is torch_loop


def test_h_must_be_a_scalar_or_one_per_frame():
    x, _ = _problem(8, 3, torch.float32, seed=2)
    with pytest.raises(ValueError, match=r"h must be a scalar or \(batch, 1\), got \(3, 8\)"):
        DCTLayoutCP(8).run(x, torch.full((3, 8), 0.1), 2, 1.0, 1.0)


@needs_cc
def test_the_compiled_loops_are_cached_under_the_unfold_cache(tmp_path):
    """Built once into $UNFOLD_CACHE/kernels (not next to the sources), then only loaded."""
    env = dict(os.environ, UNFOLD_CACHE=str(tmp_path))
    code = ("from unfold_plugins.cp_dequant.dct_layout_kernels import load_native\n"
            "assert load_native() is not None\n")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)
    built = list((tmp_path / "kernels").glob("dct_layout_kernels-*.so"))
    assert len(built) == 1 and list((tmp_path / "kernels").glob("*")) == built  # no temp file
    stamp = built[0].stat().st_mtime_ns
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)
    assert list((tmp_path / "kernels").glob("*")) == built and built[0].stat().st_mtime_ns == stamp


def test_without_a_compiler_the_layout_runs_in_torch(tmp_path):
    env = dict(os.environ, UNFOLD_CACHE=str(tmp_path), CC="", PATH=str(tmp_path))
    code = ("import torch\n"
            "from unfold_plugins.cp_dequant.dct_layout import default_loop, torch_loop\n"
            "from unfold_plugins.cp_dequant.dct_layout_kernels import load_native\n"
            "assert load_native() is None and default_loop(torch.zeros(1, 4)) is torch_loop\n")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)


@needs_cc
def test_native_loop_refuses_a_non_contiguous_tensor():
    x, h = _problem(8, 3, torch.float32, seed=4)
    layout = DCTLayoutCP(8, native_loop)
    fwd = torch.ones(5, dtype=torch.complex64)
    v = x.t().contiguous().t()  # same values, column-major
    with pytest.raises(ValueError, match="contiguous CPU tensors of one precision"):
        native_loop(v, x.clone(), torch.zeros(3, 5, 2), x, torch.full((3, 1), h), fwd, fwd,
                   8, 1, 1.0)
    assert layout.run(x, h, 1, 1.0, 1.0)[0].shape == (3, 8)
