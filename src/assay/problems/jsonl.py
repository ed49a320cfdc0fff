"""assay's own problem format: one JSON object per line, documented in docs/problems-format.md.

:func:`load_problems` reads a file and raises :class:`ProblemFormatError`
naming the file and line of the first mistake; :func:`write_problems` writes
problems back so that loading them gives equal problems.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assay import pyast, sealing
from assay.plugins import COMPARISONS
from assay.problems.model import CallTest, InputGenerator, Problem, ScriptTest, StdioTest, Test, Trust

PROBLEM_KEYS = {
    "task_id", "prompt", "entry_point", "tests", "reference", "setup", "checker",
    "checker_function", "generator", "benchmark", "metadata",
}  # fmt: skip
COMMON_TEST_KEYS = {"kind", "name", "hidden", "trust"}
TEST_KEYS = {
    "call": COMMON_TEST_KEYS | {
        "args", "args_python", "kwargs", "kwargs_python", "expected", "expected_python",
        "comparison", "abs_tol", "rel_tol", "function",
    },
    "script": COMMON_TEST_KEYS | {"source", "entry", "setup"},
    "stdio": COMMON_TEST_KEYS | {"stdin", "expected_stdout"},
}  # fmt: skip
GENERATOR_KEYS = {"source", "levels", "weights", "cases_per_level", "level_cases", "function"}


class ProblemFormatError(ValueError):
    """A problems file that does not follow the format; ``str()`` reads ``file:line: what``."""

    def __init__(self, path: str | Path, line: int, message: str):
        self.path, self.line, self.message = str(path), line, message
        super().__init__(f"{self.path}:{line}: {message}")


class _Invalid(Exception):
    """A mistake inside one line; the caller adds file and line."""


# --------------------------------------------------------------------- reading


def load_problems(path: str | Path) -> list[Problem]:
    """Read every problem of a JSONL problems file (blank lines and ``#`` lines are skipped)."""
    sealing.refuse("loading a problems file")
    path = Path(path)
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ProblemFormatError(path, number, f"not UTF-8 (byte {exc.start + 1} of the line)") from None
            if number == 1:
                text = text.removeprefix("\ufeff")
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ProblemFormatError(path, number, f"malformed JSON: {exc.msg} (column {exc.colno})") from None
            except (ValueError, RecursionError) as exc:
                raise ProblemFormatError(path, number, f"malformed JSON: {exc}") from None
            try:
                problem = problem_from_json(record)
            except _Invalid as exc:
                raise ProblemFormatError(path, number, str(exc)) from None
            if problem.task_id in first_line:
                message = f"duplicate task_id {problem.task_id!r} (first on line {first_line[problem.task_id]})"
                raise ProblemFormatError(path, number, message)
            first_line[problem.task_id] = number
            problems.append(problem)
    if not problems:
        raise ProblemFormatError(path, 0, "no problems in the file")
    return problems


def problem_from_json(record: Any) -> Problem:
    """Build a :class:`Problem` from one decoded line; raises ``_Invalid`` on a mistake."""
    if not isinstance(record, dict):
        raise _Invalid(f"a problem must be a JSON object, found {_json_type(record)}")
    _no_unknown_keys(record, PROBLEM_KEYS, "problem")
    task_id = _required_str(record, "task_id")
    if not task_id:
        raise _Invalid("'task_id' must not be empty")
    prompt = _required_str(record, "prompt")
    entry_point = _required_str(record, "entry_point")
    if not entry_point.isidentifier():
        raise _Invalid(f"'entry_point' must be a Python name, found {entry_point!r}")
    raw_tests = record.get("tests")
    if not isinstance(raw_tests, list) or not raw_tests:
        raise _Invalid("'tests' must be a non-empty array of test objects")
    tests = tuple(_test_from_json(raw, position) for position, raw in enumerate(raw_tests))
    names = [t.name for t in tests]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _Invalid(f"duplicate test names: {', '.join(duplicates)}")
    checker = _optional_str(record, "checker")
    if checker is None and any(isinstance(t, CallTest) and t.comparison == "checker" for t in tests):
        raise _Invalid("a test uses comparison 'checker' but the problem has no 'checker'")
    metadata = record.get("metadata", {})
    if not isinstance(metadata, dict):
        raise _Invalid("'metadata' must be an object")
    return Problem(
        task_id=task_id,
        prompt=prompt,
        entry_point=entry_point,
        tests=tests,
        reference=_optional_str(record, "reference"),
        setup=_optional_str(record, "setup") or "",
        generator=_generator_from_json(record["generator"]) if record.get("generator") is not None else None,
        checker=checker,
        checker_function=_optional_str(record, "checker_function") or "check_output",
        benchmark=_optional_str(record, "benchmark") or "custom",
        metadata=metadata,
    )


def _test_from_json(raw: Any, position: int) -> Test:
    where = f"test {position + 1}"
    if not isinstance(raw, dict):
        raise _Invalid(f"{where}: must be an object, found {_json_type(raw)}")
    kind = raw.get("kind", "call")
    if kind not in TEST_KEYS:
        raise _Invalid(f"{where}: 'kind' must be one of call, script, stdio, found {kind!r}")
    try:
        _no_unknown_keys(raw, TEST_KEYS[kind], f"{kind} test")
        common = {
            "name": _optional_str(raw, "name") or f"test_{position}",
            "hidden": _optional_bool(raw, "hidden", True),
            "trust": _trust(raw.get("trust", "given")),
        }
        if kind == "script":
            return ScriptTest(
                source=_required_str(raw, "source"),
                entry=_optional_str(raw, "entry") or "check",
                setup=_optional_str(raw, "setup") or "",
                **common,
            )
        if kind == "stdio":
            return StdioTest(
                stdin=_optional_str(raw, "stdin") or "",
                expected_stdout=_required_str(raw, "expected_stdout"),
                **common,
            )
        return _call_test_from_json(raw, common)
    except _Invalid as exc:
        raise _Invalid(f"{where}: {exc}") from None


def _call_test_from_json(raw: dict[str, Any], common: dict[str, Any]) -> CallTest:
    args = _value(raw, "args", default=[])
    if not isinstance(args, (list, tuple)):
        raise _Invalid(f"'args' must be a list of arguments, found {_json_type(args)}")
    kwargs = _value(raw, "kwargs", default={})
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) and k.isidentifier() for k in kwargs):
        raise _Invalid("'kwargs' must be an object whose keys are Python names")
    comparison = raw.get("comparison", "exact")
    if comparison not in COMPARISONS:
        raise _Invalid(f"'comparison' must be one of {', '.join(COMPARISONS.names())}, found {comparison!r}")
    has_expected = "expected" in raw or "expected_python" in raw
    if comparison in ("exact", "approx") and not has_expected:
        raise _Invalid(f"comparison {comparison!r} needs 'expected' or 'expected_python'")
    expected = _value(raw, "expected", default=None)
    abs_tol, rel_tol = _tolerance(raw, "abs_tol"), _tolerance(raw, "rel_tol")
    if comparison == "approx" and abs_tol == 0 and rel_tol == 0:
        raise _Invalid("comparison 'approx' needs 'abs_tol' or 'rel_tol' above 0")
    function = _optional_str(raw, "function")
    if function is not None and not function.isidentifier():
        raise _Invalid(f"'function' must be a Python name, found {function!r}")
    return CallTest(
        args=tuple(args),
        expected=expected,
        kwargs=dict(kwargs),
        comparison=comparison,
        abs_tol=abs_tol,
        rel_tol=rel_tol,
        function=function,
        **common,
    )


