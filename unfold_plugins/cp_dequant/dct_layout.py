r"""Unrolled Chambolle–Pock with the fixed DCT K (k = n), run in the layout of Makhoul's FFT.

Algorithm 1 (see :mod:`~unfold_plugins.cp_dequant.cp`) with K = C, the orthonormal DCT-II
``(n, n)``, applied by eqs. (1)–(2) of :mod:`~unfold_plugins.cp_dequant.dct`. Every proximal
step of the iteration is elementwise and symmetric (ψ clipped to [−1, 1], y clipped to the box
x ± h), so it commutes with a fixed permutation of the coordinates and with sign flips. The
iteration therefore keeps its variables where the FFT puts them and never reorders per step:

- y, ȳ, x in Makhoul's order :math:`v = P y = (y_0, y_2, y_4, \dots, y_5, y_3, y_1)`;
- ψ as the real view ``(batch, m, 2)``, m = ⌊n/2⌋ + 1, of :math:`c_j e^{-iπj/2n} V_j`:
  slot (j, 0) holds :math:`ψ_j`, slot (j, 1) holds :math:`-ψ_{n-j}` (j ≥ 1). Slot (0, 1) is 0
  and, for even n, slot (n/2, 1) repeats :math:`-ψ_{n/2}`; ``irfft`` ignores both, so Kᵀψ is the
  adjoint of the n true coordinates.

With σ folded into the forward twiddles and τ into the inverse ones, one iteration is

.. math::

    ψ \leftarrow \operatorname{clip}_{[-1,1]}\big(ψ + \mathrm{rfft}(\bar v) \circ σ t\big), \quad
    v^+ = \operatorname{clip}_{[x'-h,\,x'+h]}\big(v - \mathrm{irfft}(ψ \circ τ t')\big), \quad
    \bar v = v + (1 + θ)(v^+ - v),

with t, t' the twiddles of eqs. (1), (2): two FFTs of length n and the elementwise work between
them, against two ``(batch, n) × (n, n)`` GEMMs and eight passes for the dense step. Two loops
run it: :func:`torch_loop` (torch operations, any device: a complex multiply-add, a clip, a
complex product, a subtraction, a clip between tensors and a lerp, each its own pass) and, on the
CPU, :func:`native_loop` (all iterations in one compiled loop with MKL's FFTs and each half
between them one pass, see :mod:`~unfold_plugins.cp_dequant.dct_layout_kernels`); the two agree
to float rounding. Equal to the dense iteration up to float rounding (the box clip is written as
``clip(v − τKᵀψ, x − h, x + h)`` instead of ``x + clip(v − τKᵀψ − x, −h, h)``).
Inference only (no graph is needed: K is fixed). Shapes: x ``(batch, n)``, h a scalar or
``(batch, 1)``.
"""

from __future__ import annotations

from typing import Protocol

import torch

from unfold_plugins.cp_dequant import dct_layout_kernels
from unfold_plugins.cp_dequant.dct import from_slots, makhoul_order, natural_order, to_slots, twiddles

Tensor = torch.Tensor


class LayoutLoop(Protocol):
    """Runs ``n_iter`` iterations on the layout's variables (see the module): ψ in place,
    the new (v, v̄) returned (the inputs may have been overwritten)."""

    def __call__(self, v: Tensor, vbar: Tensor, psi: Tensor, xv: Tensor, h: Tensor,
                 fwd: Tensor, bwd: Tensor, n: int, n_iter: int,
                 theta: float) -> tuple[Tensor, Tensor]: ...


def torch_loop(v: Tensor, vbar: Tensor, psi: Tensor, xv: Tensor, h: Tensor, fwd: Tensor,
               bwd: Tensor, n: int, n_iter: int, theta: float) -> tuple[Tensor, Tensor]:
    """The iteration in torch operations, on any device: six passes besides the two FFTs."""
    lo, hi = xv - h, xv + h
    psi_c = torch.view_as_complex(psi)
    for _ in range(n_iter):
        psi_c.addcmul_(torch.fft.rfft(vbar), fwd)  # ψ + σ K ȳ in the layout
        psi.clamp_(-1.0, 1.0)
        kt_psi = torch.fft.irfft(psi_c * bwd, n=n)  # τ Kᵀ ψ
        v_new = torch.sub(v, kt_psi, out=kt_psi).clamp_(lo, hi)
        vbar = torch.lerp(v, v_new, 1.0 + theta)
        v = v_new
    return v, vbar


