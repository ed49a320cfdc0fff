"""Per-sample efficiency on stress inputs: ENAMEL's score on a chosen meter.

After a sample passes its correctness tests, its stress workload (ENAMEL's
generators at their size levels, expected outputs from the reference; see
:mod:`assay.workloads`) runs in the sandbox and each level gets a cost on one
meter. The reference is measured the same way, in the same run, once per
problem. :func:`assay.metrics.efficiency_score` turns the two into ENAMEL's
score in [0, 1].

Meters
------
``cpu``
    The sandbox's per-call CPU time of the candidate process (read from the
    kernel by the trusted monitor). Every stress input runs ``repeats`` times
    (default 3, each repeat a fresh process); a test's cost is the median of
    its repeats (with 3 repeats the Hodges-Lehmann estimate is the same order
    statistic up to averaging; the median is used so a censored repeat counts
    as +inf, not as a number). The budget is ENAMEL's T = alpha * max
    reference level cost; each call is cut off by the sandbox's per-call CPU
    limit at T + 10 ms (ENAMEL's tolerance), so a slow candidate is
    right-censored at that level instead of running on. Noisy: see
    docs/benchmarks.md, section ``efficiency``.
``instructions``
    Instruction counts from cachegrind (``--cache-sim=no``) running the call
    harness *inside the sandbox* (exec mode): one valgrind process per sample
    counts every stress input (each input in its own forked process, the cost
    of an empty call with the same arguments subtracted; see
    ``assay.measure.call_harness``). Deterministic (PYTHONHASHSEED=0). The
    cheap CPU run comes first: a sample it shows wrong, or hopelessly over
    budget (more than ``screen_factor`` times the CPU budget) at a level, is
    not given to valgrind for that level and above. Budget: T = alpha * max
    reference count, tolerance 0 (a count is exact).

Speedup
-------
``speedup`` = reference cost / sample cost on the *largest* level (the last,
highest-weight one), on the same meter. It is None when the sample did not
complete that level (censored: its cost there is unknown, only above the
budget) or failed.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Sequence

from assay.measure import call_harness
from assay.measure.harness_client import MEASURE_ENV, HARNESS_PATH, HarnessError, HarnessJob
from assay.measure.instructions import calibration_gap, find_valgrind, read_summaries, valgrind_command
from assay.metrics import (
    ENAMEL_TOLERANCE_SECONDS,
    EfficiencySpec,
    LevelOutcome,
    LevelStatus,
    efficiency_score,
)
from assay.problems.model import CallTest, Problem
from assay.sandbox.judge import reply_status, run_checker
from assay.sandbox.compare import values_equal
from assay.sandbox.limits import Limits
from assay.sandbox.pool import Sandbox
from assay.sandbox.verdict import Status
from assay.sandbox.worker import InfraError, Session, Worker
from assay.workloads import Workload, WorkloadError, build_workload

Meter = Literal["cpu", "instructions"]
METERS: tuple[str, ...] = ("cpu", "instructions")
UNITS = {"cpu": "cpu_seconds", "instructions": "instructions"}
METER_NAMES = {"cpu": "sandbox-cpu-time", "instructions": "valgrind-cachegrind-instructions"}
GiB = 1 << 30


def default_meter() -> tuple[str, str | None]:
    """("instructions", None) where valgrind is installed, else ("cpu", a loud note)."""
    if find_valgrind():
        return "instructions", None
    return "cpu", (
        "WARNING: valgrind is not installed, so efficiency is measured on CPU time, "
        "which varies between runs (see docs/efficiency.md); install valgrind for "
        "deterministic instruction counts"
    )


# ------------------------------------------------------------------ results


@dataclass(frozen=True)
class LevelCost:
    """A sample's result at one size level, on one meter."""

    level: int
    size: int
    weight: float
    status: str  # LevelStatus value: ok | censored | wrong | not_run
    value: float | None
    unit: str
    meter: str
    reference: float | None = None  # the reference's cost at this level, same meter

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "size": self.size,
            "weight": self.weight,
            "status": self.status,
            "value": self.value,
            "unit": self.unit,
            "meter": self.meter,
            "reference": self.reference,
        }


