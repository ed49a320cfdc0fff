"""A search run's tree per problem: each node, the operator that made it, its feedback and score.

Search runs store their nodes in a ``search_nodes`` table (the search work
adds it with a migration); the report reads its rows by run id and needs
these columns: ``task_id``, ``node_id``, ``parent_id`` (NULL for a root),
``operator`` (plan, implement, debug, rethink, optimize, ...), ``score``
(the value the search gave the node), ``feedback`` (the text the model got
back), and optionally ``program``, ``sample_index`` and ``passed``. Runs
without such rows render nothing. The tree is nested ``<details>``: it opens
and closes with the keyboard or the mouse, with no script.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from assay.report.highlight import python_html
from assay.report.page import Fragment, esc
from assay.report.sections import ReportContext

TABLE = "search_nodes"


@dataclass(frozen=True)
class SearchNode:
    task_id: str
    node_id: str
    parent_id: str | None
    operator: str
    score: float | None
    feedback: str
    program: str | None = None
    passed: bool | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> "SearchNode":
        parent = row.get("parent_id")
        score = row.get("score")
        passed = row.get("passed")
        return cls(
            str(row["task_id"]), str(row["node_id"]), None if parent is None else str(parent), str(row.get("operator") or "?"),
            None if score is None else float(score), str(row.get("feedback") or ""), row.get("program"), None if passed is None else bool(passed),
        )  # fmt: skip


def nodes_by_task(rows: list[dict[str, Any]]) -> dict[str, list[SearchNode]]:
    grouped: dict[str, list[SearchNode]] = defaultdict(list)
    for row in rows:
        node = SearchNode.of(row)
        grouped[node.task_id].append(node)
    return grouped


def node_html(node: SearchNode, children: dict[str | None, list[SearchNode]], depth: int = 0) -> str:
    score = "-" if node.score is None else "%.3f" % node.score
    mark = "" if node.passed is None else (' <span class="badge st-pass">pass</span>' if node.passed else ' <span class="badge st-fail">fail</span>')
    body = ""
    if node.feedback:
        body += '<div class="label">feedback</div><pre class="out">%s</pre>' % esc(node.feedback[:8000])
    if node.program:
        body += '<div class="label">program</div><pre class="hl code">%s</pre>' % python_html(node.program)
    kids = "".join(node_html(child, children, depth + 1) for child in children.get(node.node_id, ()))
    if kids:
        body += '<div class="children">%s</div>' % kids
    return '<details class="node"%s><summary><b>%s</b> · score %s%s <span class="na">#%s</span></summary>%s</details>' % (
        " open" if depth < 2 else "", esc(node.operator), score, mark, esc(node.node_id), body)  # fmt: skip


def render(context: ReportContext) -> Fragment | None:
    parts = []
    for run in context.runs:
        rows = run.extra.get(TABLE)
        if not rows:
            continue
        trees = []
        for task, nodes in nodes_by_task(rows).items():
            ids = {n.node_id for n in nodes}
            children: dict[str | None, list[SearchNode]] = defaultdict(list)
            for node in nodes:
                children[node.parent_id if node.parent_id in ids else None].append(node)
            best = max((n.score for n in nodes if n.score is not None), default=None)
            title = "<code>%s</code> · %d nodes%s" % (esc(task), len(nodes), "" if best is None else " · best score %.3f" % best)
            trees.append('<details class="tree"><summary>%s</summary>%s</details>' % (title, "".join(node_html(root, children) for root in children[None])))
        parts.append("<h3>%s</h3>%s" % (esc(run.label), "".join(trees)))
    if not parts:
        return None
    return Fragment("tree", "Search trees", "".join(parts))
