"""How far block processing of ``admm-pr reconstruct`` is from whole-file processing.

Block processing is exact (to float rounding) while the margin M >= iterations + 2 frames; the
command caps M at 128 frames, so more iterations than 126 leave the frames near a block's edges
slightly different. This measures that difference as an SNR, 10 log10(‖y‖² / ‖y_blocks − y‖²),
of GLA, FGLA and ADMM on a speech-like signal (``benchmarks.long_file_memory.speechlike``),
blocks of ``--block-frames`` centre frames, for each ``--margins`` at ``--iters`` iterations, in
float32 (what the command runs) and float64. For scale it also gives the SNR between the
whole-file output and the whole-file output from magnitudes perturbed by a relative 1e-7 (float32
rounding): these iterations amplify rounding, so float32 block and whole-file outputs differ by
about as much as any change of rounding does, even where the blocks are exact in exact arithmetic.

    OMP_NUM_THREADS=1 python -m benchmarks.block_tolerance --seconds 20 --iters 100 \\
        --margins 16 32 64 102 --out tol.json
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import soundfile as sf
import torch

from benchmarks.benchjson import emit, load_average, machine
from benchmarks.long_file_memory import speechlike
from unfold.signal.blocks import BlockPlan
from unfold.unroller import Unroller
from unfold_plugins.admm_pr.admm import ADMM
from unfold_plugins.admm_pr.command import reconstruct
from unfold_plugins.admm_pr.config import ADMMPRConfig
from unfold_plugins.admm_pr.gla import FGLA, GLA
from unfold_plugins.admm_pr.task import operator


def snr_db(ref: torch.Tensor, y: torch.Tensor) -> float:
    err = float((y - ref).pow(2).sum())
    return math.inf if err == 0 else 10 * math.log10(float(ref.pow(2).sum()) / err)


def blockwise(model: Unroller, iters: int, r: torch.Tensor, block: int, margin: int,
              length: int) -> torch.Tensor:
    """The reconstruction from magnitudes ``r`` (513, frames) in blocks (seed 0)."""
    op = operator(ADMMPRConfig())
    return torch.cat(list(reconstruct(model, iters, lambda s, e: r[:, s:e],
                                      BlockPlan(r.shape[1], block, margin), op, length, 0, "")))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--iters", type=int, default=100)
    p.add_argument("--block-frames", type=int, default=86)
    p.add_argument("--margins", type=int, nargs="+", default=[16, 32, 64, 102])
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"],
                   choices=["float32", "float64"])
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    cfg = ADMMPRConfig()
    op, rate = operator(cfg), cfg.data.sample_rate
    with tempfile.TemporaryDirectory() as tmp:
        speechlike(Path(tmp) / "x.wav", a.seconds / 60, rate)
        x = torch.from_numpy(sf.read(str(Path(tmp) / "x.wav"), dtype="float32")[0])
    r = op(x[None]).abs()[0]
    n = r.shape[1]
    load_before = load_average()
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    models = {"gla": GLA(1), "fgla": FGLA(1), "admm": ADMM(1, rho=cfg.model.rho)}
    perturbed: dict[str, dict[str, float]] = {}
    with torch.no_grad():
        for dtype in a.dtypes:
            rd = r.to(getattr(torch, dtype))
            noisy = rd * (1 + 1e-7 * torch.randn(rd.shape, generator=torch.Generator()
                                                  .manual_seed(0), dtype=rd.dtype))
            out[dtype], perturbed[dtype] = {}, {}
            for name, model in models.items():
                whole = blockwise(model, a.iters, rd, n, 0, x.numel())
                perturbed[dtype][name] = round(snr_db(whole, blockwise(model, a.iters, noisy, n, 0,
                                                                       x.numel())), 1)
                out[dtype][name] = {}
                for m in a.margins:
                    snr = snr_db(whole, blockwise(model, a.iters, rd, a.block_frames, m, x.numel()))
                    out[dtype][name][str(m)] = None if math.isinf(snr) else round(snr, 1)
    emit({"benchmark": "block_tolerance", "seconds": a.seconds, "iters": a.iters,
          "block_frames": a.block_frames, "machine": machine(torch.device("cpu")),
          "load_before": load_before, "load_after": load_average(),
          "snr_db_by_margin": out, "snr_db_whole_with_magnitude_perturbed_1e-7": perturbed,
          "note": "null: identical (infinite SNR)"}, a.out)


if __name__ == "__main__":
    main()