@dataclass(frozen=True)
class SampleEfficiency:
    """ENAMEL's efficiency of one sample: score in [0, 1], per-level costs, speedup."""

    task_id: str
    meter: str
    unit: str
    passed: bool  # ENAMEL's pass: no wrong answer and level 0 completed
    score: float
    levels: tuple[LevelCost, ...] = ()
    budget: float | None = None
    speedup: float | None = None
    censored_at: int | None = None
    failed_at: int | None = None
    note: str | None = None  # why there is no measurement (no workload, infra error, ...)
    seconds: float = 0.0  # wall time spent measuring this sample

    @property
    def measured(self) -> bool:
        """False when there is no score (no workload for the problem, or an infrastructure error)."""
        return not math.isnan(self.score)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "meter": self.meter,
            "unit": self.unit,
            "passed": self.passed,
            "score": self.score,
            "budget": self.budget,
            "speedup": self.speedup,
            "censored_at": self.censored_at,
            "failed_at": self.failed_at,
            "levels": [level.to_dict() for level in self.levels],
            "seconds": round(self.seconds, 3),
        }
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class ReferenceProfile:
    """The reference's level costs on one meter (max over each level's tests)."""

    task_id: str
    meter: str
    levels: tuple[float, ...]
    test_costs: tuple[tuple[float, ...], ...]
    overheads: tuple[tuple[float, float], ...] = ()  # CPU meter: seconds decoding and encoding, per test in order


class EfficiencyUnavailable(Exception):
    """No efficiency measurement is possible for this problem (the message says why)."""


# ------------------------------------------------------------------ sandbox access


@contextlib.contextmanager
def leased_worker(sandbox: Sandbox) -> Iterator[Worker]:
    """A free worker of the pool, started. (Wanted upstream: ``Sandbox.lease()``.)"""
    worker = sandbox._free.get()  # noqa: SLF001 - no public lease API yet
    try:
        worker.ensure_started()
        yield worker
    finally:
        sandbox._free.put(worker)  # noqa: SLF001


def run_exec(sandbox: Sandbox, argv: list[str], files: dict[str, str], collect: list[str], limits: Limits):
    """Run a separate program in one of the sandbox's workers (exec mode); one retry on infra failure."""
    failure: InfraError | None = None
    for _ in range(2):
        with leased_worker(sandbox) as worker:
            try:
                return Session(worker, "", limits).run_exec(argv, files=files, collect=collect)
            except InfraError as exc:
                failure = exc
                worker.stop()
    raise InfraError("exec in the sandbox failed twice: %s" % failure)


@dataclass(frozen=True)
class _TestRun:
    status: LevelStatus
    cpu_ns: int  # the call's window
    before_ns: int = 0  # before it: decoding the arguments
    after_ns: int = 0  # after it: encoding the result


# As in ENAMEL's evaluator, running out of room on a large input is a limit
# reached, not a wrong answer: the level and those above score 0, the sample
# still passes (MemoryError arrives as the memory status).
CENSORING_EXCEPTIONS = frozenset({"MemoryError", "OverflowError"})


# The candidate's harness marks the call's window, and candidate code could
# forge the marks (say, "returned" at once, then the real work). So the CPU
# before and after the window may exceed the reference's for the same input
# by this factor plus this margin; beyond that, everything the request cost
# counts, less the reference's own decoding and encoding.
OUTSIDE_FACTOR = 2.0
OUTSIDE_MARGIN_SECONDS = 0.0005


def _call_cost(run: _TestRun, allowance: tuple[float, float] | None) -> float:
    """Seconds a call cost: its window, unless too much happened outside it."""
    window, before, after = run.cpu_ns / 1e9, run.before_ns / 1e9, run.after_ns / 1e9
    if allowance is None:
        return window
    ref_before, ref_after = allowance
    if before <= OUTSIDE_FACTOR * ref_before + OUTSIDE_MARGIN_SECONDS and after <= OUTSIDE_FACTOR * ref_after + OUTSIDE_MARGIN_SECONDS:
        return window
    return window + max(0.0, before - ref_before) + max(0.0, after - ref_after)


