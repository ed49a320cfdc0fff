"""The meters that cost a program's calls: one protocol, one registry, one set of names.

A meter answers one question: what did each of these calls of this program
cost? (:meth:`Meter.call_costs`). Both users of a meter ask exactly that:

* the efficiency reward sums the costs of a problem's call tests, the
  candidate's against the reference's (:mod:`assay.measure.problem_cost`);
* the ENAMEL evaluator costs each stress input and groups them into levels
  (:mod:`assay.measure.efficiency`).

Two meters are built in, and these names are used everywhere (the CLI's
``--meter``, ``EfficiencyConfig(meter=...)``, ``RewardSpec(meter=...)``, the
``meter`` fields of results and rewards):

``cpu-time`` (:class:`CpuTimeMeter`, unit ``ns``)
    the CPU time of each call, read from the kernel by the sandbox's monitor
    in a lock-step run (``Sandbox.run_calls(mode="lockstep")``): the call's
    window alone, decoding its arguments and encoding its result excluded.
    Not deterministic: load on the machine moves it by a few to tens of
    percent. (The evaluator's CPU path times stress inputs itself, with
    repeats and censoring, in seconds: :mod:`assay.measure.stress`.)
``instructions`` (:class:`InstructionMeter`, unit ``instructions``)
    instructions counted by valgrind inside the sandbox's isolation, the call
    alone: on Linux x86-64 by warm callgrind servers
    (:mod:`assay.measure.counting`), elsewhere by cachegrind started per
    measurement (:func:`assay.measure.valgrind.instruction_counts`).
    Deterministic. The candidate runs in the process that counts it, locked
    down so that it cannot reach the count; ``counts_in_candidate_process``
    is True, and the evaluator checks counts against native CPU time.

Other meters plug in by name with :func:`register_meter`; ``assay eval
--efficiency --meter NAME`` and ``RewardSpec(kind="efficiency", meter=NAME)``
then use them. ``cpu`` is accepted as an old name of ``cpu-time``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from assay.plugins import METERS, RegistryError, hookimpl
from assay.sandbox.calls import Call, Mode
from assay.sandbox.judge import reply_status
from assay.sandbox.pool import Sandbox
from assay.sandbox.worker import InfraError

if TYPE_CHECKING:
    from assay.sandbox.verdict import SampleResult

CPU_TIME = "cpu-time"
INSTRUCTIONS = "instructions"
ALIASES = {"cpu": CPU_TIME}  # old names (the eval CLI's ``--meter cpu``)

OK = "ok"
NOT_RUN = "not_run"  # an earlier call ended the candidate, or the program did not load
OVER_BUDGET = "over_budget"  # the call cost more than the budget its caller gave (see Meter)


class ReferenceUnavailable(Exception):
    """No cost can be had on this meter for this problem: not installed here,
    calls it cannot make, a reference that fails. Not a sandbox failure; an
    efficiency reward is then not scored."""


class MeterInfraError(InfraError):
    """The sandbox failed while measuring: not the candidate's fault, never cached."""


@dataclass(frozen=True)
class CallCost:
    """One call's cost in the meter's unit, or why there is none.

    ``status``: ``ok``, or ``timeout``, ``memory``, ``error``, ``crash``,
    ``not_run``, ... (the sandbox's test statuses, and whatever a meter's own
    harness reports); ``value`` is set exactly when the status is ``ok``.
    """

    status: str
    value: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK and self.value is not None


