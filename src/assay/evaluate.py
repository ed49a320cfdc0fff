"""Evaluating sample sets: run every sample in the sandbox, store, and score.

``evaluate`` is the batch API behind ``assay eval``; ``run_program`` judges
one program against a problem (or a bare list of tests). The pieces of one
run (its identity, its store rows, the fan-out over the sandbox, progress and
scoring) are :class:`Evaluation`'s, and ``assay solve`` runs through the same
class: what a model wrote is judged, stored and scored exactly like a file of
samples.
"""

from __future__ import annotations

import hashlib
import json
import math
import reprlib
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NamedTuple, Sequence

from assay.metrics import AggregateMetric, ProblemSamples, bootstrap_ci, eff_at_k_over_problems, geometric_mean, pass_at_k_over_problems
from assay.problems import Problem, Test, load_benchmark
from assay.samples import Sample, SampleError, canonical_samples, read_samples
from assay.sandbox.limits import Limits
from assay.sandbox.pool import Sandbox, SandboxStart
from assay.sandbox.verdict import SampleResult, Status
from assay.store import JUDGED, Store, StoredResult

if TYPE_CHECKING:
    from assay.measure.efficiency import EfficiencyConfig

Progress = Callable[[int, int, "SampleOutcome | None"], None]


@dataclass(frozen=True)
class EvalConfig:
    workers: int | None = None
    ks: tuple[int, ...] = (1, 10)
    limits: Limits = field(default_factory=Limits)
    timeout_factor: float = 20.0
    min_cpu_seconds: float = 0.3
    efficiency: "EfficiencyConfig | None" = None  # measure ENAMEL efficiency on stress inputs (see assay.measure.efficiency)


# ------------------------------------------------------------------ typed results


@dataclass(frozen=True)
class EfficiencyRecord:
    """A sample's efficiency as a result line carries it (see ``assay.measure.results.SampleEfficiency``)."""

    score: float | None  # None: not measured (no stress workload, an infrastructure error)
    meter: str
    speedup: float | None = None
    costs: tuple[dict[str, Any], ...] = ()  # per level: level, value, unit, meter, status, reference
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, eff: Any) -> "EfficiencyRecord":
        score = None if math.isnan(eff.score) else eff.score
        costs = tuple({"level": c.level, "value": c.value, "unit": c.unit, "meter": c.meter, "status": c.status, "reference": c.reference} for c in eff.levels)
        return cls(score, eff.meter, eff.speedup, costs, {k: v for k, v in eff.to_dict().items() if k != "levels"})

    def fields(self) -> dict[str, Any]:
        return {"efficiency": self.score, "cost": list(self.costs), "speedup": self.speedup, "efficiency_meter": self.meter, "efficiency_detail": self.detail}

    @classmethod
    def from_fields(cls, data: dict[str, Any]) -> "EfficiencyRecord | None":
        if "efficiency" not in data:
            return None
        return cls(data.get("efficiency"), str(data.get("efficiency_meter") or ""), data.get("speedup"), tuple(data.get("cost") or ()), dict(data.get("efficiency_detail") or {}))


@dataclass(frozen=True)
class SampleOutcome:
    """One sample's place in the input and what became of it (as stored)."""

    position: int
    task_id: str
    index: int
    line_number: int | None
    passed: bool  # judged correct (and, with efficiency, correct on the stress inputs too)
    verdict: SampleResult
    efficiency: EfficiencyRecord | None = None
    extraction: str | None = None  # solve: how the program was found in the model's reply
    spent: dict[str, Any] | None = None  # solve: what the strategy spent on this answer (calls, tokens, sandbox runs, seconds)
    inputs: dict[str, str] | None = None  # the input of each test it did not pass, as text for people (reports)

    @property
    def status(self) -> Status:
        """The worst test's status; a sample correct on its tests that failed the stress inputs says why.

        Never ``pass`` with ``passed`` false: a wrong answer on a stress
        input is ``fail``, a program ENAMEL's budget censored at the first
        stress level is ``too_slow``.
        """
        status = self.verdict.status
        if status is Status.PASS and not self.passed:
            detail = self.efficiency.detail if self.efficiency is not None else {}
            return Status.FAIL if detail.get("failed_at") is not None else Status.TOO_SLOW
        return status

    def to_line(self) -> dict[str, Any]:
        """The result line (``--results``) and the stored row's JSON."""
        line: dict[str, Any] = {"task_id": self.task_id, "index": self.index, "line_number": self.line_number, "passed": self.passed, "status": self.status.value}
        line.update({k: v for k, v in self.verdict.to_dict().items() if k not in line})
        if self.extraction is not None:
            line["extraction"] = self.extraction
        if self.spent is not None:
            line["spent"] = self.spent
        if self.inputs:
            line["inputs"] = self.inputs
        if self.efficiency is not None:
            line.update(self.efficiency.fields())
        return line

    @classmethod
    def from_stored(cls, row: StoredResult) -> "SampleOutcome":
        data = row.result
        return cls(row.position, row.task_id, row.sample_index, row.line_number, row.passed, SampleResult.from_dict(data), EfficiencyRecord.from_fields(data), data.get("extraction"), data.get("spent"), data.get("inputs"))


