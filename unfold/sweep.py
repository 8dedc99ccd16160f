"""Sweeps: a study as data. ``unfold run RECIPE --sweep key=v1,v2 [--sweep key2=...]``.

The points are the product of the axes. An axis is any config key (as for ``--set``), ``tying``
(one tying trained per point instead of the recipe's list) or ``seed``. Every point's config is
resolved and validated before anything is created; then each point runs as an ordinary run in
``RUN/points/<label>/`` (label ``train.lr=0.001,tying=tied``, made filesystem-safe) and the sweep
writes:

``sweep.json``::

    {"recipe", "plugin", "quick", "primary_metric", "higher_is_better",
     "axes": {key: [value, ...]},
     "points": [{"label", "dir": "points/<label>", "values": {key: value},
                 "methods": [... exactly the "methods" of that point's results.json ...],
                 "paired": [... that point's "paired", where results.json has them ...]}]}

``sweep.md``
    One row per combination of the non-seed axes, one column per method (``method_label``), the
    mean of the primary metric over the test items; with a ``seed`` axis each cell is the mean
    over seeds ± the spread (sample standard deviation over seeds; their number said above it).
    Then the paired differences of every point (trained − classical at the same iterations,
    over the same test items): per combination of the non-seed axes the mean difference (± its
    spread over seeds) next to each seed's 95 % item-level interval.
    Then the paired differences between points along each axis (``axis_paired`` in
    sweep.json): every trained method at a point against the same method (same label: name,
    tying, iterations) at the point that differs only by holding the axis's first value, over
    the same test items, with the paired t interval of :mod:`unfold.stats` — e.g. in a sweep of
    ``train.backprop=full,implicit:30``, implicit − full at each other axis value. Two points
    are paired only when a classical method's per-item values agree at both (so both saw the
    same test items); a data axis that changes the items gives no pairs.
``sweep.png`` (and ``sweep_<metric>.png`` for every other metric)
    The metric against the first non-seed axis, one line per method (and per value of the other
    non-seed axes), seeds averaged with the spread as error bars; below, training seconds.

Methods are matched across points by ``method_label`` (name, tying, iterations), with two
rules: a method whose iterations equal the value of a swept integer axis at every point (the
trained depth in a ``model.layers`` sweep) is one family across points, labelled with the axis
name in place of its iterations (``LISTA tied-model.n_layers``); and a parameter the task chose
per point and wrote at the end of the method's name (``SPARTA s=32``) is dropped from the key
(``SPARTA-300``); the full names stay in ``sweep.json``.

**Declared axes.** A recipe with ``Recipe.sweep`` set is a sweep recipe: ``unfold run`` of it
always sweeps those axes; ``--sweep key=...`` replaces the declared axis of that key or adds one.

**Resume.** ``--resume --out RUN`` of a sweep keeps its saved axes, skips every point that has a
``results.json``, resumes a point that has a ``config.json`` and starts the others.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unfold.plugin import Registry
from unfold.recipe import ConfigError, Recipe

SPECIAL = ("tying", "seed")
CONFIG_FILE = "sweep_config.json"


class SweepError(ConfigError):
    """A sweep axis or a sweep directory that cannot be used."""


@dataclass(frozen=True)
class Axis:
    """One swept key and the text of each of its values (as written after ``--sweep key=``)."""

    key: str
    texts: tuple[str, ...]


@dataclass(frozen=True)
class Point:
    """One run of the sweep: the value of every axis, and how it is passed to ``run_recipe``."""

    label: str
    values: dict[str, Any]  # axis key -> resolved value (JSON-ready)
    overrides: tuple[str, ...]  # --set items of the config axes
    seed: int
    tyings: tuple[str, ...] | None


def split_values(text: str) -> list[str]:
    """``a,b,[1,2],"x,y"`` -> ``["a", "b", "[1,2]", '"x,y"']``: commas outside brackets/quotes."""
    out, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[({":
            depth += 1
        elif ch in "])}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    out.append(cur.strip())
    return out


def parse_axis(item: str) -> Axis:
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or not text.strip():
        raise SweepError(f"--sweep expects key=v1,v2,..., got {item!r}")
    texts = tuple(split_values(text))
    if any(not t for t in texts):
        raise SweepError(f"--sweep {key}: empty value in {text!r}")
    if len(set(texts)) != len(texts):
        raise SweepError(f"--sweep {key}: a value is repeated in {text!r}")
    return Axis(key, texts)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def declared_axes(recipe: Recipe) -> list[Axis]:
    return [Axis(k, tuple(_text(v) for v in vs)) for k, vs in (recipe.sweep or {}).items()]


def combine_axes(recipe: Recipe, items: Sequence[str]) -> list[Axis]:
    """The recipe's declared axes, each replaced by a ``--sweep`` axis of the same key; new keys
    are appended in the order given."""
    axes = {a.key: a for a in declared_axes(recipe)}
    given: set[str] = set()
    for item in items:
        a = parse_axis(item)
        if a.key in given:
            raise SweepError(f"--sweep {a.key} given twice; give all its values in one --sweep")
        given.add(a.key)
        axes[a.key] = a
    return list(axes.values())


def safe_label(text: str) -> str:
    """A directory name: letters, digits and ``._=,+-`` kept, anything else becomes ``-``."""
    return re.sub(r"[^A-Za-z0-9._=,+-]", "-", text)[:200] or "point"


def _config_value(cfg: Any, key: str) -> Any:
    value = cfg
    for part in key.split("."):
        value = getattr(value, part)
    return list(value) if isinstance(value, tuple) else value


def plan(recipe: Recipe, axes: Sequence[Axis], quick: bool, overrides: Sequence[str],
         seed: int, tyings: Sequence[str] | None) -> list[Point]:
    """Every point of the product of ``axes``, each config resolved and validated (nothing runs)."""
    from unfold.unroller import Tying

    if not axes:
        raise SweepError("a sweep needs at least one axis: --sweep key=v1,v2,...")
    if tyings and any(a.key == "tying" for a in axes):
        raise SweepError("tying is swept; drop --tying (or drop the tying axis)")
    points, labels = [], set()
    for combo in itertools.product(*(a.texts for a in axes)):
        values: dict[str, Any] = {}
        sets, point_seed, point_tyings = [], seed, tuple(tyings) if tyings else None
        for axis, text in zip(axes, combo):
            if axis.key == "seed":
                try:
                    point_seed = int(text)
                except ValueError:
                    raise SweepError(f"--sweep seed expects integers, got {text!r}") from None
                values["seed"] = point_seed
            elif axis.key == "tying":
                try:
                    Tying.parse(text)
                except ValueError as e:
                    raise SweepError(f"--sweep tying: {e}") from None
                point_tyings, values["tying"] = (text,), text
            else:
                sets.append(f"{axis.key}={text}")
        try:
            cfg = recipe.resolve(quick=quick, overrides=[*overrides, *sets])
        except ConfigError as e:
            raise SweepError(f"--sweep point {','.join(sets)}: {e}") from None
        values = {a.key: values[a.key] if a.key in SPECIAL else _config_value(cfg, a.key)
                  for a in axes}  # in the axes' order
        label = safe_label(",".join(f"{a.key}={t}" for a, t in zip(axes, combo)))
        if label in labels:
            raise SweepError(f"two sweep points share the directory name {label!r}; "
                             "use values that differ in letters or digits")
        labels.add(label)
        points.append(Point(label, values, tuple(sets), point_seed, point_tyings))
    return points


def is_sweep(registry: Registry, name: str, items: Sequence[str] | None, out: Path | None,
             resume: bool) -> bool:
    """Whether ``unfold run`` of ``name`` is a sweep: --sweep given, a sweep recipe, or the
    resumed directory is a sweep."""
    if items:
        return True
    if resume and out is not None and (Path(out) / CONFIG_FILE).is_file():
        return True
    if resume:
        return False
    return bool(registry.recipe(name)[1].sweep)


def run_sweep(registry: Registry, name: str, items: Sequence[str] = (), quick: bool = False,
              overrides: Sequence[str] = (), out: Path | None = None, device: str = "auto",
              seed: int | None = None, resume: bool = False, progress: bool = True,
              tyings: Sequence[str] | None = None, dry_run: bool = False) -> Path:
    """Run every point of the sweep of recipe ``name``; returns the sweep directory. ``seed``:
    0 for a new sweep unless given (a ``seed`` axis overrides it), the saved one on resume.
    ``dry_run``: check the output directory and every point as ``unfold run --dry-run`` checks
    one run (config, data folders, each tying's model), then stop; writes nothing."""
    from unfold import distributed
    from unfold.results import write_json
    from unfold.run import run_recipe
    from unfold.rundir import check_run_dir, prepare_run_dir

    plugin, recipe = registry.recipe(name)
    if distributed.requested():
        raise SweepError("a sweep runs its points one after another in one process; "
                         "start torchrun for each point's ordinary run instead")
    if resume:
        if items or overrides:
            raise SweepError("--resume continues a sweep with its saved axes; drop --sweep and --set")
        if out is None or not (Path(out) / CONFIG_FILE).is_file():
            raise SweepError(f"cannot resume: {out} holds no sweep (no {CONFIG_FILE}); "
                             "--resume needs --out DIR naming the sweep to continue")
        run_dir = Path(out)
        saved = json.loads((run_dir / CONFIG_FILE).read_text())
        if saved["recipe"] != name:
            raise SweepError(f"cannot resume: {run_dir} is a sweep of recipe {saved['recipe']!r}, "
                             f"not {name!r}")
        quick, overrides, seed = saved["quick"], saved["overrides"], saved["seed"]
        tyings = saved["tyings"]
        axes = [Axis(k, tuple(v)) for k, v in saved["axes"]]
        points = plan(recipe, axes, quick, overrides, seed, tyings)
        if dry_run:  # every point's config resolves; the saved run is left as it is
            return run_dir
    else:
        seed = 0 if seed is None else seed
        axes = combine_axes(recipe, list(items))
        points = plan(recipe, axes, quick, overrides, seed, tyings)  # before anything is created
        run_dir = check_run_dir(out, name + ("-quick" if quick else "") + "-sweep", False)
        for p in points:  # every point's models build, so no point fails after others ran
            try:
                run_recipe(registry, name, quick, list(overrides) + list(p.overrides),
                           run_dir / "points" / p.label, device, p.seed, False, progress,
                           p.tyings, dry_run=True)
            except ConfigError as e:
                raise SweepError(f"--sweep point {','.join(p.overrides)}: {e}") from None
        if dry_run:
            return run_dir
        run_dir = prepare_run_dir(run_dir, name + ("-quick" if quick else "") + "-sweep", resume=False)
        write_json(run_dir / CONFIG_FILE, {
            "recipe": name, "plugin": plugin.name, "quick": quick, "overrides": list(overrides),
            "seed": seed, "tyings": list(tyings) if tyings else None,
            "axes": [[a.key, list(a.texts)] for a in axes]})
    entries = []
    primary, higher = None, None
    for p in points:
        point_dir = run_dir / "points" / p.label
        if not (point_dir / "results.json").is_file():
            again = (point_dir / "config.json").is_file()
            run_recipe(registry, name, quick, None if again else list(overrides) + list(p.overrides),
                       point_dir, device, p.seed, again, progress, p.tyings)
        results = json.loads((point_dir / "results.json").read_text())
        primary = primary or results.get("primary_metric")
        higher = results.get("higher_is_better", True) if higher is None else higher
        entries.append({"label": p.label, "dir": f"points/{p.label}", "values": p.values,
                        "methods": results["methods"]})
        if "paired" in results:
            entries[-1]["paired"] = results["paired"]
    sweep = {"recipe": name, "plugin": plugin.name, "quick": quick,
             "primary_metric": primary or recipe.task().primary_metric,
             "higher_is_better": True if higher is None else higher,
             "axes": {a.key: axis_values(entries, axes, i) for i, a in enumerate(axes)},
             "points": entries}
    sweep["axis_paired"] = [d.to_json() for d in axis_paired(run_dir, sweep)]
    write_json(run_dir / "sweep.json", sweep)
    write_outputs(run_dir, sweep)
    return run_dir


@dataclass(frozen=True)
class AxisPaired:
    """A trained method at one point minus the same method at the point holding ``axis`` at its
    first value (``reference``), every other axis equal (``at``), over the same test items."""

    axis: str
    value: Any
    reference: Any
    at: dict[str, Any]
    method: str  # method_label: name, tying, iterations
    metric: str
    mean_diff: float
    ci95: tuple[float, float] | None
    better: int
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"axis": self.axis, "value": self.value, "reference": self.reference,
                "at": self.at, "method": self.method, "metric": self.metric,
                "mean_diff": self.mean_diff, "ci95": list(self.ci95) if self.ci95 else None,
                "better": self.better, "n": self.n}


