"""assay eval end to end: HumanEval, bad input lines, resume, results file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assay.evaluate import EvalConfig, evaluate, run_program, write_results
from assay.problems import CallTest, load_benchmark
from assay.store import Store

HUMANEVAL = load_benchmark("humaneval")
BY_ID = {p.task_id: p for p in HUMANEVAL}


def completion_of(task_id: str) -> str:
    problem = BY_ID[task_id]
    return problem.reference[len(problem.prompt) :]


def test_all_canonical_solutions_pass(tmp_path, sandbox):
    report = evaluate("humaneval", "canonical", store=Store(tmp_path / "s.sqlite"), sandbox=sandbox)
    assert len(report.outcomes) == 164
    failed = [o.task_id for o in report.outcomes if not o.passed]
    assert failed == []
    assert report.pass_at[1].value == 1.0


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_bad_lines_are_named_and_the_rest_runs(tmp_path, sandbox):
    good = json.dumps({"task_id": "HumanEval/0", "completion": completion_of("HumanEval/0")}).encode()
    wrong = json.dumps({"task_id": "HumanEval/0", "completion": "    return False\n"}).encode()
    solution = json.dumps({"task_id": "HumanEval/2", "solution": BY_ID["HumanEval/2"].reference}).encode()
    samples = write_lines(
        tmp_path / "samples.jsonl",
        [
            good,
            b'{"task_id": "HumanEval/0", "completion": ',  # line 2: malformed JSON
            b'{"task_id": "HumanEval/999", "completion": "x"}',  # line 3: unknown task
            b'{"task_id": "HumanEval/1", "completion": "\xff\xfe"}',  # line 4: not UTF-8
            wrong,
            solution,
        ],
    )
    report = evaluate("humaneval", samples, store=Store(tmp_path / "s.sqlite"), sandbox=sandbox)
    assert sorted(e.line_number for _, e in report.errors) == [2, 3, 4]
    assert any("HumanEval/999" in e.message for _, e in report.errors)
    assert report.n_problems == 2  # HumanEval/0 and /2: the unknown HumanEval/999 is a bad line, not a failed problem
    assert report.pass_at[1].value == 0.75  # (1/2 + 1) / 2
    assert [(o.task_id, o.index, o.passed) for o in report.outcomes] == [
        ("HumanEval/0", 0, True),
        ("HumanEval/0", 1, False),  # the malformed line 2 names no task, so takes no index
        ("HumanEval/2", 0, True),
    ]
    out = tmp_path / "results.jsonl"
    write_results(report, out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["line_number"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0]["passed"] is True and rows[0]["status"] == "pass" and rows[0]["tests"]
    assert rows[4]["status"] == "fail" and any(t["status"] == "fail" for t in rows[4]["tests"])
    assert rows[1]["status"] == "bad_input" and rows[1]["passed"] is False and rows[1]["error"]


def test_resume_runs_only_what_is_missing(tmp_path, sandbox):
    ids = ["HumanEval/%d" % i for i in range(12)]
    samples = write_lines(
        tmp_path / "samples.jsonl",
        [json.dumps({"task_id": t, "completion": completion_of(t)}).encode() for t in ids],
    )
    store_path = tmp_path / "s.sqlite"

    class Killed(Exception):
        pass

    def kill_after_five(done, total, outcome):
        if outcome is not None and done >= 5:
            raise Killed

    with pytest.raises(Killed):
        evaluate("humaneval", samples, store=Store(store_path), sandbox=sandbox, on_progress=kill_after_five)
    seen = []
    report = evaluate(
        "humaneval", samples, store=Store(store_path), sandbox=sandbox, resume=True, on_progress=lambda d, t, o: seen.append(o) if o else None
    )
    assert len(report.outcomes) == 12 and all(o.passed for o in report.outcomes)
    assert report.reused >= 5
    assert len(seen) == 12 - report.reused
    assert [o.task_id for o in report.outcomes] == ids


def test_pass_at_k_uses_the_unbiased_estimator(tmp_path, sandbox):
    right = completion_of("HumanEval/0")
    lines = [json.dumps({"task_id": "HumanEval/0", "completion": c}).encode() for c in (right, "    return True\n", right, "    return None\n")]
    samples = write_lines(tmp_path / "samples.jsonl", lines)
    report = evaluate("humaneval", samples, config=EvalConfig(ks=(1, 2)), store=Store(tmp_path / "s.sqlite"), sandbox=sandbox)
    assert report.pass_at[1].value == pytest.approx(0.5)
    assert report.pass_at[2].value == pytest.approx(1 - 1 / 6)


def test_run_program_with_bare_tests():
    result = run_program("def inc(x):\n    return x + 1\n", [CallTest("a", (1,), 2), CallTest("b", (5,), 6)], entry_point="inc")
    assert result.passed


def test_cli_eval_writes_results(tmp_path):
    samples = write_lines(
        tmp_path / "samples.jsonl",
        [json.dumps({"task_id": "HumanEval/%d" % i, "completion": completion_of("HumanEval/%d" % i)}).encode() for i in range(3)]
        + [b"not json"],
    )
    results = tmp_path / "r.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "assay.cli", "eval", "--benchmark", "humaneval", "--samples", str(samples), "--results", str(results), "--k", "1", "--store", str(tmp_path / "s.sqlite")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr  # a rejected line: results written, but a script can tell (--allow-bad-lines: 0)
    assert "pass@1" in proc.stdout and "1.0000" in proc.stdout
    assert "line 4" in proc.stderr and "--allow-bad-lines" in proc.stderr
    assert len(results.read_text().splitlines()) == 4


def test_cli_rejects_missing_samples_file(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "assay.cli", "eval", "--benchmark", "humaneval", "--samples", str(tmp_path / "nope.jsonl")], capture_output=True, text=True)
    assert proc.returncode == 2 and "not found" in proc.stderr
