"""Plugins and their registry over the entry-point group ``unfold.plugins``.

Discovery reads entry points without importing them (so ``unfold --help`` stays instant); a
plugin is imported on first use. A plugin that fails to import is reported as broken with its
error and the others keep working; so does one whose import raises ``SystemExit`` or any other
``BaseException`` (``KeyboardInterrupt`` aside). Two distributions registering one name mark
that name as conflicting: ``unfold list`` shows it, using it is an error naming both
distributions, and every other plugin keeps working. An unknown name lists the known ones; the
loaded object is validated.

A distribution registers a plugin with::

    [project.entry-points."unfold.plugins"]
    my-plugin = "my_package:plugin"     # a module-level ``unfold.Plugin`` instance
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import importlib_metadata

if TYPE_CHECKING:  # the registry itself must not import torch (``unfold --help`` stays instant)
    from unfold.recipe import Recipe
    from unfold.unroller import Unroller

from unfold.errors import PluginError

__all__ = ["GROUP", "Command", "Plugin", "PluginError", "Registry", "Status", "validate_plugin"]

GROUP = "unfold.plugins"


@dataclass
class Command:
    """A plugin subcommand: ``unfold <plugin> <name> ...``."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]


@dataclass
class Plugin:
    """What a plugin offers: its unrollers, recipes, comparison recipe and subcommands."""

    name: str
    version: str
    description: str
    recipes: list[Recipe] = field(default_factory=list)
    unrollers: dict[str, type[Unroller]] = field(default_factory=dict)
    commands: list[Command] = field(default_factory=list)
    compare: str | None = None  # the recipe `unfold compare` runs tied and untied

    def recipe(self, name: str) -> Recipe:
        for r in self.recipes:
            if r.name == name:
                return r
        raise PluginError(f"plugin {self.name!r} has no recipe {name!r}; it has: "
                          f"{', '.join(r.name for r in self.recipes) or 'none'}")


def _dist_name(ep: Any) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"


def validate_plugin(obj: Any, name: str) -> Plugin:
    from unfold.recipe import Recipe
    from unfold.unroller import Unroller

    if not isinstance(obj, Plugin):
        raise PluginError(f"entry point {name!r} must point at an unfold.Plugin, got {type(obj).__name__}")
    if obj.name != name:
        raise PluginError(f"entry point {name!r} loads a plugin that calls itself {obj.name!r}")
    for r in obj.recipes:
        if not isinstance(r, Recipe):
            raise PluginError(f"plugin {name!r}: recipes must be unfold.Recipe, got {type(r).__name__}")
    for key, cls in obj.unrollers.items():
        if not (isinstance(cls, type) and issubclass(cls, Unroller)):
            raise PluginError(f"plugin {name!r}: unroller {key!r} is not an Unroller subclass")
    if obj.compare is not None and obj.compare not in {r.name for r in obj.recipes}:
        raise PluginError(f"plugin {name!r}: compare recipe {obj.compare!r} is not among its recipes")
    return obj


@dataclass
class Status:
    name: str
    distribution: str
    version: str
    ok: bool
    error: str = ""
    conflict: bool = False  # one of several distributions registering this name


class Registry:
    """Plugins found through entry points; ``entry_points`` may be given for tests."""

    def __init__(self, entry_points: Iterable[Any] | None = None) -> None:
        eps = list(entry_points) if entry_points is not None else list(
            importlib_metadata.entry_points(group=GROUP)
        )
        self._eps: dict[str, Any] = {}
        self._loaded: dict[str, Plugin] = {}
        self._errors: dict[str, str] = {}
        self._conflicts: dict[str, list[Any]] = {}  # name -> every entry point claiming it
        for ep in sorted(eps, key=lambda e: e.name):
            if ep.name in self._eps:
                other = self._eps[ep.name]
                if _dist_name(other) == _dist_name(ep) and other.value == ep.value:
                    continue  # the same distribution seen twice on sys.path
                # a conflict makes this one name unusable, never the command
                claims = self._conflicts.setdefault(ep.name, [other])
                claims.append(ep)
                self._errors[ep.name] = (
                    f"{len(claims)} plugins are named {ep.name!r}: "
                    + ", ".join(f"one from {_dist_name(c)} ({c.value})" for c in claims)
                    + "; uninstall all but one")
                continue
            self._eps[ep.name] = ep

    def names(self) -> list[str]:
        return sorted(self._eps)

    def entry_points(self) -> list[Any]:
        """The entry points this registry was built from (a worker process rebuilds it)."""
        return [ep for claims in ([self._eps[n]] + self._conflicts.get(n, [])[1:]
                                  for n in self.names()) for ep in claims]

    def get(self, name: str) -> Plugin:
        if name not in self._eps:
            raise PluginError(f"unknown plugin {name!r}; known plugins: {', '.join(self.names()) or 'none'}")
        if name in self._loaded:
            return self._loaded[name]
        if name in self._errors:
            raise PluginError(self._errors[name])
        ep = self._eps[name]
        try:
            plugin = validate_plugin(ep.load(), name)
        except PluginError as e:
            self._errors[name] = str(e)
            raise
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # a broken plugin, even one calling sys.exit, spares the others
            self._errors[name] = (f"plugin {name!r} from {_dist_name(ep)} failed to import: "
                                  f"{type(e).__name__}: {e}")
            raise PluginError(self._errors[name]) from e
        self._loaded[name] = plugin
        return plugin

    def status(self) -> list[Status]:
        out = []
        for name in self.names():
            ep = self._eps[name]
            dist = getattr(ep, "dist", None)
            if name in self._conflicts:
                for c in self._conflicts[name]:
                    d = getattr(c, "dist", None)
                    out.append(Status(name, d.name if d else "?", d.version if d else "?", False,
                                      self._errors[name], conflict=True))
                continue
            try:
                p = self.get(name)
                out.append(Status(name, dist.name if dist else "?", p.version, True))
            except PluginError as e:
                out.append(Status(name, dist.name if dist else "?",
                                  dist.version if dist else "?", False, str(e)))
        return out

    def plugins(self) -> list[Plugin]:
        """Every plugin that loads (broken ones are skipped; see ``status``)."""
        out = []
        for name in self.names():
            try:
                out.append(self.get(name))
            except PluginError:
                pass
        return out

    def recipe(self, name: str) -> tuple[Plugin, Recipe]:
        known = []
        for p in self.plugins():
            for r in p.recipes:
                if r.name == name:
                    return p, r
                known.append(r.name)
        broken = [s.name for s in self.status() if not s.ok]
        extra = f" (broken plugins, see `unfold list`: {', '.join(broken)})" if broken else ""
        known_text = ", ".join(sorted(known)) or "none"
        raise PluginError(f"unknown recipe {name!r}; known recipes: {known_text}{extra}")

    def unrollers(self) -> list[tuple[str, str, type[Unroller]]]:
        return [(p.name, k, c) for p in self.plugins() for k, c in sorted(p.unrollers.items())]
