"""The plots: samples by status, efficiency and speedups against the reference, pass@1 against budget."""

from __future__ import annotations

from collections import defaultdict

from assay.metrics import geometric_mean
from assay.report import plots
from assay.report.data import RunData
from assay.report.page import Fragment, esc
from assay.report.sections import ReportContext


def first_solved(run: RunData) -> tuple[list[tuple[float, float] | None], float, float]:
    """Per problem, the calls and tokens spent until its first passing answer (None: never), and the most any problem spent.

    An answer's cost is what the strategy says it spent (a search's calls and
    tokens), else the model calls stored under its sample index; a problem's
    answers are paid for in index order.
    """
    calls_of: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for call in run.llm_calls:
        cost = calls_of[(call.task_id, call.sample_index)]
        cost[0] += 1
        cost[1] += call.tokens
    firsts: list[tuple[float, float] | None] = []
    most_calls = most_tokens = 0.0
    for task, samples in run.by_task().items():
        calls = tokens = 0.0
        first = None
        for sample in sorted(samples, key=lambda s: s.outcome.index):
            spent = sample.outcome.spent if hasattr(sample.outcome, "spent") else None
            if spent and "calls" in spent:
                calls += float(spent.get("calls") or 0)
                tokens += float(spent.get("tokens") or 0)
            else:
                c, t = calls_of[(task, sample.outcome.index)]
                calls, tokens = calls + c, tokens + t
            if first is None and sample.outcome.passed:
                first = (calls, tokens)
        firsts.append(first)
        most_calls, most_tokens = max(most_calls, calls), max(most_tokens, tokens)
    return firsts, most_calls, most_tokens


def budget_steps(firsts: list[tuple[float, float] | None], axis: int, upper: float) -> list[tuple[float, float]]:
    """(budget, share of problems solved within it): a problem counts once its first passing answer is paid for."""
    if not firsts:
        return []
    costs = sorted(f[axis] for f in firsts if f is not None)
    points = [(0.0, 0.0)]
    for i, cost in enumerate(costs, start=1):
        points.append((cost, i / len(firsts)))
    points.append((max(upper, costs[-1] if costs else 0.0), len(costs) / len(firsts)))
    return points


def budget_curves(run: RunData) -> tuple[list[tuple[float, float]], list[tuple[float, float]]] | None:
    """Problems solved against calls and against tokens per problem, for a model run; None for an evaluation."""
    if not run.llm_calls:
        return None
    firsts, most_calls, most_tokens = first_solved(run)
    return budget_steps(firsts, 0, most_calls), budget_steps(firsts, 1, most_tokens)


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
    budgets = [(run.label, *curves) for run in context.runs if (curves := budget_curves(run))]
    if budgets:
        parts.append('<figure id="plot-budget">%s<figcaption>Problems solved within a budget of model calls or tokens per problem: a problem counts once the answers '
                     'before its first passing one and that one are paid for (a search stops at its answer).</figcaption></figure>' % plots.pass_vs_budget(budgets))
    parts.append("</div>")
    return Fragment("plots", "Plots", "".join(parts))
