"""Selection policies: which node the next operator works on.

A node is *open* when an operator may still be applied to it (a program
that fails some check, or a plan, within the preset's depth and branching).
``linear`` follows the newest open node (a self-debug chain);
``breadth-first`` takes the shallowest, oldest first; ``best-first`` the
one of the highest value; ``uct`` and ``puct`` descend from the roots by
the UCT / PUCT scores of :class:`~assay.search.tree.Tree` to an open node.
"""

from __future__ import annotations

from typing import Callable

from assay.search.tree import Node, NodeKind, Tree

Policy = Callable[[Tree, Callable[[Node], bool], float], "Node | None"]


def _value(node: Node) -> tuple:
    return node.value.key() if node.value is not None else (-1.0,)


def linear(tree: Tree, is_open: Callable[[Node], bool], exploration: float = 0.0) -> Node | None:
    return next((n for n in reversed(tree.nodes) if is_open(n)), None)


def breadth_first(tree: Tree, is_open: Callable[[Node], bool], exploration: float = 0.0) -> Node | None:
    candidates = [n for n in tree.nodes if is_open(n)]
    return min(candidates, key=lambda n: (n.depth, n.expanded, int(n.id)), default=None)


def best_first(tree: Tree, is_open: Callable[[Node], bool], exploration: float = 0.0) -> Node | None:
    candidates = [n for n in tree.nodes if is_open(n)]
    return max(candidates, key=lambda n: (_value(n), -n.expanded, -int(n.id)), default=None)


def _descend(tree: Tree, is_open: Callable[[Node], bool], score: Callable[[Node], float]) -> Node | None:
    level = [n for n in tree.roots if is_open(n) or _has_open(n, is_open)]
    node: Node | None = None
    while level:
        node = max(level, key=lambda n: (score(n), -int(n.id)))
        below = [c for c in node.children if is_open(c) or _has_open(c, is_open)]
        if not below or (is_open(node) and node.kind is NodeKind.PLAN and node.expanded == 0):
            break
        if is_open(node) and score(node) >= max(score(c) for c in below):
            break
        level = below
    return node if node is not None and is_open(node) else None


def _has_open(node: Node, is_open: Callable[[Node], bool]) -> bool:
    return any(is_open(c) or _has_open(c, is_open) for c in node.children)


def uct(tree: Tree, is_open: Callable[[Node], bool], exploration: float = 1.0) -> Node | None:
    return _descend(tree, is_open, lambda n: tree.uct_score(n, exploration))


def puct(tree: Tree, is_open: Callable[[Node], bool], exploration: float = 1.0) -> Node | None:
    return _descend(tree, is_open, lambda n: tree.puct_score(n, exploration))


POLICIES: dict[str, Policy] = {"linear": linear, "breadth-first": breadth_first, "best-first": best_first, "uct": uct, "puct": puct}
