"""Reward functions: a sandbox verdict (and a cost) in, one number out.

Every formula is written out in ``docs/rewards.md``; the parameters live in
:class:`RewardSpec`. The rules that hold for every kind:

* ``value is None`` means *no reward could be computed* and ``reason`` says
  why (an infrastructure failure of the sandbox, a missing reference cost).
  It is never folded into 0: a trainer must drop such a sample, not punish it.
* a completion from which no code can be extracted gets ``-format_penalty``
  (the *format penalty*), whatever the kind.
* otherwise the value is in [0, 1].

Kinds:

``correctness``
    1 if every test passes, else 0 (all-or-nothing).
``fraction``
    the fraction of tests passed; run with ``continue_after_fatal`` so one
    test that times out or crashes does not take the remaining tests with it.
``efficiency``
    gated on correctness: 0 unless every test passes; a correct program gets
    ``floor + (1 - floor) * (1 + clip(log(C_ref / C) / log(R), -1, 1)) / 2``
    where ``C`` and ``C_ref`` are the candidate's and the reference's cost on
    the same tests under one meter (see :mod:`assay.measure.problem_cost`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from assay.sandbox.judge import RunPolicy
from assay.sandbox.verdict import SampleResult, Status

RewardKind = Literal["correctness", "fraction", "efficiency"]
KINDS: tuple[str, ...] = ("correctness", "fraction", "efficiency")

# Statuses of a Reward beyond the sandbox's own (Status values).
NO_CODE = "no_code"
NOT_SCORED = "not_scored"  # a reward that needs something we lack (e.g. a reference cost)
SHUTDOWN = "shutdown"  # accepted but not run: the service stopped first


@dataclass(frozen=True)
class RewardSpec:
    """Which reward, and its parameters (documented in docs/rewards.md).

    ``format_penalty``: the reward of a completion with no extractable code is
    ``-format_penalty`` (0 turns the penalty off).
    ``max_speedup`` (R): the speed-up (or slow-down) at which the efficiency
    term saturates; a candidate R times cheaper than the reference gets the
    top reward, R times dearer the bottom of the correct range.
    ``correct_floor``: the smallest reward a *correct* program can get under
    ``efficiency``, so correct-but-slow always beats wrong (0 turns it off).
    ``meter``: the cost meter's name (see :func:`assay.measure.meters.make_meter`).
    ``reference_repeats``: runs of the reference whose median cost is its cost.
    ``min_cost_ns``: costs are floored here before the ratio, so a cost of 0
    (a meter's resolution) cannot make the ratio infinite.
    ``stop_at_first_failure``: under ``correctness`` and ``efficiency`` the
    tests after a program's first failing test are not run (they cannot
    change its reward; ``tests_passed`` then counts up to there). ``fraction``
    always runs every test.
    """

    kind: RewardKind = "correctness"
    format_penalty: float = 0.2
    max_speedup: float = 4.0
    correct_floor: float = 0.5
    meter: str = "instructions"
    reference_repeats: int = 3
    min_cost_ns: float = 1000.0
    stop_at_first_failure: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown reward kind {self.kind!r}: give one of {', '.join(KINDS)}")
        if not (self.format_penalty >= 0 and math.isfinite(self.format_penalty)):
            raise ValueError("format_penalty must be a finite number >= 0")
        if not (self.max_speedup > 1 and math.isfinite(self.max_speedup)):
            raise ValueError("max_speedup must be a finite number > 1")
        if not 0 <= self.correct_floor < 1:
            raise ValueError("correct_floor must be in [0, 1)")
        if self.reference_repeats < 1:
            raise ValueError("reference_repeats must be >= 1")
        if not self.min_cost_ns > 0:
            raise ValueError("min_cost_ns must be > 0")
        if not isinstance(self.stop_at_first_failure, bool):
            raise ValueError("stop_at_first_failure must be true or false")

    @property
    def policy(self) -> RunPolicy:
        """How the sandbox goes on after a failing test: only ``fraction`` needs every test run."""
        if self.kind == "fraction":
            return RunPolicy(continue_after_fatal=True)
        return RunPolicy(stop_at_first_failure=self.stop_at_first_failure)

    def with_params(self, params: dict[str, Any] | None) -> "RewardSpec":
        """A copy with ``params`` (from JSON) applied; unknown names are errors."""
        if not params:
            return self
        known = {f.name for f in fields(self)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown reward parameters: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return replace(self, **params)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Reward:
    """One sample's reward, and the evidence behind it.

    ``value`` is None exactly when no reward could be computed; ``reason``
    then says why. ``status`` is the sandbox's worst test status
    (``pass``, ``fail``, ``timeout``, ..., ``infra_error``) or one of
    ``no_code``, ``not_scored``, ``shutdown``.
    """

    value: float | None
    kind: str
    status: str
    reason: str | None = None
    task_id: str | None = None
    passed: bool | None = None
    tests_passed: int = 0
    tests_total: int = 0
    extraction: str | None = None  # how the code was found (extract_code's method), or "solution"
    cost: dict[str, Any] | None = None  # efficiency only: candidate / reference costs, meter
    result: SampleResult | None = field(default=None, repr=False)
    id: Any = None  # the caller's id for this item, echoed back

    @property
    def is_infra_error(self) -> bool:
        return self.value is None

    def to_dict(self, details: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "reward": self.value,
            "kind": self.kind,
            "status": self.status,
            "task_id": self.task_id,
            "passed": self.passed,
            "tests_passed": self.tests_passed,
            "tests_total": self.tests_total,
        }
        if self.id is not None:
            data["id"] = self.id
        if self.reason:
            data["reason"] = self.reason
        if self.extraction:
            data["extraction"] = self.extraction
        if self.cost is not None:
            data["cost"] = self.cost
        if details and self.result is not None:
            verdicts = self.result.to_dict()
            data["tests"] = verdicts["tests"]
            if "load" in verdicts:
                data["load"] = verdicts["load"]
            if "infra_message" in verdicts:
                data["infra_message"] = verdicts["infra_message"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Reward":
        """Rebuild a Reward from :meth:`to_dict` output (without the SampleResult)."""
        return cls(
            value=data.get("reward"),
            kind=data.get("kind", "correctness"),
            status=data.get("status", ""),
            reason=data.get("reason"),
            task_id=data.get("task_id"),
            passed=data.get("passed"),
            tests_passed=int(data.get("tests_passed", 0)),
            tests_total=int(data.get("tests_total", 0)),
            extraction=data.get("extraction"),
            cost=data.get("cost"),
            id=data.get("id"),
        )


# ---------------------------------------------------------------- formulas


def correctness_value(result: SampleResult) -> float:
    """1 if every test passed, else 0."""
    return 1.0 if result.passed else 0.0


def fraction_value(result: SampleResult) -> float:
    """Tests passed / tests (a program that fails to load passes none)."""
    return result.fraction_passed


def efficiency_value(candidate_cost: float, reference_cost: float, spec: RewardSpec) -> float:
    """The efficiency reward of a *correct* program (see docs/rewards.md).

    ``e = (1 + clip(log(C_ref / C) / log(R), -1, 1)) / 2`` in [0, 1], 1/2 when
    the candidate costs as much as the reference; the reward is
    ``floor + (1 - floor) * e``.
    """
    c = max(float(candidate_cost), spec.min_cost_ns)
    r = max(float(reference_cost), spec.min_cost_ns)
    s = math.log(r / c) / math.log(spec.max_speedup) if math.isfinite(c) else -1.0
    e = (1.0 + min(1.0, max(-1.0, s))) / 2.0
    return spec.correct_floor + (1.0 - spec.correct_floor) * e


def no_code_reward(spec: RewardSpec, task_id: str | None, extraction: str | None, item_id: Any = None) -> Reward:
    return Reward(
        value=-spec.format_penalty if spec.format_penalty else 0.0,
        kind=spec.kind,
        status=NO_CODE,
        reason="no code could be extracted from the completion",
        task_id=task_id,
        passed=False,
        extraction=extraction,
        id=item_id,
    )


def infra_reward(spec: RewardSpec, task_id: str | None, reason: str, result: SampleResult | None = None, item_id: Any = None, status: str = Status.INFRA_ERROR.value) -> Reward:
    """No reward: the failure is ours, not the candidate's."""
    return Reward(value=None, kind=spec.kind, status=status, reason=reason, task_id=task_id, result=result, id=item_id)


def infra_reason(result: SampleResult) -> str:
    if result.infra_message:
        return result.infra_message
    for verdict in result.tests:
        if verdict.status is Status.INFRA_ERROR and verdict.message:
            return verdict.message
    return "the sandbox failed (infrastructure error)"


def verdict_reward(result: SampleResult, spec: RewardSpec, *, extraction: str | None = None, item_id: Any = None) -> Reward:
    """The correctness or fraction reward of a sandbox result (efficiency needs costs: see scoring)."""
    if result.is_infra_error:
        return infra_reward(spec, result.task_id, infra_reason(result), result, item_id)
    value = fraction_value(result) if spec.kind == "fraction" else correctness_value(result)
    return Reward(
        value=value,
        kind=spec.kind,
        status=result.status.value,
        task_id=result.task_id,
        passed=result.passed,
        tests_passed=sum(t.passed for t in result.tests),
        tests_total=len(result.tests),
        extraction=extraction,
        result=result,
        id=item_id,
    )
