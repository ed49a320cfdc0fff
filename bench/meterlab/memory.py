"""Peak memory of one call, not of the interpreter around it.

Primary: resident memory. Writing ``5`` to ``/proc/self/clear_refs`` resets
the kernel's high-water mark (VmHWM) to the current resident size; after the
call, VmHWM minus the resident size just before the call is the call's own
peak (page granularity, includes memory used by C code and the allocator's
arenas). Secondary, labelled: ``tracemalloc``'s peak of the Python heap
(exact for Python allocations, blind to memory that C code takes directly,
and slow: every allocation is traced).

The in-process helpers run the call in the *current* process; the sandbox
calls them inside its forked child. :func:`measure_peak_memory` runs each
call in a fresh fork of a harness process.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

from assay.measure import call_harness
from assay.measure.cost import Cost
from assay.measure.harness_job import MEASURE_ENV, HarnessJob, Payload, harness_command
from meterlab.harness_process import HarnessProcess
from meterlab.host_valgrind import MeasurementFailed, MeterUnavailable
from meterlab.names import PEAK_RSS, PYTHON_HEAP_PEAK

UNIT = "bytes"
Method = Literal["rss", "tracemalloc"]


@dataclass(frozen=True)
class MemoryResult:
    index: int
    status: str
    cost: Cost | None = None
    digest: str | None = None
    error: str | None = None


def clear_refs_available() -> bool:
    """Can this process reset its peak RSS (Linux >= 4.0, /proc writable)?"""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        call_harness._read_status_kb("VmHWM")
    except OSError:
        return False
    return True


def peak_rss_of_call(fn: Callable[..., Any], *args: Any) -> tuple[Cost, Any]:
    """(peak resident memory the call added, in bytes; its return value)."""
    if not clear_refs_available():
        raise MeterUnavailable("cannot reset the peak RSS: /proc/self/clear_refs is not writable here")
    peak, result = call_harness._count_rss(fn, args)
    return Cost(float(peak), UNIT, PEAK_RSS), result


def python_heap_peak_of_call(fn: Callable[..., Any], *args: Any) -> tuple[Cost, Any]:
    """(peak Python-heap growth during the call from tracemalloc, in bytes; result)."""
    peak, result = call_harness._count_tracemalloc(fn, args)
    return Cost(float(peak), UNIT, PYTHON_HEAP_PEAK), result


def measure_peak_memory(
    program_source: str,
    function_name: str,
    inputs: Sequence[Payload],
    timeout: float = 60.0,
    *,
    method: Method = "rss",
    python: str | None = None,
) -> list[MemoryResult]:
    """Peak memory of each call, each in a fresh fork of the loaded program.

    The same measurement of an empty call of the same arity is subtracted.
    """
    if method == "rss" and not clear_refs_available():
        raise MeterUnavailable("cannot reset the peak RSS: /proc/self/clear_refs is not writable here")
    meter = PEAK_RSS if method == "rss" else PYTHON_HEAP_PEAK
    interpreter = python or os.path.realpath(sys.executable)
    job = HarnessJob(program_source, function_name, tuple(inputs), timeout)
    with HarnessProcess(harness_command(method, interpreter), env=MEASURE_ENV) as harness:
        records = harness.run(job)
    if records.load_error is not None:
        raise MeasurementFailed("error", f"the program did not load: {records.load_error}")
    out = []
    for index in range(records.n_inputs):
        record = records.result(index)
        if record.get("status") != "ok" or record.get("baseline") is None:
            out.append(MemoryResult(index, record.get("status", "infra_error"), error=record.get("error")))
            continue
        # minus the same measurement of an empty call (fork and harness noise)
        cost = Cost(float(max(0, int(record["count"]) - int(record["baseline"]))), UNIT, meter)
        out.append(MemoryResult(index, "ok", cost, record.get("digest")))
    return out
