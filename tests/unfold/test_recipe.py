import math
import re

import numpy as np
import pytest

import unfold
from unfold.recipe import (
    ConfigError,
    TrainConfig,
    check_choice,
    check_each,
    check_each_choice,
    check_range,
    from_dict,
    to_dict,
)


def test_quick_and_overrides(tutorial):
    cfg = tutorial.lista.resolve(quick=True, overrides=["model.n_layers=5", "train.lr=0.01",
                                                        "train.lr_end=none"])
    assert cfg.data.n_train == 500 and cfg.model.n_layers == 5
    assert cfg.train.lr == 0.01 and isinstance(cfg.train.lr, float) and cfg.train.lr_end is None


def test_list_values(tutorial):
    import dataclasses

    from unfold.recipe import parse_value

    @dataclasses.dataclass
    class C:
        iters: tuple[int, ...] = (1,)
        names: tuple[str, ...] = ("a",)

    assert parse_value(C(), "iters", "2,4") == [2, 4]
    assert parse_value(C(), "iters", "[2, 4]") == [2, 4]
    assert parse_value(C(), "names", "GLA,ADMM") == ["GLA", "ADMM"]
    assert parse_value(C(), "names", "ADMM") == ["ADMM"]  # one item of a list-valued key
    assert parse_value(C(), "iters", "15") == [15]
    full = tutorial.lista.resolve()
    assert full.data.n_train == 2000


def test_unknown_key_lists_valid_keys(tutorial):
    with pytest.raises(ConfigError, match=r"unknown config key 'model.layers'.*model\.n_layers"):
        tutorial.lista.resolve(overrides=["model.layers=3"])


@pytest.mark.parametrize("item, expected", [
    ("model.n_layers=3.5", "model.n_layers expects int"),
    ("model.n_layers=many", "model.n_layers expects int"),
    ("train.lr=fast", "train.lr expects float"),
    ("train.epochs=-1", "train.epochs must be >= 0"),
    ("train.optimizer=lbfgs", "train.optimizer must be one of adam, adamw, sgd, got 'lbfgs'"),
    ("model=3", "is a section"),
    ("novalue", "key=value"),
])
def test_bad_values_are_named(tutorial, item, expected):
    with pytest.raises(ConfigError, match=expected):
        tutorial.lista.resolve(overrides=[item])


def test_config_round_trip(tutorial):
    cfg = tutorial.lista.resolve(quick=True, overrides=["model.lam=0.2"])
    assert from_dict(tutorial.lista, to_dict(cfg)) == cfg


def refused(check, *args, **kwargs) -> str:
    with pytest.raises(ConfigError) as e:
        check(*args, **kwargs)
    assert "\n" not in str(e.value)
    return str(e.value)


@pytest.mark.parametrize("args, kwargs, message", [
    (("model.rho", -1.0, 0), {"lo_open": True}, "model.rho must be > 0, got -1.0"),
    (("model.rho", 0.0, 0), {"lo_open": True}, "model.rho must be > 0, got 0.0"),
    (("data.bits", 17, 1, 16), {}, "data.bits must be in [1, 16], got 17"),
    (("data.bits", 0, 1, 16), {}, "data.bits must be in [1, 16], got 0"),
    (("m", 1.0, 0, 1), {"hi_open": True}, "m must be in [0, 1), got 1.0"),
    (("m", 0, 0, 1), {"lo_open": True, "hi_open": True}, "m must be in (0, 1), got 0"),
    (("m", 2, None, 1), {}, "m must be <= 1, got 2"),
    (("m", 1, None, 1), {"hi_open": True}, "m must be < 1, got 1"),
    (("train.lr", 20.0, 0, 10.0), {"lo_open": True}, "train.lr must be in (0, 10], got 20.0"),
    (("t", 1.0, 0, 1e-3), {}, "t must be in [0, 0.001], got 1.0"),
    (("t", 1.0, 0, 0.1234567891), {}, "t must be in [0, 0.1234567891], got 1.0"),
    (("train.patience", -1, 0), {"note": "0 disables early stopping"},
     "train.patience must be >= 0 (0 disables early stopping), got -1"),
    (("train.lr_end", -1.0, 0, 10), {"allow_none": True},
     "train.lr_end must be none or in [0, 10], got -1.0"),
    (("x", None, 0), {}, "x must be a number >= 0, got None"),
    (("x", math.nan, 0), {}, "x must be a finite number >= 0, got nan"),
    (("x", math.nan, 0, 1), {}, "x must be a finite number in [0, 1], got nan"),
    (("x", math.inf, 0), {}, "x must be a finite number >= 0, got inf"),
    (("x", -math.inf, None, 0), {}, "x must be a finite number <= 0, got -inf"),
    (("x", math.nan), {}, "x must be a finite number, got nan"),
    (("x", True, 0), {}, "x must be a number >= 0, got True"),
    (("x", "3", 0), {}, "x must be a number >= 0, got '3'"),
])
def test_check_range_names_the_key_the_range_and_the_value(args, kwargs, message):
    assert refused(check_range, *args, **kwargs) == message


