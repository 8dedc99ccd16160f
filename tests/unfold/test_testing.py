"""unfold.testing: each contract check passes on a correct unroller and catches its bug."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import partial

import pytest
import torch

import unfold
from unfold import Param, Recipe, TrainConfig
from unfold import testing as contract


@dataclass
class Problem:
    y: torch.Tensor  # (batch, n)


class Shrink(unfold.Unroller):
    """x_{t+1} = x_t − a_t (x_t − y): a correct unroller, the base of the broken ones."""

    params = {"a": Param(0.3, "positive")}
    layers = 3

    def init(self, p):
        return torch.zeros_like(p.y)

    def step(self, x, θ, p):
        return x - θ.a * (x - p.y) * torch.tanh(x + p.y)

    @classmethod
    def example(cls, tying="tied"):
        g = torch.Generator().manual_seed(0)
        return cls(cls.layers, tying=tying), Problem(torch.randn(3, 5, generator=g))


class MixesTheBatch(Shrink):
    def step(self, x, θ, p):
        return super().step(x, θ, p) + 0.1 * x.mean(0)


class IgnoresItsParameters(Shrink):
    def step(self, x, θ, p):
        return 0.5 * (x + p.y)


class UntiedExampleIsDeeper(Shrink):
    @classmethod
    def example(cls, tying="tied"):
        model, problem = super().example(tying)
        return (cls(4, tying=tying) if tying == "untied" else model), problem


class CountsItsCalls(Shrink):
    """A step that depends on hidden mutable state: recomputation (checkpointing) differs."""

    calls = 0

    def step(self, x, θ, p):
        type(self).calls += 1
        return super().step(x, θ, p) * (1 + 0.1 * (type(self).calls % 2))


class WrongTying(Shrink):
    @classmethod
    def example(cls, tying="tied"):
        model, problem = super().example("tied")
        return model, problem


def test_a_correct_unroller_passes_every_check():
    for check in contract.UNROLLER_CHECKS:
        check(Shrink)


@pytest.mark.parametrize("cls, check, match", [
    (MixesTheBatch, contract.check_batch_consistency, "items of a batch interact"),
    (IgnoresItsParameters, contract.check_gradcheck, "no output of a layer depends"),
    (UntiedExampleIsDeeper, contract.check_tied_gradient, "tied gradient of a"),
    (CountsItsCalls, contract.check_backprop_equivalence, "gradient of a != the full one"),
    (WrongTying, partial(contract.check_example, tying="untied"), "example\\('untied'\\) built tied"),
])
def test_each_check_catches_its_bug(cls, check, match):
    with pytest.raises(AssertionError, match=match):
        check(cls)


@dataclass
class Section:
    sizes: tuple[int, ...] = field(default_factory=lambda: [1, 2])  # a list where a tuple belongs


@dataclass
class LeakyConfig:
    model: Section = field(default_factory=Section)
    train: TrainConfig = field(default_factory=TrainConfig)


def test_config_round_trip_catches_a_config_that_does_not_survive_saving():
    with pytest.raises(AssertionError, match="config round trip"):
        contract.check_config_round_trip(Recipe("leaky", task=object, config=LeakyConfig))


def test_contract_tests_is_a_collectable_class():
    plugin = unfold.Plugin("shrink", "0.1", "test", unrollers={"Shrink": Shrink})
    cls = contract.contract_tests(plugin)
    assert cls.__name__ == "TestContract"
    tests = [n for n in dir(cls) if n.startswith("test_")]
    assert {"test_example", "test_one_layer_gradcheck_float64", "test_batch_consistency",
            "test_tied_gradient_is_sum_of_untied", "test_backprop_strategies_agree",
            "test_config_round_trip"} == set(tests)
    marks = {m.args[0] for m in cls.test_batch_consistency.pytestmark}
    assert "cls" in marks
    plugin.recipes.append(Recipe("leaky", task=object, config=LeakyConfig))
    smoked = contract.contract_tests(plugin, smoke={"leaky": ["train.epochs=1"]})
    assert [m.args[1] for m in smoked.test_smoke_run.pytestmark] == [["leaky"]]


def test_to_double_and_leaves():
    p = contract.to_double(Problem(torch.zeros(2, dtype=torch.float32)))
    assert p.y.dtype == torch.float64
    assert len(contract.leaves((p, [torch.ones(1)], "x"))) == 2
    assert dataclasses.is_dataclass(p)