def _stress_run(sandbox: Sandbox, problem: Problem, program: str, tests: Sequence[CallTest], cutoff_seconds: float, load_limits: Limits, overheads: Sequence[tuple[float, float]] | None = None) -> list[_TestRun]:
    """One batch over the stress tests: one process, each call cut off at ``cutoff_seconds`` of CPU.

    The sandbox's limit covers the whole request, so each call also gets room
    for decoding and encoding (``overheads``: the reference's, per test;
    generous where unknown). The load gets ``load_limits`` (imports are not
    the call's cost). Returns one entry per test that ran; the batch stops
    at the first call that ends the process (a timeout); a wrong answer does
    not stop it.
    """
    failure: InfraError | None = None
    limits = [cutoff_seconds + (OUTSIDE_FACTOR * sum(overheads[i]) + 2 * OUTSIDE_MARGIN_SECONDS if overheads else max(1.0, cutoff_seconds)) for i in range(len(tests))]
    for _ in range(2):
        with leased_worker(sandbox) as worker:
            session = Session(worker, program, load_limits)
            calls = [session.call_message(t.function or problem.entry_point, t.args, t.kwargs, limit, 2 * limit + 0.5) for t, limit in zip(tests, limits)]
            try:
                load, replies = session.run_batch(calls, stream=False)
            except InfraError as exc:
                failure = exc
                worker.stop()
                continue
        if load.status != "ok":
            return [_TestRun(LevelStatus.WRONG, 0)]
        out = []
        for test, reply in zip(tests, replies):
            status = reply_status(reply) if reply.status != "ok" else None
            if status is None:
                if test.comparison == "checker":
                    ok, _ = run_checker(problem, test.args, test.expected, reply.value)
                else:
                    ok = values_equal(reply.value, test.expected)
                out.append(_TestRun(LevelStatus.OK if ok else LevelStatus.WRONG, reply.measurement.cpu_ns, reply.measurement.cpu_before_ns, reply.measurement.cpu_after_ns))
            elif status in (Status.TIMEOUT, Status.MEMORY) or reply.exception_type in CENSORING_EXCEPTIONS:
                out.append(_TestRun(LevelStatus.CENSORED, reply.measurement.cpu_ns))
            else:
                out.append(_TestRun(LevelStatus.WRONG, reply.measurement.cpu_ns))
        return out
    raise InfraError("stress run failed twice: %s" % failure)


# ------------------------------------------------------------------ valgrind in the sandbox

_DRIVER = r'''
import base64, glob, os, subprocess, sys
job = base64.b64decode(open("job.b64").read())
argv = open("argv.txt").read().split("\n")
env = {"PYTHONHASHSEED": "0", "LC_ALL": "C", "PATH": "/usr/bin:/bin"}
proc = subprocess.run(argv, input=job, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
with open("records.txt", "wb") as out:
    out.write(proc.stdout)
with open("logs.txt", "w") as out:
    for path in sorted(glob.glob("vg.*.log")):
        out.write("@@ %s\n" % path)
        with open(path, errors="replace") as handle:
            out.write(handle.read())
print(proc.returncode)
'''


