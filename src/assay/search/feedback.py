"""Execution feedback as text a model can act on.

Only what the search may see goes in: the pool's own tests (their inputs,
the expected values the problem's text gave, what the program did), a
property's confirmed counterexample, and, for trace-level debugging (LDB),
the lines the failing call ran with the values of its variables. Long
texts are cut, never the first failure.
"""

from __future__ import annotations

from typing import Any

from assay import pyast
from assay.problems.model import CallTest, Problem
from assay.sandbox.calls import Call
from assay.sandbox.compare import short_repr
from assay.search.value import Check

MAX_FAILURES = 3
MAX_TRACEBACK_LINES = 6


def _call(function: str, test: CallTest) -> str:
    parts = [short_repr(a, 80) for a in test.args] + ["%s=%s" % (k, short_repr(v, 80)) for k, v in test.kwargs.items()]
    return "%s(%s)" % (function, ", ".join(parts))


def check_feedback(problem: Problem, trusted: Problem, check: Check) -> str:
    """What went wrong on the visible checks, first failures first; empty when everything passed."""
    lines: list[str] = []
    result = check.result
    if result is not None and result.load is not None:
        load = result.load
        lines.append("The program failed to load: %s%s" % (load.exception_type + ": " if load.exception_type else "", load.message or load.status.value))
        if load.traceback:
            lines.append(_tail(load.traceback))
        return "\n".join(lines)
    tests = {t.name: t for t in trusted.tests if isinstance(t, CallTest)}
    failures = check.failures()
    for verdict in failures[:MAX_FAILURES]:
        test = tests.get(verdict.name)
        call = _call(problem.entry_point, test) if test is not None else verdict.name
        if verdict.first_difference:
            lines.append("%s should return %s, but: %s" % (call, short_repr(test.expected, 120) if test else "?", verdict.first_difference))
        elif verdict.exception_type:
            lines.append("%s raised %s: %s" % (call, verdict.exception_type, (verdict.message or "")[:300]))
            if verdict.traceback:
                lines.append(_tail(verdict.traceback))
        else:
            lines.append("%s: %s%s" % (call, verdict.status.value, " (%s)" % verdict.message[:200] if verdict.message else ""))
    if len(failures) > MAX_FAILURES:
        lines.append("... and %d more failing checks" % (len(failures) - MAX_FAILURES))
    for prop in check.properties:
        if not prop.passed and prop.status == "failed":
            lines.append("A property of the specification does not hold: %s" % (prop.message or "")[:600])
    if lines:
        lines.insert(0, "The program passes %d of %d checks." % (check.passed, check.total))
    return "\n".join(lines)


def _tail(traceback: str) -> str:
    return "\n".join(traceback.strip().splitlines()[-MAX_TRACEBACK_LINES:])


# ---------------------------------------------------------------- traces (LDB)

_TRACER = r'''
def __assay_trace__(__assay_args__, __assay_limit__=40):
    import sys as __sys
    __events__ = []
    __target__ = globals()[%(entry)r].__code__

    def __repr_short__(value):
        try:
            text = repr(value)
        except Exception:
            text = "<%%s>" %% type(value).__name__
        return text if len(text) <= 80 else text[:77] + "..."

    def __tracer__(frame, event, arg):
        if frame.f_code is not __target__:
            return None
        if event in ("line", "return") and len(__events__) < __assay_limit__:
            names = {k: __repr_short__(v) for k, v in frame.f_locals.items() if not k.startswith("__")}
            __events__.append([event, frame.f_lineno - __target__.co_firstlineno, names, __repr_short__(arg) if event == "return" else None])
        return __tracer__

    __sys.settrace(__tracer__)
    try:
        globals()[%(entry)r](*__assay_args__)
        __error__ = None
    except BaseException as exc:
        __error__ = "%%s: %%s" %% (type(exc).__name__, str(exc)[:200])
    finally:
        __sys.settrace(None)
    return [__events__, __error__]
'''


def trace_feedback(sandbox: Any, problem: Problem, program: str, args: tuple, limit: int = 40) -> str:
    """The lines a call ran, with its variables after each (LDB's debugger view), or "" if no trace could be had.

    The tracer is appended to the program and runs in the sandbox like it;
    only its plain-data record comes back.
    """
    traced = program + "\n" + _TRACER % {"entry": problem.entry_point}
    batch = sandbox.run_calls(traced, [Call("__assay_trace__", (list(args), limit), cpu_seconds=1.0)])
    if not batch.loaded or not batch.replies or batch.replies[0].status != "ok":
        return ""
    value = batch.replies[0].value
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], list)):
        return ""
    events, error = value
    source = _function_lines(program, problem.entry_point)
    lines = ["Trace of %s(%s):" % (problem.entry_point, ", ".join(short_repr(a, 60) for a in args))]
    for event in events:
        if not (isinstance(event, list) and len(event) == 4):
            continue
        kind, offset, names, returned = event
        code = source[offset].strip() if isinstance(offset, int) and 0 <= offset < len(source) else "?"
        state = ", ".join("%s=%s" % (k, v) for k, v in (names.items() if isinstance(names, dict) else ()))[:200]
        if kind == "return":
            lines.append("  returned %s" % returned)
        else:
            lines.append("  line %s: %s    [%s]" % (offset, code, state))
    if error:
        lines.append("  raised %s" % error)
    return "\n".join(lines)


def _function_lines(program: str, entry_point: str) -> list[str]:
    import ast

    try:
        tree = pyast.parse(program)
    except SyntaxError:
        return []
    lines = program.splitlines()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            return lines[first - 1 : (node.end_lineno or len(lines))]
    return []

