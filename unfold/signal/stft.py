r"""Batched STFT as a (tight) frame operator with an exact adjoint.

Framing follows ``torch.stft(center=True)``: frame ``t`` is centred on sample ``t * hop``, i.e. it
covers samples ``[t*hop - n_fft/2, t*hop + n_fft/2)`` of the zero-extended signal. Coefficients are

.. math::

    (Ax)_{k,t} = \frac{1}{\sqrt{N}} \sum_{n=0}^{N-1} w[n]\, x[t h - N/2 + n]\, e^{-2\pi i k n / N},
    \qquad k = 0, \dots, N/2,

that is ``torch.stft(..., normalized=True)`` with the window ``w`` below.

**Windows.** ``"sine"``: :math:`w[n] = \sin(\pi (n + 1/2) / N)` (the self-dual sine window of
the UADMM paper). ``"sqrt-hann"``: ``torch.hann_window(N).sqrt()`` = :math:`\sin(\pi n / N)`,
the same window shifted by half a sample and exactly what torchaudio's GriffinLim gets from
``window_fn=lambda n: torch.hann_window(n).sqrt()``. Both are scaled by
:math:`\sqrt{h / \sum_n w[n]^2}` so that the frame operator :math:`A^H A = \mathrm{diag}(\sum_t
w^2[n - th])` averages to one; the scale is exactly 1 at ``hop = n_fft/2``. Whenever :math:`w^2`
overlap-adds to a constant (both windows at ``hop = n_fft / k``, integer ``k >= 2``) the frame is
tight, :math:`A^H A = I`, in the interior. The deep-NMF setting (25 ms / 10 ms at 16 kHz:
``n_fft=400, hop=160``) is not tight; use :meth:`STFT.inverse` there.

**Padding.** ``pad_mode="constant"`` (default): zeros outside the signal and, unlike
``torch.stft``, enough frames at the end that every sample is covered by every frame that can
reach it: ``frames = floor((L - 1 + N/2) / hop) + 1`` (``torch.stft`` has ``1 + L // hop``; the two
agree when ``hop = N/2`` and ``hop`` divides ``L``). With ``hop = N/2`` and either window this
makes :math:`A^H A x = x` exactly for every length ``L``. ``pad_mode="reflect"``: exactly the
framing of ``torch.stft(center=True, pad_mode="reflect")`` used by torchaudio's GriffinLim;
:meth:`STFT.inverse` is then ``torch.istft``, so a Griffin-Lim loop built on
``STFT(window="sqrt-hann", pad_mode="reflect")`` reproduces ``torchaudio.transforms.GriffinLim``
(magnitudes scaled by ``1/sqrt(N)``; GLA is invariant to that scale).

**Inner product.** The one-sided spectrum stands for the full Hermitian one, so coefficient
space carries :math:`\langle X, Y \rangle = \mathrm{Re} \sum_{k,t} c_k \overline{X_{k,t}}
Y_{k,t}` with :math:`c_0 = c_{N/2} = 1` and :math:`c_k = 2` otherwise (:meth:`STFT.inner`).
:meth:`STFT.adjoint` is the adjoint for this inner product (and the Euclidean one on signals),
for any window, hop and padding; it ignores the imaginary parts of the DC and Nyquist bins.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

WINDOWS = ("sine", "sqrt-hann")
PAD_MODES = ("constant", "reflect")
ENVELOPES_KEPT = 8  # window envelopes cached by :meth:`STFT.inverse`, one per signal length


def make_window(name: str, n_fft: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The unscaled analysis window ``(n_fft,)``: ``"sine"`` or ``"sqrt-hann"`` (see module doc)."""
    if name == "sine":
        n = torch.arange(n_fft, dtype=torch.float64)
        return torch.sin(math.pi * (n + 0.5) / n_fft).to(dtype)
    if name == "sqrt-hann":
        return torch.hann_window(n_fft, periodic=True, dtype=torch.float64).sqrt().to(dtype)
    raise ValueError(f"window must be one of {WINDOWS}, got {name!r}")


def magnitude(spec: torch.Tensor, power: float = 1.0) -> torch.Tensor:
    """``|spec| ** power`` for a complex spectrogram ``(batch, freq, frames)``."""
    if power <= 0:
        raise ValueError(f"power must be > 0, got {power}")
    mag = spec.abs()
    return mag if power == 1.0 else mag.pow(power)


