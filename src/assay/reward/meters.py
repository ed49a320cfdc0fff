"""Cost meters for the efficiency reward, chosen by name.

A meter gives two costs on the same scale: the candidate's (from the run that
judged it, or from a run of its own) and the reference's (measured once per
problem and cached). The efficiency reward only ever divides costs from one
meter; :class:`~assay.measure.cost.Cost` refuses anything else.

Two meters are registered:

``instructions`` (the default)
    instructions counted by valgrind (cachegrind, no cache simulation)
    inside the sandbox, summed over the problem's call tests: the call alone
    (a fork pair subtracts start-up, loading and an empty call of the same
    arity), ``PYTHONHASHSEED=0``, identical run to run whatever the load.
    The candidate is counted in a run of its own after it passed (a valgrind
    start, ~2-4 s here); the reference once per problem, cached. Problems
    with assert-style or stdin/stdout tests have no calls to count: their
    efficiency reward is not scored (``None`` with the reason).

``cpu-time``
    the CPU time of the candidate's calls, read by the sandbox's monitor from
    the kernel, each in its call window, summed over the problem's call
    tests (:func:`call_cpu_ns`, a lock-step run of its own); the reference's is the median of
    ``reference_repeats`` runs in the *same* sandbox, measured the first time
    a correct candidate of that problem needs it and cached for the life of
    the meter. Not deterministic: load on the machine moves it by a few to
    tens of percent on programs as small as HumanEval's.

Other meters plug in with :func:`register_meter`.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import threading
from hashlib import sha256
from typing import Callable, Protocol

from assay.measure.cost import CPU_TIME, Cost
from assay.problems.model import CallTest, Problem
from assay.sandbox.pool import Sandbox
from assay.sandbox.verdict import SampleResult

NS = "ns"


class ReferenceUnavailable(Exception):
    """No reference cost can be had for this problem (not a sandbox failure)."""


class MeterInfraError(Exception):
    """The sandbox failed while measuring; not the candidate's fault, not cached."""


class Meter(Protocol):
    """What the efficiency reward needs from a meter."""

    name: str
    unit: str
    deterministic: bool

    def candidate_cost(self, sandbox: Sandbox, problem: Problem, program: str, result: SampleResult) -> Cost:
        """The cost of a candidate that passed every test (``result`` is that run)."""
        ...

    def reference_cost(self, sandbox: Sandbox, problem: Problem, repeats: int) -> Cost:
        """The reference's cost on the same tests; raises ReferenceUnavailable or MeterInfraError."""
        ...


def total_cpu_ns(result: SampleResult) -> int:
    return sum(t.measurement.cpu_ns for t in result.tests)


def call_cpu_ns(sandbox: Sandbox, problem: Problem, program: str, result: SampleResult | None = None) -> int:
    """CPU time of a program's calls alone, summed over the problem's call tests.

    A lock-step run of its own, each call timed in its window (see
    ``Session.run_batch(stream=False)``): the streamed run that judged the
    program reads a running process's clock, which can lag by a scheduler
    tick, far more than a HumanEval call costs. Problems whose tests are not
    all calls fall back to the judging run's times (``result``).
    """
    from assay.efficiency import leased_worker
    from assay.sandbox.worker import InfraError, Session

    tests = [t for t in problem.tests if isinstance(t, CallTest)]
    if not tests or len(tests) != len(problem.tests):
        if result is None:
            result = sandbox.run(problem, program)
        return total_cpu_ns(result)
    with leased_worker(sandbox) as worker:
        session = Session(worker, program, sandbox.limits)
        calls = [session.call_message(t.function or problem.entry_point, t.args, t.kwargs) for t in tests]
        try:
            load, replies = session.run_batch(calls, stream=False)
        except InfraError as exc:
            worker.stop()
            raise MeterInfraError(f"the sandbox failed while measuring: {exc}") from exc
    if load.status != "ok" or len(replies) != len(tests) or any(r.status != "ok" for r in replies):
        raise MeterInfraError("a program that passed its tests did not complete them again while being timed")
    return sum(r.measurement.cpu_ns for r in replies)


class ReferenceCosts:
    """Reference costs per problem (task id and reference text), measured once however many threads ask."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], Cost | ReferenceUnavailable] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, problem: Problem, measure: Callable[[], "Cost | ReferenceUnavailable"]) -> Cost:
        """The cached cost, or ``measure()``'s (a ReferenceUnavailable, returned or raised, is cached and raised)."""
        if not problem.reference:
            raise ReferenceUnavailable(f"{problem.task_id} has no reference solution to measure the cost against")
        key = (problem.task_id, sha256(problem.reference.encode("utf-8", "surrogatepass")).hexdigest())
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            cached = self._cache.get(key)
            if cached is None:
                try:
                    cached = measure()
                except ReferenceUnavailable as exc:
                    cached = exc
                self._cache[key] = cached
        if isinstance(cached, ReferenceUnavailable):
            raise cached
        return cached

    def __len__(self) -> int:
        return sum(isinstance(v, Cost) for v in self._cache.values())


