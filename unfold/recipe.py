"""Recipes: a Task plus a typed config, with a quick variant and ``a.b=c`` overrides.

A config is a tree of dataclasses whose leaves are bool, int, float, str, None-able versions of
those, or tuples of them. ``resolve`` applies the quick overrides, then the user's ``--set``
overrides, and validates everything before any data load: an unknown key lists the valid keys,
a wrong type names the expected one.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from unfold.task import Task


class ConfigError(ValueError):
    """A config key or value that is not allowed; the message says what is."""


@dataclass
class TrainConfig:
    """Optimisation settings shared by every recipe."""

    epochs: int = 20
    batch_size: int = 10
    lr: float = 1e-3
    lr_end: float | None = None  # linear decay from lr to lr_end over the epochs; None: constant
    optimizer: str = "adam"  # adam | adamw | sgd
    weight_decay: float = 0.0
    clip: float = 0.0  # max gradient norm; 0 disables clipping
    patience: int = 0  # early stopping on validation loss; 0 disables
    max_batches: int = 0  # cap on batches per epoch; 0 = all
    # torch.compile of the per-layer step: false | true | an inductor mode | aot_eager | eager
    compile: bool | str = False

    def validate(self) -> None:
        if self.epochs < 0:
            raise ConfigError(f"train.epochs must be >= 0, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"train.batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ConfigError(f"train.lr must be > 0, got {self.lr}")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise ConfigError(f"train.optimizer must be adam, adamw or sgd, got {self.optimizer!r}")
        from unfold.compiled import CompileSpec

        try:
            CompileSpec.parse(self.compile)
        except ValueError as e:
            raise ConfigError(f"train.compile: {e}") from None


@dataclass
class Recipe:
    """A named, runnable experiment of a plugin."""

    name: str
    task: Callable[[], Task]
    config: Callable[[], Any]  # factory of the full-size config dataclass
    quick: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    tyings: tuple[str, ...] = ("tied", "untied")
    #: declared sweep axes (config key, ``tying`` or ``seed`` -> values); set, the recipe is a
    #: sweep recipe: ``unfold run`` sweeps them, ``--sweep key=...`` replaces or adds an axis
    sweep: dict[str, list[Any]] | None = None

    def resolve(self, quick: bool = False, overrides: list[str] | None = None) -> Any:
        cfg = self.config()
        if quick:
            for key, value in self.quick.items():
                set_key(cfg, key, value)
        for item in overrides or []:
            key, sep, text = item.partition("=")
            if not sep or not key:
                raise ConfigError(f"--set expects key=value, got {item!r}")
            set_key(cfg, key.strip(), parse_value(cfg, key.strip(), text))
        validate(cfg)
        return cfg


def _leaf_keys(cfg: Any, prefix: str = "") -> list[str]:
    keys = []
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v):
            keys += _leaf_keys(v, prefix + f.name + ".")
        else:
            keys.append(prefix + f.name)
    return keys


def _locate(cfg: Any, key: str) -> tuple[Any, dataclasses.Field]:
    node, parts = cfg, key.split(".")
    for i, part in enumerate(parts):
        fields = {f.name: f for f in dataclasses.fields(node)}
        if part not in fields:
            raise ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(_leaf_keys(cfg))}")
        if i == len(parts) - 1:
            if dataclasses.is_dataclass(getattr(node, part)):
                raise ConfigError(f"{key!r} is a section; set one of its keys, e.g. {key}.<name>")
            return node, fields[part]
        node = getattr(node, part)
    raise AssertionError("unreachable")


def _hint(node: Any, f: dataclasses.Field) -> Any:
    return typing.get_type_hints(type(node))[f.name]


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ConfigError as e:
                errors.append(e)
        raise ConfigError(f"{key} expects {_type_name(tp)}, got {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} expects a list ({_type_name(tp)}), got {value!r}")
        item = args[0] if args else Any
        return tuple(_coerce(v, item, key) for v in value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"{key} expects {_type_name(tp)}, got {value!r}")


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_value(cfg: Any, key: str, text: str) -> Any:
    """Parse the text of ``--set key=text`` as JSON where it can be, else as a bare string."""
    node, f = _locate(cfg, key)
    tp = _hint(node, f)
    text = text.strip()
    if text in ("none", "None", "null"):
        return None
    value = _json_or_text(text)
    if isinstance(value, str) and "," in value:  # a,b,c: a list, each item parsed alone
        value = [_json_or_text(piece.strip()) for piece in text.split(",")]
    if typing.get_origin(tp) in (tuple, list) and not isinstance(value, list):
        value = [value]  # a single item of a list-valued key: --set eval.baselines=ADMM
    if tp is str or (typing.get_args(tp) and str in typing.get_args(tp)):
        if not isinstance(value, str) and not isinstance(value, list):
            value = text
    return value


def set_key(cfg: Any, key: str, value: Any) -> None:
    node, f = _locate(cfg, key)
    setattr(node, f.name, _coerce(value, _hint(node, f), key))


def validate(cfg: Any, prefix: str = "") -> None:
    """Type-check every leaf and call each section's own ``validate()`` if it has one."""
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v):
            validate(v, prefix + f.name + ".")
        else:
            _coerce(v, _hint(cfg, f), prefix + f.name)
    check = getattr(cfg, "validate", None)
    if callable(check):
        check()


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def from_dict(recipe: Recipe, data: Mapping[str, Any]) -> Any:
    """Rebuild a recipe's config from ``to_dict`` output (e.g. a checkpoint or config.json)."""
    cfg = recipe.config()

    def walk(prefix: str, d: Mapping[str, Any]) -> None:
        for k, v in d.items():
            key = prefix + k
            if isinstance(v, Mapping):
                walk(key + ".", v)
            else:
                set_key(cfg, key, v)

    walk("", data)
    validate(cfg)
    return cfg
