"""Peak memory and time per training step of the backprop strategies (Full, Truncated(30),
Checkpointed, Implicit(30)) at L = 30, 100, 300, 1000 on two tied unrollers:

- ``cp``: ChambollePock (cp-dequant), a batch of quantised (4-bit) eSpeak frames of n = 320 of
  the quick recipe, tied DCT-initialised K (``--cp-batch``, default 8);
- ``uadmm``: UADMM (admm-pr), tied, a batch of speech-like signals (``--uadmm-batch`` × 0.25 s
  at 8 kHz, STFT 256/128 sine window).

    python benchmarks/backprop_memory.py [--out FILE.json] [--layers 30 100 300 1000]
        [--cases cp uadmm] [--backprops full truncated:30 checkpointed implicit:30]

One training step = forward over L layers, MSE loss on the readout, backward, Adam step, one
intra-op thread. Note ``implicit:b`` runs L + 1 steps with a graph (the value is f(s_L)).

Memory, two measures (CPU; no CUDA allocator statistics here):
- ``peak_mb``: peak of the running sum of every operator's own allocations minus frees, in the
  order the operators ran, over forward + backward (``torch.profiler`` with
  ``profile_memory=True``). This is the peak extra memory of the step above what existed before
  it; it covers the recomputation of Checkpointed and the VJPs of Implicit too.
- ``saved_mb``: bytes of the distinct storages that autograd saved for the backward pass
  (``torch.autograd.graph.saved_tensors_hooks``), at the end of the forward. Exact for Full,
  Truncated and Implicit; Checkpointed hides its inner saves from outer hooks, so it reads low.
Time: median of ``--steps`` steps after one warm-up, profiler off. The JSON records the machine
and its load average (``os.getloadavg``) before and after: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
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
    """Tied ChambollePock, n = 320, DCT-initialised K."""
    from unfold_plugins.cp_dequant.unroller import ChambollePock

    return ChambollePock(layers, n=320, backprop=backprop)


def uadmm_for(layers: int, backprop: str) -> torch.nn.Module:
    """Tied UADMM with the admm-pr defaults."""
    from unfold_plugins.admm_pr.uadmm import UADMM

    return UADMM(layers, "tied", backprop)


def uadmm_data(batch: int, seconds: float = 0.25, rate: int = 8000) -> tuple[Any, torch.Tensor]:
    """(problem, clean signals) of ``batch`` harmonic signals with a 3 Hz envelope."""
    from unfold.signal.stft import STFT
    from unfold_plugins.admm_pr.problem import make_problem

    g = torch.Generator().manual_seed(0)
    t = torch.arange(int(seconds * rate)) / rate
    f0 = 100 + 150 * torch.rand(batch, 1, generator=g)
    harm = sum(torch.sin(2 * torch.pi * k * f0 * t) / k for k in range(1, 10))
    s = 0.3 * harm * 0.5 * (1 + torch.sin(2 * torch.pi * 3 * t))
    s = s + 0.01 * torch.randn(s.shape, generator=g)
    return make_problem(s, STFT(256, 128, "sine")), s


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "torch": str(torch.__version__), "threads": 1,
            "python": platform.python_version(), "load_average": os.getloadavg()}


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
            steps: int = 3, build: Callable[[int, str], torch.nn.Module] = model_for
            ) -> dict[str, Any]:
    """Time per step, peak and saved MB of ``build(layers, backprop)`` on one batch."""
    model = build(layers, backprop)
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
                    default=["full", "truncated:30", "checkpointed", "implicit:30"])
    ap.add_argument("--cases", nargs="+", choices=["cp", "uadmm"], default=["cp", "uadmm"])
    ap.add_argument("--cp-batch", type=int, default=8)
    ap.add_argument("--uadmm-batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--out", default=None, help="JSON file (default: stdout)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    before = machine()
    cases: dict[str, tuple[Callable[[int, str], torch.nn.Module], Any, torch.Tensor]] = {}
    if "cp" in args.cases:
        task, cfg, train, _ = data()
        cases["cp"] = (model_for, *task.problem(train[:args.cp_batch], cfg, torch.device("cpu")))
    if "uadmm" in args.cases:
        cases["uadmm"] = (uadmm_for, *uadmm_data(args.uadmm_batch))
    rows = []
    for name, (build, problem, target) in cases.items():
        for L in args.layers:
            for bp in args.backprops:
                rows.append({"case": name, **measure(L, bp, problem, target, args.steps, build)})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    result = {"benchmark": "backprop_memory", "machine": before,
              "load_average_after": os.getloadavg(), "steps": args.steps,
              "cases": {"cp": f"ChambollePock, tied, n = 320, batch {args.cp_batch} frames",
                        "uadmm": f"UADMM, tied, batch {args.uadmm_batch} x 0.25 s at 8 kHz, "
                                 "STFT 256/128"},
              "rows": rows}
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
