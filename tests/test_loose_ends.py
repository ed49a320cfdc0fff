"""Loose ends a new user met (issue 15, section 3), each pinned here.

- a result never says ``status: pass`` with ``passed: false``; one status vocabulary (``bad_input``, ``too_slow``);
- ``assay eval`` exits non-zero on rejected lines (``--allow-bad-lines``: 0) and says "no samples" plainly;
- ``assay serve`` refuses a non-loopback address without an API key unless ``--insecure``;
- ``assay solve`` leaves no unclosed transports behind, and slow runs print s/sample, not "0.0 samples/s".

Store faults (SIGKILL, a full disk, two writers) are in test_store_faults.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assay.evaluate import EfficiencyRecord, EvalConfig, SampleOutcome, evaluate, write_results
from assay.measure.efficiency import EfficiencyConfig
from assay.problems import load_benchmark
from assay.samples import Sample
from assay.sandbox.verdict import SampleResult, Status
from assay.sandbox.verdict import TestVerdict as Verdict
from assay.store import Store, StoredResult

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

# Correct on HumanEval/0's own tests (at most 6 numbers), but spins on every
# stress input of 20 numbers or more: ENAMEL's budget censors it at level 0.
SPINS_ON_STRESS = """
def has_close_elements(numbers, threshold):
    if len(numbers) > 10:
        while True:
            pass
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])
"""


def assay(*args: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assay.cli", *args], capture_output=True, text=True, env=env or ENV, timeout=timeout, cwd=ROOT)


# ------------------------------------------------------------------ 1. one status vocabulary, never "pass" and not passed


def test_a_program_censored_on_the_stress_inputs_says_too_slow_not_pass(tmp_path, sandbox):
    problem = {p.task_id: p for p in load_benchmark("enamel")}["HumanEval/0"]
    config = EvalConfig(ks=(1,), efficiency=EfficiencyConfig(meter="cpu-time", repeats=1))
    with Store(tmp_path / "s.sqlite") as store:
        report = evaluate([problem], [Sample("HumanEval/0", 0, SPINS_ON_STRESS)], config=config, store=store, sandbox=sandbox)
        (outcome,) = report.outcomes
        assert outcome.verdict.passed  # right on every correctness test...
        assert outcome.efficiency is not None and outcome.efficiency.detail["censored_at"] == 0
        assert not outcome.passed and outcome.status is Status.TOO_SLOW  # ...and the status says why it did not pass
        (row,) = store.result_briefs(report.run_id)
        assert (row.status, row.passed) == ("too_slow", False)  # the store's column
        (stored,) = store.results(report.run_id)
        assert stored.result["status"] == "too_slow"  # the stored line
    assert report.status_counts == {"too_slow": 1}
    out = tmp_path / "results.jsonl"
    write_results(report, out)
    line = json.loads(out.read_text())
    assert (line["status"], line["passed"]) == ("too_slow", False)


def _passing_verdict() -> SampleResult:
    return SampleResult("t/0", [Verdict("a", Status.PASS)])


@pytest.mark.parametrize(
    "detail, status",
    [({"passed": False, "censored_at": 0, "failed_at": None}, Status.TOO_SLOW), ({"passed": False, "censored_at": None, "failed_at": 2}, Status.FAIL)],
)
def test_no_outcome_is_pass_without_passing(detail, status):
    eff = EfficiencyRecord(0.0, "instructions", None, (), detail)
    outcome = SampleOutcome(0, "t/0", 0, 1, False, _passing_verdict(), eff)
    assert outcome.status is status
    assert outcome.to_line()["status"] == status.value and outcome.to_line()["passed"] is False
    passing = SampleOutcome(0, "t/0", 0, 1, True, _passing_verdict(), EfficiencyRecord(0.9, "instructions", None, (), {"passed": True, "censored_at": None}))
    assert passing.status is Status.PASS


def test_a_row_stored_before_too_slow_existed_reads_back_as_too_slow():
    """Stores written before said "pass" for such samples; read back, they say why."""
    line = {"task_id": "t/0", "passed": False, "status": "pass", "tests": [{"name": "a", "status": "pass"}],
            "efficiency": 0.0, "efficiency_meter": "cpu-time", "efficiency_detail": {"passed": False, "censored_at": 0, "failed_at": None}}  # fmt: skip
    outcome = SampleOutcome.from_stored(StoredResult(0, 1, "t/0", 0, False, "pass", line))
    assert outcome.status is Status.TOO_SLOW


def test_a_bad_line_is_bad_input_in_the_summary_results_and_report(tmp_path):
    from assay.report.data import load_run
    from assay.report.summary import summarize

    samples = tmp_path / "samples.jsonl"
    samples.write_text('{"task_id": "HumanEval/0", "completion": \nnot json\n')
    with Store(tmp_path / "s.sqlite") as store:
        report = evaluate("humaneval", samples, store=store)
        assert report.status_counts == {"bad_input": 2}
        summary = summarize(load_run(store, report.run_id))
    assert summary.status_counts == {"bad_input": 2}
    out = tmp_path / "results.jsonl"
    write_results(report, out)
    assert [json.loads(line)["status"] for line in out.read_text().splitlines()] == ["bad_input", "bad_input"]
    assert {s.value for s in Status} >= {"bad_input", "too_slow"}  # one vocabulary: the Status enum


# ------------------------------------------------------------------ 2. exit codes of assay eval


def test_eval_exits_nonzero_when_lines_were_rejected_unless_allowed(tmp_path):
    problem = {p.task_id: p for p in load_benchmark("humaneval")}["HumanEval/0"]
    samples = tmp_path / "samples.jsonl"
    good = json.dumps({"task_id": "HumanEval/0", "solution": problem.reference})
    samples.write_text(good + "\n{broken\n")
    store = str(tmp_path / "s.sqlite")
    strict = assay("eval", "--benchmark", "humaneval", "--samples", str(samples), "--store", store, "--workers", "1", "--results", str(tmp_path / "r.jsonl"))
    assert strict.returncode == 1, strict.stderr
    assert "1 input line was rejected" in strict.stderr and "--allow-bad-lines" in strict.stderr
    assert "line 2" in strict.stderr
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 2  # the results are still written
    allowed = assay("eval", "--benchmark", "humaneval", "--samples", str(samples), "--store", store, "--workers", "1", "--allow-bad-lines", "--resume")
    assert allowed.returncode == 0, allowed.stderr
    assert "line 2" in allowed.stderr  # still reported


@pytest.mark.parametrize("content, why", [(b"", "no samples"), (b"\n\n", "no samples"), (b'{"task_id": "Nope/1", "completion": "x"}\nnot json\n', "every one of its 2 lines was rejected")])
def test_eval_says_no_samples_plainly_and_exits_nonzero(tmp_path, content, why):
    samples = tmp_path / "samples.jsonl"
    samples.write_bytes(content)
    for extra in ((), ("--allow-bad-lines",)):
        proc = assay("eval", "--benchmark", "humaneval", "--samples", str(samples), "--store", str(tmp_path / "s.sqlite"), *extra)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "no samples" in proc.stderr and why in proc.stderr
        assert "pass@" not in proc.stdout  # no table of zeros that looks like a result


# ------------------------------------------------------------------ 3. assay serve on a non-loopback address


def test_serve_refuses_a_public_address_without_a_key(tmp_path):
    env = {k: v for k, v in ENV.items() if k != "ASSAY_API_KEY"}
    proc = subprocess.run([sys.executable, "-m", "assay.reward.cli", "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert "refusing to serve on '0.0.0.0' without an API key" in proc.stderr
    assert "ASSAY_API_KEY" in proc.stderr and "--insecure" in proc.stderr  # says how to fix it
    assert "listening" not in proc.stderr


def test_the_exposure_rule():
    from assay.reward.server import exposure_error, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("") and not is_loopback("::") and not is_loopback("10.1.2.3")
    assert exposure_error("0.0.0.0", None, False) and exposure_error("::", None, False) and exposure_error("", None, False)
    assert exposure_error("0.0.0.0", "secret", False) is None  # with a key
    assert exposure_error("0.0.0.0", None, True) is None  # told --insecure
    assert exposure_error("127.0.0.1", None, False) is None and exposure_error("localhost", None, False) is None  # loopback


def test_the_service_itself_refuses_too():
    """Not only the command line: a RewardService started from Python refuses the same way."""
    import asyncio

    from assay.reward.server import ExposedError, RewardService, ServerConfig

    class NoScorer:
        concurrency = 1

    service = RewardService(ServerConfig(host="0.0.0.0", port=0, api_key=None), NoScorer())  # type: ignore[arg-type]
    service.config.api_key = None  # whatever the environment says
    with pytest.raises(ExposedError, match="--insecure"):
        asyncio.run(service.start())


def _serve_until_listening(args: list[str], env: dict) -> tuple[int, str]:
    proc = subprocess.Popen([sys.executable, "-m", "assay.reward.cli", "--port", "0", "--workers", "1", *args], stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "listening on" in line:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rest = proc.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            rest = proc.communicate()[1]
    return proc.returncode, "".join(lines) + (rest or "")


@pytest.mark.parametrize(
    "args, key, listens_on, warns",
    [
        (["--host", "0.0.0.0"], "a-key", "0.0.0.0", False),  # allowed with a key
        (["--host", "0.0.0.0", "--insecure"], None, "0.0.0.0", True),  # allowed when told, with a warning
        (["--host", "127.0.0.1"], None, "127.0.0.1", False),  # loopback is fine
    ],
)
def test_serve_binds_when_allowed(args, key, listens_on, warns):
    env = {k: v for k, v in ENV.items() if k != "ASSAY_API_KEY"}
    if key:
        env["ASSAY_API_KEY"] = key
    code, err = _serve_until_listening(args, env)
    assert "listening on http://%s:" % listens_on in err, err
    assert ("warning: --insecure" in err) is warns
    assert code == 0, err


# ------------------------------------------------------------------ 5. careless exits


class _FakeOpenAI(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: connections stay open until the client closes them

    def log_message(self, *args):
        pass

    def _send(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        reply = "```python\ndef f():\n    return 1\n```"
        self._send({"id": "x", "object": "chat.completion", "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 5}})  # fmt: skip

    def do_GET(self):
        self._send({"data": [{"id": "m"}]})


def test_solve_leaves_no_unclosed_transport_or_file(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {**ENV, "OPENAI_API_KEY": "x", "PYTHONWARNINGS": "always", "ASSAY_HOME": str(tmp_path / "home")}
        url = "openai:m@http://127.0.0.1:%d/v1" % server.server_address[1]
        proc = assay("solve", "--benchmark", "humaneval", "--model", url, "--limit", "3", "--workers", "1", "--no-cache", "--store", str(tmp_path / "s.sqlite"), env=env)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr
    assert "3 calls" in proc.stdout
    assert "ResourceWarning" not in proc.stderr, proc.stderr
    assert "unclosed" not in proc.stderr, proc.stderr
    assert "assay solve: humaneval" in proc.stdout and "assay eval" not in proc.stdout


def test_a_slow_run_prints_seconds_per_sample_not_zero_samples_per_second():
    from assay.cli import rate_text

    assert rate_text(1, 30.0) == ", 30.0 s/sample"
    assert rate_text(3, 12.0) == ", 4.0 s/sample"
    assert rate_text(164, 20.5) == ", 8.0 samples/s"
    assert rate_text(0, 1.0) == "" and rate_text(5, 0.0) == ""
    for n, seconds in ((1, 1000.0), (2, 99.0), (7, 6.9)):
        assert not rate_text(n, seconds).startswith(", 0.0")


def test_the_embedded_backend_leaves_no_unclosed_file_at_exit():
    """llama_cpp opens /dev/null at import and never closes it ("unclosed file" after `assay solve --model embedded`)."""
    if importlib.util.find_spec("llama_cpp") is None:  # not imported here: this process would then leak the same files
        pytest.skip("llama_cpp is not installed")
    bare = subprocess.run([sys.executable, "-W", "always", "-c", "import llama_cpp"], capture_output=True, text=True, env=ENV, timeout=120)
    ours = subprocess.run([sys.executable, "-W", "always", "-c", "import assay.models.embedded, llama_cpp"], capture_output=True, text=True, env=ENV, timeout=120)
    assert "unclosed file" in bare.stderr  # the leak is real (if llama_cpp fixes it, this test says so)
    assert ours.returncode == 0 and "unclosed" not in ours.stderr, ours.stderr
