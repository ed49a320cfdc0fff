"""The counting servers behind the instructions meter: exact, repeatable, and out of the candidate's reach."""

from __future__ import annotations

import os
import threading
import time

import pytest

from assay.measure.counting import CountCache, Counted, CountingServer, RawJob, interpret, supported

pytestmark = pytest.mark.skipif(not supported()[0], reason=supported()[1])

WORK = """
def f(n):
    s = 0
    for i in range(1000, 1000 + n):
        s += i
    return s
"""


@pytest.fixture(scope="module")
def server():
    box = CountingServer()
    yield box
    box.close()


def count(server, program, inputs=((3000,),), *, each=False, timeout=30.0, function="f"):
    return server.count(program, function, list(inputs), timeout=timeout, each=each)


def honest_total(server, n=3000):
    counted = count(server, WORK, [(n,)])
    assert counted.ok and counted.total > 100_000
    return counted.total


# ------------------------------------------------------------------ exact and repeatable


def test_the_call_alone_is_counted_and_work_is_linear(server):
    c0, c1, c2, c4 = count(server, WORK, [(0,), (1000,), (2000,), (4000,)], each=True).counts
    assert c0 < 2000  # an empty loop: set-up and return
    per_1000 = c2 - c1
    assert per_1000 > 50_000
    assert c4 - c2 == pytest.approx(2 * per_1000, rel=0.01)
    empty = count(server, "def f(n):\n    return None\n", [(5,), (6,)], each=True)
    assert empty.counts == (0, 0)  # exactly the calibration: nothing of the regions' own cost is left


def test_a_job_larger_than_a_pipe_reaches_the_child_whole_and_counts_the_same_each_time(server):
    """A job is one frame of raw bytes, read in many chunks (a pipe gives 64 KiB at a time); ENAMEL's
    level-3 inputs run to megabytes. The child must see every byte (its results are checked), and the
    count must not depend on how the reads were split."""
    program = "def f(s, t):\n    return s.count('b') + len(t)\n"
    inputs = [("a" * 3_000_000 + "b" * 7, list(range(200_000))), ("b" * 70_000, [])]
    expected = {0: 200_007, 1: 70_000}
    first = server.count(program, "f", inputs, timeout=60.0, each=True)
    again = server.count(program, "f", inputs, timeout=60.0, each=True)
    assert first.ok and first.counts == again.counts
    checked = server.count(program, "f", inputs, timeout=60.0, expected=expected)  # all mode checks what the calls returned
    assert checked.ok and checked.total == pytest.approx(sum(first.counts), abs=100)  # the checked forms are another heap: a few instructions
    wrong = server.count(program, "f", inputs, timeout=60.0, expected={0: 200_006, 1: 70_000})
    assert wrong.statuses == ("wrong", "wrong")  # so a byte lost on the way would show


def test_all_mode_total_is_the_sum_of_the_each_mode_counts(server):
    inputs = [(10,), (500,), (2000,)]
    each = count(server, WORK, inputs, each=True)
    together = count(server, WORK, inputs)
    assert together.total == sum(each.counts)


def test_counts_do_not_depend_on_the_jobs_before_or_the_server(server):
    first = honest_total(server)
    count(server, "import json\nX = [json.dumps(i) for i in range(5000)]\n" + WORK, [(10,)])  # a heavy job in between
    assert honest_total(server) == first
    fresh = CountingServer()  # cold: a new valgrind, a new warm-up
    try:
        assert honest_total(fresh) == first
    finally:
        fresh.close()


ALLOCATES = "def f(n):\n    out = []\n    for i in range(n):\n        out.append((i, str(i), [i] * (i % 5)))\n    return len(out)\n"


