"""``assay diff A.py B.py --entry-point f``: find an input on which two programs differ.

Exit 0: found; the input and both behaviours are printed. Exit 1: none found;
it says how hard it looked (inputs per phase, sandbox runs, seconds). Exit 2:
bad input (a file missing or unreadable, a program that does not parse, an
entry point neither defines, a seed input that is not a Python literal), with
a one-line error. The programs run only in the sandbox; the supervisor reads
them with ``ast`` to check the entry point, and parses seed inputs with
``ast.literal_eval``.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path
from typing import Any, Callable

from assay import pyast
from assay.plugins import Command, deferred, hookimpl

DESCRIPTION = __doc__.split("\n\n")[0]


class BadInput(ValueError):
    """What makes ``assay diff`` exit 2."""


def configure_diff(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("program_a", type=Path, help="the first program (a Python file)")
    parser.add_argument("program_b", type=Path, help="the second program (a Python file)")
    parser.add_argument("--entry-point", required=True, help="the function both programs define")
    parser.add_argument("--seed-input", action="append", default=[], metavar="ARGS",
                        help='an example input as a Python literal: a tuple is the argument list ("(1, 2)" calls f(1, 2)), '
                             'anything else is the one argument ("[1, 2]" calls f([1, 2])); repeatable')  # fmt: skip
    parser.add_argument("--budget", type=int, default=500, help="at most this many distinct inputs (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (the search is deterministic for a seed)")
    parser.add_argument("--timeout", type=float, default=0.25, help="CPU seconds per call (default 0.25)")
    parser.add_argument("--random-only", action="store_true", help="random values of the inferred types only (the baseline)")
    parser.add_argument("--no-shrink", action="store_true", help="report the first distinguishing input found, not a simpler one")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def parse_seed(text: str) -> tuple:
    try:
        value = pyast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise BadInput("--seed-input %r is not a Python literal" % text) from None
    return value if type(value) is tuple else (value,)


def read_program(path: Path, entry_point: str) -> str:
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput("no such file: %s" % path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput("cannot read %s: %s" % (path, exc)) from None
    try:
        tree = pyast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise BadInput("%s does not parse: %s (line %s)" % (path, exc.msg, exc.lineno)) from None
    if entry_point not in _top_level_names(tree):
        raise BadInput("%s does not define %s" % (path, entry_point))
    return source


def _top_level_names(tree: ast.Module) -> set[str]:
    return _names_in(tree.body)


def _names_in(body: list[ast.stmt]) -> set[str]:
    """Names a module-level block binds (definitions, assignments, imports; also under if / try / with / for)."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):  # definitions under if / try at module level
            blocks = [node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])] + [h.body for h in getattr(node, "handlers", [])]
            for block in blocks:
                names |= _names_in(block)
    return names


def command_diff(args: argparse.Namespace, out: Any = None, err: Any = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if args.budget < 1:
            raise BadInput("--budget must be at least 1")
        if args.timeout <= 0:
            raise BadInput("--timeout must be positive")
        program_a = read_program(args.program_a, args.entry_point)
        program_b = read_program(args.program_b, args.entry_point)
        seeds = [parse_seed(text) for text in args.seed_input]
    except BadInput as exc:
        print("error: %s" % exc, file=err)
        return 2
    from assay.oracles.differential import PHASES, find_distinguishing_input
    from assay.sandbox import Sandbox

    with Sandbox(workers=2, calibrate=False) as sandbox:
        result = find_distinguishing_input(
            sandbox, program_a, program_b, args.entry_point, seeds, args.budget, seed=args.seed, cpu_seconds=args.timeout,
            phases=("random",) if args.random_only else PHASES, shrink=not args.no_shrink,
        )  # fmt: skip
    if args.json:
        print(json.dumps(result.to_dict(), sort_keys=True), file=out)
        return 0 if result.found else 1
    if result.found:
        assert result.a is not None and result.b is not None
        print("distinguishing input: %s" % _call(args.entry_point, result.args or ()), file=out)
        print("  A (%s): %s" % (args.program_a, result.a.describe()), file=out)
        print("  B (%s): %s" % (args.program_b, result.b.describe()), file=out)
        print("  %s; found by %s search after %d inputs (%d sandbox runs, %.2f s)%s" % (
            result.which(), result.source, result.tried, result.sandbox_runs, result.seconds,
            "; shrunk from %s" % _call(args.entry_point, result.shrunk_from) if result.shrunk_from is not None else ""), file=out)  # fmt: skip
        return 0
    print("no distinguishing input found: %s" % result.summary().split("input in ", 1)[-1], file=out)
    print("  argument types searched: %s" % result.shapes, file=out)
    for note in result.notes:
        print("  note: %s" % note, file=out)
    return 1


def _call(name: str, args: tuple) -> str:
    from assay.oracles.differential import call_text

    return call_text(args, name)


@hookimpl
def register_commands(register: Callable[..., None]) -> None:
    register("diff", Command("find an input on which two programs differ (exit 0: found, 1: none found, 2: bad input)", configure_diff, command_diff, DESCRIPTION))
    register("oracles", Command("build oracle pools (tests a search may see) for a benchmark, and tally them per kind", deferred("assay.oracles.build:configure_oracles"), deferred("assay.oracles.build:command_oracles")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="assay diff", description=DESCRIPTION)
    configure_diff(parser)
    return command_diff(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
