"""Peak memory and time of the three audio commands on one long file, side by side.

Synthesises a speech-like recording of ``--minutes`` (harmonic voiced sounds on a gliding pitch,
a 4 Hz syllable envelope, pauses, and noise 20 dB down; written a block at a time), then runs in
a fresh subprocess each, with ``OMP_NUM_THREADS=1``:

- ``unfold admm-pr reconstruct`` (22,050 Hz, ``--algo admm --iters --admm-iters``),
- ``unfold deep-nmf enhance`` (16 kHz, the default SNMF model; its bases must be cached, else
  their learning is measured too),
- ``unfold cp-dequant dequantize`` (16 kHz, 4 bits, ``--iterations --cp-iters``) of the file
  quantised by ``unfold cp-dequant quantize`` (not measured),

for this checkout and, with ``--before DIR``, for another checkout of the project (e.g. a main
worktree, run with DIR as the working directory so that its ``unfold`` is imported). Each command
process records its own peak RSS (``VmHWM``) at exit; the parent samples its anonymous RSS
(``RssAnon``: memory the process owns, without mapped library files) every 20 ms. A run of
``import torch`` alone gives the floor both figures include. Reports wall seconds and the load.

    OMP_NUM_THREADS=1 python -m benchmarks.long_file_memory --minutes 3 --before /work/main \\
        --out long3.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from benchmarks.benchjson import emit, load_average, machine

POLL_S = 0.02
CHILD = """
import json, os, sys
def status():
    return {l.split(':')[0]: int(l.split()[1]) // 1024 for l in open('/proc/self/status')
            if l.startswith(('VmHWM', 'RssAnon', 'RssFile'))}
import torch
rc = 0
if sys.argv[1:]:
    from unfold.cli import main
    rc = main(sys.argv[1:])
out = status()
out['rc'] = rc
with open(os.environ['BENCH_RESULT'], 'w') as f:
    json.dump(out, f)
"""


def speechlike(path: Path, minutes: float, rate: int, seed: int = 0) -> None:
    """Write ``minutes`` of a speech-like signal at ``rate`` Hz, 10 s at a time."""
    g = np.random.default_rng(seed)
    n, block = int(minutes * 60 * rate), 10 * rate
    with sf.SoundFile(str(path), "w", rate, 1, subtype="PCM_16") as f:
        for a in range(0, n, block):
            t = np.arange(a, min(a + block, n)) / rate
            f0 = 140 + 40 * np.sin(2 * np.pi * 0.3 * t) + 20 * np.sin(2 * np.pi * 1.7 * t)
            phase = 2 * np.pi * np.cumsum(f0) / rate + 2 * np.pi * 140 * a / rate
            voiced = sum(np.sin(k * phase) / k for k in range(1, 16))
            env = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) * (np.sin(2 * np.pi * 0.13 * t) > -0.6)
            x = 0.25 * env * voiced + 0.02 * g.standard_normal(t.size)
            f.write(np.clip(x, -0.95, 0.95).astype("f4"))


def measure(cwd: Path, args: list[str]) -> dict:
    """Run the CLI with ``args`` (none: ``import torch`` only) in a subprocess in ``cwd``."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as res:
        result = Path(res.name)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BENCH_RESULT": str(result)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    anon = 0
    while proc.poll() is None:
        try:
            text = Path(f"/proc/{proc.pid}/status").read_text()
            anon = max(anon, next(int(line.split()[1]) for line in text.splitlines()
                                  if line.startswith("RssAnon")) // 1024)
        except (OSError, StopIteration):
            pass
        time.sleep(POLL_S)
    wall = time.perf_counter() - t0
    out, err = proc.communicate()
    if proc.returncode != 0 or not result.stat().st_size or json.loads(result.read_text())["rc"]:
        raise SystemExit(f"{args} failed in {cwd} ({proc.returncode}): {err.strip()[-500:]}")
    child = json.loads(result.read_text())
    result.unlink()
    return {"wall_s": round(wall, 1), "peak_rss_mb": child["VmHWM"], "peak_anon_mb": anon,
            "end_anon_mb": child["RssAnon"],
            "stdout_tail": out.strip().splitlines()[-1:] if out.strip() else []}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--admm-iters", type=int, default=100)
    p.add_argument("--cp-iters", type=int, default=20)
    p.add_argument("--before", type=Path, help="another checkout to run side by side")
    p.add_argument("--only", nargs="*", default=["admm-pr", "deep-nmf", "cp-dequant"])
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    here = Path.cwd()
    checkouts = {"after": here, **({"before": a.before.resolve()} if a.before else {})}
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="unfold-long-") as tmp:
        d = Path(tmp)
        speechlike(d / "in22k.wav", a.minutes, 22050)
        speechlike(d / "in16k.wav", a.minutes, 16000)
        quantised = d / "q16k.wav"
        if "cp-dequant" in a.only:
            subprocess.run([sys.executable, "-m", "unfold.cli", "cp-dequant", "quantize",
                            str(d / "in16k.wav"), "-o", str(quantised), "--bits", "4"],
                           cwd=here, check=True, capture_output=True)
        commands = {
            "admm-pr": ["admm-pr", "reconstruct", str(d / "in22k.wav"), "-o", str(d / "a.wav"),
                        "--algo", "admm", "--iters", str(a.admm_iters), "--force"],
            "deep-nmf": ["deep-nmf", "enhance", str(d / "in16k.wav"), "-o", str(d / "e.wav"),
                         "--force"],
            "cp-dequant": ["cp-dequant", "dequantize", str(quantised), "-o", str(d / "c.wav"),
                           "--iterations", str(a.cp_iters), "--force"],
        }
        runs: dict[str, dict] = {"import torch": measure(here, [])}
        for name in a.only:
            runs[name] = {}
            for which, cwd in checkouts.items():  # side by side: before, then after, per command
                runs[name][which] = measure(cwd, commands[name])
                print(f"{name} {which}: {runs[name][which]}", file=sys.stderr)
    floor = runs["import torch"]
    for name in a.only:
        for r in runs[name].values():
            r["anon_beyond_torch_mb"] = r["peak_anon_mb"] - floor["peak_anon_mb"]
        if "before" in runs[name]:
            b, f = runs[name]["before"], runs[name]["after"]
            runs[name]["ratio_after_over_before"] = {
                k: round(f[k] / b[k], 2) for k in ("peak_rss_mb", "anon_beyond_torch_mb", "wall_s")
                if b[k] > 0}
    emit({"benchmark": "long_file_memory", "minutes": a.minutes, "admm_iters": a.admm_iters,
          "cp_iters": a.cp_iters, "machine": machine(torch.device("cpu")),
          "load_before": load_before, "load_after": load_average(), "runs": runs}, a.out)


if __name__ == "__main__":
    main()
