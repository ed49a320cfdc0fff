"""``assay optimize`` on a small real-looking module (imports, helpers, doctests, a tests file), with a scripted model."""

from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

import pytest

from assay.measure.meters import ReferenceUnavailable, register_meter
from assay.models.extract import program_from_reply
from assay.optimize.cli import command_optimize, configure_optimize
from assay.optimize.core import build_pool
from assay.optimize.module import BadTarget, load_module, read_tests, splice
from assay.plugins import METERS
from assay.problems import Problem

DEMO = Path(__file__).parent / "fixtures" / "optimize_demo"

FAST_PAIRS = '''def pairs_with_sum(amounts: list[int], target: int) -> int:
    """How many pairs of tickets (i < j) have amounts that add up to ``target``."""
    seen: dict[int, int] = {}
    count = 0
    for amount in amounts:
        count += seen.get(target - amount, 0)
        seen[amount] = seen.get(amount, 0) + 1
    return count
'''
# faster, right on the doctest and on lists without repeats; wrong when an amount repeats
DISTINCT_PAIRS = '''def pairs_with_sum(amounts: list[int], target: int) -> int:
    values = set(amounts)
    return sum(1 for a in values if target - a in values and a < target - a)
'''
FAST_STREAK = '''from itertools import groupby

def longest_quiet_streak(days: list[int], limit: int) -> int:
    return max((len(list(run)) for quiet, run in groupby(days, key=lambda d: d <= limit) if quiet), default=0)
'''


def demo(tmp_path) -> tuple[Path, Path]:
    shutil.copytree(DEMO, tmp_path / "demo")
    return tmp_path / "demo" / "textstats.py", tmp_path / "demo" / "desk_tests.py"


def replies(tmp_path, *pairs: tuple[str, str]) -> str:
    path = tmp_path / "replies.jsonl"
    path.write_text("".join(json.dumps({"text": "```python\n%s```" % program, "match": match}) + "\n" for match, program in pairs))
    return "scripted:%s" % path


