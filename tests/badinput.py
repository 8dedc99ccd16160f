"""The contract of the bad-input suites: a refusal is one stderr line, the right exit status,
no traceback, and no output file written or changed (and no temporary file left behind)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from unfold import cli


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "cache" not in p.parts}


READ_ONLY = "/sys"  # a read-only file system even for root (chmod does not stop root)


def refused(capsys, argv: list[str], match: str, folder: Path, code: int = 2) -> str:
    """Run ``unfold argv`` in-process and check it is a clean refusal; returns the line."""
    if any(str(a).startswith(READ_ONLY + "/") for a in argv) and os.access(READ_ONLY, os.W_OK) \
            and not os.path.ismount(READ_ONLY):
        pytest.skip(f"{READ_ONLY} is writable here")
    before = snapshot(folder)
    capsys.readouterr()
    try:
        rc = cli.main([str(a) for a in argv])
    except SystemExit as e:  # argparse's own exit
        rc = e.code
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert rc == code, (rc, out.err)
    assert len(lines) == 1, out.err
    assert "Traceback" not in out.err + out.out, out.err
    assert match in lines[0], lines[0]
    assert snapshot(folder) == before, "a refusal wrote or changed files"
    return lines[0]


def wav(path: Path, x, rate: int = 16000, subtype: str = "FLOAT") -> Path:
    sf.write(str(path), np.asarray(x, dtype=np.float64), rate, subtype=subtype)
    return path


def tone(n: int = 4000, rate: int = 16000) -> np.ndarray:
    t = np.arange(n) / rate
    return 0.4 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2


def written_audio_is_finite(path: Path) -> bool:
    y, _ = sf.read(str(path))
    return bool(np.isfinite(y).all()) and len(y) > 0