def _same_items(a: Mapping[str, Mapping[str, Sequence[float]]],
                b: Mapping[str, Mapping[str, Sequence[float]]], untrained: set[str],
                metric: str) -> bool:
    """Some classical method has the same per-item values at both points (to float32 noise)."""
    import numpy as np

    for label in untrained:
        x, y = a.get(label, {}).get(metric), b.get(label, {}).get(metric)
        if x is not None and y is not None and len(x) == len(y) and np.allclose(
                x, y, rtol=1e-5, atol=1e-8, equal_nan=True):
            return True
    return False


def _other_values(point: Mapping[str, Any], axis: str) -> tuple[tuple[str, str], ...]:
    """The point's values on every axis but ``axis``, comparable (JSON text)."""
    return tuple((k, json.dumps(v)) for k, v in point["values"].items() if k != axis)


def axis_paired(run_dir: Path, sweep: Mapping[str, Any]) -> list[AxisPaired]:
    """The paired differences between points along each axis (see the module docstring)."""
    from unfold.results import method_label
    from unfold.stats import paired_t

    metric, higher = sweep["primary_metric"], sweep.get("higher_is_better", True)
    points = sweep["points"]
    per_item = {}
    for p in points:
        path = run_dir / p["dir"] / "per_item.json"
        per_item[p["label"]] = json.loads(path.read_text()) if path.is_file() else {}
    out = []
    for axis, values in sweep["axes"].items():
        if axis == "seed" or len(values) < 2:
            continue
        first = json.dumps(values[0])
        ref_of = {_other_values(p, axis): p for p in points
                  if json.dumps(p["values"][axis]) == first}
        for p in points:
            ref = ref_of.get(_other_values(p, axis))
            if ref is None or ref is p:  # no reference point, or p is one
                continue
            a, b = per_item[p["label"]], per_item[ref["label"]]
            untrained = {method_label(r) for r in p["methods"] if not r["trained"]}
            if not _same_items(a, b, untrained, metric):
                continue
            for r in p["methods"]:
                label = method_label(r)
                if not r["trained"] or metric not in a.get(label, {}) \
                        or metric not in b.get(label, {}) or len(a[label][metric]) != len(
                        b[label][metric]):
                    continue
                s = paired_t(a[label][metric], b[label][metric], higher)
                out.append(AxisPaired(axis, p["values"][axis], values[0],
                                      {k: v for k, v in p["values"].items() if k != axis},
                                      label, metric, s.mean_diff, s.ci95, s.better, s.n))
    return out


