"""The efficiency presets with a scripted model: a step is kept only if behaviour is unchanged, the fastest correct algorithm wins."""

from __future__ import annotations

import dataclasses

from assay import plugins
from assay.models import ScriptedModel, ScriptedReply
from assay.problems import CallTest, Problem, load_benchmark
from assay.search.efficiency import PRESETS, Gate, efficiency_strategy, grown_inputs, profile_feedback, split_algorithms
from assay.solve import SolveConfig, solve
from assay.store import Store

CLOSE = {p.task_id: p for p in load_benchmark("humaneval")}["HumanEval/0"]
PAIRS_PROMPT = '''def count_pairs(nums, k):
    """The number of pairs i < j with nums[i] + nums[j] == k.

    >>> count_pairs([1, 2, 3, 4], 5)
    2
    >>> count_pairs([5, 7, 2], 9)
    1
    """
'''
COUNT = Problem("demo/count_pairs", PAIRS_PROMPT, "count_pairs", tests=(
    CallTest("h1", ([1, 1, 1], 2), 3, hidden=True), CallTest("h2", ([0, 4, 4, 0, 2], 4), 4, hidden=True), CallTest("h3", ([], 1), 0, hidden=True)))  # fmt: skip

# correct and quadratic
SLOW = (
    "def count_pairs(nums, k):\n"
    "    count = 0\n"
    "    for i in range(len(nums)):\n"
    "        for j in range(i + 1, len(nums)):\n"
    "            if nums[i] + nums[j] == k:\n"
    "                count += 1\n"
    "    return count\n"
)
# correct and linear
FAST = (
    "def count_pairs(nums, k):\n"
    "    seen = {}\n"
    "    count = 0\n"
    "    for x in nums:\n"
    "        count += seen.get(k - x, 0)\n"
    "        seen[x] = seen.get(x, 0) + 1\n"
    "    return count\n"
)
# faster, passes both examples, wrong: counts distinct values, not pairs of positions
DISTINCT = (
    "def count_pairs(nums, k):\n"
    "    s = set(nums)\n"
    "    return sum(1 for x in s if k - x in s and x < k - x)\n"
)
NEVER = "def count_pairs(nums, k):\n    return 0\n"

# HumanEval/0: right on every value, but one sorts the caller's list in place
PAIRS = (
    "def has_close_elements(numbers, threshold):\n"
    "    for i in range(len(numbers)):\n"
    "        for j in range(len(numbers)):\n"
    "            if i != j and abs(numbers[i] - numbers[j]) < threshold:\n"
    "                return True\n"
    "    return False\n"
)
SORTED = (
    "def has_close_elements(numbers, threshold):\n"
    "    s = sorted(numbers)\n"
    "    return any(b - a < threshold for a, b in zip(s, s[1:]))\n"
)
IN_PLACE = (
    "def has_close_elements(numbers, threshold):\n"
    "    numbers.sort()\n"
    "    return any(b - a < threshold for a, b in zip(numbers, numbers[1:]))\n"
)

OPTIMIZE = "Make `count_pairs` faster"


def fenced(program: str) -> str:
    return "```python\n%s```" % program


def run(tmp_path, sandbox, preset, replies):
    plugins.STRATEGIES.register(preset.name, efficiency_strategy(preset), plugin="test")
    model = ScriptedModel(replies)
    store = Store(tmp_path / "s.sqlite")
    report = solve([COUNT], model, config=SolveConfig(strategy=preset.name), sandbox=sandbox, store=store, benchmark="humaneval")
    return report, model, store.search_nodes(report.evaluation.run_id)


def cheap(name: str, **changes):
    """A preset measured on cpu-time (no timing threshold is asserted on it) with a small differential budget."""
    return dataclasses.replace(PRESETS[name], name=name + "-test", meter="cpu-time", differential_budget=60, **changes)


def test_a_faster_step_whose_behaviour_changed_is_rejected(tmp_path, sandbox):
    preset = cheap("optimize", rounds=3)
    replies = [fenced(SLOW), ScriptedReply(fenced(DISTINCT), match=OPTIMIZE)]
    report, model, rows = run(tmp_path, sandbox, preset, replies)
    (step,) = [r for r in rows if r["operator"] == "optimize"]  # the model's repeats of it in rounds 2 and 3 are not judged again
    assert step["value"]["efficiency"] == 0.0 and step["passed"] == 1  # passes both examples, and is rejected
    assert step["feedback"].startswith("its behaviour differs from the starting program's: on count_pairs(")
    # the rejection is shown to the next round
    assert len(model.requests) == 4 and "An earlier faster version was rejected because its behaviour differs" in model.requests[-1][0][-1].content
    assert [params.temperature for _, params in model.requests[1:]] == [0.0, 0.0, 0.8]  # a repeat at greedy decoding: the rounds left are sampled
    outcome = report.evaluation.outcomes[0]
    assert outcome.passed and outcome.spent["efficiency"]["kept"] == 0 and outcome.spent["efficiency"]["rejected"] == 1
    assert outcome.spent["efficiency"]["outcomes"] == {"behaviour differs": 1, "repeat": 2}  # why nothing was kept, version by version
    assert outcome.spent["stopped"] == "the model gave no new version"
    assert [r for r in rows if r["operator"] == "implement"][0]["program"].strip() == SLOW.strip()


