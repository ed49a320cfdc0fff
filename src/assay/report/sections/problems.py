"""The problems: a sortable, filterable table per run; a click on a problem opens its samples.

The table's rows are HTML; each problem's samples (per-test verdicts, the
failing test's evidence, output, CPU and memory, the highlighted program,
the model's prompt and reply) travel as one gzipped JSON block per run that
the page unpacks on the first click, so a report of thousands of samples is
small and opens at once.
"""

from __future__ import annotations

import statistics
from collections import Counter

from assay.metrics import geometric_mean
from assay.report.data import RunData, SampleView
from assay.report.highlight import python_html, shared_prefix
from assay.report.page import Fragment, esc, packed_script
from assay.report.sections import ReportContext
from assay.sandbox.verdict import Status, TestVerdict

TEXT_CAP = 4000  # characters of one output, message or traceback kept in the page


def cap(text: str | None, limit: int = TEXT_CAP) -> str | None:
    if not text:
        return None
    return text if len(text) <= limit else text[:limit] + "\n… (%d more characters)" % (len(text) - limit)


def evidence(test: TestVerdict, inputs: dict[str, str] | None = None) -> dict:
    """What a failing test shows: its input (kept with the result: evaluate.failing_inputs), the first difference, the exception, output."""
    m = test.measurement
    data = {
        "name": test.name, "status": test.status.value, "kind": test.kind, "input": (inputs or {}).get(test.name), "message": cap(test.message), "diff": cap(test.first_difference),
        "exc": test.exception_type, "tb": cap(test.traceback), "stdout": cap(test.stdout), "stderr": cap(test.stderr),
        "cpu": m.cpu_ns, "rss": m.peak_rss_bytes,
    }  # fmt: skip
    return {k: v for k, v in data.items() if v not in (None, "")}


def sample_data(sample: SampleView, prompts: dict[str, int], prompt_list: list, prefix: str = "") -> dict:
    outcome = sample.outcome
    verdict = outcome.verdict
    tests = [[t.name, t.status.value, t.measurement.cpu_ns, t.measurement.peak_rss_bytes] for t in verdict.tests]
    failing = verdict.load if verdict.load is not None else next((t for t in verdict.tests if not t.passed and t.status is not Status.SKIPPED), None)
    output = next((t for t in verdict.tests if t.stdout or t.stderr), None)
    data: dict = {"i": outcome.index, "st": outcome.status.value, "ok": outcome.passed, "tests": tests}
    if failing is not None:
        data["fail"] = evidence(failing, getattr(outcome, "inputs", None))
    if output is not None and output is not failing:
        data["out"] = {"name": output.name, "stdout": cap(output.stdout), "stderr": cap(output.stderr)}
    if verdict.infra_message:
        data["infra"] = cap(verdict.infra_message)
    if sample.failure:
        data["fk"] = sample.failure
    if outcome.extraction:
        data["ext"] = outcome.extraction
    spent = getattr(outcome, "spent", None)
    if spent:
        data["spent"] = spent
    eff = outcome.efficiency
    if eff is not None:
        data["eff"] = eff.score
        data["sp"] = eff.speedup
        data["meter"] = eff.meter
        data["levels"] = [[c.get("level"), c.get("value"), c.get("unit"), c.get("status"), c.get("reference")] for c in eff.costs]
    if sample.program is not None:
        if prefix and sample.program.startswith(prefix):
            data["code"], data["pre"] = python_html(sample.program[len(prefix) :]), 1  # the problem's shared lines come first
        else:
            data["code"] = python_html(sample.program) if sample.program.strip() else ""
    calls = []
    for call in sample.calls:
        key = repr(call.messages)
        if key not in prompts:
            prompts[key] = len(prompt_list)
            prompt_list.append([[m.get("role", ""), cap(str(m.get("content", "")), 20000)] for m in call.messages])
        calls.append({"p": prompts[key], "r": cap(call.completion, 20000), "pt": call.prompt_tokens, "ct": call.completion_tokens, "s": round(call.seconds, 3), "c": call.cached, "f": call.finish_reason})
    if calls:
        data["calls"] = calls
    return data


def _ms(ns: float) -> str:
    return "%.2f" % (ns / 1e6)