def _value(raw: dict[str, Any], key: str, default: Any) -> Any:
    """``key`` as JSON, or ``key_python`` as a Python literal (tuples, sets, non-string keys...)."""
    python_key = f"{key}_python"
    if key in raw and python_key in raw:
        raise _Invalid(f"give either {key!r} or {python_key!r}, not both")
    if python_key not in raw:
        return raw.get(key, default)
    text = raw[python_key]
    if not isinstance(text, str):
        raise _Invalid(f"{python_key!r} must be a string holding a Python literal")
    try:
        return parse_python_literal(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise _Invalid(f"{python_key!r} is not a Python literal ({type(exc).__name__}: {exc})") from None


_SPECIAL_FLOATS = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def parse_python_literal(text: str) -> Any:
    """``ast.literal_eval`` plus ``frozenset(...)``, ``complex(float, float)`` and
    ``float('inf' | '-inf' | 'nan')``."""
    tree = pyast.parse(text.strip(), mode="eval")

    class Specials(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            func = node.func.id if isinstance(node.func, ast.Name) else None
            if func == "frozenset" and not node.keywords and len(node.args) <= 1:
                inner = pyast.literal_eval(self.visit(node.args[0])) if node.args else ()
                return ast.Constant(frozenset(inner))
            if (
                func == "float"
                and not node.keywords
                and len(node.args) == 1
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).lower() in _SPECIAL_FLOATS
            ):
                return ast.Constant(_SPECIAL_FLOATS[str(node.args[0].value).lower()])
            if func == "complex" and not node.keywords and len(node.args) == 2:
                real, imag = (pyast.literal_eval(self.visit(arg)) for arg in node.args)
                if type(real) is float and type(imag) is float:
                    return ast.Constant(complex(real, imag))
            self.generic_visit(node)
            return node

    return pyast.literal_eval(Specials().visit(tree).body)


def python_literal(value: Any) -> str:
    """Text that :func:`parse_python_literal` turns back into ``value`` (plain data only)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if type(value) is tuple:
        items = ", ".join(python_literal(v) for v in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    if type(value) is list:
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if type(value) in (set, frozenset):
        items = ", ".join(python_literal(v) for v in value)
        body = "{" + items + "}" if value else ""
        return f"frozenset({body})" if type(value) is frozenset else (body or "set()")
    if type(value) is dict:
        return "{" + ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, complex):
        return f"complex({python_literal(float(value.real))}, {python_literal(float(value.imag))})"
    return repr(value)


def _generator_from_json(raw: Any) -> InputGenerator:
    if not isinstance(raw, dict):
        raise _Invalid(f"'generator' must be an object, found {_json_type(raw)}")
    try:
        _no_unknown_keys(raw, GENERATOR_KEYS, "generator")
        levels = _int_list(raw, "levels", required=True)
        if not levels:
            raise _Invalid("'levels' must not be empty")
        weights = raw.get("weights", [])
        if not isinstance(weights, list) or not all(_is_number(w) for w in weights):
            raise _Invalid("'weights' must be an array of numbers")
        level_cases = _int_list(raw, "level_cases", required=False)
        for name, values in (("weights", weights), ("level_cases", level_cases)):
            if values and len(values) != len(levels):
                raise _Invalid(f"{name!r} must have one entry per level ({len(levels)})")
        cases = raw.get("cases_per_level", 0)
        if type(cases) is not int or cases < 0:
            raise _Invalid("'cases_per_level' must be an integer >= 0")
        return InputGenerator(
            source=_required_str(raw, "source"),
            levels=tuple(levels),
            weights=tuple(float(w) for w in weights),
            cases_per_level=cases,
            function=_optional_str(raw, "function") or "generate_input",
            level_cases=tuple(level_cases),
        )
    except _Invalid as exc:
        raise _Invalid(f"generator: {exc}") from None


def _int_list(raw: dict[str, Any], key: str, required: bool) -> list[int]:
    if key not in raw and not required:
        return []
    value = raw.get(key)
    if not isinstance(value, list) or not all(type(v) is int and v >= 0 for v in value):
        raise _Invalid(f"{key!r} must be an array of integers >= 0")
    return value


def _no_unknown_keys(record: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(record) - allowed)
    if unknown:
        raise _Invalid(f"unknown field(s) in {what}: {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}")


def _required_str(record: dict[str, Any], key: str) -> str:
    if key not in record:
        raise _Invalid(f"missing field {key!r}")
    value = record[key]
    if not isinstance(value, str):
        raise _Invalid(f"{key!r} must be a string, found {_json_type(value)}")
    return value


def _optional_str(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is not None and not isinstance(value, str):
        raise _Invalid(f"{key!r} must be a string, found {_json_type(value)}")
    return value


def _optional_bool(record: dict[str, Any], key: str, default: bool) -> bool:
    value = record.get(key, default)
    if not isinstance(value, bool):
        raise _Invalid(f"{key!r} must be true or false, found {_json_type(value)}")
    return value


def _trust(value: Any) -> Trust:
    try:
        return Trust(value)
    except ValueError:
        raise _Invalid(f"'trust' must be one of {', '.join(t.value for t in Trust)}, found {value!r}") from None


def _tolerance(record: dict[str, Any], key: str) -> float:
    value = record.get(key, 0.0)
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise _Invalid(f"{key!r} must be a finite number >= 0")
    return float(value)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


# --------------------------------------------------------------------- writing


def write_problems(path: str | Path, problems: Iterable[Problem]) -> None:
    """Write ``problems`` in this format, one line each."""
    with open(path, "w", encoding="utf-8") as handle:
        for problem in problems:
            handle.write(json.dumps(problem_to_json(problem), ensure_ascii=False, allow_nan=False) + "\n")


def problem_to_json(problem: Problem) -> dict[str, Any]:
    """The JSON object for ``problem``; values JSON cannot hold use the ``*_python`` form."""
    record: dict[str, Any] = {
        "task_id": problem.task_id,
        "prompt": problem.prompt,
        "entry_point": problem.entry_point,
        "tests": [_test_to_json(test) for test in problem.tests],
    }
    if problem.reference is not None:
        record["reference"] = problem.reference
    if problem.setup:
        record["setup"] = problem.setup
    if problem.checker is not None:
        record["checker"] = problem.checker
    if problem.checker_function != "check_output":
        record["checker_function"] = problem.checker_function
    if problem.generator is not None:
        record["generator"] = _generator_to_json(problem.generator)
    if problem.benchmark != "custom":
        record["benchmark"] = problem.benchmark
    if problem.metadata:
        record["metadata"] = problem.metadata
    return record


def _test_to_json(test: Test) -> dict[str, Any]:
    record: dict[str, Any] = {"kind": test.kind, "name": test.name}
    if not test.hidden:
        record["hidden"] = False
    if test.trust is not Trust.GIVEN:
        record["trust"] = test.trust.value
    if isinstance(test, ScriptTest):
        record["source"] = test.source
        if test.entry != "check":
            record["entry"] = test.entry
        if test.setup:
            record["setup"] = test.setup
    elif isinstance(test, StdioTest):
        record.update(stdin=test.stdin, expected_stdout=test.expected_stdout)
    else:
        _put_value(record, "args", list(test.args), faithful=all(_json_faithful(a) for a in test.args))
        if test.kwargs:
            _put_value(record, "kwargs", test.kwargs, faithful=_json_faithful(test.kwargs))
        if test.comparison != "exact":
            record["comparison"] = test.comparison
        if test.comparison in ("exact", "approx") or test.expected is not None:
            _put_value(record, "expected", test.expected, faithful=_json_faithful(test.expected))
        for key in ("abs_tol", "rel_tol"):
            if getattr(test, key):
                record[key] = getattr(test, key)
        if test.function is not None:
            record["function"] = test.function
    return record


def _put_value(record: dict[str, Any], key: str, value: Any, faithful: bool) -> None:
    if faithful:
        record[key] = value
        return
    value = tuple(value) if key == "args" else value
    text = python_literal(value)
    try:
        same = _same(parse_python_literal(text), value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        same = False
    if not same:
        raise ValueError(f"{key} {text[:80]} can be written neither as JSON nor as a Python literal")
    record[f"{key}_python"] = text


def _json_faithful(value: Any) -> bool:
    """True when JSON gives back the same value with the same types."""
    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is list:
        return all(_json_faithful(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _json_faithful(v) for k, v in value.items())
    return False


def _same(a: Any, b: Any) -> bool:
    """Equal with equal types all the way down (so 1 and True, or [] and () differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _generator_to_json(generator: InputGenerator) -> dict[str, Any]:
    record: dict[str, Any] = {"source": generator.source, "levels": list(generator.levels)}
    if generator.weights:
        record["weights"] = list(generator.weights)
    if generator.cases_per_level:
        record["cases_per_level"] = generator.cases_per_level
    if generator.level_cases:
        record["level_cases"] = list(generator.level_cases)
    if generator.function != "generate_input":
        record["function"] = generator.function
    return record