def optimize(sandbox, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    configure_optimize(parser)
    out, err = io.StringIO(), io.StringIO()
    code = command_optimize(parser.parse_args([*argv, "--no-cache", "--inputs", "12", "--differential-budget", "60", "--rounds", "1"]), out, err, sandbox=sandbox)
    return code, out.getvalue(), err.getvalue()


def test_a_faster_version_is_reported_with_diff_and_evidence_and_nothing_is_written(tmp_path, sandbox):
    module, tests = demo(tmp_path)
    before = module.read_bytes()
    model = replies(tmp_path, ("Make `pairs_with_sum` faster", FAST_PAIRS))
    code, out, err = optimize(sandbox, "%s::pairs_with_sum" % module, "--tests", str(tests), "--model", model, "--meter", "instructions", "--cost-inputs", "2")
    assert code == 0, err
    assert "speedup: " in out and "on instructions (exact: the instructions meter is deterministic" in out
    assert "1 from the doctests" in out and "3 from the tests file (3 with expected values)" in out and "12 drawn from the argument types seen" in out
    assert "differential: no distinguishing input in" in out
    assert "checks: passes 4 of 4" in out and "leaves its arguments as it does" in out
    assert "+++ %s (faster)" % module in out and "+        seen[amount] = seen.get(amount, 0) + 1" in out
    assert "nothing written" in out
    assert module.read_bytes() == before


def test_a_version_whose_behaviour_differs_is_rejected(tmp_path, sandbox):
    module, tests = demo(tmp_path)
    before = module.read_bytes()
    model = replies(tmp_path, ("Make `pairs_with_sum` faster", DISTINCT_PAIRS))
    code, out, err = optimize(sandbox, "%s::pairs_with_sum" % module, "--tests", str(tests), "--model", model, "--meter", "cpu-time", "--write")
    assert code == 1, err
    assert "no faster version that behaves the same was found" in out
    assert "1 kept" not in out and ("0 kept, 1 rejected (fails checks 1)" in out or "0 kept, 1 rejected (behaviour differs 1)" in out)
    assert "fails checks the starting program passes" in out or "behaviour differs from the starting program's" in out
    assert module.read_bytes() == before


def test_write_changes_only_the_function(tmp_path, sandbox):
    module, tests = demo(tmp_path)
    before = module.read_text()
    model = replies(tmp_path, ("Make `longest_quiet_streak` faster", FAST_STREAK))
    code, out, err = optimize(sandbox, "%s::longest_quiet_streak" % module, "--tests", str(tests), "--model", model, "--meter", "cpu-time", "--repeats", "3", "--write")
    assert code == 0, err
    assert "median of 3 paired repeats; 75% interval" in out and "wrote %s: only longest_quiet_streak changed" % module in out
    after = module.read_text()
    start = before.index("def longest_quiet_streak")
    end = before.index('\n\nif __name__ == "__main__":')
    assert after.startswith(before[:start]) and after.endswith(before[end:])
    assert after[start : len(after) - (len(before) - end)] == FAST_STREAK.replace("from itertools import groupby\n\n", "from itertools import groupby\n\n\n")
    assert "def pairs_with_sum" in after and "for j in range(i + 1, len(amounts)):" in after  # the other slow functions untouched


PROPERTY = '''def strategy_equal_amounts():
    return st.tuples(st.lists(st.just(2), min_size=2, max_size=6), st.just(4))

def property_equal_amounts(args, output):
    amounts, target = args
    assert output == len(amounts) * (len(amounts) - 1) // 2
'''


def test_a_model_written_property_the_original_holds_becomes_a_check(tmp_path, sandbox):
    module, tests = demo(tmp_path)
    model = replies(tmp_path, ("properties that every correct implementation", PROPERTY), ("Make `pairs_with_sum` faster", FAST_PAIRS))
    code, out, err = optimize(sandbox, "%s::pairs_with_sum" % module, "--tests", str(tests), "--model", model, "--meter", "cpu-time", "--repeats", "1", "--properties", "1")
    assert code == 0, err
    assert "checks: passes 5 of 5 (doctests, the tests file's asserts, properties equal_amounts)" in out
    assert "properties held: returns what the starting program returns; raises what it raises; leaves its arguments as it does; equal_amounts" in out
    assert "model: 2 calls" in out


def test_bad_targets_exit_2(tmp_path, sandbox):
    module, _ = demo(tmp_path)
    for target in ("%s" % module, "%s::missing" % module, "%s::pairs_with_sum" % (tmp_path / "nope.py")):
        code, _, err = optimize(sandbox, target, "--model", replies(tmp_path))
        assert code == 2 and err.startswith("error: ")
    broken = tmp_path / "broken.py"
    broken.write_text("import a_module_that_is_not_there\n\ndef f(x):\n    return x\n")
    code, _, err = optimize(sandbox, "%s::f" % broken, "--model", replies(tmp_path))
    assert code == 2 and "does not load in the sandbox" in err and "a_module_that_is_not_there" in err


class Unavailable:
    name, unit, deterministic = "unavailable-test", "units", True

    def call_costs(self, sandbox, program, calls, timeout_seconds):
        raise ReferenceUnavailable("not installed here")


def test_a_meter_that_cannot_measure_exits_2_and_writes_nothing(tmp_path, sandbox):
    register_meter("unavailable-test", Unavailable)
    try:
        check_meter_that_cannot_measure(tmp_path, sandbox)
    finally:
        METERS._entries.pop("unavailable-test", None)  # noqa: SLF001 - a test's own meter, gone after it


def check_meter_that_cannot_measure(tmp_path, sandbox):
    module, tests = demo(tmp_path)
    before = module.read_bytes()
    model = replies(tmp_path, ("Make `pairs_with_sum` faster", FAST_PAIRS))
    code, out, err = optimize(sandbox, "%s::pairs_with_sum" % module, "--model", model, "--meter", "unavailable-test", "--write")
    assert code == 2 and "the unavailable-test meter could not measure: not installed here" in err
    assert module.read_bytes() == before


def test_module_reading_and_splicing(tmp_path):
    module, tests = demo(tmp_path)
    found = read_tests(tests, "pairs_with_sum")
    assert [args for args, _, _ in found.expected] == [([1, 1, 1], 2), ([], 4), ([5, -1, 6, 0], 5)]
    streak = read_tests(tests, "longest_quiet_streak")
    assert streak.calls == [([1, 2, 3, 2, 1, 0, 4], 2)]
    loaded = load_module(module, "pairs_with_sum")
    assert loaded.function.startswith("def pairs_with_sum") and loaded.function.endswith("return count\n")
    new, region = splice(loaded, FAST_PAIRS)
    assert region == FAST_PAIRS and new.replace(FAST_PAIRS, loaded.function) == loaded.source
    assert splice(loaded, "def something_else():\n    pass\n") is None
    assert loaded.header.startswith("def pairs_with_sum") and loaded.header.endswith('    2\n    """\n')
    body_only, _ = program_from_reply("```python\n    return len(amounts)\n```", Problem("x", loaded.header, "pairs_with_sum", ()))
    assert splice(loaded, body_only)[1] == loaded.header + "    return len(amounts)\n"  # a reply that is only a body continues the header
    crlf = tmp_path / "crlf.py"
    crlf.write_bytes(b"import os\r\n\r\ndef f(x):\r\n    return x\r\n\r\nY = 1\r\n")
    new, _ = splice(load_module(crlf, "f"), "def f(x):\n    return x + 0\n")
    assert new.encode() == b"import os\r\n\r\ndef f(x):\r\n    return x + 0\r\n\r\nY = 1\r\n"
    with pytest.raises(BadTarget):
        load_module(module, "WORD")


def test_doctests_come_from_the_function_and_the_module_docstring(tmp_path):
    source = (DEMO / "textstats.py").read_text()
    documented = tmp_path / "documented.py"
    documented.write_text('"""Ticket maths.\n\n>>> pairs_with_sum([1, 1], 2)\n1\n"""\n' + source.split('"""', 2)[2])
    module = load_module(documented, "pairs_with_sum")
    pool, counts = build_pool(module, Problem("x", module.function, module.name, ()), None, 5, 0)
    assert counts.doctests == 2 and sorted(t.test.args for t in pool.tests) == [([1, 1], 2), ([1, 2, 3, 4], 5)]
    assert counts.generated == 5 and len(pool.inputs) == 5
