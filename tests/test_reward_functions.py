"""Reward functions and the in-process adapters (TRL, verl, plain batch).

Real sandbox throughout (the session's 2-worker sandbox from conftest, with
calibration off and a 0.5 s CPU limit per test); infrastructure failures are
simulated by making the sandbox raise its own InfraError.
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time

import pytest

from assay.measure.valgrind import find_valgrind
from assay.problems import CallTest, Problem
from assay.reward import (
    RewardInfraError,
    RewardItem,
    RewardScorer,
    RewardSpec,
    compute_score,
    compute_score_batch,
    compute_score_with_details,
    efficiency_value,
    score_pairs,
    trl_reward,
)
from assay.reward.adapters import completion_text, problem_for_row, verl_problem
from assay.reward.functions import NO_CODE, NOT_SCORED
from assay.reward.resolve import ProblemError, benchmark_problem, problem_from_apps, problem_from_tests
from assay.sandbox import pool as pool_module
from assay.sandbox.worker import InfraError

HE0 = "HumanEval/0"
WRONG_BODY = "    return True\n"
HANG_BODY = "    while True:\n        pass\n"
SLOW_CORRECT = '''```python
def has_close_elements(numbers, threshold):
    found = False
    for _ in range(400):
        found = any(abs(a - b) < threshold for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i != j)
    return found
```'''


@pytest.fixture(scope="module")
def scorer(sandbox):
    with RewardScorer(sandbox) as s:
        yield s


@pytest.fixture(scope="module")
def he0():
    return benchmark_problem("humaneval", HE0)


def canonical_body(problem: Problem) -> str:
    assert problem.reference is not None
    return problem.reference[len(problem.prompt):]


def add_problem_json(**extra) -> dict:
    return {
        "task_id": "demo/add",
        "prompt": "def add(a, b):\n",
        "entry_point": "add",
        "reference": "def add(a, b):\n    return a + b\n",
        "tests": [{"args": [1, 2], "expected": 3}, {"args": [2, 2], "expected": 4}, {"args": [-1, 1], "expected": 0}],
        **extra,
    }


# --------------------------------------------------------------- formulas


def test_efficiency_formula():
    spec = RewardSpec(kind="efficiency", max_speedup=4.0, correct_floor=0.5)
    assert efficiency_value(100_000, 100_000, spec) == pytest.approx(0.75)
    assert efficiency_value(25_000, 100_000, spec) == pytest.approx(1.0)  # 4x cheaper: top
    assert efficiency_value(1_000, 100_000, spec) == pytest.approx(1.0)  # clipped
    assert efficiency_value(400_000, 100_000, spec) == pytest.approx(0.5)  # 4x dearer: the floor
    assert efficiency_value(50_000, 100_000, spec) == pytest.approx(0.5 + 0.5 * 0.75)  # 2x = half of log4
    no_floor = RewardSpec(kind="efficiency", correct_floor=0.0)
    assert efficiency_value(100_000, 100_000, no_floor) == pytest.approx(0.5)
    assert efficiency_value(0, 0, spec) == pytest.approx(0.75)  # costs floored at min_cost_ns, no division by 0


def test_spec_validation_and_params():
    with pytest.raises(ValueError, match="unknown reward kind"):
        RewardSpec(kind="speed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_speedup"):
        RewardSpec(max_speedup=1.0)
    with pytest.raises(ValueError, match="unknown reward parameters: bogus"):
        RewardSpec().with_params({"bogus": 1})
    assert RewardSpec().with_params({"format_penalty": 1.0}).format_penalty == 1.0
    assert RewardSpec(kind="fraction").policy.continue_after_fatal
    assert not RewardSpec(kind="fraction").policy.stop_at_first_failure
    assert not RewardSpec(kind="correctness").policy.continue_after_fatal
    assert RewardSpec(kind="correctness").policy.stop_at_first_failure
    assert not RewardSpec().with_params({"stop_at_first_failure": False}).policy.stop_at_first_failure
    with pytest.raises(ValueError, match="stop_at_first_failure"):
        RewardSpec().with_params({"stop_at_first_failure": "no"})


# ------------------------------------------------- rewards from real runs


def test_rewards_for_correct_wrong_hanging_and_no_code(scorer, he0):
    items = [
        RewardItem(he0, completion=canonical_body(he0)),
        RewardItem(he0, completion=WRONG_BODY),
        RewardItem(he0, completion=HANG_BODY),
        RewardItem(he0, completion="I am not sure how to solve this."),
        RewardItem(he0, completion=""),
    ]
    rewards = scorer.score_batch(items, RewardSpec(kind="correctness"))
    assert [r.value for r in rewards] == [1.0, 0.0, 0.0, -0.2, -0.2]
    assert [r.status for r in rewards] == ["pass", "fail", "timeout", NO_CODE, NO_CODE]
    assert all(r.task_id == HE0 for r in rewards)
    assert rewards[0].extraction == "prompt+body"
    assert rewards[1].tests_total == len(he0.tests) and 0 < rewards[1].tests_passed < rewards[1].tests_total
    details = rewards[2].to_dict()
    assert details["tests"][0]["status"] == "timeout"


def test_format_penalty_is_a_parameter(scorer, he0):
    (reward,) = scorer.score_batch([RewardItem(he0, completion="no code")], RewardSpec(format_penalty=1.0))
    assert reward.value == -1.0
    (reward,) = scorer.score_batch([RewardItem(he0, completion="no code")], RewardSpec(format_penalty=0.0))
    assert reward.value == 0.0


def test_fraction_keeps_running_after_a_fatal_test(scorer):
    problem = problem_from_tests(
        [{"args": [1], "expected": 1}, {"args": [0], "expected": 0}, {"args": [2], "expected": 2}, {"args": [3], "expected": 4}], "f"
    )
    program = "def f(x):\n    while x == 0:\n        pass\n    return x\n"  # hangs on one test, wrong on another
    (frac,) = scorer.score_batch([RewardItem(problem, solution=program)], RewardSpec(kind="fraction"))
    assert frac.value == pytest.approx(0.5)
    assert frac.tests_passed == 2 and frac.tests_total == 4
    (corr,) = scorer.score_batch([RewardItem(problem, solution=program)], RewardSpec(kind="correctness"))
    assert corr.value == 0.0


def test_efficiency_gated_on_correctness_and_cheaper_is_better(scorer, he0):
    spec = RewardSpec(kind="efficiency", meter="cpu-time")
    canonical, slow, wrong = scorer.score_batch(
        [RewardItem(he0, completion=canonical_body(he0)), RewardItem(he0, completion=SLOW_CORRECT), RewardItem(he0, completion=WRONG_BODY)], spec
    )
    assert wrong.value == 0.0 and wrong.cost is None
    assert canonical.passed and slow.passed
    assert spec.correct_floor <= slow.value < canonical.value <= 1.0
    assert slow.value == pytest.approx(spec.correct_floor)  # far more than 4x the reference's CPU time
    assert canonical.cost["meter"] == "cpu-time" and canonical.cost["reference_repeats"] == 3
    assert slow.cost["candidate"] > 4 * slow.cost["reference"]


@pytest.mark.skipif(find_valgrind() is None, reason="valgrind is not installed")
def test_efficiency_default_meter_counts_instructions_deterministically(scorer, he0):
    spec = RewardSpec(kind="efficiency")
    assert spec.meter == "instructions"
    canonical, slow, wrong = scorer.score_batch(
        [RewardItem(he0, completion=canonical_body(he0)), RewardItem(he0, completion=SLOW_CORRECT), RewardItem(he0, completion=WRONG_BODY)], spec
    )
    assert wrong.value == 0.0 and wrong.cost is None  # gated: no count is spent on a wrong program
    assert canonical.cost["meter"] == "instructions" and canonical.cost["deterministic"] is True
    assert canonical.cost["candidate"] == canonical.cost["reference"]  # the canonical solution is the reference
    assert canonical.value == pytest.approx(0.75)
    assert slow.value == pytest.approx(spec.correct_floor) and slow.cost["candidate"] > 4 * slow.cost["reference"]
    (again,) = scorer.score_batch([RewardItem(he0, completion=SLOW_CORRECT)], spec)
    assert again.value == slow.value and again.cost["candidate"] == slow.cost["candidate"]  # counted afresh, the same count


# Correct when judged, and under the instruction meter (where `import signal` is refused) it answers at once:
# the meter checks what a program returns while counted, so this earns no speed.
NOTICES_THE_METER = (
    "    try:\n        import signal\n    except Exception:\n        return False\n"
    "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i != j)\n"
)


@pytest.mark.skipif(find_valgrind() is None, reason="valgrind is not installed")
def test_efficiency_gives_nothing_to_a_program_that_changes_under_the_meter(scorer, he0):
    (sly,) = scorer.score_batch([RewardItem(he0, completion=NOTICES_THE_METER)], RewardSpec(kind="efficiency"))
    assert sly.passed  # the judge saw a correct program
    assert sly.value == pytest.approx(RewardSpec().correct_floor)  # no credit for a count it did not earn
    assert sly.cost["candidate"] == float("inf") or sly.cost["candidate"] is None


def test_efficiency_without_reference_is_not_scored_not_zero(scorer):
    problem = problem_from_tests([{"args": [1, 2], "expected": 3}], "add")
    (reward,) = scorer.score_batch([RewardItem(problem, solution="def add(a, b):\n    return a + b\n")], RewardSpec(kind="efficiency"))
    assert reward.value is None and reward.status == NOT_SCORED and "no reference" in reward.reason


def test_unknown_meter_is_refused(scorer, he0):
    (reward,) = scorer.score_batch([RewardItem(he0, completion=canonical_body(he0))], RewardSpec(kind="efficiency", meter="valgrind-instructions"))
    assert reward.value is None and "unknown meter" in reward.reason


# ---------------------------------------------------------- infra failures


def test_infra_failure_in_the_worker_is_none_with_a_reason(scorer, he0, monkeypatch):
    def broken(self):
        raise InfraError("simulated: the worker pipe broke")

    monkeypatch.setattr(pool_module.SampleRun, "run", broken)
    rewards = scorer.score_batch([RewardItem(he0, completion=canonical_body(he0)), RewardItem(he0, completion=WRONG_BODY)], RewardSpec(kind="fraction"))
    assert [r.value for r in rewards] == [None, None]
    assert all(r.status == "infra_error" and "simulated: the worker pipe broke" in r.reason for r in rewards)


def test_infra_error_raised_by_the_sandbox_is_none(sandbox, he0, monkeypatch):
    def raising(*args, **kwargs):
        raise InfraError("simulated: sandbox down")

    monkeypatch.setattr(sandbox, "run", raising)
    scorer = RewardScorer(sandbox)
    for kind in ("correctness", "fraction", "efficiency"):
        (reward,) = scorer.score_batch([RewardItem(he0, completion=canonical_body(he0))], RewardSpec(kind=kind))
        assert reward.value is None and "simulated: sandbox down" in reward.reason
    # ...but a completion with no code is still the candidate's doing
    (reward,) = scorer.score_batch([RewardItem(he0, completion="prose only")])
    assert reward.value == -0.2


def test_killed_sandbox_worker_mid_batch_never_scores_zero(sandbox):
    """A worker process killed mid-run: the item is retried or answered None, never 0."""
    problem = problem_from_tests([{"args": [400_000], "expected": sum(range(400_000))}] * 3, "f")
    program = "def f(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n"
    scorer = RewardScorer(sandbox)
    killed = []

    def killer():
        time.sleep(0.3)
        for worker in sandbox._workers:
            if worker.process is not None and worker.process.poll() is None:
                os.killpg(worker.process.pid, signal.SIGKILL)
                killed.append(worker.index)
                return

    thread = threading.Thread(target=killer)
    thread.start()
    rewards = scorer.score_batch([RewardItem(problem, solution=program) for _ in range(8)])
    thread.join()
    assert killed
    assert all(r.value in (1.0, None) for r in rewards), [(r.value, r.status, r.reason) for r in rewards]
    assert all(r.reason for r in rewards if r.value is None)
    # the pool recovers
    assert scorer.score_batch([RewardItem(problem, solution=program)])[0].value == 1.0


# -------------------------------------------------------------------- TRL


def test_trl_signature_with_strings_and_chat_messages(sandbox, he0):
    reward_fn = trl_reward("correctness", benchmark="humaneval", scorer=RewardScorer(sandbox))
    assert reward_fn.__name__ == "assay_correctness"
    logged: dict = {}
    extra: dict = {}
    completions = [
        canonical_body(he0),
        [{"role": "assistant", "content": "```python\n" + he0.reference + "```"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "Here:\n"}, {"type": "text", "text": "```python\n" + he0.reference + "```"}]}],
        [{"role": "assistant", "content": "def has_close_elements(numbers, threshold):\n    return False\n"}],
        "no idea",
    ]
    values = reward_fn(
        prompts=["p"] * 5,
        completions=completions,
        completion_ids=[[1]] * 5,
        task_id=[HE0] * 5,
        trainer_state=object(),
        log_metric=lambda name, value: logged.__setitem__(name, value),
        log_extra=lambda column, vals: extra.__setitem__(column, vals),
    )
    assert values == [1.0, 1.0, 1.0, 0.0, -0.2]
    assert logged["assay_correctness/pass_rate"] == pytest.approx(0.6)
    assert logged["assay_correctness/no_code_rate"] == pytest.approx(0.2)
    assert logged["assay_correctness/infra_error_rate"] == 0.0
    assert extra["assay_correctness_status"] == ["pass", "pass", "pass", "fail", "no_code"]


def test_trl_inline_problems_from_columns(sandbox):
    reward_fn = trl_reward("fraction", scorer=RewardScorer(sandbox))
    problem = json.dumps(add_problem_json())
    values = reward_fn(
        prompts=["a", "b", "c"],
        completions=["```python\ndef add(a, b):\n    return a + b\n```", "```python\ndef add(a, b):\n    return a * b\n```", "no code here"],
        problem=[problem] * 3,
    )
    assert values == [1.0, pytest.approx(1 / 3), -0.2]
    tests = [{"args": [2], "expected": 4}]
    values = reward_fn(prompts=["x"], completions=["```python\ndef sq(x):\n    return x * x\n```"], tests=[tests], entry_point=["sq"])
    assert values == [1.0]


def test_trl_missing_problem_is_a_loud_error(sandbox):
    reward_fn = trl_reward("correctness", scorer=RewardScorer(sandbox))
    with pytest.raises(ProblemError, match="no benchmark"):
        reward_fn(prompts=["p"], completions=["x"], task_id=[HE0])
    with pytest.raises(ProblemError, match="unknown task_id"):
        trl_reward("correctness", benchmark="humaneval")(prompts=["p"], completions=["x"], task_id=["HumanEval/999"])


def test_completion_text_shapes():
    assert completion_text("abc") == "abc"
    assert completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]) == "a"
    assert completion_text({"role": "assistant", "content": "b"}) == "b"
    assert completion_text([]) == ""


def test_problem_for_row_precedence():
    row = {"problem": [add_problem_json()], "task_id": ["ignored"]}
    assert problem_for_row(row, 0).entry_point == "add"
    problem = problem_for_row({"task_id": [HE0], "benchmark": ["humaneval"]}, 0)
    assert problem.task_id == HE0


# ------------------------------------------------------------------- verl


def test_verl_compute_score(sandbox, he0):
    scorer = RewardScorer(sandbox)
    reply = "```python\n" + he0.reference + "```"
    assert compute_score("humaneval", reply, HE0, {}, scorer=scorer) == 1.0
    assert compute_score("humaneval", "```python\ndef has_close_elements(a, b):\n    return True\n```", HE0, scorer=scorer) == 0.0
    assert compute_score("anything", reply, json.dumps(add_problem_json()), scorer=scorer) == 0.0  # wrong problem: no 'add'
    details = compute_score_with_details("custom", "```python\ndef add(a, b):\n    return a + b\n```", add_problem_json(), scorer=scorer)
    assert details == {"score": 1.0, "acc": True, "fraction": 1.0, "status": "pass"}
    assert compute_score("custom", "```python\ndef add(a, b):\n    return a + b + (a == 2)\n```", add_problem_json(), kind="fraction", scorer=scorer) == pytest.approx(2 / 3)


def test_verl_apps_style_ground_truth(sandbox):
    scorer = RewardScorer(sandbox)
    call_truth = json.dumps({"fn_name": "pair", "inputs": [[1, 2], [3, 4]], "outputs": [[[1, 2]], [3, 4]]})
    assert compute_score("apps", "```python\ndef pair(a, b):\n    return (a, b)\n```", call_truth, scorer=scorer) == 1.0
    stdio_truth = {"inputs": ["1 2\n", "5 7\n"], "outputs": ["3\n", "12\n"]}
    program = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    assert compute_score("codecontests", program, stdio_truth, scorer=scorer) == 1.0
    assert compute_score("codecontests", program.replace("a + b", "a * b"), stdio_truth, kind="fraction", scorer=scorer) == 0.0


def test_verl_batch_in_order(sandbox, he0):
    reply_ok = "```python\n" + he0.reference + "```"
    out = compute_score_batch(["humaneval"] * 3, [reply_ok, "nope", reply_ok], [HE0] * 3, None, scorer=RewardScorer(sandbox))
    assert [d["score"] for d in out] == [1.0, -0.2, 1.0]


def test_verl_infra_failure_raises_or_nan(sandbox, he0, monkeypatch):
    monkeypatch.setattr(sandbox, "run", lambda *a, **k: (_ for _ in ()).throw(InfraError("simulated")))
    scorer = RewardScorer(sandbox)
    with pytest.raises(RewardInfraError, match="simulated"):
        compute_score("humaneval", canonical_body(he0), HE0, scorer=scorer)
    assert math.isnan(compute_score("humaneval", canonical_body(he0), HE0, on_infra_error="nan", scorer=scorer))


def test_verl_problem_errors():
    with pytest.raises(ProblemError, match="cannot find the problem"):
        verl_problem("unknown_source", "some id", None)
    with pytest.raises(ProblemError):
        problem_from_apps({"inputs": [1], "outputs": []})


# ------------------------------------------------------------ plain batch


def test_score_pairs_plain_batch(sandbox, he0):
    he2 = benchmark_problem("humaneval", "HumanEval/2")
    rewards = score_pairs(
        [(he0, canonical_body(he0)), (he2, "def truncate_number(x):\n    return x % 1.0\n"), (he0, WRONG_BODY)],
        scorer=RewardScorer(sandbox),
    )
    assert [r.value for r in rewards] == [1.0, 1.0, 0.0]
    rewards = score_pairs([(he2, "def truncate_number(x):\n    return 0.0\n")], as_solution=True, scorer=RewardScorer(sandbox))
    assert rewards[0].value == 0.0 and rewards[0].extraction == "solution"


def test_inline_problems_with_one_name_do_not_share_caches():
    a = problem_from_tests([{"args": [1], "expected": 1}], "f", task_id="same")
    b = problem_from_tests([{"args": [1], "expected": 2}], "f", task_id="same")
    assert a.task_id != b.task_id and a.task_id.startswith("same#")
    assert problem_from_tests([{"args": [1], "expected": 1}], "f", task_id="same") is a


def test_a_plain_problem_object_works(scorer):
    problem = Problem(task_id="plain/double", prompt="", entry_point="double", tests=(CallTest("t", (2,), 4),))
    (reward,) = scorer.score_batch([RewardItem(problem, solution="def double(x):\n    return 2 * x\n")])
    assert reward.value == 1.0 and reward.task_id == "plain/double"
