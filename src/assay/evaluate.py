"""Evaluating sample sets: run every sample in the sandbox, store, and score.

``evaluate`` is the batch API behind ``assay eval``; ``run_program`` judges
one program against a problem (or a bare list of tests).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from assay.metrics import AggregateMetric, ProblemSamples, bootstrap_ci, eff_at_k_over_problems, geometric_mean, pass_at_k_over_problems
from assay.problems import Problem, Test, load_benchmark
from assay.samples import Sample, SampleError, canonical_samples, read_samples
from assay.sandbox.limits import Limits
from assay.sandbox.pool import Sandbox
from assay.sandbox.verdict import SampleResult, Status
from assay.store import Store

if TYPE_CHECKING:
    from assay.efficiency import EfficiencyConfig


@dataclass(frozen=True)
class EvalConfig:
    workers: int | None = None
    ks: tuple[int, ...] = (1, 10)
    limits: Limits = field(default_factory=Limits)
    timeout_factor: float = 20.0
    min_cpu_seconds: float = 0.3
    efficiency: "EfficiencyConfig | None" = None  # measure ENAMEL efficiency on stress inputs (see assay.efficiency)


@dataclass
class SampleOutcome:
    """One sample's place in the input and its result (as stored)."""

    position: int
    task_id: str
    index: int
    line_number: int | None
    passed: bool
    status: str
    result: dict

    def to_line(self) -> dict:
        line = {"task_id": self.task_id, "index": self.index, "line_number": self.line_number, "passed": self.passed, "status": self.status}
        line.update({k: v for k, v in self.result.items() if k not in line})
        return line


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


def run_identity(benchmark: str, items: list[Sample | SampleError], config: EvalConfig) -> str:
    digest = hashlib.sha256()
    digest.update(benchmark.encode())
    for item in items:
        if isinstance(item, Sample):
            digest.update(b"%s\0%d\0" % (item.task_id.encode(), item.index))
            digest.update(hashlib.sha256(item.program.encode("utf-8", "surrogatepass")).digest())
        else:
            digest.update(str(item).encode())
    digest.update(json.dumps([config.limits.__dict__, config.timeout_factor, config.min_cpu_seconds], sort_keys=True).encode())
    if config.efficiency is not None:
        eff = config.efficiency
        digest.update(json.dumps(["efficiency", eff.meter, eff.repeats, list(eff.spec.weights), eff.spec.timeout_factor]).encode())
    return digest.hexdigest()[:16]


def evaluate(
    benchmark: str | Path | Sequence[Problem],
    samples: str | Path | Iterable[Sample | SampleError],
    *,
    config: EvalConfig | None = None,
    store: Store | None = None,
    resume: bool = False,
    sandbox: Sandbox | None = None,
    on_progress: Callable[[int, int, SampleOutcome | None], None] | None = None,
) -> EvalReport:
    """Run every sample, store each result as it comes, and score the set."""
    config = config or EvalConfig()
    started = time.monotonic()
    if isinstance(benchmark, (str, Path)):
        name, problems = str(benchmark), load_benchmark(benchmark)
    else:
        name, problems = "custom", list(benchmark)
    by_id = {p.task_id: p for p in problems}
    source, items = resolve_samples(samples, problems)
    run_id = run_identity(name, items, config)
    own_store = store is None
    store = store or Store()
    try:
        store.start_run(run_id, "eval", name, source, {"ks": list(config.ks), "limits": config.limits.__dict__}, resume)
        done = store.done_positions(run_id) if resume else set()
        store.clear_sample_errors(run_id)
        errors = [(position, item) for position, item in enumerate(items) if isinstance(item, SampleError)]
        for _, error in errors:
            store.add_sample_error(run_id, error.line_number, error.task_id, error.message)
        todo = [(position, item) for position, item in enumerate(items) if isinstance(item, Sample) and position not in done]
        # Judged, efficiency not yet measured (a resumed run that was killed in between).
        pending: list[tuple[int, Sample, dict]] = []
        if config.efficiency is not None and done:
            pending = [(r.position, items[r.position], r.result) for r in store.results(run_id) if r.position in done and r.result.get("efficiency_pending")]
        total = sum(isinstance(item, Sample) for item in items)
        completed = total - len(todo) - len(pending)
        if on_progress:
            on_progress(completed, total, None)
        if todo or pending:
            box = sandbox or Sandbox(workers=config.workers, limits=config.limits, timeout_factor=config.timeout_factor, min_cpu_seconds=config.min_cpu_seconds)
            try:
                pairs = ((by_id[item.task_id], item.program) for _, item in todo)
                for offset, result in box.run_many(pairs):
                    position, item = todo[offset]
                    data = result.to_dict()
                    if config.efficiency is not None:
                        # stored now, so a killed run keeps it; completed once its efficiency is measured
                        data["efficiency_pending"] = True
                        pending.append((position, item, data))
                    store.add_result(run_id, position, item.line_number, item.task_id, item.index, result.passed, result.status.value, data)
                    if config.efficiency is None:
                        completed += 1
                        if on_progress:
                            on_progress(completed, total, _outcome(position, item, result.passed, result.status.value, data))
                if config.efficiency is not None:
                    from assay.efficiency import evaluate_efficiency

                    pending.sort(key=lambda entry: entry[0])

                    def on_efficiency(index: int, eff) -> None:
                        nonlocal completed
                        position, item, judged = pending[index]
                        passed = bool(judged["passed"]) and eff.passed  # ENAMEL: a wrong answer on a stress input fails the sample
                        data = {k: v for k, v in judged.items() if k != "efficiency_pending"}
                        data["passed"] = passed
                        data.update(efficiency_fields(eff))
                        store.add_result(run_id, position, item.line_number, item.task_id, item.index, passed, data["status"], data)
                        completed += 1
                        if on_progress:
                            on_progress(completed, total, _outcome(position, item, passed, data["status"], data))

                    items_eff = [(by_id[item.task_id], item.program, bool(judged["passed"])) for _, item, judged in pending]
                    evaluate_efficiency(items_eff, box, config=config.efficiency, on_result=on_efficiency)
            finally:
                if sandbox is None:
                    box.close()
        outcomes = [
            SampleOutcome(r.position, r.task_id, r.sample_index, r.line_number, r.passed, r.status, r.result)
            for r in store.results(run_id)
        ]
        store.finish_run(run_id)
    finally:
        if own_store:
            store.close()
    report = score(run_id, name, problems, outcomes, errors, config.ks, time.monotonic() - started, reused=len(done))
    if config.efficiency is not None:
        add_efficiency(report, config.ks)
    return report


