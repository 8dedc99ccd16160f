"""Synthesis time per utterance of the eSpeak and Piper corpora, side by side.

Each repetition builds, into an empty temporary cache and in alternating order, the ``test``
split of both corpora with 1 and with ``--n`` utterances (``--rate`` Hz, ``--seconds`` s). The
1-utterance build is the start-up (fresh worker process, library or network load); the
per-utterance time is ``(T_n - T_1) / (n - 1)``. Reports medians over repetitions, the ratio
Piper / eSpeak and the load. Needs the extra ``unfold[piper]``.

    OMP_NUM_THREADS=1 python -m benchmarks.corpus_synthesis --n 12 --reps 2 --out synth.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import torch

from benchmarks.benchjson import emit, load_average, machine
from unfold.data import speech_dataset

CORPORA = ("espeak", "piper")


def build_seconds(corpus: str, n: int, rate: int, seconds: float) -> float:
    with tempfile.TemporaryDirectory(prefix="unfold-synth-bench-") as cache:
        os.environ["UNFOLD_CACHE"] = cache
        t0 = time.perf_counter()
        speech_dataset(None, "test", n, rate, seconds, corpus=corpus)
        return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=12)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--rate", type=int, default=22050)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    load_before = load_average()
    runs: dict[str, dict[str, list[float]]] = {c: {"start_s": [], "per_utt_s": []} for c in CORPORA}
    for rep in range(a.reps):
        for corpus in CORPORA if rep % 2 == 0 else CORPORA[::-1]:
            one = build_seconds(corpus, 1, a.rate, a.seconds)
            many = build_seconds(corpus, a.n, a.rate, a.seconds)
            runs[corpus]["start_s"].append(round(one, 3))
            runs[corpus]["per_utt_s"].append(round((many - one) / (a.n - 1), 3))
    med = {c: {k: statistics.median(v) for k, v in r.items()} for c, r in runs.items()}
    emit({"benchmark": "corpus_synthesis", "n": a.n, "reps": a.reps, "rate": a.rate,
          "seconds": a.seconds,
          "machine": machine(torch.device("cpu"), piper_tts=version("piper-tts"),
                             espeakng_loader=version("espeakng-loader")),
          "load_before": load_before, "load_after": load_average(), "runs": runs, "median": med,
          "ratio_piper_over_espeak": {k: round(med["piper"][k] / med["espeak"][k], 2)
                                      for k in ("start_s", "per_utt_s")}}, a.out)


if __name__ == "__main__":
    main()
