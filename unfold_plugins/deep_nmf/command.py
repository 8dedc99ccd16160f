"""``unfold deep-nmf enhance NOISY.wav -o CLEAN.wav [--model CKPT] [--block-seconds S] [--force]``.

The recording is read, enhanced and written in blocks of ``--block-seconds`` (default 10 s; see
:meth:`~unfold_plugins.deep_nmf.enhance.Enhancer.blocks`), with a progress bar on stderr when it
is a terminal; the result equals enhancing the file whole up to float rounding.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from unfold import argtypes
from unfold.plugin import Command

STAGE_BLOCK = 1 << 18  # samples per write of the staged result


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("noisy", help="noisy recording (.wav or .flac; mono or mixed to mono)")
    p.add_argument("-o", "--output", required=True, help="where to write the enhanced speech")
    p.add_argument("--model", help="checkpoint of a deep-nmf run (checkpoints/<tying>/best.pt); "
                                   "default: SNMF with the quick recipe's bases")
    p.add_argument("--block-seconds", type=argtypes.seconds, default=10.0,
                   help="enhance in blocks of this many seconds plus a margin of context frames "
                        "(bounded memory, same result; 10)")
    p.add_argument("--force", action="store_true", help="overwrite the output file")


def _run(args: argparse.Namespace) -> int:
    from unfold.data.io import check_output
    from unfold.data.stream import AudioSource, AudioWriter, Staging
    from unfold.signal.blocks import frames_per_block
    from unfold_plugins.deep_nmf.enhance import default_enhancer, from_checkpoint

    out = check_output(Path(args.output), args.force)
    src = AudioSource.open(args.noisy)  # refused before any model is built
    enhancer = from_checkpoint(args.model) if args.model else default_enhancer()
    src = src.at_rate(enhancer.sample_rate)
    notes = src.notes
    hop = round(enhancer.hop_ms * enhancer.sample_rate / 1000)
    block = frames_per_block(args.block_seconds, enhancer.sample_rate, hop)
    with Staging(out.parent) as staged:
        for y in enhancer.blocks(src.read, src.length, block):
            staged.write(y)
        scale = 1.0
        if staged.peak > 1:
            scale = 0.99 / staged.peak
            notes.append(f"output peak {staged.peak:.2f} scaled to 0.99")
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        with AudioWriter(out, enhancer.sample_rate, overwrite=True) as w:
            for a in range(0, staged.length, STAGE_BLOCK):
                w.write(scale * staged.read(a, min(a + STAGE_BLOCK, staged.length)))
    print(f"wrote {out} ({staged.length / enhancer.sample_rate:.2f} s at {enhancer.sample_rate} Hz)")
    return 0


enhance_command = Command("enhance", "enhance a noisy recording with (deep) NMF", _arguments,
                          _run)
