"""Model-written input/output tests: parsing, CodeT dual agreement, trust, kept inputs."""

from __future__ import annotations

import asyncio

import pytest

from assay.models import GenerationParams, MeteredModel, ScriptedModel
from assay.oracles import OracleContext, OracleKind, OraclePool
from assay.oracles.generated import (
    Behaviour,
    GeneratedOracle,
    GeneratedTest,
    dual_agreement,
    generated_messages,
    parse_tests,
    rank_candidates,
)
from assay.problems import CallTest, Problem

LARGEST = Problem(task_id="oracles/largest", prompt='def largest(xs):\n    """The largest element of a non-empty list."""\n', entry_point="largest", tests=())

MAX = "def largest(xs):\n    return max(xs)\n"
LOOP = "def largest(xs):\n    best = xs[0]\n    for x in xs[1:]:\n        if x > best:\n            best = x\n    return best\n"
SORTED = "def largest(xs):\n    return sorted(xs)[-1]\n"
FIRST = "def largest(xs):\n    return xs[0]\n"
MIN = "def largest(xs):\n    return min(xs)\n"
CANDIDATES = [MAX, LOOP, SORTED, FIRST, MIN]

REPLY = """Here are the tests:
```python
assert largest([1, 2, 3]) == 3
assert largest([5]) == 5
assert largest([-1, -5]) == -1
assert largest([3, 1, 2]) == 1
assert largest([2, 9]) == 2
assert largest([4, 4, 4]) == 7
```"""
# behaviour on the six inputs:  max/loop/sorted: 3 5 -1 3 9 4   first: 1 5 -1 3 2 4   min: 1 5 -5 1 2 4
# clusters: {max, loop, sorted} passes tests 0 1 2 -> score 3*3 = 9; {first} passes 1 2 4 -> 3; {min} passes 1 3 4 -> 3
# weights |c| * score: 27, 3, 3 (total 33)
EXPECTED_TRUST = [27 / 33, 1.0, 30 / 33, 3 / 33, 6 / 33, 0.0]


def build(sandbox, reply: str = REPLY, *, candidates=(), reference=None) -> OraclePool:
    pool = OraclePool(LARGEST.task_id)
    model = MeteredModel(ScriptedModel([reply]))
    context = OracleContext(LARGEST, sandbox, pool, model, GenerationParams(max_tokens=600), candidates=list(candidates), reference=reference)
    asyncio.run(GeneratedOracle(count=6).build(context))
    return pool


def key(args: tuple, expected) -> str:
    return repr((args, expected))


def trust_of(pool: OraclePool) -> dict[str, float]:
    """Each generated test's trust, by its call's arguments and expected value."""
    return {key(t.test.args, t.test.expected): t.trust for t in pool.of_kind(OracleKind.GENERATED)}


# ---------------------------------------------------------------- prompting and parsing


def test_prompt_asks_for_assert_lines_from_the_specification():
    text = generated_messages(LARGEST, 7)[-1].content
    assert "7 test cases" in text and "assert largest(<arguments>) == <expected value>" in text and "The largest element" in text


def test_parse_reads_literals_only_and_says_why_it_drops_a_line():
    reply = """```python
assert largest([1, 2]) == 2
assert 7 == largest([7])
assert largest(xs=[3]) == 3
assert largest([0.5, 0.25]) == 0.5
assert largest([None]) is None
assert largest([True, False])
assert not largest([0])
assert largest([1, 2]) == 2
assert largest(list(range(3))) == 2
assert other([1]) == 1
assert largest([1]) != 2
assert largest([1]) == some_name
assert largest(*[[1]]) == 1
x = largest([1])
```"""
    tests, discarded = parse_tests(reply, "largest")
    assert [(t.args, t.kwargs, t.expected, t.comparison) for t in tests] == [
        (([1, 2],), {}, 2, "exact"),
        (([7],), {}, 7, "exact"),
        ((), {"xs": [3]}, 3, "exact"),
        (([0.5, 0.25],), {}, 0.5, "approx"),
        (([None],), {}, None, "exact"),
        (([True, False],), {}, None, "truthy"),
        (([0],), {}, None, "falsy"),
    ]  # the repeated first line is dropped
    why = dict(discarded)
    assert why["assert largest(list(range(3))) == 2"] == "argument is not a literal: list(range(3))"
    assert why["assert other([1]) == 1"] == "not a call of largest"
    assert why["assert largest([1]) != 2"] == "compares with NotEq, not =="
    assert why["assert largest([1]) == some_name"] == "expected value is not a literal: some_name"
    assert why["assert largest(*[[1]]) == 1"].startswith("starred argument")


