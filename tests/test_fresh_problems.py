"""The `fresh` benchmark: every problem checked in the sandbox, against itself and a second implementation.

For each problem: the reference passes its hidden tests; the alternative
solution (written differently, kept in the data file, never part of the
Problem) passes them too; the two agree on every test input and on a few
hundred inputs Hypothesis draws from the problem's input strategy below; every
prompt yields visible examples that the reference passes; and the hidden tests
reject a program that returns None.
"""

from __future__ import annotations

import ast
import math
import runpy
from importlib import resources
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from assay.oracles.examples import example_tests, extract_examples, reference_failures
from assay.problems import CallTest, fresh, load_benchmark
from assay.sandbox import Call

RANDOM_INPUTS = 300  # per problem, drawn by Hypothesis (derandomized: the same inputs every run)

ints = st.integers


def args(*strategies: st.SearchStrategy) -> st.SearchStrategy[tuple]:
    return st.tuples(*strategies)


def grids(values: st.SearchStrategy, most: int = 5) -> st.SearchStrategy[list]:
    """Rectangular grids of 0..most rows and 0..most columns (so [] and [[], []] too)."""
    return st.tuples(ints(0, most), ints(0, most)).flatmap(lambda shape: st.lists(st.lists(values, min_size=shape[1], max_size=shape[1]), min_size=shape[0], max_size=shape[0]))


def first_fit_inputs() -> st.SearchStrategy[tuple]:
    return ints(1, 10).flatmap(lambda capacity: args(st.lists(ints(1, capacity), max_size=10), st.just(capacity)))


TEAMS = ["Ants", "Bees", "Cats", "ants", "Dogs"]
LEDGER = st.one_of(st.just("fee"), st.builds("dep {}".format, ints(1, 20)), st.builds("wd {}".format, ints(1, 20)), st.just("bonus 5"))
STACK_TOKENS = ["1", "2", "-3", "0", "+", "-", "*", "dup", "swap", "drop", "x", "--1"]