def problem_row(run_index: int, row_index: int, task: str, samples: list[SampleView]) -> str:
    n = len(samples)
    c = sum(s.outcome.passed for s in samples)
    statuses = Counter(s.outcome.status.value for s in samples)
    kinds = Counter(s.failure for s in samples if s.failure)
    effs = [s.outcome.efficiency.score for s in samples if s.outcome.efficiency is not None and s.outcome.efficiency.score is not None]
    sps = [float(s.outcome.efficiency.speedup) for s in samples if s.outcome.efficiency is not None and s.outcome.efficiency.speedup]
    cpu = [sum(t.measurement.cpu_ns for t in s.outcome.verdict.tests) for s in samples if s.outcome.passed]
    rss = max((t.measurement.peak_rss_bytes for s in samples for t in s.outcome.verdict.tests), default=0)
    outcome = "all" if c == n else ("none" if c == 0 else "some")
    eff = sum(effs) / len(effs) if effs else None
    speedup = geometric_mean(sps) if sps else None
    median_cpu = statistics.median(cpu) if cpu else None
    status_html = " ".join('<span class="badge st-%s">%s&nbsp;%d</span>' % (esc(k), esc(k), v) for k, v in statuses.most_common())
    kinds_html = ", ".join("%s&nbsp;×%d" % (esc(k), v) for k, v in kinds.most_common())
    return (
        '<tr class="row" data-run="%d" data-task="%s" data-statuses="%s" data-kinds="%s" data-outcome="%s" tabindex="0">'
        '<td class="task" data-v="%d">%s</td><td data-v="%d">%d</td><td data-v="%d">%d</td><td data-v="%.6f">%.2f</td>'
        "<td>%s</td><td>%s</td><td data-v=\"%s\">%s</td><td data-v=\"%s\">%s</td><td data-v=\"%s\">%s</td><td data-v=\"%d\">%.1f</td></tr>"
    ) % (
        run_index, esc(task), esc(" ".join(statuses)), esc("|".join(kinds)), outcome,
        row_index, esc(task), n, n, c, c, c / n if n else 0.0, c / n if n else 0.0,
        status_html, kinds_html or '<span class="na">-</span>',
        "" if eff is None else "%.6f" % eff, "-" if eff is None else "%.3f" % eff,
        "" if speedup is None else "%.6f" % speedup, "-" if speedup is None else "%.2f×" % speedup,
        "" if median_cpu is None else "%d" % median_cpu, "-" if median_cpu is None else _ms(median_cpu),
        rss, rss / 2**20,
    )  # fmt: skip


def run_table(run_index: int, run: RunData) -> str:
    by_task = run.by_task()
    statuses = sorted({s.outcome.status.value for s in run.samples})
    kinds = sorted({s.failure for s in run.samples if s.failure})
    prompts: dict[str, int] = {}
    prompt_list: list = []
    prefixes = {task: shared_prefix([s.program for s in samples if s.program]) for task, samples in by_task.items()}
    tasks = {task: [sample_data(s, prompts, prompt_list, prefixes[task]) for s in samples] for task, samples in by_task.items()}
    shared = {task: python_html(prefix) for task, prefix in prefixes.items() if prefix}
    payload = {"model": run.is_model_run, "tasks": tasks, "prefix": shared, "prompts": prompt_list}
    options = lambda values: "".join('<option value="%s">%s</option>' % (esc(v), esc(v)) for v in values)  # noqa: E731
    filters = (
        '<div class="filters" data-run="%d">'
        '<input type="search" class="f-text" placeholder="problem id…" aria-label="filter by problem id">'
        '<label>status <select class="f-status"><option value="">any</option>%s</select></label>'
        '<label>failure <select class="f-kind"><option value="">any</option>%s</select></label>'
        '<label>solved <select class="f-outcome"><option value="">any</option><option value="all">by every sample</option>'
        '<option value="some">by some samples</option><option value="none">by no sample</option></select></label>'
        '<span class="count"></span></div>'
    ) % (run_index, options(statuses), options(kinds))
    head = (
        "<thead><tr><th data-sort>problem</th><th data-sort>samples</th><th data-sort>passed</th><th data-sort>pass@1</th><th>statuses</th>"
        "<th>failures</th><th data-sort>eff</th><th data-sort>speedup</th><th data-sort title=\"median over passing samples, all tests\">CPU ms</th>"
        "<th data-sort title=\"largest peak resident memory of any test\">peak MiB</th></tr></thead>"
    )
    rows = "".join(problem_row(run_index, i, task, samples) for i, (task, samples) in enumerate(by_task.items()))
    errors = ""
    if run.errors:
        items = "".join("<li>%s</li>" % esc(str(e)) for e in run.errors[:50])
        more = "<li>… and %d more</li>" % (len(run.errors) - 50) if len(run.errors) > 50 else ""
        errors = '<details class="bad-lines"><summary>%d input lines were not samples</summary><ul>%s%s</ul></details>' % (len(run.errors), items, more)
    return (
        '<div class="problems" id="problems-%d"><h3>%s</h3>%s%s<table class="sortable problem-table" data-samples="samples-%d">%s<tbody>%s</tbody></table>%s</div>'
        % (run_index, esc(run.label), filters, errors, run_index, head, rows, packed_script("samples-%d" % run_index, payload))
    )


def render(context: ReportContext) -> Fragment | None:
    if not context.runs:
        return None
    note = '<p class="note">Click a problem (or press Enter on it) to open its samples: per-test verdicts, the failing input and first difference, the traceback, output, CPU and memory, the program, and for model runs the prompt and reply.</p>'
    return Fragment("problems", "Problems", note + "".join(run_table(i, run) for i, run in enumerate(context.runs)))