def test_parse_keeps_the_good_lines_around_a_broken_one():
    tests, discarded = parse_tests("```python\nassert largest([1]) == 1\nassert largest([2] == 2\nassert largest([3]) == 3\n```", "largest")
    assert [t.expected for t in tests] == [1, 3] and discarded == []


@pytest.mark.parametrize("reply, reason", [("no tests, sorry", "no assert largest(...) == ... lines"), ("```python\ndef (:\n```", "not valid Python")])
def test_parse_says_why_a_reply_gave_nothing(reply, reason):
    tests, discarded = parse_tests(reply, "largest")
    assert tests == [] and discarded[0][0] == "reply" and discarded[0][1].startswith(reason)


# ---------------------------------------------------------------- agreement


def ok(value) -> Behaviour:
    return Behaviour("ok", value)


def test_dual_agreement_on_hand_made_behaviours():
    tests = [CallTest("t%d" % i, (i,), expected) for i, expected in enumerate([10, 11, 12, 99])]
    right = [ok(10), ok(11), ok(12), ok(13)]
    behaviours = [right, right, right, [ok(10), ok(0), ok(0), ok(99)], [Behaviour("raised", detail="ValueError")] * 4, [ok(float("nan"))] * 4, [ok(float("nan"))] * 4]
    found = dual_agreement(LARGEST, tests, behaviours)
    assert [(c.members, c.passed, c.score) for c in found.clusters] == [
        ((0, 1, 2), (0, 1, 2), 9.0),  # three candidates x three tests
        ((3,), (0, 3), 2.0),
        ((5, 6), (), 0.0),  # NaN behaves like NaN: one cluster (ties: the larger first)
        ((4,), (), 0.0),
    ]
    total = 3 * 9 + 1 * 2
    assert found.trust == [pytest.approx(v) for v in (29 / total, 27 / total, 27 / total, 2 / total)]


def test_no_cluster_passes_anything_gives_no_trust():
    tests = [CallTest("t", (1,), 5)]
    found = dual_agreement(LARGEST, tests, [[ok(1)], [ok(2)]])
    assert found.trust == [0.0] and [c.score for c in found.clusters] == [0.0, 0.0]


def test_rank_candidates_clusters_programs_by_behaviour_in_the_sandbox(sandbox):
    tests, _ = parse_tests(REPLY, "largest")
    clusters = rank_candidates(sandbox, LARGEST, CANDIDATES, tests)
    assert [(c.members, c.passed, c.score) for c in clusters] == [((0, 1, 2), (0, 1, 2), 9.0), ((3,), (1, 2, 4), 3.0), ((4,), (1, 3, 4), 3.0)]
    assert [b.value for b in clusters[0].behaviour] == [3, 5, -1, 3, 9, 4]


def test_different_exceptions_are_different_behaviours(sandbox):
    clusters = rank_candidates(sandbox, LARGEST, [MAX, SORTED, LOOP], [GeneratedTest(([],), None), GeneratedTest(([1, 2],), 2)])
    assert sorted(c.members for c in clusters) == [(0,), (1, 2)]  # ValueError apart from IndexError
    assert {c.behaviour[0].detail for c in clusters} == {"ValueError", "IndexError"}


def test_hostile_candidates_form_their_own_clusters_and_satisfy_nothing(sandbox):
    forged = "class Anything:\n    def __eq__(self, other):\n        return True\ndef largest(xs):\n    return Anything()\n"
    killer = "import os\ndef largest(xs):\n    for pid in (os.getppid(), 0, -1, 1):\n        try:\n            os.kill(pid, 9)\n        except OSError:\n            pass\n    return 3\n"
    exits = "import os\ndef largest(xs):\n    os._exit(0)\n"
    tests, _ = parse_tests(REPLY, "largest")
    clusters = rank_candidates(sandbox, LARGEST, [MAX, forged, exits], tests)
    assert clusters[0].members == (0,) and clusters[0].score == 3.0
    assert all(c.passed == () for c in clusters[1:])
    killed = rank_candidates(sandbox, LARGEST, [killer], tests)
    assert killed[0].behaviour[0].kind in ("ok", "crash") and killed[0].score <= 1.0  # returns 3 at most: passes [1, 2, 3] only


