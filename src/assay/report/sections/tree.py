"""A search run's tree per problem: each node, the operator that made it, its feedback and value.

Search runs store their nodes in the store's ``search_nodes`` table as they
grow (``assay.search.tree.Node.row``): ``node_id``, ``parent_id`` (NULL for
a root), ``operator`` (implement, plan, debug, reflect, rethink, ...),
``kind`` (plan, reflection, program), ``content`` (the plan or reflection
text, or the program), ``score`` (the value folded into [0, 1]),
``passed`` (the program passed the checks the search could see), ``value``
(its parts: trusted, agreement, critic, efficiency), ``feedback`` (the text
a next step was shown), ``prompt`` and ``reply``. Runs without nodes render
nothing. The tree is nested ``<details>``: it opens and closes with the
keyboard or the mouse, with no script; the best program is marked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from assay.report.highlight import python_html
from assay.report.page import Fragment, esc
from assay.report.sections import ReportContext

TABLE = "search_nodes"
TEXT_CAP = 8000


@dataclass(frozen=True)
class SearchNode:
    task_id: str
    node_id: str
    parent_id: str | None
    operator: str
    kind: str
    content: str
    score: float | None = None
    passed: bool | None = None
    value: dict[str, Any] = field(default_factory=dict)
    feedback: str = ""
    prompt: str = ""
    reply: str = ""

    @classmethod
    def of(cls, row: dict[str, Any]) -> "SearchNode":
        parent, score, passed = row.get("parent_id"), row.get("score"), row.get("passed")
        kind = str(row.get("kind") or ("program" if row.get("program") else "?"))
        content = row.get("content") or row.get("program") or ""
        return cls(
            str(row["task_id"]), str(row["node_id"]), None if parent is None else str(parent), str(row.get("operator") or "?"), kind, str(content),
            None if score is None else float(score), None if passed is None else bool(passed), dict(row.get("value") or {}),
            str(row.get("feedback") or ""), str(row.get("prompt") or ""), str(row.get("reply") or ""),
        )  # fmt: skip


def nodes_by_task(rows: list[dict[str, Any]]) -> dict[str, list[SearchNode]]:
    grouped: dict[str, list[SearchNode]] = defaultdict(list)
    for row in rows:
        node = SearchNode.of(row)
        grouped[node.task_id].append(node)
    return grouped


def _cap(text: str) -> str:
    return text if len(text) <= TEXT_CAP else text[:TEXT_CAP] + "\n… (%d more characters)" % (len(text) - TEXT_CAP)


def node_html(node: SearchNode, children: dict[str | None, list[SearchNode]], best: str | None, depth: int = 0) -> str:
    score = "" if node.score is None else " · score %.3f" % node.score
    marks = ""
    if node.passed is not None:
        marks += ' <span class="badge st-%s">%s</span>' % (("pass", "pass") if node.passed else ("fail", "fail"))
    if node.node_id == best:
        marks += ' <span class="badge best">best</span>'
    body = ""
    if node.kind == "program":
        body += '<div class="label">program</div><pre class="hl code">%s</pre>' % python_html(node.content)
    elif node.content:
        body += '<div class="label">%s</div><pre class="out">%s</pre>' % (esc(node.kind), esc(_cap(node.content)))
    if node.value:
        body += '<div class="label">value</div><p>%s</p>' % esc(", ".join("%s %s" % (k, ("%.3f" % v) if isinstance(v, float) else v) for k, v in node.value.items()))
    if node.feedback:
        body += '<div class="label">feedback</div><pre class="out">%s</pre>' % esc(_cap(node.feedback))
    if node.prompt or node.reply:
        body += '<details class="call"><summary>prompt and reply</summary><div class="label">prompt</div><pre class="out">%s</pre><div class="label">reply</div><pre class="out">%s</pre></details>' % (
            esc(_cap(node.prompt)), esc(_cap(node.reply)))  # fmt: skip
    kids = "".join(node_html(child, children, best, depth + 1) for child in children.get(node.node_id, ()))
    if kids:
        body += '<div class="children">%s</div>' % kids
    return '<details class="node"%s><summary><b>%s</b> %s%s%s <span class="na">#%s</span></summary>%s</details>' % (
        " open" if depth < 2 else "", esc(node.operator), esc(node.kind), score, marks, esc(node.node_id), body)  # fmt: skip


def tree_html(task: str, nodes: list[SearchNode]) -> str:
    ids = {n.node_id for n in nodes}
    children: dict[str | None, list[SearchNode]] = defaultdict(list)
    for node in nodes:
        children[node.parent_id if node.parent_id in ids else None].append(node)
    programs = [n for n in nodes if n.kind == "program" and n.score is not None]
    best = max(programs, key=lambda n: (n.score, -nodes.index(n))).node_id if programs else None
    operators = ", ".join("%s %d" % kv for kv in sorted(_count(n.operator for n in nodes).items(), key=lambda kv: -kv[1]))
    solved = any(n.passed for n in nodes)
    title = '<code>%s</code> · %d nodes (%s)%s%s' % (
        esc(task), len(nodes), esc(operators), "" if not programs else " · best score %.3f" % max(n.score for n in programs),
        ' <span class="badge st-pass">solved</span>' if solved else "")  # fmt: skip
    return '<details class="tree"><summary>%s</summary>%s</details>' % (title, "".join(node_html(root, children, best) for root in children[None]))


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return counts


def render(context: ReportContext) -> Fragment | None:
    parts = []
    for run in context.runs:
        rows = run.extra.get(TABLE)
        if not rows:
            continue
        trees = "".join(tree_html(task, nodes) for task, nodes in nodes_by_task(rows).items())
        parts.append("<h3>%s</h3>%s" % (esc(run.label), trees))
    if not parts:
        return None
    note = '<p class="note">Each problem opens to its tree: every node with the operator that made it, its kind, value and feedback; open a node for its children.</p>'
    return Fragment("tree", "Search trees", note + "".join(parts))
