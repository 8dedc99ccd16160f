"""The speech-enhancement task of deep NMF (paper section 5) for the unfold engine.

Features: |STFT| with a sqrt-Hann window of 25 ms and 10 ms shift (F = 200 at 16 kHz; the
Nyquist bin is dropped). Output: the Wiener-filtered speech magnitude, resynthesised with the
mixture phase. Loss: squared error of the speech magnitudes (eq. 37, β2 = 2). Metrics per item:
BSS Eval SDR (mir_eval), SI-SDR, STOI, and the input SNR (to tabulate per SNR).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import torch
from torch.utils.data import Dataset

from unfold import metrics
from unfold.results import RunContext
from unfold.signal.stft import STFT
from unfold.task import Method, Task
from unfold_plugins.deep_nmf.bases import cache_dir, cache_key, learn_bases
from unfold_plugins.deep_nmf.deep_nmf import DeepNMF, NMFProblem
from unfold_plugins.deep_nmf.dnn import MaskDNN
from unfold_plugins.deep_nmf.mbp import MBP
from unfold_plugins.deep_nmf.mixtures import Mixtures


@dataclass
class Target:
    s: torch.Tensor  # clean magnitudes (B, F, N)
    clean: torch.Tensor  # clean waveforms (B, samples)
    snr: list[float]


def make_stft(sample_rate: int, window_ms: float = 25.0, hop_ms: float = 10.0) -> STFT:
    n_fft = 2 * round(window_ms * sample_rate / 2000)
    return STFT(n_fft, round(hop_ms * sample_rate / 1000), "sqrt-hann", drop_nyquist=True)


class DeepNMFTask(Task[DeepNMF | MaskDNN]):
    primary_metric = "sdr"

    def __init__(self) -> None:
        self._bases: dict[str, torch.Tensor] = {}
        self._mbp: list[MBP] = []

    # -- data ----------------------------------------------------------------------------------
    def datasets(self, cfg: Any) -> Mapping[str, Mixtures]:
        from unfold.data import folder_corpus, speech_dataset

        d = cfg.data

        def speech(split: str, n: int, seed: int) -> Dataset:
            return speech_dataset(d.speech_root, split, n, d.sample_rate, d.seconds, seed,
                                  corpus=d.corpus)

        noise = {}
        if d.noise_root is not None:
            noise = {s: folder_corpus(d.noise_root, s, None, d.sample_rate, d.seconds, d.seed)
                     for s in ("train", "valid", "test")}
        # babble and cafe talkers: sentences of the valid split (never targets), other seed, from
        # eSpeak's many voices whatever data.corpus is (one Piper speaker would make a monologue)
        talkers = None
        if {"babble", "cafe"} & set(d.train_noises + d.test_noises):
            pool = speech_dataset(None, "valid", 24, d.sample_rate, d.seconds, d.seed + 7919)
            talkers = [pool[i] for i in range(len(pool))]
        common = dict(snrs=d.snrs, sample_rate=d.sample_rate, seed=d.seed, talkers=talkers)
        return {
            "train": Mixtures(speech("train", d.n_train, d.seed), noises=d.train_noises,
                              split="train", noise_clips=noise.get("train"), **common),
            "valid": Mixtures(speech("valid", d.n_valid, d.seed), noises=d.train_noises,
                              split="valid", noise_clips=noise.get("valid"), **common),
            "test": Mixtures(speech("test", d.n_test, d.seed), noises=d.test_noises,
                             split="test", every_snr=True, noise_clips=noise.get("test"),
                             **common),
        }

    def problem(self, batch: Any, cfg: Any, device: torch.device) -> tuple[NMFProblem, Target]:
        stft = make_stft(cfg.data.sample_rate, cfg.model.window_ms, cfg.model.hop_ms).to(device)
        noisy, clean = batch["noisy"].to(device), batch["clean"].to(device)
        spec = stft(noisy)
        p = NMFProblem.from_magnitudes(spec.abs(), cfg.model.context)
        p.spec = spec
        snr = [float(s) for s in batch["snr"]]
        return p, Target(stft(clean).abs(), clean, snr)

    # -- model ---------------------------------------------------------------------------------
    def _bases_key(self, cfg: Any) -> str:
        d, m = cfg.data, cfg.model
        train_data = {k: v for k, v in vars(d).items()
                      if k not in ("n_valid", "n_test", "test_noises")}  # bases see train only
        return cache_key(data=train_data, rank=m.rank, context=m.context, mu=m.mu, it=m.snmf_iter,
                         frames=m.snmf_frames, win=m.window_ms, hop=m.hop_ms, version=1)

    def _bases_shape(self, cfg: Any) -> tuple[int, int]:
        m = cfg.model
        n_freq = make_stft(cfg.data.sample_rate, m.window_ms, m.hop_ms).n_fft // 2
        return m.context * n_freq, 2 * m.rank

    def _usable_bases(self, w: object, cfg: Any) -> TypeGuard[torch.Tensor]:
        return (isinstance(w, torch.Tensor) and w.is_floating_point()
                and tuple(w.shape) == self._bases_shape(cfg)
                and bool(torch.isfinite(w).all()) and bool((w >= 0).all()))

    def bases(self, cfg: Any) -> torch.Tensor:
        """SNMF bases [speech | noise] ``(T F, 2 R^l)`` from the training split (cached).

        The disk cache is read with ``weights_only=True``; a cache file that cannot be read or
        holds no usable bases (wrong shape, NaN, negative) is learned again and replaced."""
        d, m = cfg.data, cfg.model
        key = self._bases_key(cfg)
        if key in self._bases:
            return self._bases[key]
        path = cache_dir() / f"bases-{key}.pt"
        if path.is_file():
            try:
                saved = torch.load(path, map_location="cpu", weights_only=True)
            except Exception:  # corrupt, truncated or unsafe: learned again below
                saved = None
            w_saved = saved.get("w") if isinstance(saved, dict) else None
            if self._usable_bases(w_saved, cfg):
                self._bases[key] = w_saved
                return w_saved
            print(f"note: the deep-nmf bases cache {path} is unusable; learning the bases again",
                  file=sys.stderr)
        train = self.datasets(cfg)["train"]
        batch = self.collate([train[i] for i in range(len(train))])
        stft = make_stft(d.sample_rate, m.window_ms, m.hop_ms)
        s_mag = stft(batch["clean"]).abs()
        n_mag = stft(batch["noisy"] - batch["clean"]).abs()
        ws, _ = learn_bases(s_mag, m.rank, m.context, m.mu, m.snmf_iter, m.snmf_frames, d.seed)
        wn, _ = learn_bases(n_mag, m.rank, m.context, m.mu, m.snmf_iter, m.snmf_frames, d.seed + 1)
        w = torch.cat([ws, wn], dim=1)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        try:
            torch.save({"w": w, "rank": m.rank}, tmp)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        self._bases[key] = w
        return w

    def prepare_from_state(self, cfg: Any, tying: str, state: Mapping[str, torch.Tensor]) -> None:
        """Take the bases from a checkpoint's ``w_bar`` (``unfold.load``): no data, no SNMF."""
        w = state.get("w_bar")
        if self._usable_bases(w, cfg):
            self._bases[self._bases_key(cfg)] = w

    def build_model(self, cfg: Any, tying: str) -> DeepNMF | MaskDNN:
        """Deep NMF with the last C layers untied (tying "partial:C"), or with ``dnn.topology``
        set the DNN mask baseline (§5.2)."""
        n_freq = make_stft(cfg.data.sample_rate, cfg.model.window_ms, cfg.model.hop_ms).n_fft // 2
        if cfg.dnn.topology:
            return MaskDNN(cfg.dnn.topology, n_freq, cfg.model.context, tying, cfg.dnn.noise,
                           seed=cfg.data.seed)
        return self.snmf(cfg, tying, n_freq)

    def snmf(self, cfg: Any, tying: str, n_freq: int) -> DeepNMF:
        """SNMF / deep NMF on the cached bases, the frozen prefix memoised."""
        w = self.bases(cfg)
        model = DeepNMF(cfg.model.layers, w, n_speech=cfg.model.rank, n_freq=n_freq,
                        mu=cfg.model.mu, tying=tying)
        return model.cache_prefix()  # the frozen SNMF layers run once per item

    # -- objective and evaluation --------------------------------------------------------------
    def optimizer(self, cfg: Any, model: DeepNMF | MaskDNN) -> torch.optim.Optimizer | None:
        """``update="mbp"``: multiplicative back-propagation (eq. 38); else the engine's Adam
        (always for the DNN)."""
        if cfg.update != "mbp" or isinstance(model, MaskDNN):
            return None
        self._mbp.append(MBP(model, cfg.train.lr))
        return self._mbp[-1]

    def loss(self, output: torch.Tensor, target: Target, problem: NMFProblem, cfg: Any
             ) -> torch.Tensor:
        if self._mbp and output.requires_grad:  # hand the training batch to the MBP step
            self._mbp[-1].batch = (problem, target.s)
        return ((output - target.s) ** 2).sum(dim=(1, 2)).mean() / output.shape[-1]

    def enhance(self, output: torch.Tensor, problem: NMFProblem, cfg: Any,
                length: int) -> torch.Tensor:
        """Waveforms ``(B, length)`` from speech magnitudes with the mixture phase."""
        stft = make_stft(cfg.data.sample_rate, cfg.model.window_ms, cfg.model.hop_ms)
        stft = stft.to(output.device)
        assert problem.spec is not None  # set by ``problem``
        phase = problem.spec / problem.spec.abs().clamp_min(1e-12)
        return stft.inverse(output * phase, length)

    def metrics(self, output: torch.Tensor, target: Target, problem: NMFProblem, cfg: Any
                ) -> dict[str, list[float]]:
        est = self.enhance(output.detach(), problem, cfg, target.clean.shape[-1]).cpu().double()
        clean = target.clean.cpu().double()
        return {
            "sdr": metrics.sdr(clean, est).tolist(),
            "si_sdr": metrics.si_sdr(clean, est).tolist(),
            "stoi": metrics.stoi(clean, est, cfg.data.sample_rate).tolist(),
            "input_snr": list(target.snr),
        }

    def methods(self, cfg: Any, trained: Mapping[str, DeepNMF | MaskDNN]) -> list[Method]:
        n_freq = make_stft(cfg.data.sample_rate, cfg.model.window_ms, cfg.model.hop_ms).n_fft // 2
        snmf = self.snmf(cfg, "tied", n_freq)
        out = [Method(f"SNMF (C=0, K={snmf.n_layers})", snmf, snmf.n_layers, "tied")]
        for tying, model in trained.items():
            if isinstance(model, MaskDNN):
                out.append(Method(f"DNN {model.topology}", model, model.n_layers, tying,
                                  trained=True))
                continue
            c = model.n_untied
            if c == 0:
                continue  # identical to the SNMF baseline
            out.append(Method(f"deep NMF (C={c}, K={model.n_layers})", model, model.n_layers,
                              tying, trained=True))
        return out

    def figures(self, ctx: RunContext[DeepNMF | MaskDNN]) -> list[Path]:
        from unfold_plugins.deep_nmf.report import dnn_table, write_table2

        if ctx.cfg.dnn.topology:  # the DNN baseline's run: its own table, no SDR-vs-C figure
            (ctx.run_dir / "dnn_table.md").write_text(dnn_table(ctx.results.methods, ctx.per_item))
            return []
        m = ctx.cfg.model
        n_freq = make_stft(ctx.cfg.data.sample_rate, m.window_ms, m.hop_ms).n_fft // 2
        return write_table2(ctx.run_dir, ctx.results.methods, ctx.per_item, n_freq, 2 * m.rank,
                            m.context)