# ---------------------------------------------------------------- building a pool


def test_a_minority_test_loses_trust_and_an_unsatisfied_one_keeps_only_its_input(sandbox):
    pool = build(sandbox, candidates=CANDIDATES)
    trust = trust_of(pool)
    expected = dict(zip([key(([1, 2, 3],), 3), key(([5],), 5), key(([-1, -5],), -1), key(([3, 1, 2],), 1), key(([2, 9],), 2)], EXPECTED_TRUST))
    assert trust == {k: pytest.approx(value, abs=1e-6) for k, value in expected.items()}
    assert trust[key(([3, 1, 2],), 1)] < 0.1  # only min's cluster (one candidate) satisfies it
    assert trust[key(([1, 2, 3],), 3)] > 0.8
    gone = [d for d in pool.discarded if d.kind is OracleKind.GENERATED]
    assert [d.what for d in gone] == ["assert largest([4, 4, 4]) == 7"]
    assert gone[0].reason.startswith("no candidate satisfies it") and "returns 4" in gone[0].reason
    assert ([4, 4, 4],) in pool.inputs  # kept for differential testing
    assert len(pool.inputs) == 6
    notes = {repr(t.test.args): t.note for t in pool.of_kind(OracleKind.GENERATED)}
    assert notes[repr(([3, 1, 2],))].startswith("1 of 5 candidates (1 of 3 clusters)")
    test = pool.of_kind(OracleKind.GENERATED)[0]
    assert test.provenance.source == "model" and test.provenance.model == "scripted" and not test.test.hidden


def test_with_a_reference_the_reference_decides(sandbox):
    reply = REPLY[: -len("```")] + "assert largest([]) == None\n```"
    pool = build(sandbox, reply, candidates=CANDIDATES, reference=MAX)
    assert trust_of(pool) == {key(([1, 2, 3],), 3): 1.0, key(([5],), 5): 1.0, key(([-1, -5],), -1): 1.0}
    why = {d.what: d.reason for d in pool.discarded}
    assert why["assert largest([3, 1, 2]) == 1"] == "fails the reference: expected 1, got 3"
    assert why["assert largest([]) == None"].startswith("the reference does not answer on this input (raised ValueError)")
    assert ([4, 4, 4],) in pool.inputs and ([],) not in pool.inputs  # outside the specification: no input either


def test_without_candidates_or_reference_tests_are_kept_unweighed(sandbox):
    pool = build(sandbox)
    assert set(trust_of(pool).values()) == {0.0}
    assert all(t.note.startswith("unweighed") for t in pool.of_kind(OracleKind.GENERATED))
    assert len(pool.inputs) == 6


def test_floats_are_compared_with_a_tolerance(sandbox):
    mean = Problem(task_id="oracles/mean", prompt="def mean(xs):\n    '''The mean.'''\n", entry_point="mean", tests=())
    pool = OraclePool(mean.task_id)
    model = MeteredModel(ScriptedModel(["```python\nassert mean([0.1, 0.2]) == 0.15\n```"]))
    context = OracleContext(mean, sandbox, pool, model, candidates=["def mean(xs):\n    return sum(xs) / len(xs)\n"])
    asyncio.run(GeneratedOracle().build(context))
    (test,) = pool.of_kind(OracleKind.GENERATED)
    assert (0.1 + 0.2) / 2 != 0.15  # exact comparison would reject the right answer
    assert test.trust == 1.0 and test.test.comparison == "approx"


def test_the_pool_round_trips_through_plain_data(sandbox):
    pool = build(sandbox, candidates=CANDIDATES)
    again = OraclePool.from_dict(pool.to_dict())
    assert trust_of(again) == trust_of(pool) and again.inputs == pool.inputs and again.discarded == pool.discarded


def test_registers_itself_as_an_oracle():
    from assay.oracles import generated

    found = {}
    generated.register_oracles(register=lambda name, value, description="": found.setdefault(name, (value, description)))
    oracle, description = found["generated"]
    assert isinstance(oracle, GeneratedOracle) and oracle.kind is OracleKind.GENERATED and "agreement" in description