@dataclass
class EvalReport:
    run_id: str
    benchmark: str
    outcomes: list[SampleOutcome]
    errors: list[tuple[int, SampleError]]  # (position in the input, error)
    pass_at: dict[int, AggregateMetric]
    status_counts: dict[str, int]
    n_problems: int
    elapsed_seconds: float
    reused: int = 0
    eff_at: dict[int, AggregateMetric] = field(default_factory=dict)
    speedup: AggregateMetric | None = None
    efficiency_meter: str | None = None
    efficiency_unmeasured: int = 0  # samples with no efficiency measurement (no workload, infra error)

    @property
    def infra_errors(self) -> int:
        return self.status_counts.get(Status.INFRA_ERROR.value, 0)


_SHORT = reprlib.Repr()  # bounded work and length, whatever the size of a test's arguments
_SHORT.maxlevel, _SHORT.maxtuple, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxset, _SHORT.maxstring, _SHORT.maxlong, _SHORT.maxother = 4, 12, 12, 8, 12, 200, 60, 100
INPUT_CHARS = 500


def failing_inputs(problem: Problem, verdict: SampleResult) -> dict[str, str] | None:
    """The input of each test a program did not pass, as a person reads it (a call, or a program's stdin), shortened.

    Stored with the result so that a report shows the failing input from the
    store alone; a script test's input is its source, in the problem.
    """
    failed = {t.name for t in verdict.tests if t.status not in (Status.PASS, Status.SKIPPED)}
    if not failed:
        return None
    found: dict[str, str] = {}
    for test in problem.tests:
        if test.name not in failed or test.kind == "script":
            continue
        if test.kind == "call":
            args = [_SHORT.repr(a) for a in test.args] + ["%s=%s" % (k, _SHORT.repr(v)) for k, v in test.kwargs.items()]
            text = "%s(%s)" % (test.function or problem.entry_point, ", ".join(args))
        else:
            text = test.stdin
        found[test.name] = text if len(text) <= INPUT_CHARS else text[:INPUT_CHARS] + "…"
    return found or None


# ------------------------------------------------------------------ one run


class Pending(NamedTuple):
    """A sample waiting to be judged, at its position in the run."""

    position: int
    sample: Sample
    extraction: str | None = None
    spent: dict[str, Any] | None = None