def axis_paired_table(sweep: Mapping[str, Any]) -> str:
    rows = sweep.get("axis_paired") or []
    if not rows:
        return ""
    head = ["axis", "point − reference", "at", "method", "metric", "mean difference",
            "95 % interval", "better / n"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for d in rows:
        at = ", ".join(f"{k}={v}" for k, v in d["at"].items()) or "-"
        ci = f"[{d['ci95'][0]:.3g}, {d['ci95'][1]:.3g}]" if d.get("ci95") else "-"
        lines.append(f"| {d['axis']} | {d['value']} − {d['reference']} | {at} | {d['method']} | "
                     f"{d['metric']} | {d['mean_diff']:+.3g} | {ci} | {d['better']}/{d['n']} |")
    return "\n".join(lines)


def axis_values(entries: Sequence[Mapping[str, Any]], axes: Sequence[Axis], i: int) -> list[Any]:
    """The resolved values of axis ``i``, read off the points in the product's order (value j
    of axis i is first met at point j · stride, stride = the product of the later axes' sizes)."""
    stride = math.prod(len(a.texts) for a in axes[i + 1:])
    return [entries[j * stride]["values"][axes[i].key] for j in range(len(axes[i].texts))]


# -- tables and figures from sweep.json ------------------------------------------------------------

PARAMETER = re.compile(r"( [A-Za-z_][A-Za-z0-9_]*=[-+.A-Za-z0-9_]+)+$")


def base_name(name: str) -> str:
    """A method's name without trailing ``key=value`` parameters: ``SPARTA s=32`` -> ``SPARTA``."""
    return PARAMETER.sub("", name) or name


def method_keys(sweep: Mapping[str, Any]) -> list[list[str]]:
    """For each point, the key of each of its methods: ``method_label``, with the iterations
    replaced by an integer axis's name where they follow that axis at every point."""
    from unfold.results import method_label

    int_axes = [k for k, vs in sweep["axes"].items()
                if len(vs) > 1 and all(isinstance(v, int) and not isinstance(v, bool) for v in vs)]
    points = sweep["points"]

    def family(r: Mapping[str, Any]) -> tuple[str, Any]:
        return base_name(r["name"]), r["tying"]

    follows: dict[tuple[str, Any], str] = {}
    for fam in {family(r) for p in points for r in p["methods"]}:
        for axis in int_axes:
            if all(p["values"][axis] in {r["iterations"] for r in p["methods"] if family(r) == fam}
                   for p in points if any(family(r) == fam for r in p["methods"])):
                follows[fam] = axis
                break
    keys = []
    for p in points:
        row = []
        for r in p["methods"]:
            axis = follows.get(family(r))
            iterations = axis if axis is not None and r["iterations"] == p["values"][axis] \
                else r["iterations"]
            row.append(method_label({**r, "name": base_name(r["name"]), "iterations": iterations}))
        keys.append(row)
    return keys


@dataclass
class Cell:
    """A method's metric at one combination of the non-seed axes, over the seeds run."""

    values: list[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def spread(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0


Group = tuple[tuple[str, Any], ...]


def collect(sweep: Mapping[str, Any], metric: str, field: str = "metric"
            ) -> tuple[list[Group], list[str], dict[tuple[Group, str], Cell]]:
    """Groups (non-seed axis values), method keys and cells of ``metric`` (field "metric") or of
    the training seconds (field "train")."""
    groups: list[Group] = []
    methods: list[str] = []
    cells: dict[tuple[Group, str], Cell] = {}
    for p, keys in zip(sweep["points"], method_keys(sweep)):
        g = tuple((k, json.dumps(v)) for k, v in p["values"].items() if k != "seed")
        if g not in groups:
            groups.append(g)
        for r, key in zip(p["methods"], keys):
            if field == "train":
                if not r["trained"]:
                    continue
                value = r["seconds"]["train"]
            elif metric in r["metrics"]:
                value = r["metrics"][metric]["mean"]
            else:
                continue
            if key not in methods:
                methods.append(key)
            cells.setdefault((g, key), Cell([])).values.append(float(value))
    return groups, methods, cells


def sweep_table(sweep: Mapping[str, Any], metric: str) -> str:
    groups, methods, cells = collect(sweep, metric)
    axes = [k for k in sweep["axes"] if k != "seed"]
    seeds = sweep["axes"].get("seed")
    head = [*axes, *methods]
    lines = ["| " + " | ".join(head or ["-"]) + " |", "|" + "---|" * max(1, len(head))]
    for g in groups:
        row = [str(json.loads(v)) for _, v in g]
        for m in methods:
            c = cells.get((g, m))
            if c is None:
                row.append("-")
            elif seeds:
                row.append(f"{c.mean:.4g} ± {c.spread:.2g}")
            else:
                row.append(f"{c.mean:.4g}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def paired_table(sweep: Mapping[str, Any]) -> str:
    """Paired differences per combination of the non-seed axes: mean (± spread over seeds), each
    seed's 95 % interval, and how many items the trained method did better on."""
    axes = [k for k in sweep["axes"] if k != "seed"]
    seeds = "seed" in sweep["axes"]
    rows: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for p in sweep["points"]:
        for d in p.get("paired", []):
            key = (*(json.dumps(p["values"][k]) for k in axes), d["method"], d["tying"],
                   d["baseline"], d["iterations"], d["metric"])
            rows.setdefault(key, []).append(d)
    if not rows:
        return ""
    head = [*axes, "method", "baseline", "iterations", "metric",
            "mean difference" + (" (± spread over seeds)" if seeds else ""), "95 % interval"
            + (" per seed" if seeds else ""), "better / n"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, ds in rows.items():
        cells = [str(json.loads(v)) for v in key[:len(axes)]]
        method, tying, baseline, iterations, metric = key[len(axes):]
        diff = Cell([float(d["mean_diff"]) for d in ds])
        cis = "; ".join(f"[{d['ci95'][0]:.3g}, {d['ci95'][1]:.3g}]" if d.get("ci95") else "-"
                        for d in ds)
        cells += [method + (f" {tying}" if tying else ""), baseline, str(iterations), metric,
                  f"{diff.mean:+.3g}" + (f" ± {diff.spread:.2g}" if seeds else ""), cis,
                  "; ".join(f"{d['better']}/{d['n']}" for d in ds)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_markdown(path: Path, sweep: Mapping[str, Any], figures: Sequence[Path]) -> Path:
    metric = sweep["primary_metric"]
    seeds = sweep["axes"].get("seed")
    axes = ", ".join(f"`{k}` = {', '.join(map(str, v))}" for k, v in sweep["axes"].items())
    lines = [f"# Sweep of {sweep['recipe']} ({'quick' if sweep['quick'] else 'full'})", "",
             f"Axes: {axes} ({len(sweep['points'])} runs, one per point under `points/`).", "",
             f"Mean **{metric}** ({'higher' if sweep.get('higher_is_better', True) else 'lower'}"
             " is better) on the test split, per method"
             + (f"; mean over {len(seeds)} seeds ± spread (sample standard deviation over seeds)."
                if seeds else "."), "", sweep_table(sweep, metric), ""]
    others = sorted({m for p in sweep["points"] for r in p["methods"] for m in r["metrics"]}
                    - {metric})
    for m in others:
        lines += [f"## {m}", "", sweep_table(sweep, m), ""]
    paired = paired_table(sweep)
    if paired:
        lines += ["## Paired differences", "", "Trained − classical method at the same "
                  "iterations, per test item (the same items), as in each point's report.md.", "",
                  paired, ""]
    between = axis_paired_table(sweep)
    if between:
        lines += ["## Paired differences between points", "", "Each trained method at a point "
                  "minus the same method (same iterations) at the point that holds the axis at "
                  "its first value, every other axis equal, per test item (the same items: a "
                  "classical method's per-item values agree at both points).", "", between, ""]
    lines += ["## Figures", "", *[f"![{p.stem}]({p.name})" for p in figures], ""]
    path.write_text("\n".join(lines))
    return path


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def sweep_figure(path: Path, sweep: Mapping[str, Any], metric: str) -> Path:
    """``metric`` against the first non-seed axis (one line per method and value of the other
    axes; error bars: spread over seeds); below, training seconds of the trained methods."""
    from unfold.report import pyplot

    axes = [k for k in sweep["axes"] if k != "seed"] or ["seed"]
    x_key = axes[0]
    xs = sweep["axes"][x_key]
    numeric = all(_is_number(v) for v in xs)
    pos = {json.dumps(v): (v if numeric else i) for i, v in enumerate(xs)}
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True,
                                 gridspec_kw={"height_ratios": [2, 1]})
    styles: dict[str, tuple[str, str]] = {}  # method -> color, rest of the axes -> line style
    rests: list[str] = []
    for panel, field in ((ax, "metric"), (bx, "train")):
        if x_key == "seed":  # seeds are the only axis: one point per seed, nothing averaged
            lines = _lines_by_seed(sweep, metric, field)
        else:
            lines = _lines(sweep, metric, field, x_key, pos)
        for (method, rest), pts in lines.items():
            if rest not in rests:
                rests.append(rest)
            color, _ = styles.setdefault(method, (f"C{len(styles) % 10}", ""))
            pts.sort(key=lambda t: t[0])
            panel.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts],
                           fmt="o", ls=LINE_STYLES[rests.index(rest) % len(LINE_STYLES)], ms=3,
                           capsize=2, color=color, label=method + (f" ({rest})" if rest else ""))
        panel.grid(alpha=0.3, which="both")
    if numeric and min(xs) > 0 and max(xs) / min(xs) >= 10:
        ax.set_xscale("log")
    if not numeric:
        bx.set_xticks(range(len(xs)), [str(v) for v in xs])
    ax.set_ylabel(f"{metric} (mean over test items)")
    ax.set_title(f"{sweep['recipe']}: {metric} against {x_key}"
                 + (" (error bars: spread over seeds)" if "seed" in sweep["axes"] else ""),
                 fontsize=9)
    ax.legend(fontsize=6)
    bx.set_ylabel("training s")
    bx.set_xlabel(x_key)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


LINE_STYLES = ("-", "--", ":", "-.")
Line = list[tuple[float, float, float]]  # (x, mean, spread over seeds)


def _lines(sweep: Mapping[str, Any], metric: str, field: str, x_key: str,
           pos: Mapping[str, Any]) -> dict[tuple[str, str], Line]:
    """(method, values of the other non-seed axes) -> its points. A method whose points are the
    same for every value of the other axes (a classical method in a backprop sweep) is one line;
    a swept tying is already in the method's label, so it does not split lines."""
    groups, methods, cells = collect(sweep, metric, field)
    lines: dict[tuple[str, str], Line] = {}
    for g in groups:
        x = pos[dict(g)[x_key]]
        rest = ",".join(f"{k}={json.loads(v)}" for k, v in g if k not in (x_key, "tying"))
        for m in methods:
            c = cells.get((g, m))
            pts = lines.setdefault((m, rest), [])
            if c is not None and x not in {p[0] for p in pts}:
                pts.append((x, c.mean, c.spread))
    out: dict[tuple[str, str], Line] = {}
    for m in methods:
        mine = {rest: sorted(pts) for (mm, rest), pts in lines.items() if mm == m and pts}
        if len(mine) > 1 and all(pts == next(iter(mine.values())) for pts in mine.values()):
            out[(m, "")] = next(iter(mine.values()))
        else:
            out.update({(m, rest): pts for rest, pts in mine.items()})
    return out


def _lines_by_seed(sweep: Mapping[str, Any], metric: str, field: str
                   ) -> dict[tuple[str, str], Line]:
    groups, methods, cells = collect(sweep, metric, field)
    seeds = sweep["axes"]["seed"]
    return {(m, ""): [(s, v, 0.0) for s, v in zip(seeds, cells[(groups[0], m)].values)]
            for m in methods if (groups[0], m) in cells}


def write_outputs(run_dir: Path, sweep: Mapping[str, Any]) -> list[Path]:
    """sweep.md and the figures (sweep.png for the primary metric, sweep_<metric>.png)."""
    metric = sweep["primary_metric"]
    metrics = sorted({m for p in sweep["points"] for r in p["methods"] for m in r["metrics"]})
    figures = [sweep_figure(run_dir / "sweep.png", sweep, metric)]
    figures += [sweep_figure(run_dir / f"sweep_{safe_label(m)}.png", sweep, m)
                for m in metrics if m != metric]
    write_markdown(run_dir / "sweep.md", sweep, figures)
    return figures
