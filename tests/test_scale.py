"""RayJudge on a local Ray (2 CPUs, real sandboxes in the actors): streaming, lost actors, infrastructure failures.

The two-node cluster, the CLI and a lost node are tests/test_ray_cluster.py's.
"""

from __future__ import annotations

import threading
import time

import pytest

ray = pytest.importorskip("ray")

from assay.reward.resolve import problem_from_tests  # noqa: E402
from assay.sandbox.verdict import Status  # noqa: E402
from assay.scale import RayJudge, RayJudgeError  # noqa: E402

SLOW = "def f(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n"
WRONG = "def f(n):\n    return -1\n"


def slow_items(n: int) -> list:
    """About 0.1 s of CPU each; every third one wrong."""
    problem = problem_from_tests([{"args": [2_000_000], "expected": sum(range(2_000_000))}], "f")
    return [(problem, WRONG if i % 3 == 2 else SLOW) for i in range(n)]


def kill_when_busy(judge: RayJudge, slot_index: int = 0) -> threading.Thread:
    victim = judge.slots[slot_index]

    def kill() -> None:
        deadline = time.monotonic() + 60
        while victim.inflight == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.1)
        ray.kill(victim.handle, no_restart=True)

    thread = threading.Thread(target=kill)
    thread.start()
    return thread


def test_results_stream_out_while_the_input_is_still_coming(local_ray, sandbox):
    problem = problem_from_tests([{"args": [3], "expected": 3}, {"args": [4], "expected": 6}], "f")
    first_result = threading.Event()
    waited = []

    def items():
        for i in range(6):
            if i == 3:  # a model still writing: the rest comes only once something has been judged
                waited.append(first_result.wait(timeout=60))
            yield problem, SLOW if i % 2 == 0 else WRONG

    with RayJudge(actors=2, workers=1, chunk_size=8) as judge:
        results = {}
        for position, result in judge.run_many(items()):
            first_result.set()
            results[position] = result
    assert waited == [True]  # a partial chunk went out to an idle actor; it did not wait for 8 items
    local = dict(sandbox.run_many(list(items_plain(problem))))
    assert sorted(results) == list(range(6))
    assert [results[i].passed for i in range(6)] == [local[i].passed for i in range(6)] == [True, False] * 3


def items_plain(problem):
    return [(problem, SLOW if i % 2 == 0 else WRONG) for i in range(6)]


def test_a_lost_actor_s_chunks_are_judged_again_elsewhere(local_ray):
    items = slow_items(16)
    with RayJudge(actors=2, workers=1, chunk_size=2) as judge:
        killer = kill_when_busy(judge)
        results = dict(judge.run_many(items))
        killer.join()
        assert len(judge.lost) == 1 and judge.retried_chunks >= 1
        assert "1 actor lost" in judge.summary()
    assert sorted(results) == list(range(16))
    assert [results[i].passed for i in range(16)] == [i % 3 != 2 for i in range(16)]
    assert not any(r.is_infra_error for r in results.values())


def test_a_chunk_lost_too_often_is_an_infrastructure_error_never_a_failure(local_ray):
    items = slow_items(12)
    with RayJudge(actors=2, workers=1, chunk_size=2, max_retries=0, max_replacements=0) as judge:
        killer = kill_when_busy(judge)
        results = dict(judge.run_many(items))
        killer.join()
    assert sorted(results) == list(range(12))
    lost = [i for i, r in results.items() if r.is_infra_error]
    assert lost, "the killed actor's chunk in flight should come back as infra_error"
    for i in lost:
        assert results[i].status is Status.INFRA_ERROR and "not the candidate's fault" in results[i].infra_message
        assert all(t.status is Status.INFRA_ERROR for t in results[i].tests)
    for i, r in results.items():  # the rest judged as they are
        if i not in lost:
            assert r.passed == (i % 3 != 2)


def test_no_live_actor_left_stops_the_run_loudly(local_ray):
    with RayJudge(actors=1, workers=1, chunk_size=2, max_replacements=0) as judge:
        killer = kill_when_busy(judge)
        with pytest.raises(RayJudgeError, match="no live judging actor"):
            for _ in judge.run_many(slow_items(10)):
                pass
        killer.join()


def test_an_address_where_nothing_listens_fails_at_once(tmp_path):
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assay = str(Path(sys.executable).with_name("assay"))
    samples = tmp_path / "s.jsonl"
    samples.write_text('{"task_id": "HumanEval/0", "completion": "    return False\\n"}\n')
    done = subprocess.run([assay, "eval", "--benchmark", "humaneval", "--samples", str(samples), "--store", str(tmp_path / "s.sqlite"), "--ray", "127.0.0.1:%d" % port],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1
    assert "nothing answers at" in done.stderr and "Traceback" not in done.stderr