class STFT(torch.nn.Module):
    r"""STFT frame operator ``(batch, samples) -> (batch, freq, frames)`` complex.

    Args:
        n_fft: frame length ``N`` (even).
        hop: frame shift ``h``, ``1 <= h <= N``.
        window: ``"sine"`` or ``"sqrt-hann"``.
        length: default signal length ``L`` for :meth:`adjoint` / :meth:`inverse`.
        pad_mode: ``"constant"`` (tight frame) or ``"reflect"`` (``torch.stft`` framing).
        drop_nyquist: drop bin ``N/2`` (``freq = N/2`` instead of ``N/2 + 1``); its adjoint puts
            zeros back, so adjointness holds but :math:`A^H A \ne I`.
    """

    window: torch.Tensor
    double_window: torch.Tensor
    bin_weights: torch.Tensor
    inv_bin_weights: torch.Tensor

    def __init__(
        self,
        n_fft: int = 1024,
        hop: int = 512,
        window: str = "sine",
        length: int | None = None,
        pad_mode: str = "constant",
        drop_nyquist: bool = False,
    ) -> None:
        super().__init__()
        if n_fft < 2 or n_fft % 2:
            raise ValueError(f"n_fft must be an even integer >= 2, got {n_fft}")
        if not 1 <= hop <= n_fft:
            raise ValueError(f"hop must be in [1, n_fft={n_fft}], got {hop}")
        if pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
        if length is not None and length < 1:
            raise ValueError(f"length must be a positive number of samples, got {length}")
        w = make_window(window, n_fft, torch.float64)
        w = w * math.sqrt(hop / float((w**2).sum()))
        self.n_fft, self.hop, self.window_name = n_fft, hop, window
        self.length, self.pad_mode, self.drop_nyquist = length, pad_mode, drop_nyquist
        self.register_buffer("window", w, persistent=False)  # float64; cast per call
        self.register_buffer("double_window", 2 * w, persistent=False)
        weights = torch.full((n_fft // 2 + 1,), 2.0, dtype=torch.float64)
        weights[0] = weights[-1] = 1.0
        if drop_nyquist:
            weights = weights[:-1]
        self.register_buffer("bin_weights", weights, persistent=False)
        self.register_buffer("inv_bin_weights", 1 / weights, persistent=False)
        self._cast_cache: dict[tuple[str, torch.dtype, torch.device], torch.Tensor] = {}
        self._envelope_cache: dict[tuple[int, torch.dtype, torch.device], torch.Tensor] = {}

    def n_frames(self, length: int) -> int:
        """Number of frames for a signal of ``length`` samples (see module doc)."""
        if self.pad_mode == "reflect":
            return 1 + length // self.hop
        return (length - 1 + self.n_fft // 2) // self.hop + 1

    def _pads(self, length: int) -> tuple[int, int]:
        half = self.n_fft // 2
        if self.pad_mode == "reflect":
            if length <= half:
                raise ValueError(
                    f"reflect padding needs more than n_fft/2={half} samples, got {length}"
                )
            return half, half
        padded = self.n_fft + (self.n_frames(length) - 1) * self.hop
        return half, padded - length - half

    def _length(self, length: int | None) -> int:
        length = self.length if length is None else length
        if length is None:
            raise ValueError("signal length unknown: pass length= here or to STFT(...)")
        return length

    def _cast(self, name: str, like: torch.Tensor) -> torch.Tensor:
        """Buffer ``name`` in ``like``'s real dtype and device, cast once and cached."""
        dtype = like.real.dtype if like.is_complex() else like.dtype
        key = (name, dtype, like.device)
        if key not in self._cast_cache:
            with torch.inference_mode(False):  # usable by autograd whichever mode filled it
                self._cast_cache[key] = getattr(self, name).to(device=like.device, dtype=dtype)
        return self._cast_cache[key]

    def _window(self, like: torch.Tensor) -> torch.Tensor:
        return self._cast("window", like)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Analysis ``(batch, samples) -> (batch, freq, frames)`` complex.

        The result is a transposed view of a frame-major ``(batch, frames, freq)`` tensor (the
        layout the FFT writes); elementwise work between such spectra keeps that layout and
        :meth:`adjoint` reads it back without a copy. Its gradient is :meth:`adjoint` applied
        to the incoming gradient divided by the bin weights (see :class:`_Analysis`).
        """
        if x.dim() != 2:
            raise ValueError(f"x must have shape (batch, samples), got {tuple(x.shape)}")
        return _Analysis.apply(x, self)

    def _analysis(self, x: torch.Tensor, window: str = "window") -> torch.Tensor:
        """A x with the analysis window buffer ``window`` (``"double_window"``: 2 A x)."""
        left, right = self._pads(x.shape[-1])
        mode = "reflect" if self.pad_mode == "reflect" else "constant"
        xp = F.pad(x.unsqueeze(1), (left, right), mode=mode).squeeze(1)
        return self._frames(xp, window)

    def _frames(self, xp: torch.Tensor, window: str = "window") -> torch.Tensor:
        """Windowed rfft of the frames ``xp[:, t h : t h + N]`` of a padded signal, with the
        window buffer ``window``."""
        frames = xp.unfold(-1, self.n_fft, self.hop) * self._cast(window, xp)
        spec = torch.fft.rfft(frames, norm="ortho").transpose(1, 2)
        return spec[:, :-1] if self.drop_nyquist else spec

    def segment_frames(self, seg: torch.Tensor) -> torch.Tensor:
        r"""Frames of a segment without padding: ``(batch, (F - 1) h + N) -> (batch, freq, F)``.

        Frame ``t`` is :math:`\frac{1}{\sqrt N}\,\mathrm{rfft}(w \cdot \mathrm{seg}[t h : t h + N])`:
        for the segment :math:`[s h - N/2, (e - 1) h + N/2)` of the zero-extended signal these
        are exactly frames ``[s, e)`` of :meth:`forward` with constant padding (block processing,
        :mod:`unfold.signal.blocks`)."""
        if seg.dim() != 2 or seg.shape[-1] < self.n_fft or (seg.shape[-1] - self.n_fft) % self.hop:
            raise ValueError(f"segment must be (batch, (frames - 1) * {self.hop} + {self.n_fft}), "
                             f"got {tuple(seg.shape)}")
        return self._frames(seg)

    def segment_overlap_add(self, spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Windowed overlap-add of frames ``(batch, freq, F)`` and its window envelope, both
        ``(batch | 1, (F - 1) h + N)``: the inverse of :meth:`segment_frames`.

        .. math:: y[n] = \sum_t w[n - t h]\,\mathrm{irfft}(X_t)[n - t h], \qquad
                  e[n] = \sum_t w^2[n - t h]

        On samples covered by every frame of the whole signal that reaches them, ``y / e`` is
        :meth:`inverse` and ``y`` is :meth:`adjoint` (constant padding)."""
        if spec.dim() != 3:
            raise ValueError(f"spec must have shape (batch, freq, frames), got {tuple(spec.shape)}")
        if self.drop_nyquist:
            spec = F.pad(spec, (0, 0, 0, 1))
        frames = torch.fft.irfft(spec.transpose(1, 2), n=self.n_fft, norm="ortho")
        w = self._window(frames)
        w2 = (w**2).repeat(1, frames.shape[1], 1)  # _fold_frames writes into its input
        return self._fold_frames(frames.mul_(w)), self._fold_frames(w2)

    def _overlap_add(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Windowed OLA of the frames of ``spec``: ``(batch, padded_samples)`` real."""
        if spec.dim() != 3:
            raise ValueError(f"spec must have shape (batch, freq, frames), got {tuple(spec.shape)}")
        n_freq = self.n_fft // 2 + (0 if self.drop_nyquist else 1)
        if spec.shape[1] != n_freq or spec.shape[2] != self.n_frames(length):
            raise ValueError(
                f"spec must have shape (batch, {n_freq}, {self.n_frames(length)}) for length "
                f"{length}, got {tuple(spec.shape)}"
            )
        if self.drop_nyquist:
            spec = F.pad(spec, (0, 0, 0, 1))
        frames = torch.fft.irfft(spec.transpose(1, 2), n=self.n_fft, norm="ortho")
        return self._fold(frames.mul_(self._window(frames)), length)

    def _fold(self, frames: torch.Tensor, length: int) -> torch.Tensor:
        """Overlap-add of frames ``(batch, frames, n_fft)`` -> ``(batch, padded_samples)``;
        ``frames`` is overwritten (:meth:`_fold_frames`)."""
        left, right = self._pads(length)
        padded = left + length + right  # >= n_fft + (frames - 1) * hop, the frames' extent
        out = self._fold_frames(frames)
        return F.pad(out, (0, padded - out.shape[1])) if padded > out.shape[1] else out

    def _fold_frames(self, frames: torch.Tensor) -> torch.Tensor:
        r"""Overlap-add ``(batch, F, n_fft)`` -> ``(batch, n_fft + (F - 1) * hop)``; ``frames``
        is overwritten.

        At ``hop = n_fft/2`` sample block ``m`` (of ``hop`` samples) is the second half of frame
        ``m - 1`` plus the first half of frame ``m``: one addition in place and one
        concatenation, where ``F.fold`` (col2im) is several times slower on CPU. Other hops use
        ``F.fold``.
        """
        if 2 * self.hop == self.n_fft:
            halves = frames.unflatten(-1, (2, self.hop))  # (batch, frames, 2, hop)
            first, second = halves[:, :, 0], halves[:, :, 1]
            first[:, 1:].add_(second[:, :-1])  # not "+=": that copies the slice onto itself
            return torch.cat([first, second[:, -1:]], dim=1).flatten(1)
        out = F.fold(
            frames.transpose(1, 2),
            output_size=(1, self.n_fft + (frames.shape[1] - 1) * self.hop),
            kernel_size=(1, self.n_fft),
            stride=(1, self.hop),
        )
        return out.reshape(frames.shape[0], -1)

    def adjoint(self, spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Adjoint ``A^H``: ``(batch, freq, frames) -> (batch, length)`` real (its gradient is
        the bin weights times :meth:`forward` of the incoming gradient, see :class:`_Adjoint`)."""
        return _Adjoint.apply(spec, self, self._length(length))

    def _adjoint(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        y = self._overlap_add(spec, length)
        half = self.n_fft // 2
        x = y[:, half : half + length]
        if self.pad_mode == "reflect":  # adjoint of reflect padding: fold the mirrors back
            x = x.clone()
            x[:, 1 : half + 1] += y[:, :half].flip(-1)
            x[:, length - 1 - half : length - 1] += y[:, half + length :].flip(-1)
        return x

    def inverse(self, spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
        r"""Least-squares inverse ``(batch, freq, frames) -> (batch, length)``, as ``torch.istft``.

        .. math:: x = \mathrm{crop}\Big(\frac{\sum_t w \cdot \mathrm{irfft}(X_t)}
                  {\sum_t w^2}\Big)

        With ``pad_mode="constant"`` this is the pseudo-inverse :math:`(A^H A)^{-1} A^H`; for a
        tight frame it equals :meth:`adjoint`.
        """
        length = self._length(length)
        y = self._overlap_add(spec, length)
        half = self.n_fft // 2
        return y[:, half : half + length] / self._envelope(length, y)

    def _envelope(self, length: int, like: torch.Tensor) -> torch.Tensor:
        """Window envelope :math:`\\sum_t w^2[n - th]` ``(1, length)``, cached per length."""
        key = (length, like.dtype, like.device)
        if key not in self._envelope_cache:
            with torch.inference_mode(False):
                w2 = (self._window(like) ** 2).repeat(1, self.n_frames(length), 1)
                half = self.n_fft // 2
                env = self._fold(w2, length)[:, half : half + length]
            if bool((env.abs() < 1e-11).any()):
                raise ValueError("window envelope vanishes somewhere: this STFT is not invertible")
            if len(self._envelope_cache) >= ENVELOPES_KEPT:  # variable lengths: bounded memory
                self._envelope_cache.pop(next(iter(self._envelope_cache)))
            self._envelope_cache[key] = env
        return self._envelope_cache[key]

    def inner(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Per-item inner product of one-sided spectra ``(batch, freq, frames)`` -> ``(batch,)``."""
        prod = (a.conj() * b).real * self._cast("bin_weights", a)[:, None]
        return prod.sum(dim=(1, 2))


class _Analysis(torch.autograd.Function):
    r"""``X = A x`` with the backward written as the adjoint.

    With PyTorch's convention for a complex output (``g = ∂L/∂Re X + i ∂L/∂Im X``) the gradient
    of a real-to-complex linear map is :math:`\mathrm{Re}(M^H g)` (Euclidean adjoint over the
    one-sided bins), which is :meth:`STFT.adjoint` of ``g / c`` (:math:`c_k` the bin weights of
    the module doc): one inverse FFT and one overlap-add, where autograd through ``rfft`` and
    ``unfold`` pays a full-length complex FFT and an ``unfold_backward``. Differentiable again
    (the backward calls :class:`_Adjoint`).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, op: STFT) -> torch.Tensor:  # type: ignore[override]
        ctx.op, ctx.length = op, x.shape[-1]
        return op._analysis(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        op = ctx.op
        # a product with 1/c: dividing complex by real on CPU costs ten times as much
        inv_c = op._cast("inv_bin_weights", grad)[:, None]
        return _Adjoint.apply(grad * inv_c, op, ctx.length), None


class _Adjoint(torch.autograd.Function):
    r"""``x = A^H Y = \mathrm{Re}(M^H (c ⊙ Y))``; its gradient is :math:`c ⊙ (A\,g)`.

    Without a graph (``create_graph=False``) the gradient is computed as A g with the window
    doubled (c = 2 on every bin but DC and Nyquist, exact in floating point) and those two
    rows halved in place: no pass over the spectrum for the product with c."""

    @staticmethod
    def forward(ctx, spec: torch.Tensor, op: STFT, length: int) -> torch.Tensor:  # type: ignore[override]
        ctx.op = op
        return op._adjoint(spec, length)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        op = ctx.op
        if torch.is_grad_enabled():  # create_graph: differentiable again through _Analysis
            return _Analysis.apply(grad, op) * op._cast("bin_weights", grad)[:, None], None, None
        spec = op._analysis(grad, "double_window")
        spec[:, 0].mul_(0.5)  # DC: c = 1
        if not op.drop_nyquist:
            spec[:, -1].mul_(0.5)  # Nyquist: c = 1
        return spec, None, None
