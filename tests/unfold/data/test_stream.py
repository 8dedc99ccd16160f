"""Streaming audio: range reads equal whole-file loading (resampling too), atomic block writes."""

import numpy as np
import pytest
import soundfile as sf
import torch

from unfold.data.io import load_audio
from unfold.data.stream import AudioSource, AudioWriter, Staging
from unfold.errors import InputDataError, OutputExistsError


@pytest.fixture
def stereo(tmp_path):
    g = np.random.default_rng(0)
    x = (0.3 * g.standard_normal((5001, 2))).astype("f4")
    path = tmp_path / "in.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    return path


@pytest.mark.parametrize("rate", [16000, 22050, 8000])
def test_range_reads_equal_loading_the_whole_file(stereo, rate):
    whole, _, notes = load_audio(stereo, rate)
    src = AudioSource.open(stereo).at_rate(rate)
    assert src.length == whole.numel() and src.notes == notes
    got = torch.cat([x for _, x in src.blocks(700)])
    torch.testing.assert_close(got, whole, atol=1e-5, rtol=0)
    edge = src.read(-5, 10)
    assert torch.equal(edge[:5], torch.zeros(5))
    torch.testing.assert_close(edge[5:], whole[:10], atol=1e-5, rtol=0)
    assert torch.equal(src.read(src.length - 2, src.length + 3)[2:], torch.zeros(3))


def test_open_refuses_non_finite_and_missing_files(tmp_path):
    bad = tmp_path / "nan.wav"
    sf.write(bad, np.array([0.1, np.nan, 0.2], "f4"), 8000, subtype="FLOAT")
    with pytest.raises(InputDataError, match="1 NaN or inf"):
        AudioSource.open(bad)
    with pytest.raises(InputDataError, match="does not exist"):
        AudioSource.open(tmp_path / "none.wav")
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(InputDataError, match="cannot read"):
        AudioSource.open(tmp_path / "text.wav")


def test_writer_is_atomic_and_refuses_non_finite_blocks(tmp_path):
    out = tmp_path / "o.wav"
    with AudioWriter(out, 8000, subtype="FLOAT") as w:
        w.write(torch.ones(3) * 0.5)
        w.write(torch.zeros(2))
    assert sf.read(out)[0].tolist() == [0.5, 0.5, 0.5, 0, 0]
    with pytest.raises(OutputExistsError):
        AudioWriter(out, 8000)
    with pytest.raises(InputDataError, match="NaN or inf"), AudioWriter(out, 8000, True) as w:
        w.write(torch.ones(3))
        w.write(torch.tensor([float("nan")]))
    assert len(sf.read(out)[0]) == 5  # the earlier file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["o.wav"]  # no temporary file left


def test_staging_reads_back_ranges_tracks_the_peak_and_cleans_up(tmp_path):
    with Staging(tmp_path) as s:
        s.write(torch.tensor([0.1, -0.7]))
        s.write(torch.tensor([0.3]))
        assert s.peak == pytest.approx(0.7) and s.length == 3
        torch.testing.assert_close(s.read(-1, 5), torch.tensor([0, 0.1, -0.7, 0.3, 0, 0]))
        with pytest.raises(InputDataError):
            s.write(torch.tensor([float("inf")]))
    assert list(tmp_path.iterdir()) == []
