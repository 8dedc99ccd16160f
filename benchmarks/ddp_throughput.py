"""Training throughput (items per second) of a recipe on 1 vs N processes (torchrun, DDP).

Runs ``unfold run RECIPE`` once per process count in the same invocation, on the same config,
and reads the epoch times from each run's metrics.csv (an epoch = its training steps plus the
validation pass). Prints JSON with the machine and the speed-up against one process.

    python benchmarks/ddp_throughput.py --recipe admm-pr-paper --nproc 1 2 \
        --set data.n_train=40 --set data.n_valid=10 --set data.n_test=10 --set train.epochs=2
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def run(recipe: str, nproc: int, sets: list[str], tying: str, device: str, out: Path) -> dict:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "-m", "unfold.cli", "run", recipe, "--out", str(out),
           "--device", device, "--no-progress", "--tying", tying]
    for s in sets:
        cmd += ["--set", s]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // nproc))}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    wall = time.perf_counter() - t0
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    cfg = json.loads((out / "config.json").read_text())["config"]
    n_train = cfg["data"]["n_train"]
    epoch_s = [float(r["seconds"]) for r in rows]
    steady = epoch_s[1:] or epoch_s  # the first epoch pays for warm-up
    return {"nproc": nproc, "epoch_seconds": epoch_s, "wall_seconds": wall,
            "items_per_second": n_train / (sum(steady) / len(steady))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="admm-pr-paper")
    ap.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--tying", default="untied")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, help="write the JSON here too")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run(args.recipe, n, args.sets, args.tying, args.device, Path(tmp) / f"n{n}")
                for n in args.nproc]
    base = runs[0]["items_per_second"]
    for r in runs:
        r["speedup_vs_first"] = r["items_per_second"] / base
    report = {"benchmark": "ddp_throughput", "recipe": args.recipe, "tying": args.tying,
              "device": args.device, "overrides": args.sets,
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "torch": torch.__version__,
                          "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
              "runs": runs}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
