"""Recipes: a Task plus a typed config, with a quick variant and ``a.b=c`` overrides.

A config is a tree of dataclasses whose leaves are bool, int, float, str, None-able versions of
those, or tuples of them. ``resolve`` applies the quick overrides, then the user's ``--set``
overrides, and validates everything before any data load: an unknown key lists the valid keys,
a wrong type names the expected one, a float must be finite (``1e400`` parses as inf and is
refused) and an int must fit in 64 bits; each section's ``validate()`` checks its ranges, with
:func:`check_range`, :func:`check_choice`, :func:`check_each` and :func:`check_each_choice`, each
raising a :class:`ConfigError` of one line naming one key, what it allows and the value given.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import json
import math
import numbers
import re
import tokenize
import types
import typing
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unfold.errors import ConfigError
from unfold.task import Task

__all__ = ["ConfigError", "Recipe", "TrainConfig", "check_choice", "check_each", "check_each_choice",
           "check_range", "from_dict", "parse_value", "set_key", "to_dict", "validate"]

INT_LIMIT = 2**63  # ints of a config fit in a signed 64-bit integer (torch, numpy seeds)


MAX_LR = 10.0  # a learning rate above this diverges for every model here; almost surely a typo
OPTIMIZERS = ("adam", "adamw", "sgd")  # train.optimizer (unfold.train.make_optimizer)


def _number_text(x: Any) -> str:
    """A bound as written in a message: ``10`` for 10.0, ``0.001``, ``1e-08``, full precision."""
    if isinstance(x, float) and math.isfinite(x) and float(f"{x:g}") == x:
        return f"{x:g}"
    return str(x)


def _bounds_text(lo: Any, hi: Any, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{_number_text(lo)}, {_number_text(hi)}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {_number_text(lo)}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {_number_text(hi)}"
    return ""


def _is_finite_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _in_range(x: Any, lo: Any, hi: Any, lo_open: bool, hi_open: bool) -> bool:
    if not _is_finite_number(x):
        return False
    if lo is not None and not (x > lo if lo_open else x >= lo):
        return False
    return hi is None or bool(x < hi if hi_open else x <= hi)


def check_range(key: str, value: Any, lo: Any = None, hi: Any = None, *, lo_open: bool = False,
                hi_open: bool = False, allow_none: bool = False, note: str = "") -> None:
    """Refuse ``value`` of config key ``key`` unless it is a finite number within the bounds.

    ``lo`` / ``hi`` (None: unbounded) are included unless ``lo_open`` / ``hi_open``; NaN, ±inf
    and bools are refused; ``allow_none`` lets None through; ``note`` is added in parentheses.
    The one-line :class:`ConfigError` names the key, the range and the value::

        check_range("model.rho", -1.0, 0, lo_open=True)  # model.rho must be > 0, got -1.0
        check_range("data.bits", 17, 1, 16)              # data.bits must be in [1, 16], got 17
        check_range("train.lr_end", -1.0, 0, 10, allow_none=True)
        # train.lr_end must be none or in [0, 10], got -1.0
    """
    if (allow_none and value is None) or _in_range(value, lo, hi, lo_open, hi_open):
        return
    allowed = _bounds_text(lo, hi, lo_open, hi_open)
    shown = value
    if isinstance(value, float) and not math.isfinite(value):  # nan, inf: not "in range"
        allowed = f"a finite number {allowed}".rstrip()
    elif not _is_finite_number(value):  # a bool, a string, None
        allowed, shown = f"a number {allowed}".rstrip(), repr(value)
    raise ConfigError(f"{key} must be {'none or ' if allow_none else ''}{allowed}"
                      f"{f' ({note})' if note else ''}, got {shown}")


def check_choice(key: str, value: Any, allowed: Iterable[Any]) -> None:
    """Refuse ``value`` of ``key`` unless it is one of ``allowed``::

        check_choice("model.loss", "x", ("mse", "neg-stoi"))
        # model.loss must be one of mse, neg-stoi, got 'x'
    """
    options = tuple(allowed)
    if value not in options:
        raise ConfigError(f"{key} must be one of {', '.join(map(str, options))}, got {value!r}")


def _sequence(key: str, values: Any, what: str) -> list[Any]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ConfigError(f"{key} must hold {what}, got {values!r}")
    return list(values)


def check_each(key: str, values: Any, lo: Any = None, hi: Any = None, *, lo_open: bool = False,
               hi_open: bool = False, nonempty: bool = False, note: str = "") -> None:
    """Refuse the sequence ``values`` of ``key`` unless every item passes :func:`check_range`'s
    test with the same bounds (finite numbers, no bools); ``nonempty`` also refuses ``[]``::

        check_each("eval.depths", (0, 5), 1)  # eval.depths must hold values >= 1, got [0, 5]
    """
    bounds = _bounds_text(lo, hi, lo_open, hi_open)
    what = f"{'one or more ' if nonempty else ''}values {bounds}".rstrip()
    what += f" ({note})" if note else ""
    items = _sequence(key, values, what)
    if (nonempty and not items) or not all(_in_range(v, lo, hi, lo_open, hi_open) for v in items):
        raise ConfigError(f"{key} must hold {what}, got {items}")


def check_each_choice(key: str, values: Any, allowed: Iterable[Any], *, nonempty: bool = False) -> None:
    """Refuse the sequence ``values`` of ``key`` unless every item is one of ``allowed``::

        check_each_choice("eval.baselines", ("GLA", "X"), ("GLA", "ADMM"))
        # eval.baselines must hold values among GLA, ADMM, got ['GLA', 'X']
    """
    options = tuple(allowed)
    what = f"{'one or more ' if nonempty else ''}values among {', '.join(map(str, options))}"
    items = _sequence(key, values, what)
    if (nonempty and not items) or any(v not in options for v in items):
        raise ConfigError(f"{key} must hold {what}, got {items}")


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
        check_range("train.epochs", self.epochs, 0)
        check_range("train.batch_size", self.batch_size, 1)
        check_range("train.lr", self.lr, 0, MAX_LR, lo_open=True)
        check_range("train.lr_end", self.lr_end, 0, MAX_LR, allow_none=True)
        check_range("train.weight_decay", self.weight_decay, 0)
        check_range("train.clip", self.clip, 0, note="0 disables clipping")
        check_range("train.patience", self.patience, 0, note="0 disables early stopping")
        check_range("train.max_batches", self.max_batches, 0, note="0 = every batch")
        check_choice("train.optimizer", self.optimizer, OPTIMIZERS)
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
