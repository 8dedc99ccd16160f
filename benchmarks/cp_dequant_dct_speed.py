"""Speed of cp-dequant inference with the fixed DCT: the FFT paths against the dense matrix.

Chambolle–Pock iterations (Algorithm 1) on a batch of quantized frames of the default setting
(n = 320 samples, K = DCT ``(n, n)``; by default 256 frames, the chunk ``dequantize`` solves at
once), interleaved and repeated in one run:

- ``cp_iteration_dense``: ``cp_step_op`` with ``Dense(dct_matrix(n))`` (n² per frame), the path
  of the unrolled model before #13;
- ``cp_iteration_fast_dct``: ``cp_step_op`` with ``FastDCT`` (FFT plus reordering per product);
- ``unrolled_fft_layout``: ``DCTLayoutCP``, what ``ChambollePock`` runs without a graph for the
  fixed DCT (``dequantize --iterations N``): the iteration kept in the FFT's layout, with its
  default loop for the input (on the CPU the compiled loop with MKL's FFTs, ``native_loop``);
- ``unrolled_fft_layout_torch``: the same in torch operations (``torch_loop``, the GPU's path);
- ``operator_pair_*``: K y and Kᵀ ψ alone; ``fft_pair``: one rfft and one irfft of the batch
  (the floor of any FFT-based iteration through torch.fft).

Medians in ms per iteration, the dense / fast ratios of the medians (target >= 5) and of each
repeat (the cases timed back to back, so a neighbour's load hits both alike), which loop the
layout ran, the largest difference of the results, machine and load. JSON to stdout and --out.

    python -m benchmarks.cp_dequant_dct_speed --frames 256 --iters 50 --repeats 5 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from benchmarks.benchjson import emit, load_average, machine, timed
from unfold_plugins.cp_dequant.commands import CHUNK
from unfold_plugins.cp_dequant.cp import cp_step_op, dct_matrix, step_sizes
from unfold_plugins.cp_dequant.dct import Dense, FastDCT
from unfold_plugins.cp_dequant.dct_layout import DCTLayoutCP, default_loop, torch_loop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=320, help="frame length")
    ap.add_argument("--frames", type=int, default=CHUNK, help="frames per batch")
    ap.add_argument("--iters", type=int, default=50, help="iterations per timing")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    load_before = load_average()
    g = torch.Generator().manual_seed(0)
    clean = torch.cumsum(torch.randn(a.frames, a.n, generator=g), -1) * 0.01
    h = 1.0 / 64
    x = (torch.round(clean / (2 * h)) * 2 * h).to(dev)
    ops = {"fast_dct": FastDCT(a.n), "dense": Dense(dct_matrix(a.n).to(dev))}
    sigma, tau = step_sizes(torch.tensor(1.0))

    def solve(op) -> torch.Tensor:
        y, ybar, psi = x.clone(), x.clone(), x.new_zeros(a.frames, a.n)
        for _ in range(a.iters):
            y, ybar, psi = cp_step_op(y, ybar, psi, x, op, sigma, tau, h)
        return y

    def pair(op) -> None:
        for _ in range(a.iters):
            op.adjoint(op.apply(x))

    cases = {f"cp_iteration_{k}": (lambda op=op: solve(op)) for k, op in ops.items()}
    layout = DCTLayoutCP(a.n)
    cases["unrolled_fft_layout"] = lambda: layout.run(x, h, a.iters, sigma, tau)
    layout_torch = DCTLayoutCP(a.n, torch_loop)
    cases["unrolled_fft_layout_torch"] = lambda: layout_torch.run(x, h, a.iters, sigma, tau)
    cases |= {f"operator_pair_{k}": (lambda op=op: pair(op)) for k, op in ops.items()}

    def fft_pair() -> None:
        for _ in range(a.iters):
            torch.fft.irfft(torch.fft.rfft(x), n=a.n)

    cases["fft_pair"] = fft_pair
    dense = solve(ops["dense"])  # also warms up
    diff = {"fast_dct": float((solve(ops["fast_dct"]) - dense).abs().max())}
    for k in ("unrolled_fft_layout", "unrolled_fft_layout_torch"):
        diff[k] = float((cases[k]()[0] - dense).abs().max())  # also builds the native loop
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(a.repeats):
        for k, fn in cases.items():
            times[k].append(timed(fn, a.iters, dev))
    med = {k: round(statistics.median(v) * 1e3, 4) for k, v in times.items()}
    out = {
        "benchmark": "cp_dequant_dct_speed",
        "setting": f"{a.frames} frames x n = {a.n}, K = DCT ({a.n}, {a.n}), float32",
        "iters_per_timing": a.iters, "repeats": a.repeats, "threads": a.threads,
        "ms_per_iteration_median": med,
        "ms_per_iteration_all": {k: [round(t * 1e3, 4) for t in v] for k, v in times.items()},
        "ratio_dense_over_fast": {
            "cp_iteration": round(med["cp_iteration_dense"] / med["cp_iteration_fast_dct"], 2),
            "operator_pair": round(med["operator_pair_dense"] / med["operator_pair_fast_dct"], 2),
            "unrolled_fft_layout": round(med["cp_iteration_dense"] / med["unrolled_fft_layout"], 2),
            "unrolled_fft_layout_torch": round(
                med["cp_iteration_dense"] / med["unrolled_fft_layout_torch"], 2),
            "dense_iteration_over_fft_pair": round(med["cp_iteration_dense"] / med["fft_pair"], 2),
        },
        "ratio_dense_over_layout_per_repeat": {  # each repeat times the cases back to back
            k: [round(d / f, 2) for d, f in zip(times["cp_iteration_dense"], times[k], strict=True)]
            for k in ("unrolled_fft_layout", "unrolled_fft_layout_torch")},
        "target_ratio": 5.0,
        "layout_loop": default_loop(x).__name__,
        "max_abs_difference_to_dense": diff,
        "machine": machine(dev),
        "load_average_before": load_before, "load_average_after": load_average(),
    }
    emit(out, a.out)


if __name__ == "__main__":
    main()
