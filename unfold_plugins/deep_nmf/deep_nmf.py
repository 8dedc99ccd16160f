"""Deep NMF: K layers of the KL multiplicative update for H, the last C with their own bases.

Layer k (k = 1 … K) updates the activations with the bases of the layer below and carries its
own bases W^k to the next layer and to the Wiener-filter output (paper eqs. 33, 34, β1 = 1):

.. math::

    H^k = H^{k-1} \\circ \\frac{W^{k-1\\,T} (X / (W^{k-1} H^{k-1}))}{W^{k-1\\,T} 1 + μ},
    \\qquad
    \\tilde S^{1,k} = \\frac{W^k_{1} H^{k}_{1}}{W^k H^k} \\circ M', \\qquad H^0 = 1.

W^0 = … = W^{K−C} = W̄ are the column-normalised SNMF bases (speech columns first, then noise)
over T frames of context, applied to the stacked features X ``(TF, N)``; the untied layers
k > K − C have single-frame bases W^k ``(F, R)`` (initialised to the last F rows of W̄), applied
to the current frame M' ``(F, N)`` (section 5.4). Wiener output uses the last F rows of W^K.

So C = 0 (tying "tied" or "partial:0") is SNMF with K iterations, C = 1 trains only the
reconstruction bases W^K (DNMF), and C = K ("untied") gives every layer its own bases.
The shared group's W̄ is frozen (a buffer, substituted for the group by the core's
``layer_params`` hook): the core's shared group still allocates a W^0 slot of shape (F, R),
unused; ``discriminative_params`` gives P_D = C F R of Table 2. With ``cache_prefix`` the
``warm_start`` hook resumes a run from the memoised output of the frozen layers.

Shapes: M' ``(batch, F, N)``, X ``(batch, T F, N)``, H ``(batch, R, N)``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from unfold.params import LogPositive, Param
from unfold.unroller import Theta, Unroller
from unfold_plugins.deep_nmf.features import stack_context
from unfold_plugins.deep_nmf.snmf import EPS, kl_h_updates, normalize_columns, update_h

Tensor = torch.Tensor


@dataclass
class NMFProblem:
    """Mixture magnitudes M' ``(batch, F, N)``, their stacked context X ``(batch, TF, N)`` and,
    for resynthesis only, the complex mixture STFT ``(batch, F, N)``."""

    m: Tensor
    x: Tensor
    spec: Tensor | None = None

    @staticmethod
    def from_magnitudes(m: Tensor, context: int) -> NMFProblem:
        m = m.clamp_min(0)
        return NMFProblem(m, stack_context(m, context))


@dataclass
class NMFState:
    h: Tensor  # (batch, R, N)
    w: Tensor  # bases of the current layer: (TF, R) shared or (F, R) untied
    depth: int = 0  # layers applied so far (set by ``prefix``; ``run`` takes start= instead)


def wiener(m: Tensor, w: Tensor, h: Tensor, n_speech: int) -> Tensor:
    """Eq. 34 for the speech source on the current frame: ``(batch, F, N)``; the mixture model
    W_f H is the speech part plus the noise part (one product per source, not three)."""
    wf = w[-m.shape[-2]:]
    speech = wf[:, :n_speech] @ h[:, :n_speech]
    total = speech + wf[:, n_speech:] @ h[:, n_speech:]
    return speech / total.clamp_min(EPS) * m


def analysis_step(p: NMFProblem, w: Tensor, h: Tensor, mu: float) -> Tensor:
    """Eq. 33 with β = 1: full-context bases act on X, single-frame bases on M'."""
    v = p.x if w.shape[0] == p.x.shape[-2] else p.m
    return update_h(v, w, h, 1.0, mu)


