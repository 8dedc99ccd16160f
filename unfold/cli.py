"""The ``unfold`` command.

Core subcommands: ``list``, ``show``, ``run``, ``compare``, ``eval``, ``new-plugin``; every plugin
adds ``unfold <plugin> <command>``. Heavy modules (torch, plugins) are imported only by the
subcommand that needs them, so ``unfold --help`` answers at once. User errors (the core's classes
in ``unfold.errors``) print one line and exit with status 2; anything else is a bug, in the core
or a plugin: one line with the exception type and the ``file:line`` that raised it, exit status
1. ``UNFOLD_DEBUG=1`` shows the traceback of either.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from unfold import __version__, argtypes
from unfold.errors import UnfoldError
from unfold.plugin import Registry

EXIT_USAGE = 2
EXIT_BUG = 1

#: an error the user can fix; printed as one line, exit status 2 (kept for older imports)
UserError = UnfoldError


def _common_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="the recipe's small, fast variant")
    p.add_argument("--out", type=Path, help="run directory (default: runs/<recipe>-<time>)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--seed", type=argtypes.seed, default=None,
                   help="random seed, 0..2**63-1 (default 0; --resume: the run's own)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


class Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (``unfold <command>: error: ...``), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Parser(Parser):
    """A subcommand parser whose epilog is computed only when its help is printed."""

    def __init__(self, *args: Any, epilog_fn: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.epilog_fn = epilog_fn

    def format_help(self) -> str:
        if self.epilog_fn is not None:
            self.epilog = self.epilog_fn()
        return super().format_help()


def _recipes_epilog(registry: Registry) -> str:
    lines = ["recipes (`unfold show RECIPE` prints every config key):"]
    for p in registry.plugins():
        lines += [f"  {r.name:<24} {p.name}: {r.description}" for r in p.recipes]
    return "\n".join(lines if len(lines) > 1 else ["no plugins installed"])


def _set_arg(p: argparse.ArgumentParser, what: str = "a config value") -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help=f"override {what}, e.g. --set train.lr=1e-3 (repeatable)")


def _tying_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tying", dest="tyings", action="append", metavar="TYING", type=argtypes.tying,
                   help="train only these tyings (tied, untied, partial:C; repeatable; "
                        "default: the recipe's)")


def build_parser(registry: Registry, load_plugin: str | None = None) -> argparse.ArgumentParser:
    parser = Parser(prog="unfold", description="Deep unfolding toolkit.")
    parser.add_argument("--version", action="version", version=f"unfold {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser("list", help="plugins (version, status) and their recipes")

    p = sub.add_parser("show", help="a recipe's resolved config: key, value, type, default, help")
    p.add_argument("recipe")
    p.add_argument("--quick", action="store_true", help="the recipe's small, fast variant")
    _set_arg(p)

    p = sub.add_parser("run", help="train, evaluate and report a recipe",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog_fn=lambda: _recipes_epilog(registry))
    p.add_argument("recipe")
    _set_arg(p)
    p.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt")
    _tying_arg(p)
    p.add_argument("--dry-run", action="store_true",
                   help="validate config, data folders, output directory and every tying's "
                        "model, then stop; writes nothing")
    p.add_argument("--sweep", action="append", metavar="KEY=V1,V2,...",
                   help="run every point of the product of these axes (a config key, tying or "
                        "seed; repeatable) under OUT/points/ and write sweep.json, sweep.md, "
                        "sweep.png; a recipe may declare its own axes")
    _common_run_args(p)

    p = sub.add_parser("compare", help="each plugin's comparison recipe, tied vs untied, one table")
    p.add_argument("plugins", nargs="*", metavar="PLUGIN")
    _set_arg(p, "a key of every compared recipe")
    _tying_arg(p)
    p.add_argument("--jobs", type=argtypes.positive, default=None,
                   help="plugins run at once, each in its own process (default: one per CPU "
                        "core, at most one per plugin; 1 on a GPU)")
    _common_run_args(p)

    p = sub.add_parser("eval", help="re-evaluate a checkpoint on its recipe's test split")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--iters", type=argtypes.positive, action="append",
                   help="layers to run (repeatable)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    _set_arg(p, "a data.* or eval.* key (e.g. another data.root)")
    p.add_argument("--baselines", action="store_true",
                   help="also evaluate the recipe's classical methods")

    p = sub.add_parser("new-plugin", help="write the skeleton of a plugin package")
    p.add_argument("name", help="plugin and recipe name, e.g. tv-denoise")
    p.add_argument("--out", type=Path, default=None,
                   help="folder to create (default: ./unfold-NAME)")

    for name in registry.names():
        pp = sub.add_parser(name, help=f"commands of the {name} plugin (unfold {name} --help)")
        if name == load_plugin:
            plugin = registry.get(name)
            psub = pp.add_subparsers(dest="plugin_command", metavar="COMMAND", required=True)
            for c in plugin.commands:
                cp = psub.add_parser(c.name, help=c.help)
                c.add_arguments(cp)
                cp.set_defaults(plugin_run=c.run)
    return parser


def cmd_list(registry: Registry) -> int:
    for s in registry.status():
        if not s.ok:
            state = "CONFLICT" if s.conflict else "BROKEN"
            print(f"{s.name}  {s.version}  {state}  ({s.distribution}): {s.error}")
            continue
        p = registry.get(s.name)
        print(f"{p.name}  {p.version}  ok  ({s.distribution}) — {p.description}")
        for r in p.recipes:
            mark = " [compare]" if r.name == p.compare else ""
            print(f"    recipe {r.name}{mark}: {r.description}")
        for c in p.commands:
            print(f"    command `unfold {p.name} {c.name}`: {c.help}")
    if not registry.names():
        print("no plugins installed")
    return 0


def cmd_eval(args: argparse.Namespace, registry: Registry) -> int:
    from unfold.evaluate import evaluate_checkpoint

    table = evaluate_checkpoint(registry, args.checkpoint, args.iters, args.device,
                                args.overrides, args.baselines)
    print(table)
    return 0


def cmd_show(args: argparse.Namespace, registry: Registry) -> int:
    from unfold.recipe import describe

    plugin, recipe = registry.recipe(args.recipe)
    cfg = recipe.resolve(quick=args.quick, overrides=args.overrides)
    entries = describe(recipe, cfg)
    print(f"recipe {recipe.name} ({'quick' if args.quick else 'full'}) of plugin {plugin.name}"
          f"{': ' + recipe.description if recipe.description else ''}")
    print(f"tyings: {', '.join(recipe.tyings)} (unfold run --tying to choose)")
    print("* marks a value that differs from the recipe's full-size default\n")
    rows = [(e.key, ("* " if e.value != e.default else "  ") + _text(e.value), e.type,
             _text(e.default), e.help) for e in entries]
    head = ("key", "  value", "type", "default", "help")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    for r in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
    return 0


def _text(value: Any) -> str:
    import json

    if isinstance(value, tuple):
        value = list(value)
    return value if isinstance(value, str) else json.dumps(value)


def cmd_new_plugin(args: argparse.Namespace) -> int:
    from unfold.scaffold import write_plugin

    out = write_plugin(args.name, args.out)
    print(f"plugin package written to {out}; next: pip install -e {out} && "
          f"pytest {out}/tests && unfold run {args.name} --quick")
    return 0


def dispatch(args: argparse.Namespace, registry: Registry) -> int:
    if args.command == "list":
        return cmd_list(registry)
    if args.command == "show":
        return cmd_show(args, registry)
    if args.command == "new-plugin":
        return cmd_new_plugin(args)
    if args.command == "run":
        from unfold.run import run_recipe
        from unfold.sweep import is_sweep, run_sweep

        if is_sweep(registry, args.recipe, args.sweep, args.out, args.resume):
            out = run_sweep(registry, args.recipe, args.sweep or (), args.quick, args.overrides,
                            args.out, args.device, args.seed, args.resume, not args.no_progress,
                            args.tyings, args.dry_run)
            if args.dry_run:
                print(f"dry run of the {args.recipe} sweep: config, data folders and every "
                      f"point's models are valid, and the output directory {out} is free; "
                      "nothing was written")
                return 0
            print(f"sweep written to {out} (table: {out / 'sweep.md'})")
            return 0

        tyings = tuple(args.tyings) if args.tyings else None
        out = run_recipe(registry, args.recipe, args.quick, args.overrides, args.out, args.device,
                         args.seed, args.resume, not args.no_progress, tyings, args.dry_run)
        if args.dry_run:
            print(f"dry run of {args.recipe}: config, data folders, every tying's model and the "
                  f"output directory {out} are valid; nothing was written")
            return 0
        print(f"run written to {out} (report: {out / 'report.md'})")
        return 0
    if args.command == "compare":
        from unfold.compare import compare

        out = compare(registry, args.plugins, args.quick, args.out, args.device,
                      0 if args.seed is None else args.seed, not args.no_progress, args.overrides,
                      tuple(args.tyings) if args.tyings else None, args.jobs)
        print(f"comparison written to {out / 'compare.md'}")
        return 0
    if args.command == "eval":
        return cmd_eval(args, registry)
    return int(args.plugin_run(args) or 0)


USER_ERRORS: tuple[type[BaseException], ...] = (UnfoldError,)
#: the machine's state, not a bug: a full disk, a read-only or forbidden location (one line, exit 2)
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _internal_error(e: BaseException) -> int:
    print(f"unfold: internal error: {type(e).__name__}: {_first_line(e)} "
          f"(at {_raising_frame(e)}); set UNFOLD_DEBUG=1 for the traceback", file=sys.stderr)
    return EXIT_BUG


def _raising_frame(e: BaseException) -> str:
    """``file:line`` of the frame that raised ``e`` (the innermost one of its traceback)."""
    tb = e.__traceback__
    if tb is None:
        return "unknown location"
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        registry = Registry()
        first = next((a for a in argv if not a.startswith("-")), None)
        parser = build_parser(registry, first if first in registry.names() else None)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        return dispatch(args, registry)
    except KeyboardInterrupt:
        print("unfold: interrupted; finished epochs are saved in the run's checkpoints "
              "(continue with --resume --out DIR)", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        if os.environ.get("UNFOLD_DEBUG"):
            raise
        print(f"unfold: error: {_first_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        if os.environ.get("UNFOLD_DEBUG"):
            raise
        if e.errno not in ENVIRONMENT_ERRNOS:
            return _internal_error(e)
        where = f": {e.filename}" if e.filename else ""
        print(f"unfold: error: {e.strerror or e}{where}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # a bug: say where, not just what
        if os.environ.get("UNFOLD_DEBUG"):
            raise
        return _internal_error(e)


if __name__ == "__main__":
    sys.exit(main())
