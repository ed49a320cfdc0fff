"""The sandbox on honest programs: verdicts, evidence, limits and recovery."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import replace
from pathlib import Path

from conftest import FAST_LIMITS
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.problems import CallTest, Problem, ScriptTest, StdioTest
from assay.sandbox.harness import codec
from assay.sandbox.verdict import Status

ADD = Problem("t/add", "def add(a, b):\n", "add", tests=(CallTest("t1", (2, 3), 5), CallTest("t2", (10, -4), 6)))
GOOD = "def add(a, b):\n    return a + b\n"


def test_correct_program_passes_with_measurements(sandbox):
    result = sandbox.run(ADD, GOOD)
    assert result.passed and result.status is Status.PASS
    for verdict in result.tests:
        assert verdict.measurement.wall_ns > 0
        assert verdict.measurement.peak_rss_bytes > 0


def test_wrong_answer_reports_first_difference(sandbox):
    result = sandbox.run(ADD, "def add(a, b):\n    return a - b\n")
    assert [t.status for t in result.tests] == [Status.FAIL, Status.FAIL]
    assert result.tests[0].first_difference == "expected 5, got -1"


def test_exception_has_trimmed_traceback(sandbox):
    result = sandbox.run(ADD, "def helper(x):\n    return x[10]\n\ndef add(a, b):\n    return helper([a, b])\n")
    verdict = result.tests[0]
    assert verdict.status is Status.ERROR
    assert verdict.exception_type == "IndexError"
    assert "line 2, in helper" in verdict.traceback and "line 5, in add" in verdict.traceback
    assert "zygote" not in verdict.traceback and "harness" not in verdict.traceback


def test_stdout_and_stderr_are_captured(sandbox):
    result = sandbox.run(ADD, "import sys\ndef add(a, b):\n    print('hello', a)\n    print('warn', file=sys.stderr)\n    return a + b\n")
    assert result.passed
    assert result.tests[0].stdout == "hello 2\n"
    assert result.tests[1].stdout == "hello 10\n"
    assert result.tests[0].stderr == "warn\n"


def test_types_are_compared_exactly(sandbox):
    problem = Problem("t/pair", "", "pair", tests=(CallTest("t", (1,), (1, 2)),))
    assert not sandbox.run(problem, "def pair(x):\n    return [1, 2]\n").passed
    assert sandbox.run(problem, "def pair(x):\n    return (1, 2)\n").passed


def test_approx_truthy_and_checker_comparisons(sandbox):
    problem = Problem(
        "t/cmp",
        "",
        "f",
        tests=(
            CallTest("approx", (3.0,), 0.3333333, comparison="approx", abs_tol=1e-6),
            CallTest("truthy", (2.0,), None, comparison="truthy"),
            CallTest("checker", (3.0,), 1.0, comparison="checker"),
        ),
        checker="def check_output(args, expected, output):\n    return abs(output * args[0] - 1) < 1e-9\n",
    )
    assert sandbox.run(problem, "def f(x):\n    return 1 / x\n").passed
    result = sandbox.run(problem, "def f(x):\n    return 0.0\n")
    assert [t.status for t in result.tests] == [Status.FAIL] * 3


def test_script_test_runs_outside_with_proxy(sandbox):
    problem = Problem(
        "t/script",
        "def encode(s):\n    return s[::-1]\n\ndef decode(s):\n",
        "decode",
        tests=(ScriptTest("check", "def check(candidate):\n    for w in ['ab', 'xyz']:\n        assert candidate(encode(w)) == w\n"),),
        setup="def encode(s):\n    return s[::-1]\n",
    )
    assert sandbox.run(problem, "def decode(s):\n    return s[::-1]\n").passed
    # redefining the trusted helper in the candidate changes nothing
    cheat = "def encode(s):\n    return s\n\ndef decode(s):\n    return s\n"
    result = sandbox.run(problem, cheat)
    assert not result.passed
    assert "candidate(encode(w)) == w" in result.tests[0].message
    assert result.tests[0].first_difference.startswith("decode('ba') returned")


def test_stdio_tests(sandbox):
    problem = Problem("t/io", "", "", tests=(StdioTest("sum", "3 4\n", "7\n"), StdioTest("sum2", "1 1\n", "2")))
    program = "a, b = map(int, input().split())\nprint(a + b)\n"
    assert sandbox.run(problem, program).passed
    result = sandbox.run(problem, "print(0)\n")
    assert result.tests[0].status is Status.FAIL
    assert result.tests[0].first_difference == "line 1: expected '7', got '0'"


def test_syntax_error_fails_every_test_as_error(sandbox):
    result = sandbox.run(ADD, "def add(a, b)\n    return a + b\n")
    assert result.load is not None and result.load.exception_type == "SyntaxError"
    assert result.tests[0].status is Status.ERROR
    assert result.tests[1].status is Status.SKIPPED


def test_tests_after_a_timeout_are_skipped_or_rerun(sandbox):
    from assay.sandbox.judge import RunPolicy

    program = "def add(a, b):\n    if a == 2:\n        while True: pass\n    return a + b\n"
    default = sandbox.run(ADD, program)
    assert [t.status for t in default.tests] == [Status.TIMEOUT, Status.SKIPPED]
    continued = sandbox.run(ADD, program, policy=RunPolicy(continue_after_fatal=True))
    assert [t.status for t in continued.tests] == [Status.TIMEOUT, Status.PASS]


FOUR = Problem("t/four", "", "f", tests=tuple(CallTest("t%d" % i, (i,), i * 10) for i in range(4)))


def test_stop_at_first_failure_skips_what_follows_a_wrong_answer_in_the_sandbox(sandbox):
    from assay.sandbox.judge import RunPolicy

    # wrong on the first input, then a call that would hang until the time limit
    program = "def f(x):\n    if x == 1:\n        while True: pass\n    return x * 10 + (x == 0)\n"
    fast = sandbox.run(FOUR, program, policy=RunPolicy(stop_at_first_failure=True))
    assert [t.status for t in fast.tests] == [Status.FAIL, Status.SKIPPED, Status.SKIPPED, Status.SKIPPED]
    assert "an earlier test failed (fail)" in fast.tests[1].message
    assert fast.tests[0].first_difference == "expected 0, got 1"
    # without the policy the hanging call runs (streamed) and is judged
    full = sandbox.run(FOUR, program)
    assert [t.status for t in full.tests][:2] == [Status.FAIL, Status.TIMEOUT]


def test_stop_at_first_failure_stops_at_an_exception_too(sandbox):
    from assay.sandbox.judge import RunPolicy

    program = "def f(x):\n    if x == 1:\n        raise KeyError(x)\n    if x == 2:\n        while True: pass\n    return x * 10\n"
    result = sandbox.run(FOUR, program, policy=RunPolicy(stop_at_first_failure=True))
    assert [t.status for t in result.tests] == [Status.PASS, Status.ERROR, Status.SKIPPED, Status.SKIPPED]


def test_an_answer_written_differently_is_not_a_failure_the_rest_runs_afresh(sandbox, sent):
    from assay.sandbox.judge import RunPolicy

    problem = Problem("t/dict", "", "f", tests=tuple(CallTest("t%d" % i, (i,), {"a": i, "b": 0}) for i in range(3)))
    # the same dict built in another order: equal, but its plain data lists the keys otherwise
    program = "def f(x):\n    return {'b': 0, 'a': x} if x == 0 else {'a': x, 'b': 0}\n"
    result = sandbox.run(problem, program, policy=RunPolicy(stop_at_first_failure=True))
    assert result.passed and [t.status for t in result.tests] == [Status.PASS] * 3
    # stopped after the first call (its encoding differed), the other two ran on a fresh candidate
    assert [len(s["calls"]) for s in sent.of("start")] == [3, 2]
    assert all(s["expect"] for s in sent.of("start"))


def test_expected_values_never_reach_the_candidate(sandbox):
    """The monitor learns what to stop at, the candidate never does: nothing in its
    memory (objects, frames) holds an expected value, though its own arguments are there."""
    from assay.sandbox.judge import RunPolicy

    problem = Problem("t/secret", "", "f", tests=(CallTest("t0", ("SECRET-arg",), "SECRET-expected-0"), CallTest("t1", ("SECRET-arg",), "SECRET-expected-1")))
    program = (
        "import gc, sys\n"
        "def strings(value, depth=0):\n"
        "    if isinstance(value, str):\n"
        "        yield value\n"
        "    elif depth < 12 and isinstance(value, (list, tuple, set, frozenset)):\n"
        "        for v in value:\n"
        "            yield from strings(v, depth + 1)\n"
        "    elif depth < 12 and isinstance(value, dict):\n"
        "        for k, v in value.items():\n"
        "            yield from strings(k, depth + 1)\n"
        "            yield from strings(v, depth + 1)\n"
        "def f(arg):\n"
        "    seen = set()\n"
        "    for obj in gc.get_objects():\n"
        "        seen.update(strings(obj))\n"
        "    frame = sys._getframe()\n"
        "    while frame is not None:\n"
        "        seen.update(strings(dict(frame.f_locals)))\n"
        "        frame = frame.f_back\n"
        "    wanted = '-'.join(['SECRET', 'expected'])  # not a constant of this program\n"
        "    found = sorted(s for s in seen if s.startswith(wanted))\n"
        "    return found[0] if found else 'none; saw the argument: %s' % ('SECRET-arg' in seen)\n"
    )
    result = sandbox.run(problem, program, policy=RunPolicy(stop_at_first_failure=True))
    assert result.tests[0].status is Status.FAIL
    assert "saw the argument: True" in result.tests[0].first_difference


def test_honest_heavy_programs_still_pass(sandbox):
    problem = Problem("t/heavy", "", "work", tests=(CallTest("t", (), True),))
    deep = "import sys\nsys.setrecursionlimit(100000)\ndef depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\ndef work():\n    return depth(30000) == 30000\n"
    threads = "import threading\ndef work():\n    out = []\n    ts = [threading.Thread(target=lambda i=i: out.append(i * i)) for i in range(16)]\n    [t.start() for t in ts]\n    [t.join() for t in ts]\n    return sorted(out) == [i * i for i in range(16)]\n"
    memory = "def work():\n    block = bytearray(300 * 1024 * 1024)\n    block[-1] = 1\n    return len(block) == 300 * 1024 * 1024\n"
    generous = replace(FAST_LIMITS, cpu_seconds=5.0, wall_seconds=15.0)  # page-zeroing 300 MB is slow on a busy VM
    for program in (deep, threads, memory):
        result = sandbox.run(problem, program, limits=generous)
        assert result.passed, result.to_dict()


def test_worker_killed_from_outside_is_infra_error_or_recovers(sandbox):
    # kill every worker between samples: the next run restarts them transparently
    for worker in sandbox._workers:
        if worker.process is not None:
            os.killpg(worker.process.pid, signal.SIGKILL)
    assert sandbox.run(ADD, GOOD).passed


def test_a_dead_template_costs_a_worker_restart_not_a_verdict():
    """The process candidates are forked from dies between samples (as if the OOM
    killer chose it): the next sample is not failed for it; the worker restarts."""
    from conftest import descendants

    from assay.sandbox.pool import Sandbox

    with Sandbox(workers=1, limits=FAST_LIMITS, calibrate=False) as box:
        assert box.run(ADD, GOOD).passed
        worker = box._workers[0]
        def read(path: str) -> str:  # "" for a process that ended since it was listed (the last candidate being reaped)
            try:
                return Path(path).read_bytes().decode(errors="replace")
            except (FileNotFoundError, ProcessLookupError):
                return ""

        pythons = [pid for pid in descendants(worker.process.pid) if "zygote" in read("/proc/%d/cmdline" % pid)]
        stats = {pid: read("/proc/%d/stat" % pid) for pid in pythons}
        parents = {pid: int(stat.rsplit(")", 1)[1].split()[1]) for pid, stat in stats.items() if stat}
        zygotes = [pid for pid in parents if parents[pid] not in parents]
        templates = [pid for pid in parents if parents[pid] in zygotes]  # (candidates are the template's children)
        assert len(zygotes) == 1 and len(templates) == 1
        started = worker.process.pid
        os.kill(templates[0], signal.SIGKILL)
        result = box.run(ADD, GOOD)
        assert result.passed and not result.is_infra_error
        assert worker.process.pid != started  # a fresh worker answered


def test_infrastructure_failure_is_never_the_candidates(sandbox, monkeypatch):
    from assay.sandbox import worker as worker_module

    def broken_start(self):
        raise worker_module.InfraError("simulated: cannot start worker")

    for worker in sandbox._workers:
        worker.stop()
    monkeypatch.setattr(worker_module.Worker, "start", broken_start)
    result = sandbox.run(ADD, GOOD)
    assert result.status is Status.INFRA_ERROR and result.is_infra_error
    assert all(t.status is Status.INFRA_ERROR for t in result.tests)
    monkeypatch.undo()
    assert sandbox.run(ADD, GOOD).passed


def test_reference_calibrates_time_limits():
    from conftest import FAST_LIMITS

    from assay.sandbox.pool import Sandbox

    problem = Problem("t/slowref", "", "work", tests=(CallTest("t", (300000,), 300000),), reference="def work(n):\n    return sum(1 for _ in range(n))\n")
    with Sandbox(workers=1, limits=FAST_LIMITS, timeout_factor=5, min_cpu_seconds=0.05) as box:
        limits = box.limits_for(problem)
        assert 0.05 <= limits.cpu_seconds < FAST_LIMITS.cpu_seconds
        slow = "def work(n):\n    total = 0\n    for _ in range(n * 200):\n        total += 1\n    return n\n"
        assert box.run(problem, slow).tests[0].status is Status.TIMEOUT
        assert box.run(problem, problem.reference).passed


plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary(max_size=20) | st.complex_numbers(allow_nan=False),
    lambda children: st.lists(children, max_size=4)
    | st.tuples(children, children)
    | st.dictionaries(st.integers() | st.text(max_size=5), children, max_size=4)
    | st.frozensets(st.integers(), max_size=4),
    max_leaves=20,
)


@given(plain)
@settings(max_examples=300)
def test_codec_round_trips_plain_data(value):
    decoded = codec.decode(codec.encode(value))
    assert decoded == value
    assert type(decoded) is type(value)


def test_codec_keeps_nan_and_infinity():
    decoded = codec.decode(codec.encode([float("nan"), float("inf"), 2**80, True, 1]))
    assert decoded[0] != decoded[0] and decoded[1] == float("inf") and decoded[2] == 2**80
    assert decoded[3] is True and type(decoded[4]) is int


def test_exec_mode_runs_a_separate_program_within_limits(sandbox):
    import sys

    from assay.sandbox.worker import Session

    worker = sandbox._workers[0]
    worker.ensure_started()
    reply = Session(worker, "", sandbox.limits).run_exec(
        [sys.executable, "-c", "import os; print('pid', os.getpid()); open('out.txt', 'w').write('42')"], collect=["out.txt", "absent.txt"]
    )
    assert reply.status == "exited" and reply.exit_code == 0
    assert reply.stdout == "pid 1\n"  # PID 1 of its own namespace
    assert reply.files == {"out.txt": "42", "absent.txt": None}
    assert reply.measurement.cpu_ns > 0
    spin = Session(worker, "", replace(FAST_LIMITS, cpu_seconds=0.3, wall_seconds=2)).run_exec([sys.executable, "-c", "while True: pass"])
    assert spin.status == "timeout"


def test_fatal_tests_are_capped_when_continuing(sandbox):
    from assay.sandbox.judge import RunPolicy

    many = Problem("t/hang", "", "add", tests=tuple(CallTest("t%d" % i, (i, 0), i) for i in range(6)))
    result = sandbox.run(many, "def add(a, b):\n    while True: pass\n", policy=RunPolicy(continue_after_fatal=True, max_fatal=2))
    assert [t.status for t in result.tests] == [Status.TIMEOUT, Status.TIMEOUT] + [Status.SKIPPED] * 4


def test_calibration_is_per_problem_content_not_just_its_id(sandbox):
    from assay.sandbox.pool import calibration_key

    a = Problem("same/id", "", "f", tests=(CallTest("t", (1,), 1),), reference="def f(x):\n    return x\n")
    b = Problem("same/id", "", "f", tests=(CallTest("t", (2,), 2),), reference="def f(x):\n    return x\n")
    assert calibration_key(a) != calibration_key(b)
    assert calibration_key(a) == calibration_key(a)


def test_huge_integers_cross_the_boundary(sandbox):
    big = 7**20000  # far beyond the 4300-digit limit of int <-> str
    problem = Problem("t/big", "", "f", tests=(CallTest("t", (20000,), big),))
    assert sandbox.run(problem, "def f(n):\n    return 7 ** n\n").passed
    assert codec.decode(codec.encode(-big)) == -big


def _batch(sandbox, program: str, calls: list[tuple], stream: bool, limits=None):
    from assay.sandbox.worker import Session

    worker = sandbox._workers[0]
    worker.ensure_started()
    session = Session(worker, program, limits or sandbox.limits)
    return session.run_batch([session.call_message("f", args) for args in calls], stream=stream)


def test_streamed_and_lockstep_batches_agree_call_by_call(sandbox):
    program = "import sys\nprint('loading')\ndef f(x):\n    print('out', x)\n    print('err', x, file=sys.stderr)\n    if x == 2:\n        raise ValueError(x)\n    return x * x\n"
    outcomes = {}
    for stream in (True, False):
        load, replies = _batch(sandbox, program, [(1,), (2,), (3,)], stream)
        assert load.status == "ok" and load.stdout == "loading\n"
        outcomes[stream] = [(r.status, r.value, r.exception_type, r.stdout, r.stderr) for r in replies]
        assert all(r.measurement.wall_ns > 0 for r in replies)
    # each call's output is its own even when the monitor reads several replies at once
    assert outcomes[True] == outcomes[False] == [
        ("ok", 1, None, "out 1\n", "err 1\n"),
        ("exception", None, "ValueError", "out 2\n", "err 2\n"),
        ("ok", 9, None, "out 3\n", "err 3\n"),
    ]


def test_streamed_batch_times_out_the_call_that_hangs(sandbox):
    program = "def f(x):\n    while x == 2:\n        pass\n    return x\n"
    limits = replace(FAST_LIMITS, cpu_seconds=0.3, wall_seconds=1.0)
    load, replies = _batch(sandbox, program, [(1,), (2,), (3,)], True, limits)
    assert [r.status for r in replies] == ["ok", "timeout"]
    assert replies[1].measurement.cpu_ns >= 0.3e9 and not replies[1].alive
    assert replies[0].measurement.cpu_ns < 0.3e9


def test_lockstep_cost_is_the_call_alone(sandbox):
    # Decoding 300k numbers and encoding them back costs far more than this call;
    # a cost measurement must see only the call.
    big = list(range(300_000))
    program = "def f(xs):\n    return xs\n\ndef g(xs):\n    return sum(x * x for x in xs) > 0\n"
    load, (echo,) = _batch(sandbox, program.replace("def f", "def f"), [(big,)], False)
    assert echo.status == "ok" and echo.value == big
    assert echo.measurement.cpu_ns < 5e6 < echo.measurement.cpu_before_ns + echo.measurement.cpu_after_ns
    from assay.sandbox.worker import Session

    session = Session(sandbox._workers[0], program, sandbox.limits)
    load, (work,) = session.run_batch([session.call_message("g", (big,))], stream=False)
    assert work.value is True and work.measurement.cpu_ns > echo.measurement.cpu_ns  # real work is counted


def test_huge_values_in_messages_and_checkers(sandbox):
    big = 7**20000
    wrong = Problem("t/big-wrong", "", "f", tests=(CallTest("t", (20000,), big),))
    result = sandbox.run(wrong, "def f(n):\n    return 7 ** n + 1\n")
    assert result.tests[0].status is Status.FAIL and "digits" in result.tests[0].first_difference
    checked = Problem("t/big-checker", "", "f", tests=(CallTest("t", (20000,), big, comparison="checker"),),
                      checker="def check(args, expected, output):\n    return output == expected\n", checker_function="check")
    assert sandbox.run(checked, "def f(n):\n    return 7 ** n\n").passed
    script = Problem("t/big-script", "", "f", tests=(ScriptTest("check", "def check(candidate):\n    assert candidate(20000) == 7 ** 20000 + 1\n"),))
    verdict = sandbox.run(script, "def f(n):\n    return 7 ** n\n").tests[0]
    assert verdict.status is Status.FAIL and "digits" in verdict.first_difference


def test_worker_is_free_again_while_a_batched_sample_is_judged(monkeypatch):
    from assay.sandbox import judge
    from assay.sandbox.pool import Sandbox

    free_while_judging = []
    original = judge.SampleRun._call_verdict

    def spy(self, test, reply):
        free_while_judging.append(box._free.qsize())
        return original(self, test, reply)

    monkeypatch.setattr(judge.SampleRun, "_call_verdict", spy)
    with Sandbox(workers=1, limits=FAST_LIMITS, calibrate=False) as box:
        assert box.run(ADD, GOOD).passed
        assert free_while_judging == [1, 1]  # both tests compared after the only worker went back


def test_a_pool_with_one_worker_per_cpu_keeps_each_worker_on_its_cpu():
    from assay.sandbox.pool import Sandbox, worker_cpus

    cpus = sorted(os.sched_getaffinity(0))
    assert worker_cpus(len(cpus), None) == cpus
    assert worker_cpus(len(cpus) + 1, None) is None and worker_cpus(len(cpus), False) is None
    assert worker_cpus(len(cpus) + 1, True) == cpus + cpus[:1]
    problem = Problem("t/cpus", "", "where", tests=(CallTest("t", (), None),))
    program = "import os\ndef where():\n    print(sorted(os.sched_getaffinity(0)))\n"
    for pin, expected in ((None, [[c] for c in cpus]), (False, [cpus] * len(cpus))):
        with Sandbox(workers=len(cpus), limits=FAST_LIMITS, calibrate=False, pin=pin) as box:
            seen = []
            for worker in box._workers:  # each worker in turn, not whichever is free
                result = box._run_on(worker, problem, program, FAST_LIMITS, box.policy)
                assert result.passed, result.to_dict()
                seen.append(json.loads(result.tests[0].stdout))
            assert seen == expected
