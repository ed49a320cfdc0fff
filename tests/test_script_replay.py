"""Script tests replay the calls of their last run as one batch, with the live verdicts."""

from __future__ import annotations

import random

import pytest
from conftest import FAST_LIMITS

from assay.problems import Problem, ScriptTest
from assay.sandbox.pool import Sandbox
from assay.sandbox.script_replay import ScriptCalls
from assay.sandbox.verdict import Status

# unseeded module-level random, as HumanEval/38 and /50 use it
DRAWS = """
def check(candidate):
    from random import randint
    for _ in range(12):
        a, b = randint(-50, 50), randint(-50, 50)
        assert candidate(a, b) == a + b
"""
ADD = Problem("t/replay-add", "", "add", tests=(ScriptTest("check", DRAWS),))
# each call's arguments are the previous answer: a different answer changes every later call
FEEDBACK = """
def check(candidate):
    x = 1
    for _ in range(6):
        try:
            x = candidate(x)
        except Exception:
            pass
    assert x == 64
"""
DOUBLE = Problem("t/replay-double", "", "double", tests=(ScriptTest("check", FEEDBACK),))

CANDIDATES = {
    "correct": "def add(a, b):\n    return a + b\n",
    "wrong": "def add(a, b):\n    return a + b + (a > 40)\n",
    "raises": "def add(a, b):\n    if a > 30:\n        raise ValueError('no')\n    return a + b\n",
    "prints": "def add(a, b):\n    print('adding', a, b)\n    return a + b\n",
    "stateful": "seen = []\ndef add(a, b):\n    seen.append(1)\n    return a + b if len(seen) < 7 else 0\n",
    "hangs": "def add(a, b):\n    while a > 30:\n        pass\n    return a + b\n",
    "dies": "import os\ndef add(a, b):\n    if a > 30:\n        os._exit(3)\n    return a + b\n",
}


@pytest.fixture(scope="module")
def box():
    with Sandbox(workers=1, limits=FAST_LIMITS, calibrate=False) as sandbox:
        yield sandbox


def described(result):
    return [(t.status, t.message, t.first_difference, t.exception_type, t.stdout, t.stderr) for t in result.tests]


@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_replayed_script_gives_the_live_verdict_in_one_exchange(box, sent, name):
    box._script_calls = ScriptCalls()
    box.run(ADD, CANDIDATES["correct"])  # live: records the script's twelve calls
    sent.clear()
    recorded, box._script_calls = box._script_calls, ScriptCalls()
    live = box.run(ADD, CANDIDATES[name])
    assert len(sent.of("call")) > 0  # nothing recorded: each call was a round trip
    box._script_calls = recorded
    sent.clear()
    replayed = box.run(ADD, CANDIDATES[name])
    assert described(replayed) == described(live)
    assert len(sent.of("call")) == 0 and len(sent.of("start")) == 1  # one batch, no round trip
    assert (live.passed, name) == (name in ("correct", "prints"), name)


def test_a_script_whose_calls_diverge_runs_live_on_a_fresh_candidate(box, sent):
    box._script_calls = ScriptCalls()
    assert box.run(DOUBLE, "def double(x):\n    return 2 * x\n").passed
    sent.clear()
    # answers 1 more each time, so the script's next arguments are not the recorded ones;
    # the script swallows the replay's miss in its own `except Exception` no more than a live failure
    result = box.run(DOUBLE, "def double(x):\n    return 2 * x + 1\n")
    assert result.tests[0].status is Status.FAIL
    assert len(sent.of("start")) == 2 and len(sent.of("call")) == 6  # the batch, then a live run
    sent.clear()
    assert box.run(DOUBLE, "def double(x):\n    return x + x\n").passed
    assert len(sent.of("call")) == 0


def test_a_call_over_the_tests_budget_is_a_timeout_replayed_or_live(box):
    problem = Problem("t/replay-budget", "", "slow", tests=(ScriptTest("check", "def check(candidate):\n    for i in range(3):\n        assert candidate(i) == i\n"),))
    slow = "import time\ndef slow(i):\n    end = time.process_time() + 0.3\n    while time.process_time() < end:\n        pass\n    return i\n"
    box._script_calls = ScriptCalls()
    assert box.run(problem, "def slow(i):\n    return i\n").passed
    replayed = box.run(problem, slow)
    box._script_calls = ScriptCalls()
    live = box.run(problem, slow)
    # 0.5 s of CPU for the whole script: the second 0.3 s call runs out of it
    assert replayed.tests[0].status is Status.TIMEOUT and live.tests[0].status is Status.TIMEOUT


def test_scripts_draw_the_same_inputs_every_run_without_touching_the_global_random(box):
    state = random.getstate()
    recordings = []
    for _ in range(2):
        box._script_calls = ScriptCalls()
        assert box.run(ADD, CANDIDATES["correct"]).passed
        recordings.append(box._script_calls.recorded(ScriptCalls.key("t/replay-add", "check", "\0\0" + DRAWS)))
    assert recordings[0] is not None and len(recordings[0]) == 12
    assert recordings[0] == recordings[1]
    assert random.getstate() == state