def test_counts_do_not_move_as_a_server_ages():
    """A server's 250th job counts as its first: in the sandbox's pid namespace the first children's pids were
    small-int objects and later ones allocated ints, which moved counts by hundreds of instructions (ENAMEL rows)."""
    fresh = CountingServer()
    try:
        first = count(fresh, ALLOCATES, [(50,), (400,), (3000,)], each=True)
        for _ in range(260):
            count(fresh, "def f():\n    return None\n", [()], function="f")
        assert count(fresh, ALLOCATES, [(50,), (400,), (3000,)], each=True).counts == first.counts
    finally:
        fresh.close()


def test_the_disk_cache_is_keyed_by_the_job(tmp_path):
    cache = CountCache(tmp_path / "counts.sqlite")
    key = CountCache.key("fp", WORK, "f", [(1,)], False)
    assert key != CountCache.key("fp", WORK, "f", [(2,)], False) != CountCache.key("other", WORK, "f", [(1,)], False)
    cache.put(key, Counted(("ok",), None, 1234))
    assert CountCache(tmp_path / "counts.sqlite").get(key) == Counted(("ok",), None, 1234)
    timeout_key = CountCache.key("fp", WORK, "f", [(3,)], False)
    cache.put(timeout_key, Counted(("timeout",)))
    assert cache.get(timeout_key) is None  # depends on the machine: never cached


def test_the_count_cache_follows_its_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_COUNT_CACHE", "off")
    assert CountCache.default() is False
    monkeypatch.setenv("ASSAY_COUNT_CACHE", str(tmp_path / "elsewhere.sqlite"))
    assert CountCache.default().path == tmp_path / "elsewhere.sqlite"


# ------------------------------------------------------------------ failures, each in its place


def test_failures_are_statuses_not_counts(server):
    raising = count(server, "def f(n):\n    raise ValueError(n)\n", [(1,), (2,)], each=True)
    assert raising.statuses == ("error", "error") and raising.counts == (None, None)
    spinning = count(server, "def f(n):\n    while True:\n        pass\n", [(1,), (2,)], timeout=3.0)
    assert spinning.statuses == ("timeout", "not_run") and spinning.total is None
    leaving = count(server, "import os\ndef f(n):\n    os._exit(0)\n", [(1,)])
    assert leaving.statuses == ("crash",) and leaving.total is None
    assert count(server, "def f(:\n", [(1,)]).statuses == ("error",)
    assert count(server, "def g(n):\n    return n\n", [(1,)]).statuses == ("error",)
    assert server.alive


def test_a_forged_dump_from_the_pipe_is_refused():
    raw = RawJob("ended", [("all k", 5), ("all k", 5)])
    assert interpret(raw, 1, False).statuses == ("crash",)
    assert interpret(RawJob("ended", [("0 k", 5), ("2 k", 7)]), 3, True).statuses == ("crash",) * 3


# ------------------------------------------------------------------ red team: a candidate that wants a smaller count


@pytest.mark.parametrize(
    "attack",
    [
        # a profile hook that would make an empty baseline look expensive (the old harness's weakness)
        "import sys\ndef _burn(frame, event, arg):\n    pass\nsys.setprofile(_burn)\n",
        "import ctypes\n",
        "import mmap\n",
        "import signal\n",
        "import gc\ngc.get_objects()\n",
        "import sys\nsys._getframe(1)\n",
        "try:\n    raise ValueError\nexcept ValueError as e:\n    e.__traceback__.tb_frame\n",
    ],
    ids=["profile-hook", "ctypes", "mmap", "signal", "heap-walk", "getframe", "traceback-frame"],
)
def test_native_code_hooks_and_frames_are_refused(server, attack):
    counted = count(server, attack + WORK)
    assert counted.statuses == ("error",) and counted.total is None


def test_the_standard_librarys_own_frame_lookups_still_work(server):
    # namedtuple, TypeVar and Enum look their caller up with sys._getframe and fall back when it fails
    program = "from collections import namedtuple\nfrom typing import TypeVar\nimport enum\nP = namedtuple('P', 'x y')\nT = TypeVar('T')\n"
    program += "Colour = enum.Enum('Colour', 'RED GREEN')\ndef f(n):\n    Q = namedtuple('Q', 'a')\n    return P(n, Q(n)), Colour.RED\n"
    assert count(server, program).ok


