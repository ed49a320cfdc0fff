"""Which meters work on this machine (for ``assay doctor``)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from assay.measure.cost import (
    CPU_TIME,
    INTERPRETER_EVENTS,
    PEAK_RSS,
    PERF_INSTRUCTIONS,
    PYTHON_HEAP_PEAK,
    VALGRIND_INSTRUCTIONS,
)


@dataclass(frozen=True)
class MeterProbe:
    name: str
    available: bool
    detail: str


def _valgrind_probe() -> MeterProbe:
    from assay.measure.instructions import find_valgrind

    path = find_valgrind()
    if not path:
        return MeterProbe(VALGRIND_INSTRUCTIONS, False, "valgrind not installed (apt-get install valgrind)")
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return MeterProbe(VALGRIND_INSTRUCTIONS, False, f"{path} does not run: {exc}")
    return MeterProbe(VALGRIND_INSTRUCTIONS, True, f"{version} (cachegrind, no cache simulation)")


def probe_meters() -> list[MeterProbe]:
    """One line per meter, instruction meters first, in order of preference."""
    from assay.measure.instructions import probe_perf
    from assay.measure.interpreter_events import find_monitoring_python
    from assay.measure.memory import clear_refs_available

    perf = probe_perf()
    valgrind = _valgrind_probe()
    probes = [MeterProbe(PERF_INSTRUCTIONS, perf.available, perf.reason), valgrind]
    chosen = "perf" if perf.available else ("valgrind" if valgrind.available else None)
    probes.append(
        MeterProbe(
            "instruction meter in use",
            chosen is not None,
            {"perf": PERF_INSTRUCTIONS, "valgrind": VALGRIND_INSTRUCTIONS}.get(chosen or "", "none: CPU time only"),
        )
    )
    monitoring = find_monitoring_python()
    probes.append(
        MeterProbe(
            INTERPRETER_EVENTS,
            monitoring is not None,
            f"secondary meter, {monitoring.executable}" if monitoring else "needs a Python >= 3.12",
        )
    )
    probes.append(MeterProbe(CPU_TIME, True, "kernel-read CPU time with interleaved repeats"))
    rss = clear_refs_available()
    probes.append(
        MeterProbe(
            PEAK_RSS, rss, "VmHWM reset through /proc/self/clear_refs" if rss else "/proc/self/clear_refs not writable"
        )
    )
    probes.append(MeterProbe(PYTHON_HEAP_PEAK, True, "tracemalloc (labelled alternative)"))
    return probes
