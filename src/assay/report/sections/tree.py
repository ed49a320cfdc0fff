"""A search run's tree per problem: each node, the operator that made it, its feedback and value.

Search runs store their nodes in the store's ``search_nodes`` table as they
grow (``assay.search.tree.Node.row``): ``node_id``, ``parent_id`` (NULL for
a root), ``operator`` (implement, plan, debug, reflect, rethink, ...),
``kind`` (plan, reflection, program), ``content`` (the plan or reflection
text, or the program), ``score`` (the value folded into [0, 1]),
``passed`` (the program passed the checks the search could see), ``value``
(its parts: trusted, agreement, critic, efficiency), ``feedback`` (the text
a next step was shown), ``prompt`` and ``reply``. Runs without nodes render
nothing. Each problem's line is in the page; its nodes travel packed (like
the samples) and become nested ``<details>`` when the problem is opened, so
a search of thousands of nodes keeps the page small; the best program is
marked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from assay.report.highlight import python_html
from assay.report.page import Fragment, esc, packed_script
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


def node_data(node: SearchNode, best: str | None) -> dict[str, Any]:
    """One node as the page's script builds it (programs highlighted here, everything else text)."""
    data: dict[str, Any] = {"id": node.node_id, "parent": node.parent_id, "op": node.operator, "kind": node.kind, "score": node.score, "passed": node.passed}
    if node.node_id == best:
        data["best"] = True
    if node.kind == "program":
        data["code"] = python_html(node.content)
    elif node.content:
        data["content"] = _cap(node.content)
    for key, value in (("value", node.value), ("feedback", _cap(node.feedback)), ("prompt", _cap(node.prompt)), ("reply", _cap(node.reply))):
        if value:
            data[key] = value
    return data


def tree_summary(run_index: int, task: str, nodes: list[SearchNode], best: str | None) -> str:
    programs = [n for n in nodes if n.kind == "program" and n.score is not None]
    operators = ", ".join("%s %d" % kv for kv in sorted(_count(n.operator for n in nodes).items(), key=lambda kv: -kv[1]))
    solved = any(n.passed for n in nodes)
    title = "<code>%s</code> · %d nodes (%s)%s%s" % (
        esc(task), len(nodes), esc(operators), "" if not programs else " · best score %.3f" % max(n.score for n in programs),
        ' <span class="badge st-pass">solved</span>' if solved else "")  # fmt: skip
    return '<details class="tree" data-tree="tree-%d" data-task="%s"><summary>%s</summary></details>' % (run_index, esc(task), title)


def best_program(nodes: list[SearchNode]) -> str | None:
    programs = [n for n in nodes if n.kind == "program" and n.score is not None]
    return max(programs, key=lambda n: (n.score, -nodes.index(n))).node_id if programs else None


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return counts


def render(context: ReportContext) -> Fragment | None:
    parts = []
    for run_index, run in enumerate(context.runs):
        rows = run.extra.get(TABLE)
        if not rows:
            continue
        summaries, payload = [], {}
        for task, nodes in nodes_by_task(rows).items():
            best = best_program(nodes)
            summaries.append(tree_summary(run_index, task, nodes, best))
            payload[task] = [node_data(node, best) for node in nodes]
        parts.append("<h3>%s</h3>%s%s" % (esc(run.label), "".join(summaries), packed_script("tree-%d" % run_index, payload)))
    if not parts:
        return None
    note = '<p class="note">Each problem opens to its tree: every node with the operator that made it, its kind, value and feedback; a node opens to its children.</p>'
    return Fragment("tree", "Search trees", note + "".join(parts))