class DeepNMF(Unroller):
    """Unfolded sparse NMF for speech enhancement (paper section 4).

    Args:
        w_bar: SNMF bases ``(T F, R)`` (speech columns first); normalised here.
        n_speech: number of speech columns R^1.
        n_freq: F; the context T is ``w_bar.shape[0] // n_freq``.
        mu: sparsity weight μ.
    """

    w_bar: Tensor  # buffer: the frozen SNMF bases

    def __init__(self, n_layers: int, w_bar: Tensor, n_speech: int, n_freq: int,
                 mu: float = 5.0, tying: str = "tied", backprop=None,
                 trainable: bool = True) -> None:
        if w_bar.dim() != 2 or w_bar.shape[0] % n_freq:
            raise ValueError(f"w_bar must be (T*F, R) with F={n_freq}, got {tuple(w_bar.shape)}")
        if not 0 < n_speech < w_bar.shape[1]:
            raise ValueError(f"n_speech must be in (0, {w_bar.shape[1]}), got {n_speech}")
        if mu < 0:
            raise ValueError(f"mu must be >= 0, got {mu}")
        self.n_freq, self.n_speech, self.mu = n_freq, n_speech, float(mu)
        self.context = w_bar.shape[0] // n_freq
        self._w_bar = normalize_columns(w_bar.detach())
        super().__init__(n_layers, tying, backprop, trainable)
        self.register_buffer("w_bar", self.__dict__.pop("_w_bar"))
        if self.n_untied == 0:
            self.raw["W"].requires_grad_(False)
        self.prefix_cache: dict[bytes, Tensor] | None = None  # see ``cache_prefix``

    def cache_prefix(self, max_items: int = 20000) -> DeepNMF:
        """Memoise the frozen first K − C layers per item (keyed by the SHA-1 of its
        magnitudes): every epoch after the first runs only the C untied layers. The cache
        holds H ``(R, N)`` per item, at most ``max_items`` of them."""
        self.prefix_cache, self._cache_max = {}, max_items
        return self

    def param_specs(self) -> dict[str, Param]:
        w_bar = self._w_bar if "_w_bar" in self.__dict__ else self.w_bar
        last = w_bar[-self.n_freq:].clone()
        return {"W": Param(last, LogPositive(), tuple(last.shape),
                           doc="single-frame bases of an untied layer (F, R)")}

    @property
    def n_untied(self) -> int:
        """C: the number of layers with their own (trainable) bases."""
        t = self.tying
        return {"tied": 0, "untied": self.n_layers}.get(t.kind, min(t.untied, self.n_layers))

    def is_untied(self, t: int) -> bool:
        return t % self.n_layers >= self.n_layers - self.n_untied

    def discriminative_params(self) -> int:
        """P_D = C F R (Table 2)."""
        return self.n_untied * self.w_bar.shape[1] * self.n_freq

    def n_params(self) -> int:
        """Trainable scalars: P_D (the shared layers' slot of the core's storage is unused)."""
        return self.discriminative_params() if self.trainable else 0

    def total_params(self) -> int:
        """P = (T + C) F R (Table 2)."""
        return self.w_bar.numel() + self.discriminative_params()

    def layer_params(self, theta: Theta, group: int) -> Theta:
        """The shared group (group 0 when K − C > 0) uses the frozen SNMF bases W̄."""
        if group == 0 and self.n_shared:
            return Theta({"W": self.w_bar})
        return theta

    def init(self, p: NMFProblem) -> NMFState:
        b, _, n = p.m.shape
        return NMFState(p.m.new_ones(b, self.w_bar.shape[1], n), self.w_bar.to(p.m.dtype))

    def step(self, s: NMFState, theta: Theta, p: NMFProblem) -> NMFState:
        h = analysis_step(p, s.w.to(p.m.dtype), s.h, self.mu)
        return NMFState(h, theta.W.to(p.m.dtype))

    @property
    def n_shared(self) -> int:
        """K − C: the leading layers with the frozen SNMF bases."""
        return self.n_layers - self.n_untied

    @torch.no_grad()
    def prefix(self, p: NMFProblem, depth: int | None = None) -> NMFState:
        """State after the first ``depth`` (default K − C) layers, without a graph: the frozen
        layers by :func:`~unfold_plugins.deep_nmf.snmf.kl_h_updates` (in place, from H⁰ = 1),
        any untied layers among them by ``step``."""
        depth = self.n_shared if depth is None else depth
        frozen = min(depth, self.n_shared)
        w_bar = self.w_bar.to(p.m.dtype)
        state = NMFState(kl_h_updates(p.x, w_bar, frozen, self.mu), w_bar)
        if depth > frozen:
            state = self.run(p, depth, state=state, start=frozen)
        return NMFState(state.h, state.w, depth)

    def warm_start(self, problem: NMFProblem, n_iter: int) -> tuple[NMFState, int]:
        """A run starts after the frozen layers (the first K − C, which have no parameters):
        with ``cache_prefix`` from the memoised state of each item (runs of the trained
        depth), and whenever no graph is recorded (inference) from :meth:`prefix`."""
        if self.prefix_cache is not None and n_iter == self.n_layers and self.n_shared:
            return self._cached_prefix(problem), self.n_shared
        if not torch.is_grad_enabled() and self.n_shared:
            depth = min(n_iter, self.n_shared)
            return self.prefix(problem, depth), depth
        return super().warm_start(problem, n_iter)

    def _cached_prefix(self, p: NMFProblem) -> NMFState:
        assert self.prefix_cache is not None
        m = p.m.detach().cpu().contiguous()
        tag = str(self.n_shared).encode()
        keys = [hashlib.sha1(m[i].numpy().tobytes()).digest() + tag for i in range(m.shape[0])]
        missing = [i for i, k in enumerate(keys) if k not in self.prefix_cache]
        fresh: dict[bytes, Tensor] = {}
        if missing:
            h = self.prefix(NMFProblem(p.m[missing], p.x[missing])).h
            fresh = {keys[i]: h[j] for j, i in enumerate(missing)}
            room = max(0, self._cache_max - len(self.prefix_cache))
            self.prefix_cache.update(list(fresh.items())[:room])
        h_all = torch.stack([fresh[k] if k in fresh else self.prefix_cache[k] for k in keys])
        return NMFState(h_all.to(p.m.dtype), self.w_bar.to(p.m.dtype), self.n_shared)

    def forward_from(self, state: NMFState, p: NMFProblem, start: int) -> Tensor:
        """Output of layers ``start`` … K − 1 applied to ``state`` (e.g. a cached prefix)."""
        return self.readout(self.run(p, state=state, start=start), p)

    def readout(self, s: NMFState, p: NMFProblem) -> Tensor:
        return wiener(p.m, s.w, s.h, self.n_speech)

    @classmethod
    def example(cls, tying: str = "partial:2") -> tuple[DeepNMF, NMFProblem]:
        g = torch.Generator().manual_seed(0)
        f, context, r = 6, 3, 8
        w_bar = torch.rand(context * f, r, generator=g) + 0.1
        model = cls(4, w_bar, n_speech=4, n_freq=f, mu=0.5, tying=tying)
        m = torch.rand(2, f, 5, generator=g) + 0.05
        return model, NMFProblem.from_magnitudes(m, context)