def test_a_hook_added_by_the_candidate_never_runs(server):
    attack = "import sys, os\nsys.addaudithook(lambda event, args: os._exit(3))\n"
    counted = count(server, attack + WORK)
    assert counted.ok and counted.total > 0.9 * honest_total(server)  # the hook would have ended the process


def test_printing_a_fake_dump_changes_nothing(server):
    forged = "print('desc: Trigger: Client Request: assay 0 all k')\nprint('totals: 1')\nimport sys\nsys.stderr.write('totals: 1\\n')\n"
    body = WORK.replace("    return s", "    print('desc: Trigger: Client Request: assay x all k\\ntotals: 1')\n    return s")
    counted = count(server, forged + body)
    assert counted.ok and counted.total > 0.9 * honest_total(server)


def test_valgrinds_pipe_cannot_be_reached_or_written(server):
    attack = (
        "import os\n"
        "REACHED = []\n"
        "for fd in list(range(3, 64)) + list(range(1000, 1100)):\n"
        "    for path in ('/proc/self/fd/%d' % fd, '/dev/fd/%d' % fd):\n"
        "        try:\n"
        "            REACHED.append(os.open(path, os.O_WRONLY))\n"
        "        except OSError:\n"
        "            pass\n"
        "    try:\n"
        "        os.write(fd, b'desc: Trigger: Client Request: assay x all k\\ntotals: 1\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "assert not REACHED\n"
    )
    counted = count(server, attack + WORK)
    assert counted.ok, counted  # every attempt failed, and the program still loaded and ran
    assert counted.total > 0.9 * honest_total(server)


def test_the_servers_switches_are_out_of_reach(server):
    # __main__ is the candidate's own module: the server's functions are not there
    direct = "import __main__\ndef f(n):\n    __main__.region_off()\n    s = sum(range(n * 100))\n    __main__.region_on()\n    return s\n"
    assert count(server, direct).statuses == ("error",)
    assert count(server, "import __main__\nf = __main__.dump\n").statuses == ("error",)
    # nor through a frame: f_back of the call's frame is the server's
    walk = "import sys\ndef f(n):\n    return sys._getframe(1).f_globals['region_off']\n"
    assert count(server, walk).statuses == ("error",)
    generator = "def f(n):\n    g = (i for i in range(3))\n    return g.gi_frame.f_back\n"
    assert count(server, generator).statuses == ("error",)
    assert server.alive


@pytest.mark.parametrize(
    "body",
    [
        "    import threading\n    t = threading.Thread(target=sum, args=(range(10 ** 6),))\n    t.start()\n    t.join()\n",
        "    import os\n    if os.fork() == 0:\n        os._exit(0)\n",
        "    import subprocess\n    subprocess.run(['true'])\n",
        "    import os\n    os.kill(os.getppid(), 9)\n",
        "    import socket\n    socket.socket()\n",
        "    open('/proc/self/mem', 'rb')\n",
    ],
    ids=["thread", "fork", "subprocess", "kill-parent", "socket", "proc-mem"],
)
def test_work_cannot_leave_the_counted_process(server, body):
    counted = count(server, "def f(n):\n" + body + "    return n\n")
    assert counted.statuses == ("error",), counted
    assert server.alive


def test_a_memory_bomb_and_endless_output_are_contained(server):
    assert count(server, "def f(n):\n    return bytearray(100 * 2 ** 30)\n").statuses == ("memory",)
    printing = count(server, "def f(n):\n    while True:\n        print('x' * 1000)\n", timeout=3.0)
    assert printing.statuses == ("timeout",)
    assert server.alive and honest_total(server) > 0


def test_the_server_script_stays_standalone():
    from assay.measure.counting import SERVER_PATH

    text = SERVER_PATH.read_text()
    assert "import assay" not in text and "from assay" not in text
    assert os.access(SERVER_PATH, os.R_OK)