# One input strategy per entry point: tuples of arguments inside each problem's stated preconditions.
INPUTS: dict[str, st.SearchStrategy[tuple]] = {
    "missing_ranges": args(st.lists(ints(-30, 30), max_size=10)),
    "weave_words": args(st.text("ab XY,\t\n", max_size=20), st.text("ab XY,\t\n", max_size=20)),
    "echo_score": args(st.one_of(st.text(max_size=20), st.text("aAbBzZkK\u212a\u00e9! 1", max_size=20))),
    "heavy_prefix": args(st.lists(ints(-20, 20), max_size=10)),
    "digit_trail": args(ints(0, 10**6)),
    "replay": args(st.text("abz0123459 A-", max_size=20)),
    "rotate_border": args(grids(ints(-9, 9))),
    "best_chunk": args(st.lists(ints(-20, 20), max_size=12), ints(1, 5)),
    "difference_tower": args(st.lists(ints(-100, 100), max_size=10)),
    "clean_words": args(st.text("abcABC ,.x\t", max_size=25), st.text("abcxAB,", max_size=3)),
    "assign_seats": args(ints(0, 8), st.lists(ints(-3, 12), max_size=12)),
    "elevator_distance": args(ints(-10, 10), st.lists(ints(-10, 10), max_size=8)),
    "count_lines": args(st.lists(st.text("ab", min_size=1, max_size=8), max_size=10), ints(0, 12)),
    "widening_zigzag": args(st.lists(ints(-6, 6), max_size=12)),
    "fewest_coins": args(ints(0, 60), st.lists(ints(1, 25), unique=True, max_size=5)),
    "match_socks": args(st.lists(st.builds("{}-{}".format, st.sampled_from(["red", "blue", "dark-red", "Red", "a-b-c"]), st.sampled_from("LR")), max_size=12)),
    "clock_add": args(st.builds("{:02d}:{:02d}".format, ints(0, 23), ints(0, 59)), ints(-5000, 5000)),
    "visited_cells": args(st.text("FBLRx", max_size=30)),
    "count_splits": args(st.one_of(st.text("0123456789", max_size=10), st.text("012", max_size=11)), ints(0, 300)),
    "best_circular_window": args(st.lists(ints(-10, 10), max_size=8), ints(-1, 9)),
    "covered_points": args(st.lists(st.lists(ints(-20, 20), min_size=2, max_size=2), max_size=6)),
    "depth_totals": args(st.lists(st.recursive(ints(-20, 20), lambda inner: st.lists(inner, max_size=4), max_leaves=12), max_size=5)),
    "parse_settings": args(st.text("ab=;- 0129\u00b2\u0663+", max_size=25)),
    "rotate_vowels": args(st.text("aeiouAEIOUbx y", max_size=15), ints(-10, 10)),
    "league_table": args(st.lists(st.builds(lambda teams, x, y: "%s %d-%d %s" % (teams[0], x, y, teams[1]), st.lists(st.sampled_from(TEAMS), min_size=2, max_size=2, unique=True), ints(0, 4), ints(0, 4)), max_size=8)),
    "find_peaks": args(st.lists(ints(0, 4), max_size=12)),
    "rarest_letter": args(st.text("abcABCkK\u212a \u00e91", max_size=20)),
    "total_fare": args(st.lists(ints(0, 100), max_size=14), ints(0, 30)),
    "next_calm_number": args(ints(0, 5000)),
    "run_ledger": args(st.lists(LEDGER, max_size=10)),
    "block_swaps": args(st.text("01", max_size=10)),
    "grid_peaks": args(grids(ints(0, 3))),
    "finish_time": args(st.lists(ints(0, 10), max_size=10), ints(1, 4)),
    "runoff_winner": args(st.lists(st.lists(st.sampled_from(["a", "b", "c", "ab", "d"]), unique=True, max_size=4), max_size=7)),
    "first_echo": args(st.one_of(st.text("ab", max_size=10), st.text("abc", max_size=12)), ints(1, 4)),
    "min_hop_cost": args(st.lists(ints(0, 10), max_size=10)),
    "first_fit": first_fit_inputs(),
    "shift_by_position": args(st.text("abzZ ,\u00e9\t", max_size=20)),
    "short_duration": args(st.one_of(ints(0, 10**6), st.sampled_from([0, 59, 60, 3599, 3600, 86399, 86400, 86460]))),
    "count_routes": args(ints(1, 4), ints(1, 4), st.lists(st.lists(ints(-1, 4), min_size=2, max_size=2), max_size=4)),
    "three_way_split": args(st.lists(ints(-10, 10), max_size=8)),
    "run_stack": args(st.builds(" ".join, st.lists(st.sampled_from(STACK_TOKENS), max_size=8))),
}


@pytest.fixture(scope="module")
def problems():
    return {p.task_id: p for p in load_benchmark("fresh")}


RECORDS = {record["task_id"]: record for record in fresh.records()}
TASK_IDS = list(RECORDS)


def same(a: Any, b: Any) -> bool:
    """Equal, with equal container types all the way down (a tuple is not a list)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def drawn_inputs(strategy: st.SearchStrategy[tuple], count: int = RANDOM_INPUTS) -> list[tuple]:
    drawn: list[tuple] = []

    @settings(max_examples=count, database=None, derandomize=True, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(arguments: tuple) -> None:
        drawn.append(arguments)

    collect()
    return drawn


def outputs(sandbox, program: str, entry_point: str, inputs: list[tuple]) -> list[Any]:
    """The program's return value for each input, run in the sandbox; a call that does not return fails the test."""
    batch = sandbox.run_calls(program, [Call(entry_point, arguments) for arguments in inputs])
    assert batch.loaded, "the program does not load: %s %s" % (batch.load.status, batch.load.message)
    assert len(batch.replies) == len(inputs)
    values = []
    for arguments, reply in zip(inputs, batch.replies):
        assert reply.status == "ok", "%s%r ends with %s: %s %s" % (entry_point, arguments, reply.status, reply.exception_type, reply.message)
        values.append(reply.value)
    return values