def efficiency_fields(eff) -> dict:
    """The result-line fields of a :class:`~assay.efficiency.SampleEfficiency`."""
    import math

    score = None if math.isnan(eff.score) else eff.score
    return {
        "efficiency": score,
        "cost": [{"level": c.level, "value": c.value, "unit": c.unit, "meter": c.meter, "status": c.status, "reference": c.reference} for c in eff.levels],
        "speedup": eff.speedup,
        "efficiency_meter": eff.meter,
        "efficiency_detail": {k: v for k, v in eff.to_dict().items() if k != "levels"},
    }


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
        if outcome.status == Status.INFRA_ERROR.value or "efficiency" not in outcome.result:
            continue
        scores[outcome.task_id].append(outcome.result.get("efficiency"))
        passed[outcome.task_id].append(outcome.passed)
        if outcome.result.get("speedup"):
            speedups[outcome.task_id].append(float(outcome.result["speedup"]))
        if outcome.result.get("efficiency_meter"):
            meters.add(outcome.result["efficiency_meter"])
    report.efficiency_unmeasured = sum(v is None for values in scores.values() for v in values)
    per_problem = [ProblemSamples(t, tuple(passed[t]), tuple(float(v) for v in values)) for t, values in scores.items() if values and all(v is not None for v in values)]
    report.efficiency_meter = ", ".join(sorted(meters)) or None
    for k in ks:
        eligible = [p for p in per_problem if p.n >= k]
        if eligible:
            report.eff_at[k] = eff_at_k_over_problems(eligible, k)
    per_problem_speedup = [geometric_mean(v) for v in speedups.values() if v]
    if per_problem_speedup:
        ci = bootstrap_ci(per_problem_speedup, geometric_mean)
        report.speedup = AggregateMetric("speedup", ci.estimate, ci, len(per_problem_speedup))


def _outcome(position: int, item: Sample, passed: bool, status: str, data: dict) -> SampleOutcome:
    return SampleOutcome(position, item.task_id, item.index, item.line_number, passed, status, data)


def score(run_id: str, benchmark: str, problems: Sequence[Problem], outcomes: list[SampleOutcome], errors: list[tuple[int, SampleError]], ks: Sequence[int], elapsed: float, reused: int = 0) -> EvalReport:
    """pass@k over problems that have samples; bad lines naming a task count as failed samples.

    Samples whose result is an infrastructure error are left out of pass@k
    (they say nothing about the candidate) and counted separately.
    """
    passed_by_task: dict[str, list[bool]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.status != Status.INFRA_ERROR.value:
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
    counts = Counter(outcome.status for outcome in outcomes)
    if errors:
        counts["bad_line"] = len(errors)
    return EvalReport(run_id, benchmark, outcomes, errors, pass_at, dict(counts), len(per_problem), elapsed, reused)


def write_results(report: EvalReport, path: str | Path) -> None:
    """One line per sample in input order (bad input lines included, as errors)."""
    rows: list[tuple[int, dict]] = [(o.position, o.to_line()) for o in report.outcomes]
    for position, error in report.errors:
        rows.append((position, {"task_id": error.task_id, "index": error.index, "line_number": error.line_number, "passed": False, "status": "bad_input", "error": error.message, "tests": []}))
    rows.sort(key=lambda row: row[0])
    with open(path, "w", encoding="utf-8") as handle:
        for _, row in rows:
            handle.write(json.dumps(row) + "\n")
