"""Speed of admm-pr per iteration against torchaudio's GriffinLim, measured in the same run.

Same batch (10 x 2 s of a harmonic speech-like signal at 22,050 Hz), same process, same
framing (STFT 1024 / hop 512), torchaudio with power 1 and momentum 0. The cases are
interleaved and repeated and the median of the repeats is reported (ms per iteration):

- ``torchaudio_griffinlim``: ``torchaudio.transforms.GriffinLim`` (the peer, ratio 1);
- ``ours_gla_tight_sine``: our GLA on the paper's tight sine STFT (A^+ = A^H);
- ``ours_gla_reflect_sqrthann``: our GLA on torchaudio's reflect-padded sqrt-Hann framing;
- ``ours_admm``: one ADMM layer (quadratic prox, d = 1);
- ``ours_uadmm_layer_inference``: one UADMM layer (untied, C = 3) without autograd;
- ``ours_uadmm_layer_train_fwd_bwd``: a training step of the 15-layer UADMM (forward, the
  neg-STOI loss against the clean signals, backward) divided by 15: the loss's share spread
  over the layers.

``--allocator tuned`` (the default) applies :func:`unfold.runtime.tune_allocator` first, as
``unfold run`` does before training; ``--allocator default`` keeps glibc's settings. Both the
peer and our cases run under the same setting.

Targets (ratio to the peer): GLA <= 0.6, ADMM <= 1.0, UADMM inference <= 1.2, training <= 2.0.
JSON (machine, load before / after, threads, medians, all repeats, ratios) to stdout and --out.

    python benchmarks/admm_pr_speed.py --iters 10 --repeats 5 --threads 1 [--device cuda]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from pathlib import Path

import torch
import torchaudio

from benchmarks.benchjson import emit, load_average, machine, timed
from unfold.metrics import neg_stoi_loss
from unfold.runtime import tune_allocator
from unfold.signal.stft import STFT
from unfold_plugins.admm_pr import ADMM, GLA, UADMM
from unfold_plugins.admm_pr.problem import PRProblem, make_problem

RATE, N_FFT, HOP, DEPTH = 22050, 1024, 512, 15
PEER = "torchaudio_griffinlim"
TARGETS = {"ours_gla_tight_sine": 0.6, "ours_gla_reflect_sqrthann": 0.6, "ours_admm": 1.0,
           "ours_uadmm_layer_inference": 1.2, "ours_uadmm_layer_train_fwd_bwd": 2.0}


def signals(batch: int, seconds: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    n = int(seconds * RATE)
    t = torch.arange(n) / RATE
    f0 = 100 + 150 * torch.rand(batch, 1, generator=g)
    harm = sum(torch.sin(2 * torch.pi * k * f0 * t) / k for k in range(1, 20))
    env = 0.5 * (1 + torch.sin(2 * torch.pi * 3 * t))
    return 0.3 * harm * env + 0.01 * torch.randn(batch, n, generator=g)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=10, help="iterations per timing")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--allocator", choices=("tuned", "default"), default="tuned")
    a = ap.parse_args()
    tuned = a.allocator == "tuned" and tune_allocator()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    load_before = load_average()
    s = signals(a.batch, a.seconds).to(dev)
    n = s.shape[1]
    tight = make_problem(s, STFT(N_FFT, HOP, "sine").to(dev))
    refl_op = STFT(N_FFT, HOP, "sqrt-hann", pad_mode="reflect").to(dev)
    refl = make_problem(s, refl_op)
    refl = PRProblem(refl.r, refl.init_spec, refl_op, n)
    ta = torchaudio.transforms.GriffinLim(
        n_fft=N_FFT, hop_length=HOP, power=1, n_iter=a.iters, momentum=0.0, rand_init=False,
        length=n, window_fn=lambda k, **_: torch.hann_window(k).sqrt()).to(dev)
    ta_mag = (refl.r * N_FFT**0.5).contiguous()
    gla, admm = GLA(1).to(dev), ADMM(1).to(dev)
    uadmm = UADMM(DEPTH, "untied").to(dev)
    stoi = neg_stoi_loss(RATE).to(dev)

    def uadmm_train_step() -> None:
        uadmm.zero_grad()
        stoi(uadmm(tight, n_iter=DEPTH), s).backward()

    cases: dict[str, tuple[Callable[[], object], int]] = {
        PEER: (lambda: ta(ta_mag), a.iters),
        "ours_gla_tight_sine": (lambda: gla(tight, n_iter=a.iters), a.iters),
        "ours_gla_reflect_sqrthann": (lambda: gla(refl, n_iter=a.iters), a.iters),
        "ours_admm": (lambda: admm(tight, n_iter=a.iters), a.iters),
        "ours_uadmm_layer_inference": (lambda: uadmm(tight, n_iter=a.iters), a.iters),
    }
    times: dict[str, list[float]] = {k: [] for k in [*cases, "ours_uadmm_layer_train_fwd_bwd"]}
    with torch.no_grad():
        for fn, _ in cases.values():  # warm-up
            fn()
    uadmm_train_step()
    for _ in range(a.repeats):
        with torch.no_grad():
            for k, (fn, per) in cases.items():
                times[k].append(timed(fn, per, dev))
        times["ours_uadmm_layer_train_fwd_bwd"].append(timed(uadmm_train_step, DEPTH, dev))
    med = {k: round(statistics.median(v) * 1e3, 3) for k, v in times.items()}
    ratios = {k: round(v / med[PEER], 3) for k, v in med.items() if k != PEER}
    out = {
        "benchmark": "admm_pr_speed",
        "batch": f"{a.batch} x {a.seconds} s at {RATE} Hz, STFT {N_FFT}/{HOP}",
        "peer": f"{PEER} (power 1, momentum 0, same framing)",
        "iters_per_timing": a.iters, "repeats": a.repeats, "threads": a.threads,
        "train_depth": DEPTH, "allocator": "tuned" if tuned else "default",
        "ms_per_iteration_median": med,
        "ms_per_iteration_all": {k: [round(x * 1e3, 3) for x in v] for k, v in times.items()},
        "ratio_to_peer": ratios,
        "target_ratio": TARGETS,
        "met": {k: ratios[k] <= t for k, t in TARGETS.items()},
        "machine": machine(dev, torchaudio=torchaudio.__version__),
        "load_average_before": load_before, "load_average_after": load_average(),
    }
    emit(out, a.out)


if __name__ == "__main__":
    main()
