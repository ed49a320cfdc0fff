"""A user's module as ``assay optimize`` sees it: the function's place in the file, inputs from tests and doctests, a new version spliced in.

Everything here reads code with :mod:`ast` only; nothing of the user's
module, tests or the model's replies runs outside the sandbox.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay import pyast


class BadTarget(ValueError):
    """What makes ``assay optimize`` exit 2: a target that is not ``path.py::function`` of a readable module defining it."""


@dataclass(frozen=True)
class Module:
    """A module's source and where its function ``name`` is: lines ``first``..``last`` (1-based, decorators included)."""

    path: Path
    source: str
    name: str
    first: int
    last: int
    header_last: int = 0  # the last line of the signature and docstring (0: the def line)

    @property
    def lines(self) -> list[str]:
        return self.source.splitlines(keepends=True)

    @property
    def function(self) -> str:
        return "".join(self.lines[self.first - 1 : self.last])

    @property
    def header(self) -> str:
        """The decorators, signature and docstring: what a HumanEval-style prompt shows (a reply that is only a body continues it)."""
        return "".join(self.lines[self.first - 1 : max(self.header_last, self.first)])

    @property
    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.source else "\n"

    def with_function(self, text: str) -> str:
        """The module with lines ``first``..``last`` replaced by ``text``, every other byte as it was."""
        lines = self.lines
        text = text.replace("\r\n", "\n").rstrip("\n") + "\n"
        if self.newline != "\n":
            text = text.replace("\n", self.newline)
        if self.last == len(lines) and not self.source.endswith(("\n", "\r")):
            text = text[: -len(self.newline)]  # the function ended the file without a newline: so does its replacement
        return "".join(lines[: self.first - 1]) + text + "".join(lines[self.last :])


def parse_target(target: str) -> tuple[Path, str]:
    if "::" not in target:
        raise BadTarget("the target must be path/to/module.py::function, not %r" % target)
    path, _, name = target.rpartition("::")
    if not name.isidentifier():
        raise BadTarget("%r is not a function name" % name)
    return Path(path), name


def load_module(path: Path, name: str) -> Module:
    try:
        source = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise BadTarget("no such file: %s" % path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadTarget("cannot read %s: %s" % (path, exc)) from None
    try:
        tree = pyast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise BadTarget("%s does not parse: %s (line %s)" % (path, exc.msg, exc.lineno)) from None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            if isinstance(node, ast.AsyncFunctionDef):
                raise BadTarget("%s is a coroutine function; assay optimize makes plain functions faster" % name)
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            head = node.body[0]
            documented = isinstance(head, ast.Expr) and isinstance(head.value, ast.Constant) and isinstance(head.value.value, str)
            header_last = (head.end_lineno or head.lineno) if documented else head.lineno - 1
            return Module(path, source, name, first, node.end_lineno or node.lineno, header_last)
    raise BadTarget("%s defines no top-level function %s" % (path, name))


def _bound(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def bound_names(source: str) -> set[str]:
    """The names a module's top level binds (definitions, assignments, imports; not ``from __future__`` features)."""
    return set().union(*(_bound(n) for n in pyast.parse(source).body if not (isinstance(n, ast.ImportFrom) and n.module == "__future__")))


def splice(module: Module, program: str | None) -> tuple[str, str] | None:
    """The module with its function replaced by ``program``'s, and the new text of that region; None if ``program`` has no such function.

    Imports and helpers the new version brings that the module does not
    bind already go right above the function (the module's own helpers
    are kept and used); everything else of ``program`` is dropped.
    """
    if not program:
        return None
    try:
        tree = pyast.parse(program)
    except SyntaxError:
        return None
    lines = program.splitlines(keepends=True)
    known = bound_names(module.source)
    extra, function = [], None
    for node in tree.body:
        segment = "".join(lines[min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1 : node.end_lineno])
        if isinstance(node, ast.FunctionDef) and node.name == module.name:
            function = segment
        elif isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign)) and _bound(node) - known:
            extra.append(segment.rstrip("\n") + "\n")
    if function is None:
        return None
    imports = [e for e in extra if e.lstrip().startswith(("import ", "from "))]
    helpers = [e for e in extra if e not in imports]
    region = "".join(imports) + ("\n\n" if imports else "") + "".join(h + "\n\n" for h in helpers) + function.rstrip("\n") + "\n"
    return module.with_function(region), region


# ---------------------------------------------------------------- inputs from a tests file


@dataclass
class TestInputs:
    """What a tests file gives: calls with expected values (asserts), plain calls, and what could not be read."""

    expected: list[tuple[tuple, Any, str]] = field(default_factory=list)  # (args, expected, the assert as written)
    calls: list[tuple] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _literal(node: ast.AST) -> tuple[bool, Any]:
    try:
        return True, pyast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _is_call_of(node: ast.AST, name: str) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == name) or (isinstance(func, ast.Attribute) and func.attr == name)


def _call_args(node: ast.Call) -> tuple | None:
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        return None
    values = []
    for arg in node.args:
        ok, value = _literal(arg)
        if not ok:
            return None
        values.append(value)
    return tuple(values)


def read_tests(path: Path, name: str) -> TestInputs:
    """Calls of ``name`` (or ``anything.name``) with literal arguments in a tests file; ``assert name(...) == literal`` also gives the expected value."""
    try:
        tree = pyast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except FileNotFoundError:
        raise BadTarget("no such tests file: %s" % path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadTarget("cannot read %s: %s" % (path, exc)) from None
    except SyntaxError as exc:
        raise BadTarget("%s does not parse: %s (line %s)" % (path, exc.msg, exc.lineno)) from None
    found = TestInputs()
    asserted: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Eq, ast.Is)):
            left, right = test.left, test.comparators[0]
            if not _is_call_of(left, name) and _is_call_of(right, name):
                left, right = right, left
            if _is_call_of(left, name):
                asserted.add(id(left))
                args = _call_args(left)  # type: ignore[arg-type]
                ok, expected = _literal(right)
                if args is not None and ok:
                    found.expected.append((args, expected, ast.unparse(node)))
                elif args is not None:
                    found.calls.append(args)
                else:
                    found.skipped.append(ast.unparse(node)[:120])
    for node in ast.walk(tree):
        if _is_call_of(node, name) and id(node) not in asserted:
            args = _call_args(node)  # type: ignore[arg-type]
            if args is not None:
                found.calls.append(args)
            else:
                found.skipped.append(ast.unparse(node)[:120])
    return found