def instruction_counts(sandbox: Sandbox, python: str, jobs: Sequence[tuple[str, str, Sequence[tuple]]], per_call_timeout: float) -> list[list[tuple[str, float | None]]]:
    """(status, count) per input of each job (program, function, inputs), counted by valgrind in the sandbox.

    All jobs share one valgrind process (its start-up, ~4 s here, is paid
    once); each job is loaded in a fresh forked process, each input counted
    in its own. Counts of a job depend (by a few hundred instructions) on
    the pids it gets, hence on the jobs before it: for repeatable numbers
    give one job per call (it is then the first in a fresh pid namespace). status is "ok" or the harness's status ("error", "timeout",
    "crash", ...). Raises :class:`InfraError` when the measurement failed.
    """
    argv = valgrind_command(".", python=python)
    argv = [("harness.py" if a == str(HARNESS_PATH) else a) for a in argv]
    frames = b"".join(HarnessJob(program, function, tuple(tuple(args) for args in inputs), per_call_timeout, verify=False).encode() for program, function, inputs in jobs)
    files = {
        "driver.py": _DRIVER,
        "harness.py": HARNESS_PATH.read_text(),
        "argv.txt": "\n".join(argv),
        "job.b64": base64.b64encode(frames).decode("ascii"),
    }
    n_inputs = sum(len(inputs) for _, _, inputs in jobs)
    wall = 60.0 + 2 * (n_inputs + 2 * len(jobs)) * (per_call_timeout + 5.0)
    limits = replace(sandbox.limits, memory_bytes=16 * GiB, cpu_seconds=wall, wall_seconds=wall, sample_cpu_seconds=wall, processes=max(sandbox.limits.processes, 256), file_bytes=256 << 20)
    reply = run_exec(sandbox, [python, "-S", "driver.py"], files, ["records.txt", "logs.txt"], limits)
    if reply.status != "exited" or reply.exit_code != 0:
        raise InfraError("valgrind driver ended with %s %s: %s" % (reply.status, reply.exit_code, (reply.stderr or reply.message or "")[-500:]))
    try:
        records = [ast.literal_eval(line) for line in (reply.files.get("records.txt") or "").splitlines() if line.strip()]
    except (ValueError, SyntaxError) as exc:
        raise InfraError("unreadable harness records: %s" % exc) from exc
    counts = _parse_logs(reply.files.get("logs.txt") or "")
    calibration = next((r["calibration"] for r in records if "calibration" in r), None)
    try:
        gap = calibration_gap(calibration, counts)
    except HarnessError as exc:
        raise InfraError("valgrind calibration failed: %s" % exc) from exc
    per_job: list[list[dict]] = [[]]
    for record in records:
        if record.get("end"):
            per_job.append([])
        elif "load_error" in record or "index" in record:
            per_job[-1].append(record)
    out: list[list[tuple[str, float | None]]] = []
    for (_, _, inputs), job_records in zip(jobs, per_job + [[]] * len(jobs)):
        if any("load_error" in r for r in job_records):
            out.append([("error", None)] * len(inputs))
            continue
        by_index = {int(r["index"]): r for r in job_records}
        row: list[tuple[str, float | None]] = []
        for index in range(len(inputs)):
            record = by_index.get(index)
            if record is None:
                row.append(("crash", None))
            elif record.get("status") != "ok":
                row.append((str(record.get("status")), None))
            elif record.get("a") not in counts or record.get("b") not in counts:
                raise InfraError("no valgrind summary for input %d" % index)
            else:
                row.append(("ok", float(max(0, counts[record["b"]] - counts[record["a"]] - gap))))
        out.append(row)
    return out


def _parse_logs(text: str) -> dict[int, int]:
    """pid -> count from the driver's concatenation of cachegrind logs (checked by read_summaries)."""
    with tempfile.TemporaryDirectory(prefix="assay-eff-vg-") as tmp:
        name, chunk = None, []
        for line in text.splitlines(keepends=True):
            if line.startswith("@@ vg.") and line.rstrip().endswith(".log"):
                if name:
                    Path(tmp, name).write_text("".join(chunk))
                name, chunk = os.path.basename(line[3:].strip()), []
            else:
                chunk.append(line)
        if name:
            Path(tmp, name).write_text("".join(chunk))
        try:
            return read_summaries(tmp)
        except HarnessError as exc:
            raise InfraError(str(exc)) from exc


# ------------------------------------------------------------------ the evaluator


@dataclass
class EfficiencyConfig:
    meter: str = "cpu"
    repeats: int = 3  # CPU meter: repeats per stress input
    spec: EfficiencySpec = field(default_factory=EfficiencySpec)
    cpu_tolerance_seconds: float = ENAMEL_TOLERANCE_SECONDS
    screen_factor: float = 3.0  # instruction meter: levels whose CPU cost exceeds this x the CPU budget are not counted
    valgrind_timeout_factor: float = 200.0  # per-call wall limit under valgrind = this x the CPU cutoff (at least 30 s)
    python: str | None = None  # interpreter valgrind runs (default: the real binary of this one)
    # Costs below the meter's resolution are raised to it, for the reference
    # and the sample alike (a call's window is read to the nanosecond while
    # the candidate waits, but below ~0.1 ms the window's own cost dominates;
    # a zero reference would make ENAMEL's T - r zero).
    cpu_resolution_seconds: float = 1e-4
    instruction_resolution: float = 1.0
    # Instruction meter: a count this many times below what the native CPU
    # time implies (at the reference's instructions per second) is not
    # believed; levels whose native run took less than
    # plausibility_cpu_seconds are too small to check.
    implausible_factor: float = 25.0
    plausibility_cpu_seconds: float = 0.002
    # A level that looks implausible is timed again this many times and its
    # least CPU time kept: interference only ever adds time, so one quiet
    # repeat clears a count that a noisy screen run made look too low.
    plausibility_repeats: int = 5


