"""Recipes: a Task plus a typed config, with a quick variant and ``a.b=c`` overrides.

A config is a tree of dataclasses whose leaves are bool, int, float, str, None-able versions of
those, or tuples of them. ``resolve`` applies the quick overrides, then the user's ``--set``
overrides, and validates everything before any data load: an unknown key lists the valid keys,
a wrong type names the expected one, a float must be finite (``1e400`` parses as inf and is
refused) and an int must fit in 64 bits; each section's ``validate()`` checks its ranges.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import json
import math
import re
import tokenize
import types
import typing
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unfold.errors import ConfigError
from unfold.task import Task

__all__ = ["ConfigError", "Recipe", "TrainConfig", "from_dict", "parse_value", "set_key",
           "to_dict", "validate"]

INT_LIMIT = 2**63  # ints of a config fit in a signed 64-bit integer (torch, numpy seeds)


MAX_LR = 10.0  # a learning rate above this diverges for every model here; almost surely a typo


@dataclass
class TrainConfig:
    """Optimisation settings shared by every recipe."""

    epochs: int = 20  # passes over the training split
    batch_size: int = 10  # problems per batch (training and evaluation)
    lr: float = 1e-3  # learning rate
    lr_end: float | None = None  # linear decay from lr to lr_end over the epochs; None: constant
    optimizer: str = "adam"  # adam | adamw | sgd
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw); >= 0
    clip: float = 0.0  # max gradient norm; 0 disables clipping
    patience: int = 0  # early stopping on validation loss; 0 disables
    max_batches: int = 0  # cap on batches per epoch; 0 = all
    # torch.compile of the per-layer step: false | true | an inductor mode | aot_eager | eager
    compile: bool | str = False
    # gradient strategy set on every trained model: full | truncated[:b] | checkpointed[:segment]
    backprop: str = "full"

    def validate(self) -> None:
        if self.epochs < 0:
            raise ConfigError(f"train.epochs must be >= 0, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"train.batch_size must be >= 1, got {self.batch_size}")
        if not 0 < self.lr <= MAX_LR:
            raise ConfigError(f"train.lr must be in (0, {MAX_LR:g}], got {self.lr}")
        if self.lr_end is not None and not 0 <= self.lr_end <= MAX_LR:
            raise ConfigError(f"train.lr_end must be none or in [0, {MAX_LR:g}], got {self.lr_end}")
        for key in ("weight_decay", "clip"):
            if getattr(self, key) < 0:
                raise ConfigError(f"train.{key} must be >= 0, got {getattr(self, key)}")
        if self.patience < 0:
            raise ConfigError(f"train.patience must be >= 0 (0 disables early stopping), "
                              f"got {self.patience}")
        if self.max_batches < 0:
            raise ConfigError(f"train.max_batches must be >= 0 (0 = every batch), "
                              f"got {self.max_batches}")
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise ConfigError(f"train.optimizer must be adam, adamw or sgd, got {self.optimizer!r}")
        from unfold.backprop import parse_backprop

        try:
            parse_backprop(self.backprop)
        except ValueError as e:
            raise ConfigError(f"train.backprop: {e}") from None
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


def _leaf_keys(cfg: Any) -> list[str]:
    return [key for key, _ in _leaves(cfg)]


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
        if len(errors) == 1:  # X | None: X's own reason (e.g. "must be a finite number")
            raise errors[0]
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
            if not -INT_LIMIT <= value < INT_LIMIT:
                raise ConfigError(f"{key} must fit in 64 bits (|value| < 2**63), got {value}")
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if not math.isfinite(number):
                raise ConfigError(f"{key} must be a finite number, got {value!r}")
            return number
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


def _is_root_key(key: str) -> bool:
    last = key.rsplit(".", 1)[-1]
    return last == "root" or last.endswith("_root")


def check_paths(cfg: Any) -> None:
    """Every set ``*.root`` / ``*_root`` key names an existing folder (data locations).

    Run before a run directory is made, so a mistyped ``data.root`` leaves nothing behind.
    """
    for key, value in _leaves(cfg):
        if _is_root_key(key) and isinstance(value, str):
            folder = Path(value).expanduser()
            if not folder.is_dir():
                what = "is not a folder" if folder.exists() else "does not exist"
                raise ConfigError(f"{key}: {value} {what}; give the folder holding the data, "
                                  "or none for the default corpus")


def _leaves(cfg: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v):
            out += _leaves(v, prefix + f.name + ".")
        else:
            out.append((prefix + f.name, v))
    return out


@dataclass(frozen=True)
class ConfigEntry:
    """One leaf of a resolved config, as ``unfold show`` prints it."""

    key: str  # dotted, e.g. "train.lr"
    value: Any  # as the run would use it (quick variant and --set applied)
    type: str  # e.g. "int", "float | None", "tuple[int, ...]"
    default: Any  # the recipe's full-size value
    help: str  # one line: field metadata "help", else the field's comment in the source


def type_text(tp: Any) -> str:
    """A readable annotation: ``int``, ``str | None``, ``tuple[int, ...]``."""
    if typing.get_origin(tp) is None and isinstance(tp, type):
        return tp.__name__
    return re.sub(r"\btyping\.|\bNoneType\b", lambda m: "None" if "None" in m[0] else "", str(tp))


def field_help(cls: type) -> dict[str, str]:
    """One-line help per field of a config dataclass.

    ``field(metadata={"help": ...})`` wins; otherwise the comment on the field's line, or the
    comment lines directly above it, in the class's source.
    """
    out: dict[str, str] = {}
    names = {f.name for f in dataclasses.fields(cls)}
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        source = ""
    comments: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        comments = {}
    lines = source.splitlines()
    for i, line in enumerate(lines, 1):
        m = re.match(r"\s+(\w+)\s*:(?!=)", line)
        if not m or m[1] not in names or m[1] in out:
            continue
        if i in comments and not line.lstrip().startswith("#"):
            out[m[1]] = comments[i]
            continue
        above: list[str] = []
        j = i - 1
        while j >= 1 and lines[j - 1].lstrip().startswith("#"):
            above.insert(0, comments.get(j, ""))
            j -= 1
        if above:
            out[m[1]] = " ".join(above)
    for f in dataclasses.fields(cls):
        if "help" in f.metadata:
            out[f.name] = str(f.metadata["help"])
    return out


def describe(recipe: Recipe, cfg: Any) -> list[ConfigEntry]:
    """Every leaf of ``cfg`` with its value, type, the recipe's default and one line of help."""
    default = recipe.config()
    entries = []

    def walk(node: Any, base: Any, prefix: str) -> None:
        hints = typing.get_type_hints(type(node))
        helps = field_help(type(node))
        for f in dataclasses.fields(node):
            v = getattr(node, f.name)
            if dataclasses.is_dataclass(v):
                walk(v, getattr(base, f.name), prefix + f.name + ".")
            else:
                entries.append(ConfigEntry(prefix + f.name, v, type_text(hints[f.name]),
                                           getattr(base, f.name), helps.get(f.name, "")))

    walk(cfg, default, "")
    return entries


#: keys that moved into the core; ``from_dict`` reads configs saved before the move
MOVED_KEYS = {"model.backprop": "train.backprop"}


def from_dict(recipe: Recipe, data: Mapping[str, Any]) -> Any:
    """Rebuild a recipe's config from ``to_dict`` output (e.g. a checkpoint or config.json)."""
    cfg = recipe.config()

    known = set(_leaf_keys(cfg))

    def walk(prefix: str, d: Mapping[str, Any]) -> None:
        for k, v in d.items():
            key = prefix + k
            if isinstance(v, Mapping):
                walk(key + ".", v)
            elif key not in known and MOVED_KEYS.get(key) in known:
                warnings.warn(f"config key {key} is now {MOVED_KEYS[key]}; read it as that",
                              DeprecationWarning, stacklevel=3)
                set_key(cfg, MOVED_KEYS[key], v)
            else:
                set_key(cfg, key, v)

    walk("", data)
    validate(cfg)
    return cfg