# ------------------------------------------------------------------ what the program returns while counted


def test_a_program_that_notices_the_meter_and_skips_work_gets_no_count(server):
    # correct when judged natively; under the meter `import signal` fails, and it returns at once
    sly = "def f(n):\n    try:\n        import signal\n    except Exception:\n        return 0\n" + "    return sum(range(1000, 1000 + n))\n"
    honest = count(server, WORK, [(3000,)])
    expected = {0: sum(range(1000, 4000))}
    assert server.count(WORK, "f", [(3000,)], timeout=30.0, expected=expected).total == honest.total
    caught = server.count(sly, "f", [(3000,)], timeout=30.0, expected=expected)
    assert caught.statuses == ("wrong",) and caught.total is None


def test_result_forms_follow_pythons_equality_on_plain_data():
    from assay.measure.result_form import digest, form

    assert form(True) == form(1) == form(1.0) and form(0.5) != form(1)
    assert form([1, 2]) != form((1, 2)) and form({1, 2}) == form(frozenset({2, 1}))
    assert form({"b": 1, "a": [2]}) == form({"a": [2.0], "b": True})

    class Lazy(list):
        pass

    assert form(Lazy([1])) != form([1])  # not a builtin type: it could compute what it holds after the count
    assert digest([1, "x"]) == digest([1.0, "x"]) != digest(["x", 1])


# ------------------------------------------------------------------ the server's own failures


def test_a_server_killed_mid_job_is_replaced_and_the_job_counted_again():
    import threading

    from assay.measure.counting import CountingPool

    pool = CountingPool(1)
    try:
        honest = pool.count(WORK, "f", [(3000,)], timeout=30.0)
        server = pool._all[0]
        slow = WORK.replace("def f(n):", "def f(n):\n    sum(range(3 * 10 ** 6))")
        threading.Timer(1.0, lambda: os.killpg(server._process.pid, 9)).start()
        counted = pool.count(slow, "f", [(3000,)], timeout=60.0)  # the first server dies under it; a new one counts it
        assert counted.ok and not server.alive and pool._all and pool._all[0] is not server
        assert pool.count(WORK, "f", [(3000,)], timeout=30.0).total == honest.total  # the new server counts the same
    finally:
        pool.close()


def test_a_server_that_died_is_an_infrastructure_error_not_a_status(server):
    from assay.measure.counting import CountingError

    lonely = CountingServer()
    lonely.close()
    with pytest.raises(CountingError, match="not running"):
        lonely.count(WORK, "f", [(1,)], timeout=30.0)


# ------------------------------------------------------------------ budgets: a call is stopped once it is past what its caller can use

SPIN = "def f(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n"


def test_a_call_over_its_budget_is_stopped_and_the_calls_after_it_are_not_run(server):
    small = count(server, SPIN, [(2000,), (10**5,), (2000,)], each=True).counts[0]  # a job of the same shape: the same heap
    # 10**9 iterations take minutes under callgrind: only the budget's kill ends it before the 60 s limit
    counted = server.count(SPIN, "f", [(2000,), (10**9,), (2000,)], timeout=60.0, each=True, budget=50 * small)
    assert counted.statuses == ("ok", "over_budget", "not_run")
    assert counted.counts == (small, None, None)
    assert server.alive


