"""assay solve with a scripted model: generation, extraction, judging, storage."""

from __future__ import annotations

import json
import subprocess
import sys

from assay.models import ScriptedModel, ScriptedReply
from assay.problems import load_benchmark
from assay.solve import SolveConfig, solve
from assay.store import Store

PROBLEMS = load_benchmark("humaneval")[:3]


def reply_for(problem, correct: bool) -> ScriptedReply:
    body = problem.reference[len(problem.prompt) :] if correct else "    return None\n"
    return ScriptedReply("Here you go:\n```python\n%s%s```\nThis works." % (problem.prompt, body), match=problem.entry_point)


def test_solve_stores_every_call_and_verdict(tmp_path, sandbox):
    model = ScriptedModel([reply_for(PROBLEMS[0], True), reply_for(PROBLEMS[1], False), reply_for(PROBLEMS[2], True)])
    store = Store(tmp_path / "s.sqlite")
    report = solve(PROBLEMS, model, config=SolveConfig(n=1), sandbox=sandbox, store=store, benchmark="humaneval")
    outcomes = report.evaluation.outcomes
    assert [o.passed for o in outcomes] == [True, False, True]
    assert report.evaluation.pass_at[1].value == 2 / 3
    calls = store.llm_calls(report.evaluation.run_id)
    assert len(calls) == 3 and {c["task_id"] for c in calls} == {p.task_id for p in PROBLEMS}
    assert all("```python" in c["completion"] for c in calls)
    assert report.ledger.total.calls == 3
    assert outcomes[0].extraction.startswith("fenced")


def test_reply_without_code_fails_and_is_counted(tmp_path, sandbox):
    model = ScriptedModel(["I am sorry, I cannot help with that."])
    report = solve(PROBLEMS[:1], model, sandbox=sandbox, store=Store(tmp_path / "s.sqlite"))
    assert not report.evaluation.outcomes[0].passed
    assert report.extraction_failures == 1


def test_cli_solve_with_a_scripted_model(tmp_path):
    script = tmp_path / "replies.jsonl"
    script.write_text("\n".join(json.dumps({"text": reply_for(p, True).text, "match": p.entry_point}) for p in PROBLEMS) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "assay.cli", "solve", "--benchmark", "humaneval", "--model", "scripted:%s" % script, "--limit", "3", "--store", str(tmp_path / "s.sqlite")],
        capture_output=True, text=True, timeout=180, env={**__import__("os").environ, "ASSAY_CACHE_DIR": str(tmp_path / "cache")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "pass@1" in proc.stdout and "1.0000" in proc.stdout
    assert "3 calls" in proc.stdout


def test_the_strategy_never_sees_hidden_tests_or_the_reference(tmp_path, sandbox):
    from assay import plugins
    from assay.solve import Candidate

    seen = []

    async def peeking(task):
        seen.append(task.problem)
        from assay.solve import messages_for

        completions = await task.generate(messages_for(task.problem), task.params.replace(n=1))
        return [task.candidate(0, completions[0].text)]

    plugins.STRATEGIES.register("peeking", peeking, plugin="test")
    model = ScriptedModel([reply_for(PROBLEMS[0], True)])
    report = solve(PROBLEMS[:1], model, config=SolveConfig(strategy="peeking"), sandbox=sandbox, store=Store(tmp_path / "s.sqlite"))
    (problem,) = seen
    assert problem.reference is None and all(not t.hidden for t in problem.tests)
    assert len(PROBLEMS[0].tests) > 0 and problem.tests == ()
    assert report.evaluation.outcomes[0].passed  # judged on the hidden tests afterwards
    assert Candidate  # the strategy's answer type is public
