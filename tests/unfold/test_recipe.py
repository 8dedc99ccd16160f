import pytest

from unfold.recipe import ConfigError, from_dict, to_dict


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
    ("train.optimizer=lbfgs", "adam, adamw or sgd"),
    ("model=3", "is a section"),
    ("novalue", "key=value"),
])
def test_bad_values_are_named(tutorial, item, expected):
    with pytest.raises(ConfigError, match=expected):
        tutorial.lista.resolve(overrides=[item])


def test_config_round_trip(tutorial):
    cfg = tutorial.lista.resolve(quick=True, overrides=["model.lam=0.2"])
    assert from_dict(tutorial.lista, to_dict(cfg)) == cfg