def run_identity(*parts: Any) -> str:
    """A run's id: a digest of everything that decides its results."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode("utf-8", "surrogatepass")).hexdigest()[:16]


class Evaluation:
    """One run in the store: judge samples, record each as it comes, and score the set.

    Thread-compatible with one judging loop; ``record`` may be called from
    the loop's thread only.
    """

    def __init__(self, store: Store, run_id: str, *, kind: str, benchmark: str, source: str, config: dict[str, Any], resume: bool = False, total: int = 0, on_progress: Progress | None = None) -> None:
        self.store = store
        self.run_id = run_id
        self.benchmark = benchmark
        self.started = time.monotonic()
        store.start_run(run_id, kind, benchmark, source, config, resume)
        self.done = store.done_positions(run_id) if resume else set()
        self.total = total
        self.completed = 0
        self.on_progress = on_progress

    def progress(self, outcome: SampleOutcome | None = None, step: int = 1) -> None:
        self.completed += step if outcome is not None else 0
        if self.on_progress is not None:
            self.on_progress(self.completed, self.total, outcome)

    def record(self, position: int, sample: Sample, verdict: SampleResult, *, passed: bool | None = None, efficiency: EfficiencyRecord | None = None,
               extraction: str | None = None, spent: dict[str, Any] | None = None, inputs: dict[str, str] | None = None, final: bool = True) -> SampleOutcome:  # fmt: skip
        """Store one sample's outcome now (a killed run keeps it); ``final=False``: judged, more to measure."""
        outcome = SampleOutcome(position, sample.task_id, sample.index, sample.line_number, verdict.passed if passed is None else passed, verdict, efficiency, extraction, spent, inputs)
        self.store.add_result(self.run_id, position, sample.line_number, sample.task_id, sample.index, outcome.passed, outcome.status.value, outcome.to_line(), stage=None if final else JUDGED, program=sample.program)
        if final:
            self.progress(outcome)
        return outcome

    def judge(self, sandbox: Sandbox, problems: dict[str, Problem], todo: Iterable[Pending], *, final: bool = True) -> Iterator[SampleOutcome]:
        """Judge samples on the sandbox, recording each as it finishes.

        ``todo`` may be a generator that is still producing (a model still
        writing): results stream out as they come.
        """
        pending: dict[int, Pending] = {}

        def pairs() -> Iterator[tuple[Problem, str]]:
            for offset, entry in enumerate(todo):
                pending[offset] = entry
                yield problems[entry.sample.task_id], entry.sample.program

        for offset, result in sandbox.run_many(pairs()):
            entry = pending.pop(offset)
            inputs = failing_inputs(problems[entry.sample.task_id], result)
            yield self.record(entry.position, entry.sample, result, extraction=entry.extraction, spent=entry.spent, inputs=inputs, final=final)

    def outcomes(self) -> list[SampleOutcome]:
        return [SampleOutcome.from_stored(row) for row in self.store.results(self.run_id)]

    def finish(self, problems: Sequence[Problem], ks: Sequence[int], errors: list[tuple[int, SampleError]] = ()) -> EvalReport:  # type: ignore[assignment]
        outcomes = self.outcomes()
        self.store.finish_run(self.run_id)
        return score(self.run_id, self.benchmark, problems, outcomes, list(errors), ks, time.monotonic() - self.started, reused=len(self.done))


# ------------------------------------------------------------------ the batch API


def run_program(program: str, problem: Problem | Sequence[Test], *, entry_point: str | None = None, limits: Limits | None = None, sandbox: Sandbox | None = None) -> SampleResult:
    """Judge one program. ``problem`` may be a Problem or just its tests."""
    if not isinstance(problem, Problem):
        tests = tuple(problem)
        if entry_point is None and any(t.kind != "stdio" for t in tests):
            raise ValueError("run_program needs entry_point when given bare call or script tests")
        problem = Problem(task_id="program", prompt="", entry_point=entry_point or "", tests=tests)
    if sandbox is not None:
        return sandbox.run(problem, program, limits=limits)
    with Sandbox(workers=1, limits=limits, calibrate=False) as box:
        return box.run(problem, program)


def resolve_samples(samples: str | Path | Iterable[Sample | SampleError], problems: Sequence[Problem]) -> tuple[str, list[Sample | SampleError]]:
    """The samples and a description of where they came from."""
    if isinstance(samples, (str, Path)):
        if str(samples) == "canonical":
            return "canonical", list(canonical_samples(problems))
        return str(samples), list(read_samples(samples, problems))
    return "<api>", list(samples)


def samples_identity(benchmark: str, items: list[Sample | SampleError], config: EvalConfig) -> str:
    programs = [
        [item.task_id, item.index, hashlib.sha256(item.program.encode("utf-8", "surrogatepass")).hexdigest()] if isinstance(item, Sample) else str(item)
        for item in items
    ]
    eff = config.efficiency
    efficiency = None if eff is None else [eff.meter, eff.repeats, list(eff.spec.weights), eff.spec.timeout_factor]
    return run_identity(benchmark, programs, config.limits.__dict__, config.timeout_factor, config.min_cpu_seconds, efficiency)


