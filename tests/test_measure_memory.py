"""Peak memory of a call: resident (clear_refs + VmHWM) and Python heap (tracemalloc)."""

from __future__ import annotations

import pytest

from assay.measure.cost import PEAK_RSS, PYTHON_HEAP_PEAK
from assay.measure.memory import (
    clear_refs_available,
    measure_peak_memory,
    peak_rss_of_call,
    python_heap_peak_of_call,
)

needs_clear_refs = pytest.mark.skipif(not clear_refs_available(), reason="/proc/self/clear_refs not writable")

MB = 1 << 20

SOURCE = """
BIG = bytearray(64 << 20)  # module-level memory is not the call's

def grab(mb):
    block = bytearray(mb << 20)
    return len(block)

def spike(mb):
    block = bytearray(mb << 20)
    del block
    return 0

def nothing(mb):
    return mb

def ints(n):
    return len([i for i in range(n)])
"""


def _grab(mb):
    block = bytearray(mb * MB)
    return len(block)


@needs_clear_refs
def test_in_process_peak_rss_sees_the_call_not_the_interpreter():
    cost, result = peak_rss_of_call(_grab, 40)
    assert result == 40 * MB
    assert cost.meter == PEAK_RSS and cost.unit == "bytes"
    assert 38 * MB <= cost.value <= 44 * MB
    idle, _ = peak_rss_of_call(lambda: None)
    assert idle.value < 1 * MB


@needs_clear_refs
def test_peak_rss_in_a_fresh_fork_excludes_module_memory_and_catches_freed_peaks():
    grab, spike, nothing = measure_peak_memory(SOURCE, "grab", ["(30,)"]) + measure_peak_memory(
        SOURCE, "spike", ["(30,)"]
    ) + measure_peak_memory(SOURCE, "nothing", ["(30,)"])
    assert all(r.status == "ok" for r in (grab, spike, nothing))
    assert 28 * MB <= grab.cost.value <= 34 * MB  # not the 64 MB module buffer
    assert 28 * MB <= spike.cost.value <= 34 * MB  # freed before returning, still the peak
    assert nothing.cost.value < 0.5 * MB


def test_tracemalloc_peak_is_the_python_heap():
    cost, result = python_heap_peak_of_call(lambda n: len([0] * n), 1_000_000)
    assert cost.meter == PYTHON_HEAP_PEAK and result == 1_000_000
    assert 7.9e6 <= cost.value <= 8.2e6  # one list of 10^6 pointers
    (fork_cost,) = measure_peak_memory(SOURCE, "ints", ["(100000,)"], method="tracemalloc")
    assert fork_cost.status == "ok" and fork_cost.cost.value > 100000 * 8
