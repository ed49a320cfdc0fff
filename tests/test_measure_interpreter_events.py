"""The secondary meter: bytecodes executed, from sys.monitoring (Python >= 3.12)."""

from __future__ import annotations

import pytest

from assay.measure.cost import INTERPRETER_EVENTS, VALGRIND_INSTRUCTIONS, Cost, MeterMismatch
from assay.measure.interpreter_events import (
    count_interpreter_events,
    count_interpreter_events_batch,
    find_monitoring_python,
)

PYTHON = find_monitoring_python()
pytestmark = pytest.mark.skipif(PYTHON is None, reason="no Python >= 3.12 with sys.monitoring")

SOURCE = """
def loop(n):
    s = 0
    for i in range(n):
        s += i
    return s

def empty(n):
    return None

def sort_it(xs):
    return sorted(xs)

def tamper(n):
    import sys
    sys.monitoring.set_events(sys.monitoring.PROFILER_ID, 0)
    for i in range(n):
        pass
    return n

def boom(n):
    raise KeyError(n)
"""


def _values(fn, inputs):
    return [r.cost.value if r.cost else r.status for r in count_interpreter_events_batch(SOURCE, fn, inputs)]


def test_counts_are_exact_and_linear_in_python_work():
    c0, c10, c20, c20_again = _values("loop", ["(0,)", "(10,)", "(20,)", "(20,)"])
    assert c20 == c20_again
    assert c20 - c10 == c10 - c0 > 0
    assert _values("empty", ["(3,)"]) == [0.0]


def test_work_done_in_c_is_invisible():
    small, large = _values("sort_it", [(list(range(10, 0, -1)),), (list(range(100000, 0, -1)),)])
    assert small == large  # why this meter is secondary


def test_meter_is_labelled_with_the_interpreter_version():
    cost = count_interpreter_events(SOURCE, "loop", "(5,)")
    assert cost.meter == f"{INTERPRETER_EVENTS}/{PYTHON.version[0]}.{PYTHON.version[1]}"
    assert cost.unit == "bytecodes"
    with pytest.raises(MeterMismatch):
        cost < Cost(1.0, "instructions", VALGRIND_INSTRUCTIONS)


def test_errors_and_tampering_are_not_counted():
    err, tampered = count_interpreter_events_batch(SOURCE, "boom", ["(1,)"]) + count_interpreter_events_batch(
        SOURCE, "tamper", ["(100,)"]
    )
    assert err.status == "error" and "KeyError" in err.error
    assert tampered.status == "error" and "monitoring" in tampered.error
