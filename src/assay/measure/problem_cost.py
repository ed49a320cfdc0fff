"""The cost of a program on a problem's call tests, on one meter: what the efficiency reward divides.

:class:`ProblemCosts` wraps any :class:`~assay.measure.meters.Meter` and
gives two :class:`~assay.measure.cost.Cost` values on its scale, the sum of
:meth:`Meter.call_costs` over the problem's call tests:

* the candidate's (``candidate_cost``), measured after it passed;
* the reference's (``reference_cost``), measured once per problem and cached
  (:class:`ReferenceCosts`): the reference must pass its own tests first;
  a deterministic meter measures it once, another ``repeats`` times, median.

A candidate call that a deterministic meter cannot cost (it errs or times out
under the meter only) gets no credit for speed: an infinite cost. On a
non-deterministic meter (a native rerun) such a failure of a program that
just passed is reported as a measuring failure (:class:`MeterInfraError`).

Problems whose tests are not all calls (assert-style, stdin/stdout) have no
calls to measure: a meter with a ``run_cost(result)`` method (``cpu-time``:
the judging run's CPU time) costs the judging run instead; with any other
the reward is not scored (:class:`ReferenceUnavailable`).
"""

from __future__ import annotations

import inspect
import math
import statistics
import threading
from collections.abc import Callable
from hashlib import sha256
from typing import Any

from assay.measure.cost import Cost
from assay.measure.meters import Meter, MeterInfraError, ReferenceUnavailable, make_meter
from assay.problems.model import CallTest, Problem
from assay.sandbox.calls import Call
from assay.sandbox.pool import Sandbox
from assay.sandbox.verdict import SampleResult

# wall seconds one call may take under a meter (valgrind is 10-50x native);
# the cpu-time meter keeps to the sandbox's per-call CPU limit below this
REWARD_CALL_TIMEOUT_SECONDS = 120.0


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


def problem_calls(problem: Problem) -> list[Call] | None:
    """The problem's call tests as calls, or None when some of its tests are not calls."""
    tests = [t for t in problem.tests if isinstance(t, CallTest)]
    if not tests or len(tests) != len(problem.tests):
        return None
    return [Call(t.function or problem.entry_point, tuple(t.args), dict(t.kwargs)) for t in tests]


def exact_expectations(problem: Problem) -> dict[int, Any]:
    """Call position -> expected value, for the call tests compared exactly (approximate ones cannot be checked by form)."""
    return {i: t.expected for i, t in enumerate(problem.tests) if isinstance(t, CallTest) and t.comparison == "exact"}


class ProblemCosts:
    """A meter's costs of whole problems: the candidate's and the (cached) reference's."""

    def __init__(self, meter: Meter, timeout_seconds: float = REWARD_CALL_TIMEOUT_SECONDS) -> None:
        self.meter = meter
        self.timeout_seconds = timeout_seconds
        self._references = ReferenceCosts()

    @classmethod
    def named(cls, name: str) -> "ProblemCosts":
        """On the registered meter ``name`` (ValueError naming the known ones)."""
        return cls(make_meter(name))

    @property
    def name(self) -> str:
        return self.meter.name

    @property
    def unit(self) -> str:
        return self.meter.unit

    @property
    def deterministic(self) -> bool:
        return self.meter.deterministic

    def cached_references(self) -> int:
        return len(self._references)

    def candidate_cost(self, sandbox: Sandbox, problem: Problem, program: str, result: SampleResult) -> Cost:
        """The cost of a candidate that passed every test (``result`` is that run)."""
        total = self._total(sandbox, problem, program, result)
        if total is None:
            if not self.meter.deterministic:
                raise MeterInfraError("a program that passed its tests did not complete them again while being measured")
            total = math.inf
        return Cost(total, self.unit, self.name, 0.0, 1)

    def reference_cost(self, sandbox: Sandbox, problem: Problem, repeats: int) -> Cost:
        """The reference's cost on the same tests; raises ReferenceUnavailable or MeterInfraError."""
        return self._references.get(problem, lambda: self._measure_reference(sandbox, problem, repeats))

    def _measure_reference(self, sandbox: Sandbox, problem: Problem, repeats: int) -> Cost | ReferenceUnavailable:
        reference = problem.reference or ""
        totals: list[float] = []
        for _ in range(1 if self.meter.deterministic else max(1, repeats)):
            result = sandbox.run(problem, reference)
            if result.is_infra_error:
                raise MeterInfraError("the sandbox failed while measuring the reference: %s" % (result.infra_message or result.status.value))
            if not result.passed:
                return ReferenceUnavailable(f"the reference of {problem.task_id} fails its own tests ({result.status.value}); no cost to compare against")
            total = self._total(sandbox, problem, reference, result)
            if total is None:
                if not self.meter.deterministic:
                    raise MeterInfraError(f"the reference of {problem.task_id} passed its tests but did not complete them again while being measured")
                return ReferenceUnavailable(f"the reference of {problem.task_id} could not be measured on the {self.name} meter")
            totals.append(total)
        spread = (max(totals) - min(totals)) / 2.0 if len(totals) > 1 else 0.0
        return Cost(float(statistics.median(totals)), self.unit, self.name, spread, len(totals))

    def _total(self, sandbox: Sandbox, problem: Problem, program: str, result: SampleResult) -> float | None:
        """The sum over the problem's calls; None when a call could not be costed."""
        calls = problem_calls(problem)
        if calls is None:
            run_cost = getattr(self.meter, "run_cost", None)
            if run_cost is None:
                raise ReferenceUnavailable(f"{problem.task_id} has tests that are not calls (assert-style or stdin/stdout): no calls to measure on the {self.name} meter")
            return float(run_cost(result))
        total_cost = getattr(self.meter, "total_cost", None)
        try:
            if callable(total_cost):  # a meter that sums the calls itself, faster than costing each
                if "expected" in inspect.signature(total_cost).parameters:  # it can check what the program returns while measured
                    return total_cost(sandbox, program, calls, self.timeout_seconds, expected=exact_expectations(problem))
                return total_cost(sandbox, program, calls, self.timeout_seconds)
            costs = self.meter.call_costs(sandbox, program, calls, self.timeout_seconds)
        except ReferenceUnavailable as exc:
            raise ReferenceUnavailable(f"{problem.task_id}: {exc}") from exc
        if len(costs) != len(calls) or not all(c.ok for c in costs):
            return None
        return math.fsum(c.value for c in costs if c.value is not None)