@runtime_checkable
class Meter(Protocol):
    """What every user of a meter needs from it.

    ``deterministic``: one measurement is the cost (repeats would agree).
    ``counts_in_candidate_process`` (optional, default False): the
    candidate runs inside what measures it and could bias its own cost, so
    the evaluator checks the costs against native CPU time.
    ``probe()`` (optional): (usable here, a line saying how or why not),
    for ``assay doctor`` and for refusing early.
    ``run_cost(result)`` (optional): the cost of a judging run, for problems
    whose tests are not all calls (see :mod:`assay.measure.problem_cost`).
    ``call_costs`` may take a keyword ``budget`` (optional): a cost past
    which a call is of no use to the caller (``over_budget``, the calls after
    it ``not_run``), so that a meter can stop early; and a keyword
    ``count_first`` (optional): cost only the first N calls, the rest
    ``not_run``, each cost being the one the whole list gives (a meter whose
    costs depend on what else the list holds keeps them apart this way).
    """

    name: str
    unit: str
    deterministic: bool

    def call_costs(self, sandbox: Sandbox, program: str, calls: Sequence[Call], timeout_seconds: float) -> list[CallCost]:
        """One :class:`CallCost` per call, in order: ``program`` loaded once, each call made in it.

        ``timeout_seconds``: how long one call may take under this meter (a
        meter that slows programs down is given a generous figure). Raises
        :class:`ReferenceUnavailable` when it cannot measure these calls at
        all, :class:`MeterInfraError` when the sandbox failed.
        """
        ...


def probe_meter(meter: Meter) -> tuple[bool, str]:
    probe = getattr(meter, "probe", None)
    return probe() if callable(probe) else (True, "registered")


# ------------------------------------------------------------------ built-in meters


class CpuTimeMeter:
    """CPU time of each call in its window, from a lock-step run in the sandbox (meter ``cpu-time``)."""

    name = CPU_TIME
    unit = "ns"
    deterministic = False
    counts_in_candidate_process = False

    def probe(self) -> tuple[bool, str]:
        return True, "kernel-read CPU time of each call, in its window (lock-step run in the sandbox)"

    def run_cost(self, result: SampleResult) -> float:
        """The judging run's CPU time, for problems whose tests are not all calls."""
        return float(sum(t.measurement.cpu_ns for t in result.tests))

    def call_costs(self, sandbox: Sandbox, program: str, calls: Sequence[Call], timeout_seconds: float) -> list[CallCost]:
        """A call with no CPU limit of its own gets the sandbox's, never more than ``timeout_seconds``."""
        cpu = min(timeout_seconds, sandbox.limits.cpu_seconds)
        calls = [c if c.cpu_seconds is not None else replace(c, cpu_seconds=cpu) for c in calls]
        try:
            batch = sandbox.run_calls(program, calls, mode=Mode.LOCKSTEP)
        except MeterInfraError:
            raise
        except InfraError as exc:
            raise MeterInfraError(f"the sandbox failed while measuring: {exc}") from exc
        if not batch.loaded:
            return [CallCost(NOT_RUN)] * len(calls)
        costs = [CallCost(OK, float(r.measurement.cpu_ns)) if r.status == "ok" else CallCost(reply_status(r).value) for r in batch.replies]
        return costs + [CallCost(NOT_RUN)] * (len(calls) - len(costs))


