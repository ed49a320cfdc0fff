"""What a run comes to: pass@k and eff@k with intervals, its cost, its meter, its machine.

The scores are the pipeline's own (:func:`assay.evaluate.score` and
:func:`assay.evaluate.add_efficiency` on the stored outcomes), so a report
says what ``assay eval`` printed. :func:`brief` is the cheap version for
``assay runs``: point estimates only, read without parsing results in Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from assay.evaluate import EvalReport, add_efficiency, score
from assay.metrics import AggregateMetric, ProblemSamples
from assay.report.data import RunData, format_time
from assay.store import Store, StoredRun


@dataclass(frozen=True)
class Cost:
    """What a run spent: model calls and tokens, and the sandbox's work."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_seconds: float = 0.0
    cached_calls: int = 0
    sandbox_runs: int = 0  # programs run in the sandbox (one per sample)
    tests_run: int = 0
    candidate_cpu_seconds: float = 0.0  # CPU time of the candidates' tests, read from the kernel
    wall_seconds: float | None = None  # from the run's start to its finish
    search_nodes: int = 0  # a search's own work (what its answers say they spent): nodes grown,
    search_sandbox_runs: int = 0  # ... and sandbox runs to check them on the tests it may see
    stopped: dict[str, int] = field(default_factory=dict)  # why each search stopped, and how often

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class RunSummary:
    run_id: str
    label: str
    kind: str
    benchmark: str
    model: str
    strategy: str
    date: str
    n_problems: int
    n_samples: int
    n_passed: int
    pass_at: dict[int, AggregateMetric]
    eff_at: dict[int, AggregateMetric]
    speedup: AggregateMetric | None
    efficiency_meter: str | None
    efficiency_unmeasured: int
    status_counts: dict[str, int]
    cost: Cost
    machine: dict[str, Any] | None
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def meter(self) -> str:
        """The meter behind the numbers, in words."""
        if self.efficiency_meter:
            return "%s (efficiency on stress inputs); CPU time limits for correctness" % self.efficiency_meter
        return "correctness only (per-test CPU time limits from the reference's cost); no efficiency meter"


def summarize(data: RunData) -> RunSummary:
    outcomes = [s.outcome for s in data.samples]
    errors = [(-1, e) for e in data.errors]
    report: EvalReport = score(data.run_id, data.run.benchmark, (), outcomes, errors, data.ks(), 0.0)
    if any(o.efficiency is not None for o in outcomes):
        add_efficiency(report, data.ks())
    tests = [t for o in outcomes for t in o.verdict.tests]
    wall = (data.run.finished_at - data.run.created_at) if data.run.finished_at else None
    calls = data.llm_calls
    spent = [o.spent for o in outcomes if getattr(o, "spent", None)]
    stopped: dict[str, int] = defaultdict(int)
    for each in spent:
        if each.get("stopped"):
            stopped[str(each["stopped"])] += 1
    cost = Cost(
        calls=len(calls), prompt_tokens=sum(c.prompt_tokens for c in calls), completion_tokens=sum(c.completion_tokens for c in calls),
        model_seconds=sum(c.seconds for c in calls), cached_calls=sum(c.cached for c in calls), sandbox_runs=len(outcomes), tests_run=len(tests),
        candidate_cpu_seconds=sum(t.measurement.cpu_ns for t in tests) / 1e9, wall_seconds=wall,
        search_nodes=sum(int(e.get("nodes") or 0) for e in spent), search_sandbox_runs=sum(int(e.get("sandbox_runs") or 0) for e in spent), stopped=dict(stopped),
    )  # fmt: skip
    return RunSummary(
        data.run_id, data.label, data.kind, data.run.benchmark, data.model, data.strategy, data.date, report.n_problems, len(outcomes),
        sum(o.passed for o in outcomes), report.pass_at, report.eff_at, report.speedup, report.efficiency_meter, report.efficiency_unmeasured,
        report.status_counts, cost, data.run.machine, data.run.config,
    )  # fmt: skip


def brief(store: Store, run: StoredRun) -> dict[str, Any]:
    """One line of ``assay runs``: id, kind, benchmark, model, strategy, date, pass@1, eff@1, cost."""
    passed: dict[str, list[bool]] = defaultdict(list)
    effs: dict[str, list[float | None]] = defaultdict(list)
    for row in store.result_briefs(run.run_id):
        if row.status == "infra_error":
            continue
        passed[row.task_id].append(row.passed)
        if row.has_efficiency:
            effs[row.task_id].append(row.efficiency)
    for error in store.sample_errors(run.run_id):
        if error["task_id"] is not None:
            passed[error["task_id"]].append(False)
    problems = [ProblemSamples(t, tuple(flags)) for t, flags in passed.items() if flags]
    pass_1 = sum(p.pass_at(1) for p in problems) / len(problems) if problems else None
    measured = [values for values in effs.values() if values and all(v is not None for v in values)]
    eff_1 = sum(sum(v) / len(v) for v in measured) / len(measured) if measured else None  # eff@1 = mean score per problem
    llm = store.llm_totals(run.run_id)
    seconds = (run.finished_at - run.created_at) if run.finished_at else None
    return {
        "id": run.run_id,
        "kind": run.kind,
        "benchmark": run.benchmark,
        "model": run.source if run.kind != "eval" else None,
        "strategy": run.config.get("strategy"),
        "date": format_time(run.created_at),
        "pass@1": pass_1,
        "eff@1": eff_1,
        "cost": {"samples": sum(len(v) for v in passed.values()), "calls": llm["calls"], "tokens": llm["prompt_tokens"] + llm["completion_tokens"], "seconds": seconds},
    }
