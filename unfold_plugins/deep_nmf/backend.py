"""Which library runs the inference loop of deep NMF (``snmf.kl_h_updates``).

Each strategy provides the loop's three in-place operations on 2-D tensors, all writing into
preallocated buffers:

- ``mm(a, b, out)``: ``out = a @ b`` (the two GEMMs W H and Wᵀ R, F·R·N multiply-adds each);
- ``ratio(v, lam, eps)``: ``lam = v / max(lam, ε)`` (R = V / Λ);
- ``scale(h, num)``: ``h = h · num`` (eq. 33's multiplicative step, its denominator folded into
  the bases of the second product).

:class:`TorchBackend` uses torch (on CPU its bundled MKL and OpenMP; any device).
:class:`NumpyBackend` uses numpy on zero-copy views of CPU tensors: the OpenBLAS that numpy
ships for the products and numpy's ufuncs for the elementwise passes, all single-threaded, on
``torch.get_num_threads()`` blocks of frames at once (one Python thread each; numpy releases the
GIL), with torch on one thread meanwhile.

Why two: on the AMD EPYC of our measurements torch's MKL multiplies the deep NMF shapes
(W ``(1800, 200)`` times H ``(200, 1002)``, float32) about 1.3–1.8× slower than OpenBLAS, and the
loop is nearly all products (``benchmarks/deep_nmf_vs_sklearn.py``, docs/plugins/deep-nmf.md).
:func:`default_backend` picks numpy's for CPU tensors and torch for others. The results agree
to float rounding (the summation order inside the BLAS differs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Protocol

import numpy as np
import torch

Tensor = torch.Tensor


class Backend(Protocol):
    def threads(self) -> AbstractContextManager[int]:
        """Context in which the loop runs (thread limits); yields the number of blocks of
        frames to run at once, each in its own Python thread (1: the calling thread only)."""
        ...

    def mm(self, a: Tensor, b: Tensor, out: Tensor) -> None:
        """``out = a @ b``."""
        ...

    def ratio(self, v: Tensor, lam: Tensor, eps: float) -> None:
        """``lam = v / max(lam, eps)``."""
        ...

    def scale(self, h: Tensor, num: Tensor) -> None:
        """``h = h * num``."""
        ...


class TorchBackend:
    """torch operations with ``out=`` / in place."""

    def threads(self) -> AbstractContextManager[int]:
        """One block: torch's own thread pool parallelises each operation."""
        return nullcontext(1)

    def mm(self, a: Tensor, b: Tensor, out: Tensor) -> None:
        torch.mm(a, b, out=out)

    def ratio(self, v: Tensor, lam: Tensor, eps: float) -> None:
        torch.div(v, lam.clamp_min_(eps), out=lam)

    def scale(self, h: Tensor, num: Tensor) -> None:
        h.mul_(num)


class NumpyBackend:
    """numpy ufuncs and ``matmul`` with ``out=`` on shared-memory views (no copies)."""

    @contextmanager
    def threads(self) -> Iterator[int]:
        """``torch.get_num_threads()`` blocks of frames, one Python thread each, with OpenBLAS
        and torch on one thread meanwhile: the blocks are the parallelism, and no thread pool
        is left spinning on the cores after the loop (OpenBLAS's own threads held busy cores
        long enough to slow the torch work right after the loop 5–10×)."""
        from threadpoolctl import threadpool_limits

        n = torch.get_num_threads()
        with threadpool_limits(limits=1, user_api="blas"):
            torch.set_num_threads(1)
            try:
                yield n
            finally:
                torch.set_num_threads(n)

    def mm(self, a: Tensor, b: Tensor, out: Tensor) -> None:
        np.matmul(a.numpy(), b.numpy(), out=out.numpy())

    def ratio(self, v: Tensor, lam: Tensor, eps: float) -> None:
        out = lam.numpy()
        np.maximum(out, eps, out=out)
        np.divide(v.numpy(), out, out=out)

    def scale(self, h: Tensor, num: Tensor) -> None:
        out = h.numpy()
        np.multiply(out, num.numpy(), out=out)


def default_backend(t: Tensor) -> Backend:
    """:class:`NumpyBackend` for CPU float32/float64 tensors without a graph, else
    :class:`TorchBackend`."""
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) \
            and not t.requires_grad:
        return NumpyBackend()
    return TorchBackend()