@pytest.mark.parametrize("args, kwargs", [
    (("x", 0, 0), {}), (("x", 1e-9, 0), {"lo_open": True}), (("x", 16, 1, 16), {}),
    (("x", 1, 1, 16), {}), (("x", 0.999, 0, 1), {"hi_open": True}), (("x", -5, None, 0), {}),
    (("x", None, 1), {"allow_none": True}), (("x", 2.5), {}), (("x", np.float64(0.5), 0, 1), {}),
    (("x", np.int64(3), 1), {}),
])
def test_check_range_passes_values_in_range(args, kwargs):
    check_range(*args, **kwargs)


def test_check_choice():
    check_choice("model.loss", "mse", ("mse", "neg-stoi"))
    assert refused(check_choice, "model.loss", "x", ("mse", "neg-stoi")) == \
        "model.loss must be one of mse, neg-stoi, got 'x'"
    assert refused(check_choice, "model.loss", "MSE", ["mse"]) == "model.loss must be one of mse, got 'MSE'"


def test_check_each_names_the_whole_sequence():
    check_each("eval.depths", (1, 5), 1)
    check_each("eval.depths", (), 1)
    assert refused(check_each, "eval.depths", (0, 5), 1) == "eval.depths must hold values >= 1, got [0, 5]"
    assert refused(check_each, "g", [4, math.nan], 1) == "g must hold values >= 1, got [4, nan]"
    assert refused(check_each, "g", [0.5, True], 0, 1) == "g must hold values in [0, 1], got [0.5, True]"
    assert refused(check_each, "g", [], 1, nonempty=True) == "g must hold one or more values >= 1, got []"
    assert refused(check_each, "data.snrs", (), nonempty=True, note="SNRs in dB") == \
        "data.snrs must hold one or more values (SNRs in dB), got []"
    check_each("data.snrs", (-6.0, 0.0), nonempty=True)
    assert refused(check_each, "g", "15", 1) == "g must hold values >= 1, got '15'"
    assert refused(check_each, "g", 15, 1) == "g must hold values >= 1, got 15"


def test_check_each_choice():
    check_each_choice("eval.baselines", ("GLA", "ADMM"), ("GLA", "FGLA", "ADMM"))
    check_each_choice("eval.baselines", (), ("GLA",))
    assert refused(check_each_choice, "eval.baselines", ("GLA", "X"), ("GLA", "ADMM")) == \
        "eval.baselines must hold values among GLA, ADMM, got ['GLA', 'X']"
    assert refused(check_each_choice, "b", (), ("GLA",), nonempty=True) == \
        "b must hold one or more values among GLA, got []"


def test_helpers_are_exported_from_unfold():
    assert unfold.check_range is check_range and unfold.check_choice is check_choice
    assert unfold.check_each is check_each and unfold.check_each_choice is check_each_choice
    assert unfold.ConfigError is ConfigError
    names = {"check_range", "check_choice", "check_each", "check_each_choice", "ConfigError"}
    assert names <= set(unfold.__all__)


@pytest.mark.parametrize("key, value, message", [
    ("epochs", -1, "train.epochs must be >= 0, got -1"),
    ("batch_size", 0, "train.batch_size must be >= 1, got 0"),
    ("lr", 0.0, "train.lr must be in (0, 10], got 0.0"),
    ("lr_end", 11.0, "train.lr_end must be none or in [0, 10], got 11.0"),
    ("weight_decay", -0.1, "train.weight_decay must be >= 0, got -0.1"),
    ("clip", -1.0, "train.clip must be >= 0 (0 disables clipping), got -1.0"),
    ("max_batches", -1, "train.max_batches must be >= 0 (0 = every batch), got -1"),
    ("optimizer", "rmsprop", "train.optimizer must be one of adam, adamw, sgd, got 'rmsprop'"),
])
def test_train_config_messages_name_one_key(key, value, message):
    cfg = TrainConfig(**{key: value})
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        cfg.validate()
