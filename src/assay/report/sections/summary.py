"""The summary: pass@k and eff@k with intervals, cost, meter and machine, one column per run."""

from __future__ import annotations

from assay.metrics import AggregateMetric
from assay.report.page import Fragment, esc
from assay.report.sections import ReportContext
from assay.report.summary import RunSummary


def metric(value: AggregateMetric | None, digits: int = 3) -> str:
    if value is None:
        return '<span class="na">-</span>'
    fmt = "%%.%df" % digits
    return '<b>%s</b> <span class="ci">[%s, %s]</span>' % (fmt % value.value, fmt % value.interval.low, fmt % value.interval.high)


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return "%.1f s" % value if value < 600 else "%.1f min" % (value / 60)


def machine(info: dict | None) -> str:
    if not info:
        return '<span class="na">not stored (run from before machines were kept)</span>'
    memory = info.get("memory_bytes")
    return esc("%s, %s cores%s, %s, Python %s, assay %s" % (
        info.get("cpu"), info.get("cores"), ", %.0f GiB" % (memory / 2**30) if memory else "", info.get("system"), info.get("python"), info.get("assay")))  # fmt: skip


def search(summary: RunSummary) -> str:
    cost = summary.cost
    if not (cost.search_nodes or cost.stopped):
        return '<span class="na">-</span>'
    reasons = "; ".join("%s: %d" % (esc(reason), count) for reason, count in sorted(cost.stopped.items(), key=lambda kv: -kv[1]))
    return "%d / %d / %s" % (cost.search_nodes, cost.search_sandbox_runs, reasons or "-")


def rows(summaries: list[RunSummary]) -> list[tuple[str, list[str]]]:
    ks = sorted({k for s in summaries for k in s.pass_at})
    eff_ks = sorted({k for s in summaries for k in s.eff_at})
    table: list[tuple[str, list[str]]] = [
        ("run", ['<code>%s</code>' % esc(s.run_id) for s in summaries]),
        ("kind", [esc(s.kind) for s in summaries]),
        ("benchmark", [esc(s.benchmark) for s in summaries]),
        ("model", [esc(s.model) for s in summaries]),
        ("strategy", [esc(s.strategy) for s in summaries]),
        ("date", [esc(s.date) for s in summaries]),
        ("problems / samples", ["%d / %d" % (s.n_problems, s.n_samples) for s in summaries]),
    ]
    for k in ks:
        table.append(("pass@%d (95%% CI)" % k, [metric(s.pass_at.get(k)) for s in summaries]))
    for k in eff_ks:
        table.append(("eff@%d (95%% CI)" % k, [metric(s.eff_at.get(k)) for s in summaries]))
    if any(s.speedup for s in summaries):
        table.append(("speedup vs reference (geo. mean)", [metric(s.speedup) for s in summaries]))
    table += [
        ("samples passed", ["%d / %d" % (s.n_passed, s.n_samples) for s in summaries]),
        ("statuses", [", ".join('<span class="badge st-%s">%s</span> %d' % (esc(k), esc(k), v) for k, v in sorted(s.status_counts.items(), key=lambda kv: -kv[1])) for s in summaries]),
        ("model calls", ["%d%s" % (s.cost.calls, " (%d cached)" % s.cost.cached_calls if s.cost.cached_calls else "") for s in summaries]),
        ("tokens (prompt + completion)", ["%d + %d" % (s.cost.prompt_tokens, s.cost.completion_tokens) for s in summaries]),
        ("seconds in the model", [seconds(s.cost.model_seconds) for s in summaries]),
        ("sandbox runs (programs / tests)", ["%d / %d" % (s.cost.sandbox_runs, s.cost.tests_run) for s in summaries]),
        ("candidate CPU time", [seconds(s.cost.candidate_cpu_seconds) for s in summaries]),
        *([("search (nodes / sandbox runs / why it stopped)", [search(s) for s in summaries])] if any(s.cost.search_nodes or s.cost.stopped for s in summaries) else []),
        ("wall time of the run", [seconds(s.cost.wall_seconds) for s in summaries]),
        ("meter", [esc(s.meter) for s in summaries]),
        ("machine", [machine(s.machine) for s in summaries]),
    ]
    return table


def render(context: ReportContext) -> Fragment:
    summaries = context.summaries
    head = "".join("<th>%s</th>" % esc(s.label) for s in summaries)
    body = "".join("<tr><th>%s</th>%s</tr>" % (esc(name), "".join("<td>%s</td>" % cell for cell in cells)) for name, cells in rows(summaries))
    notes = "".join('<p class="note">%s</p>' % esc(n) for n in context.notes)
    html = '<table class="summary"><thead><tr><th></th>%s</tr></thead><tbody>%s</tbody></table>%s' % (head, body, notes)
    html += '<p class="note">Intervals: percentile bootstrap over problems (2000 resamples). pass@k leaves out samples the sandbox failed on (infra_error).</p>'
    return Fragment("summary", "Summary", html)
