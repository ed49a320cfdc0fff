"""Comparing a candidate's plain-data output with the expected value, outside the sandbox.

A call test names its comparison (``exact``, ``approx``, ``truthy``,
``falsy``, ``checker``); :data:`assay.plugins.COMPARISONS` maps each name to the
function that decides, and the judge, the stress runner and the meters all go
through :func:`compare_output`. Plugins add comparisons with the
``register_comparisons`` hook (see :mod:`assay.plugins`).
"""

from __future__ import annotations

import math
import reprlib
from typing import Any, Callable

from assay.plugins import COMPARISONS, hookimpl
from assay.problems.model import CallTest, Problem
from assay.sandbox.harness.codec import Opaque

REPR_LIMIT = 160


class _BoundedRepr(reprlib.Repr):
    """repr() for messages: bounded work on huge values, never an exception."""

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 4000:  # str() refuses ints past 4300 digits, and is slow long before
            return "<int of about %d digits>" % int(x.bit_length() * 0.30103 + 1)
        return super().repr_int(x, level)


_REPR = _BoundedRepr()
_REPR.maxlevel = 4
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = _REPR.maxarray = 24
_REPR.maxdict = 12
_REPR.maxstring = _REPR.maxlong = _REPR.maxother = REPR_LIMIT


def short_repr(value: Any, limit: int = REPR_LIMIT) -> str:
    try:
        text = _REPR.repr(value)
    except Exception:  # a value whose repr fails must not fail the judging
        text = "<%s>" % type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def values_equal(output: Any, expected: Any) -> bool:
    """Python ``==`` on plain data; anything opaque equals nothing."""
    if isinstance(output, Opaque) or isinstance(expected, Opaque):
        return False
    try:
        return bool(output == expected)
    except Exception:
        return False


def approx_equal(output: Any, expected: Any, abs_tol: float, rel_tol: float) -> bool:
    if isinstance(expected, (list, tuple)) and type(output) is type(expected):
        return len(output) == len(expected) and all(approx_equal(o, e, abs_tol, rel_tol) for o, e in zip(output, expected))
    numeric = (int, float)
    if isinstance(output, numeric) and isinstance(expected, numeric) and not isinstance(output, bool):
        return math.isclose(output, expected, rel_tol=rel_tol, abs_tol=abs_tol)
    return values_equal(output, expected)


def first_difference(output: Any, expected: Any) -> str:
    """One line saying where the output first departs from the expected value."""
    if isinstance(output, Opaque):
        return "expected %s, got an object of type %s with no plain value (%s)" % (short_repr(expected), output.type_name, output.text[:80])
    if type(output) is not type(expected) and not (isinstance(output, (int, float)) and isinstance(expected, (int, float))):
        return "expected %s of type %s, got %s of type %s" % (
            short_repr(expected),
            type(expected).__name__,
            short_repr(output),
            type(output).__name__,
        )
    if isinstance(expected, str) and isinstance(output, str):
        for index, (a, b) in enumerate(zip(output, expected)):
            if a != b:
                return "strings differ at index %d: expected %r, got %r (expected %s, got %s)" % (
                    index, b, a, short_repr(expected), short_repr(output)
                )
        return "expected a string of length %d, got length %d (expected %s, got %s)" % (
            len(expected), len(output), short_repr(expected), short_repr(output)
        )
    if isinstance(expected, (list, tuple)) and isinstance(output, (list, tuple)):
        for index, (a, b) in enumerate(zip(output, expected)):
            if not values_equal(a, b):
                return "differs at index %d: expected %s, got %s" % (index, short_repr(b), short_repr(a))
        return "expected %d items, got %d (expected %s, got %s)" % (len(expected), len(output), short_repr(expected), short_repr(output))
    if isinstance(expected, dict) and isinstance(output, dict):
        missing = [k for k in expected if k not in output]
        extra = [k for k in output if k not in expected]
        if missing:
            return "missing key %s" % short_repr(missing[0])
        if extra:
            return "unexpected key %s" % short_repr(extra[0])
        for key in expected:
            if not values_equal(output[key], expected[key]):
                return "at key %s: expected %s, got %s" % (short_repr(key), short_repr(expected[key]), short_repr(output[key]))
    return "expected %s, got %s" % (short_repr(expected), short_repr(output))


def normalize_stdout(text: str) -> list[str]:
    """Lines with trailing whitespace dropped, and trailing blank lines removed."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def stdout_difference(output: str, expected: str) -> str | None:
    got, want = normalize_stdout(output), normalize_stdout(expected)
    if got == want:
        return None
    for number, (a, b) in enumerate(zip(got, want), start=1):
        if a != b:
            return "line %d: expected %s, got %s" % (number, short_repr(b), short_repr(a))
    return "expected %d lines of output, got %d" % (len(want), len(got))


# ---------------------------------------------------------------- the registry

Comparison = Callable[[Problem, CallTest, Any], "tuple[bool, str | None]"]
"""(problem, test, output) -> (passed, first difference or None when it passed)."""


def _exact(problem: Problem, test: CallTest, output: Any) -> tuple[bool, str | None]:
    ok = values_equal(output, test.expected)
    return ok, None if ok else first_difference(output, test.expected)


def _approx(problem: Problem, test: CallTest, output: Any) -> tuple[bool, str | None]:
    ok = approx_equal(output, test.expected, test.abs_tol, test.rel_tol)
    return ok, None if ok else first_difference(output, test.expected)


def _truth(value: Any) -> bool | None:
    try:
        return bool(value)
    except Exception:
        return None


def _truthy(problem: Problem, test: CallTest, output: Any) -> tuple[bool, str | None]:
    ok = _truth(output) is True
    return ok, None if ok else "expected a true value, got %s" % short_repr(output)


def _falsy(problem: Problem, test: CallTest, output: Any) -> tuple[bool, str | None]:
    ok = _truth(output) is False
    return ok, None if ok else "expected a false value, got %s" % short_repr(output)


def run_checker(problem: Problem, args: tuple, expected: Any, output: Any) -> tuple[bool, str]:
    """The problem's checker decides, in the supervisor, on plain data."""
    if not problem.checker:
        raise ValueError("%s has a checker test but no checker" % problem.task_id)
    namespace: dict[str, Any] = {}
    if problem.setup:
        exec(compile(problem.setup, "<setup>", "exec"), namespace)
    exec(compile(problem.checker, "<checker>", "exec"), namespace)
    checker = namespace[problem.checker_function]
    try:
        ok = bool(checker(args, expected, output))
    except Exception as exc:
        return False, "the checker rejected the output (%s: %s)" % (type(exc).__name__, exc)
    return ok, "" if ok else "the checker rejected the output %s" % short_repr(output)


def _checker(problem: Problem, test: CallTest, output: Any) -> tuple[bool, str | None]:
    ok, message = run_checker(problem, test.args, test.expected, output)
    return ok, None if ok else message


@hookimpl
def register_comparisons(register: Callable[..., None]) -> None:
    register("exact", _exact, "Python == on plain data; opaque objects equal nothing")
    register("approx", _approx, "numbers (also inside lists and tuples) within abs_tol / rel_tol")
    register("truthy", _truthy, "bool(output) is True")
    register("falsy", _falsy, "bool(output) is False")
    register("checker", _checker, "the problem's checker(args, expected, output) decides")


def compare_output(problem: Problem, test: CallTest, output: Any) -> tuple[bool, str | None]:
    """Does ``output`` pass ``test``? With the first difference when it does not."""
    return COMPARISONS.get(test.comparison)(problem, test, output)
