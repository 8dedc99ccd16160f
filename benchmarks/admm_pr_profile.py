"""Profile of admm-pr's inner loops: one GLA iteration, one ADMM layer, one UADMM layer
(inference, and a training step: forward, the neg-STOI loss against the clean signals, backward,
as ``ours_uadmm_layer_train_fwd_bwd`` of ``admm_pr_speed.py``), on the setup of that benchmark.

Prints torch.profiler's operator table (self CPU time, top rows) per case.

    python -m benchmarks.admm_pr_profile --iters 15 --threads 1 --rows 15
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.admm_pr_speed import HOP, N_FFT, RATE, signals
from unfold.metrics import neg_stoi_loss
from unfold.runtime import tune_allocator
from unfold.signal.stft import STFT
from unfold_plugins.admm_pr import ADMM, GLA, UADMM
from unfold_plugins.admm_pr.problem import make_problem


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", type=int, default=15)
    a = ap.parse_args()
    tune_allocator()  # as admm_pr_speed.py and `unfold run`
    torch.set_num_threads(a.threads)
    clean = signals(10, 2.0)
    tight = make_problem(clean, STFT(N_FFT, HOP, "sine"))
    gla, admm, uadmm = GLA(1), ADMM(1), UADMM(15, "untied")
    stoi = neg_stoi_loss(RATE)

    def train() -> None:
        uadmm.zero_grad()
        stoi(uadmm(tight, n_iter=a.iters), clean).backward()

    cases = {
        "gla": lambda: gla(tight, n_iter=a.iters),
        "admm": lambda: admm(tight, n_iter=a.iters),
        "uadmm_inference": lambda: uadmm(tight, n_iter=a.iters),
    }
    for name, fn in cases.items():
        with torch.no_grad():
            fn()
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                fn()
        print(f"== {name}: {a.iters} iterations")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=a.rows))
    train()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train()
    print(f"== uadmm_train_fwd_bwd: {a.iters} layers")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=a.rows))


if __name__ == "__main__":
    main()
