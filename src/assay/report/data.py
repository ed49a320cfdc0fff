"""Runs read back from the store into typed objects: what every report section works from.

Reports read only the store: no sandbox, no model, no benchmark loader.
A run is its row (:class:`~assay.store.StoredRun`), its samples
(:class:`~assay.evaluate.SampleOutcome` with the program judged and, for model
runs, the model calls that wrote it), the input lines that were not samples,
and rows that other work adds to the store (a search tree) by table name.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from assay.evaluate import SampleOutcome
from assay.samples import SampleError
from assay.store import Store, StoredRun


class ReportError(ValueError):
    """A run that cannot be found (or a prefix naming several), said in one line."""


@dataclass(frozen=True)
class LlmCall:
    task_id: str
    sample_index: int
    model: str
    messages: tuple[dict[str, Any], ...]
    completion: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cached: bool

    @classmethod
    def of(cls, row: dict[str, Any]) -> "LlmCall":
        return cls(
            row["task_id"], int(row["sample_index"]), row["model"], tuple(json.loads(row["messages"])), row["completion"], row["finish_reason"],
            int(row["prompt_tokens"]), int(row["completion_tokens"]), float(row["seconds"]), bool(row["cached"]),
        )  # fmt: skip

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class SampleView:
    """One sample as a report shows it: its outcome, the program judged, and the calls that wrote it."""

    outcome: SampleOutcome
    program: str | None  # None: stored before programs were kept
    calls: tuple[LlmCall, ...] = ()

    @property
    def task_id(self) -> str:
        return self.outcome.task_id

    @property
    def failure(self) -> str | None:
        """The kind of failure, for filtering: ``wrong answer``, an exception type, ``timeout``, ``no code``, ...; None if it passed."""
        return failure_kind(self.outcome, self.program)


def failure_kind(outcome: SampleOutcome, program: str | None) -> str | None:
    if outcome.passed:
        return None
    if program is not None and not program.strip():
        return "no code"
    verdict = outcome.verdict
    worst = verdict.load if verdict.load is not None else next((t for t in verdict.tests if t.status is outcome.status), None)
    status = outcome.status.value
    if status in ("pass", "too_slow"):
        return "too slow"  # correct on the tests, censored on the stress inputs (stores before too_slow said pass)
    if status == "fail":
        return "wrong answer"
    if status == "error":
        return (worst.exception_type if worst is not None and worst.exception_type else "error")
    return status.replace("_", " ")


@dataclass
class RunData:
    """Everything a report shows of one run."""

    run: StoredRun
    samples: list[SampleView]
    errors: list[SampleError] = field(default_factory=list)
    llm_calls: list[LlmCall] = field(default_factory=list)
    extra: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # rows of tables other work adds, by table

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def kind(self) -> str:
        return self.run.kind

    @property
    def is_model_run(self) -> bool:
        return self.run.kind != "eval" or bool(self.llm_calls)

    @property
    def model(self) -> str:
        return self.run.source if self.run.kind != "eval" else "-"

    @property
    def strategy(self) -> str:
        return str(self.run.config.get("strategy", "-"))

    @property
    def label(self) -> str:
        """A short name for tables and legends: the model and strategy of a model run, the samples of an eval."""
        short_id = self.run_id.rsplit("-", 1)[-1][:8]
        if self.kind == "eval":
            return "%s (%s)" % (_short(self.run.source), short_id)
        return "%s / %s (%s)" % (_short(self.model), self.strategy, short_id)

    @property
    def date(self) -> str:
        return format_time(self.run.created_at)

    def task_ids(self) -> list[str]:
        """Problems in the order their first sample was stored."""
        return list(dict.fromkeys(s.task_id for s in self.samples))

    def by_task(self) -> dict[str, list[SampleView]]:
        grouped: dict[str, list[SampleView]] = defaultdict(list)
        for sample in self.samples:
            grouped[sample.task_id].append(sample)
        return grouped

    def ks(self) -> tuple[int, ...]:
        configured = self.run.config.get("ks")
        if configured:
            return tuple(int(k) for k in configured)
        n = int(self.run.config.get("n") or 1)
        return (1,) if n == 1 else (1, n)


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def format_time(stamp: float | None) -> str:
    if not stamp:
        return "-"
    return _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def resolve_run(store: Store, ref: str) -> str:
    """A run id from an id or a unique prefix of one; ``last`` is the newest run."""
    if ref in ("last", "latest"):
        runs = store.runs()
        if not runs:
            raise ReportError("the store %s has no runs yet" % store.path)
        return max(runs, key=lambda r: r.created_at).run_id
    found = store.find_runs(ref)
    if not found:
        raise ReportError("no run %r in %s (`assay runs` lists them)" % (ref, store.path))
    if len(found) > 1:
        raise ReportError("%r names %d runs (%s); give more of the id" % (ref, len(found), ", ".join(found[:5])))
    return found[0]


EXTRA_TABLES = ("search_nodes",)  # tables other work adds whose rows reports read (see docs/reports.md)


def _extra_rows(store: Store, table: str, run_id: str) -> list[dict[str, Any]]:
    """A run's rows of ``table``, through the store's own reader where it has one (it decodes JSON columns)."""
    reader = getattr(store, table, None)
    if callable(reader) and store.has_table(table):
        return reader(run_id)
    return store.rows(table, run_id)


def load_run(store: Store, run_id: str) -> RunData:
    """One run, everything a report shows of it, from the store alone."""
    run = store.run(run_id)
    if run is None:
        raise ReportError("no run %r in %s" % (run_id, store.path))
    programs = store.programs(run_id)
    calls = [LlmCall.of(row) for row in store.llm_calls(run_id)]
    by_sample: dict[tuple[str, int], list[LlmCall]] = defaultdict(list)
    for call in calls:
        by_sample[(call.task_id, call.sample_index)].append(call)
    samples = []
    for row in store.results(run_id):
        outcome = SampleOutcome.from_stored(row)
        samples.append(SampleView(outcome, programs.get(row.position), tuple(by_sample.get((row.task_id, row.sample_index), ()))))
    errors = [SampleError(e["line_number"], e["message"], e["task_id"]) for e in store.sample_errors(run_id)]
    extra = {table: rows for table in EXTRA_TABLES if (rows := _extra_rows(store, table, run_id))}
    return RunData(run, samples, errors, calls, extra)
