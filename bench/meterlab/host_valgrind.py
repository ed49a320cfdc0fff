"""Host-side instruction counts of one function call (lab code, not used by assay).

assay counts instructions in the sandbox (:mod:`assay.measure.valgrind`);
this is the warm host-side meter the lab and ``overhead.py`` use, and the
perf backend that no machine here has.

Two backends, probed in this order:

1. **perf** — hardware counters through ``perf_event_open`` (user-space
   instructions retired, counted in the forked child around the call only).
   Cheap, but absent in most VMs (``perf stat -e instructions`` says "not
   supported"); see :func:`probe_perf`.
2. **valgrind** — ``valgrind --tool=cachegrind --cache-sim=no`` (instruction
   counting only, no cache simulation). Exactly repeatable with
   ``PYTHONHASHSEED=0``. Only the call is counted: the harness forks, per
   input, a child calling an empty function of the same arity and a child
   calling the real one; valgrind's counters are inherited through fork, so
   the difference of their final counts is the call (see
   ``call_harness.py``). Start-up, imports, loading the program and decoding
   the inputs cancel out, and one valgrind start serves every input of a
   program (or, with :class:`ValgrindInstructionMeter`, many programs).

The command line, the log reading and the calibration come from
:mod:`assay.measure.valgrind`, as in the sandbox.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from assay.measure import call_harness
from assay.measure.cost import Cost
from assay.measure.harness_job import HARNESS_PATH, MEASURE_ENV, HarnessError, HarnessJob, Payload, harness_command
from assay.measure.valgrind import calibration_gap, find_valgrind, read_summaries, valgrind_command
from meterlab.harness_process import HarnessProcess, JobRecords
from meterlab.names import PERF_INSTRUCTIONS, VALGRIND_INSTRUCTIONS, versioned_meter

UNIT = "instructions"

class MeterUnavailable(RuntimeError):
    """No instruction meter can run here; the message says why."""


class MeasurementFailed(RuntimeError):
    """The measured call did not complete (error, timeout, crash)."""

    def __init__(self, status: str, error: str | None):
        super().__init__(f"{status}: {error}" if error else status)
        self.status = status
        self.error = error


@dataclass(frozen=True)
class PerfProbe:
    available: bool
    reason: str


@dataclass(frozen=True)
class InstructionCount:
    """The count for one input, or why there is none."""

    index: int
    status: str  # "ok" | "error" | "timeout" | "crash" | "infra_error" | "over_budget"
    cost: Cost | None = None
    digest: str | None = None  # result_digest of the returned value
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# ------------------------------------------------------------------ probes


def probe_perf() -> PerfProbe:
    """Can this process count user-space instructions with perf_event_open?"""
    try:
        counter = call_harness.PerfCounter()
    except OSError as exc:
        return PerfProbe(False, str(exc))
    try:
        counter.start()
        count = counter.stop()
    except OSError as exc:
        return PerfProbe(False, f"perf counter unreadable: {exc}")
    finally:
        os.close(counter.fd)
    if count <= 0:
        return PerfProbe(False, "perf counter counted nothing")
    return PerfProbe(True, "hardware instruction counter via perf_event_open")


def select_backend() -> str:
    """"perf" where hardware counters work, else "valgrind"; raises if neither."""
    if probe_perf().available:
        return "perf"
    if find_valgrind():
        return "valgrind"
    raise MeterUnavailable(
        "no instruction meter: perf_event_open has no instruction counter here "
        f"({probe_perf().reason}) and valgrind is not installed (apt-get install valgrind)"
    )


# ------------------------------------------------------------ valgrind path


def _real_python() -> str:
    """The interpreter binary itself (valgrind follows no venv launcher)."""
    return os.path.realpath(sys.executable)


def _costs_from_records(
    records: JobRecords, counts: dict[int, int], *, gap: int, budget: float | None, meter: str
) -> list[InstructionCount]:
    if records.load_error is not None:
        raise MeasurementFailed("error", f"the program did not load: {records.load_error}")
    out: list[InstructionCount] = []
    for index in range(records.n_inputs):
        record = records.result(index)
        status = record.get("status", "infra_error")
        if status != "ok":
            out.append(InstructionCount(index, status, error=record.get("error")))
            continue
        a, b = record.get("a"), record.get("b")
        if a not in counts or b not in counts:
            out.append(InstructionCount(index, "infra_error", error="no valgrind summary for the measured pair"))
            continue
        value = (counts[b] - counts[a]) - gap
        cost = Cost(float(max(value, 0)), UNIT, meter, 0.0, 1)
        status = "over_budget" if budget is not None and value > budget else "ok"
        out.append(InstructionCount(index, status, cost, record.get("digest")))
    return out


Allocator = Literal["pymalloc", "malloc"]


def measure_env(allocator: Allocator = "pymalloc") -> dict[str, str]:
    """The measured interpreter's environment for an allocator choice.

    ``pymalloc`` (CPython's default) is what programs really run with; the
    same call can then cost a few percent more or less depending on what the
    program did at module level (pymalloc's pool state; up to 5% measured on
    an int-allocating loop). ``malloc`` (``PYTHONMALLOC=malloc``) makes counts
    nearly independent of that (0.1%) but charges allocations glibc's price
    (30-50% more instructions on allocation-heavy loops).
    """
    env = dict(MEASURE_ENV)
    if allocator == "malloc":
        env["PYTHONMALLOC"] = "malloc"
    elif allocator != "pymalloc":
        raise ValueError(f"unknown allocator {allocator!r}")
    return env


class ValgrindInstructionMeter:
    """A warm harness under valgrind that measures many programs.

    Valgrind's start-up (translating the interpreter, ~1.5-2.5 s here) is paid
    once; each program then costs a fork, loading the program, and the
    counted calls (at cachegrind's slowdown). Use as a context manager.
    """

    def __init__(
        self,
        *,
        python: str | None = None,
        valgrind: str | None = None,
        no_site: bool = True,
        allocator: Allocator = "pymalloc",
    ):
        valgrind = valgrind or find_valgrind()
        if not valgrind:
            raise MeterUnavailable("valgrind is not installed (apt-get install valgrind)")
        self.env = measure_env(allocator)
        self.allocator = allocator
        self._log_dir = tempfile.mkdtemp(prefix="assay-vg-")
        self.command = valgrind_command(self._log_dir, python=python or _real_python(), valgrind=valgrind, no_site=no_site)
        self._process: HarnessProcess | None = None
        self._gap = 0

    def _harness(self) -> HarnessProcess:
        if self._process is None:
            process = HarnessProcess(self.command, env=self.env)
            try:
                self._gap = calibration_gap(process.calibration, read_summaries(self._log_dir))
            except HarnessError:
                process.kill()
                process.close()
                raise
            self._clear_logs(keep=process.pid_inside)
            self._process = process
        return self._process

    def measure(
        self,
        program_source: str,
        function_name: str,
        inputs: Sequence[Payload],
        timeout: float = 60.0,
        *,
        budget: float | None = None,
        verify: bool = True,
    ) -> list[InstructionCount]:
        """Count each input's call; ``timeout`` is wall seconds per call under valgrind.

        ``verify``: also return a digest of each result (compare it with
        :func:`~assay.measure.call_harness.result_digest` of the answer the
        native run gave, so code that behaves differently under the meter is
        caught); costs two extra forks per input.
        """
        job = HarnessJob(program_source, function_name, tuple(inputs), timeout, verify)
        harness = self._harness()
        try:
            records = harness.run(job)
        except HarnessError:
            self._discard()
            raise
        try:
            counts = read_summaries(self._log_dir)
            meter = versioned_meter(VALGRIND_INSTRUCTIONS, harness.python_version)
            if self.allocator != "pymalloc":
                meter += "+" + self.allocator
            return _costs_from_records(records, counts, gap=self._gap, budget=budget, meter=meter)
        finally:
            if harness.alive:
                self._clear_logs(keep=harness.pid_inside)
            else:
                self._discard()

    def _clear_logs(self, keep: int) -> None:
        for path in Path(self._log_dir).glob("vg.*.log"):
            if path.name != f"vg.{keep}.log":
                path.unlink(missing_ok=True)

    def _discard(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.close()
            self._process = None
        self._clear_logs(keep=-1)

    def close(self) -> None:
        if self._process is not None:
            self._process.close()
            self._process = None
        shutil.rmtree(self._log_dir, ignore_errors=True)

    def __enter__(self) -> ValgrindInstructionMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------- perf path


def _perf_counts(
    program_source: str, function_name: str, inputs: Sequence[Payload], timeout: float, budget: float | None
) -> list[InstructionCount]:
    job = HarnessJob(program_source, function_name, tuple(inputs), timeout)
    with HarnessProcess(harness_command("perf", _real_python()), env=MEASURE_ENV) as harness:
        records = harness.run(job)
        meter = versioned_meter(PERF_INSTRUCTIONS, harness.python_version)
    if records.load_error is not None:
        raise MeasurementFailed("error", f"the program did not load: {records.load_error}")
    out = []
    for index in range(records.n_inputs):
        record = records.result(index)
        if record.get("status") != "ok" or record.get("baseline") is None:
            out.append(InstructionCount(index, record.get("status", "infra_error"), error=record.get("error")))
            continue
        value = max(0, int(record["count"]) - int(record["baseline"]))
        cost = Cost(float(value), UNIT, meter, 0.0, 1)
        status = "over_budget" if budget is not None and value > budget else "ok"
        out.append(InstructionCount(index, status, cost, record.get("digest")))
    return out


# ------------------------------------------------------------------ the API


def count_instructions_batch(
    program_source: str,
    function_name: str,
    inputs: Sequence[Payload],
    timeout: float = 60.0,
    *,
    budget: float | None = None,
    backend: str | None = None,
    allocator: Allocator = "pymalloc",
) -> list[InstructionCount]:
    """Count the instructions of ``function_name(*args)`` for each input.

    One meter process serves all inputs. ``backend`` is "perf", "valgrind"
    or None (probe: perf where it works, else valgrind). ``budget``: counts
    above it get status "over_budget" (the count is still reported).
    """
    backend = backend or select_backend()
    if backend == "perf":
        return _perf_counts(program_source, function_name, inputs, timeout, budget)
    if backend != "valgrind":
        raise ValueError(f"unknown backend {backend!r}")
    with ValgrindInstructionMeter(allocator=allocator) as meter:
        return meter.measure(program_source, function_name, inputs, timeout, budget=budget)


def count_instructions(
    program_source: str,
    function_name: str,
    args: Payload,
    timeout: float = 60.0,
    *,
    backend: str | None = None,
    allocator: Allocator = "pymalloc",
) -> Cost:
    """Instructions executed by one call ``function_name(*args)``.

    ``args`` is a Python literal of the argument tuple (``"([3, 1, 2],)"``),
    a pickle of it, or the tuple itself. Raises :class:`MeasurementFailed`
    if the call raises, times out or crashes.
    """
    (result,) = count_instructions_batch(
        program_source, function_name, [args], timeout, backend=backend, allocator=allocator
    )
    if result.cost is None or result.status not in ("ok", "over_budget"):
        raise MeasurementFailed(result.status, result.error)
    return result.cost


__all__ = [
    "HARNESS_PATH",
    "InstructionCount",
    "MeasurementFailed",
    "MeterUnavailable",
    "PerfProbe",
    "ValgrindInstructionMeter",
    "count_instructions",
    "count_instructions_batch",
    "probe_perf",
    "read_summaries",
    "select_backend",
    "valgrind_command",
]