class InstructionMeter:
    """Instructions of each call, counted by valgrind in the sandbox (meter ``instructions``).

    On Linux x86-64 the counts come from warm counting servers
    (:mod:`assay.measure.counting`: callgrind, a server per sandbox worker
    started once per process, a fork per job, the call alone inside a
    collection region), cached on disk by everything that can change them.
    Elsewhere, from the older cachegrind harness
    (:func:`assay.measure.valgrind.instruction_counts`), which starts
    valgrind for every measurement. ``python``: the interpreter valgrind
    runs (default: the real binary of this one). ``cache``: a
    :class:`~assay.measure.counting.CountCache`, None for the default one
    (``$ASSAY_COUNT_CACHE``: a path, or ``off``), False for none.
    """

    name = INSTRUCTIONS
    unit = "instructions"
    deterministic = True
    counts_in_candidate_process = True

    def __init__(self, python: str | None = None, cache: Any = None, servers: int | None = None) -> None:
        self.python = python or os.path.realpath(sys.executable)
        self._cache_choice = cache
        self._cache: Any = None
        self._fingerprint: str | None = None
        self.servers = servers

    def probe(self) -> tuple[bool, str]:
        import subprocess

        from assay.measure.counting import supported
        from assay.measure.valgrind import find_valgrind

        path = find_valgrind()
        if not path:
            return False, "valgrind not installed (apt-get install valgrind)"
        try:
            version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"{path} does not run: {exc}"
        fast, why = supported()
        return True, f"{version} ({why})" if fast else f"{version} (cachegrind, valgrind started per measurement: {why})"

    # ------------------------------------------------------------ the counting servers

    def _groups(self, calls: Sequence[Call]) -> dict[str, list[int]]:
        positions: dict[str, list[int]] = {}  # function -> its calls' positions, functions in order of first call
        for position, call in enumerate(calls):
            if call.kwargs:
                raise ReferenceUnavailable("calls with keyword arguments, which the instruction harness does not pass")
            positions.setdefault(call.function, []).append(position)
        return positions

    def _count(self, sandbox: Sandbox, program: str, function: str, inputs: list[tuple], timeout_seconds: float, each: bool, expected: dict[int, Any] | None = None, budget: int | None = None,
               count_first: int | None = None):  # fmt: skip
        from assay.measure.counting import CountCache, CountingError, fingerprint, shared_pool

        if self._cache is None and self._cache_choice is not False:
            self._cache = self._cache_choice or CountCache.default()
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.python)
        key = None
        if self._cache:
            key = CountCache.key(self._fingerprint, program, function, inputs, each, expected, budget, count_first)
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        pool = shared_pool(self.servers or getattr(sandbox, "size", 1) or 1, self.python)
        try:
            counted = pool.count(program, function, inputs, timeout=60.0 + len(inputs) * timeout_seconds, each=each, expected=expected, budget=budget, count_first=count_first)
        except CountingError as exc:
            raise MeterInfraError(f"counting instructions failed: {exc}") from exc
        if self._cache and key is not None:
            self._cache.put(key, counted)
        return counted

    def total_cost(self, sandbox: Sandbox, program: str, calls: Sequence[Call], timeout_seconds: float, expected: dict[int, Any] | None = None) -> float | None:
        """The sum of the calls' counts, None when one of them could not be counted; one dump per function, not per call.

        ``expected``: call position -> the value that call must return under
        the meter (tests compared exactly): a program that computes something
        else while it is counted (it noticed the meter, say) gets no count.
        """
        from assay.measure.counting import supported

        if not calls:
            return 0.0
        if not supported()[0]:
            costs = self.call_costs(sandbox, program, calls, timeout_seconds)
            return sum(c.value for c in costs if c.value is not None) if all(c.ok for c in costs) else None
        total = 0.0
        for function, where in self._groups(calls).items():
            checks = {index: expected[position] for index, position in enumerate(where) if position in expected} if expected else None
            counted = self._count(sandbox, program, function, [tuple(calls[p].args) for p in where], timeout_seconds, each=False, expected=checks)
            if counted.total is None:
                return None
            total += counted.total
        return total

    def call_costs(self, sandbox: Sandbox, program: str, calls: Sequence[Call], timeout_seconds: float, budget: float | None = None, count_first: int | None = None) -> list[CallCost]:
        """``timeout_seconds``: wall seconds per call under valgrind.

        ``budget``: instructions past which a call is ``over_budget`` (its
        count is of no use to the caller), the calls after it ``not_run``;
        the counting servers stop such a call as soon as they see it pass.
        ``count_first``: only the first N calls are counted, the rest are
        ``not_run``; each count is the one the whole list of calls gives
        (the job still carries every input).
        """
        from assay.measure.counting import supported
        from assay.measure.valgrind import find_valgrind

        if not calls:
            return []
        if not find_valgrind():
            raise ReferenceUnavailable("the instructions meter needs valgrind (apt-get install valgrind), or use meter cpu-time")
        first = len(calls) if count_first is None else max(0, min(int(count_first), len(calls)))
        if not supported()[0]:
            costs = _over_budget(self._call_costs_per_start(sandbox, program, calls[:first], self._groups(calls[:first]), timeout_seconds), budget) if first else []
            return costs + [CallCost(NOT_RUN)] * (len(calls) - first)
        positions = self._groups(calls)
        limit = None if budget is None else int(budget)
        out: list[CallCost] = [CallCost(NOT_RUN)] * len(calls)
        for function, where in positions.items():
            run = sum(1 for p in where if p < first)  # positions ascend: the group's first `run` calls are the list's first ones
            if run == 0:
                continue
            counted = self._count(sandbox, program, function, [tuple(calls[p].args) for p in where], timeout_seconds, each=True, budget=limit,
                                  count_first=None if run == len(where) else run)  # fmt: skip
            for index, position in enumerate(where):
                status = counted.statuses[index]
                value = counted.counts[index] if counted.counts is not None else None
                out[position] = CallCost(status, float(value) if status == OK and value is not None else None)
        return out

    def _call_costs_per_start(self, sandbox: Sandbox, program: str, calls: Sequence[Call], positions: dict[str, list[int]], timeout_seconds: float) -> list[CallCost]:
        from assay.measure.valgrind import instruction_counts

        jobs = [(program, function, [tuple(calls[p].args) for p in where]) for function, where in positions.items()]
        try:
            rows = instruction_counts(sandbox, self.python, jobs, timeout_seconds)
        except Exception as exc:  # noqa: BLE001 - InfraError and the like: the measurement failed, not the candidate
            raise MeterInfraError(f"counting instructions failed: {exc}") from exc
        out: list[CallCost] = [CallCost(NOT_RUN)] * len(calls)
        for where, row in zip(positions.values(), rows):
            for position, (status, value) in zip(where, row):
                out[position] = CallCost(status, value if status == OK else None)
        return out


