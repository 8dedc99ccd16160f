"""Run a synthesis worker file in a fresh Python process (no torch, no inherited engine state).

A worker is a file that imports only the standard library, NumPy and its engine, defines
``main(job_file, out_file) -> int`` and is loaded by path, so the child neither imports torch nor
sees ``unfold`` (whose ``unfold/data/io.py`` would shadow the standard ``io`` module if the
worker's folder were on ``sys.path``). The job is a JSON file; the output an ``.npz`` file.
Exit status :data:`BAD_INPUT` means input the user can fix (its message is the last stderr line);
any other non-zero status is a failure of the engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

BAD_INPUT = 3
_BOOT = (  # no '' or script folder on sys.path: unfold/data/io.py must not shadow the io module
    "import sys; sys.path[:] = [p for p in sys.path if p]; import importlib.util as u; "
    "s = u.spec_from_file_location('unfold_data_worker', sys.argv[1]); m = u.module_from_spec(s); "
    "s.loader.exec_module(m); sys.exit(m.main(sys.argv[2], sys.argv[3]))"
)


def run_worker(worker_file: str, job: dict, workdir: Path, engine: str) -> dict[str, np.ndarray]:
    """The arrays ``main`` of ``worker_file`` saved for ``job``; ``engine`` names it in errors.

    Raises ``ValueError`` (exit :data:`BAD_INPUT`) or ``RuntimeError`` (any other failure).
    """
    job_file, out = workdir / "job.json", workdir / "out.npz"
    job_file.write_text(json.dumps(job))
    done = subprocess.run([sys.executable, "-c", _BOOT, worker_file, str(job_file), str(out)],
                          capture_output=True, text=True)
    lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
    if done.returncode == BAD_INPUT:
        raise ValueError(lines[-1])
    if done.returncode != 0:
        raise RuntimeError(f"{engine} synthesis failed: {lines[-1]}")
    with np.load(out) as z:
        return {k: z[k] for k in z.files}
