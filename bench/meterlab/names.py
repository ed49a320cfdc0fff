"""Meter names of the lab meters (host-side; assay itself has ``cpu-time`` and ``instructions``:
:mod:`assay.measure.meters`).

A lab meter name pins down everything that makes two numbers comparable: the
counting method and, where counts depend on it, the interpreter version (the
caller appends it, e.g. "interpreter-events/3.12").
"""

VALGRIND_INSTRUCTIONS = "valgrind-instructions"
PERF_INSTRUCTIONS = "perf-instructions"
INTERPRETER_EVENTS = "interpreter-events"
CPU_TIME = "cpu-time"
WALL_TIME = "wall-time"  # fallback only; always labelled
PEAK_RSS = "peak-rss"
PYTHON_HEAP_PEAK = "tracemalloc-peak"

DETERMINISTIC_METERS = frozenset({VALGRIND_INSTRUCTIONS, INTERPRETER_EVENTS})


def versioned_meter(base: str, python_version: tuple[int, ...]) -> str:
    """``base/3.11``: counts of one program differ between interpreter versions."""
    return f"{base}/{python_version[0]}.{python_version[1]}"


def is_deterministic(meter: str) -> bool:
    return meter.split("/", 1)[0] in DETERMINISTIC_METERS