# ------------------------------------------------------------------ the data


def test_the_shipped_file_is_what_the_source_writes():
    source = resources.files("assay").joinpath("data", "fresh", "problems.py")
    shipped = resources.files("assay").joinpath("data", "fresh", "problems.jsonl").read_text(encoding="utf-8")
    assert runpy.run_path(str(source))["render"]() == shipped, "run src/assay/data/fresh/problems.py to rewrite problems.jsonl"


def test_registered_with_at_least_40_problems_in_humaneval_shape(problems):
    assert len(problems) >= 40
    assert TASK_IDS == ["Fresh/%d" % n for n in range(len(TASK_IDS))]
    assert set(INPUTS) == {record["entry_point"] for record in RECORDS.values()}, "every problem needs exactly one input strategy"
    for task_id, problem in problems.items():
        record = RECORDS[task_id]
        assert set(record) == {"task_id", "prompt", "entry_point", "canonical_solution", "test", "alternative_solution"}
        assert problem.benchmark == "fresh"
        assert problem.reference == record["prompt"] + record["canonical_solution"]
        assert problem.metadata["converted"], (task_id, problem.metadata["conversion_notes"])
        assert len(problem.tests) >= 8 and all(isinstance(t, CallTest) and t.hidden for t in problem.tests), task_id
        assert record["alternative_solution"] not in repr(problem), "the second implementation is not part of the problem"
        tree = ast.parse(record["prompt"])
        functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        assert [f.name for f in functions] == [problem.entry_point], task_id
        docstring = ast.get_docstring(functions[0]) or ""
        assert 2 <= docstring.count(">>> ") <= 3, "%s: 2 or 3 doctest examples" % task_id


# ------------------------------------------------------------------ in the sandbox


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_reference_and_alternative_pass_the_hidden_tests_and_return_none_does_not(sandbox, problems, task_id):
    problem = problems[task_id]
    reference = sandbox.run(problem, problem.reference)
    assert reference.passed, [(t.name, t.status.value, t.message) for t in reference.tests if not t.passed]
    alternative = sandbox.run(problem, RECORDS[task_id]["alternative_solution"])
    assert alternative.passed, [(t.name, t.status.value, t.message) for t in alternative.tests if not t.passed]
    trivial = sandbox.run(problem, problem.prompt + "    return None\n")
    assert not trivial.passed


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_the_prompt_shows_examples_the_reference_passes(sandbox, problems, task_id):
    problem = problems[task_id]
    extraction = extract_examples(problem)
    assert extraction.examples, "no visible example found"
    assert not extraction.discarded, extraction.discarded
    tests = example_tests(problem, extraction)
    assert reference_failures(sandbox, problem, problem.reference, tests) == {}


@pytest.mark.slow
@pytest.mark.parametrize("task_id", TASK_IDS)
def test_reference_and_alternative_agree_on_test_inputs_and_random_inputs(sandbox, problems, task_id):
    problem = problems[task_id]
    test_inputs = [t.args for t in problem.tests]
    random_inputs = drawn_inputs(INPUTS[problem.entry_point])
    assert len({repr(a) for a in random_inputs}) >= 50, "the input strategy is too narrow"
    inputs = test_inputs + random_inputs
    ours = outputs(sandbox, problem.reference, problem.entry_point, inputs)
    theirs = outputs(sandbox, RECORDS[task_id]["alternative_solution"], problem.entry_point, inputs)
    disagreements = [(arguments, a, b) for arguments, a, b in zip(inputs, ours, theirs) if not same(a, b)]
    assert not disagreements, "%d disagreements, first: %s%r: reference %r, alternative %r" % (len(disagreements), problem.entry_point, *disagreements[0])
