"""``unfold cp-dequant quantize | dequantize``.

quantize:   IN.wav → peak-normalised to (−1, 1) → B-bit midpoint quantiser → OUT.wav (float).
dequantize: IN.wav (already quantised at --bits on (−1, 1), as ``quantize`` writes it) → frames
            of n samples (the last one zero-padded, said on stderr) → CP with the DCT K, or with
            the K of ``--model CKPT`` (a cp-dequant checkpoint) → OUT.wav.

The paper's L_train × backprop experiment (Figs. 3, 4) is the sweep recipe
``unfold run cp-dequant-paper`` (``unfold.sweep``), not a command.

Refusals (exit 2, one line): OUT exists without --force, or cannot be written (a folder, a
missing or read-only folder, a name too long; checked before any computation), bits outside
1..16, ``--frame`` < 2, ``--iterations`` < 0, input that is not audio, empty, silent (all samples
0) or holds NaN / inf, clipped input for ``quantize`` (≥ 1 % of samples at the peak: re-record or
lower the gain), an input to ``dequantize`` that is not on the --bits grid, a checkpoint from
another plugin or whose frame length is not ``--frame``. Results are checked finite before they
are written. ``dequantize`` reads, solves and writes 256 frames at a time (each frame is its own
problem, so the result equals solving them all at once; memory does not grow with the file) and
shows a progress bar (frames) when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from unfold import argtypes
from unfold.errors import ConfigError, InputDataError
from unfold.plugin import Command

if TYPE_CHECKING:
    from unfold.data.stream import AudioSource

RATE = 16000
CLIP_FRACTION = 0.01
CHUNK = 256  # frames read, solved and written at a time by dequantize (independent problems)


def _bits(text: str) -> int:
    try:
        b = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bits must be an integer in 1..16, got {text!r}") from None
    if not 1 <= b <= 16:
        raise argparse.ArgumentTypeError(f"bits must be an integer in 1..16, got {b}")
    return b


def _io_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, metavar="IN.wav")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.wav")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")


def _load(path: Path, output: Path, force: bool) -> tuple[torch.Tensor, int]:
    """Mono float32 audio at its own rate, once ``output`` is known to be writable; refuses
    missing, unreadable, empty, non-finite and silent files."""
    from unfold.data.io import check_output, load_audio

    check_output(output, force)
    x, rate, notes = load_audio(path, None)
    for note in notes:
        print(f"note: {path.name}: {note}", file=sys.stderr)
    if float(x.abs().max()) == 0.0:
        raise InputDataError(f"{path} is silent (every sample is 0): nothing to quantise or recover")
    return x, rate


def _save(path: Path, x: torch.Tensor, rate: int, force: bool) -> None:
    from unfold.data import save_audio

    save_audio(path, x, rate, overwrite=force, subtype="FLOAT" if path.suffix == ".wav" else None)


def run_quantize(args: argparse.Namespace) -> int:
    from unfold.signal.quantize import normalize_peak, quantize

    x, rate = _load(args.input, args.output, args.force)
    peak = x.abs().max()
    clipped = float((x.abs() >= peak * (1 - 1e-4)).float().mean())
    if clipped >= CLIP_FRACTION:
        raise InputDataError(f"{args.input} looks clipped ({100 * clipped:.1f}% of samples at the "
                             f"peak {float(peak):.3g}); dequantization assumes unclipped audio")
    xq, eta = quantize(normalize_peak(x), args.bits)
    _save(args.output, xq, rate, args.force)
    print(f"wrote {args.output}: {args.bits} bits, eta = {eta:.6g}, {x.numel()} samples at {rate} Hz")
    return 0


def _operator(ckpt: Path | None, n: int) -> tuple[torch.Tensor, str]:
    """K (k, n) and a description: the DCT, or the (last layer's) K of a checkpoint."""
    from unfold_plugins.cp_dequant.cp import dct_matrix

    if ckpt is None:
        return dct_matrix(n), "DCT"
    from unfold import checkpoint

    model = checkpoint.load(ckpt, plugin="cp-dequant")
    info = checkpoint.info(model)
    K = model.value("K")[-1]  # (k, n) of the last layer
    if K.shape[-1] != n:
        raise ConfigError(f"checkpoint {ckpt} works on frames of n = {K.shape[-1]} samples, not "
                          f"--frame {n}; pass --frame {K.shape[-1]}")
    return K.float(), f"learned K from {ckpt.name} ({info.tying}, last layer)"


def _open_quantised(path: Path, output: Path, force: bool, bits: int) -> AudioSource:
    """The input of ``dequantize``, scanned block by block once ``output`` is known to be
    writable: refuses what :func:`_load` refuses, and audio off the ``bits`` grid."""
    from unfold.data.io import check_output
    from unfold.data.stream import AudioSource

    check_output(output, force)
    src = AudioSource.open(path)
    for note in src.notes:
        print(f"note: {path.name}: {note}", file=sys.stderr)
    if src.peak == 0.0:
        raise InputDataError(f"{path} is silent (every sample is 0): nothing to quantise or recover")
    eta = 2.0 / 2**bits
    for _, x in src.blocks(CHUNK * 1024):
        off_grid = ((x + 1) / eta - 0.5 - torch.round((x + 1) / eta - 0.5)).abs().max()
        if not float(off_grid) <= 1e-3 or not float(x.abs().max()) < 1:  # NaN fails both
            raise InputDataError(f"{path} is not {bits}-bit midpoint-quantised audio on (-1, 1) "
                                 "(values off the grid); make inputs with `unfold cp-dequant "
                                 "quantize` or pass the right --bits")
    return src


def run_dequantize(args: argparse.Namespace) -> int:
    from unfold.data.io import progress_bar
    from unfold.data.stream import AudioWriter
    from unfold_plugins.cp_dequant.cp import cp_solve
    from unfold_plugins.cp_dequant.unroller import ChambollePock, CPProblem

    src = _open_quantised(args.input, args.output, args.force, args.bits)
    eta = 2.0 / 2**args.bits
    n = args.frame
    K, what = _operator(args.model, n)
    length = src.length
    pad = -length % n
    n_frames = (length + pad) // n
    model = (ChambollePock(args.iterations, n=n, k=K.shape[0], K_init=K, trainable=False)
             if args.iterations > 0 else None)
    subtype = "FLOAT" if args.output.suffix == ".wav" else None
    with (torch.no_grad(), progress_bar(n_frames, "frames") as bar,
          AudioWriter(args.output, src.rate, overwrite=args.force, subtype=subtype) as out):
        for a in range(0, length, CHUNK * n):  # each frame is its own problem: chunks change nothing
            b = min(a + CHUNK * n, length)
            x = src.read(a, b)
            chunk = torch.cat([x, torch.full((-x.numel() % n,), eta / 2)]).reshape(-1, n)
            problem = CPProblem(chunk, torch.full((chunk.shape[0], 1), eta / 2))
            y = (model(problem) if model is not None
                 else cp_solve(problem.x, K, problem.h, tol=1e-4)[0])
            out.write(y.reshape(-1)[: b - a])
            bar.update(chunk.shape[0])
    if pad:
        print(f"note: {length} samples is not a multiple of the frame length {n}: padded "
              f"{pad} samples (quantised zeros) at the end, removed again in the output",
              file=sys.stderr)
    print(f"wrote {args.output}: {what}, "
          f"{args.iterations or 'optimality'} iterations, {n_frames} frames of {n}")
    return 0


def _quantize_args(p: argparse.ArgumentParser) -> None:
    _io_args(p)
    p.add_argument("--bits", type=_bits, required=True, help="bits per sample, 1..16")


def _dequantize_args(p: argparse.ArgumentParser) -> None:
    _io_args(p)
    p.add_argument("--bits", type=_bits, default=4, help="bits of the input's quantiser (4)")
    p.add_argument("--model", type=Path, default=None, metavar="CKPT",
                   help="a cp-dequant checkpoint (best.pt); default: the DCT K")
    p.add_argument("--frame", type=argtypes.int_range(2, None, "a frame length"), default=320,
                   help="frame length n, >= 2 (320)")
    p.add_argument("--iterations", type=argtypes.non_negative, default=1000,
                   help="CP iterations; 0 = solve to optimality (relative gap 1e-4)")


COMMANDS = [
    Command("quantize", "peak-normalise and quantise a recording (make test inputs)",
            _quantize_args, run_quantize),
    Command("dequantize", "recover a quantised recording with Chambolle–Pock (DCT or learned K)",
            _dequantize_args, run_dequantize),
]
