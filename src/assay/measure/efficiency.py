"""Per-sample efficiency on stress inputs: ENAMEL's score on a chosen meter.

After a sample passes its correctness tests, its stress workload (ENAMEL's
generators at their size levels, expected outputs from the reference; see
:mod:`assay.workloads`) runs in the sandbox and each level gets a cost on one
meter. The reference is measured the same way, in the same run, once per
problem. :func:`assay.metrics.efficiency_score` turns the two into ENAMEL's
score in [0, 1].

Meters (names as everywhere: :mod:`assay.measure.meters`)
---------------------------------------------------------
``cpu-time`` (unit ``cpu_seconds``)
    The sandbox's per-call CPU time of the candidate process (read from the
    kernel by the trusted monitor; :mod:`assay.measure.stress`). Every
    stress input runs ``repeats`` times (default 3, each repeat a fresh
    process); a test's cost is the median of its repeats (with 3 repeats the
    Hodges-Lehmann estimate is the same order statistic up to averaging;
    the median is used so a censored repeat counts as +inf, not as a
    number). The budget is ENAMEL's T = alpha * max reference level cost;
    each call is cut off by the sandbox's per-call CPU limit at T + 10 ms
    (ENAMEL's tolerance), so a slow candidate is right-censored at that
    level instead of running on. Noisy: see docs/benchmarks.md, section
    ``efficiency``.
``instructions``, or any registered meter (a *counting* meter)
    The cheap CPU run comes first: a sample it shows wrong, or hopelessly
    over budget (more than ``screen_factor`` times the CPU budget) at a
    level, is not given to the meter for that level and above. The other
    weighted levels' inputs go to the meter's ``call_costs`` in one call
    (for ``instructions``: one valgrind process inside the sandbox, each
    input in its own forked process, the cost of an empty call with the same
    arguments subtracted; see ``assay.measure.call_harness``; deterministic).
    Budget: T = alpha * max reference cost, tolerance 0 (a count is exact);
    a meter whose ``call_costs`` takes ``budget`` stops counting at the first
    call past T (that level censored, the rest not run). The reference runs
    natively once (``screen_reference_repeats``): its CPU times only set the
    screen's cutoff and the time limits.
    A meter whose candidate runs in the counting process
    (``counts_in_candidate_process``) has its counts checked against the
    screen's native CPU time.

Speedup
-------
``speedup`` = reference cost / sample cost on the *largest* level (the last,
highest-weight one), on the same meter. It is None when the sample did not
complete that level (censored: its cost there is unknown, only above the
budget) or failed.
"""

from __future__ import annotations

import inspect
import math
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from assay.measure.meters import CPU_TIME, INSTRUCTIONS, NOT_RUN, OVER_BUDGET, CallCost, Meter, ReferenceUnavailable, canonical_name, make_meter, probe_meter
from assay.measure.results import EfficiencyUnavailable, LevelCost, ReferenceProfile, SampleEfficiency
from assay.measure.stress import StressRun, call_cost, stress_run
from assay.measure.valgrind import find_valgrind
from assay.metrics import (
    ENAMEL_TOLERANCE_SECONDS,
    EfficiencySpec,
    LevelOutcome,
    LevelStatus,
    efficiency_score,
)
from assay.problems.model import Problem
from assay.sandbox.calls import Call
from assay.sandbox.limits import Limits
from assay.sandbox.pool import Sandbox
from assay.sandbox.worker import InfraError
from assay.workloads import Workload, WorkloadCache, WorkloadError, build_workload

CPU_UNIT = "cpu_seconds"  # the evaluator times cpu-time in seconds (the reward meter in ns)


def default_meter() -> tuple[str, str | None]:
    """("instructions", None) where valgrind is installed, else ("cpu-time", a loud note)."""
    if find_valgrind():
        return INSTRUCTIONS, None
    return CPU_TIME, (
        "WARNING: valgrind is not installed, so efficiency is measured on CPU time, "
        "which varies between runs (see docs/efficiency.md); install valgrind for "
        "deterministic instruction counts"
    )


# ------------------------------------------------------------------ the evaluator


