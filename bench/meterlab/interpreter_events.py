"""Secondary meter: bytecode instructions executed, counted with sys.monitoring.

Python >= 3.12 reports every executed bytecode instruction to a registered
tool (PEP 669, ``sys.monitoring.events.INSTRUCTION``). The count is exactly
repeatable and needs no Valgrind, but it is blind to work done in C:
``sorted`` of a million items is one instruction like ``sorted`` of ten. So it
is a labelled secondary meter (its meter name carries the interpreter
version, because bytecode differs between versions), never the default.

The count excludes an empty call of the same arity, like the instruction
meter, and every call runs in a fresh fork of the loaded program.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Sequence

from assay.measure.cost import Cost
from assay.measure.harness_job import MEASURE_ENV, HarnessJob, Payload, harness_command
from meterlab.harness_process import HarnessProcess
from meterlab.host_valgrind import InstructionCount, MeasurementFailed, MeterUnavailable
from meterlab.names import INTERPRETER_EVENTS, versioned_meter

UNIT = "bytecodes"
MIN_VERSION = (3, 12)


@dataclass(frozen=True)
class MonitoringPython:
    executable: str
    version: tuple[int, int]

    @property
    def meter(self) -> str:
        return versioned_meter(INTERPRETER_EVENTS, self.version)


def _version_of(executable: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [executable, "-S", "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=20,
            env=MEASURE_ENV,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 2:
        return None
    return int(parts[0]), int(parts[1])


def find_monitoring_python(preferred: str | None = None) -> MonitoringPython | None:
    """An interpreter with sys.monitoring (>= 3.12), or None.

    Looks at ``preferred``, ``$ASSAY_MONITORING_PYTHON``, the running
    interpreter, ``python3.13``/``python3.12`` on PATH, then pyenv versions.
    """
    candidates: list[str] = []
    for explicit in (preferred, os.environ.get("ASSAY_MONITORING_PYTHON")):
        if explicit:
            candidates.append(explicit)
    if sys.version_info >= MIN_VERSION:
        candidates.append(os.path.realpath(sys.executable))
    for name in ("python3.13", "python3.12"):
        found = shutil.which(name)
        if found:
            candidates.append(found)
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.1[2-9]*", "bin", "python3")), reverse=True)
    for candidate in candidates:
        version = _version_of(candidate)
        if version is not None and version >= MIN_VERSION:
            return MonitoringPython(os.path.realpath(candidate), version)
    return None


def count_interpreter_events_batch(
    program_source: str,
    function_name: str,
    inputs: Sequence[Payload],
    timeout: float = 60.0,
    *,
    python: str | None = None,
) -> list[InstructionCount]:
    """Bytecode instructions executed by each call (minus an empty call)."""
    interpreter = find_monitoring_python(python)
    if interpreter is None:
        raise MeterUnavailable("no Python >= 3.12 found for the interpreter-events meter")
    job = HarnessJob(program_source, function_name, tuple(inputs), timeout)
    with HarnessProcess(harness_command("interpreter-events", interpreter.executable), env=MEASURE_ENV) as harness:
        records = harness.run(job)
    if records.load_error is not None:
        raise MeasurementFailed("error", f"the program did not load: {records.load_error}")
    out: list[InstructionCount] = []
    for index in range(records.n_inputs):
        record = records.result(index)
        if record.get("status") != "ok" or record.get("baseline") is None:
            out.append(InstructionCount(index, record.get("status", "infra_error"), error=record.get("error")))
            continue
        value = max(0, int(record["count"]) - int(record["baseline"]))
        cost = Cost(float(value), UNIT, interpreter.meter, 0.0, 1)
        out.append(InstructionCount(index, "ok", cost, record.get("digest")))
    return out


def count_interpreter_events(
    program_source: str, function_name: str, args: Payload, timeout: float = 60.0, *, python: str | None = None
) -> Cost:
    (result,) = count_interpreter_events_batch(program_source, function_name, [args], timeout, python=python)
    if result.cost is None:
        raise MeasurementFailed(result.status, result.error)
    return result.cost
