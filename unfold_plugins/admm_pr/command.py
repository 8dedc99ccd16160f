"""``unfold admm-pr reconstruct IN -o OUT``: phase-retrieve the STFT magnitude of IN, write audio.

IN is audio (wav/flac/ogg: several channels are averaged to mono and another rate is resampled
to the model's rate, both reported) or a saved magnitude ``.npy`` of shape (513, frames) or
(1, 513, frames) for the 1024-point STFT, taken at ``--rate``. The output is written at the
model's rate, peak-normalised to 0.99 only if it would clip (reported). Refused: NaN/inf or
negative magnitudes, wrong shapes, silent or empty input, an existing OUT without ``--force``,
an OUT that cannot be written (checked before the computation), a checkpoint of another plugin.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from unfold import argtypes
from unfold.errors import ConfigError, InputDataError

ALGOS = ("gla", "fgla", "admm", "uadmm")


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
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")


def latest_quick_checkpoint(root: Path = Path("runs")) -> Path | None:
    """The untied (else tied) best.pt of the newest ``runs/admm-pr-quick-*`` run, if any."""
    found = []
    for tying in ("untied", "tied"):
        found += [p for p in root.glob(f"admm-pr-quick-*/checkpoints/{tying}/best.pt")]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def load_magnitude(path: Path, n_freq: int) -> torch.Tensor:
    """A saved magnitude ``(n_freq, frames)`` from .npy, checked."""
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise InputDataError(f"cannot read magnitude array {path}: {e}") from None
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2 or a.shape[0] != n_freq or a.shape[1] < 2:
        raise InputDataError(f"magnitude must have shape ({n_freq}, frames >= 2) for the 1024-point "
                         f"STFT, got {a.shape}")
    if np.iscomplexobj(a):
        raise InputDataError("magnitude must be real (got a complex array: pass np.abs of it)")
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def check_magnitude(r: torch.Tensor) -> None:
    if not bool(torch.isfinite(r).all()):
        raise InputDataError("magnitude holds NaN or inf values")
    if bool((r < 0).any()):
        raise InputDataError(f"magnitude holds negative values (min {float(r.min()):.3g}); "
                         "magnitudes are |STFT| >= 0")
    if float(r.max()) < 1e-8:
        raise InputDataError("input is silent (magnitude peak < 1e-8): nothing to reconstruct")


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


def run(args: argparse.Namespace) -> int:
    from unfold.data.io import check_output, load_audio, progress_bar, save_audio
    from unfold_plugins.admm_pr.problem import from_magnitude
    from unfold_plugins.admm_pr.task import operator

    check_output(args.output, args.force)
    if not args.input.is_file():
        raise InputDataError(f"input {args.input} does not exist")
    model, n_iter, cfg = build(args.algo, args.iters, args.model)
    rate = cfg.data.sample_rate
    op = operator(cfg)
    if args.input.suffix.lower() == ".npy":
        if args.rate != rate:
            raise ConfigError(f"the model works at {rate} Hz; this .npy is at --rate {args.rate}")
        r = load_magnitude(args.input, op.n_fft // 2 + 1)
        length = (r.shape[1] - 1) * op.hop
    else:
        x, orig, notes = load_audio(args.input, rate)
        for n in notes:
            print(f"note: {args.input}: {n}")
        if x.numel() <= op.n_fft // 2:
            raise InputDataError(f"{args.input} is too short ({x.numel()} samples at {rate} Hz; "
                             f"need more than {op.n_fft // 2})")
        r, length = op(x[None]).abs()[0], x.numel()
    check_magnitude(r)
    problem = from_magnitude(r[None], op, length, seed=args.seed)
    model.eval()
    with torch.no_grad(), progress_bar(n_iter, f"{args.algo} iterations") as bar:
        state = model.run(problem, n_iter, callback=lambda t, s: bar.update(1))
        y = model.readout(state, problem)[0]
    if not bool(torch.isfinite(y).all()):
        raise InputDataError(f"the reconstruction holds NaN or inf samples; {args.output} was "
                             "not written (try --algo admm)")
    peak = float(y.abs().max())
    if peak > 0.99:
        print(f"note: output peak {peak:.3g} normalised to 0.99 to avoid clipping")
        y = y * (0.99 / peak)
    sc = float((op(y[None]).abs()[0] - r).norm() / r.norm())
    save_audio(args.output, y, rate, overwrite=args.force)
    print(f"wrote {args.output} ({args.algo}, {n_iter} iterations, {rate} Hz, "
          f"spectral convergence {sc:.4f})")
    return 0