def native_loop(v: Tensor, vbar: Tensor, psi: Tensor, xv: Tensor, h: Tensor, fwd: Tensor,
                bwd: Tensor, n: int, n_iter: int, theta: float) -> tuple[Tensor, Tensor]:
    """The iteration in one compiled CPU loop with MKL's FFTs and each elementwise half one
    pass, on blocks of rows that stay in cache
    (:mod:`~unfold_plugins.cp_dequant.dct_layout_kernels`)."""
    loop = dct_layout_kernels.load_native()
    if loop is None:
        raise RuntimeError("the native DCT-layout loop is unavailable (no MKL DFTI in torch or "
                           "no working C compiler); use torch_loop")
    arrays = (v, vbar, psi, xv, h, fwd, bwd)
    if not all(t.is_contiguous() and t.device.type == "cpu" for t in arrays) \
            or {v.dtype, vbar.dtype, psi.dtype, xv.dtype, h.dtype, fwd.real.dtype,
                bwd.real.dtype} != {v.dtype} or v.dtype not in (torch.float32, torch.float64):
        raise ValueError("native_loop needs contiguous CPU tensors of one precision, float32 "
                         "or float64")
    loop.run(v, vbar, psi, xv, h, fwd, bwd, 1.0 + theta, n_iter)
    return v, vbar


def default_loop(x: Tensor) -> LayoutLoop:
    """:func:`native_loop` for float32 / float64 on the CPU where it can be built,
    :func:`torch_loop` otherwise."""
    cpu = x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
    return native_loop if cpu and dct_layout_kernels.load_native() is not None else torch_loop


class DCTLayoutCP:
    """``n_iter`` iterations of Algorithm 1 with K = ``dct_matrix(n)`` in the FFT layout.
    ``loop`` runs the iterations (default: :func:`default_loop` for the input)."""

    def __init__(self, n: int, loop: LayoutLoop | None = None) -> None:
        if n < 2:
            raise ValueError(f"the DCT layout needs n >= 2, got n={n}")
        self.n = n
        self.loop = loop
        self._fwd, self._bwd = twiddles(n)  # eqs. (1), (2), complex128

    @torch.no_grad()
    def run(self, x: Tensor, h: Tensor | float, n_iter: int, sigma: Tensor | float,
            tau: Tensor | float, theta: float = 1.0,
            start: tuple[Tensor, Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(y, ȳ, ψ) after ``n_iter`` iterations from ``start`` = (y, ȳ, ψ) (default
        y⁰ = ȳ⁰ = x, ψ⁰ = 0), in the natural order: each ``(batch, n)``."""
        v, vbar, psi = self._iterate(x, h, n_iter, sigma, tau, theta, start)
        return natural_order(v), natural_order(vbar), from_slots(psi, self.n)

    def _iterate(self, x: Tensor, h: Tensor | float, n_iter: int, sigma: Tensor | float,
                 tau: Tensor | float, theta: float,
                 start: tuple[Tensor, Tensor, Tensor] | None) -> tuple[Tensor, Tensor, Tensor]:
        """(v, v̄, ψ) in the layout: ``(batch, n)``, ``(batch, n)``, ``(batch, m, 2)``."""
        if x.dim() != 2 or x.shape[-1] != self.n:
            raise ValueError(f"x must be (batch, {self.n}), got {tuple(x.shape)}")
        h_ = torch.as_tensor(h, dtype=x.dtype, device=x.device)
        if h_.numel() != 1 and tuple(h_.shape) not in ((x.shape[0], 1), (x.shape[0],)):
            raise ValueError(f"h must be a scalar or (batch, 1), got {tuple(h_.shape)}")
        h_ = h_.reshape(-1, 1).expand(x.shape[0], 1).contiguous()
        cdt = torch.complex64 if x.dtype == torch.float32 else torch.complex128
        fwd = (float(sigma) * self._fwd).to(x.device, cdt)
        bwd = (float(tau) * self._bwd).to(x.device, cdt)
        xv = makhoul_order(x)
        if start is None:
            v, vbar = xv.clone(), xv.clone()
            psi = x.new_zeros(x.shape[0], self.n // 2 + 1, 2)
        else:
            if any(t.shape != x.shape for t in start):
                raise ValueError(f"start must be three {tuple(x.shape)} tensors (y, ȳ, ψ), got "
                                 f"{[tuple(t.shape) for t in start]}")
            v, vbar, psi = makhoul_order(start[0]), makhoul_order(start[1]), to_slots(start[2])
        loop = self.loop or default_loop(x)
        v, vbar = loop(v, vbar, psi, xv, h_, fwd, bwd, self.n, n_iter, theta)
        return v, vbar, psi
