"""The sandbox's public face: plain call batches, exec runs, leases, limits, comparisons, streaming fan-out."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from assay import plugins
from assay.problems import CallTest, Problem
from assay.problems.jsonl import problem_from_json
from assay.sandbox import Call, InfraError, Limits, Mode, Session, wall_for_cpu
from assay.sandbox.pool import retrying
from assay.store import JUDGED, MIGRATIONS, Store

SQUARE = "def square(x):\n    return x * x\n"


def test_run_calls_streamed_and_lockstep_answer_each_call(sandbox):
    calls = [Call("square", (3,)), Call("square", (4,))]
    streamed = sandbox.run_calls(SQUARE, calls)
    lockstep = sandbox.run_calls(SQUARE, calls, mode=Mode.LOCKSTEP)
    for batch in (streamed, lockstep):
        assert batch.complete and [r.value for r in batch.replies] == [9, 16]
    # only a lock-step call has its own window: decoding before, encoding after
    assert all(r.measurement.cpu_before_ns > 0 for r in lockstep.replies)


def test_run_calls_stop_at_a_call_that_ends_the_candidate(sandbox):
    program = "import os\ndef f(x):\n    if x == 2:\n        os._exit(3)\n    return x\n"
    batch = sandbox.run_calls(program, [Call("f", (1,)), Call("f", (2,)), Call("f", (3,))])
    assert batch.loaded and not batch.complete
    assert [r.status for r in batch.replies] == ["ok", "crash"]


def test_a_call_limit_of_its_own_cuts_it_off(sandbox):
    spin = "def spin():\n    while True:\n        pass\n"
    batch = sandbox.run_calls(spin, [Call("spin", cpu_seconds=0.1)])
    assert batch.replies[0].status == "timeout"
    assert batch.replies[0].measurement.cpu_ns < 0.5e9


def test_one_limits_formula():
    assert wall_for_cpu(2.0) == 3.25
    limits = Limits().with_cpu(2.0)
    assert (limits.cpu_seconds, limits.wall_seconds) == (2.0, 3.25)
    assert Limits.for_cpu(1.0, memory_bytes=123).memory_bytes == 123
    assert Limits(wall_seconds=1.0).per_call_wall(5.0) == 1.0


def test_run_exec_runs_a_separate_program(sandbox):
    import sys

    reply = sandbox.run_exec([sys.executable, "-S", "-c", "open('out.txt', 'w').write(open('in.txt').read()[::-1])"], files={"in.txt": "abc"}, collect=["out.txt"])
    assert reply.status == "exited" and reply.exit_code == 0
    assert reply.files["out.txt"] == "cba"


def test_a_lease_lends_a_worker_alone(sandbox):
    with sandbox.lease() as worker:
        load, replies = Session(worker, SQUARE, sandbox.limits).run_batch([Session(worker, SQUARE, sandbox.limits).call_message("square", (5,))])
    assert replies[0].value == 25
    assert sandbox.python.count(".") >= 1


def test_the_retry_rule_tries_twice_then_says_infrastructure(sandbox):
    attempts = []

    def flaky(worker):
        attempts.append(worker)
        raise InfraError("the pipe broke")

    with sandbox.lease() as worker, pytest.raises(InfraError, match="failed twice: the pipe broke"):
        retrying(worker, flaky)
    assert len(attempts) == 2

    calls = []
    with sandbox.lease() as worker:
        assert retrying(worker, lambda w: calls.append(1) or (_ for _ in ()).throw(InfraError("once")) if not calls else "second") == "second"


def test_a_plugin_comparison_decides_a_jsonl_problem(sandbox):
    def same_letters(problem, test, output):
        ok = isinstance(output, str) and sorted(output) == sorted(test.expected)
        return ok, None if ok else "not an anagram of %r" % test.expected

    plugins.COMPARISONS.register("anagram", same_letters, "same letters in any order", plugin="test")
    problem = problem_from_json({"task_id": "t/anagram", "prompt": "", "entry_point": "shuffle", "tests": [{"args": ["abc"], "expected": "cab", "comparison": "anagram"}]})
    assert sandbox.run(problem, "def shuffle(s):\n    return s[::-1]\n").passed
    wrong = sandbox.run(problem, "def shuffle(s):\n    return s + 'x'\n")
    assert not wrong.passed and wrong.tests[0].first_difference == "not an anagram of 'cab'"
    with pytest.raises(Exception, match="'comparison' must be one of exact, approx, truthy, falsy, checker, .*anagram"):
        problem_from_json({"task_id": "t/x", "prompt": "", "entry_point": "f", "tests": [{"args": [], "expected": 1, "comparison": "nope"}]})


def test_run_many_streams_results_while_the_input_is_still_coming(sandbox):
    problem = Problem("t/square", "", "square", (CallTest("t", (3,), 9),))
    release = threading.Event()
    seen = []

    def slowly():
        yield problem, SQUARE
        release.wait(30)  # the second item only comes once the first result is out
        yield problem, "def square(x):\n    return 0\n"

    for position, result in sandbox.run_many(slowly()):
        seen.append((position, result.passed))
        release.set()
    assert seen == [(0, True), (1, False)]


def test_run_many_raises_what_its_input_raised(sandbox):
    def broken():
        yield Problem("t/s", "", "square", (CallTest("t", (3,), 9),)), SQUARE
        raise KeyError("no such task")

    with pytest.raises(KeyError, match="no such task"):
        list(sandbox.run_many(broken()))


def test_a_store_from_before_stages_keeps_its_half_measured_samples(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)  # as a store from before the stage column wrote it: the first two migrations only
    for number, script in enumerate(MIGRATIONS[:2], start=1):
        db.executescript("BEGIN;" + script + "PRAGMA user_version=%d; COMMIT;" % number)
    db.execute("INSERT INTO runs (run_id, kind, benchmark, source, config, created_at) VALUES ('r', 'eval', 'b', 's', '{}', ?)", (time.time(),))
    db.execute("INSERT INTO results VALUES ('r', 0, 1, 't', 0, 1, 'pass', ?, ?)", (json.dumps({"efficiency_pending": True}), time.time()))
    db.execute("INSERT INTO results VALUES ('r', 1, 2, 't', 1, 1, 'pass', ?, ?)", (json.dumps({"efficiency": 0.5}), time.time()))
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.positions("r", JUDGED) == {0}
