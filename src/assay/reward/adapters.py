"""Thin adapters from trainers' reward signatures to :class:`RewardScorer`.

TRL
    ``trl_reward(kind, benchmark=...)`` returns a callable
    ``f(prompts, completions, **columns) -> list[float | None]`` for
    ``GRPOTrainer(reward_funcs=[...])``. Completions may be strings or chat
    messages. Each row's problem comes from its dataset columns (see
    :func:`problem_for_row`). ``None`` (an infrastructure failure) becomes NaN
    in TRL and is left out of that sample's reward, never scored as 0.

verl
    ``compute_score(data_source, solution_str, ground_truth, extra_info)``
    for ``custom_reward_function``; ``compute_score_batch`` for verl's
    ``batch`` reward manager (the whole batch at once, in parallel).

Plain Python
    :func:`assay.reward.scoring.score_pairs` over (problem, completion) pairs.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Iterable, Mapping, Sequence

from assay.problems.model import Problem
from assay.problems.registry import is_benchmark_name
from assay.reward.functions import KINDS, Reward, RewardSpec
from assay.reward.resolve import (
    ProblemError,
    benchmark_problem,
    inline_problem,
    looks_like_apps,
    problem_from_apps,
    problem_from_tests,
)
from assay.reward.scoring import RewardItem, RewardScorer, default_scorer

# TRL passes these to every reward function; they are not dataset columns.
_TRL_KEYWORDS = {"completion_ids", "trainer_state", "log_extra", "log_metric", "environments"}


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or the last assistant turn of chat messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return _content_text(completion.get("content"))
    if isinstance(completion, Sequence):
        messages = [m for m in completion if isinstance(m, Mapping)]
        assistant = [m for m in messages if m.get("role", "assistant") == "assistant"]
        chosen = assistant or messages
        if chosen:
            return _content_text(chosen[-1].get("content"))
        return ""
    raise TypeError(f"a completion must be a string or a list of chat messages, found {type(completion).__name__}")


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # content parts: [{"type": "text", "text": ...}]
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping) and part.get("type", "text") == "text")
    return str(content)


def problem_for_row(columns: Mapping[str, Any], index: int, benchmark: str | None = None, problems: Mapping[str, Problem] | None = None) -> Problem:
    """The problem of row ``index`` from dataset columns (each a list, one value per row).

    In order of precedence:

    * ``problem``: an assay problem (a Problem, a dict or JSON text in the
      JSONL problem format);
    * ``tests`` (+ ``entry_point``, optional ``starter_code``, ``reference``,
      ``task_id``): tests in the JSONL test format, inline;
    * ``task_id``: looked up in ``problems``, or in the benchmark given to
      the adapter or in a ``benchmark`` column.
    """

    def column(name: str) -> Any:
        values = columns.get(name)
        if values is None:
            return None
        return values[index] if isinstance(values, (list, tuple)) else values

    problem = column("problem")
    if problem is not None:
        return inline_problem(problem)
    tests = column("tests")
    if tests is not None:
        tests = _as_data(tests)
        if looks_like_apps(tests):
            return problem_from_apps(tests, column("task_id") or "inline")
        return problem_from_tests(tests, column("entry_point"), task_id=column("task_id"), prompt=column("starter_code"), reference=column("reference"))
    task_id = column("task_id")
    if task_id is not None:
        if problems is not None:
            try:
                return problems[task_id]
            except KeyError:
                raise ProblemError(f"unknown task_id {task_id!r}") from None
        name = benchmark or column("benchmark")
        if not name:
            raise ProblemError("rows name a task_id but no benchmark: pass benchmark= to the adapter or add a 'benchmark' column")
        return benchmark_problem(name, task_id)
    raise ProblemError("no problem for this row: the dataset needs a 'problem' column, 'tests' + 'entry_point' columns, or a 'task_id' column with a benchmark")


# -------------------------------------------------------------------- TRL


class TRLReward:
    """A reward function with TRL's signature (see :func:`trl_reward`)."""

    def __init__(
        self,
        kind: str = "correctness",
        *,
        benchmark: str | None = None,
        problems: Iterable[Problem] | Mapping[str, Problem] | None = None,
        spec: RewardSpec | None = None,
        scorer: RewardScorer | None = None,
        name: str | None = None,
        log_to_trainer: bool = True,
    ) -> None:
        self.spec = spec or RewardSpec(kind=kind)  # type: ignore[arg-type]
        self.benchmark = benchmark
        if problems is not None and not isinstance(problems, Mapping):
            problems = {p.task_id: p for p in problems}
        self.problems = problems
        self._scorer = scorer
        self.log_to_trainer = log_to_trainer
        # TRL logs each reward function under its __name__.
        self.__name__ = name or f"assay_{self.spec.kind}"

    @property
    def scorer(self) -> RewardScorer:
        return self._scorer or default_scorer()

    def items(self, completions: Sequence[Any], columns: Mapping[str, Any]) -> list[RewardItem]:
        data_columns = {k: v for k, v in columns.items() if k not in _TRL_KEYWORDS}
        return [
            RewardItem(problem_for_row(data_columns, i, self.benchmark, self.problems), completion=completion_text(c))
            for i, c in enumerate(completions)
        ]

    def rewards(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, **columns: Any) -> list[Reward]:
        """Full Reward objects (status, reason, test verdicts) for the batch."""
        if completions is None:
            raise TypeError("the reward function needs completions")
        return self.scorer.score_batch(self.items(completions, columns), self.spec)

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, **columns: Any) -> list[float | None]:
        rewards = self.rewards(prompts, completions, **columns)
        if self.log_to_trainer:
            self._log(rewards, columns)
        return [r.value for r in rewards]

    def _log(self, rewards: list[Reward], columns: Mapping[str, Any]) -> None:
        log_metric, log_extra = columns.get("log_metric"), columns.get("log_extra")
        n = max(1, len(rewards))
        if callable(log_metric):
            log_metric(f"{self.__name__}/infra_error_rate", sum(r.value is None for r in rewards) / n)
            log_metric(f"{self.__name__}/no_code_rate", sum(r.status == "no_code" for r in rewards) / n)
            log_metric(f"{self.__name__}/pass_rate", sum(bool(r.passed) for r in rewards) / n)
        if callable(log_extra):
            log_extra(f"{self.__name__}_status", [r.status for r in rewards])