def first_over_budget(statuses: Sequence[str], values: Sequence[float | None], budget: float | None) -> int | None:
    """The budget rule, for every meter: the first call over ``budget`` (status ``over_budget``, or ok and costing more); None if none is.

    That call is ``over_budget`` and the calls after it ``not_run``; a call
    that failed before any went over ends the search (its own status stands).
    """
    if budget is None:
        return None
    for i, (status, value) in enumerate(zip(statuses, values)):
        if status == OVER_BUDGET or (status == OK and value is not None and value > budget):
            return i
        if status != OK:
            return None
    return None


def _over_budget(costs: list[CallCost], budget: float | None) -> list[CallCost]:
    """``costs`` with the budget rule applied (:func:`first_over_budget`)."""
    i = first_over_budget([c.status for c in costs], [c.value for c in costs], budget)
    if i is None:
        return costs
    return costs[:i] + [CallCost(OVER_BUDGET)] + [CallCost(NOT_RUN)] * (len(costs) - i - 1)


# ------------------------------------------------------------------ the registry

MeterFactory = Callable[[], Meter]


@hookimpl
def register_meters(register: Callable[..., None]) -> None:
    register(INSTRUCTIONS, InstructionMeter, "instructions counted by valgrind in the sandbox, the call alone; deterministic")
    register(CPU_TIME, CpuTimeMeter, "CPU time of each call's window, read from the kernel by the sandbox's monitor")


def canonical_name(name: str) -> str:
    """The registered name for ``name`` (``cpu`` is ``cpu-time``)."""
    return ALIASES.get(name, name)


def register_meter(name: str, factory: MeterFactory) -> None:
    """Make a meter available by ``name`` to the efficiency reward and the evaluator."""
    if not name:
        raise ValueError("a meter needs a name")
    if name in ALIASES:
        raise ValueError(f"{name!r} is another name of the {ALIASES[name]!r} meter")
    METERS.register(name, factory, plugin="api")


def meter_names() -> list[str]:
    """The registered meters' names, sorted (for ``--meter`` choices)."""
    return sorted(METERS.names())


def make_meter(name: str) -> Meter:
    """A new meter of this name; ValueError naming the known meters if there is none."""
    try:
        factory = METERS.entry(canonical_name(name)).value
    except RegistryError:
        raise ValueError(f"unknown meter {name!r}: known meters are {', '.join(meter_names())}") from None
    return factory()
