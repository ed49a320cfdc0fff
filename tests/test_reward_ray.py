"""The reward batch on Ray actors: a real local Ray (2 CPUs), real sandboxes in the actors."""

from __future__ import annotations

import threading
import time

import pytest

ray = pytest.importorskip("ray")

from assay.reward import RewardItem, RewardScorer, RewardSpec  # noqa: E402
from assay.reward.ray_pool import RayRewardPool, RewardPoolError  # noqa: E402
from assay.reward.resolve import benchmark_problems, problem_from_tests  # noqa: E402

SLOW = "def f(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n"


@pytest.fixture(scope="module")
def pool(local_ray):
    with RayRewardPool(num_actors=2, workers_per_actor=1, num_cpus_per_actor=0.5, chunk_size=4) as p:
        p.wait_ready()
        yield p


def humaneval_items() -> list[RewardItem]:
    problems = list(benchmark_problems("humaneval").values())[:12]
    items = []
    for i, p in enumerate(problems):
        body = p.reference[len(p.prompt):]
        items.append(RewardItem(p, completion=body, id=f"ok{i}"))
        items.append(RewardItem(p, completion="    return None\n", id=f"bad{i}"))
    items.append(RewardItem(problems[0], completion="no code at all, sorry.", id="none"))
    return items


def test_ray_batch_equals_in_process_batch(pool, sandbox):
    items = humaneval_items()
    for kind in ("correctness", "fraction"):
        spec = RewardSpec(kind=kind)
        on_ray = pool.score_batch(items, spec)
        local = RewardScorer(sandbox).score_batch(items, spec)
        assert [r.id for r in on_ray] == [i.id for i in items]
        assert [(r.value, r.status, r.tests_passed) for r in on_ray] == [(r.value, r.status, r.tests_passed) for r in local]
    assert on_ray[0].value == 1.0 and on_ray[-1].value == -0.2


def test_actor_killed_mid_batch_is_retried_on_another(pool):
    # about 0.1 s of CPU per item, 16 items on 2 actors: the batch takes ~1 s, the kill comes
    # as soon as the victim has started on its first chunk
    problem = problem_from_tests([{"args": [2_000_000], "expected": sum(range(2_000_000))}], "f")
    items = [RewardItem(problem, solution=SLOW, id=i) for i in range(16)]
    victim = pool.slots[0]
    before = pool.replacements

    def kill():
        deadline = time.monotonic() + 30
        while victim.inflight == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.15)
        ray.kill(victim.handle, no_restart=True)

    thread = threading.Thread(target=kill)
    thread.start()
    rewards = pool.score_batch(items, timeout=120)
    thread.join()
    assert [r.id for r in rewards] == list(range(16))
    assert [r.value for r in rewards] == [1.0] * 16
    assert not victim.alive and pool.replacements == before + 1
    assert len(pool.actors) == 2
    assert pool.score_batch(items[:2]) and True


def test_no_live_actor_fails_loudly(local_ray):
    problem = problem_from_tests([{"args": [1], "expected": 1}], "f")
    with RayRewardPool(num_actors=1, num_cpus_per_actor=0, replace_dead=False) as lonely:
        lonely.wait_ready()
        ray.kill(lonely.slots[0].handle, no_restart=True)
        with pytest.raises(RewardPoolError):
            lonely.score_batch([RewardItem(problem, solution="def f(x):\n    return x\n")], timeout=60)


def test_serve_on_ray_equals_serve_in_process(pool, sandbox):
    """``assay serve --ray``: the service over RayScorer answers what it answers over a local sandbox; a lost actor costs nothing."""
    import httpx

    from assay.reward.ray_pool import RayScorer
    from assay.reward.server import ServerConfig, serve_in_thread

    scorer = RayScorer(pool)
    body = {"kind": "fraction", "benchmark": "humaneval", "items": []}
    for i, item in enumerate(humaneval_items()[:10]):
        body["items"].append({"task_id": item.problem.task_id, "completion": item.completion, "id": i})
    run_body = {"tests": [{"args": [3], "expected": 4}, {"args": [5], "expected": 7}], "entry_point": "f", "program": "def f(x):\n    return x + 1\n"}
    answers, infra = {}, {}
    for name, server_scorer in (("ray", scorer), ("local", RewardScorer(sandbox))):
        with serve_in_thread(ServerConfig(port=0), server_scorer) as server:
            rewards = httpx.post(server.url + "/v1/rewards", json=body, timeout=120).json()
            run = httpx.post(server.url + "/v1/run", json=run_body, timeout=120).json()
            answers[name] = ([(r["id"], r["reward"], r["status"]) for r in rewards["results"]], [t["status"] for t in run["tests"]])
            infra[name] = [(r["id"], r.get("reason")) for r in rewards["results"] if r["reward"] is None]
    assert answers["ray"] == answers["local"], "infrastructure errors (the reason, once seen only in CI): %s" % infra
    assert answers["ray"][1] == ["pass", "fail"]
    assert {r[1] for r in answers["ray"][0]} == {0.0, 1.0}

    before = pool.replacements
    victim = min((s for s in pool.slots if s.alive), key=lambda s: (s.inflight, s.index))  # the one the next item goes to
    ray.kill(victim.handle, no_restart=True)
    again = scorer.score(humaneval_items()[0], RewardSpec(kind="correctness"))
    assert again.value == 1.0 and pool.replacements == before + 1
