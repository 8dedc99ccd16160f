"""``unfold deep-nmf enhance NOISY.wav -o CLEAN.wav [--model CKPT] [--force]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from unfold.plugin import Command


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("noisy", help="noisy recording (.wav or .flac; mono or mixed to mono)")
    p.add_argument("-o", "--output", required=True, help="where to write the enhanced speech")
    p.add_argument("--model", help="checkpoint of a deep-nmf run (checkpoints/<tying>/best.pt); "
                                   "default: SNMF with the quick recipe's bases")
    p.add_argument("--force", action="store_true", help="overwrite the output file")


def _run(args: argparse.Namespace) -> int:
    from unfold.data.io import check_output, load_audio, resample, save_audio
    from unfold_plugins.deep_nmf.enhance import default_enhancer, from_checkpoint

    out = check_output(Path(args.output), args.force)
    x, rate, notes = load_audio(args.noisy, None)  # refused before any model is built
    enhancer = from_checkpoint(args.model) if args.model else default_enhancer()
    if rate != enhancer.sample_rate:
        notes.append(f"{rate} Hz -> {enhancer.sample_rate} Hz")
        x = resample(x, rate, enhancer.sample_rate)
    y = enhancer(x)
    peak = float(y.abs().max())
    if peak > 1:
        y = y * (0.99 / peak)
        notes.append(f"output peak {peak:.2f} scaled to 0.99")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    save_audio(out, y, enhancer.sample_rate, overwrite=True)
    print(f"wrote {out} ({len(y) / enhancer.sample_rate:.2f} s at {enhancer.sample_rate} Hz)")
    return 0


enhance_command = Command("enhance", "enhance a noisy recording with (deep) NMF", _arguments,
                          _run)
