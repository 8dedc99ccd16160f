"""Wall time, CPU time and memory of the README's main job, ``unfold compare --quick``, from an empty
cache (corpus synthesis and the DPR generator's training included).

Runs ``unfold compare --quick`` (default ``--jobs``: one process per core) in a subprocess with a
fresh ``UNFOLD_CACHE`` and run directory, and, with ``--serial``, ``--jobs 1`` after it in the same
run as the peer (one process, the plugins in turn; its cache fresh too). For each: wall seconds,
CPU seconds of the whole process tree (``RUSAGE_CHILDREN``), the largest summed RSS of the tree
(sampled every 0.2 s from ``/proc``), each plugin's finishing time as ``compare`` reports it, and
the load before and after. The target (#13) is ≤ 120 s wall on 2 idle cores.

    python -m benchmarks.compare_quick --serial --out compare_quick.json
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from benchmarks.benchjson import emit, load_average, machine

TARGET_S = 120.0


def _tree_rss_mb(root: int) -> float:
    """Summed VmRSS of ``root`` and its descendants, MB (Linux ``/proc``)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        ppid = int(re.search(r"PPid:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        m = re.search(r"VmRSS:\s+(\d+) kB", status)
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = int(m.group(1)) if m else 0
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 1024


def run_compare(jobs: int | None, workdir: Path) -> dict:
    cmd = [sys.executable, "-m", "unfold.cli", "compare", "--quick", "--out", str(workdir / "run")]
    if jobs is not None:
        cmd += ["--jobs", str(jobs)]
    env = {**os.environ, "UNFOLD_CACHE": str(workdir / "cache")}
    load_before = load_average()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    sampler.join()
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    finished = {m.group(1): int(m.group(2))
                for m in re.finditer(r"compare: (\S+) finished after (\d+) s", err)}
    return {"jobs": jobs or "default", "wall_s": round(wall, 1),
            "cpu_s": round((cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime), 1),
            "peak_tree_rss_mb": round(peak[0]), "plugin_finished_s": finished,
            "load_before": load_before, "load_after": load_average(),
            "meets_target": wall <= TARGET_S}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--serial", action="store_true", help="also run --jobs 1 as the peer")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    runs = []
    for jobs in (None, 1) if a.serial else (None,):
        with tempfile.TemporaryDirectory(prefix="unfold-compare-") as tmp:
            runs.append(run_compare(jobs, Path(tmp)))
    result = {"benchmark": "compare_quick", "target_wall_s": TARGET_S, "runs": runs,
              "machine": machine(torch.device("cpu"))}
    if len(runs) == 2:
        result["ratio_default_over_serial_wall"] = round(runs[0]["wall_s"] / runs[1]["wall_s"], 2)
    emit(result, a.out)


if __name__ == "__main__":
    main()
