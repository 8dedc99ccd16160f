"""Enhancement throughput of deep NMF: seconds of audio enhanced per second of compute.

Runs the full ``unfold deep-nmf enhance`` path (STFT, context stacking, K layers, Wiener
filter, inverse STFT) on a synthetic noisy recording with random SNMF-shaped bases
(R^l = 100 per source, T = 9, F = 200, 16 kHz), for C = 0 (SNMF) and C = 2, at 1 and 2 CPU
threads. ``x_realtime`` > 1 means faster than real time. JSON to stdout or ``--out``.

    python benchmarks/deep_nmf_throughput.py [--layers 25] [--seconds 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from unfold_plugins.deep_nmf.deep_nmf import DeepNMF
from unfold_plugins.deep_nmf.enhance import Enhancer
from unfold_plugins.deep_nmf.noise import mix, synth_noise


def noisy_recording(seconds: float, sr: int, g: torch.Generator) -> torch.Tensor:
    """A gated 180 Hz tone in synthetic cafe noise at 0 dB SNR ``(samples,)``."""
    n = int(seconds * sr)
    t = torch.arange(n) / sr
    speech = 0.3 * torch.sin(2 * torch.pi * 180 * t) * (torch.sin(2 * torch.pi * 3 * t) > 0)
    return mix(speech, synth_noise("cafe", n, sr, g), 0.0)


def measure(enhancer: Enhancer, x: torch.Tensor, repeats: int) -> float:
    enhancer(x[: enhancer.sample_rate])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        enhancer(x)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=25)
    ap.add_argument("--rank", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--out")
    args = ap.parse_args()
    sr, g = 16000, torch.Generator().manual_seed(0)
    x = noisy_recording(args.seconds, sr, g)
    w_bar = torch.rand(9 * 200, 2 * args.rank, generator=g) + 0.01
    rows = []
    for threads in [int(v) for v in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for c in (0, 2):
            model = DeepNMF(args.layers, w_bar, args.rank, 200, mu=5.0, tying=f"partial:{c}")
            secs = measure(Enhancer(model.eval(), sr), x, args.repeats)
            rows.append({"threads": threads, "C": c, "seconds": secs,
                         "x_realtime": args.seconds / secs})
    report = {"benchmark": "deep_nmf_throughput", "K": args.layers, "R": 2 * args.rank,
              "T": 9, "F": 200, "sample_rate": sr, "audio_seconds": args.seconds,
              "repeats": args.repeats, "torch": torch.__version__,
              "cpu_count": os.cpu_count(), "load_average_1min": os.getloadavg()[0],
              "machine": platform.processor() or platform.machine(), "rows": rows}
    text = json.dumps(report, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
