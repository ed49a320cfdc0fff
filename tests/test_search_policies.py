"""Selection policies and value order on hand-built trees (no model, no sandbox)."""

from __future__ import annotations

from assay.search.policies import POLICIES
from assay.search.tree import NodeKind, Tree
from assay.search.value import Check, Value, agreement


def program(tree, parent=None, value=0.0, expanded=0):
    node = tree.add(NodeKind.PROGRAM, "implement", "p%d" % len(tree.nodes), parent)
    node.value = Value(value)
    node.expanded = expanded
    tree.backpropagate(node, value)
    return node


def every(node):
    return True


def test_linear_follows_the_newest_and_breadth_first_the_shallowest():
    tree = Tree()
    a = program(tree)
    b = program(tree, a)
    c = program(tree)
    assert POLICIES["linear"](tree, every, 0) is c
    assert POLICIES["breadth-first"](tree, every, 0) is a
    assert POLICIES["breadth-first"](tree, lambda n: n is not a, 0) is c  # depth 0 before b's depth 1
    assert b.depth == 1


def test_best_first_takes_the_highest_value_in_strict_order():
    tree = Tree()
    low = program(tree, value=0.5)
    high = program(tree, value=1.0)
    tied = program(tree, value=1.0)
    high.value = Value(1.0, agreement=0.2)
    tied.value = Value(1.0, agreement=0.6)  # agreement decides between equally trusted programs
    assert POLICIES["best-first"](tree, every, 0) is tied
    assert Value(0.6, agreement=1.0, critic=1.0).key() < Value(0.7).key()  # one more trusted check outweighs everything below it
    assert low.value.scalar() < high.value.scalar()


def test_uct_backs_values_up_and_explores_the_unvisited():
    tree = Tree()
    good = program(tree, value=1.0)
    bad = program(tree, value=0.0)
    for _ in range(3):
        tree.backpropagate(good, 1.0)
    assert good.visits == 4 and good.value_sum == 4.0
    child = program(tree, good, value=0.5)
    assert good.visits == 5 and good.value_sum == 4.5  # the child's value reached its parent
    assert POLICIES["uct"](tree, lambda n: n is not child, 0.0) is good  # exploitation alone
    assert POLICIES["uct"](tree, lambda n: n is not child, 10.0) is bad  # exploration favours the less visited
    unvisited = tree.add(NodeKind.PROGRAM, "implement", "new")
    assert tree.uct_score(unvisited, 1.0) == float("inf")


def test_puct_visits_follow_the_priors():
    tree = Tree()
    likely = tree.add(NodeKind.PROGRAM, "implement", "a", prior=0.9)
    unlikely = tree.add(NodeKind.PROGRAM, "implement", "b", prior=0.1)
    picks = []
    for _ in range(300):
        node = POLICIES["puct"](tree, every, 1.0)
        picks.append(node)
        tree.backpropagate(node, 0.5)  # equal values: only the priors differ
    assert picks.count(likely) > 3 * picks.count(unlikely) > 0


def test_agreement_is_the_share_of_programs_that_behave_alike():
    a, b, c = Check(None, behaviour=("1", "2")), Check(None, behaviour=("1", "2")), Check(None, behaviour=("1", "3"))
    assert agreement([a, b, c], a) == 2 / 3 and agreement([a, b, c], c) == 1 / 3
    assert agreement([a], Check(None)) == 0.0