def evaluate(
    benchmark: str | Path | Sequence[Problem],
    samples: str | Path | Iterable[Sample | SampleError],
    *,
    config: EvalConfig | None = None,
    store: Store | None = None,
    resume: bool = False,
    sandbox: "Sandbox | SandboxStart | None" = None,
    on_progress: Progress | None = None,
    judge: Any = None,
) -> EvalReport:
    """Run every sample, store each result as it comes, and score the set.

    ``judge``: something with ``Sandbox.run_many``'s signature that judges
    instead of a local sandbox (``assay.scale.RayJudge``: the samples spread
    over a Ray cluster, verdicts streaming back into this process's store).
    The efficiency stage, if any, still measures on a local sandbox.

    With ``config.efficiency`` a second stage measures every judged sample
    on stress inputs; a sample is stored once judged and again once measured,
    so a run killed in between resumes with the measuring only.
    """
    config = config or EvalConfig()
    # the sandbox's workers start while the benchmark and the samples load (start-up time); unused if nothing is to run
    if isinstance(sandbox, SandboxStart):
        starting, sandbox = sandbox, None  # started by the caller (the CLI, before parsing); ours to use or close now
    else:
        starting = SandboxStart.of(**sandbox_options(config)) if sandbox is None and judge is None else None
    try:
        return _evaluate(benchmark, samples, config, store, resume, sandbox, on_progress, judge, starting)
    finally:
        if starting is not None:
            starting.discard()


def sandbox_options(config: EvalConfig) -> dict[str, Any]:
    """What of ``config`` shapes the sandbox (a started one is used only if these match)."""
    return {"workers": config.workers, "limits": config.limits, "timeout_factor": config.timeout_factor, "min_cpu_seconds": config.min_cpu_seconds}


def _evaluate(benchmark: str | Path | Sequence[Problem], samples: str | Path | Iterable[Sample | SampleError], config: EvalConfig, store: Store | None,
              resume: bool, sandbox: Sandbox | None, on_progress: Progress | None, judge: Any, starting: SandboxStart | None) -> EvalReport:  # fmt: skip
    if isinstance(benchmark, (str, Path)):
        name, problems = str(benchmark), load_benchmark(benchmark)
    else:
        name, problems = "custom", list(benchmark)
    by_id = {p.task_id: p for p in problems}
    source, items = resolve_samples(samples, problems)
    own_store = store is None
    store = store or Store()
    try:
        run = Evaluation(store, samples_identity(name, items, config), kind="eval", benchmark=name, source=source,
                         config={"ks": list(config.ks), "limits": config.limits.__dict__}, resume=resume,
                         total=sum(isinstance(item, Sample) for item in items), on_progress=on_progress)  # fmt: skip
        store.clear_sample_errors(run.run_id)
        errors = [(position, item) for position, item in enumerate(items) if isinstance(item, SampleError)]
        for _, error in errors:
            store.add_sample_error(run.run_id, error.line_number, error.task_id, error.message)
        todo = [Pending(position, item) for position, item in enumerate(items) if isinstance(item, Sample) and position not in run.done]
        measuring = config.efficiency is not None
        # judged in an earlier, killed run, efficiency not yet measured
        waiting = store.positions(run.run_id, stage=JUDGED) if measuring and run.done else set()
        unmeasured = [o for o in run.outcomes() if o.position in waiting]
        run.completed = run.total - len(todo) - len(unmeasured)
        run.progress()
        if todo or unmeasured:
            local = judge is None or measuring
            if sandbox is not None:
                box: Sandbox | None = sandbox
            elif starting is not None:
                box = starting.get()
            else:
                box = Sandbox(**sandbox_options(config)) if local else None
            try:
                judged = list(run.judge(judge or box, by_id, todo, final=not measuring))
                if measuring:
                    programs = {position: item for position, item in enumerate(items) if isinstance(item, Sample)}
                    measure_efficiency(run, box, config.efficiency, by_id, programs, unmeasured + judged)
            finally:
                if sandbox is None and box is not None:
                    box.close()
        report = run.finish(problems, config.ks, errors)
    finally:
        if own_store:
            store.close()
    if config.efficiency is not None:
        add_efficiency(report, config.ks)
    return report


