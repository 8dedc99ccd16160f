"""Speed of DPR on this machine: seconds per iteration of the classical methods and per
training step of unrolled DPR, for the digits-size (10-100-100-64) and the paper's MNIST-size
(20-500-500-784) generator. Random (untrained) generators: the cost does not depend on weights.

    python benchmarks/dpr_speed.py [--out FILE] [--threads 1] [--device cpu]

Prints one JSON object (also written to --out).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from unfold_plugins.dpr.dpr import DPR
from unfold_plugins.dpr.dpr_adam import DPRAdam
from unfold_plugins.dpr.generator import Generator
from unfold_plugins.dpr.problem import PRProblem, gaussian_matrix, measure


def problem(k: int, hidden: tuple[int, ...], n: int, m: int, batch: int, restarts: int,
            device: str) -> tuple[PRProblem, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    G = Generator(k, hidden, n).eval()
    for p in G.parameters():
        p.requires_grad_(False)
    y0 = G(torch.randn(batch, k, generator=g))
    A = torch.stack([gaussian_matrix(m, n, g) for _ in range(batch)])
    p = PRProblem(A, measure(y0, A), torch.full((batch,), m),
                  torch.randn(batch, restarts, k, generator=g), G)
    return p.to(device), y0.to(device)


def seconds(fn, repeat: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def case(name: str, k: int, hidden: tuple[int, ...], n: int, device: str) -> dict:
    batch, restarts, iters, layers = 10, 5, 50, 30
    p, y0 = problem(k, hidden, n, 2 * n, batch, restarts, device)
    adam = DPRAdam(lr=0.1).to(device)
    gd = DPR(1, trainable=False, step=1.0).to(device)
    unrolled = DPR(layers, "untied", step=1.0).to(device)

    def train_step() -> None:
        (unrolled(p) - y0).pow(2).mean().backward()

    with torch.no_grad():
        t_adam = seconds(lambda: adam(p, n_iter=iters)) / iters
        t_gd = seconds(lambda: gd(p, n_iter=iters)) / iters
    return {"generator": name, "n": n, "m": 2 * n, "batch": batch, "restarts": restarts,
            "dpr_adam_s_per_iter": t_adam, "dpr_gd_s_per_iter": t_gd,
            "unrolled_train_step_s": seconds(train_step, 2), "unrolled_layers": layers}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = {"threads": args.threads, "device": args.device, "torch": torch.__version__,
           "cases": [case("digits", 10, (100, 100), 64, args.device),
                     case("mnist", 20, (500, 500), 784, args.device)]}
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
