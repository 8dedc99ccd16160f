"""Peak memory and time per training step of Full, Truncated(30), Checkpointed (and the paper's
frozen-Jacobian truncation) for the ChambollePock unroller at L = 30, 100, 300, 1000.

    python benchmarks/cp_dequant_backprop_memory.py [--out FILE.json] [--layers 30 100 300 1000]

One training step = forward over L layers, MSE loss, backward, Adam step, on a batch of 32
quantised (4-bit) eSpeak frames of n = 320 with the tied DCT-initialised K, one intra-op thread.

Memory, two measures (CPU; no CUDA allocator statistics here):
- ``peak_mb``: peak of the running sum of every operator's own allocations minus frees, in the
  order the operators ran, over forward + backward (``torch.profiler`` with
  ``profile_memory=True``). This is the peak extra memory of the step above what existed before
  it; it covers the recomputation of Checkpointed too.
- ``saved_mb``: bytes of the distinct storages that autograd saved for the backward pass
  (``torch.autograd.graph.saved_tensors_hooks``), at the end of the forward. Exact for Full,
  Truncated and frozen; Checkpointed hides its inner saves from outer hooks, so it reads low.
Process RSS (``ru_maxrss``) was not used: the graph at L = 30 (≈ 6 MB) is below its noise.
Time: median of ``--steps`` steps after one warm-up, profiler off.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile


def data(n_test: int = 1) -> tuple[Any, Any, torch.Tensor, tuple[Any, torch.Tensor]]:
    """(task, config, train frames (m, 320), (test problem, test target)) from the eSpeak corpus
    of the quick cp-dequant recipe."""
    from unfold_plugins.cp_dequant import plugin

    recipe = plugin.recipe("cp-dequant")
    cfg = recipe.resolve(quick=True, overrides=[f"data.max_test_frames={n_test}"])
    task = recipe.task()
    split = task.datasets(cfg)
    train = torch.stack([split["train"][i] for i in range(len(split["train"]))])
    test = torch.stack([split["test"][i] for i in range(len(split["test"]))])
    return task, cfg, train, task.problem(test, cfg, torch.device("cpu"))


def model_for(layers: int, backprop: str) -> torch.nn.Module:
    from unfold_plugins.cp_dequant.unroller import ChambollePock

    return ChambollePock(layers, n=320, backprop=backprop)


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, problem: Any,
               target: torch.Tensor) -> float:
    out = model(problem)
    loss = ((out - target) ** 2).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())


def peak_mb(model: torch.nn.Module, problem: Any, target: torch.Tensor) -> float:
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        ((model(problem) - target) ** 2).mean().backward()
    model.zero_grad(set_to_none=True)
    running = peak = 0
    for e in sorted(prof.events(), key=lambda e: e.time_range.start):
        running += e.self_cpu_memory_usage
        peak = max(peak, running)
    return peak / 1e6


def saved_mb(model: torch.nn.Module, problem: Any) -> float:
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(problem)
    return sum(seen.values()) / 1e6


def measure(layers: int, backprop: str, problem: Any, target: torch.Tensor,
            steps: int = 3) -> dict[str, Any]:
    model = model_for(layers, backprop)
    opt = torch.optim.Adam(model.parameters(), lr=1e-5)
    train_step(model, opt, problem, target)  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        train_step(model, opt, problem, target)
        times.append(time.perf_counter() - t0)
    return {"layers": layers, "backprop": backprop, "seconds_per_step": statistics.median(times),
            "peak_mb": peak_mb(model, problem, target), "saved_mb": saved_mb(model, problem)}


def write_result(result: dict[str, Any], out: str | None) -> None:
    """JSON to the file ``out``, or to stdout."""
    text = json.dumps(result, indent=1)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, nargs="+", default=[30, 100, 300, 1000])
    ap.add_argument("--backprops", nargs="+",
                    default=["full", "truncated:30", "checkpointed", "frozen:30"])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--out", default=None, help="JSON file (default: stdout)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    task, cfg, train, _ = data()
    problem, target = task.problem(train[:32], cfg, torch.device("cpu"))
    rows = []
    for L in args.layers:
        for bp in args.backprops:
            rows.append(measure(L, bp, problem, target, args.steps))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    result = {"benchmark": "cp_dequant_backprop_memory", "torch": str(torch.__version__),
              "threads": 1, "batch": 32, "n": 320, "rows": rows}
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