class EfficiencyEvaluator:
    """Measures samples' efficiency on one meter; caches workloads and reference costs per problem.

    Thread-safe: samples may be measured concurrently (one sandbox worker each).
    """

    def __init__(self, sandbox: Sandbox, config: EfficiencyConfig | None = None) -> None:
        self.sandbox = sandbox
        self.config = config or EfficiencyConfig()
        if self.config.meter not in METERS:
            raise ValueError("unknown meter %r; choose one of %s" % (self.config.meter, ", ".join(METERS)))
        if self.config.meter == "instructions" and not find_valgrind():
            raise EfficiencyUnavailable("the instruction meter needs valgrind (apt-get install valgrind)")
        self.python = self.config.python or os.path.realpath(sys.executable)
        self._workloads: dict[str, Workload | str] = {}
        self._cpu_refs: dict[str, ReferenceProfile] = {}
        self._ins_refs: dict[str, ReferenceProfile] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @property
    def meter(self) -> str:
        return self.config.meter

    @property
    def unit(self) -> str:
        return UNITS[self.meter]

    def _problem_lock(self, task_id: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(task_id, threading.Lock())

    # ---------------------------------------------------------------- per problem

    def workload(self, problem: Problem) -> Workload:
        with self._problem_lock(problem.task_id):
            cached = self._workloads.get(problem.task_id)
            if cached is None:
                try:
                    cached = build_workload(problem, self.sandbox)
                except WorkloadError as exc:
                    cached = str(exc)
                self._workloads[problem.task_id] = cached
        if isinstance(cached, str):
            raise EfficiencyUnavailable(cached)
        return cached

    def _load_limits(self) -> Limits:
        base = self.sandbox.limits
        return replace(base, cpu_seconds=max(base.cpu_seconds, 10.0), wall_seconds=max(base.wall_seconds, 30.0), sample_cpu_seconds=max(base.sample_cpu_seconds, 600.0))

    def _cpu_test_costs(
        self,
        problem: Problem,
        program: str,
        workload: Workload,
        cutoff: float,
        repeats: int,
        overheads: Sequence[tuple[float, float]] | None = None,
        aggregate: Callable[[list[float]], float] = statistics.median,
    ) -> tuple[list[LevelStatus], list[list[float]]]:
        """Per level: status and per-test CPU seconds over the repeats, median by default (inf where censored).

        ``overheads`` (the reference's CPU outside the call, per test) bound
        what a call may leave outside its window (see :func:`_call_cost`).
        """
        tests = list(workload.tests)
        runs: list[list[_TestRun]] = []
        for repeat in range(repeats):
            run = _stress_run(self.sandbox, problem, program, tests, cutoff, self._load_limits(), overheads)
            runs.append(run)
            if any(r.status is LevelStatus.WRONG for r in run):
                break  # a wrong answer: no point in repeating
        statuses: list[LevelStatus] = []
        costs: list[list[float]] = []
        position = 0
        stopped = False
        for level in workload.levels:
            level_costs: list[float] = []
            status = LevelStatus.OK
            for _ in level.tests:
                if stopped:
                    status = LevelStatus.NOT_RUN if status is LevelStatus.OK else status
                    position += 1
                    continue
                seen = [run[position] for run in runs if position < len(run)]
                if any(r.status is LevelStatus.WRONG for r in seen):
                    status, stopped = LevelStatus.WRONG, True
                else:
                    allowance = overheads[position] if overheads else None
                    values = [_call_cost(r, allowance) if r.status is LevelStatus.OK else math.inf for r in seen]
                    values += [math.inf] * (len(runs) - len(seen))  # did not run: an earlier test ended the process
                    value = aggregate(values) if values else math.inf
                    if math.isinf(value):
                        status, stopped = LevelStatus.CENSORED, True
                    else:
                        level_costs.append(value)
                position += 1
            statuses.append(status)
            costs.append(level_costs)
        return statuses, costs

    def cpu_reference(self, problem: Problem) -> ReferenceProfile:
        with self._problem_lock(problem.task_id):
            cached = self._cpu_refs.get(problem.task_id)
            if cached is not None:
                return cached
        workload = self.workload(problem)
        tests = list(workload.tests)
        runs = [_stress_run(self.sandbox, problem, problem.reference or "", tests, self._load_limits().cpu_seconds, self._load_limits()) for _ in range(self.config.repeats)]
        if any(len(run) != len(tests) or any(r.status is not LevelStatus.OK for r in run) for run in runs):
            raise EfficiencyUnavailable("%s: the reference does not complete its own stress inputs on the CPU meter" % problem.task_id)
        medians = [statistics.median(run[i].cpu_ns for run in runs) / 1e9 for i in range(len(tests))]
        overheads = tuple((statistics.median(run[i].before_ns for run in runs) / 1e9, statistics.median(run[i].after_ns for run in runs) / 1e9) for i in range(len(tests)))
        costs, position = [], 0
        for level in workload.levels:
            costs.append(medians[position : position + len(level.tests)])
            position += len(level.tests)
        floor = self.config.cpu_resolution_seconds
        profile = ReferenceProfile(problem.task_id, "cpu", tuple(max(floor, max(c)) for c in costs), tuple(tuple(c) for c in costs), overheads)
        with self._problem_lock(problem.task_id):
            self._cpu_refs[problem.task_id] = profile
        return profile

    def _weighted_levels(self, workload: Workload) -> list[int]:
        """Levels counted on the instruction meter: those with a weight (ENAMEL's level 0 only checks correctness)."""
        return [j for j, w in enumerate(self.config.spec.weights) if w > 0]

    def _reference_profile(self, problem: Problem, workload: Workload, counts: list[tuple[str, float | None]]) -> ReferenceProfile:
        if any(status != "ok" for status, _ in counts):
            raise EfficiencyUnavailable("%s: the reference fails under valgrind: %s" % (problem.task_id, sorted({s for s, _ in counts})))
        levels: list[float | None] = [None] * len(workload.levels)
        tests: list[tuple[float, ...]] = [()] * len(workload.levels)
        position = 0
        for j in self._weighted_levels(workload):
            values = tuple(float(c) for _, c in counts[position : position + len(workload.levels[j].tests)])
            position += len(values)
            levels[j], tests[j] = max(self.config.instruction_resolution, max(values)), values
        return ReferenceProfile(problem.task_id, "instructions", tuple(levels), tuple(tests))  # type: ignore[arg-type]

    def _weighted_inputs(self, workload: Workload, levels: Sequence[int]) -> tuple[list[tuple], list[int]]:
        inputs, owners = [], []
        for j in levels:
            for test in workload.levels[j].tests:
                inputs.append(test.args)
                owners.append(j)
        return inputs, owners

    def _reference_timeout(self, cpu_ref: ReferenceProfile) -> float:
        return max(30.0, self.config.valgrind_timeout_factor * max(cpu_ref.levels))

    def instruction_reference(self, problem: Problem) -> ReferenceProfile:
        """The reference's counts (weighted levels only), once per problem."""
        workload = self.workload(problem)
        cpu_ref = self.cpu_reference(problem)
        with self._problem_lock(problem.task_id):
            cached = self._ins_refs.get(problem.task_id)
            if cached is None:
                inputs, _ = self._weighted_inputs(workload, self._weighted_levels(workload))
                (counts,) = instruction_counts(self.sandbox, self.python, [(problem.reference or "", problem.entry_point, inputs)], self._reference_timeout(cpu_ref))
                cached = self._ins_refs[problem.task_id] = self._reference_profile(problem, workload, counts)
        return cached

    # ---------------------------------------------------------------- per sample

    def measure(self, problem: Problem, program: str, passed_correctness: bool = True) -> SampleEfficiency:
        """The sample's efficiency; a sample that failed its correctness tests scores 0."""
        started = time.monotonic()
        meter, unit = METER_NAMES[self.meter], self.unit
        if not passed_correctness:
            return SampleEfficiency(problem.task_id, meter, unit, False, 0.0, note="failed the correctness tests")
        try:
            workload = self.workload(problem)
            if len(workload.levels) != self.config.spec.n_levels:
                raise EfficiencyUnavailable("%s has %d levels, the spec %d" % (problem.task_id, len(workload.levels), self.config.spec.n_levels))
            cpu_ref = self.cpu_reference(problem)
            result = self._measure_cpu(problem, program, workload, cpu_ref) if self.meter == "cpu" else self._measure_instructions(problem, program, workload, cpu_ref)
        except EfficiencyUnavailable as exc:
            return SampleEfficiency(problem.task_id, meter, unit, True, math.nan, note="no efficiency measurement: %s" % exc, seconds=time.monotonic() - started)
        except InfraError as exc:
            return SampleEfficiency(problem.task_id, meter, unit, True, math.nan, note="infra_error: %s" % exc, seconds=time.monotonic() - started)
        except Exception as exc:  # noqa: BLE001 - one problem's failure must not end a whole evaluation
            return SampleEfficiency(problem.task_id, meter, unit, True, math.nan, note="measurement error: %s: %s" % (type(exc).__name__, exc), seconds=time.monotonic() - started)
        return replace(result, seconds=time.monotonic() - started)

    def _cpu_budget(self, cpu_ref: ReferenceProfile) -> float:
        return self.config.spec.budget(list(cpu_ref.levels))

    def _measure_cpu(self, problem: Problem, program: str, workload: Workload, cpu_ref: ReferenceProfile) -> SampleEfficiency:
        spec = replace(self.config.spec, tolerance=self.config.cpu_tolerance_seconds)
        cutoff = self._cpu_budget(cpu_ref) + spec.tolerance
        statuses, costs = self._cpu_test_costs(problem, program, workload, cutoff, self.config.repeats, cpu_ref.overheads)
        floor = self.config.cpu_resolution_seconds
        outcomes = [LevelOutcome(s, max(floor, max(c)) if s is LevelStatus.OK else None) for s, c in zip(statuses, costs)]
        return self._score(problem, workload, outcomes, list(cpu_ref.levels), spec, METER_NAMES["cpu"])

    def _measure_instructions(self, problem: Problem, program: str, workload: Workload, cpu_ref: ReferenceProfile) -> SampleEfficiency:
        spec = replace(self.config.spec, tolerance=0.0)
        meter = METER_NAMES["instructions"]
        # the cheap screen: one native run, cut off at screen_factor x the CPU budget
        cutoff = self.config.screen_factor * self._cpu_budget(cpu_ref) + self.config.cpu_tolerance_seconds
        statuses, cpu_costs = self._cpu_test_costs(problem, program, workload, cutoff, 1, cpu_ref.overheads)
        if any(s is LevelStatus.WRONG for s in statuses):
            outcomes = [LevelOutcome(s, 0.0) if s is LevelStatus.OK else LevelOutcome(s) for s in statuses]
            return self._score(problem, workload, outcomes, [None] * len(statuses), spec, meter, reference_known=False)
        counted = [j for j in self._weighted_levels(workload) if statuses[j] is LevelStatus.OK]
        inputs, owners = self._weighted_inputs(workload, counted)
        timeout = max(30.0, self.config.valgrind_timeout_factor * cutoff)
        # The reference and the sample are counted in separate valgrind
        # processes, each as the first job of a fresh pid namespace: the
        # harness's counts move by a few hundred instructions with the pid
        # numbers (small ints are cached objects up to 256), so a job's
        # position in a shared process would leak into its count.
        ref = self.instruction_reference(problem)
        counts = instruction_counts(self.sandbox, self.python, [(program, problem.entry_point, inputs)], timeout)[0] if inputs else []
        per_level: dict[int, list[float]] = {j: [] for j in counted}
        bad: dict[int, LevelStatus] = {}
        for (status, value), j in zip(counts, owners):
            if status == "ok" and value is not None:
                per_level[j].append(value)
            elif status == "timeout":
                bad.setdefault(j, LevelStatus.CENSORED)
            else:  # an error under valgrind that the native run did not show
                bad.setdefault(j, LevelStatus.WRONG)
        # weight-0 levels are not counted (cost 0: only their status matters)
        level_counts = {j: max(self.config.instruction_resolution, max(v)) for j, v in per_level.items() if v and j not in bad}

        def estimates(native_costs: list[list[float]]) -> dict[int, float]:
            """The counts that native CPU times imply, where a count is implausibly below them."""
            implied = {}
            for j, count in level_counts.items():
                estimate = self._count_from_cpu(max(native_costs[j]) if native_costs[j] else 0.0, cpu_ref.levels[j], ref.levels[j])
                if estimate is not None and count < estimate / self.config.implausible_factor:
                    implied[j] = estimate
            return implied

        implied = estimates(cpu_costs)
        if implied:
            _, quietest = self._cpu_test_costs(problem, program, workload, cutoff, self.config.plausibility_repeats, cpu_ref.overheads, aggregate=min)
            confirmed = estimates([quietest[j] if j < len(quietest) and quietest[j] else cpu_costs[j] for j in range(len(cpu_costs))])
            implied = {j: confirmed[j] for j in implied if j in confirmed}
        implausible = sorted(implied)
        outcomes = []
        for j, status in enumerate(statuses):
            if j in bad:
                outcomes.append(LevelOutcome(bad[j]))
            elif status is LevelStatus.OK:
                outcomes.append(LevelOutcome(LevelStatus.OK, implied.get(j, level_counts.get(j, 0.0))))
            else:
                outcomes.append(LevelOutcome(status))
        result = self._score(problem, workload, outcomes, list(ref.levels), spec, meter)
        if implausible:
            note = "instruction count implausibly low for the CPU time the call took natively at level %s: cost estimated from CPU time" % ", ".join(map(str, implausible))
            result = replace(result, note=note)
        return result

    def _count_from_cpu(self, native_seconds: float, ref_seconds: float | None, ref_count: float | None) -> float | None:
        """The instructions a call taking ``native_seconds`` would count at the reference's rate.

        The candidate runs in the process that counts it and can bias its
        own count (say, by making the empty baseline call expensive); its
        native CPU time comes from the kernel, outside its reach. None where
        the times are too small to say anything.
        """
        floor = self.config.plausibility_cpu_seconds
        if native_seconds < floor or not ref_seconds or ref_seconds < self.config.cpu_resolution_seconds or not ref_count or math.isinf(native_seconds):
            return None
        return native_seconds * (ref_count / ref_seconds)

    def _score(self, problem: Problem, workload: Workload, outcomes: list[LevelOutcome], ref_levels: list, spec: EfficiencySpec, meter: str, reference_known: bool = True) -> SampleEfficiency:
        unit = self.unit
        if reference_known:
            result = efficiency_score(outcomes, ref_levels, spec)
            passed, score, budget, censored_at, failed_at = result.passed, result.score, result.budget, result.censored_at, result.failed_at
        else:  # a wrong answer: score 0 whatever the costs
            failed_at = next(j for j, o in enumerate(outcomes) if o.status is LevelStatus.WRONG)
            passed, score, budget, censored_at = False, 0.0, None, None
        levels = []
        for j, (level, outcome) in enumerate(zip(workload.levels, outcomes)):
            status = outcome.status
            if status is LevelStatus.OK and budget is not None and outcome.cost is not None and outcome.cost > budget + spec.tolerance:
                status = LevelStatus.CENSORED
            if censored_at is not None and j > censored_at and status is LevelStatus.OK:
                status = LevelStatus.NOT_RUN
            value = outcome.cost if status is LevelStatus.OK and reference_known else None
            if meter == METER_NAMES["instructions"] and level.weight == 0:
                value = None  # not counted: ENAMEL's weight-0 level only checks correctness
            levels.append(LevelCost(j, level.size, level.weight, status.value, value, unit, meter, ref_levels[j] if reference_known else None))
        last = levels[-1] if levels else None
        speed = None
        if passed and last is not None and last.value and last.reference:
            speed = last.reference / last.value
        return SampleEfficiency(problem.task_id, meter, unit, passed, score, tuple(levels), budget, speed, censored_at, failed_at)


# ------------------------------------------------------------------ batch API


def evaluate_efficiency(
    items: Sequence[tuple[Problem, str, bool]],
    sandbox: Sandbox,
    *,
    config: EfficiencyConfig | None = None,
    workers: int | None = None,
    on_result: Callable[[int, SampleEfficiency], None] | None = None,
) -> list[SampleEfficiency]:
    """Efficiency of many samples: (problem, program, passed its correctness tests).

    Results come back in input order. References are measured once per
    problem (first come), on the same evaluator, in this run.
    """
    evaluator = EfficiencyEvaluator(sandbox, config)
    results: list[SampleEfficiency | None] = [None] * len(items)
    lock = threading.Lock()

    def one(position: int) -> None:
        problem, program, passed = items[position]
        result = evaluator.measure(problem, program, passed)
        with lock:
            results[position] = result
        if on_result is not None:
            on_result(position, result)

    with ThreadPoolExecutor(max_workers=max(1, workers or sandbox.size), thread_name_prefix="assay-eff") as pool:
        list(pool.map(one, range(len(items))))
    return [r for r in results if r is not None]
