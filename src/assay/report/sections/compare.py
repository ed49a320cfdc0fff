"""Several runs side by side on the same problems: who wins where, and what only one run solves."""

from __future__ import annotations

from assay.report.page import Fragment, esc
from assay.report.sections import ReportContext


def rates(context: ReportContext) -> tuple[list[str], list[dict[str, tuple[int, int]]]]:
    """The problems (union, first run's order first) and each run's (passed, samples) per problem."""
    tasks: list[str] = []
    per_run = []
    for run in context.runs:
        table = {task: (sum(s.outcome.passed for s in samples), len(samples)) for task, samples in run.by_task().items()}
        per_run.append(table)
        tasks.extend(t for t in table if t not in tasks)
    return list(dict.fromkeys(tasks)), per_run


def render(context: ReportContext) -> Fragment | None:
    if not context.several:
        return None
    labels = [r.label for r in context.runs]
    tasks, per_run = rates(context)
    shared = [t for t in tasks if all(t in table for table in per_run)]
    solved = [{t for t in shared if table[t][0] > 0} for table in per_run]
    parts = ['<p>%d problems in every run (%d in some run only are left out of the counts below).</p>' % (len(shared), len(tasks) - len(shared))]
    everyone = set.intersection(*solved) if solved else set()
    nobody = set(shared) - set.union(*solved) if solved else set()
    parts.append("<ul><li>solved by every run: <b>%d</b></li><li>solved by no run: <b>%d</b></li></ul>" % (len(everyone), len(nobody)))
    only = []
    for i, label in enumerate(labels):
        mine = sorted(solved[i] - set.union(set(), *(solved[j] for j in range(len(labels)) if j != i)))
        listing = " ".join("<code>%s</code>" % esc(t) for t in mine) or '<span class="na">none</span>'
        only.append("<li>only <b>%s</b> solves %d: %s</li>" % (esc(label), len(mine), listing))
    parts.append('<ul class="only">%s</ul>' % "".join(only))
    head = "".join("<th>%s</th>" % esc(label) for label in labels)
    wins = []
    for i, a in enumerate(labels):
        cells = []
        for j in range(len(labels)):
            if i == j:
                cells.append('<td class="na">-</td>')
                continue
            better = sum(1 for t in shared if per_run[i][t][0] / per_run[i][t][1] > per_run[j][t][0] / per_run[j][t][1])
            cells.append("<td>%d</td>" % better)
        wins.append("<tr><th>%s</th>%s</tr>" % (esc(a), "".join(cells)))
    parts.append('<h3>Head to head</h3><p class="note">Each cell: problems where the row\'s run has the higher pass rate than the column\'s.</p>'
                 '<table class="matrix"><thead><tr><th></th>%s</tr></thead><tbody>%s</tbody></table>' % (head, "".join(wins)))  # fmt: skip
    rows = []
    for index, task in enumerate(tasks):
        cells = []
        values = []
        for table in per_run:
            if task not in table:
                cells.append('<td class="na" data-v="-1">-</td>')
                values.append(None)
                continue
            c, n = table[task]
            rate = c / n if n else 0.0
            values.append(rate)
            cells.append('<td class="rate r%d" data-v="%.6f">%d/%d</td>' % (round(rate * 4), rate, c, n))
        present = [v for v in values if v is not None]
        differ = len(set(present)) > 1
        best = max(present) if present else 0
        winner = ", ".join(esc(labels[i]) for i, v in enumerate(values) if v == best) if differ else '<span class="na">tie</span>'
        rows.append('<tr class="cmp" data-differ="%d" data-task="%s" tabindex="0"><td data-v="%d"><code>%s</code></td>%s<td>%s</td></tr>' % (differ, esc(task), index, esc(task), "".join(cells), winner))
    parts.append(
        '<h3>Per problem</h3><p class="note">Click a problem to see each run\'s answer side by side (its first passing sample, else its first one).</p><div class="filters"><label><input type="checkbox" class="f-differ"> only problems where the runs differ</label><span class="count"></span></div>'
        '<table class="sortable compare-table" data-runs="%d"><thead><tr><th data-sort>problem</th>%s<th>best</th></tr></thead><tbody>%s</tbody></table>'
        % (len(labels), "".join("<th data-sort>%s</th>" % esc(label) for label in labels), "".join(rows))
    )
    return Fragment("compare", "Side by side", "".join(parts))
