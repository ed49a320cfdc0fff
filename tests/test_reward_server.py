"""The reward service over real HTTP on 127.0.0.1 (ephemeral ports).

Most tests run the server on a background thread over the session's
sandbox; shutdown and the load test run ``assay serve`` as a separate
process (``python -m assay.reward.cli``) so signals and memory are its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from assay.measure.valgrind import find_valgrind

pytest.importorskip("aiohttp")
pytest.importorskip("prometheus_client")

from assay.reward.resolve import benchmark_problem  # noqa: E402
from assay.reward.scoring import RewardScorer  # noqa: E402
from assay.reward.server import ServerConfig, serve_in_thread  # noqa: E402
from assay.sandbox.worker import InfraError  # noqa: E402

HE0 = "HumanEval/0"
HANG = "def f(x):\n    while True:\n        pass\n"
ADD_PROBLEM = {
    "task_id": "demo/add",
    "prompt": "def add(a, b):\n",
    "entry_point": "add",
    "reference": "def add(a, b):\n    return a + b\n",
    "tests": [{"args": [1, 2], "expected": 3}, {"args": [2, 2], "expected": 4}],
}
HANG_PROBLEM = {"task_id": "hang", "prompt": "", "entry_point": "f", "tests": [{"args": [1], "expected": 1}]}


@pytest.fixture(scope="module")
def he0_body():
    problem = benchmark_problem("humaneval", HE0)
    return problem.reference[len(problem.prompt):]


@pytest.fixture
def server_factory(sandbox):
    servers = []

    def make(**config):
        config.setdefault("port", 0)
        server = serve_in_thread(ServerConfig(**config), RewardScorer(sandbox))
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
        server.service.scorer.close()


@pytest.fixture
def server(server_factory):
    return server_factory()


def client(server, **kwargs) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=60, **kwargs)


# ------------------------------------------------------------ functionality


def test_batch_answers_in_input_order_with_details(server, he0_body):
    items = [
        {"id": "a", "task_id": HE0, "completion": he0_body},
        {"id": "b", "task_id": HE0, "completion": "    return True\n"},
        {"id": "c", "task_id": "demo/add", "solution": "def add(a, b):\n    return a + b\n"},
        {"id": "d", "task_id": HE0, "completion": "I cannot answer that."},
        {"id": "e", "problem": ADD_PROBLEM, "completion": "```python\ndef add(a, b):\n    return a - b\n```"},
        {"id": "f", "task_id": "demo/add", "completion": "```python\ndef add(a, b):\n    return b + a\n```"},
    ]
    with client(server) as c:
        r = c.post("/v1/rewards", json={"benchmark": "humaneval", "problems": [ADD_PROBLEM], "kind": "correctness", "items": items})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["rewards"] == [1.0, 0.0, 1.0, -0.2, 0.0, 1.0]
        assert [x["id"] for x in body["results"]] == list("abcdef")
        assert [x["task_id"] for x in body["results"]] == [HE0, HE0, "demo/add", HE0, "demo/add", "demo/add"]
        assert body["results"][1]["status"] == "fail" and body["results"][1]["tests"][0]["status"] in ("pass", "fail")
        assert body["results"][3]["status"] == "no_code" and body["results"][3]["reason"]
        assert body["infra_errors"] == 0
        r = c.post("/v1/rewards", json={"benchmark": "humaneval", "kind": "fraction", "details": False, "items": items[:2]})
        assert r.json()["rewards"][0] == 1.0 and 0 < r.json()["rewards"][1] < 1
        assert "tests" not in r.json()["results"][0]
        r = c.post("/v1/rewards", json={"benchmark": "humaneval", "kind": "efficiency", "items": items[:2]})
        if find_valgrind() is None:  # the default meter needs valgrind; the answer says so, it is not a zero
            assert r.json()["rewards"][0] is None and "valgrind" in r.json()["results"][0]["reason"]
            r = c.post("/v1/rewards", json={"benchmark": "humaneval", "kind": "efficiency", "params": {"meter": "cpu-time"}, "items": items[:2]})
        meter = "instructions" if find_valgrind() else "cpu-time"
        assert r.json()["meter"] == meter and r.json()["results"][0].get("cost", {}).get("meter") == meter, r.json()["results"][0]
        assert 0.5 <= r.json()["rewards"][0] <= 1.0 and r.json()["rewards"][1] == 0.0


def test_run_endpoint(server):
    with client(server) as c:
        r = c.post("/v1/run", json={"program": "def f(x):\n    return 2 * x\n", "entry_point": "f", "tests": [{"args": [2], "expected": 4}, {"args": [3], "expected": 7}]})
        body = r.json()
        assert r.status_code == 200 and body["passed"] is False and body["fraction_passed"] == 0.5
        assert [t["status"] for t in body["tests"]] == ["pass", "fail"] and "first_difference" in body["tests"][1]
        r = c.post("/v1/run", json={"program": "def add(a, b):\n    return a + b\n", "problem": ADD_PROBLEM})
        assert r.json()["passed"] is True and r.json()["task_id"] == "demo/add"


def test_bad_requests_are_400_and_name_the_item(server):
    with client(server) as c:
        assert c.post("/v1/rewards", content=b"{not json").status_code == 400
        r = c.post("/v1/rewards", json={"benchmark": "humaneval", "items": [{"task_id": HE0, "completion": "x"}, {"task_id": "HumanEval/999", "completion": "x"}]})
        assert r.status_code == 400 and r.json()["item"] == 1 and "HumanEval/999" in r.json()["error"]
        assert c.post("/v1/rewards", json={"kind": "speed", "items": [{}]}).status_code == 400
        r = c.post("/v1/rewards", json={"benchmark": "humaneval", "items": [{"task_id": HE0, "completion": "x", "solution": "y"}]})
        assert r.status_code == 400 and "exactly one" in r.json()["error"]
        assert c.post("/v1/run", json={"program": "x = 1"}).status_code == 400


def test_infra_failure_is_null_with_a_reason(server, sandbox, monkeypatch, he0_body):
    def raising(*args, **kwargs):
        raise InfraError("simulated: no worker")

    monkeypatch.setattr(sandbox, "run", raising)
    with client(server) as c:
        r = c.post("/v1/rewards", json={"benchmark": "humaneval", "items": [{"task_id": HE0, "completion": he0_body}, {"task_id": HE0, "completion": "prose only."}]})
        body = r.json()
        assert body["rewards"] == [None, -0.2] and body["infra_errors"] == 1
        assert body["results"][0]["status"] == "infra_error" and "simulated: no worker" in body["results"][0]["reason"]
        r = c.post("/v1/run", json={"program": "def f(x):\n    return x\n", "entry_point": "f", "tests": [{"args": [1], "expected": 1}]})
        assert r.json()["status"] == "infra_error" and r.json()["passed"] is None


def test_queue_full_is_429_with_retry_after(server_factory):
    server = server_factory(max_queue_items=2)
    slow = {"problems": [HANG_PROBLEM], "items": [{"task_id": "hang", "solution": HANG}] * 2}
    results = {}

    def fill():
        with client(server) as c:
            results["first"] = c.post("/v1/rewards", json=slow)

    thread = threading.Thread(target=fill)
    thread.start()
    with client(server) as c:
        deadline = time.monotonic() + 10
        while c.get("/healthz").json()["queue_items"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        r = c.post("/v1/rewards", json={"problems": [ADD_PROBLEM], "items": [{"task_id": "demo/add", "solution": "def add(a, b):\n    return a + b\n"}]})
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) >= 1 and r.json()["retry_after"] >= 1
        thread.join(30)
        assert results["first"].status_code == 200 and results["first"].json()["rewards"] == [0.0, 0.0]
        assert c.get("/healthz").json()["queue_items"] == 0
        r = c.post("/v1/rewards", json={"problems": [ADD_PROBLEM], "items": [{"task_id": "demo/add", "solution": "def add(a, b):\n    return a + b\n"}]})
        assert r.status_code == 200
        metrics = c.get("/metrics").text
        assert 'assay_reward_rejected_total{reason="queue_full"} 1.0' in metrics


def test_api_key_is_enforced(server_factory, monkeypatch):
    server = server_factory(api_key="s3cret")
    body = {"problems": [ADD_PROBLEM], "items": [{"task_id": "demo/add", "solution": "def add(a, b):\n    return a + b\n"}]}
    with client(server) as c:
        assert c.post("/v1/rewards", json=body).status_code == 401
        assert c.post("/v1/rewards", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.post("/v1/rewards", json=body, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.post("/v1/rewards", json=body, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/metrics").status_code == 401
        assert c.get("/healthz").status_code == 200  # liveness stays open
    monkeypatch.setenv("ASSAY_API_KEY", "from-env")
    server = server_factory()
    with client(server) as c:
        assert c.post("/v1/rewards", json=body).status_code == 401
        assert c.post("/v1/rewards", json=body, headers={"Authorization": "Bearer from-env"}).status_code == 200


def test_request_too_large_is_413(server_factory):
    server = server_factory(max_body_bytes=20_000, max_program_bytes=2_000, max_batch_items=3)
    with client(server) as c:
        big = {"problems": [ADD_PROBLEM], "items": [{"task_id": "demo/add", "solution": "#" * 30_000}]}
        r = c.post("/v1/rewards", json=big)
        assert r.status_code == 413
        r = c.post("/v1/rewards", json={"problems": [ADD_PROBLEM], "items": [{"task_id": "demo/add", "solution": "#" * 5_000}]})
        assert r.status_code == 413 and r.json()["item"] == 0
        r = c.post("/v1/rewards", json={"problems": [ADD_PROBLEM], "items": [{"task_id": "demo/add", "solution": "x = 1"}] * 4})
        assert r.status_code == 413 and "split the batch" in r.json()["error"]

    # a body with no Content-Length (chunked) is cut off at the limit too
    def chunks():
        yield b'{"items": ['
        for _ in range(100):
            yield b'{"task_id": "demo/add", "solution": "' + b"#" * 500 + b'"},'
        yield b"{}]}"

    with client(server) as c:
        assert c.post("/v1/rewards", content=chunks()).status_code == 413
        assert c.get("/healthz").status_code == 200


def test_metrics_have_counters(server, he0_body):
    with client(server) as c:
        c.post("/v1/rewards", json={"benchmark": "humaneval", "items": [{"task_id": HE0, "completion": he0_body}, {"task_id": HE0, "completion": "hm."}]})
        text = c.get("/metrics").text
    assert 'assay_reward_requests_total{code="200",endpoint="/v1/rewards"} 1.0' in text
    assert 'assay_reward_items_total{kind="correctness",status="pass"} 1.0' in text
    assert 'assay_reward_items_total{kind="correctness",status="no_code"} 1.0' in text
    assert "assay_reward_infra_errors_total 0.0" in text
    assert "assay_reward_queue_items 0.0" in text
    assert re.search(r"assay_reward_item_seconds_count \d", text)
    assert "assay_reward_sandbox_workers 2.0" in text


def test_client_disconnecting_mid_request_does_not_break_the_server(server):
    host, port = server.host, server.port
    body = json.dumps({"problems": [HANG_PROBLEM], "items": [{"task_id": "hang", "solution": HANG}]}).encode()
    head = f"POST /v1/rewards HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    # 1) gone after sending the whole request, while the item runs
    with socket.create_connection((host, port)) as s:
        s.sendall(head + body)
        time.sleep(0.2)
    # 2) gone halfway through the body
    with socket.create_connection((host, port)) as s:
        s.sendall(head + body[: len(body) // 2])
    with client(server) as c:
        r = c.post("/v1/rewards", json={"problems": [ADD_PROBLEM], "items": [{"task_id": "demo/add", "solution": "def add(a, b):\n    return a + b\n"}]})
        assert r.status_code == 200 and r.json()["rewards"] == [1.0]
        deadline = time.monotonic() + 15
        while c.get("/healthz").json()["queue_items"] and time.monotonic() < deadline:
            time.sleep(0.05)
        health = c.get("/healthz").json()
        assert health["queue_items"] == 0 and health["status"] == "ok"


# ------------------------------------------------------- a server process


class ServerProcess:
    """``python -m assay.reward.cli`` on an ephemeral port."""

    def __init__(self, *args: str, env: dict | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assay.reward.cli", "--port", "0", *args],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env={**os.environ, **(env or {})},
        )  # fmt: skip
        self.lines: list[str] = []
        self.url = ""
        ready = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.lines.append(line)
                found = re.search(r"listening on (http://\S+) ", line)
                if found:
                    self.url = found.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60) or not self.url:
            self.proc.kill()
            raise RuntimeError("server did not start: " + "".join(self.lines))

    def rss_kb(self) -> int:
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", text).group(1))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def test_graceful_shutdown_finishes_accepted_work():
    server = ServerProcess("--workers", "1", "--drain-timeout", "20")
    try:
        slow = "def f(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n"
        problem = {"task_id": "sum", "prompt": "", "entry_point": "f", "tests": [{"args": [300_000], "expected": sum(range(300_000))}]}
        answer = {}

        def post():
            with httpx.Client(base_url=server.url, timeout=60) as c:
                answer["r"] = c.post("/v1/rewards", json={"problems": [problem], "items": [{"id": i, "task_id": "sum", "solution": slow} for i in range(6)]})

        thread = threading.Thread(target=post)
        thread.start()
        with httpx.Client(base_url=server.url, timeout=10) as c:
            deadline = time.monotonic() + 10
            while c.get("/healthz").json()["queue_items"] == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.1)
            try:
                late = c.post("/v1/rewards", json={"problems": [problem], "items": [{"task_id": "sum", "solution": slow}]})
                assert late.status_code == 503
            except httpx.TransportError:
                pass  # already closed: refused, not lost
        thread.join(60)
        assert answer["r"].status_code == 200
        assert answer["r"].json()["rewards"] == [1.0] * 6
        assert [x["id"] for x in answer["r"].json()["results"]] == list(range(6))
        assert server.proc.wait(30) == 0
    finally:
        server.stop()


def test_shutdown_past_the_drain_timeout_answers_what_it_did_not_run():
    server = ServerProcess("--workers", "1", "--drain-timeout", "0.5", "--cpu-seconds", "0.5")
    try:
        answer = {}

        def post():
            with httpx.Client(base_url=server.url, timeout=60) as c:
                answer["r"] = c.post("/v1/rewards", json={"problems": [HANG_PROBLEM], "items": [{"task_id": "hang", "solution": HANG}] * 6})

        thread = threading.Thread(target=post)
        thread.start()
        with httpx.Client(base_url=server.url, timeout=10) as c:
            while c.get("/healthz").json()["queue_items"] == 0:
                time.sleep(0.01)
        server.proc.send_signal(signal.SIGTERM)
        thread.join(60)
        body = answer["r"].json()
        assert answer["r"].status_code == 200 and body["count"] == 6
        statuses = [x["status"] for x in body["results"]]
        assert "shutdown" in statuses  # not run: null with a reason, never 0
        for value, result in zip(body["rewards"], body["results"]):
            assert (value is None and result["status"] == "shutdown" and result["reason"]) or (value == 0.0 and result["status"] == "timeout")
        assert server.proc.wait(30) == 0
    finally:
        server.stop()


def test_load_ten_times_the_queue_nothing_lost_or_duplicated():
    """80 concurrent requests against a queue of 8: each answered once or refused with 429; RSS flat."""
    server = ServerProcess("--workers", "2", "--max-queue", "8")
    problem = {"task_id": "echo", "prompt": "", "entry_point": "echo", "tests": [{"args": [i], "expected": i} for i in range(3)]}
    program = "def echo(x):\n    return x\n"
    wrong = "def echo(x):\n    return -1\n"

    async def round_(offset: int, n: int = 80) -> tuple[int, int, set]:
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as c:

            async def one(i: int):
                solution = program if i % 2 == 0 else wrong
                r = await c.post("/v1/rewards", json={"problems": [problem], "details": False, "items": [{"id": i, "task_id": "echo", "solution": solution}]})
                return i, r

            outcomes = await asyncio.gather(*(one(offset + i) for i in range(n)))
        answered, refused, seen = 0, 0, set()
        for i, r in outcomes:
            if r.status_code == 429:
                assert int(r.headers["Retry-After"]) >= 1
                refused += 1
                continue
            assert r.status_code == 200, r.text
            (result,) = r.json()["results"]
            assert result["id"] == i and i not in seen
            seen.add(i)
            assert result["reward"] == (1.0 if i % 2 == 0 else 0.0)
            answered += 1
        assert answered + refused == n
        return answered, refused, seen

    try:
        started = time.monotonic()
        answered, refused, _ = asyncio.run(round_(0))
        assert answered >= 8 and refused > 0
        rss_start = server.rss_kb()
        total_answered = answered
        for k in range(1, 4):
            answered, refused, _ = asyncio.run(round_(1000 * k))
            total_answered += answered
        rss_end = server.rss_kb()
        assert rss_end - rss_start < 20_000, (rss_start, rss_end)  # under 20 MB of growth over 240 requests
        with httpx.Client(base_url=server.url, timeout=10) as c:
            health = c.get("/healthz").json()
            metrics = c.get("/metrics").text
        assert health["queue_items"] == 0
        assert time.monotonic() - started < 60
        served = sum(float(v) for v in re.findall(r'assay_reward_requests_total\{code="200",endpoint="/v1/rewards"\} (\S+)', metrics))
        assert served == total_answered
        assert server.stop() == 0
    finally:
        server.stop()
