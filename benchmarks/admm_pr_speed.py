"""Speed of admm-pr: time per iteration of our GLA vs torchaudio's GriffinLim, and UADMM per layer.

Same batch (10 x 2 s of noise-excited speech-like signal at 22,050 Hz), same process, the
measurements interleaved and repeated, median reported. Our GLA runs on the paper's tight sine
STFT (adjoint = inverse) and on the reflect-padded sqrt-Hann framing that reproduces torchaudio
exactly. Target: ours <= 1.2 x torchaudio per iteration. JSON to stdout or --out.

    python benchmarks/admm_pr_speed.py --iters 20 --repeats 5 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torchaudio

from unfold.signal.stft import STFT
from unfold_plugins.admm_pr import ADMM, GLA, UADMM
from unfold_plugins.admm_pr.problem import PRProblem, make_problem

RATE, N_FFT, HOP = 22050, 1024, 512


def signals(batch: int, seconds: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    n = int(seconds * RATE)
    t = torch.arange(n) / RATE
    f0 = 100 + 150 * torch.rand(batch, 1, generator=g)
    harm = sum(torch.sin(2 * torch.pi * k * f0 * t) / k for k in range(1, 20))
    env = 0.5 * (1 + torch.sin(2 * torch.pi * 3 * t))
    return 0.3 * harm * env + 0.01 * torch.randn(batch, n, generator=g)


def machine() -> dict:
    """The platform, CPU count, torch threads, versions and load average of this run."""
    return {"platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "torchaudio": torchaudio.__version__,
            "python": platform.python_version(),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}


def timed(fn, iters: int) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) / iters


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    s = signals(a.batch, a.seconds)
    n = s.shape[1]
    tight = make_problem(s, STFT(N_FFT, HOP, "sine"))
    refl_op = STFT(N_FFT, HOP, "sqrt-hann", pad_mode="reflect")
    refl = make_problem(s, refl_op)
    refl = PRProblem(refl.r, refl.init_spec, refl_op, n)
    ta = torchaudio.transforms.GriffinLim(
        n_fft=N_FFT, hop_length=HOP, power=1, n_iter=a.iters, momentum=0.0, rand_init=False,
        length=n, window_fn=lambda k, **_: torch.hann_window(k).sqrt())
    ta_mag = refl.r * N_FFT**0.5
    gla, admm, uadmm = GLA(1), ADMM(1), UADMM(15, "untied")

    def uadmm_train_step() -> None:
        uadmm.zero_grad()
        uadmm(tight, n_iter=a.iters).pow(2).mean().backward()

    cases = {
        "torchaudio_griffinlim": lambda: ta(ta_mag),
        "ours_gla_tight_sine": lambda: gla(tight, n_iter=a.iters),
        "ours_gla_reflect_sqrthann": lambda: gla(refl, n_iter=a.iters),
        "ours_admm": lambda: admm(tight, n_iter=a.iters),
        "ours_uadmm_layer_inference": lambda: uadmm(tight, n_iter=a.iters),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    times["ours_uadmm_layer_train_fwd_bwd"] = []
    with torch.no_grad():
        for fn in cases.values():  # warm-up
            fn()
    for _ in range(a.repeats):
        with torch.no_grad():
            for k, fn in cases.items():
                times[k].append(timed(fn, a.iters))
        times["ours_uadmm_layer_train_fwd_bwd"].append(timed(uadmm_train_step, a.iters))
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    ref = med["torchaudio_griffinlim"]
    out = {
        "benchmark": "admm_pr_speed",
        "batch": f"{a.batch} x {a.seconds} s at {RATE} Hz, STFT {N_FFT}/{HOP}",
        "iters_per_timing": a.iters, "repeats": a.repeats,
        "ms_per_iteration_median": med,
        "ms_per_iteration_all": {k: [round(x * 1e3, 3) for x in v] for k, v in times.items()},
        "ratio_ours_gla_tight_vs_torchaudio": med["ours_gla_tight_sine"] / ref,
        "ratio_ours_gla_reflect_vs_torchaudio": med["ours_gla_reflect_sqrthann"] / ref,
        "target_ratio": 1.2,
        "machine": machine(),
    }
    text = json.dumps(out, indent=2)
    if a.out:
        a.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
