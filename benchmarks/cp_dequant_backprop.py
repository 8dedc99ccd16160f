"""The paper's claim at L = 1000: truncated backprop (b = 30) vs full, in one run.

    python benchmarks/cp_dequant_backprop.py [--out FILE.json] [--train-steps 24] [--lr 1e-4]

For Full, the core's Truncated(30) and the paper's frozen-Jacobian truncation (frozen:30):
time per training step and peak memory at L = 30 and L = 1000 (measured as in
``backprop_memory.py``), then each trains a tied DCT-initialised K at L = 1000 for the
same ``--train-steps`` Adam steps on the same batches (32 quantised eSpeak frames each) and is
tested at L = 1000 (classical inference) on ``--test-frames`` frames. Checks (the paper's claims):
time(truncated, 1000) ≤ 0.6 · time(full, 1000); peak(truncated, 1000) within 10 % of
peak(truncated, 30); test MSE(truncated) ≤ test MSE(full).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backprop_memory import (  # noqa: E402
    data,
    measure,
    model_for,
    train_step,
    write_result,
)

STRATEGIES = ("full", "truncated:30", "frozen:30")


def test_mse(model: torch.nn.Module, problem, target, layers: int) -> float:
    with torch.no_grad():
        return float(((model(problem, n_iter=layers) - target) ** 2).mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=1000)
    ap.add_argument("--train-steps", type=int, default=24)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--test-frames", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per measurement")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    task, cfg, train, (tp, tt) = data(args.test_frames)
    cpu = torch.device("cpu")
    problem, target = task.problem(train[:32], cfg, cpu)
    cost = [measure(L, bp, problem, target, args.steps) for L in (30, args.layers)
            for bp in STRATEGIES]
    for row in cost:
        print(json.dumps(row), file=sys.stderr, flush=True)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
    batches = [order[i * 32:(i + 1) * 32] for i in range(args.train_steps)]
    dct = model_for(args.layers, "full").requires_grad_(False)
    training = {"quantized": float(((tp.x - tt) ** 2).mean()),
                "dct": test_mse(dct, tp, tt, args.layers)}
    for bp in STRATEGIES:
        torch.manual_seed(0)
        model = model_for(args.layers, bp)
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
        t0 = time.perf_counter()
        losses = [train_step(model, opt, *task.problem(train[idx % len(train)], cfg, cpu))
                  for idx in batches]
        training[bp] = {"test_mse": test_mse(model, tp, tt, args.layers),
                        "train_seconds": time.perf_counter() - t0,
                        "first_loss": losses[0], "last_loss": losses[-1]}
        print(bp, json.dumps(training[bp]), file=sys.stderr, flush=True)
    at = {(r["layers"], r["backprop"]): r for r in cost}
    L = args.layers
    checks = {}
    for bp in ("truncated:30", "frozen:30"):
        checks[bp] = {
            "time_ratio_vs_full": at[L, bp]["seconds_per_step"] / at[L, "full"]["seconds_per_step"],
            "peak_ratio_L_vs_30": at[L, bp]["peak_mb"] / at[30, bp]["peak_mb"],
            "test_mse_minus_full": training[bp]["test_mse"] - training["full"]["test_mse"],
        }
        c = checks[bp]
        c["time_ok"] = c["time_ratio_vs_full"] <= 0.6
        c["memory_ok"] = abs(c["peak_ratio_L_vs_30"] - 1) <= 0.1
        c["mse_ok"] = c["test_mse_minus_full"] <= 0
    result = {"benchmark": "cp_dequant_backprop", "torch": str(torch.__version__), "threads": 1,
              "layers": L, "train_steps": args.train_steps, "lr": args.lr,
              "test_frames": len(tt), "cost": cost, "training": training, "checks": checks}
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
