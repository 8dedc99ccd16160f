import math

import pytest
import torch

from unfold_plugins.deep_nmf.mixtures import Mixtures
from unfold_plugins.deep_nmf.noise import KINDS, TEST_NOISES, TRAIN_NOISES, mix, synth_noise

SR = 16000


def _tones(n=3, seconds=0.5):
    t = torch.arange(int(seconds * SR)) / SR
    return [0.5 * torch.sin(2 * math.pi * (150 + 40 * i) * t) for i in range(n)]


def test_train_and_test_noise_classes_are_disjoint():
    assert not set(TRAIN_NOISES) & set(TEST_NOISES)


@pytest.mark.parametrize("kind", KINDS)
def test_every_noise_class_is_finite_unit_rms_and_not_stationary_white(kind):
    g = torch.Generator().manual_seed(0)
    x = synth_noise(kind, SR, SR, g, talkers=_tones())
    assert x.shape == (SR,) and bool(torch.isfinite(x).all())
    assert float(x.pow(2).mean()) == pytest.approx(1.0, rel=1e-4)
    spec = torch.stft(x, 512, 256, window=torch.hann_window(512), return_complex=True).abs() ** 2
    band = spec.mean(1)  # power per frequency bin, averaged over frames
    frame = spec.sum(0)  # power per frame
    coloured = float(band[:64].mean() / band[128:].mean()) > 2  # low / high band ratio
    varying = float(frame.std() / frame.mean()) > 0.1
    assert coloured or varying


def test_noise_is_reproducible_from_the_generator_seed():
    a = synth_noise("cafe", 4000, SR, torch.Generator().manual_seed(3), _tones())
    b = synth_noise("cafe", 4000, SR, torch.Generator().manual_seed(3), _tones())
    torch.testing.assert_close(a, b)


def test_unknown_noise_and_babble_without_talkers_are_errors():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="allowed"):
        synth_noise("white", 100, SR, g)
    with pytest.raises(ValueError, match="talkers"):
        synth_noise("babble", 100, SR, g)


@pytest.mark.parametrize("snr", [-6.0, 0.0, 9.0])
def test_mix_reaches_the_requested_snr(snr):
    clean = _tones(1)[0]
    noise = synth_noise("pink", len(clean), SR, torch.Generator().manual_seed(1))
    noisy = mix(clean, noise, snr)
    got = 10 * torch.log10(clean.pow(2).sum() / (noisy - clean).pow(2).sum())
    assert float(got) == pytest.approx(snr, abs=1e-3)


def test_test_mixtures_put_every_utterance_at_every_snr_and_cycle_noises():
    snrs = (-6.0, 0.0, 6.0)
    ds = Mixtures(_tones(2), snrs, ("brown", "cafe"), SR, seed=0, split="test", every_snr=True,
                  talkers=_tones())
    assert len(ds) == 6
    items = [ds[i] for i in range(6)]
    assert [it["snr"] for it in items] == [-6.0, 0.0, 6.0] * 2
    assert [it["noise"] for it in items] == ["brown"] * 3 + ["cafe"] * 3
    torch.testing.assert_close(items[0]["clean"], items[2]["clean"])
    torch.testing.assert_close(ds[4]["noisy"], items[4]["noisy"])  # reproducible item by item
    with pytest.raises(IndexError):
        ds[6]


def test_user_noise_clips_replace_the_synthetic_classes():
    clips = [torch.randn(3000) for _ in range(2)]
    ds = Mixtures(_tones(2), (0.0,), (), SR, seed=0, split="train", noise_clips=clips)
    item = ds[1]
    assert item["noise"].startswith("user:") and item["noisy"].shape == item["clean"].shape


def test_speech_corpus_choice_is_checked_with_the_config():
    from unfold.recipe import ConfigError
    from unfold_plugins.deep_nmf.config import DataConfig

    DataConfig(corpus="espeak", speech_root="/data/TIMIT").validate()
    with pytest.raises(ConfigError, match="data.corpus must be one of espeak, piper"):
        DataConfig(corpus="festival").validate()
    with pytest.raises(ConfigError, match="but data.speech_root replaces it"):
        DataConfig(corpus="piper", speech_root="/data/TIMIT").validate()
