"""Real small runs for the report tests: an evaluation and a model run on a few HumanEval problems, in a real sandbox."""

from __future__ import annotations

from assay.evaluate import evaluate
from assay.models import ScriptedModel, ScriptedReply
from assay.problems import load_benchmark
from assay.samples import Sample
from assay.solve import SolveConfig, solve
from assay.store import Store

PROBLEMS = load_benchmark("humaneval")[:4]
HOSTILE = "</script><script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">"


def eval_samples() -> list[Sample]:
    """Per problem: the canonical solution and a deliberately wrong one; one prints hostile output."""
    samples = []
    for problem in PROBLEMS:
        samples.append(Sample(problem.task_id, 0, problem.reference))
    samples.append(Sample(PROBLEMS[1].task_id, 1, PROBLEMS[1].prompt + "    return []\n"))
    samples.append(Sample(PROBLEMS[2].task_id, 1, PROBLEMS[2].prompt + "    print(%r)\n    raise ValueError(%r)\n" % (HOSTILE, HOSTILE)))
    samples.append(Sample(PROBLEMS[3].task_id, 1, PROBLEMS[3].prompt + "    while True:\n        pass\n"))
    samples.append(Sample(PROBLEMS[0].task_id, 1, PROBLEMS[0].prompt + "    return undefined_name\n"))
    return samples


def reply_for(problem, correct: bool) -> ScriptedReply:
    body = problem.reference[len(problem.prompt) :] if correct else "    return None\n"
    return ScriptedReply("Here you go:\n```python\n%s%s```\nThis works." % (problem.prompt, body), match=problem.entry_point)


def make_runs(store: Store, sandbox) -> tuple[str, str]:
    """(the evaluation's run id, the model run's run id), both stored in ``store``."""
    report = evaluate(PROBLEMS, eval_samples(), store=store, sandbox=sandbox)
    model = ScriptedModel([reply_for(PROBLEMS[0], True), reply_for(PROBLEMS[1], False), reply_for(PROBLEMS[2], True), reply_for(PROBLEMS[3], False)])
    solved = solve(PROBLEMS, model, config=SolveConfig(n=1), sandbox=sandbox, store=store, benchmark="humaneval")
    return report.run_id, solved.evaluation.run_id
