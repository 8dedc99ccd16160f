r"""The DCT-layout iteration as one native loop: MKL's real FFTs and two fused elementwise passes.

:class:`~unfold_plugins.cp_dequant.dct_layout.DCTLayoutCP` runs one Chambolle–Pock iteration
as rfft → *dual half* → irfft → *primal half*. Written with torch operations, each half is a
chain of separate passes over ``(batch, n)`` (a complex multiply-add, a clip, a complex
product; a subtraction, a clip between two tensors, a lerp), every FFT call allocates its
output, and the iteration's seven arrays of a 256-frame batch do not fit in a core's L2 cache.
``dct_layout_kernels.c`` runs all ``n_iter`` iterations in C instead, on blocks of
:data:`BLOCK` rows that stay in cache, with each half one pass. With more than one thread
(``torch.get_num_threads()``), a team of torch's own OpenMP runtime (its ``GOMP_parallel``, bound
like the FFTs) takes the blocks one at a time, each FFT on one thread: every frame is its own
problem, and no second runtime's threads compete with torch's for the cores:

.. math::

    \text{dual:}\quad ψ \leftarrow \operatorname{clip}_{[-1,1]}(ψ + S \circ a), \quad
    S \leftarrow ψ \circ b \qquad (S = \mathrm{rfft}(\bar v);\ a = σt,\ b = τt'
    \text{ of eqs. (1), (2)})

.. math::

    \text{primal:}\quad v^+ = \operatorname{clip}_{[x' - h,\, x' + h]}(v - k), \quad
    \bar v \leftarrow v + c\,(v^+ - v), \quad v \leftarrow v^+
    \qquad (k = \mathrm{irfft}(S),\ c = 1 + θ)

The clip of ψ is on its real and imaginary parts, as ``psi.clamp_`` on the real view.

**The FFTs** are those of the MKL inside torch's CPU library (``libtorch_cpu``), the same code
``torch.fft`` runs on the CPU, called through MKL's DFTI interface (rows out of place, spectra in
CCE storage, the backward scaled by 1/n like ``irfft``) with pointers bound at run time. A torch
built without MKL (or one that stops exporting DFTI) has no such functions: then
:func:`load_native` returns None and the layout runs its torch loop, the same iteration, slower.

**The build.** The C file is compiled once per machine by the C compiler (``$CC``, else ``cc``,
``gcc`` or ``clang``; ``-O3 -march=native``) into ``$UNFOLD_CACHE/kernels/`` (default
``~/.cache/unfold/kernels/``), named by a hash of the source, the compiler, the flags and the
CPU, and loaded with ctypes: a later process only loads it (6 ms here; a JIT such as Numba
measured 0.7 s per process to load its cached code). Without a working compiler,
:func:`load_native` returns None as well.

Shapes: v, v̄, x' ``(batch, n)`` and h ``(batch,)`` real; ψ ``(batch, m)`` complex,
m = ⌊n/2⌋ + 1; a, b ``(m,)`` complex; all C-contiguous CPU tensors of one precision
(float32 / complex64 or float64 / complex128).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

Tensor = torch.Tensor
log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("dct_layout_kernels.c")
FLAGS = ("-O3", "-fno-math-errno", "-fno-trapping-math", "-shared", "-fPIC")
NATIVE = "-march=native"


BLOCK = 32  # rows per block: one block's seven arrays (about 300 KB at n = 320) stay in cache


@dataclass(frozen=True)
class NativeLoop:
    """The loaded library's entry points by real dtype."""

    runs: dict[torch.dtype, Callable[..., int]]

    def run(self, v: Tensor, vbar: Tensor, psi: Tensor, x: Tensor, h: Tensor, a: Tensor,
            b: Tensor, c: float, n_iter: int) -> None:
        """``n_iter`` iterations in place on v, v̄ and ψ (see the module for the arrays)."""
        rows, n = v.shape
        status = self.runs[v.dtype](v.data_ptr(), vbar.data_ptr(), psi.data_ptr(), x.data_ptr(),
                                    h.data_ptr(), a.data_ptr(), b.data_ptr(), c, rows, n,
                                    n_iter, BLOCK, torch.get_num_threads())
        if status == -1:
            raise MemoryError("the native DCT-layout loop could not allocate its buffers")
        if status:
            raise RuntimeError(f"MKL's DFTI failed in the native DCT-layout loop (status {status})")


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and (path := shutil.which(name)):
            return path
    return None


