"""assay's JSONL problem format: documented, strict, and it round-trips."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.problems import enamel, humaneval, load_benchmark
from assay.problems.jsonl import ProblemFormatError, load_problems, problem_to_json, write_problems
from assay.problems.model import CallTest, InputGenerator, Problem, ScriptTest, StdioTest, Trust

DOCS = Path(__file__).resolve().parents[1] / "docs" / "problems-format.md"

GOOD = {
    "task_id": "demo/add",
    "prompt": "def add(a, b):\n    pass\n",
    "entry_point": "add",
    "tests": [{"args": [1, 2], "expected": 3}],
}


def write_lines(tmp_path: Path, *lines: str, name: str = "problems.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def with_changes(**changes) -> str:
    record = {**GOOD, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not ...})


def error_for(tmp_path: Path, *lines: str) -> ProblemFormatError:
    path = write_lines(tmp_path, *lines)
    with pytest.raises(ProblemFormatError) as caught:
        load_problems(path)
    return caught.value


def test_minimal_problem(tmp_path):
    (problem,) = load_problems(write_lines(tmp_path, json.dumps(GOOD)))
    assert problem == Problem(
        task_id="demo/add",
        prompt=GOOD["prompt"],
        entry_point="add",
        tests=(CallTest(name="test_0", args=(1, 2), expected=3),),
    )


def test_every_test_kind_and_python_literals(tmp_path):
    record = {
        **GOOD,
        "reference": "def add(a, b):\n    return a + b\n",
        "setup": "HELPER = 1\n",
        "checker": "def same(input, expected, output):\n    return expected == output\n",
        "checker_function": "same",
        "benchmark": "mine",
        "metadata": {"source": "handwritten"},
        "generator": {"source": "def generate_input(size, lid, cid):\n    return size, size\n", "levels": [10, 100]},
        "tests": [
            {"args_python": "[(1, 2), {3}]", "expected_python": "{(1, 2): frozenset({3})}", "name": "tuples"},
            {"args": [0.1, 0.2], "expected": 0.3, "comparison": "approx", "abs_tol": 1e-9, "hidden": False},
            {"args": [1], "comparison": "truthy", "trust": "generated"},
            {"args": [1], "kwargs_python": "{'b': (2,)}", "comparison": "checker", "expected": 3},
            {"kind": "script", "source": "def check(candidate):\n    assert candidate(1, 2) == 3\n"},
            {"kind": "stdio", "stdin": "1 2\n", "expected_stdout": "3\n", "name": "io"},
        ],
    }
    (problem,) = load_problems(write_lines(tmp_path, json.dumps(record)))
    tuples, approx, truthy, checker, script, stdio = problem.tests
    assert tuples.name == "tuples" and tuples.args == ((1, 2), {3}) and type(tuples.args[0]) is tuple
    assert tuples.expected == {(1, 2): frozenset({3})}
    assert (approx.comparison, approx.abs_tol, approx.hidden) == ("approx", 1e-9, False)
    assert truthy.trust is Trust.GENERATED and truthy.comparison == "truthy"
    assert checker.kwargs == {"b": (2,)} and checker.comparison == "checker"
    assert isinstance(script, ScriptTest) and script.entry == "check" and script.name == "test_4"
    assert isinstance(stdio, StdioTest) and stdio.expected_stdout == "3\n"
    assert problem.checker_function == "same" and problem.benchmark == "mine"
    assert problem.generator == InputGenerator(source=record["generator"]["source"], levels=(10, 100))
    assert problem.reference.endswith("return a + b\n") and problem.setup == "HELPER = 1\n"


def test_blank_and_comment_lines_are_skipped(tmp_path):
    path = write_lines(tmp_path, "# my problems", "", json.dumps(GOOD), "   ")
    assert len(load_problems(path)) == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"task_id": "x", ', "malformed JSON"),
        ("[1, 2]", "must be a JSON object"),
        (with_changes(task_id=...), "missing field 'task_id'"),
        (with_changes(task_id=7), "'task_id' must be a string"),
        (with_changes(entry_point="not a name"), "'entry_point' must be a Python name"),
        (with_changes(tests=[]), "'tests' must be a non-empty array"),
        (with_changes(expect=3), "unknown field(s) in problem: 'expect'"),
        (with_changes(tests=[{"args": "1, 2", "expected": 3}]), "test 1: 'args' must be a list"),
        (with_changes(tests=[{"args": [1], "expect": 3}]), "test 1: unknown field(s) in call test: 'expect'"),
        (with_changes(tests=[{"args": [1]}]), "test 1: comparison 'exact' needs 'expected'"),
        (with_changes(tests=[{"args_python": "(1,", "expected": 1}]), "'args_python' is not a Python literal"),
        (with_changes(tests=[{"args_python": "[f(1)]", "expected": 1}]), "'args_python' is not a Python literal"),
        (with_changes(tests=[{"args": [1], "args_python": "[1]", "expected": 1}]), "either 'args' or 'args_python'"),
        (with_changes(tests=[{"args": [1], "expected": 1, "comparison": "close"}]), "'comparison' must be one of"),
        (with_changes(tests=[{"args": [1], "expected": 1, "comparison": "approx"}]), "needs 'abs_tol' or 'rel_tol'"),
        (with_changes(tests=[{"args": [1], "expected": 1, "comparison": "checker"}]), "has no 'checker'"),
        (with_changes(tests=[{"kind": "shell"}]), "test 1: 'kind' must be one of call, script, stdio"),
        (with_changes(tests=[{"kind": "script"}]), "test 1: missing field 'source'"),
        (with_changes(tests=[{"args": [1], "expected": 1, "trust": "high"}]), "'trust' must be one of"),
        (with_changes(tests=[{"args": [], "expected": 1, "hidden": "yes"}]), "'hidden' must be true or false"),
        (with_changes(tests=[{"args": [], "expected": 1, "name": "a"}] * 2), "duplicate test names: a"),
        (with_changes(generator={"source": "x", "levels": [1], "weights": [1, 2]}), "one entry per level"),
        (with_changes(generator={"source": "x", "levels": ["big"]}), "generator: 'levels' must be an array"),
    ],
)
def test_mistakes_name_file_and_line(tmp_path, line, message):
    error = error_for(tmp_path, json.dumps(GOOD | {"task_id": "ok"}), "", line)
    assert error.line == 3
    assert str(error).startswith(f"{tmp_path / 'problems.jsonl'}:3: ")
    assert message in str(error)


def test_duplicate_task_id_names_both_lines(tmp_path):
    error = error_for(tmp_path, json.dumps(GOOD), json.dumps(GOOD))
    assert error.line == 2 and "first on line 1" in str(error)


def test_non_utf8_and_empty_files(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + b'{"task_id": "\xff"}\n')
    with pytest.raises(ProblemFormatError, match=r"bad.jsonl:2: not UTF-8"):
        load_problems(path)
    with pytest.raises(ProblemFormatError, match="no problems"):
        load_problems(write_lines(tmp_path, "", name="empty.jsonl"))


def test_documented_example_loads(tmp_path):
    text = DOCS.read_text(encoding="utf-8")
    example = next(line for line in text.splitlines() if line.startswith('{"task_id": "demo/add"'))
    (problem,) = load_problems(write_lines(tmp_path, example))
    add = {}
    exec(problem.reference, add)
    for test in problem.tests:
        output = add["add"](*test.args)
        assert output == test.expected or abs(output - test.expected) <= test.abs_tol
    assert problem.tests[2].args == ((1, 2), (3,)) and problem.tests[2].expected == (1, 2, 3)
    for field in re.findall(r"^\| `(\w+)` \| (?:yes|no) \|", text, flags=re.M):
        assert field in problem_keys()


def problem_keys() -> set[str]:
    from assay.problems.jsonl import PROBLEM_KEYS

    return PROBLEM_KEYS


def test_registry_loads_paths_and_names(tmp_path):
    path = write_lines(tmp_path, json.dumps(GOOD))
    assert load_benchmark(str(path))[0].task_id == "demo/add"
    assert load_benchmark(path)[0].task_id == "demo/add"
    assert len(load_benchmark("humaneval")) == 164
    assert len(load_benchmark("enamel")) == 164
    assert len(load_benchmark("enamel-142")) == 142
    with pytest.raises(ValueError, match="unknown benchmark 'humanevl'"):
        load_benchmark("humanevl")
    with pytest.raises(FileNotFoundError):
        load_benchmark(str(tmp_path / "missing.jsonl"))


@pytest.mark.parametrize("loader", [humaneval.load_problems, enamel.load_problems], ids=["humaneval", "enamel"])
def test_benchmarks_round_trip(tmp_path, loader):
    problems = loader()
    path = tmp_path / "out.jsonl"
    write_problems(path, problems)
    assert load_problems(path) == problems


# Values a test may hold: JSON-shaped ones and ones that need the Python-literal form.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.binary(max_size=4)
    | st.complex_numbers(allow_nan=False, max_magnitude=1e6)
)
hashables = st.recursive(scalars, lambda c: st.tuples(c, c) | st.frozensets(c, max_size=2), max_leaves=4)
values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3)
    | st.tuples(c, c)
    | st.dictionaries(hashables, c, max_size=3)
    | st.sets(hashables, max_size=3),
    max_leaves=8,
)
names = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)
call_tests = st.builds(
    CallTest,
    name=st.just("x"),
    args=st.lists(values, max_size=3).map(tuple),
    expected=values,
    kwargs=st.dictionaries(names, values, max_size=2),
    comparison=st.sampled_from(["exact", "truthy", "falsy"]),
    hidden=st.booleans(),
    trust=st.sampled_from(list(Trust)),
)
other_tests = st.builds(ScriptTest, name=st.just("x"), source=st.text(), setup=st.text()) | st.builds(
    StdioTest, name=st.just("x"), stdin=st.text(), expected_stdout=st.text()
)


@settings(max_examples=150, deadline=None)
@given(tests=st.lists(call_tests | other_tests, min_size=1, max_size=4), prompt=st.text(), task_id=st.text(min_size=1))
def test_round_trip_of_generated_problems(tmp_path_factory, tests, prompt, task_id):
    tests = tuple(
        type(t)(**{**t.__dict__, "name": f"t{i}"}) for i, t in enumerate(tests)
    )
    problem = Problem(task_id=task_id, prompt=prompt, entry_point="f", tests=tests)
    path = tmp_path_factory.mktemp("rt") / "p.jsonl"
    write_problems(path, [problem])
    (back,) = load_problems(path)
    assert back == problem
    for original, loaded in zip(problem.tests, back.tests):
        if isinstance(original, CallTest):  # equal *and* the same types (1 vs True, list vs tuple)
            assert same_types(loaded.args, original.args)
            assert same_types(loaded.expected, original.expected)
            assert same_types(loaded.kwargs, original.kwargs)
    json.loads(path.read_text(encoding="utf-8"))  # one object on one line
    assert problem_to_json(problem)["task_id"] == task_id


def same_types(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_types(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a == b and all(same_types(v, b[k]) for k, v in a.items())
    if isinstance(a, float):
        return repr(a) == repr(b)  # -0.0 stays -0.0
    return a == b
