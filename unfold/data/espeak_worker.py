"""eSpeak NG synthesis of one corpus, run in a fresh Python process by :mod:`unfold.data.espeak`.

eSpeak NG keeps state across utterances that neither ``espeak_Terminate`` nor a new
``espeak_Initialize`` resets: the same text, voice and parameters synthesised twice in one
process give different samples (lengths differ by a few to ~20 samples), and its random source
(breath and flutter of the voice variants) is seeded from the clock unless
``espeak_ng_SetRandSeed`` is called. A corpus synthesised inside a long-lived process therefore
depended on whatever that process had synthesised before. Run here, each corpus starts from
eSpeak's initial state with a fixed random seed and synthesises its utterances in order, so the
samples depend on the corpus parameters alone (checked: equal to the last sample across
processes and orders).

This file imports only the standard library, NumPy and ``espeakng_loader`` and is loaded by
path (:func:`run_in_subprocess` through :mod:`unfold.data.worker`), so the child does not import
torch. Job file (JSON): ``{"seed": int, "utterances": [[text, voice, pitch, pitch_range, rate,
limit], ...]}``; output: an ``.npz`` of int16 arrays ``arr_0, arr_1, ...`` at 22,050 Hz. Exit
status 3: an unknown voice.
"""

from __future__ import annotations

import ctypes
import json
import sys
from pathlib import Path

import numpy as np

NATIVE_RATE = 22050
UNKNOWN_VOICE = 3  # unfold.data.worker.BAD_INPUT (this file imports no unfold module)
_CHUNKS: list[np.ndarray] = []
_LIMIT = [0]  # stop synthesis (callback returns 1) once this many samples are collected
_CALLBACK_TYPE = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


def _collect(wav: ctypes._Pointer, numsamples: int, events: int | None) -> int:
    if wav and numsamples > 0:
        _CHUNKS.append(np.ctypeslib.as_array(wav, shape=(numsamples,)).copy())
    return int(sum(len(c) for c in _CHUNKS) >= _LIMIT[0] > 0)


_CALLBACK = _CALLBACK_TYPE(_collect)  # kept alive for the life of the process


def load(seed: int) -> ctypes.CDLL:
    """The eSpeak NG library, initialised for retrieval at 22,050 Hz, its random source seeded."""
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    data = espeakng_loader.get_data_path().encode()
    rate = lib.espeak_Initialize(1, 0, data, 0)  # AUDIO_OUTPUT_RETRIEVAL
    if rate != NATIVE_RATE:
        raise RuntimeError(f"eSpeak NG initialisation failed (returned {rate})")
    lib.espeak_SetSynthCallback(_CALLBACK)
    if hasattr(lib, "espeak_ng_SetRandSeed"):
        lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
    return lib


def synth(lib: ctypes.CDLL, text: str, voice: str, pitch: int, pitch_range: int, rate: int,
          limit: int = 0) -> np.ndarray:
    """int16 samples; stops after about ``limit`` samples when ``limit > 0``."""
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise LookupError(f"unknown eSpeak voice {voice!r}; try e.g. 'en+f3' or 'en-us+m1'")
    for param, value in ((1, rate), (3, pitch), (4, pitch_range)):
        lib.espeak_SetParameter(param, value, 0)
    _CHUNKS.clear()
    _LIMIT[0] = limit
    raw = text.encode()
    lib.espeak_Synth(raw, len(raw) + 1, 0, 1, 0, 0, None, None)
    lib.espeak_Synchronize()
    out = np.concatenate(_CHUNKS) if _CHUNKS else np.zeros(0, np.int16)
    _CHUNKS.clear()
    return out


def main(job_file: str, out_file: str) -> int:
    job = json.loads(Path(job_file).read_text())
    lib = load(int(job["seed"]))
    try:
        raws = [synth(lib, *u) for u in job["utterances"]]
    except LookupError as e:
        print(e.args[0], file=sys.stderr)
        return UNKNOWN_VOICE
    np.savez(out_file, *raws)
    return 0


def run_in_subprocess(utterances: list[tuple], seed: int, workdir: Path) -> list[np.ndarray]:
    """Synthesise ``utterances`` (text, voice, pitch, pitch_range, rate, limit) in a fresh process."""
    from unfold.data.worker import run_worker  # here: the child loads this file without unfold

    job = {"seed": seed, "utterances": [list(u) for u in utterances]}
    out = run_worker(__file__, job, workdir, "eSpeak NG")
    return [out[f"arr_{i}"] for i in range(len(utterances))]