def test_a_step_that_changes_its_arguments_is_rejected(sandbox):
    gate = Gate(sandbox, PAIRS, "has_close_elements", [([3.0, 1.0, 2.0], 0.5), ([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)], budget=20)
    verdict = gate.check(IN_PLACE)
    assert not verdict.same and "arguments after the call" in verdict.reason
    assert gate.check(SORTED).same


def test_a_faster_equivalent_step_is_kept_with_its_ratio(tmp_path, sandbox):
    preset = dataclasses.replace(PRESETS["optimize"], name="optimize-kept", differential_budget=60, rounds=1, grow=(16,), max_cost_inputs=2)
    replies = [fenced(SLOW), ScriptedReply(fenced(FAST), match=OPTIMIZE)]
    report, model, rows = run(tmp_path, sandbox, preset, replies)
    prompt = model.requests[1][0][-1].content
    assert "instructions meter" in prompt and "Its costliest input" in prompt and "hits:" in prompt
    (step,) = [r for r in rows if r["operator"] == "optimize"]
    assert step["feedback"].startswith("kept: behaviour unchanged") and step["value"]["efficiency"] > 1.0
    outcome = report.evaluation.outcomes[0]
    assert outcome.passed and outcome.spent["efficiency"]["meter"] == "instructions"
    assert outcome.spent["efficiency"]["speedup"] == round(step["value"]["efficiency"], 4) and outcome.spent["efficiency"]["kept"] == 1
    assert outcome.spent["efficiency"]["outcomes"] == {"kept": 1}


def test_optimize_repairs_first_and_optimizes_only_a_correct_program(tmp_path, sandbox):
    preset = cheap("optimize", rounds=1)
    replies = [ScriptedReply(fenced(SLOW), match="This program is wrong"), ScriptedReply(fenced(FAST), match=OPTIMIZE), fenced(NEVER)]
    report, model, rows = run(tmp_path, sandbox, preset, replies)
    assert [r["operator"] for r in rows if r["kind"] == "program"] == ["implement", "debug", "optimize"]
    assert SLOW.strip() in model.requests[2][0][-1].content
    assert report.evaluation.outcomes[0].passed


def test_llm4effi_answers_with_the_fastest_correct_algorithm(tmp_path, sandbox):
    preset = dataclasses.replace(PRESETS["llm4effi"], name="llm4effi-test", differential_budget=60, grow=(16,), max_cost_inputs=2)  # the instruction meter: exact
    algorithms = (
        "Algorithm 1 (O(n^2)): compare every pair.\n"
        "Algorithm 2 (O(n)): count the values seen so far in a dictionary.\n"
        "Algorithm 3 (O(1)): return zero."
    )
    replies = [
        ScriptedReply(algorithms, match="List 3 different algorithms"),
        ScriptedReply(fenced(SLOW), match="compare every pair"),
        ScriptedReply(fenced(FAST), match="in a dictionary"),
        ScriptedReply(fenced(SLOW), match="This program is wrong"),  # the refinement of the wrong one
        ScriptedReply(fenced(NEVER), match="return zero"),
    ]
    report, model, rows = run(tmp_path, sandbox, preset, replies)
    assert [r["operator"] for r in rows if r["kind"] == "plan"] == ["algorithm"] * 3
    assert [r["operator"] for r in rows if r["kind"] == "program"] == ["implement"] * 3 + ["refine"]
    outcome = report.evaluation.outcomes[0]
    assert outcome.passed and outcome.spent["efficiency"]["meter"] == "instructions"
    assert outcome.spent["efficiency"]["speedup"] > 1.0  # the answer is FAST, measured against the first correct one (SLOW)
    assert outcome.spent["efficiency"]["outcomes"] == {"kept": 3}  # the three correct programs agree; the wrong one was refined, never measured
    best = max((r for r in rows if r["kind"] == "program"), key=lambda r: r["value"]["efficiency"])
    assert best["program"].strip() == FAST.strip()


def test_split_algorithms_and_grown_inputs():
    assert split_algorithms("1. a\n2. b\n3) c") == ["1. a", "2. b", "3) c"]
    assert split_algorithms("just one") == ["just one"]
    steps = "**Algorithm 1 (O(n^2))**: pairs.\n  1. loop\n  2. loop again\n**Algorithm 2 (O(n))**: a dict.\n  1. count"
    assert split_algorithms(steps) == ["**Algorithm 1 (O(n^2))**: pairs.\n  1. loop\n  2. loop again", "**Algorithm 2 (O(n))**: a dict.\n  1. count"]
    repeated, spread = grown_inputs([([1, 2], 3, "ab")], (2,))
    assert repeated == ([1, 2, 1, 2], 6, "abab")
    assert len(spread[0]) == 4 and all(0 <= v <= 2 for v in spread[0]) and spread[1] == 3 and len(spread[2]) == 4 and set(spread[2]) <= {"a", "b"}
    assert grown_inputs([([1, 2], 3, "ab")], (2,)) == [repeated, spread]  # seeded


def test_profile_feedback_counts_the_lines(sandbox):
    text = profile_feedback(sandbox, SLOW, "count_pairs", ([1, 2, 3, 4], 5))
    assert "line   5" in text and "if nums[i] + nums[j] == k" in text and "6 hits" in text
