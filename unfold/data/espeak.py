"""Default offline speech corpus, synthesised with eSpeak NG (``espeakng-loader`` wheel, ctypes).

Sentences come from a small grammar (determiner, adjective, noun, verb, adverb, place...: ~10^9
combinations) driven by ``random.Random``. A sentence belongs to exactly one split, chosen by the
SHA-1 of its text (80 % train, 10 % valid, 10 % test), so splits never share a sentence. Each
utterance gets a voice ``<language>+<variant>``, a pitch (35..65), pitch range (30..70) and rate
(150..190 words/min) from an RNG seeded by ``(seed, split, index)``. The variants in
``HELD_OUT_VARIANTS`` are used by the test split only: test holds out voices never heard in
train/valid. With an explicit ``voices`` list, its last voice is reserved for test (when it has
more than one voice).

Audio is synthesised at eSpeak's 22,050 Hz in a fresh process per corpus
(:mod:`unfold.data.espeak_worker`: eSpeak keeps state across utterances, so in-process synthesis
depended on what was synthesised before), resampled, and cut by
:func:`unfold.data.clips.prepare_clip`. The result is cached as ``clips.npy`` + ``meta.json`` in
``$UNFOLD_CACHE/speech/<key>/`` (default ``~/.cache/unfold/speech/<key>/``), ``key`` hashing every
generation parameter (:mod:`unfold.data.cache`).
"""

from __future__ import annotations

import hashlib
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

from unfold.data.cache import corpus_folder, read_cached, write_atomically
from unfold.data.clips import SpeechClips, make_clips, n_samples
from unfold.data.espeak_worker import NATIVE_RATE, run_in_subprocess

CORPUS_VERSION = 2  # 2: synthesised in a fresh process (espeak_worker), deterministic
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
    folder = corpus_folder(params)
    cached = read_cached(folder, sample_rate)
    if cached is not None:
        return cached
    texts, pool = sentences(split, n, seed), voices_for(split, voices)
    utterances, names = [], []
    for i, text in enumerate(texts):
        rng = random.Random(f"unfold-voice-{seed}-{split}-{i}")
        voice = pool[i] if i < len(pool) and split == "test" else rng.choice(pool)
        utterances.append((text, voice, rng.randint(35, 65), rng.randint(30, 70),
                           rng.randint(150, 190), int((seconds + 1.0) * NATIVE_RATE)))
        names.append(f"{voice}: {text}")
    with tempfile.TemporaryDirectory(prefix="unfold-espeak-") as work:
        pcm = run_in_subprocess(utterances, int(folder.name[:8], 16), Path(work))
    raws = [r.astype(np.float32) / 32768.0 for r in pcm]
    clips = make_clips(raws, NATIVE_RATE, sample_rate, seconds)[0]
    write_atomically(folder, clips, {"params": params, "names": names})
    return SpeechClips(torch.from_numpy(clips), sample_rate, names)