@dataclass
class EfficiencyConfig:
    """How the evaluator measures. ``meter``: ``cpu-time``, ``instructions`` or a registered meter's name (``cpu`` means ``cpu-time``)."""

    meter: str = CPU_TIME
    repeats: int = 3  # cpu-time: repeats per stress input
    spec: EfficiencySpec = field(default_factory=EfficiencySpec)
    cpu_tolerance_seconds: float = ENAMEL_TOLERANCE_SECONDS
    screen_factor: float = 3.0  # counting meters: levels whose CPU cost exceeds this x the CPU budget are not counted
    screen_reference_repeats: int = 1  # counting meters: native runs of the reference (its CPU times only set the screen's cutoff and time limits)
    valgrind_timeout_factor: float = 200.0  # counting meters: per-call wall limit under the meter = this x the CPU cutoff (at least 30 s)
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

    def __post_init__(self) -> None:
        self.meter = canonical_name(self.meter)


class EfficiencyEvaluator:
    """Measures samples' efficiency on one meter; caches workloads and reference costs per problem.

    Thread-safe: samples may be measured concurrently (one sandbox worker each).
    """

    def __init__(self, sandbox: Sandbox, config: EfficiencyConfig | None = None) -> None:
        self.sandbox = sandbox
        self.config = config or EfficiencyConfig()
        # cpu-time is timed here (stress.py, repeats and censoring); any other meter counts what the screen passed
        meter = make_meter(self.config.meter)
        self.counter: Meter | None = None if meter.name == CPU_TIME else meter
        if self.counter is not None:
            available, detail = probe_meter(self.counter)
            if not available:
                raise EfficiencyUnavailable("the %s meter is not available here: %s" % (self.counter.name, detail))
            if self.config.python and hasattr(self.counter, "python"):
                self.counter.python = self.config.python  # type: ignore[attr-defined]
        takes = inspect.signature(self.counter.call_costs).parameters if self.counter is not None else {}
        self._counter_takes_budget = "budget" in takes
        self._counter_counts_first = "count_first" in takes
        self._workloads: dict[str, Workload | str] = {}
        self._workload_cache = WorkloadCache.default()
        self._cpu_refs: dict[str, ReferenceProfile] = {}
        self._counted_refs: dict[str, ReferenceProfile] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @property
    def meter(self) -> str:
        """The meter's name, as results carry it."""
        return self.counter.name if self.counter is not None else CPU_TIME

    @property
    def unit(self) -> str:
        return self.counter.unit if self.counter is not None else CPU_UNIT

    def _problem_lock(self, task_id: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(task_id, threading.Lock())

    # ---------------------------------------------------------------- per problem

    def workload(self, problem: Problem) -> Workload:
        with self._problem_lock(problem.task_id):
            cached = self._workloads.get(problem.task_id)
            if cached is None:
                try:
                    cached = build_workload(problem, self.sandbox, cache=self._workload_cache)
                except WorkloadError as exc:
                    cached = str(exc)
                self._workloads[problem.task_id] = cached
        if isinstance(cached, str):
            raise EfficiencyUnavailable(cached)
        return cached

    def _load_limits(self) -> Limits:
        """Limits for loading a program (imports are not the call's cost) and for the reference's own runs."""
        base = self.sandbox.limits
        return replace(base.with_cpu(max(base.cpu_seconds, 10.0)), sample_cpu_seconds=max(base.sample_cpu_seconds, 600.0))

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
        what a call may leave outside its window (see :func:`assay.measure.stress.call_cost`).
        """
        tests = list(workload.tests)
        runs: list[list[StressRun]] = []
        for repeat in range(repeats):
            run = stress_run(self.sandbox, problem, program, tests, cutoff, self._load_limits(), overheads)
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
                    values = [call_cost(r, allowance) if r.status is LevelStatus.OK else math.inf for r in seen]
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
        repeats = self.config.repeats if self.counter is None else self.config.screen_reference_repeats
        # the run that computed the expected outputs was timed the same way: it is the first (for cpu-time,
        # which scores against these times, only if it was made in this run, not read from the workload cache)
        usable = len(workload.reference_timings) == len(tests) and (self.counter is not None or not workload.cached)
        timed = [[StressRun(LevelStatus.OK, t.cpu_ns, t.before_ns, t.after_ns) for t in workload.reference_timings]] if usable else []
        runs = timed + [stress_run(self.sandbox, problem, problem.reference or "", tests, self._load_limits().cpu_seconds, self._load_limits()) for _ in range(max(1, repeats) - len(timed))]
        if any(len(run) != len(tests) or any(r.status is not LevelStatus.OK for r in run) for run in runs):
            raise EfficiencyUnavailable("%s: the reference does not complete its own stress inputs on the CPU meter" % problem.task_id)
        medians = [statistics.median(run[i].cpu_ns for run in runs) / 1e9 for i in range(len(tests))]
        overheads = tuple((statistics.median(run[i].before_ns for run in runs) / 1e9, statistics.median(run[i].after_ns for run in runs) / 1e9) for i in range(len(tests)))
        costs, position = [], 0
        for level in workload.levels:
            costs.append(medians[position : position + len(level.tests)])
            position += len(level.tests)
        floor = self.config.cpu_resolution_seconds
        profile = ReferenceProfile(problem.task_id, CPU_TIME, tuple(max(floor, max(c)) for c in costs), tuple(tuple(c) for c in costs), overheads)
        with self._problem_lock(problem.task_id):
            self._cpu_refs[problem.task_id] = profile
        return profile

    def _weighted_levels(self, workload: Workload) -> list[int]:
        """Levels a counting meter counts: those with a weight (ENAMEL's level 0 only checks correctness)."""
        return [j for j, w in enumerate(self.config.spec.weights) if w > 0]

    def _reference_profile(self, problem: Problem, workload: Workload, counts: list[CallCost]) -> ReferenceProfile:
        assert self.counter is not None
        if not all(c.ok for c in counts):
            raise EfficiencyUnavailable("%s: the reference fails under the %s meter: %s" % (problem.task_id, self.counter.name, sorted({c.status for c in counts})))
        levels: list[float | None] = [None] * len(workload.levels)
        tests: list[tuple[float, ...]] = [()] * len(workload.levels)
        position = 0
        for j in self._weighted_levels(workload):
            values = tuple(float(c.value) for c in counts[position : position + len(workload.levels[j].tests)] if c.value is not None)
            position += len(values)
            levels[j], tests[j] = max(self.config.instruction_resolution, max(values)), values
        return ReferenceProfile(problem.task_id, self.counter.name, tuple(levels), tuple(tests))  # type: ignore[arg-type]

    def _weighted_calls(self, problem: Problem, workload: Workload, levels: Sequence[int]) -> tuple[list[Call], list[int]]:
        """The calls of these levels' stress inputs, and the level each belongs to."""
        calls, owners = [], []
        for j in levels:
            for test in workload.levels[j].tests:
                calls.append(Call(test.function or problem.entry_point, tuple(test.args), dict(test.kwargs)))
                owners.append(j)
        return calls, owners

    def _reference_timeout(self, cpu_ref: ReferenceProfile) -> float:
        return max(30.0, self.config.valgrind_timeout_factor * max(cpu_ref.levels))

    def counted_reference(self, problem: Problem) -> ReferenceProfile:
        """The reference's costs on the counting meter (weighted levels only), once per problem."""
        assert self.counter is not None
        workload = self.workload(problem)
        cpu_ref = self.cpu_reference(problem)
        with self._problem_lock(problem.task_id):
            cached = self._counted_refs.get(problem.task_id)
            if cached is None:
                calls, _ = self._weighted_calls(problem, workload, self._weighted_levels(workload))
                counts = self.counter.call_costs(self.sandbox, problem.reference or "", calls, self._reference_timeout(cpu_ref))
                cached = self._counted_refs[problem.task_id] = self._reference_profile(problem, workload, counts)
        return cached

    def counted_references(self) -> dict[str, ReferenceProfile]:
        """The references counted so far (task id -> profile), for reports and benches."""
        with self._lock:
            return dict(self._counted_refs)

    # ---------------------------------------------------------------- per sample

    def measure(self, problem: Problem, program: str, passed_correctness: bool = True) -> SampleEfficiency:
        """The sample's efficiency; a sample that failed its correctness tests scores 0."""
        started = time.monotonic()
        meter, unit = self.meter, self.unit
        if not passed_correctness:
            return SampleEfficiency(problem.task_id, meter, unit, False, 0.0, note="failed the correctness tests")
        try:
            workload = self.workload(problem)
            if len(workload.levels) != self.config.spec.n_levels:
                raise EfficiencyUnavailable("%s has %d levels, the spec %d" % (problem.task_id, len(workload.levels), self.config.spec.n_levels))
            cpu_ref = self.cpu_reference(problem)
            result = self._measure_cpu(problem, program, workload, cpu_ref) if self.counter is None else self._measure_counted(problem, program, workload, cpu_ref)
        except ReferenceUnavailable as exc:
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
        return self._score(problem, workload, outcomes, list(cpu_ref.levels), spec, CPU_TIME)

    def _measure_counted(self, problem: Problem, program: str, workload: Workload, cpu_ref: ReferenceProfile) -> SampleEfficiency:
        """Screen natively, count the levels the screen passed on the meter, check the counts against native CPU time."""
        assert self.counter is not None
        spec = replace(self.config.spec, tolerance=0.0)
        meter = self.counter.name
        # the cheap screen: one native run, cut off at screen_factor x the CPU budget
        cutoff = self.config.screen_factor * self._cpu_budget(cpu_ref) + self.config.cpu_tolerance_seconds
        statuses, cpu_costs = self._cpu_test_costs(problem, program, workload, cutoff, 1, cpu_ref.overheads)
        if any(s is LevelStatus.WRONG for s in statuses):
            outcomes = [LevelOutcome(s, 0.0) if s is LevelStatus.OK else LevelOutcome(s) for s in statuses]
            return self._score(problem, workload, outcomes, [None] * len(statuses), spec, meter, reference_known=False)
        weighted = self._weighted_levels(workload)
        counted = [j for j in weighted if statuses[j] is LevelStatus.OK]
        # The screen passes a prefix of the levels, and how long a prefix depends on timing: a meter that
        # can count the first N calls of the whole list gets the whole list, so its counts do not move with it.
        whole = self._counter_counts_first and counted == weighted[: len(counted)]
        calls, owners = self._weighted_calls(problem, workload, weighted if whole else counted)
        first = sum(1 for j in owners if j in counted) if whole else None
        timeout = max(30.0, self.config.valgrind_timeout_factor * cutoff)
        # The reference and the sample are measured in separate calls of the
        # meter (for instructions: separate valgrind processes, each as the
        # first job of a fresh pid namespace: the harness's counts move by a
        # few hundred instructions with the pid numbers (small ints are
        # cached objects up to 256), so a job's position in a shared process
        # would leak into its count).
        ref = self.counted_reference(problem)
        counts = self._count_sample(program, calls, timeout, spec.budget(list(ref.levels)), first) if counted else []
        per_level: dict[int, list[float]] = {j: [] for j in counted}
        bad: dict[int, LevelStatus] = {}
        for cost, j in zip(counts, owners):
            if j not in per_level:  # a level the screen stopped: sent, not counted; its status is the screen's
                continue
            if cost.ok and cost.value is not None:
                per_level[j].append(cost.value)
            elif cost.status in ("timeout", OVER_BUDGET):
                bad.setdefault(j, LevelStatus.CENSORED)
            elif cost.status == NOT_RUN:  # after a call over the budget, or one that timed out
                bad.setdefault(j, LevelStatus.NOT_RUN)
            else:  # an error under the meter that the native run did not show
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

        # only a meter whose candidate can bias its own cost is checked against native CPU time
        implied = estimates(cpu_costs) if getattr(self.counter, "counts_in_candidate_process", False) else {}
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
            note = "%s count implausibly low for the CPU time the call took natively at level %s: cost estimated from CPU time" % ("instruction" if meter == INSTRUCTIONS else meter, ", ".join(map(str, implausible)))
            result = replace(result, note=note)
        return result

    def _count_sample(self, program: str, calls: list[Call], timeout: float, budget: float, first: int | None = None) -> list[CallCost]:
        """The sample's counts; a meter that takes a budget stops at the first call over ENAMEL's T (censored there, as ENAMEL's timeout does).

        ``first``: only the first N calls are counted (a meter that takes ``count_first``).
        """
        assert self.counter is not None
        options: dict[str, float | int] = {}
        if self._counter_takes_budget:
            options["budget"] = budget
        if first is not None:
            options["count_first"] = first
        return self.counter.call_costs(self.sandbox, program, calls, timeout, **options)

    def _count_from_cpu(self, native_seconds: float, ref_seconds: float | None, ref_count: float | None) -> float | None:
        """The count a call taking ``native_seconds`` would have at the reference's rate (instructions per second, say).

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
            if censored_at is not None and j > censored_at:  # whatever a screen saw there: it decided nothing
                status = LevelStatus.NOT_RUN
            value = outcome.cost if status is LevelStatus.OK and reference_known else None
            if meter != CPU_TIME and level.weight == 0:
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
