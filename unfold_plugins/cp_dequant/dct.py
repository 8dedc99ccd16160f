r"""The fixed DCT analysis operator K of the classical method by FFT, O(n log n) per frame.

K is :func:`~unfold_plugins.cp_dequant.cp.dct_matrix` ``(k, n)``: the orthonormal DCT-II
:math:`C`, :math:`C_{j,i} = c_j \cos(\pi (2i + 1) j / (2n))`, :math:`c_0 = \sqrt{1/n}`,
:math:`c_j = \sqrt{2/n}`, cut to its first k rows (k ≤ n) or followed by the first k − n unit
rows (n < k ≤ 2n). Applied by Makhoul's algorithm (1980) with one real FFT of length n:

.. math::

    v = (y_0, y_2, y_4, \dots, y_5, y_3, y_1), \quad V = \mathrm{rfft}(v), \quad
    (C y)_j = \mathrm{Re}\big(c_j e^{-i\pi j / 2n} V_j\big), \quad
    (C y)_{n-j} = -\mathrm{Im}\big(c_j e^{-i\pi j / 2n} V_j\big)                     \quad (1)

and, C being orthogonal, :math:`C^\top = C^{-1}` (Makhoul's inverse):

.. math::

    V_j = \frac{e^{i\pi j / 2n}}{c_j}\big(X_j - i X_{n-j}\big),\ X_n = 0, \quad
    v = \mathrm{irfft}(V), \quad y = \text{the reordering of (1) undone}.          \quad (2)

Dense products cost n·k multiply-adds per frame; this costs a length-n real FFT and four
gathers / elementwise passes. Only for the fixed DCT: a learned K keeps the dense product
(:class:`Dense`); :func:`analysis_operator` picks the operator for a matrix. Shapes: y, x
``(batch, n)``; ψ ``(batch, k)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def twiddles(n: int) -> tuple[Tensor, Tensor]:
    """The factors of eqs. (1) and (2), :math:`c_j e^{-iπj/2n}` and their inverses
    :math:`e^{iπj/2n} / c_j`: ``(m,)`` complex128 each, m = ⌊n/2⌋ + 1 rfft bins."""
    m = n // 2 + 1
    j = torch.arange(m, dtype=torch.float64)
    c = torch.full((m,), math.sqrt(2.0 / n), dtype=torch.float64)
    c[0] = math.sqrt(1.0 / n)
    twiddle = torch.polar(torch.ones_like(j), -math.pi * j / (2 * n))
    return twiddle * c, twiddle.conj() / c


def makhoul_order(y: Tensor) -> Tensor:
    """v = P y ``(..., n)``, a new tensor: the even samples, then the odd ones reversed
    (strided copies, not index gathers: 3x cheaper on CPU)."""
    return torch.cat([y[..., ::2], y[..., 1::2].flip(-1)], dim=-1)


def natural_order(v: Tensor) -> Tensor:
    """y = Pᵀ v ``(..., n)``: the even samples from the front, the odd ones reversed from the
    back."""
    y, half = torch.empty_like(v), (v.shape[-1] + 1) // 2
    y[..., ::2] = v[..., :half]
    y[..., 1::2] = v[..., half:].flip(-1)
    return y


def from_slots(p: Tensor, n: int) -> Tensor:
    """X ``(..., n)`` read off the real view ``(..., m, 2)`` of eq. (1)'s products: X_j = slot
    (j, 0), X_{n−j} = −slot (j, 1)."""
    m = n // 2 + 1
    X = p.new_empty(p.shape[:-2] + (n,))
    X[..., :m] = p[..., 0]
    torch.neg(p[..., 1 : n - m + 1, 1].flip(-1), out=X[..., m:])
    return X


def to_slots(X: Tensor) -> Tensor:
    """The inverse of :func:`from_slots` for eq. (2): ``(..., n)`` → ``(..., m, 2)`` with
    slot (j, 0) = X_j, slot (j, 1) = −X_{n−j} and slot (0, 1) = 0 (X_n = 0)."""
    n = X.shape[-1]
    m = n // 2 + 1
    p = X.new_empty(X.shape[:-1] + (m, 2))
    p[..., 0] = X[..., :m]
    p[..., 0, 1] = 0.0
    torch.neg(X[..., n - m + 1 :].flip(-1), out=p[..., 1:, 1])
    return p


class Dense:
    """K as a matrix ``(k, n)``: K y = y Kᵀ, Kᵀ ψ = ψ K."""

    def __init__(self, K: Tensor) -> None:
        self.K = K
        self.shape = tuple(K.shape)

    def apply(self, y: Tensor) -> Tensor:
        return y @ self.K.T

    def adjoint(self, psi: Tensor) -> Tensor:
        return psi @ self.K

    def norm(self) -> Tensor:
        from unfold_plugins.cp_dequant.cp import spectral_norm

        return spectral_norm(self.K)


class FastDCT:
    """K = ``dct_matrix(n, k)`` by eqs. (1)–(2); ``norm()`` is exact: 1, or √2 for k > n."""

    def __init__(self, n: int, k: int | None = None) -> None:
        k = n if k is None else k
        if n < 2 or not 1 <= k <= 2 * n:
            raise ValueError(f"the fast DCT needs n >= 2 and 1 <= k <= 2n, got n={n}, k={k}")
        self.n, self.k = n, k
        self.shape = (k, n)
        self._twiddles = twiddles(n)
        self._cache: dict[tuple[torch.dtype, torch.device], tuple[Tensor, Tensor]] = {}

    def _consts(self, like: Tensor) -> tuple[Tensor, Tensor]:
        key = (like.dtype, like.device)
        if key not in self._cache:
            cdt = torch.complex64 if like.dtype == torch.float32 else torch.complex128
            fwd, bwd = (t.to(like.device, cdt) for t in self._twiddles)
            self._cache[key] = (fwd, bwd)
        return self._cache[key]

    def dct(self, y: Tensor) -> Tensor:
        """C y ``(batch, n)`` (eq. 1)."""
        fwd, _ = self._consts(y)
        return from_slots(torch.view_as_real(torch.fft.rfft(makhoul_order(y)) * fwd), self.n)

    def idct(self, X: Tensor) -> Tensor:
        """Cᵀ X = C⁻¹ X ``(batch, n)`` (eq. 2)."""
        _, bwd = self._consts(X)
        return natural_order(torch.fft.irfft(torch.view_as_complex(to_slots(X)) * bwd, n=self.n))

    def apply(self, y: Tensor) -> Tensor:
        """K y ``(batch, k)``."""
        X = self.dct(y)
        if self.k <= self.n:
            return X[..., : self.k]
        return torch.cat([X, y[..., : self.k - self.n]], dim=-1)

    def adjoint(self, psi: Tensor) -> Tensor:
        """Kᵀ ψ ``(batch, n)``."""
        n, k = self.n, self.k
        if k <= n:
            return self.idct(F.pad(psi, (0, n - k)))
        return self.idct(psi[..., :n]) + F.pad(psi[..., n:], (0, 2 * n - k))

    def norm(self) -> Tensor:
        return torch.tensor(math.sqrt(2.0) if self.k > self.n else 1.0, dtype=torch.float64)


def analysis_operator(K: Tensor) -> Dense | FastDCT:
    """:class:`FastDCT` when K ``(k, n)`` is exactly ``dct_matrix(n, k)`` in its dtype (the
    classical method's fixed K), else :class:`Dense` (a learned or any other K)."""
    from unfold_plugins.cp_dequant.cp import dct_matrix

    if K.dim() == 2 and K.is_floating_point() and not K.requires_grad:
        k, n = K.shape
        if 2 <= n and k <= 2 * n and torch.equal(K, dct_matrix(n, k, K.dtype).to(K.device)):
            return FastDCT(n, k)
    return Dense(K)
