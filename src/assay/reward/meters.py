"""Cost meters for the efficiency reward, chosen by name.

A meter gives two costs on the same scale: the candidate's (from the run that
judged it, or from a run of its own) and the reference's (measured once per
problem and cached). The efficiency reward only ever divides costs from one
meter; :class:`~assay.measure.cost.Cost` refuses anything else.

Today one meter is registered:

``cpu-time``
    the CPU time of the candidate process, read by the sandbox supervisor
    from the kernel for every test (``TestVerdict.measurement.cpu_ns``),
    summed over the problem's tests. The candidate's cost comes free with the
    run that judged it (one run); the reference's is the median of
    ``reference_repeats`` runs in the *same* sandbox, measured the first time
    a correct candidate of that problem needs it and cached for the life of
    the meter. Not deterministic: load on the machine moves it by a few to
    tens of percent on programs as small as HumanEval's.

A deterministic instruction meter (``valgrind-instructions``,
``perf-instructions`` in :mod:`assay.measure.instructions`) plugs in with
:func:`register_meter` once it can run candidates inside the sandbox; it
runs untrusted code outside the sandbox today, so it is not offered for
rewards.
"""

from __future__ import annotations

import statistics
import threading
from hashlib import sha256
from typing import Callable, Protocol

from assay.measure.cost import CPU_TIME, Cost
from assay.problems.model import Problem
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


class SandboxCpuTimeMeter:
    """CPU time of the sandboxed process, summed over tests (meter ``cpu-time``)."""

    name = CPU_TIME
    unit = NS
    deterministic = False

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], Cost | ReferenceUnavailable] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def candidate_cost(self, sandbox: Sandbox, problem: Problem, program: str, result: SampleResult) -> Cost:
        return Cost(float(total_cpu_ns(result)), NS, self.name, 0.0, 1)

    def reference_cost(self, sandbox: Sandbox, problem: Problem, repeats: int) -> Cost:
        if not problem.reference:
            raise ReferenceUnavailable(f"{problem.task_id} has no reference solution to measure the cost against")
        key = (problem.task_id, sha256(problem.reference.encode("utf-8", "surrogatepass")).hexdigest())
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one measurement per problem, however many threads ask at once
            cached = self._cache.get(key)
            if cached is None:
                cached = self._measure(sandbox, problem, repeats)
                self._cache[key] = cached
        if isinstance(cached, ReferenceUnavailable):
            raise cached
        return cached

    def _measure(self, sandbox: Sandbox, problem: Problem, repeats: int) -> Cost | ReferenceUnavailable:
        totals: list[int] = []
        for _ in range(repeats):
            result = sandbox.run(problem, problem.reference or "")
            if result.is_infra_error:
                raise MeterInfraError("the sandbox failed while measuring the reference: %s" % (result.infra_message or result.status.value))
            if not result.passed:
                return ReferenceUnavailable(f"the reference of {problem.task_id} fails its own tests ({result.status.value}); no cost to compare against")
            totals.append(total_cpu_ns(result))
        spread = (max(totals) - min(totals)) / 2.0 if len(totals) > 1 else 0.0
        return Cost(float(statistics.median(totals)), NS, self.name, spread, len(totals))

    def cached_references(self) -> int:
        return sum(isinstance(v, Cost) for v in self._cache.values())


MeterFactory = Callable[[], Meter]
METERS: dict[str, MeterFactory] = {CPU_TIME: SandboxCpuTimeMeter}


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
        raise ValueError(
            f"unknown meter {name!r} for the efficiency reward: known meters are {known} "
            "(instruction meters are not offered for rewards yet: they do not run inside the sandbox)"
        ) from None
    return factory()
