"""Differential inputs: shapes, the search, hostile programs, the oracle, and ``assay diff``."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
from argparse import Namespace
from io import StringIO

import pytest

from assay.oracles import OracleContext, OracleKind, OraclePool
from assay.oracles.cli import command_diff
from assay.oracles.differential import (
    Behaviour,
    DifferentialOracle,
    Generator,
    find_distinguishing_input,
    infer_shapes,
    same_value,
    shapes_from_signature,
)
from assay.problems import Problem

SUM = "def f(xs):\n    return sum(xs)\n"
SUM_EMPTY = "def f(xs):\n    if not xs:\n        return -1\n    return sum(xs)\n"
COUNT_BELOW = "def f(xs, k):\n    return len([x for x in xs if x < k])\n"
COUNT_BELOW_OFF = "def f(xs, k):\n    return len([x for x in xs if x <= k])\n"
SUM_SORTED = "def f(xs):\n    total = 0\n    for x in sorted(xs):\n        total += x\n    return total\n"


def test_shapes_are_inferred_from_examples_nested_and_mixed():
    shapes = infer_shapes([([1, 2], "ab", {"a": 1.5}, (1, "x")), ([], "c", {}, (2, "y"))])
    assert [s.kind for s in shapes] == ["list", "str", "dict", "tuple"]
    assert shapes[0].items[0].kind == "int" and shapes[0].items[0].lo == 1
    assert set(shapes[1].alphabet) == {"a", "b", "c"}
    assert [s.kind for s in shapes[3].items] == ["int", "str"]
    mixed = infer_shapes([(["a", 3.14, 5],)])[0]
    assert mixed.items[0].kind == "union" and {s.kind for s in mixed.items[0].items} == {"str", "float", "int"}


def test_shapes_from_annotations_when_there_are_no_examples():
    program = "from typing import List, Optional\ndef f(xs: List[float], s: str, n: Optional[int], d: dict[str, int], t: tuple[int, str]):\n    pass\n"
    shapes = shapes_from_signature(program, "f")
    assert [s.kind for s in shapes] == ["list", "str", "union", "dict", "tuple"]
    assert shapes[0].items[0].kind == "float"
    assert shapes_from_signature(program, "g") is None


def test_generated_values_stay_in_the_examples_sign_domain_and_are_deterministic():
    shapes = infer_shapes([([3, 5], 2)])
    first = Generator(shapes, random.Random(7))
    values = [first.random_input() for _ in range(200)]
    assert values == [Generator(shapes, random.Random(7)).random_input() for _ in range(1)] + values[1:]
    assert all(x >= 0 for xs, k in values for x in xs) and all(k >= 0 for _, k in values)
    assert any(xs == [] for xs, _ in values)
    mutations = list(first.mutations([([3, 5], 2)]))
    assert ([], 2) in mutations and ([3, 5], 3) in mutations and ([3, 5], 1) in mutations


def test_hypothesis_draws_plain_data_deterministically():
    shapes = infer_shapes([([1, 2], "ab")])
    one = Generator(shapes, random.Random(0)).hypothesis_inputs(30, seed=5)
    two = Generator(shapes, random.Random(0)).hypothesis_inputs(30, seed=5)
    assert one == two and len(one) >= 10
    assert all(isinstance(xs, list) and isinstance(s, str) for xs, s in one)


def test_behaviours_compare_values_floats_and_exceptions_by_type():
    assert same_value(0.1 + 0.2, 0.3) and not same_value(0.3, 0.31)
    assert same_value([1.0, (2, float("nan"))], [1.0, (2, float("nan"))])
    assert Behaviour("raised", error="ValueError", message="a").same_as(Behaviour("raised", error="ValueError", message="b"))
    assert not Behaviour("raised", error="ValueError").same_as(Behaviour("raised", error="KeyError"))
    assert not Behaviour("returned", 1).same_as(Behaviour("timeout"))
    assert Behaviour("timeout").same_as(Behaviour("timeout"))


def test_an_off_by_one_mutant_is_distinguished(sandbox):
    result = find_distinguishing_input(sandbox, COUNT_BELOW, COUNT_BELOW_OFF, "f", [([1, 4, 2], 3)], budget=200)
    assert result.found
    xs, k = result.args
    assert k in xs  # only there do < and <= differ
    assert result.a.status == result.b.status == "returned" and result.a.value == result.b.value - 1
    assert result.sandbox_runs >= 2 and result.tried >= 1


def test_a_mutant_that_differs_only_on_empty_lists_is_distinguished(sandbox):
    result = find_distinguishing_input(sandbox, SUM, SUM_EMPTY, "f", [([1, 2, 3],)], budget=200)
    assert result.found and result.args == ([],)
    assert (result.a.value, result.b.value) == (0, -1)
    # the random baseline finds it too, from types alone
    assert find_distinguishing_input(sandbox, SUM, SUM_EMPTY, "f", [([1, 2, 3],)], budget=200, phases=("random",)).found


def test_equal_programs_give_not_found_with_the_count_tried(sandbox):
    result = find_distinguishing_input(sandbox, SUM, SUM_SORTED, "f", [([1, 2, 3],), ([],)], budget=120, seed=3)
    assert not result.found and result.args is None
    assert result.tried == 120 and sum(result.tried_by_source.values()) == 120
    assert set(result.tried_by_source) == {"seed", "mutation", "hypothesis", "random"}
    assert result.sandbox_runs >= 2 * (120 // 32)
    assert "no distinguishing input in 120 inputs" in result.summary()


def test_the_search_is_deterministic_for_a_seed(sandbox):
    runs = [find_distinguishing_input(sandbox, SUM, SUM_EMPTY, "f", [([5, 6],)], budget=100, seed=11, phases=("random",), shrink=False) for _ in range(2)]
    assert runs[0].args == runs[1].args and runs[0].tried == runs[1].tried


HANG = "def f(xs):\n    while True:\n        pass\n"
EXIT = "import os\ndef f(xs):\n    os._exit(0)\n"
EXIT_AT_LOAD = "import os\nos._exit(3)\n"
HUGE = "def f(xs):\n    print('x' * 10**7)\n    return sum(xs)\n"
HUGE_VALUE = "def f(xs):\n    return 'y' * (3 * 10**8)\n"
KILL_PARENT = "import os, signal\ndef f(xs):\n    os.kill(os.getppid(), signal.SIGKILL)\n    return sum(xs)\n"


@pytest.mark.parametrize("hostile", [HANG, EXIT, EXIT_AT_LOAD, HUGE, HUGE_VALUE], ids=["hang", "exit", "exit-at-load", "huge-output", "huge-value"])
def test_a_hostile_program_is_a_difference_never_a_crash_of_the_search(sandbox, hostile):
    result = find_distinguishing_input(sandbox, SUM, hostile, "f", [([1, 2],)], budget=50, cpu_seconds=0.2)
    assert result.found
    assert result.a.status == "returned" and result.b.status != "returned"
    assert result.which().startswith("B ")


def test_a_program_that_attacks_its_parent_changes_nothing(sandbox):
    result = find_distinguishing_input(sandbox, SUM, KILL_PARENT, "f", [([1, 2],)], budget=50)
    assert not result.found or result.b.status != "returned"  # nothing, or a difference; never an exception here
    assert find_distinguishing_input(sandbox, SUM, SUM_EMPTY, "f", [([1, 2],)], budget=50).found  # and the sandbox still works


def test_two_programs_that_hang_everywhere_agree_and_the_search_gives_up_early(sandbox):
    result = find_distinguishing_input(sandbox, HANG, HANG, "f", [([1],)], budget=500, cpu_seconds=0.1, max_timeouts=6)
    assert not result.found and result.tried < 50
    assert any("gave up" in note for note in result.notes)


def test_the_oracle_adds_distinguishing_inputs_to_the_pool(sandbox):
    problem = Problem("t/1", 'def f(xs):\n    """\n    >>> f([1, 2, 3])\n    6\n    """\n', "f", ())
    pool = OraclePool("t/1")
    context = OracleContext(problem, sandbox, pool, candidates=[SUM, SUM_SORTED, SUM_EMPTY, SUM])
    from assay.oracles.examples import ExampleOracle

    asyncio.run(ExampleOracle().build(context))
    asyncio.run(DifferentialOracle(budget=100).build(context))
    assert pool.inputs == [([],)]
    entries = pool.extras[OracleKind.DIFFERENTIAL.value]
    assert [(e["pair"], e["found"]) for e in entries] == [([0, 1], False), ([0, 2], True), ([1, 2], True)]
    assert entries[1]["a"]["value"] == 0 and entries[1]["b"]["value"] == -1
    json.dumps(pool.to_dict())  # a pool with differential entries is still plain data
    assert OraclePool.from_dict(pool.to_dict()).inputs == [([],)]


# ---------------------------------------------------------------- assay diff


def _args(a, b, **extra):
    defaults = dict(program_a=a, program_b=b, entry_point="f", seed_input=[], budget=100, seed=0, timeout=0.25, random_only=False, no_shrink=False, json=False)
    defaults.update(extra)
    return Namespace(**defaults)


@pytest.fixture
def programs(tmp_path):
    paths = {}
    for name, source in {"sum": SUM, "empty": SUM_EMPTY, "sorted": SUM_SORTED, "bad": "def f(:\n", "other": "def g(xs):\n    return 1\n"}.items():
        paths[name] = tmp_path / (name + ".py")
        paths[name].write_text(source)
    return paths


def test_diff_exit_codes(programs, tmp_path):
    out, err = StringIO(), StringIO()
    assert command_diff(_args(programs["sum"], programs["empty"], seed_input=["[1, 2]"]), out, err) == 0
    text = out.getvalue()
    assert "distinguishing input: f([])" in text and "returned 0" in text and "returned -1" in text
    out = StringIO()
    assert command_diff(_args(programs["sum"], programs["sorted"], seed_input=["[1, 2]"], budget=60), out, err) == 1
    assert "60 inputs" in out.getvalue() and "sandbox runs" in out.getvalue()
    for bad, message in [
        (_args(programs["sum"], tmp_path / "missing.py"), "no such file"),
        (_args(programs["sum"], programs["other"]), "does not define f"),
        (_args(programs["sum"], programs["bad"]), "does not parse"),
        (_args(programs["sum"], programs["empty"], seed_input=["os.system('x')"]), "not a Python literal"),
        (_args(programs["sum"], programs["empty"], budget=0), "--budget"),
    ]:
        err = StringIO()
        assert command_diff(bad, StringIO(), err) == 2
        assert message in err.getvalue() and err.getvalue().count("\n") == 1


def test_diff_json_and_the_module_entry_point(programs):
    completed = subprocess.run(
        [sys.executable, "-m", "assay.oracles.cli", str(programs["sum"]), str(programs["empty"]), "--entry-point", "f", "--seed-input", "([1, 2],)", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    data = json.loads(completed.stdout)
    assert data["found"] and data["input"] == [[]] and data["a"]["value"] == 0 and data["b"]["value"] == -1
    missing = subprocess.run([sys.executable, "-m", "assay.oracles.cli", "nope.py", str(programs["sum"]), "--entry-point", "f"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and missing.stderr.strip() == "error: no such file: nope.py"


def test_diff_is_registered_as_a_command():
    from assay.oracles import cli

    registered = {}
    cli.register_commands(lambda name, command, description="": registered.setdefault(name, command))
    assert registered["diff"].run is command_diff


# ---------------------------------------------------------------- model-proposed inputs (Mokav)

MAGIC = "def f(xs):\n    if xs == [7, 7, 7]:\n        return 0\n    return sum(xs)\n"


def test_a_scripted_model_proposes_inputs_with_execution_feedback(sandbox):
    from assay.models import ScriptedModel
    from assay.oracles.differential import ModelProposer

    model = ScriptedModel(["```python\nf([1, 1])\nf(os.system('x'))\n```", "```python\nassert f([7, 7, 7]) == 21\n```"])
    proposer = ModelProposer(model, rounds=3, per_round=4)
    result = find_distinguishing_input(sandbox, SUM, MAGIC, "f", [([1, 2],)], budget=20, phases=(), model=proposer, shrink=False)
    assert result.found and result.source == "model" and result.args == ([7, 7, 7],)
    assert (result.a.value, result.b.value) == (21, 0)
    assert proposer.calls == 2 and len(model.requests) == 2
    second = model.requests[1][0][-1].content
    assert "f([1, 1]): returned 2" in second  # the first round's input, with what both programs did
    assert any("not a literal" in note for note in result.notes)  # os.system(...) was never run


def test_without_a_model_the_budget_is_not_held_back(sandbox):
    result = find_distinguishing_input(sandbox, SUM, MAGIC, "f", [([1, 2],)], budget=40, seed=1)
    assert result.tried == 40 and "model" not in result.tried_by_source


def test_without_hypothesis_the_search_goes_on_with_random_values(sandbox, monkeypatch):
    def missing(self, count, seed):
        raise ImportError("No module named 'hypothesis'")

    monkeypatch.setattr(Generator, "hypothesis_inputs", missing)
    result = find_distinguishing_input(sandbox, SUM, SUM_SORTED, "f", [([1, 2],)], budget=60)
    assert not result.found and result.tried == 60 and "hypothesis" not in result.tried_by_source
    assert any("Hypothesis is not installed" in note for note in result.notes)
