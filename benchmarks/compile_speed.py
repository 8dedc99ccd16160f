"""Time per training step, eager vs ``train.compile`` (torch.compile of the per-layer step).

Two unrollers, each in one process with its eager peer, the timings interleaved (the order of
the arms rotates every repeat) and the median reported, with the ratio eager / compiled of each
repeat (> 1: compiled is faster) and its median:

- ``uadmm``: admm-pr's UADMM, 15 untied layers, batch 10 x 2 s at 22,050 Hz (the speech-like
  signal of ``admm_pr_speed.py``), tight sine STFT 1024/512; loss: MSE to the clean signal.
- ``cp``: cp-dequant's ChambollePock, 30 tied layers, n = 320, batch 32 quantised (4-bit)
  eSpeak frames of the quick recipe (as ``backprop_memory.py``); loss: MSE.

A training step is forward + loss + backward (no optimiser step: the arms keep equal parameters,
so their outputs and gradients are compared at the end, with an eager float64 run as the
reference of both). Compilation is timed apart: the first training step (and the first no-grad
pass, as in validation) of each arm, minus its steady-state median, with the number of graphs
dynamo compiled, in a fresh inductor cache unless ``--inductor-cache`` names one (inductor
keeps compiled kernels on disk, so a second run compiles faster). ``--whole-forward`` adds a
third arm, ``torch.compile(model)`` of the whole forward pass. JSON to ``--out``, or stdout.

    python benchmarks/compile_speed.py --repeats 7 --steps 2 --threads 1
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

Tensor = torch.Tensor


@dataclass
class Case:
    describe: str
    model: torch.nn.Module
    problem: Any
    target: Tensor
    problem64: Any
    target64: Tensor


def uadmm_case(a: argparse.Namespace) -> Case:
    from admm_pr_speed import HOP, N_FFT, RATE, signals

    from unfold.signal.stft import STFT
    from unfold_plugins.admm_pr import UADMM
    from unfold_plugins.admm_pr.problem import make_problem

    s = signals(a.batch, a.seconds)
    op = STFT(N_FFT, HOP, "sine")
    return Case(f"UADMM, {a.uadmm_layers} untied layers, batch {a.batch} x {a.seconds} s at "
                f"{RATE} Hz, STFT {N_FFT}/{HOP}",
                UADMM(a.uadmm_layers, "untied"), make_problem(s, op), s,
                make_problem(s.double(), op), s.double())


def cp_case(a: argparse.Namespace) -> Case:
    from backprop_memory import data

    from unfold_plugins.cp_dequant.unroller import ChambollePock, CPProblem

    task, cfg, train, _ = data()
    problem, target = task.problem(train[:32], cfg, torch.device("cpu"))
    return Case(f"ChambollePock, {a.cp_layers} tied layers, n = 320, batch 32 eSpeak frames, 4 bits",
                ChambollePock(a.cp_layers, n=320), problem, target,
                CPProblem(problem.x.double(), problem.h.double()), target.double())


CASES: dict[str, Callable[[argparse.Namespace], Case]] = {"uadmm": uadmm_case, "cp": cp_case}


def train_step(fn: Callable[[Any], Tensor], model: torch.nn.Module, problem: Any,
               target: Tensor) -> float:
    t0 = time.perf_counter()
    loss = ((fn(problem) - target) ** 2).mean()
    model.zero_grad(set_to_none=True)
    loss.backward()
    return time.perf_counter() - t0


def inference(fn: Callable[[Any], Tensor], problem: Any) -> float:
    t0 = time.perf_counter()
    with torch.no_grad():
        fn(problem)
    return time.perf_counter() - t0


def graphs() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def rel(a: Tensor, b: Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30))


def outputs(fn: Callable[[Any], Tensor], model: torch.nn.Module, problem: Any,
            target: Tensor) -> tuple[Tensor, list[Tensor]]:
    model.zero_grad(set_to_none=True)
    out = fn(problem)
    ((out - target) ** 2).mean().backward()
    return out.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


def run_case(name: str, a: argparse.Namespace) -> dict[str, Any]:
    case = CASES[name](a)
    eager = case.model
    arms: dict[str, tuple[Callable[[Any], Tensor], torch.nn.Module]] = {"eager": (eager, eager)}
    stepped = copy.deepcopy(eager).compile_step(a.compile)
    arms["compiled_step"] = (stepped, stepped)
    if a.whole_forward:
        spec = stepped.compiled_step.spec
        whole = copy.deepcopy(eager)
        arms["compiled_forward"] = (torch.compile(whole, backend=spec.backend, mode=spec.mode), whole)
    warm: dict[str, dict[str, Any]] = {}
    for arm, (fn, model) in arms.items():
        g0 = graphs()
        first = train_step(fn, model, case.problem, case.target)
        second = train_step(fn, model, case.problem, case.target)
        first_inf = inference(fn, case.problem)
        warm[arm] = {"first_step_s": first, "second_step_s": second,
                     "first_inference_s": first_inf, "graphs_compiled": graphs() - g0}
        print(name, arm, json.dumps(warm[arm]), file=sys.stderr, flush=True)
    names = list(arms)
    train: dict[str, list[float]] = {k: [] for k in names}
    infer: dict[str, list[float]] = {k: [] for k in names}
    for r in range(a.repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for arm in order:
            fn, model = arms[arm]
            train[arm].append(sum(train_step(fn, model, case.problem, case.target)
                                  for _ in range(a.steps)) / a.steps)
            infer[arm].append(sum(inference(fn, case.problem) for _ in range(a.steps)) / a.steps)
        print(name, r, {k: round(v[-1] * 1e3, 1) for k, v in train.items()}, file=sys.stderr,
              flush=True)
    med = {k: statistics.median(v) for k, v in train.items()}
    med_inf = {k: statistics.median(v) for k, v in infer.items()}
    ref64 = copy.deepcopy(eager).double()
    out64, grads64 = outputs(ref64, ref64, case.problem64, case.target64)
    out_e, grads_e = outputs(eager, eager, case.problem, case.target)
    result: dict[str, Any] = {
        "describe": case.describe,
        "ms_per_train_step_median": {k: v * 1e3 for k, v in med.items()},
        "ms_per_train_step_all": {k: [round(x * 1e3, 2) for x in v] for k, v in train.items()},
        "ms_per_inference_median": {k: v * 1e3 for k, v in med_inf.items()},
        "warmup": warm,
        "eager_float32_vs_float64": {"output": rel(out_e, out64),
                                     "grads": [rel(g, h) for g, h in zip(grads_e, grads64)]},
    }
    for arm in names[1:]:
        ratios = [e / c for e, c in zip(train["eager"], train[arm])]
        out_c, grads_c = outputs(arms[arm][0], arms[arm][1], case.problem, case.target)
        result[arm] = {
            "speedup_train_median_of_ratios": statistics.median(ratios),
            "speedup_train_ratios": [round(x, 3) for x in ratios],
            "speedup_train_ratio_of_medians": med["eager"] / med[arm],
            "speedup_inference_ratio_of_medians": med_inf["eager"] / med_inf[arm],
            "compile_seconds_train": warm[arm]["first_step_s"] - med[arm],
            "compile_seconds_inference": warm[arm]["first_inference_s"] - med_inf[arm],
            "vs_eager": {"output": rel(out_c, out_e),
                         "grads": [rel(g, h) for g, h in zip(grads_c, grads_e)]},
            "vs_float64": {"output": rel(out_c, out64),
                           "grads": [rel(g, h) for g, h in zip(grads_c, grads64)]},
        }
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    ap.add_argument("--compile", default="default", help="a train.compile value (default: inductor)")
    ap.add_argument("--whole-forward", action="store_true", help="also torch.compile(model)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--steps", type=int, default=2, help="training steps per timing")
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--uadmm-layers", type=int, default=15)
    ap.add_argument("--cp-layers", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--inductor-cache", help="inductor's cache folder; default: a fresh temporary "
                    "one, so compile times are a first run's (a second run with the same folder "
                    "gives the warm-cache times)")
    ap.add_argument("--out", help="JSON file (default: stdout)")
    a = ap.parse_args()
    from admm_pr_speed import machine
    from backprop_memory import write_result

    torch.set_num_threads(a.threads)
    start = machine()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as fresh:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = a.inductor_cache or fresh  # read at first compile
        cases = {name: run_case(name, a) for name in a.cases}
    write_result({
        "benchmark": "compile_speed",
        "compile": a.compile, "repeats": a.repeats, "steps_per_timing": a.steps,
        "inductor_cache": a.inductor_cache or "fresh (cold: compile times of a first run)",
        "cases": cases,
        "wall_seconds": time.perf_counter() - t0,
        "machine": {**start, "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
                    "load_average_end": machine()["load_average"]},
    }, a.out)


if __name__ == "__main__":
    main()