def _cpu() -> str:
    """What ``-march=native`` depends on: the CPU's feature flags where Linux lists them."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.machine() + platform.processor()


def _build(cc: str, folder: Path) -> Path:
    """The library for this source, compiler and CPU, compiled unless it already is."""
    source, cpu = SOURCE.read_bytes(), _cpu().encode()
    for flags in ((*FLAGS, NATIVE), FLAGS):  # a compiler without -march=native: portable code
        key = hashlib.sha256(b"\0".join([source, cc.encode(), " ".join(flags).encode(), cpu]))
        target = folder / f"dct_layout_kernels-{key.hexdigest()[:16]}.so"
        if target.is_file():
            return target
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=folder)  # concurrent builds: one rename wins
        os.close(fd)
        try:
            done = subprocess.run([cc, *flags, str(SOURCE), "-o", tmp], capture_output=True,
                                  text=True, timeout=120)
            if done.returncode == 0:
                os.replace(tmp, target)
                return target
            log.info("%s %s failed: %s", cc, " ".join(flags), done.stderr.strip()[-500:])
        finally:
            Path(tmp).unlink(missing_ok=True)
    raise OSError(f"{cc} could not compile {SOURCE.name}")


def _torch_library(pattern: str, names: tuple[str, ...]) -> list[int] | None:
    """Addresses of ``names`` in the first library of torch's that matches ``pattern`` and has
    them all (loaded by torch already: the same handle), or None."""
    for path in sorted((Path(torch.__file__).parent / "lib").glob(pattern)):
        try:
            lib = ctypes.CDLL(str(path))
            found = [ctypes.cast(getattr(lib, name), ctypes.c_void_p).value or 0 for name in names]
        except (OSError, AttributeError):
            continue
        if all(found):
            return found
    return None


def _mkl_dfti() -> list[int] | None:
    """The DFTI functions of the MKL in torch's CPU library, or None where it has none."""
    return _torch_library("*torch_cpu.*", (
        "DftiCreateDescriptor_s_1d", "DftiCreateDescriptor_d_1d", "DftiSetValue",
        "DftiCommitDescriptor", "DftiComputeForward", "DftiComputeBackward",
        "DftiFreeDescriptor"))


def _openmp() -> int:
    """``GOMP_parallel`` of torch's OpenMP runtime (0 where torch has no libgomp-compatible one:
    the loop then runs on the calling thread)."""
    found = _torch_library("lib*omp*", ("GOMP_parallel",))
    return found[0] if found else 0


def _load(path: Path, dfti: list[int]) -> NativeLoop:
    lib = ctypes.CDLL(str(path))
    p, i = ctypes.c_void_p, ctypes.c_long
    lib.cp_layout_bind.argtypes, lib.cp_layout_bind.restype = [p] * 8, None
    lib.cp_layout_bind(*dfti, _openmp() or None)
    runs = {}
    for dtype, suffix, scalar in ((torch.float32, "f32", ctypes.c_float),
                                  (torch.float64, "f64", ctypes.c_double)):
        fn = getattr(lib, "cp_layout_run_" + suffix)
        fn.argtypes, fn.restype = [p] * 7 + [scalar, i, i, i, i, i], i
        runs[dtype] = fn
    return NativeLoop(runs)


@cache
def load_native() -> NativeLoop | None:
    """The compiled loop, or None without MKL's DFTI in torch or a C compiler (once per
    process; the reason is logged at INFO)."""
    from unfold.data.cache import cache_root

    dfti = _mkl_dfti()
    if dfti is None:
        log.info("torch's CPU library exports no MKL DFTI: the DCT layout runs in torch")
        return None
    cc = _compiler()
    if cc is None:
        log.info("no C compiler found ($CC, cc, gcc, clang): the DCT layout runs in torch")
        return None
    try:
        return _load(_build(cc, cache_root() / "kernels"), dfti)
    except (OSError, subprocess.SubprocessError) as e:
        log.info("the native DCT-layout loop is unavailable (%s): the layout runs in torch", e)
        return None
