"""The plots: samples by status, efficiency and speedups against the reference, pass@1 against budget."""

from __future__ import annotations

from collections import defaultdict

from assay.metrics import geometric_mean
from assay.report import plots
from assay.report.data import RunData
from assay.report.page import Fragment, esc
from assay.report.sections import ReportContext


def budget_curve(run: RunData) -> list[tuple[float, float, float]]:
    """(calls per problem, tokens per problem, fraction solved) after each sample index: what a budget of i+1 samples buys."""
    by_task = run.by_task()
    if not by_task or not run.llm_calls:
        return []
    spent: dict[tuple[str, int], tuple[int, int]] = defaultdict(lambda: (0, 0))
    for call in run.llm_calls:
        calls, tokens = spent[(call.task_id, call.sample_index)]
        spent[(call.task_id, call.sample_index)] = (calls + 1, tokens + call.tokens)
    depth = max(len(samples) for samples in by_task.values())
    points = []
    for i in range(depth):
        calls = tokens = solved = 0.0
        for task, samples in by_task.items():
            upto = [s for s in samples if s.outcome.index <= i]
            solved += any(s.outcome.passed for s in upto)
            for s in upto:
                c, t = spent[(task, s.outcome.index)]
                calls += c
                tokens += t
        n = len(by_task)
        points.append((calls / n, tokens / n, solved / n))
    return points


def render(context: ReportContext) -> Fragment | None:
    if not context.runs:
        return None
    if not context.plots:
        return Fragment("plots", "Plots", plots.missing_note("plots"))
    parts = ['<div class="plots">']
    counts = [(s.label, s.status_counts) for s in context.summaries]
    parts.append('<figure id="plot-status">%s<figcaption>Samples by status (the worst test of each sample).</figcaption></figure>' % plots.status_breakdown(counts))
    scores = [(r.label, [s.outcome.efficiency.score for s in r.samples if s.outcome.efficiency is not None and s.outcome.efficiency.score is not None]) for r in context.runs]
    scores = [(label, values) for label, values in scores if values]
    if scores:
        meters = ", ".join(sorted({s.efficiency_meter for s in context.summaries if s.efficiency_meter}))
        parts.append('<figure id="plot-efficiency">%s<figcaption>Efficiency score per sample (ENAMEL e; meter: %s).</figcaption></figure>' % (plots.efficiency_distribution(scores), esc(meters)))
    speedups = []
    for run in context.runs:
        per_task: dict[str, list[float]] = defaultdict(list)
        for s in run.samples:
            eff = s.outcome.efficiency
            if eff is not None and eff.speedup:
                per_task[s.task_id].append(float(eff.speedup))
        if per_task:
            speedups.append((run.label, [geometric_mean(v) for v in per_task.values()]))
    if speedups:
        parts.append('<figure id="plot-speedup">%s<figcaption>Speedup against the reference per problem (geometric mean over its samples; above 1 is faster).</figcaption></figure>' % plots.speedups(speedups))
    budgets = [(run.label, curve) for run in context.runs if (curve := budget_curve(run))]
    if sum(len(curve) for _, curve in budgets) > 1:  # one run of one sample per problem is one point: nothing to plot
        parts.append('<figure id="plot-budget">%s<figcaption>Problems solved by the first i samples against the calls and tokens they cost (per problem).</figcaption></figure>' % plots.pass_vs_budget(budgets))
    parts.append("</div>")
    return Fragment("plots", "Plots", "".join(parts))
