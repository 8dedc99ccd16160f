"""``unfold admm-pr reconstruct IN -o OUT``: phase-retrieve the STFT magnitude of IN, write audio.

IN is audio (wav/flac/ogg: several channels are averaged to mono and another rate is resampled
to the model's rate, both reported) or a saved magnitude ``.npy`` of shape (513, frames) or
(1, 513, frames) for the 1024-point STFT, taken at ``--rate``. The output is written at the
model's rate, peak-normalised to 0.99 only if it would clip (reported). Refused: NaN/inf or
negative magnitudes, wrong shapes, silent or empty input, an existing OUT without ``--force``,
an OUT that cannot be written (checked before the computation), a checkpoint of another plugin.

**Long files** are processed in blocks of ``--block-seconds`` (default 20 s) of whole STFT frames
with a margin of M = min(iters + 2, 128) extra frames each side, of which only the centre frames'
samples are kept (:mod:`unfold.signal.blocks`); audio is read a segment at a time, a .npy is
memory-mapped and the output is staged on disk, so memory does not grow with the file. One
iteration couples each frame with its neighbours, so block and whole-file processing agree to
float rounding while iters + 2 <= M; beyond 126 iterations the frames near a block's edges
differ slightly (measured in docs/scaling.md). The initial phase is drawn per frame from the seed
(:func:`~unfold_plugins.admm_pr.problem.frame_phase`), which makes blocks reproducible; results
therefore differ from versions before it for the same seed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from unfold import argtypes
from unfold.errors import ConfigError, InputDataError
from unfold.signal.blocks import Block, BlockPlan
from unfold.signal.stft import STFT
from unfold.unroller import Unroller

ALGOS = ("gla", "fgla", "admm", "uadmm")
MAX_MARGIN = 128  # frames each side of a block (exact up to 126 iterations, see the module doc)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="audio file, or a magnitude .npy (513 x frames)")
    p.add_argument("-o", "--output", type=Path, required=True, help="audio file to write")
    p.add_argument("--algo", choices=ALGOS, default="uadmm")
    p.add_argument("--iters", type=argtypes.positive, default=None,
                   help="iterations / layers (default: 100 for gla/fgla/admm, the model's depth "
                        "x 2 for uadmm)")
    p.add_argument("--model", type=Path, default=None,
                   help="UADMM checkpoint (default: latest runs/admm-pr-quick-*/ untied best.pt)")
    p.add_argument("--rate", type=argtypes.positive, default=22050,
                   help="sample rate of a .npy magnitude")
    p.add_argument("--seed", type=argtypes.seed, default=0, help="seed of the initial random phase")
    p.add_argument("--block-seconds", type=argtypes.seconds, default=20.0,
                   help="process IN in blocks of this many seconds plus a margin of "
                        f"min(iters + 2, {MAX_MARGIN}) frames each side (bounded memory; 20)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")


def latest_quick_checkpoint(root: Path = Path("runs")) -> Path | None:
    """The untied (else tied) best.pt of the newest ``runs/admm-pr-quick-*`` run, if any."""
    found = []
    for tying in ("untied", "tied"):
        found += [p for p in root.glob(f"admm-pr-quick-*/checkpoints/{tying}/best.pt")]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def load_magnitude(path: Path, n_freq: int) -> np.ndarray:
    """A saved magnitude ``(n_freq, frames)`` from .npy, memory-mapped, its shape checked."""
    try:
        a = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError, EOFError) as e:
        raise InputDataError(f"cannot read magnitude array {path}: {e}") from None
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2 or a.shape[0] != n_freq or a.shape[1] < 2:
        raise InputDataError(f"magnitude must have shape ({n_freq}, frames >= 2) for the 1024-point "
                         f"STFT, got {a.shape}")
    if np.iscomplexobj(a):
        raise InputDataError("magnitude must be real (got a complex array: pass np.abs of it)")
    return a


def check_finite_nonnegative(r: torch.Tensor) -> None:
    if not bool(torch.isfinite(r).all()):
        raise InputDataError("magnitude holds NaN or inf values")
    if bool((r < 0).any()):
        raise InputDataError(f"magnitude holds negative values (min {float(r.min()):.3g}); "
                         "magnitudes are |STFT| >= 0")


def build(algo: str, iters: int | None, model_path: Path | None):
    """(model, n_iter, config) for ``algo``."""
    from unfold_plugins.admm_pr.admm import ADMM
    from unfold_plugins.admm_pr.config import ADMMPRConfig
    from unfold_plugins.admm_pr.gla import FGLA, GLA

    if iters is not None and iters < 1:
        raise ConfigError(f"--iters must be >= 1, got {iters}")
    if algo != "uadmm":
        if model_path is not None:
            raise ConfigError("--model applies to --algo uadmm only")
        cfg = ADMMPRConfig()
        model = {"gla": GLA(1), "fgla": FGLA(1), "admm": ADMM(1, rho=cfg.model.rho)}[algo]
        return model, iters or 100, cfg
    from unfold import checkpoint

    path = model_path or latest_quick_checkpoint()
    if path is None:
        raise ConfigError("no trained UADMM found: run `unfold run admm-pr --quick` here first "
                         "(it writes runs/admm-pr-quick-<time>/checkpoints/untied/best.pt), pass "
                         "--model CKPT, or use --algo admm")
    model = checkpoint.load(path, plugin="admm-pr")
    return model, iters or 2 * model.n_layers, checkpoint.info(model).config


def magnitude_source(path: Path, op: STFT, rate: int
                     ) -> tuple[Callable[[int, int], torch.Tensor], int, int]:
    """``(frames(start, stop) -> (n_freq, stop - start), n_frames, length)`` of IN: slices of a
    memory-mapped .npy, or exact STFT frames of audio read a segment at a time."""
    from unfold.data.stream import AudioSource
    from unfold.signal.blocks import segment

    if path.suffix.lower() == ".npy":
        mag = load_magnitude(path, op.n_fft // 2 + 1)
        return (lambda a, b: torch.from_numpy(np.array(mag[:, a:b], dtype=np.float32)),
                mag.shape[1], (mag.shape[1] - 1) * op.hop)
    src = AudioSource.open(path, rate)
    for n in src.notes:
        print(f"note: {path}: {n}")
    if src.length <= op.n_fft // 2:
        raise InputDataError(f"{path} is too short ({src.length} samples at {rate} Hz; "
                             f"need more than {op.n_fft // 2})")
    return (lambda a, b: op.segment_frames(src.read(*segment(op, a, b))[None]).abs()[0],
            op.n_frames(src.length), src.length)


def check_magnitudes(frames: Callable[[int, int], torch.Tensor], n_frames: int, step: int) -> None:
    """:func:`check_magnitude` over the whole of IN, ``step`` frames at a time."""
    peak = 0.0
    for a in range(0, n_frames, step):
        r = frames(a, min(a + step, n_frames))
        check_finite_nonnegative(r)
        peak = max(peak, float(r.max()))
    if peak < 1e-8:
        raise InputDataError("input is silent (magnitude peak < 1e-8): nothing to reconstruct")


def reconstruct(model: Unroller, n_iter: int, frames: Callable[[int, int], torch.Tensor], plan: BlockPlan,
                op: STFT, length: int, seed: int, desc: str) -> Iterator[torch.Tensor]:
    """The reconstructed signal, block by block: the samples each block owns, in order.

    Block ``b`` solves the problem of its frames ``[b.start, b.stop)`` as a signal of its own
    (its first sample is global sample ``b.start * hop``; the last block ends where the signal
    ends, the others are the longest signal with that many frames), from the initial phase of
    those frames, and keeps the samples of its centre frames (:func:`unfold.signal.blocks.owned`).
    """
    from unfold.signal.blocks import owned, run_blocks
    from unfold_plugins.admm_pr.problem import from_magnitude

    def block_signal(b: Block, tick: Callable[[int], object]) -> torch.Tensor:
        r = frames(b.start, b.stop)[None]
        sub = length - b.start * op.hop if b.stop == plan.n_frames else \
            b.n_frames * op.hop - op.n_fft // 2  # the longest signal with b.n_frames frames
        problem = from_magnitude(r, op, sub, seed=seed, first_frame=b.start)
        def step_done(t: int, state: object) -> None:
            tick(1)

        state = model.run(problem, n_iter, callback=step_done)
        y = model.readout(state, problem)[0]
        lo, hi = owned(op, b, plan.n_frames, length)
        return y[lo - b.start * op.hop : hi - b.start * op.hop]

    return run_blocks(plan, block_signal, desc, steps=n_iter)


def run(args: argparse.Namespace) -> int:
    from unfold.data.io import check_output
    from unfold.data.stream import AudioWriter, Staging
    from unfold.signal.blocks import frames_per_block, owned, segment
    from unfold_plugins.admm_pr.task import operator

    check_output(args.output, args.force)
    if not args.input.is_file():
        raise InputDataError(f"input {args.input} does not exist")
    model, n_iter, cfg = build(args.algo, args.iters, args.model)
    rate = cfg.data.sample_rate
    op = operator(cfg)
    if args.input.suffix.lower() == ".npy" and args.rate != rate:
        raise ConfigError(f"the model works at {rate} Hz; this .npy is at --rate {args.rate}")
    frames, n_frames, length = magnitude_source(args.input, op, rate)
    plan = BlockPlan(n_frames, frames_per_block(args.block_seconds, rate, op.hop),
                     min(n_iter + 2, MAX_MARGIN))
    check_magnitudes(frames, n_frames, plan.block)
    model.eval()
    with torch.no_grad(), Staging(args.output.parent) as staged:
        for y in reconstruct(model, n_iter, frames, plan, op, length, args.seed,
                             f"{args.algo} iterations"):
            if not bool(torch.isfinite(y).all()):
                raise InputDataError(f"the reconstruction holds NaN or inf samples; {args.output} "
                                     "was not written (try --algo admm)")
            staged.write(y)
        scale = 1.0
        if staged.peak > 0.99:
            print(f"note: output peak {staged.peak:.3g} normalised to 0.99 to avoid clipping")
            scale = 0.99 / staged.peak
        err = ref = 0.0
        with AudioWriter(args.output, rate, overwrite=args.force) as out:
            for b in BlockPlan(n_frames, plan.block, 0):
                r = frames(b.start, b.stop)
                ry = op.segment_frames(scale * staged.read(*segment(op, b.start, b.stop))[None])
                err += float((ry.abs()[0] - r).pow(2).sum())
                ref += float(r.pow(2).sum())
                out.write(scale * staged.read(*owned(op, b, n_frames, length)))
    print(f"wrote {args.output} ({args.algo}, {n_iter} iterations, {rate} Hz, "
          f"spectral convergence {(err / ref) ** 0.5:.4f})")
    return 0