def trl_reward(kind: str = "correctness", **options: Any) -> TRLReward:
    """A TRL reward function: ``GRPOTrainer(reward_funcs=[trl_reward("correctness", benchmark="humaneval")])``."""
    return TRLReward(kind, **options)


# Ready-made TRL reward functions; the dataset must carry the problem (a
# ``problem`` column, ``tests`` + ``entry_point``, or ``task_id`` + ``benchmark``).
correctness_reward = TRLReward("correctness", name="assay_correctness")
fraction_reward = TRLReward("fraction", name="assay_fraction")
efficiency_reward = TRLReward("efficiency", name="assay_efficiency")


# -------------------------------------------------------------------- verl


class RewardInfraError(RuntimeError):
    """No reward could be computed (the sandbox failed); raised where a trainer cannot take None."""


def _as_data(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{") or text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return value
    if hasattr(value, "tolist") and not isinstance(value, (str, Mapping)):  # numpy arrays in verl batches
        return value.tolist()
    return value


def verl_problem(data_source: str | None, ground_truth: Any, extra_info: Mapping[str, Any] | None = None) -> Problem:
    """The problem a verl sample is about.

    * ``extra_info["problem"]``: an assay problem (dict or JSON);
    * ``ground_truth`` as an assay problem (has ``tests``), or APPS / PRIME
      test cases (``inputs`` / ``outputs`` [/ ``fn_name``], as JSON text or a dict);
    * ``ground_truth`` as a task id of the benchmark named by ``data_source``
      (e.g. ``"humaneval"``) or by ``extra_info["benchmark"]``.
    """
    extra = dict(extra_info or {})
    if extra.get("problem") is not None:
        return inline_problem(_as_data(extra["problem"]))
    truth = _as_data(ground_truth)
    if isinstance(truth, Mapping):
        if looks_like_apps(truth):
            return problem_from_apps(truth, str(extra.get("task_id") or data_source or "apps"))
        if "tests" in truth:
            return inline_problem(truth)
        raise ProblemError("ground_truth is an object with neither 'tests' nor 'inputs'/'outputs'")
    benchmark = extra.get("benchmark") or data_source
    task_id = extra.get("task_id") or truth
    if isinstance(task_id, str) and benchmark and is_benchmark_name(str(benchmark)):
        return benchmark_problem(str(benchmark).lower(), task_id)
    if isinstance(task_id, str) and benchmark and os.path.isfile(str(benchmark)):
        return benchmark_problem(str(benchmark), task_id)
    raise ProblemError(
        f"cannot find the problem for data_source={data_source!r}: give ground_truth as assay problem JSON or "
        "APPS-style test cases, or a task id with a benchmark name in data_source or extra_info['benchmark']"
    )


def _verl_spec(kind: str | None, params: Mapping[str, Any]) -> RewardSpec:
    kind = kind or os.environ.get("ASSAY_REWARD_KIND", "correctness")
    if kind not in KINDS:
        raise ValueError(f"unknown reward kind {kind!r}")
    return RewardSpec(kind=kind).with_params(dict(params))  # type: ignore[arg-type]


def _on_infra(reward: Reward, on_infra_error: str | None) -> float:
    mode = on_infra_error or os.environ.get("ASSAY_VERL_ON_INFRA_ERROR", "raise")
    if mode == "nan":
        return math.nan
    raise RewardInfraError(f"no reward for {reward.task_id}: {reward.reason}")


def compute_score_with_details(
    data_source: str | None,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    kind: str | None = None,
    on_infra_error: str | None = None,
    scorer: RewardScorer | None = None,
    **params: Any,
) -> dict[str, Any]:
    """verl's dict form: ``score`` plus ``acc`` (passed), ``fraction`` and ``status``.

    verl keeps the extra keys in ``reward_extra_info``. An infrastructure
    failure raises :class:`RewardInfraError` (verl cannot take None) unless
    ``on_infra_error="nan"`` or ``ASSAY_VERL_ON_INFRA_ERROR=nan``.
    """
    spec = _verl_spec(kind, params)
    item = RewardItem(verl_problem(data_source, ground_truth, extra_info), completion=solution_str)
    reward = (scorer or default_scorer()).score(item, spec)
    return _verl_dict(reward, on_infra_error)


def _verl_dict(reward: Reward, on_infra_error: str | None) -> dict[str, Any]:
    score = reward.value if reward.value is not None else _on_infra(reward, on_infra_error)
    fraction = reward.tests_passed / reward.tests_total if reward.tests_total else 0.0
    return {"score": float(score), "acc": bool(reward.passed), "fraction": fraction, "status": reward.status}


def compute_score(
    data_source: str | None,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **options: Any,
) -> float:
    """verl's ``custom_reward_function`` signature; returns the reward as a float.

    Options (verl's ``custom_reward_function.reward_kwargs``): ``kind``
    (``correctness``, ``fraction``, ``efficiency``; default from
    ``ASSAY_REWARD_KIND`` or ``correctness``), ``on_infra_error``
    (``raise`` or ``nan``) and any :class:`RewardSpec` parameter.
    """
    return compute_score_with_details(data_source, solution_str, ground_truth, extra_info, **options)["score"]


def compute_score_batch(
    data_sources: Sequence[str | None],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    *,
    kind: str | None = None,
    on_infra_error: str | None = None,
    scorer: RewardScorer | None = None,
    **params: Any,
) -> list[dict[str, Any]]:
    """For verl's ``batch`` reward manager: the whole batch in parallel, in order."""
    spec = _verl_spec(kind, params)
    infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    items = [
        RewardItem(verl_problem(source, truth, info), completion=solution)
        for source, solution, truth, info in zip(data_sources, solution_strs, ground_truths, infos, strict=True)
    ]
    rewards = (scorer or default_scorer()).score_batch(items, spec)
    return [_verl_dict(r, on_infra_error) for r in rewards]
