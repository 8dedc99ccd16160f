"""The ``unfold`` command.

Core subcommands: ``list``, ``run``, ``compare``, ``eval``; every plugin adds ``unfold <plugin>
<command>``. Heavy modules (torch, plugins) are imported only by the subcommand that needs them,
so ``unfold --help`` answers at once. User errors print one line and exit with status 2
(set ``UNFOLD_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unfold import __version__
from unfold.plugin import PluginError, Registry

EXIT_USAGE = 2


class UserError(Exception):
    """An error the user can fix; printed as one line, exit status 2."""


def _common_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="the recipe's small, fast variant")
    p.add_argument("--out", type=Path, help="run directory (default: runs/<recipe>-<time>)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_parser(registry: Registry, load_plugin: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unfold", description="Deep unfolding toolkit.")
    parser.add_argument("--version", action="version", version=f"unfold {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("list", help="plugins (version, status) and their recipes")

    p = sub.add_parser("run", help="train, evaluate and report a recipe")
    p.add_argument("recipe")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.lr=1e-3 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt")
    p.add_argument("--tying", dest="tyings", action="append", metavar="TYING",
                   help="train only these tyings (tied, untied, partial:C; repeatable; "
                        "default: the recipe's)")
    p.add_argument("--sweep", action="append", metavar="KEY=V1,V2,...",
                   help="run every point of the product of these axes (a config key, tying or "
                        "seed; repeatable) under OUT/points/ and write sweep.json, sweep.md, "
                        "sweep.png; a recipe may declare its own axes")
    _common_run_args(p)

    p = sub.add_parser("compare", help="each plugin's comparison recipe, tied vs untied, one table")
    p.add_argument("plugins", nargs="*", metavar="PLUGIN")
    _common_run_args(p)

    p = sub.add_parser("eval", help="re-evaluate a checkpoint on its recipe's test split")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--iters", type=int, action="append", help="layers to run (repeatable)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])

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
            print(f"{s.name}  {s.version}  BROKEN  ({s.distribution}): {s.error}")
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

    table = evaluate_checkpoint(registry, args.checkpoint, args.iters, args.device)
    print(table)
    return 0


def dispatch(args: argparse.Namespace, registry: Registry) -> int:
    if args.command == "list":
        return cmd_list(registry)
    if args.command == "run":
        from unfold.run import run_recipe
        from unfold.sweep import is_sweep, run_sweep

        if is_sweep(registry, args.recipe, args.sweep, args.out, args.resume):
            out = run_sweep(registry, args.recipe, args.sweep or (), args.quick, args.overrides,
                            args.out, args.device, args.seed, args.resume, not args.no_progress,
                            args.tyings)
            print(f"sweep written to {out} (table: {out / 'sweep.md'})")
            return 0

        out = run_recipe(registry, args.recipe, args.quick, args.overrides, args.out, args.device,
                         args.seed, args.resume, not args.no_progress,
                         tuple(args.tyings) if args.tyings else None)
        print(f"run written to {out} (report: {out / 'report.md'})")
        return 0
    if args.command == "compare":
        from unfold.compare import compare

        out = compare(registry, args.plugins, args.quick, args.out, args.device, args.seed,
                      not args.no_progress)
        print(f"comparison written to {out / 'compare.md'}")
        return 0
    if args.command == "eval":
        return cmd_eval(args, registry)
    return int(args.plugin_run(args) or 0)


USER_ERRORS = (UserError, PluginError, ValueError, FileNotFoundError, PermissionError,
               NotADirectoryError, FileExistsError, FloatingPointError)


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
        msg: Any = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"unfold: error: {msg}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
