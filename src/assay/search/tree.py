"""The search tree: nodes holding a plan, a reflection or a program, what made them, and their value."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterator

from assay.search.value import Check, Value


class NodeKind(str, Enum):
    PLAN = "plan"  # a strategy in words (CodeTree, RethinkMCTS)
    REFLECTION = "reflection"  # what went wrong, in words (Reflexion)
    PROGRAM = "program"


@dataclass(eq=False)
class Node:
    """One step of a search. ``content`` is the plan or reflection text, or the program."""

    id: str
    kind: NodeKind
    operator: str  # implement, plan, debug, reflect, rethink, trace-debug, ...
    content: str
    parent: "Node | None" = None
    children: list["Node"] = field(default_factory=list)
    check: Check | None = None  # programs: the run on the oracle pool
    value: Value | None = None
    feedback: str | None = None  # the text a next step would be shown
    prompt: list[dict[str, str]] | None = None  # the messages that made this node
    reply: str | None = None
    prior: float = 1.0  # PUCT
    visits: int = 0
    value_sum: float = 0.0
    expanded: int = 0  # times an operator was applied to this node
    sample_index: int = 0  # which model sample made it
    retired: str | None = None  # plans: why this one is out of the search (pruned, rethought); nothing under it is open
    replaces: "Node | None" = None  # plans: the plan this one rewrites (RethinkMCTS's rethink, CodeTree's revision)
    replaced_by: "Node | None" = None  # plans: the plan that rewrites this one

    @property
    def revision(self) -> int:
        """How many rewrites led to this plan (0 for a first plan)."""
        return 0 if self.replaces is None else self.replaces.revision + 1

    @property
    def depth(self) -> int:
        return 0 if self.parent is None else self.parent.depth + 1

    @property
    def program(self) -> str | None:
        return self.content if self.kind is NodeKind.PROGRAM else None

    @property
    def mean_value(self) -> float:
        return self.value_sum / self.visits if self.visits else 0.0

    @property
    def solved(self) -> bool:
        return self.check is not None and self.check.all_passed

    def ancestors(self) -> Iterator["Node"]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def plan(self) -> "Node | None":
        """The nearest plan this node descends from."""
        return next((n for n in [self, *self.ancestors()] if n.kind is NodeKind.PLAN), None)

    def under_retired(self) -> bool:
        """Whether this node or an ancestor was retired (its subtree is out of the search)."""
        return any(n.retired for n in [self, *self.ancestors()])

    def descendants(self) -> Iterator["Node"]:
        for child in self.children:
            yield child
            yield from child.descendants()

    def stats(self) -> dict[str, float]:
        """The tree search's statistics for this node (visits, mean backed-up value, prior), as reports show them."""
        out: dict[str, float] = {}
        if self.visits:
            out.update(visits=self.visits, mean=round(self.mean_value, 6))
        if self.prior != 1.0:
            out["prior"] = round(self.prior, 6)
        return out

    def row(self) -> dict[str, Any]:
        """The node as the store keeps it (``search_nodes``), and as reports read it."""
        return {
            "node_id": self.id,
            "parent_id": self.parent.id if self.parent is not None else None,
            "operator": self.operator,
            "kind": self.kind.value,
            "content": self.content,
            "program": self.program,
            "score": None if self.value is None else round(self.value.scalar(), 6),
            "passed": None if self.check is None else int(self.check.all_passed),
            "value": ({**self.value.to_dict(), **self.stats()} if self.value is not None else self.stats() or None),
            "feedback": self.feedback if not self.retired else "\n\n".join(x for x in (self.feedback, self.retired) if x),
            "prompt": None if self.prompt is None else "\n\n".join("[%s]\n%s" % (m["role"], m["content"]) for m in self.prompt),
            "reply": self.reply,
        }


class Tree:
    """All nodes of one problem's search, in the order they were made."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.roots: list[Node] = []

    def add(self, kind: NodeKind, operator: str, content: str, parent: Node | None = None, **extra: Any) -> Node:
        node = Node(str(len(self.nodes)), kind, operator, content, parent, **extra)
        self.nodes.append(node)
        (parent.children if parent is not None else self.roots).append(node)
        return node

    def programs(self) -> list[Node]:
        return [n for n in self.nodes if n.kind is NodeKind.PROGRAM and n.check is not None]

    def best(self) -> Node | None:
        """The program of the highest value (the earliest among equals)."""
        programs = self.programs()
        if not programs:
            return None
        return max(programs, key=lambda n: (n.value.key() if n.value else (), -int(n.id)))

    def backpropagate(self, node: Node, reward: float) -> None:
        """Add ``reward`` to the node and every ancestor (UCT, PUCT)."""
        for each in [node, *node.ancestors()]:
            each.visits += 1
            each.value_sum += reward

    def root_visits(self) -> int:
        """The visits of the (virtual) root: its live children's; a rewritten plan's visits live on in its replacement."""
        return sum(r.visits for r in self.roots if r.replaced_by is None)

    def uct_score(self, node: Node, exploration: float) -> float:
        parent_visits = node.parent.visits if node.parent is not None else self.root_visits()
        if node.visits == 0:
            return math.inf
        return node.mean_value + exploration * math.sqrt(math.log(max(1, parent_visits)) / node.visits)

    def puct_score(self, node: Node, exploration: float) -> float:
        parent_visits = node.parent.visits if node.parent is not None else self.root_visits()
        return node.mean_value + exploration * node.prior * math.sqrt(max(1, parent_visits)) / (1 + node.visits)
