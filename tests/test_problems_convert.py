"""HumanEval ``check`` functions become call-and-compare tests where the asserts are plain."""

from __future__ import annotations

import textwrap

from hypothesis import given
from hypothesis import strategies as st

from assay.problems.convert import convert_check, is_plain_data
from assay.problems.model import CallTest, ScriptTest


def check_source(*body: str, header: str = "") -> str:
    lines = "\n".join("    " + line for line in body)
    return textwrap.dedent(header) + f"\n\ndef check(candidate):\n{lines}\n"


def converted(*body: str, header: str = "") -> tuple[CallTest, ...]:
    conversion = convert_check(check_source(*body, header=header))
    assert conversion.converted, conversion.reasons
    assert all(isinstance(t, CallTest) for t in conversion.tests)
    return conversion.tests  # type: ignore[return-value]


def script_of(*body: str, header: str = "", setup: str = "") -> ScriptTest:
    source = check_source(*body, header=header)
    conversion = convert_check(source, setup=setup)
    assert not conversion.converted
    assert conversion.reasons
    (test,) = conversion.tests
    assert isinstance(test, ScriptTest)
    assert test.source == source and test.entry == "check" and test.setup == setup
    return test


def test_equality_either_side_and_message():
    first, second, third = converted(
        "assert candidate([1, 2], 3) == [4]",
        "assert (5, 6) == candidate('x')",
        "assert candidate(k=1) == {'a': {1, 2}}, 'message is dropped'",
    )
    assert (first.args, first.expected, first.comparison) == (([1, 2], 3), [4], "exact")
    assert (second.args, second.expected) == (("x",), (5, 6))
    assert type(second.expected) is tuple
    assert (third.args, third.kwargs, third.expected) == ((), {"k": 1}, {"a": {1, 2}})


def test_names_are_positions_in_the_body():
    tests = converted('"""docstring"""', "assert candidate(1) == 1", "print('hi')", "assert candidate(2) == 2")
    assert [t.name for t in tests] == ["test_1", "test_3"]


def test_expected_values_are_evaluated():
    (test,) = converted("assert candidate(list(range(3))) == sum([i * i for i in range(4)]) + 2 ** 3")
    assert test.args == ([0, 1, 2],)
    assert test.expected == 22


def test_float_expected_with_equality_stays_exact():
    (test,) = converted("assert candidate(3.5) == 0.5")
    assert test.comparison == "exact" and test.expected == 0.5 and test.abs_tol == 0.0


def test_abs_difference_below_tolerance_is_approx():
    a, b, c, d = converted(
        "assert abs(candidate(1.33) - 0.33) < 1e-6",
        "assert abs(0.25 - candidate(2)) <= 1e-3",
        "assert 1e-4 > abs(candidate(x=1) - 1.5)",
        "assert abs(candidate(2) - math.sqrt(2)) < 1e-9",
        header="import math",
    )
    assert (a.comparison, a.args, a.expected, a.abs_tol) == ("approx", (1.33,), 0.33, 1e-6)
    assert (b.expected, b.abs_tol) == (0.25, 1e-3)
    assert (c.kwargs, c.expected, c.abs_tol) == ({"x": 1}, 1.5, 1e-4)
    assert abs(d.expected - 2**0.5) < 1e-15


def test_math_isclose_is_approx():
    (plain, with_tols) = converted(
        "assert math.isclose(candidate(1), 2.0)",
        "assert math.isclose(3.0, candidate(2), rel_tol=1e-3, abs_tol=1e-6)",
        header="import math",
    )
    assert (plain.comparison, plain.expected, plain.rel_tol, plain.abs_tol) == ("approx", 2.0, 1e-9, 0.0)
    assert (with_tols.expected, with_tols.rel_tol, with_tols.abs_tol) == (3.0, 1e-3, 1e-6)


def test_truthy_falsy_and_is():
    truthy, falsy, is_true, is_false = converted(
        "assert candidate(1)",
        "assert not candidate(2), 'msg'",
        "assert candidate(3) is True",
        "assert candidate(4) is False",
    )
    assert (truthy.comparison, truthy.args) == ("truthy", (1,))
    assert (falsy.comparison, falsy.args) == ("falsy", (2,))
    assert (is_true.comparison, is_true.expected) == ("exact", True)
    assert (is_false.comparison, is_false.expected) == ("exact", False)


def test_harmless_statements_are_dropped():
    tests = converted(
        "import math",
        "pass",
        "print",
        "print('checking')",
        "assert True",
        "assert True, 'This prints if this assert fails 1 (good for debugging!)'",
        "assert candidate(0) == 0",
        header="METADATA = {'author': 'jt', 'dataset': 'test'}",
    )
    assert [t.name for t in tests] == ["test_6"]


def test_loop_makes_a_script_test():
    script_of("assert candidate(1) == 1", "for x in range(3):", "    assert candidate(x) == x")


def test_helper_variable_makes_a_script_test():
    script_of("lst = [1, 2]", "assert candidate(lst) == 3")


def test_random_inputs_make_a_script_test():
    script_of("import random", "x = random.randint(0, 9)", "assert candidate(x) == x")


def test_call_to_another_function_makes_a_script_test():
    test = script_of(
        "assert candidate(encode('abc')) == 'abc'",
        setup="def encode(s):\n    return s[::-1]\n",
    )
    assert "encode" in test.setup


def test_candidate_inside_expected_makes_a_script_test():
    script_of("assert candidate(1) == candidate(1)")
    script_of("assert candidate(candidate(1)) == 2")
    script_of("assert tuple(candidate([1])) == tuple([1])")


def test_unknown_module_function_in_args_makes_a_script_test():
    script_of("assert candidate(os.getcwd()) == 1", header="import os")


def test_non_plain_values_make_a_script_test():
    script_of("assert candidate(lambda x: x) == 1")
    script_of("assert candidate(1) == print")


def test_broken_expected_value_makes_a_script_test():
    script_of("assert candidate(1) == 1 / 0")


def test_one_bad_statement_keeps_the_whole_check_as_a_script():
    conversion = convert_check(check_source("assert candidate(1) == 1", "x = 2", "assert candidate(2) == 2"))
    assert not conversion.converted
    assert len(conversion.tests) == 1
    assert any("Assign" in reason for reason in conversion.reasons)


def test_no_asserts_makes_a_script_test():
    script_of("pass")


def test_other_module_level_code_makes_a_script_test():
    script_of("assert candidate(1) == 1", header="def helper():\n    return 1\n")


def test_unparsable_source_makes_a_script_test():
    conversion = convert_check("def check(candidate):\n    assert candidate(1) ==\n")
    assert not conversion.converted and isinstance(conversion.tests[0], ScriptTest)


plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.tuples(children, children)
    | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=10,
)


@given(args=st.lists(plain_values, max_size=3), expected=plain_values)
def test_literal_arguments_and_expected_values_survive_conversion(args, expected):
    source = f"assert candidate({', '.join(map(repr, args))}) == {expected!r}"
    (test,) = converted(source)
    assert test.args == tuple(args)
    assert repr(test.expected) == repr(expected)  # same value and same types, -0.0 included
    assert is_plain_data(test.expected)
