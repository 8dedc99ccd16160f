"""Default offline speech corpus, synthesised with eSpeak NG (``espeakng-loader`` wheel, ctypes).

Sentences come from a small grammar (determiner, adjective, noun, verb, adverb, place...: ~10^9
combinations) driven by ``random.Random``. A sentence belongs to exactly one split, chosen by the
SHA-1 of its text (80 % train, 10 % valid, 10 % test), so splits never share a sentence. Each
utterance gets a voice ``<language>+<variant>``, a pitch (35..65), pitch range (30..70) and rate
(150..190 words/min) from an RNG seeded by ``(seed, split, index)``. The variants in
``HELD_OUT_VARIANTS`` are used by the test split only: test holds out voices never heard in
train/valid. With an explicit ``voices`` list, its last voice is reserved for test (when it has
more than one voice).

Audio is synthesised at eSpeak's 22,050 Hz, resampled, and cut by
:func:`unfold.data.clips.prepare_clip`. The result is cached as ``clips.npy`` + ``meta.json`` in
``$UNFOLD_CACHE/speech/<key>/`` (default ``~/.cache/unfold/speech/<key>/``), ``key`` hashing every
generation parameter; the folder is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import random
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import torch

from unfold.data.clips import SpeechClips, make_clips, n_samples

NATIVE_RATE = 22050
CORPUS_VERSION = 1
LANGUAGES = ("en", "en-us", "en-gb-x-rp", "en-gb-scotland", "en-029")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
HELD_OUT_VARIANTS = ("m7", "f5")
SPLITS = ("train", "valid", "test")

_WORDS = {
    "det": "the a one this that every some my your our".split(),
    "adj": (
        "small bright quiet heavy green old careful distant gentle sudden narrow warm frozen "
        "simple golden broken silver hidden tired honest"
    ).split(),
    "noun": (
        "farmer river teacher window garden engine letter doctor kitten village mountain "
        "painter student bottle captain basket singer forest harbour lantern"
    ).split(),
    "verb": (
        "carried watched opened followed painted found cleaned pushed lifted answered "
        "visited noticed repaired counted borrowed"
    ).split(),
    "adv": "slowly quickly gladly often rarely calmly loudly softly early later".split(),
    "prep": "near behind under beside across inside above beyond".split(),
}


def sentence(rng: random.Random) -> str:
    """One sentence from the grammar (8 to 12 words)."""
    w = {k: rng.choice(v) for k, v in _WORDS.items()}
    noun2, adj2 = rng.choice(_WORDS["noun"]), rng.choice(_WORDS["adj"])
    place = f"{w['prep']} the {rng.choice(_WORDS['adj'])} {rng.choice(_WORDS['noun'])}"
    forms = [
        f"{w['det']} {w['adj']} {w['noun']} {w['adv']} {w['verb']} the {adj2} {noun2}",
        f"{w['det']} {w['noun']} {w['verb']} the {adj2} {noun2} {place}",
        f"{place}, {w['det']} {w['adj']} {w['noun']} {w['adv']} {w['verb']} the {noun2}",
    ]
    text = rng.choice(forms)
    return text[0].upper() + text[1:] + "."


def split_of(text: str) -> str:
    """The split a sentence belongs to, from the SHA-1 of its text."""
    bucket = int(hashlib.sha1(text.encode()).hexdigest(), 16) % 10
    return "train" if bucket < 8 else ("valid" if bucket == 8 else "test")


def sentences(split: str, n: int, seed: int) -> list[str]:
    """The first ``n`` distinct sentences of ``split`` in the stream seeded by ``seed``."""
    rng, out, seen = random.Random(f"unfold-speech-{seed}"), [], set()
    for _ in range(200 * n + 1000):
        text = sentence(rng)
        if text not in seen and split_of(text) == split:
            out.append(text)
        seen.add(text)
        if len(out) == n:
            return out
    raise ValueError(f"could not generate {n} distinct {split} sentences")  # pragma: no cover


def voices_for(split: str, voices: list[str] | None) -> list[str]:
    """Voices a split may use (test alone gets the held-out ones)."""
    if voices is None:
        keep = [v for v in VARIANTS if (v in HELD_OUT_VARIANTS) == (split == "test")]
        if split == "test":
            keep = list(VARIANTS)
        return [f"{lang}+{var}" for lang in LANGUAGES for var in keep]
    if not voices:
        raise ValueError("voices must be None or a non-empty list like ['en+f3', 'en-us+m1']")
    if len(voices) == 1 or split == "test":
        return list(voices)
    return list(voices[:-1])


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


class _Espeak:
    """The process-global eSpeak NG library, initialised once, used under a lock."""

    _lock = threading.Lock()
    _lib: ctypes.CDLL | None = None

    @classmethod
    def _load(cls) -> ctypes.CDLL:
        if cls._lib is None:
            import espeakng_loader

            lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data = espeakng_loader.get_data_path().encode()
            rate = lib.espeak_Initialize(1, 0, data, 0)  # AUDIO_OUTPUT_RETRIEVAL
            if rate != NATIVE_RATE:
                raise RuntimeError(f"eSpeak NG initialisation failed (returned {rate})")
            lib.espeak_SetSynthCallback(_CALLBACK)
            cls._lib = lib
        return cls._lib

    @classmethod
    def synth(
        cls, text: str, voice: str, pitch: int, pitch_range: int, rate: int, limit: int = 0
    ) -> np.ndarray:
        """int16 samples at 22,050 Hz; stops after about ``limit`` samples when ``limit > 0``."""
        with cls._lock:
            lib = cls._load()
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"unknown eSpeak voice {voice!r}; try e.g. 'en+f3' or 'en-us+m1'")
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


def cache_root() -> Path:
    """``$UNFOLD_CACHE`` or ``~/.cache/unfold``."""
    env = os.environ.get("UNFOLD_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "unfold"


def espeak_corpus(
    split: str,
    n: int,
    sample_rate: int,
    seconds: float = 2.0,
    seed: int = 0,
    voices: list[str] | None = None,
) -> SpeechClips:
    """``n`` eSpeak utterances of ``split`` as :class:`SpeechClips` (cached, see module doc)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if n < 1:
        raise ValueError(f"n must be a positive number of utterances, got {n}")
    n_samples(seconds, sample_rate)  # validates
    params = {"v": CORPUS_VERSION, "split": split, "n": n, "rate": sample_rate,
              "seconds": seconds, "seed": seed, "voices": voices}
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    folder = cache_root() / "speech" / key
    if (folder / "clips.npy").is_file():
        meta = json.loads((folder / "meta.json").read_text())
        return SpeechClips(torch.from_numpy(np.load(folder / "clips.npy")), sample_rate,
                           meta["names"])
    texts, pool = sentences(split, n, seed), voices_for(split, voices)
    raws, names = [], []
    for i, text in enumerate(texts):
        rng = random.Random(f"unfold-voice-{seed}-{split}-{i}")
        voice = pool[i] if i < len(pool) and split == "test" else rng.choice(pool)
        raw = _Espeak.synth(text, voice, rng.randint(35, 65), rng.randint(30, 70),
                            rng.randint(150, 190), limit=int((seconds + 1.0) * NATIVE_RATE))
        raws.append(raw.astype(np.float32) / 32768.0)
        names.append(f"{voice}: {text}")
    clips = make_clips(raws, NATIVE_RATE, sample_rate, seconds)[0]
    _write_atomically(folder, clips, {"params": params, "names": names})
    return SpeechClips(torch.from_numpy(clips), sample_rate, names)


def _write_atomically(folder: Path, clips: np.ndarray, meta: dict) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    np.save(tmp / "clips.npy", clips)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    try:
        os.rename(tmp, folder)
    except OSError:  # another process finished first: keep its copy
        shutil.rmtree(tmp, ignore_errors=True)