def test_the_budget_decides_from_the_count_not_from_when_the_kill_lands(server):
    exact = count(server, SPIN, [(2000,), (4000,), (2000,)], each=True).counts
    # the second call is over budget but ends long before any partial dump: the rule, not the kill, says so
    counted = server.count(SPIN, "f", [(2000,), (4000,), (2000,)], timeout=60.0, each=True, budget=(exact[0] + exact[1]) // 2)
    assert counted.statuses == ("ok", "over_budget", "not_run") and counted.counts == (exact[0], None, None)
    enough = server.count(SPIN, "f", [(2000,), (4000,), (2000,)], timeout=60.0, each=True, budget=exact[1])
    assert enough.ok and enough.counts == exact  # a budget met exactly is not exceeded
    total = count(server, SPIN, [(2000,), (4000,)]).total
    together = server.count(SPIN, "f", [(2000,), (4000,)], timeout=60.0, budget=total - 1)
    assert together.statuses == ("over_budget", "over_budget") and together.total is None
    assert server.count(SPIN, "f", [(2000,), (4000,)], timeout=60.0, budget=total).total == total


def test_partial_dumps_add_up_and_a_killed_job_leaves_nothing_behind(server):
    long = [(3 * 10**6,)]  # spans several periodic dumps
    before = server.periodic_dumps
    first = count(server, SPIN, long, each=True, timeout=120.0).counts[0]
    assert server.periodic_dumps > before  # the count was carried by partial dumps and the final one
    server.count(SPIN, "f", [(10**9,)], timeout=60.0, each=True, budget=first)  # killed mid-call, partial dumps pending
    assert count(server, SPIN, long, each=True, timeout=120.0).counts[0] == first
    assert honest_total(server) == honest_total(server)



def test_a_server_that_died_while_idle_is_replaced_before_the_next_job():
    from assay.measure.counting import CountingPool

    pool = CountingPool(2)
    try:
        first = pool.count(WORK, "f", [(3000,)], timeout=30.0)
        both = [pool._lease(), pool._lease()]  # two warm servers, both idle
        for server in both:
            pool._give_back(server)
        assert len(pool._all) == 2
        for server in list(pool._all):
            os.killpg(server._process.pid, 9)  # both idle servers die between jobs
            server._process.wait(timeout=30)
        again = pool.count(WORK, "f", [(3000,)], timeout=30.0)
        assert again.total == first.total and all(s.alive for s in pool._all)
    finally:
        pool.close()


def test_a_server_started_on_a_short_lived_thread_outlives_that_thread():
    """bwrap's --die-with-parent (PR_SET_PDEATHSIG) fires when the *thread* that started a process ends.

    Counting servers are started lazily by whichever thread counts first: a
    pool thread of the efficiency stage, a request thread of ``assay serve``.
    Started on such a thread, a server died with it, and the next job found
    it dead (it cost a cold start, or an infrastructure error once both of a
    pool's idle servers were gone).
    """
    started: list[CountingServer] = []
    thread = threading.Thread(target=lambda: started.append(CountingServer()))
    thread.start()
    thread.join()
    server = started[0]
    try:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and server.alive:  # the death signal, if any, comes as the thread ends
            time.sleep(0.1)
        assert server.alive, "the counting server died with the thread that started it"
        assert server.count(WORK, "f", [(3000,)], timeout=30.0).total is not None
    finally:
        server.close()


def test_the_first_calls_of_a_job_count_the_same_whatever_else_it_would_run():
    """A count moves by a few instructions with what its job holds (the heap its inputs leave).

    ENAMEL's native screen stops a sample's levels at a point that depends on
    timing; the levels it passes are counted with ``count_first`` inside a job
    that still holds every level's inputs, so their counts do not move with
    the screen. (Measured here: a job of the first three inputs alone counts
    them 79-201 instructions differently, which is what this test would see
    if ``count_first`` sliced the inputs.)
    """
    program = "def f(xs):\n    return sorted(xs, key=str)\n"
    inputs = [([(i, i) for i in range(n)],) for n in (5, 6, 7)] + [([(i, str(i)) for i in range(500)],) for _ in range(3)]
    server = CountingServer()
    try:
        whole = server.count(program, "f", inputs, timeout=60.0, each=True)
        first = server.count(program, "f", inputs, timeout=60.0, each=True, count_first=3)
        assert whole.ok
        assert first.statuses == ("ok",) * 3 + ("not_run",) * 3
        assert first.counts == whole.counts[:3] + (None,) * 3
        with pytest.raises(ValueError):
            server.count(program, "f", inputs, timeout=60.0, count_first=3)  # all mode counts the job as one
    finally:
        server.close()
