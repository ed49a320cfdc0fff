"""``assay eval --ray`` on a real two-node Ray cluster started on this machine.

Two ``ray start`` node processes (one CPU each, a port and temp dir of their
own, token authentication as the installed Ray has it) form the cluster; the
driver is the real ``assay eval`` command. One test kills the second node
mid-run (every process of it, SIGKILL, as a lost machine) and checks that the
run ends with the same verdicts as a local run, nothing lost and no
infrastructure error; the other kills the driver itself mid-run and checks
that ``--resume`` on the cluster finishes the run from the store.

Each sample sleeps 0.15 s (wall time, no CPU, so no verdict depends on load)
so that a run lasts long enough to be cut in the middle.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from assay.problems import load_benchmark  # noqa: E402
from assay.scale import LocalCluster  # noqa: E402

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parent.parent
MIXED = ROOT / "bench" / "data" / "humaneval_mixed.jsonl"
ASSAY = str(Path(sys.executable).with_name("assay"))
N = 36
SLEEP = "import time as _assay_test_time\n_assay_test_time.sleep(0.15)\n"


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    """HumanEval canonical solutions and near-miss mutants (whole programs), each sleeping a little at load."""
    prompts = {p.task_id: p.prompt for p in load_benchmark("humaneval")}
    path = tmp_path_factory.mktemp("ray") / "samples.jsonl"
    with open(MIXED, encoding="utf-8") as source, open(path, "w", encoding="utf-8") as out:
        for line in list(source)[:N]:
            row = json.loads(line)
            program = row.get("solution") or prompts[row["task_id"]] + row["completion"]
            out.write(json.dumps({"task_id": row["task_id"], "solution": SLEEP + program}) + "\n")
    return path


@pytest.fixture(scope="module")
def local_verdicts(samples, tmp_path_factory) -> list[tuple]:
    out = tmp_path_factory.mktemp("local")
    done = subprocess.run([ASSAY, "eval", "--benchmark", "humaneval", "--samples", str(samples), "--k", "1", "--workers", "2",
                           "--store", str(out / "store.sqlite"), "--results", str(out / "results.jsonl")], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return verdicts(out / "results.jsonl")


@pytest.fixture(scope="module")
def cluster():
    if not Path(sys.executable).with_name("ray").exists():
        pytest.skip("no `ray` command next to this Python")
    with LocalCluster(nodes=2, cpus_per_node=1) as running:
        yield running


def verdicts(path: Path) -> list[tuple]:
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    return [(r["task_id"], r["index"], r["passed"], r["status"], tuple(t["status"] for t in r["tests"])) for r in rows]


def stored(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect("file:%s?mode=ro" % store, uri=True, timeout=5) as db:
            return int(db.execute("SELECT count(*) FROM results WHERE status != 'infra_error'").fetchone()[0])
    except sqlite3.Error:
        return 0


def start_eval(cluster: LocalCluster, samples: Path, out: Path, *extra: str) -> subprocess.Popen:
    argv = [ASSAY, "eval", "--benchmark", "humaneval", "--samples", str(samples), "--k", "1", "--ray", cluster.address,
            "--store", str(out / "store.sqlite"), "--results", str(out / "results.jsonl"), *extra]  # fmt: skip
    return subprocess.Popen(argv, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_stored(store: Path, process: subprocess.Popen, at_least: int, timeout: float = 240) -> int:
    deadline = time.monotonic() + timeout
    while (count := stored(store)) < at_least:
        assert process.poll() is None, "the run ended before it could be cut: %s" % process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no results stored in time"
        time.sleep(0.05)
    return count


def test_solve_judges_on_the_cluster(cluster, tmp_path):
    """``assay solve --ray``: the (scripted, in-process) model answers on the driver, the hidden tests judge on the cluster."""
    problems = load_benchmark("humaneval")[:6]
    script = tmp_path / "replies.jsonl"
    with open(script, "w", encoding="utf-8") as out:
        for i, p in enumerate(problems):  # half right, half wrong
            program = p.reference if i % 2 == 0 else p.prompt + "    return None\n"
            out.write(json.dumps({"text": "```python\n%s```" % program, "match": p.entry_point}) + "\n")
    results = {}
    for where in ("local", "ray"):
        argv = [ASSAY, "solve", "--benchmark", "humaneval", "--model", "scripted:%s" % script, "--limit", "6", "--workers", "1",
                "--store", str(tmp_path / ("%s.sqlite" % where)), "--results", str(tmp_path / ("%s.jsonl" % where))]  # fmt: skip
        if where == "ray":
            argv += ["--ray", cluster.address]
        done = subprocess.run(argv, env={**cluster.env, "ASSAY_CACHE_DIR": str(tmp_path / where)}, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-4000:]
        results[where] = verdicts(tmp_path / ("%s.jsonl" % where))
    assert "Ray: judged" in done.stderr and "2 actors on 2 nodes" in done.stderr
    assert results["ray"] == results["local"]
    assert [v[2] for v in results["ray"]] == [True, False] * 3


def test_serve_scores_on_the_cluster(cluster):
    """``assay serve --ray``: rewards scored by actors on the cluster's nodes."""
    import httpx

    problems = load_benchmark("humaneval")[:6]
    server = subprocess.Popen([ASSAY, "serve", "--port", "0", "--ray", cluster.address], env=cluster.env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        url = None
        for line in server.stderr:
            if "listening on" in line:
                url = line.split("listening on ")[1].split()[0]
                break
        assert url, "assay serve --ray did not start"
        items = [{"task_id": p.task_id, "completion": p.reference[len(p.prompt) :] if i % 2 == 0 else "    return None\n", "id": i} for i, p in enumerate(problems)]
        answer = httpx.post(url + "/v1/rewards", json={"kind": "correctness", "benchmark": "humaneval", "items": items}, timeout=120).json()
        assert answer["rewards"] == [1.0, 0.0] * 3 and answer["infra_errors"] == 0
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def test_a_lost_node_loses_nothing(cluster, samples, local_verdicts, tmp_path):
    run = start_eval(cluster, samples, tmp_path)
    at_kill = wait_stored(tmp_path / "store.sqlite", run, 8)
    cluster.kill_node(1)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err[-4000:]
    assert "2 actors on 2 nodes" in err  # it started on both nodes
    assert at_kill < N
    # the kill hit work in flight on the lost node, and that work was judged again elsewhere
    lost, again = re.search(r"(\d+) actors? lost", err), re.search(r"(\d+) chunks? sent again", err)
    assert lost and again and int(lost[1]) >= 1 and int(again[1]) >= 1, err[-3000:]  # (a replacement placed on the dead node counts as lost too)
    got = verdicts(tmp_path / "results.jsonl")
    assert len(got) == N and not any(v[3] == "infra_error" for v in got)
    assert got == local_verdicts
    assert stored(tmp_path / "store.sqlite") == N
    assert 0 < sum(v[2] for v in got) < N  # canonical solutions pass, mutants fail


def test_a_killed_driver_resumes_on_the_cluster(cluster, samples, local_verdicts, tmp_path):
    run = start_eval(cluster, samples, tmp_path)
    wait_stored(tmp_path / "store.sqlite", run, 8)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=60)
    before = stored(tmp_path / "store.sqlite")
    assert 8 <= before < N
    resumed = start_eval(cluster, samples, tmp_path, "--resume")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-4000:]
    assert "%d reused from the store" % before in out
    assert verdicts(tmp_path / "results.jsonl") == local_verdicts
