"""deep-nmf config checks: each refused value is named by its own key, in one line."""

import pytest

from unfold.recipe import ConfigError
from unfold_plugins.deep_nmf import plugin
from unfold_plugins.deep_nmf.config import DNNConfig
from unfold_plugins.deep_nmf.noise import KINDS


@pytest.mark.parametrize("override, message", [
    ("data.n_train=0", "data.n_train must be >= 1, got 0"),
    ("data.n_test=-3", "data.n_test must be >= 1, got -3"),
    ("data.snrs=[]", "data.snrs must hold one or more values (SNRs in dB), got []"),
    ("data.train_noises=hum", f"data.train_noises must hold values among {', '.join(KINDS)}, got ['hum']"),
    ("model.rank=0", "model.rank must be >= 1, got 0"),
    ("model.context=0", "model.context must be >= 1, got 0"),
    ("model.layers=0", "model.layers must be >= 1, got 0"),
    ("model.mu=-1", "model.mu must be >= 0, got -1.0"),
    ("dnn.noise=-0.5", "dnn.noise must be >= 0, got -0.5"),
    ("update=sgd", "update must be one of adam, mbp, got 'sgd'"),
])
def test_config_errors_name_one_key(override, message):
    with pytest.raises(ConfigError) as e:
        plugin.recipe("deep-nmf").resolve(overrides=[override])
    assert str(e.value) == message


def test_dnn_noise_must_be_finite():
    with pytest.raises(ConfigError, match=r"^dnn.noise must be a finite number >= 0, got inf$"):
        DNNConfig(noise=float("inf")).validate()
