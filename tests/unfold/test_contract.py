"""unfold.testing's contract tests over every registered plugin (and the tutorial's LISTA)."""

from __future__ import annotations

import pytest

from unfold import testing
from unfold.plugin import Registry
from unfold.testing import contract_tests

REGISTRY = Registry()


def test_registered_plugins_all_load():
    broken = [f"{s.name}: {s.error}" for s in REGISTRY.status() if not s.ok]
    assert not broken


for _plugin in REGISTRY.plugins():  # one class per plugin, as a plugin's own tests would do
    globals()[f"TestContract_{_plugin.name.replace('-', '_')}"] = contract_tests(_plugin)


@pytest.mark.parametrize("check", testing.UNROLLER_CHECKS, ids=lambda c: c.__name__)
def test_tutorial_lista_meets_the_contract(tutorial, check):
    check(tutorial.LISTA)


def test_tutorial_recipe_round_trips_and_runs(tutorial, tmp_path):
    testing.check_config_round_trip(tutorial.lista)
    run = testing.check_smoke_run(tutorial.plugin, tutorial.lista,
                                  ["data.n_train=40", "data.n_valid=10", "data.n_test=10",
                                   "train.epochs=1", "model.n_layers=2"], tmp_path)
    assert (run / "results.json").is_file()
