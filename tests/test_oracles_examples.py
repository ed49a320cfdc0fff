"""Visible examples: each style of example in a prompt, what is discarded and why, and HumanEval's references against them."""

from __future__ import annotations

import asyncio

import pytest

from assay.oracles import OracleContext, OracleKind, OraclePool
from assay.oracles.examples import (
    ExampleOracle,
    Unparseable,
    example_tests,
    extract_examples,
    parse_value,
    reference_failures,
)
from assay.problems import CallTest, Problem, ScriptTest
from assay.problems.humaneval import load_problems, problems_by_id

# Examples HumanEval's own text gets wrong: the canonical solution (which passes the hidden tests) disagrees.
KNOWN_WRONG = {
    "HumanEval/47": 1,  # median([-10, 4, 6, 1000, 10, 20]) is 8.0, not 15.0
    "HumanEval/116": 3,  # the doctests show a plain sort; the task sorts by the number of ones in binary
    "HumanEval/148": 1,  # ("Venus") is the string 'Venus' in Python; the function returns the tuple ('Venus',)
}


def problem(prompt: str, entry_point: str = "f", tests: tuple = ()) -> Problem:
    return Problem(task_id="t/1", prompt=prompt, entry_point=entry_point, tests=tests)


def pairs(prompt: str, entry_point: str = "f") -> list[tuple]:
    return [(e.args, e.expected) for e in extract_examples(problem(prompt, entry_point)).examples]


def test_doctests_with_outputs_none_and_comparisons():
    prompt = '''def f(xs, k):
    """Do it.
    >>> f([1, 2], 3)
    [1, 2, 3]
    >>> f([], 0) == []
    >>> f([5],
    ...   1)
    'x'
    >>> f([9], 9)
    """
'''
    assert pairs(prompt) == [(([1, 2], 3), [1, 2, 3]), (([], 0), []), (([5], 1), "x"), (([9], 9), None)]


def test_raw_docstring_text_keeps_escapes_on_one_line():
    prompt = 'def f(s):\n    """\n    >>> f("ab\\ncd")\n    \'abcd\'\n    """\n'
    assert pairs(prompt) == [(("ab\ncd",), "abcd")]


@pytest.mark.parametrize(
    "line, expected",
    [
        ("f(1, 2) ==> 3", 3),
        ("f(1, 2) => true", True),
        ("f(1, 2) ➞ False", False),
        ("f(1, 2) -> [3]", [3]),
        ("f(1, 2) == 'a'", "a"),
        ("f(1, 2) = -1", -1),
        ("f(1, 2) returns 'ehllo'", "ehllo"),
        ("f(1, 2) should return 16.", 16),
        ("f(1, 2)   # returns \"db1111db\"", "db1111db"),
        ("f(1, 2) # => 'Yes'", "Yes"),
        ("f(1, 2) -> 19 - 5 - 6 = 8", 8),
        ("f(1, 2) == 1 + 9 + 0 + 0 = 10", 10),
        ("f(1, 2) returns [1, 5] # the odd ones", [1, 5]),
        ("* f(1, 2) => (None, 1)", (None, 1)),
        ("f(1, 2) == 'No' (the name should start with a letter)", "No"),
    ],
)
def test_arrow_lines(line, expected):
    assert pairs('def f(a, b):\n    """Examples:\n    %s\n    """\n' % line) == [((1, 2), expected)]


def test_a_call_written_over_several_lines_and_should_return_over_a_line_break():
    prompt = '''def f(grid, x):
    """
    f([
      [1, 2],
      [3, 4]
    ], 1) == [(0, 0)]
    for example f([], 2) should
    return 15.
    """
'''
    assert pairs(prompt) == [(([[1, 2], [3, 4]], 1), [(0, 0)]), (([], 2), 15)]


def test_for_lines_map_names_to_parameters():
    prompt = '''def reverse_delete(s, c):
    """Example
    For s = "abcde", c = "ae", the result should be ('bcd',False)
    For c = "b", s = "abcdef"  the result should be ('acdef',False)
    For s = "a", c = "", the sum will be 1 the output should be "1".
    """
'''
    assert pairs(prompt, "reverse_delete") == [(("abcde", "ae"), ("bcd", False)), (("abcdef", "b"), ("acdef", False)), (("a", ""), "1")]


def test_input_output_blocks_named_unnamed_and_on_separate_lines():
    one = 'def pluck(arr):\n    """\n    Example 1:\n        Input: [4,2,3]\n        Output: [2, 1]\n    """\n'
    assert pairs(one, "pluck") == [(([4, 2, 3],), [2, 1])]
    two = 'def maximum(arr, k):\n    """\n        Input: arr = [-3, -4, 5], k = 3\n        Output: [-4, -3, 5]\n    """\n'
    assert pairs(two, "maximum") == [(([-3, -4, 5], 3), [-4, -3, 5])]
    renamed = 'def max_fill(grid, capacity):\n    """\n        Input:\n            grid : [[0,1]]\n            bucket_capacity : 1\n        Output: 6\n    """\n'
    assert pairs(renamed, "max_fill") == [(([[0, 1]], 1), 6)]