def measure_efficiency(run: Evaluation, sandbox: Sandbox, config: "EfficiencyConfig", problems: dict[str, Problem], samples: dict[int, Sample], judged: list[SampleOutcome]) -> None:
    """The efficiency stage: each judged sample on its stress inputs, stored as it completes."""
    from assay.measure.efficiency import evaluate_efficiency

    judged = sorted(judged, key=lambda o: o.position)

    def on_result(index: int, eff: Any) -> None:
        outcome = judged[index]
        passed = outcome.passed and eff.passed  # ENAMEL: a wrong answer on a stress input fails the sample
        run.record(outcome.position, samples[outcome.position], outcome.verdict, passed=passed, efficiency=EfficiencyRecord.of(eff), extraction=outcome.extraction, inputs=outcome.inputs)

    items = [(problems[o.task_id], samples[o.position].program, o.passed) for o in judged]
    evaluate_efficiency(items, sandbox, config=config, on_result=on_result)


def add_efficiency(report: EvalReport, ks: Sequence[int]) -> None:
    """eff@k (and a geometric-mean speedup) over problems whose samples all have a score.

    Problems where any sample has no efficiency measurement (no stress
    workload, an infrastructure error) are left out and counted.
    """
    scores: dict[str, list[float | None]] = defaultdict(list)
    passed: dict[str, list[bool]] = defaultdict(list)
    speedups: dict[str, list[float]] = defaultdict(list)
    meters = set()
    for outcome in report.outcomes:
        eff = outcome.efficiency
        if outcome.status is Status.INFRA_ERROR or eff is None:
            continue
        scores[outcome.task_id].append(eff.score)
        passed[outcome.task_id].append(outcome.passed)
        if eff.speedup:
            speedups[outcome.task_id].append(float(eff.speedup))
        if eff.meter:
            meters.add(eff.meter)
    report.efficiency_unmeasured = sum(v is None for values in scores.values() for v in values)
    per_problem = [ProblemSamples(t, tuple(passed[t]), tuple(float(v) for v in values)) for t, values in scores.items() if values and all(v is not None for v in values)]  # type: ignore[arg-type]
    report.efficiency_meter = ", ".join(sorted(meters)) or None
    for k in ks:
        eligible = [p for p in per_problem if p.n >= k]
        if eligible:
            report.eff_at[k] = eff_at_k_over_problems(eligible, k)
    per_problem_speedup = [geometric_mean(v) for v in speedups.values() if v]
    if per_problem_speedup:
        ci = bootstrap_ci(per_problem_speedup, geometric_mean)
        report.speedup = AggregateMetric("speedup", ci.estimate, ci, len(per_problem_speedup))


def score(run_id: str, benchmark: str, problems: Sequence[Problem], outcomes: list[SampleOutcome], errors: list[tuple[int, SampleError]], ks: Sequence[int], elapsed: float, reused: int = 0) -> EvalReport:
    """pass@k over problems that have samples; bad lines naming a task count as failed samples.

    Samples whose result is an infrastructure error are left out of pass@k
    (they say nothing about the candidate) and counted separately.
    """
    passed_by_task: dict[str, list[bool]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.status is not Status.INFRA_ERROR:
            passed_by_task[outcome.task_id].append(outcome.passed)
    for _, error in errors:
        if error.task_id is not None:
            passed_by_task[error.task_id].append(False)
    per_problem = [ProblemSamples(task_id, tuple(flags)) for task_id, flags in passed_by_task.items() if flags]
    pass_at: dict[int, AggregateMetric] = {}
    for k in ks:
        eligible = [p for p in per_problem if p.n >= k]
        if eligible:
            pass_at[k] = pass_at_k_over_problems(eligible, k)
    counts = Counter(outcome.status.value for outcome in outcomes)
    if errors:
        counts[Status.BAD_INPUT.value] = len(errors)
    return EvalReport(run_id, benchmark, outcomes, errors, pass_at, dict(counts), len(per_problem), elapsed, reused)


def write_results(report: EvalReport, path: str | Path) -> None:
    """One line per sample in input order (bad input lines included, as errors)."""
    rows: list[tuple[int, dict]] = [(o.position, o.to_line()) for o in report.outcomes]
    for position, error in report.errors:
        rows.append((position, {"task_id": error.task_id, "index": error.index, "line_number": error.line_number, "passed": False, "status": Status.BAD_INPUT.value, "error": error.message, "tests": []}))
    rows.sort(key=lambda row: row[0])
    with open(path, "w", encoding="utf-8") as handle:
        for _, row in rows:
            handle.write(json.dumps(row) + "\n")
