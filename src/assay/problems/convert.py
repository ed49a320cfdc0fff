"""Turn HumanEval's ``check(candidate)`` source into call-and-compare tests.

A call-and-compare test lets the supervisor compare the candidate's return
value outside the sandbox, so the expected value never enters the untrusted
process. Only plainly shaped asserts are converted:

    assert candidate(ARGS) == EXPECTED          (either side; exact, Python ==)
    assert abs(candidate(ARGS) - EXPECTED) < TOL (or <=, either operand order)
    assert math.isclose(candidate(ARGS), EXPECTED[, rel_tol=..][, abs_tol=..])
    assert candidate(ARGS)                      (truthy)
    assert not candidate(ARGS)                  (falsy)
    assert candidate(ARGS) is True / is False   (exact against True / False)

each optionally followed by ``, "message"``. ``ARGS`` and ``EXPECTED`` are
benchmark text (trusted): they are evaluated here with ``eval`` in a namespace
holding only safe builtins and the modules the test imports, never the
candidate, and must evaluate to plain data.

Harmless statements (docstrings, ``pass``, ``assert True``, ``print(...)``,
imports, ``METADATA = ...``) are dropped. If any other statement cannot be
converted (a loop, a helper variable, a call to another function, random
inputs), the whole test source is kept as one :class:`ScriptTest` instead, so
a problem is either converted completely or not at all.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import math
from dataclasses import dataclass
from typing import Any

from assay import pyast
from assay.problems.model import CallTest, ScriptTest, Test

SAFE_BUILTINS: frozenset[str] = frozenset(
    {
        "abs", "all", "any", "bool", "bytes", "chr", "complex", "dict", "divmod",
        "enumerate", "filter", "float", "frozenset", "int", "len", "list", "map",
        "max", "min", "ord", "pow", "range", "reversed", "round", "set", "sorted",
        "str", "sum", "tuple", "zip",
    }
)  # fmt: skip

PLAIN_SCALARS = (type(None), bool, int, float, complex, str, bytes)

# Modules a test may import and use inside an expected value (e.g. math.sqrt).
IMPORTABLE_MODULES: frozenset[str] = frozenset({"math", "fractions", "decimal", "string"})


@dataclass(frozen=True)
class Conversion:
    """The tests made from one ``check`` function, and why any were not converted."""

    tests: tuple[Test, ...]
    converted: bool
    reasons: tuple[str, ...] = ()


class NotConvertible(Exception):
    """A statement of ``check`` that cannot become a :class:`CallTest`."""


def convert_check(
    test_source: str,
    *,
    setup: str = "",
    entry: str = "check",
    script_name: str = "check",
) -> Conversion:
    """Convert ``test_source`` (a module defining ``entry(candidate)``).

    Returns CallTests named ``test_<i>`` (``i`` = position of the assert in the
    body of ``entry``, counted from 0 over all its statements) when every
    statement converts, otherwise a single ScriptTest running ``entry``
    with ``setup`` as trusted helper code.
    """
    try:
        tests = _convert(test_source, entry)
    except NotConvertible as exc:
        reasons = tuple(str(arg) for arg in exc.args)
        script = ScriptTest(name=script_name, source=test_source, entry=entry, setup=setup)
        return Conversion(tests=(script,), converted=False, reasons=reasons)
    return Conversion(tests=tuple(tests), converted=True)


def _convert(test_source: str, entry: str) -> list[CallTest]:
    try:
        module = pyast.parse(test_source)
    except SyntaxError as exc:
        raise NotConvertible(f"test source does not parse: {exc}") from None
    modules: dict[str, Any] = {}
    check: ast.FunctionDef | None = None
    for stmt in module.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == entry:
            check = stmt
        elif _is_import(stmt):
            modules.update(_imported_modules(stmt))
        elif not _is_harmless(stmt) and not _is_metadata(stmt):
            raise NotConvertible(f"line {stmt.lineno}: module-level {type(stmt).__name__}")
    if check is None:
        raise NotConvertible(f"no function {entry!r}")
    args = check.args
    if len(args.args) != 1 or args.vararg or args.kwarg or args.kwonlyargs or check.decorator_list:
        raise NotConvertible(f"{entry} does not take exactly one parameter")
    candidate = args.args[0].arg
    for stmt in check.body:
        if _is_import(stmt):
            modules.update(_imported_modules(stmt))
    reasons = []
    tests = []
    for position, stmt in enumerate(check.body):
        if _is_harmless(stmt) or _is_import(stmt):
            continue
        try:
            tests.append(_convert_assert(stmt, candidate, modules, f"test_{position}"))
        except NotConvertible as exc:
            reasons.append(f"line {stmt.lineno}: {exc}")
    if reasons:
        raise NotConvertible(*reasons)
    if not tests:
        raise NotConvertible("no assert calls the candidate")
    return tests


def _is_import(stmt: ast.stmt) -> bool:
    return isinstance(stmt, (ast.Import, ast.ImportFrom))


def _imported_modules(stmt: ast.stmt) -> dict[str, Any]:
    """Modules bound by ``import m`` / ``import m as n`` that expressions may use."""
    found: dict[str, Any] = {}
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            if alias.name in IMPORTABLE_MODULES:
                found[alias.asname or alias.name] = importlib.import_module(alias.name)
    return found


def _is_metadata(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
        and stmt.targets[0].id == "METADATA"
    )


def _is_harmless(stmt: ast.stmt) -> bool:
    """Statements that test nothing: docstrings, pass, ``assert True``, print."""
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr):
        value = stmt.value
        if isinstance(value, ast.Constant):
            return True
        if isinstance(value, ast.Name) and value.id == "print":  # a bare `print` (HumanEval/129)
            return True
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "print"
            and not _calls_anything(value, allowed={"print"})
        ):
            return True
    if isinstance(stmt, ast.Assert):
        return isinstance(stmt.test, ast.Constant) and bool(stmt.test.value) is True
    return False


def _calls_anything(node: ast.AST, allowed: set[str]) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            if not (isinstance(sub.func, ast.Name) and sub.func.id in allowed):
                return True
    return False


def _convert_assert(stmt: ast.stmt, candidate: str, modules: dict[str, Any], name: str) -> CallTest:
    if not isinstance(stmt, ast.Assert):
        raise NotConvertible(f"{type(stmt).__name__} statement")
    test = stmt.test
    # assert not candidate(ARGS)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        args, kwargs = _candidate_call(test.operand, candidate, modules)
        return CallTest(name=name, args=args, kwargs=kwargs, comparison="falsy")
    # assert candidate(ARGS)
    if _is_candidate_call(test, candidate):
        args, kwargs = _candidate_call(test, candidate, modules)
        return CallTest(name=name, args=args, kwargs=kwargs, comparison="truthy")
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        return _convert_compare(test, candidate, modules, name)
    if isinstance(test, ast.Call) and _is_isclose(test):
        return _convert_isclose(test, candidate, modules, name)
    raise NotConvertible(f"assert of unsupported shape: {_brief(test)}")


def _convert_compare(test: ast.Compare, candidate: str, modules: dict[str, Any], name: str) -> CallTest:
    left, op, right = test.left, test.ops[0], test.comparators[0]
    if isinstance(op, ast.Eq):
        if not (_is_candidate_call(left, candidate) or _is_candidate_call(right, candidate)):
            raise NotConvertible(f"no plain {candidate}(...) call on either side of ==: {_brief(test)}")
        call, other = (left, right) if _is_candidate_call(left, candidate) else (right, left)
        args, kwargs = _candidate_call(call, candidate, modules)
        expected = _evaluate(other, modules, "expected value")
        return CallTest(name=name, args=args, kwargs=kwargs, expected=expected, comparison="exact")
    if isinstance(op, ast.Is) and isinstance(right, ast.Constant) and isinstance(right.value, bool):
        args, kwargs = _candidate_call(left, candidate, modules)
        return CallTest(name=name, args=args, kwargs=kwargs, expected=right.value, comparison="exact")
    # abs(candidate(ARGS) - EXPECTED) < TOL, or TOL > abs(...)
    if isinstance(op, (ast.Lt, ast.LtE)):
        difference, tolerance = left, right
    elif isinstance(op, (ast.Gt, ast.GtE)):
        difference, tolerance = right, left
    else:
        raise NotConvertible(f"comparison of unsupported shape: {_brief(test)}")
    if not (
        isinstance(difference, ast.Call)
        and isinstance(difference.func, ast.Name)
        and difference.func.id == "abs"
        and len(difference.args) == 1
        and not difference.keywords
        and isinstance(difference.args[0], ast.BinOp)
        and isinstance(difference.args[0].op, ast.Sub)
    ):
        raise NotConvertible(f"comparison of unsupported shape: {_brief(test)}")
    minuend, subtrahend = difference.args[0].left, difference.args[0].right
    call, other = (minuend, subtrahend) if _is_candidate_call(minuend, candidate) else (subtrahend, minuend)
    args, kwargs = _candidate_call(call, candidate, modules)
    expected = _evaluate(other, modules, "expected value")
    tol = _evaluate(tolerance, modules, "tolerance")
    if not _is_real(expected) or not _is_real(tol) or tol < 0:
        raise NotConvertible("tolerance comparison needs a real expected value and a tolerance >= 0")
    return CallTest(
        name=name, args=args, kwargs=kwargs, expected=expected, comparison="approx", abs_tol=float(tol)
    )


def _is_isclose(call: ast.Call) -> bool:
    func = call.func
    return (isinstance(func, ast.Attribute) and func.attr == "isclose") or (
        isinstance(func, ast.Name) and func.id == "isclose"
    )


def _convert_isclose(test: ast.Call, candidate: str, modules: dict[str, Any], name: str) -> CallTest:
    func = test.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in modules):
        raise NotConvertible(f"isclose from an unknown place: {_brief(test)}")
    if modules[func.value.id] is not math or len(test.args) != 2:
        raise NotConvertible(f"isclose of unsupported shape: {_brief(test)}")
    first, second = test.args
    call, other = (first, second) if _is_candidate_call(first, candidate) else (second, first)
    args, kwargs = _candidate_call(call, candidate, modules)
    expected = _evaluate(other, modules, "expected value")
    tolerances = {"rel_tol": 1e-9, "abs_tol": 0.0}
    for keyword in test.keywords:
        if keyword.arg not in tolerances:
            raise NotConvertible(f"isclose keyword {keyword.arg!r}")
        tolerances[keyword.arg] = _evaluate(keyword.value, modules, "tolerance")
    if not _is_real(expected) or not all(_is_real(t) for t in tolerances.values()):
        raise NotConvertible("isclose needs real numbers")
    return CallTest(
        name=name,
        args=args,
        kwargs=kwargs,
        expected=expected,
        comparison="approx",
        abs_tol=float(tolerances["abs_tol"]),
        rel_tol=float(tolerances["rel_tol"]),
    )


def _is_candidate_call(node: ast.expr, candidate: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == candidate


def _candidate_call(
    node: ast.expr, candidate: str, modules: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if not _is_candidate_call(node, candidate):
        raise NotConvertible(f"expected a call of {candidate}, found {_brief(node)}")
    assert isinstance(node, ast.Call)
    if any(isinstance(arg, ast.Starred) for arg in node.args):
        raise NotConvertible("starred argument")
    if any(keyword.arg is None for keyword in node.keywords):
        raise NotConvertible("** argument")
    args = tuple(_evaluate(arg, modules, "argument") for arg in node.args)
    kwargs = {kw.arg: _evaluate(kw.value, modules, "argument") for kw in node.keywords if kw.arg}
    return args, kwargs


def _evaluate(node: ast.expr, modules: dict[str, Any], what: str) -> Any:
    """Evaluate trusted benchmark text that may use only safe builtins and imported modules."""
    free = _free_names(node)
    unknown = free - SAFE_BUILTINS - set(modules)
    if unknown:
        raise NotConvertible(f"{what} uses {', '.join(sorted(unknown))}: {_brief(node)}")
    namespace: dict[str, Any] = {"__builtins__": {n: getattr(builtins, n) for n in SAFE_BUILTINS}}
    namespace.update({n: modules[n] for n in free if n in modules})
    try:
        value = eval(compile(ast.Expression(node), "<test>", "eval"), namespace)  # noqa: S307 (trusted)
    except Exception as exc:  # a broken expected value is the benchmark's problem, not a candidate's
        raise NotConvertible(f"{what} does not evaluate ({type(exc).__name__}: {exc}): {_brief(node)}") from None
    if not is_plain_data(value):
        raise NotConvertible(f"{what} is not plain data ({type(value).__name__}): {_brief(node)}")
    return value


def _free_names(node: ast.expr) -> set[str]:
    """Names an expression reads that it does not bind itself (comprehensions, lambdas)."""
    loaded: set[str] = set()
    bound: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            (loaded if isinstance(sub.ctx, ast.Load) else bound).add(sub.id)
        elif isinstance(sub, ast.arg):
            bound.add(sub.arg)
        elif isinstance(sub, ast.NamedExpr):
            raise NotConvertible("assignment expression")
    return loaded - bound


def is_plain_data(value: Any, _depth: int = 0) -> bool:
    """True for None, bool, numbers, str, bytes and lists/tuples/sets/dicts of those."""
    if _depth > 100:
        return False
    if isinstance(value, PLAIN_SCALARS):
        return type(value) in PLAIN_SCALARS
    if type(value) in (list, tuple, set, frozenset):
        return all(is_plain_data(item, _depth + 1) for item in value)
    if type(value) is dict:
        return all(is_plain_data(k, _depth + 1) and is_plain_data(v, _depth + 1) for k, v in value.items())
    return False


def _is_real(value: Any) -> bool:
    return type(value) in (int, float) and not (isinstance(value, float) and math.isnan(value))


def _brief(node: ast.AST, limit: int = 80) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."