def test_floats_compare_approximately_and_rounded_doctests_within_the_rounding():
    prompt = 'def f(x):\n    """\n    >>> f(3)\n    1.5\n    >>> round(f([1, 2]), 2)\n    -0.5\n    """\n'
    tests = example_tests(problem(prompt))
    assert [t.test.comparison for t in tests] == ["approx", "approx"]
    assert tests[1].test.abs_tol == pytest.approx(0.005, abs=1e-6)


def test_a_name_the_text_uses_for_the_function_is_an_alias_only_when_the_prompt_does_not_define_it():
    prompt = 'def helper(x):\n    return x\n\ndef f(x):\n    """\n    grade_equation([1]) ==> [2]\n    helper(3) ==> 3\n    """\n'
    found = extract_examples(problem(prompt))
    assert [(e.args, e.expected) for e in found.examples] == [(([1],), [2])]
    assert "named grade_equation" in found.examples[0].style


def test_lines_that_look_like_examples_but_do_not_parse_are_discarded_with_reasons():
    prompt = '''def f(s):
    """
    f(a) => False
    f("x") == ""x"
    f(3) = 1 + 2 * 9
    Write a function f() that does it.
    """
'''
    found = extract_examples(problem(prompt))
    assert found.examples == []
    reasons = [d.reason for d in found.discarded]
    assert len(reasons) == 3
    assert "argument is not a literal: a" in reasons[0]
    assert all("not a literal" in r for r in reasons)
    assert all(d.kind is OracleKind.EXAMPLE for d in found.discarded)


def test_a_recurrence_block_defines_a_sequence_not_calls_of_the_function():
    prompt = '''def tri(n):
    """Defined by the recurrence:
    tri(1) = 3
    tri(n) = 1 + n / 2, if n is even.
    For example:
    tri(2) = 1 + (2 / 2) = 2
    tri(3) = tri(2) + tri(1)
    Examples:
    tri(3) = [1, 3, 2, 8]
    """
'''
    found = extract_examples(problem(prompt, "tri"))
    assert [(e.args, e.expected) for e in found.examples] == [((3,), [1, 3, 2, 8])]
    assert sum("defines a sequence" in d.reason for d in found.discarded) == 2


def test_nothing_is_evaluated():
    prompt = 'def f(x):\n    """\n    >>> f(__import__("os").system("touch /tmp/assay-pwned"))\n    0\n\n    f(open("x")) ==> 1\n    """\n'
    found = extract_examples(problem(prompt))
    assert found.examples == [] and len(found.discarded) == 2
    with pytest.raises(Unparseable):
        parse_value("__import__('os').getcwd()")


def test_visible_call_tests_are_examples_and_other_kinds_are_discarded():
    visible = CallTest("v1", (2,), 4, hidden=False)
    hidden = CallTest("h1", (3,), 9, hidden=True)
    script = ScriptTest("s", "def check(c): pass", hidden=False)
    found = extract_examples(problem("def f(x):\n    pass\n", tests=(visible, hidden, script)))
    assert [(e.args, e.expected, e.style) for e in found.examples] == [((2,), 4, "visible-test")]
    assert len(found.discarded) == 1 and "not a call test" in found.discarded[0].reason
    tests = example_tests(problem("def f(x):\n    pass\n", tests=(visible,)))
    assert tests[0].provenance.source == "visible-test" and tests[0].trust == 1.0


def test_every_humaneval_problem_with_examples_and_the_counts():
    counts = {p.task_id: len(extract_examples(p).examples) for p in load_problems()}
    assert len(counts) == 164
    assert sum(counts.values()) >= 440
    assert sum(1 for n in counts.values() if n == 0) <= 8
    for task_id, test in [("HumanEval/112", 3), ("HumanEval/115", 3), ("HumanEval/87", 3), ("HumanEval/0", 2), ("HumanEval/94", 6)]:
        assert counts[task_id] == test, task_id


def test_humaneval_references_pass_their_examples_except_the_documented_wrong_ones(sandbox):
    wrong: dict[str, int] = {}
    for p in load_problems():
        tests = example_tests(p)
        failures = reference_failures(sandbox, p, p.reference, tests)
        if failures:
            wrong[p.task_id] = len(failures)
    assert wrong == KNOWN_WRONG


def test_the_oracle_fills_a_pool_and_drops_wrong_examples_only_with_the_reference(sandbox):
    median = problems_by_id()["HumanEval/47"]
    view = Problem(median.task_id, median.prompt, median.entry_point, ())

    def build(reference):
        pool = OraclePool(median.task_id)
        asyncio.run(ExampleOracle().build(OracleContext(view, sandbox, pool, reference=reference)))
        return pool

    without = build(None)
    assert len(without.of_kind(OracleKind.EXAMPLE)) == 2
    assert all(t.trust == 1.0 and t.provenance.source == "docstring" for t in without.tests)
    validated = build(median.reference)
    assert len(validated.tests) == 1
    assert [d.kind for d in validated.discarded] == [OracleKind.EXAMPLE]
    assert "the problem's text is wrong here" in validated.discarded[0].reason and "15.0" in validated.discarded[0].reason
    assert validated.counts() == {"example": {"kept": 1, "discarded": 1}}