def test_a_failing_program_is_not_made_to_answer_every_recorded_call(box, sent):
    """The calls go out in growing chunks: a program that fails the first
    check runs the first chunk, not the whole recording."""
    problem = Problem("t/replay-count", "", "f", tests=(ScriptTest("check", "def check(candidate):\n    for i in range(60):\n        assert candidate(i) == i\n"),))
    box._script_calls = ScriptCalls()
    assert box.run(problem, "def f(i):\n    return i\n").passed
    counting = "import os\ndef f(i):\n    os.write(1, b'.')\n    return i if i else -1\n"
    sent.clear()
    result = box.run(problem, counting)
    assert result.tests[0].status is Status.FAIL
    assert result.tests[0].stdout == "."  # the output of the calls the script used
    assert len(sent.of("start")) == 1 and len(sent.of("calls")) == 0  # the first chunk was enough
    sent.clear()
    late = "def f(i):\n    return i if i < 40 else -1\n"
    result = box.run(problem, late)
    assert result.tests[0].status is Status.FAIL and "f(40)" in result.tests[0].first_difference
    assert len(sent.of("start")) == 1 and len(sent.of("calls")) == 2  # 8, then 24, then the remaining 28


def test_a_program_that_exits_after_answering_is_judged_as_live(box):
    problem = Problem("t/replay-exit", "", "f", tests=(ScriptTest("check", "def check(candidate):\n    for i in range(10):\n        assert candidate(i) == i\n"),))
    exits = "import os, threading, time\ndef f(i):\n    if i == 3:\n        threading.Thread(target=lambda: (time.sleep(0.05), os._exit(0))).start()\n        time.sleep(0.2)\n    return i\n"
    box._script_calls = ScriptCalls()
    assert box.run(problem, "def f(i):\n    return i\n").passed
    replayed = box.run(problem, exits)
    box._script_calls = ScriptCalls()
    live = box.run(problem, exits)
    assert replayed.tests[0].status is live.tests[0].status is Status.CRASH


def test_recordings_are_bounded_and_a_script_that_keeps_missing_is_no_longer_replayed(monkeypatch):
    import assay.sandbox.script_replay as replay

    calls = ScriptCalls()
    calls.record(("t", "big", ""), [("f", "x" * (replay.MAX_RECORDING_BYTES + 1), "{}")])
    assert calls.recorded(("t", "big", "")) is None  # too heavy to keep
    monkeypatch.setattr(replay, "MAX_RECORDINGS", 2)
    for name in ("a", "b", "c"):
        calls.record(("t", name, ""), [("f", "[1]", "{}")])
    assert calls.recorded(("t", "a", "")) is None and calls.recorded(("t", "c", "")) is not None
    key = ("t", "c", "")
    for _ in range(replay.MAX_MISSES_AHEAD + 1):
        calls.outcome(key, hit=False)
    assert calls.recorded(key) is None


def test_recordings_saved_by_one_sandbox_are_replayed_by_the_next_from_its_first_run(tmp_path, monkeypatch, sent):
    monkeypatch.setenv("ASSAY_CACHE_DIR", str(tmp_path / "cache"))
    with Sandbox(workers=1, limits=FAST_LIMITS, calibrate=False) as first:
        live = first.run(ADD, CANDIDATES["wrong"])
        first.run(ADD, CANDIDATES["correct"])  # the longest run is the one kept
    assert (tmp_path / "cache" / "script-calls.json").is_file()
    sent.clear()
    with Sandbox(workers=1, limits=FAST_LIMITS, calibrate=False) as second:  # as a new process would: nothing in memory
        replayed = second.run(ADD, CANDIDATES["wrong"])
    assert described(replayed) == described(live)
    assert len(sent.of("call")) == 0 and len(sent.of("start")) == 1  # its first run, one batch


def test_a_damaged_or_stale_recording_file_costs_a_live_run_not_a_verdict(tmp_path, sent):
    path = tmp_path / "script-calls.json"
    key = ScriptCalls.key("t/replay-add", "check", "\0\0" + DRAWS)
    for content in ("{not json", '{"format": 1, "recordings": {"%s": 5}}' % ScriptCalls._digest(key), '{"format": 99}'):
        path.write_text(content)
        assert ScriptCalls(path).recorded(key) is None
    # a recording of calls this script no longer makes: the replay misses and the script runs live
    path.write_text('{"format": 1, "recordings": {"%s": [["add", "[1, 2]", "{}"]]}}' % ScriptCalls._digest(key))
    with Sandbox(workers=1, limits=FAST_LIMITS, calibrate=False) as box:
        box._script_calls = ScriptCalls(path)
        sent.clear()
        result = box.run(ADD, CANDIDATES["correct"])
        assert result.passed and len(sent.of("call")) == 12  # live, call by call
    assert len(ScriptCalls(path).recorded(key)) == 12  # the live run's calls replaced the stale recording on close