class SandboxCpuTimeMeter:
    """CPU time of the sandboxed process, summed over tests (meter ``cpu-time``)."""

    name = CPU_TIME
    unit = NS
    deterministic = False

    def __init__(self) -> None:
        self._references = ReferenceCosts()

    def candidate_cost(self, sandbox: Sandbox, problem: Problem, program: str, result: SampleResult) -> Cost:
        return Cost(float(call_cpu_ns(sandbox, problem, program, result)), NS, self.name, 0.0, 1)

    def reference_cost(self, sandbox: Sandbox, problem: Problem, repeats: int) -> Cost:
        return self._references.get(problem, lambda: self._measure(sandbox, problem, repeats))

    def _measure(self, sandbox: Sandbox, problem: Problem, repeats: int) -> Cost | ReferenceUnavailable:
        totals: list[int] = []
        for _ in range(repeats):
            result = sandbox.run(problem, problem.reference or "")
            if result.is_infra_error:
                raise MeterInfraError("the sandbox failed while measuring the reference: %s" % (result.infra_message or result.status.value))
            if not result.passed:
                return ReferenceUnavailable(f"the reference of {problem.task_id} fails its own tests ({result.status.value}); no cost to compare against")
            totals.append(call_cpu_ns(sandbox, problem, problem.reference or "", result))
        spread = (max(totals) - min(totals)) / 2.0 if len(totals) > 1 else 0.0
        return Cost(float(statistics.median(totals)), NS, self.name, spread, len(totals))

    def cached_references(self) -> int:
        return len(self._references)


INSTRUCTIONS = "instructions"


class SandboxInstructionMeter:
    """Instructions of the calls, counted by valgrind in the sandbox (meter ``instructions``)."""

    name = INSTRUCTIONS
    unit = "instructions"
    deterministic = True

    def __init__(self, per_call_timeout: float = 120.0) -> None:
        self.per_call_timeout = per_call_timeout
        self.python = os.path.realpath(sys.executable)
        self._references = ReferenceCosts()

    def _count(self, sandbox: Sandbox, problem: Problem, program: str) -> list[tuple[str, float | None]]:
        from assay.efficiency import instruction_counts
        from assay.measure.instructions import find_valgrind

        if not find_valgrind():
            raise ReferenceUnavailable("the instructions meter needs valgrind (apt-get install valgrind), or use meter cpu-time")
        tests = [t for t in problem.tests if isinstance(t, CallTest)]
        if not tests or len(tests) != len(problem.tests):
            raise ReferenceUnavailable(f"{problem.task_id} has tests that are not calls (assert-style or stdin/stdout): no calls to count instructions of")
        by_function: dict[str, list[tuple]] = {}
        for test in tests:
            if test.kwargs:
                raise ReferenceUnavailable(f"{problem.task_id} calls with keyword arguments, which the instruction harness does not pass")
            by_function.setdefault(test.function or problem.entry_point, []).append(tuple(test.args))
        jobs = [(program, function, inputs) for function, inputs in by_function.items()]
        try:
            rows = instruction_counts(sandbox, self.python, jobs, self.per_call_timeout)
        except Exception as exc:  # noqa: BLE001 - InfraError and the like: the measurement failed, not the candidate
            raise MeterInfraError(f"counting instructions failed: {exc}") from exc
        return [entry for row in rows for entry in row]

    def candidate_cost(self, sandbox: Sandbox, problem: Problem, program: str, result: SampleResult) -> Cost:
        counts = self._count(sandbox, problem, program)
        # A call that passed natively but cannot be counted (it errs or times
        # out under valgrind only) gets no credit for speed: an infinite cost.
        total = math.inf if any(status != "ok" or value is None for status, value in counts) else float(sum(v for _, v in counts))
        return Cost(total, self.unit, self.name, 0.0, 1)

    def reference_cost(self, sandbox: Sandbox, problem: Problem, repeats: int) -> Cost:
        # deterministic: one count is the count (repeats would give the same number)
        return self._references.get(problem, lambda: self._count_reference(sandbox, problem))

    def _count_reference(self, sandbox: Sandbox, problem: Problem) -> Cost | ReferenceUnavailable:
        counts = self._count(sandbox, problem, problem.reference or "")
        failed = sorted({status for status, _ in counts if status != "ok"})
        if failed:
            return ReferenceUnavailable(f"the reference of {problem.task_id} could not be counted ({', '.join(failed)})")
        return Cost(float(sum(v for _, v in counts if v is not None)), self.unit, self.name, 0.0, 1)


MeterFactory = Callable[[], Meter]
METERS: dict[str, MeterFactory] = {INSTRUCTIONS: SandboxInstructionMeter, CPU_TIME: SandboxCpuTimeMeter}


def register_meter(name: str, factory: MeterFactory) -> None:
    """Make a meter available to the efficiency reward as ``RewardSpec(meter=name)``."""
    if not name:
        raise ValueError("a meter needs a name")
    METERS[name] = factory


def make_meter(name: str) -> Meter:
    try:
        factory = METERS[name]
    except KeyError:
        known = ", ".join(sorted(METERS))
        raise ValueError(f"unknown meter {name!r} for the efficiency reward: known meters are {known}") from None
    return factory()
