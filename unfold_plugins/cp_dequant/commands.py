"""``unfold cp-dequant quantize | dequantize``.

quantize:   IN.wav → peak-normalised to (−1, 1) → B-bit midpoint quantiser → OUT.wav (float).
dequantize: IN.wav (already quantised at --bits on (−1, 1), as ``quantize`` writes it) → frames
            of n samples (the last one zero-padded, said on stderr) → CP with the DCT K, or with
            the K of ``--model CKPT`` (a cp-dequant checkpoint) → OUT.wav.

The paper's L_train × backprop experiment (Figs. 3, 4) is the sweep recipe
``unfold run cp-dequant-paper`` (``unfold.sweep``), not a command.

Refusals (exit 2, one line): OUT exists without --force, bits outside 1..16, silent audio
(all samples 0), clipped input for ``quantize`` (≥ 1 % of samples at the peak: re-record or lower
the gain), an input to ``dequantize`` that is not on the --bits grid, a checkpoint from another
plugin or whose K does not match its frame length.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from unfold.plugin import Command

RATE = 16000
CLIP_FRACTION = 0.01


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


def _load(path: Path) -> tuple[torch.Tensor, int]:
    """Mono float32 audio at its own rate; refuses silent files."""
    import soundfile as sf

    from unfold.data import load_audio

    if not path.is_file():
        raise ValueError(f"audio file {path} does not exist")
    rate = sf.info(str(path)).samplerate
    x, _, notes = load_audio(path, rate)
    for note in notes:
        print(f"note: {path.name}: {note}", file=sys.stderr)
    if x.numel() == 0 or float(x.abs().max()) == 0.0:
        raise ValueError(f"{path} is silent (every sample is 0): nothing to quantise or recover")
    return x, rate


def _save(path: Path, x: torch.Tensor, rate: int, force: bool) -> None:
    from unfold.data import save_audio

    if path.exists() and not force:
        raise ValueError(f"{path} exists; pass --force to overwrite it")
    save_audio(path, x, rate, overwrite=force, subtype="FLOAT" if path.suffix == ".wav" else None)


def run_quantize(args: argparse.Namespace) -> int:
    from unfold.signal.quantize import normalize_peak, quantize

    x, rate = _load(args.input)
    peak = x.abs().max()
    clipped = float((x.abs() >= peak * (1 - 1e-4)).float().mean())
    if clipped >= CLIP_FRACTION:
        raise ValueError(f"{args.input} looks clipped ({100 * clipped:.1f}% of samples at the peak "
                         f"{float(peak):.3g}); dequantization assumes unclipped audio")
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

    ck = checkpoint.load(ckpt)
    if ck["plugin"] != "cp-dequant":
        raise ValueError(f"checkpoint {ckpt} is from plugin {ck['plugin']!r}, not cp-dequant")
    K = ck["model"].get("raw.K")
    if K is None or K.dim() != 3:
        raise ValueError(f"checkpoint {ckpt} holds no K of shape (layers, k, n)")
    frame = ck["config"]["data"]["frame"]
    if K.shape[-1] != frame or K.shape[-1] != n:
        raise ValueError(f"checkpoint {ckpt}: K has shape {tuple(K.shape[1:])}, expected (k, {n}) "
                         f"for frames of n = {n} (its config says frame {frame}; pass --frame)")
    return K[-1].float(), f"learned K from {ckpt.name} ({ck['tying']}, last layer)"


def run_dequantize(args: argparse.Namespace) -> int:
    from unfold_plugins.cp_dequant.cp import cp_solve
    from unfold_plugins.cp_dequant.unroller import ChambollePock, CPProblem

    x, rate = _load(args.input)
    eta = 2.0 / 2**args.bits
    off_grid = ((x + 1) / eta - 0.5 - torch.round((x + 1) / eta - 0.5)).abs().max()
    if float(off_grid) > 1e-3 or float(x.abs().max()) >= 1:
        raise ValueError(f"{args.input} is not {args.bits}-bit midpoint-quantised audio on (-1, 1) "
                         "(values off the grid); make inputs with `unfold cp-dequant quantize` "
                         "or pass the right --bits")
    n = args.frame
    pad = -x.numel() % n
    if pad:
        print(f"note: {x.numel()} samples is not a multiple of the frame length {n}: padded "
              f"{pad} samples (quantised zeros) at the end, removed again in the output",
              file=sys.stderr)
    xp = torch.cat([x, torch.full((pad,), eta / 2 if pad else 0.0)]).reshape(-1, n)
    K, what = _operator(args.model, n)
    problem = CPProblem(xp, torch.full((xp.shape[0], 1), eta / 2))
    with torch.no_grad():
        if args.iterations > 0:
            model = ChambollePock(args.iterations, n=n, k=K.shape[0], K_init=K, trainable=False)
            y = model(problem)
        else:
            y = cp_solve(problem.x, K, problem.h, tol=1e-4)[0]
    _save(args.output, y.reshape(-1)[: x.numel()], rate, args.force)
    print(f"wrote {args.output}: {what}, "
          f"{args.iterations or 'optimality'} iterations, {xp.shape[0]} frames of {n}")
    return 0


def _quantize_args(p: argparse.ArgumentParser) -> None:
    _io_args(p)
    p.add_argument("--bits", type=_bits, required=True, help="bits per sample, 1..16")


def _dequantize_args(p: argparse.ArgumentParser) -> None:
    _io_args(p)
    p.add_argument("--bits", type=_bits, default=4, help="bits of the input's quantiser (4)")
    p.add_argument("--model", type=Path, default=None, metavar="CKPT",
                   help="a cp-dequant checkpoint (best.pt); default: the DCT K")
    p.add_argument("--frame", type=int, default=320, help="frame length n (320)")
    p.add_argument("--iterations", type=int, default=1000,
                   help="CP iterations; 0 = solve to optimality (relative gap 1e-4)")


COMMANDS = [
    Command("quantize", "peak-normalise and quantise a recording (make test inputs)",
            _quantize_args, run_quantize),
    Command("dequantize", "recover a quantised recording with Chambolle–Pock (DCT or learned K)",
            _dequantize_args, run_dequantize),
]
