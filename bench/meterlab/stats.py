"""Robust statistics for repeated cost measurements (CPU time, wall time).

Timings are skewed and heavy-tailed: a repeat that was preempted or hit a
cold cache is far slower than the rest, never far faster. So assay uses
rank-based estimators and distribution-free confidence intervals, which need
no normality assumption:

* :func:`median` and :func:`median_ci` (order statistics, binomial(n, 1/2));
* :func:`pseudo_median` (one-sample Hodges-Lehmann: the median of the Walsh
  averages (x_i + x_j)/2, i <= j; this is exactly ENAMEL's ``calc_exec_time``)
  and :func:`pseudo_median_ci` (Wilcoxon signed-rank distribution);
* :func:`hodges_lehmann_shift` (two-sample: the median of all differences
  y_j - x_i) and :func:`shift_ci` (Moses' interval from the Mann-Whitney
  distribution);
* :func:`coefficient_of_variation`.

Exact null distributions are computed with integer generating functions for
small samples and a continuity-corrected normal approximation beyond
(:data:`EXACT_LIMIT`).

:func:`measure_interleaved` is the sequential controller: it alternates
candidate and reference repeats (ABBA order, so slow drift hits both alike)
and stops when the confidence interval of the cost ratio is narrow enough or
a budget (repeats or seconds) is spent.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from assay.measure.cost import Cost
from meterlab.names import CPU_TIME

# Above this many operations the exact rank distributions are replaced by a
# normal approximation (the exact ones cost O(m * m * n) integer additions).
EXACT_LIMIT = 4_000_000


@dataclass(frozen=True)
class Interval:
    """A confidence interval with the coverage it actually achieves.

    Distribution-free intervals have discrete coverage; ``confidence`` is the
    achieved level (>= ``requested`` whenever the sample is large enough; for
    tiny samples it is the best available and below ``requested``).
    """

    low: float
    high: float
    confidence: float
    requested: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0

    @property
    def adequate(self) -> bool:
        """True when the achieved coverage reaches the requested one."""
        return self.confidence + 1e-12 >= self.requested

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


def _check(xs: Sequence[float], name: str = "sample") -> list[float]:
    values = [float(x) for x in xs]
    if not values:
        raise ValueError(f"{name} is empty")
    if any(math.isnan(v) for v in values):
        raise ValueError(f"{name} contains NaN")
    return values


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


# ---------------------------------------------------------------- estimators


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(_check(xs)))


def walsh_averages(xs: Sequence[float]) -> list[float]:
    """All (x_i + x_j) / 2 for i <= j, sorted."""
    values = _check(xs)
    n = len(values)
    return sorted((values[i] + values[j]) / 2.0 for i in range(n) for j in range(i, n))


def pseudo_median(xs: Sequence[float]) -> float:
    """One-sample Hodges-Lehmann estimator: the median of the Walsh averages.

    Identical to ENAMEL's ``enam.evaluate.calc_exec_time`` (which halves the
    sample, adds it to its transpose and takes the median of the lower
    triangle including the diagonal).
    """
    return float(statistics.median(walsh_averages(xs)))


def pairwise_differences(x: Sequence[float], y: Sequence[float]) -> list[float]:
    """All y_j - x_i, sorted."""
    xs, ys = _check(x, "x"), _check(y, "y")
    return sorted(b - a for a in xs for b in ys)


def hodges_lehmann_shift(x: Sequence[float], y: Sequence[float]) -> float:
    """Two-sample Hodges-Lehmann estimator of the shift of ``y`` relative to ``x``.

    The median of all pairwise differences ``y_j - x_i``. Positive means ``y``
    is larger (slower, for costs).
    """
    return float(statistics.median(pairwise_differences(x, y)))


def coefficient_of_variation(xs: Sequence[float]) -> float:
    """Sample standard deviation (n - 1) over the mean; 0 for one value."""
    values = _check(xs)
    if len(values) < 2:
        return 0.0
    mean = statistics.fmean(values)
    sd = statistics.stdev(values)
    if mean == 0:
        return 0.0 if sd == 0 else math.inf
    return sd / abs(mean)


def relative_spread(interval: Interval, center: float) -> float:
    """Half-width of ``interval`` relative to ``center``."""
    if center == 0:
        return 0.0 if interval.half_width == 0 else math.inf
    return interval.half_width / abs(center)


# ----------------------------------------------------- exact rank distributions


def binomial_half_cdf(k: int, n: int) -> float:
    """P(B <= k) for B ~ Binomial(n, 1/2)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    total = sum(math.comb(n, i) for i in range(k + 1))
    return total / 2**n


def signed_rank_counts(n: int) -> list[int]:
    """Counts of the Wilcoxon signed-rank statistic T+ for n untied values.

    Coefficients of prod_{i=1..n} (1 + q^i); they sum to 2^n.
    """
    top = n * (n + 1) // 2
    counts = [0] * (top + 1)
    counts[0] = 1
    reach = 0
    for i in range(1, n + 1):
        reach += i
        for k in range(reach, i - 1, -1):
            counts[k] += counts[k - i]
    return counts


def mann_whitney_counts(m: int, n: int) -> list[int]:
    """Counts of the Mann-Whitney statistic U (pairs x_i < y_j), untied.

    Coefficients of the Gaussian binomial [m+n choose m]_q; they sum to
    C(m+n, m).
    """
    if m > n:
        m, n = n, m
    top = m * n
    counts = [0] * (top + 1)
    counts[0] = 1
    for i in range(1, m + 1):
        # multiply by (1 - q^(n+i))
        step = n + i
        for k in range(top, step - 1, -1):
            counts[k] -= counts[k - step]
        # divide by (1 - q^i): the quotient is a polynomial of degree <= top
        for k in range(i, top + 1):
            counts[k] += counts[k - i]
    return counts


def _lower_rank(cdf_at: Callable[[int], float], alpha_half: float, limit: int) -> tuple[int, float]:
    """Largest k >= 1 with P(S <= k - 1) <= alpha/2, and that tail probability.

    If even k = 1 exceeds alpha/2 (sample too small), returns k = 1 and its
    tail, so the caller gets the widest available interval and an honest,
    lower achieved confidence.
    """
    k = 1
    tail = cdf_at(0)
    while k < limit:
        nxt = cdf_at(k)
        if nxt > alpha_half:
            break
        k += 1
        tail = nxt
    return k, tail


def _normal_quantile(p: float) -> float:
    return statistics.NormalDist().inv_cdf(p)


def _interval_from_order(sorted_values: list[float], k: int, tail: float, requested: float) -> Interval:
    n = len(sorted_values)
    k = max(1, min(k, (n + 1) // 2))
    return Interval(
        low=sorted_values[k - 1],
        high=sorted_values[n - k],
        confidence=max(0.0, 1.0 - 2.0 * tail),
        requested=requested,
    )


# ------------------------------------------------------ confidence intervals


def median_ci(xs: Sequence[float], confidence: float = 0.95) -> Interval:
    """Distribution-free CI for the median from order statistics."""
    _check_confidence(confidence)
    values = sorted(_check(xs))
    n = len(values)
    alpha_half = (1.0 - confidence) / 2.0
    if n <= 1000:
        k, tail = _lower_rank(lambda j: binomial_half_cdf(j, n), alpha_half, (n + 1) // 2)
    else:
        z = _normal_quantile(1.0 - alpha_half)
        k = max(1, int(math.floor(n / 2.0 - z * math.sqrt(n) / 2.0)))
        tail = alpha_half
    return _interval_from_order(values, k, tail, confidence)


def pseudo_median_ci(xs: Sequence[float], confidence: float = 0.95) -> Interval:
    """CI for the one-sample Hodges-Lehmann estimator (Walsh averages)."""
    _check_confidence(confidence)
    walsh = walsh_averages(xs)
    n = len(_check(xs))
    big_n = len(walsh)
    alpha_half = (1.0 - confidence) / 2.0
    if n * big_n <= EXACT_LIMIT:
        counts = signed_rank_counts(n)
        total = 2**n
        cumulative: list[int] = []
        running = 0
        for c in counts:
            running += c
            cumulative.append(running)
        k, tail = _lower_rank(lambda j: cumulative[j] / total, alpha_half, (big_n + 1) // 2)
    else:
        z = _normal_quantile(1.0 - alpha_half)
        mean = n * (n + 1) / 4.0
        sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
        k = max(1, int(math.floor(mean - z * sd + 0.5)))
        tail = alpha_half
    return _interval_from_order(walsh, k, tail, confidence)


def shift_ci(x: Sequence[float], y: Sequence[float], confidence: float = 0.95) -> Interval:
    """Moses' distribution-free CI for the Hodges-Lehmann shift of y relative to x."""
    _check_confidence(confidence)
    diffs = pairwise_differences(x, y)
    m, n = len(x), len(y)
    total_pairs = m * n
    alpha_half = (1.0 - confidence) / 2.0
    if min(m, n) * total_pairs <= EXACT_LIMIT:
        counts = mann_whitney_counts(m, n)
        total = math.comb(m + n, m)
        cumulative: list[int] = []
        running = 0
        for c in counts:
            running += c
            cumulative.append(running)
        k, tail = _lower_rank(lambda j: cumulative[j] / total, alpha_half, (total_pairs + 1) // 2)
    else:
        z = _normal_quantile(1.0 - alpha_half)
        mean = m * n / 2.0
        sd = math.sqrt(m * n * (m + n + 1) / 12.0)
        k = max(1, int(math.floor(mean - z * sd + 0.5)))
        tail = alpha_half
    return _interval_from_order(diffs, k, tail, confidence)


# ------------------------------------------------------------ summaries


def summarize(
    samples: Sequence[float],
    *,
    meter: str,
    unit: str,
    confidence: float = 0.95,
) -> Cost:
    """A :class:`Cost` from repeats: Hodges-Lehmann value, CI half-width as spread."""
    values = _check(samples)
    if len(values) == 1:
        return Cost(values[0], unit, meter, 0.0, 1)
    center = pseudo_median(values)
    interval = pseudo_median_ci(values, confidence)
    spread = max(center - interval.low, interval.high - center)
    return Cost(center, unit, meter, spread, len(values))


# ------------------------------------------------- sequential controller


@dataclass(frozen=True)
class StopRule:
    """When :func:`measure_interleaved` may stop.

    It stops as soon as, with at least ``min_repeats`` per side, the
    ``confidence`` interval of candidate/reference is within a factor
    ``1 +- target_relative_half_width`` of its estimate; or when
    ``max_repeats`` per side or ``max_seconds`` of measuring are spent.
    """

    target_relative_half_width: float = 0.02
    confidence: float = 0.95
    min_repeats: int = 6
    max_repeats: int = 60
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        _check_confidence(self.confidence)
        if self.target_relative_half_width <= 0:
            raise ValueError("target_relative_half_width must be > 0")
        if not 1 <= self.min_repeats <= self.max_repeats:
            raise ValueError("need 1 <= min_repeats <= max_repeats")


@dataclass(frozen=True)
class PairedMeasurement:
    """Candidate and reference costs measured interleaved, and their ratio."""

    candidate: Cost
    reference: Cost
    ratio: float  # candidate / reference (exp of the HL shift of log costs)
    ratio_interval: Interval
    repeats: int  # per side
    stop_reason: str  # "converged" | "max_repeats" | "max_seconds"
    candidate_samples: tuple[float, ...] = field(repr=False, default=())
    reference_samples: tuple[float, ...] = field(repr=False, default=())

    @property
    def relative_half_width(self) -> float:
        return _log_interval_relative_half_width(self.ratio_interval, self.ratio)


_TINY = 1e-12


def _log_ratio(candidate: list[float], reference: list[float], confidence: float) -> tuple[float, Interval]:
    log_c = [math.log(max(v, _TINY)) for v in candidate]
    log_r = [math.log(max(v, _TINY)) for v in reference]
    shift = hodges_lehmann_shift(log_r, log_c)
    ci = shift_ci(log_r, log_c, confidence)
    ratio_ci = Interval(math.exp(ci.low), math.exp(ci.high), ci.confidence, ci.requested)
    return math.exp(shift), ratio_ci


def _log_interval_relative_half_width(interval: Interval, ratio: float) -> float:
    if ratio <= 0 or interval.low <= 0:
        return math.inf
    return max(interval.high / ratio - 1.0, 1.0 - interval.low / ratio)


def measure_interleaved(
    run_candidate: Callable[[], float],
    run_reference: Callable[[], float],
    rule: StopRule = StopRule(),
    *,
    meter: str = CPU_TIME,
    unit: str = "s",
    clock: Callable[[], float] = time.monotonic,
) -> PairedMeasurement:
    """Alternate candidate and reference repeats until the ratio is known well enough.

    ``run_candidate`` / ``run_reference`` each perform one repeat and return
    its cost (e.g. CPU seconds read from the kernel by the sandbox). Order is
    ABBA (c r, r c, c r, ...). The ratio is exp of the two-sample
    Hodges-Lehmann shift of the log costs, with Moses' interval; its relative
    half-width is compared to ``rule.target_relative_half_width``.
    """
    start = clock()
    cand: list[float] = []
    ref: list[float] = []
    reason = "max_repeats"
    ratio, interval = 1.0, Interval(0.0, math.inf, 0.0, rule.confidence)
    for i in range(rule.max_repeats):
        order = ((run_candidate, cand), (run_reference, ref))
        for fn, bucket in order if i % 2 == 0 else order[::-1]:
            value = float(fn())
            if math.isnan(value) or value < 0:
                raise ValueError(f"a repeat returned an invalid cost {value!r}")
            bucket.append(value)
        if len(cand) >= rule.min_repeats:
            ratio, interval = _log_ratio(cand, ref, rule.confidence)
            if (
                interval.adequate
                and _log_interval_relative_half_width(interval, ratio) <= rule.target_relative_half_width
            ):
                reason = "converged"
                break
        if rule.max_seconds is not None and clock() - start >= rule.max_seconds:
            reason = "max_seconds"
            break
    if len(cand) < rule.min_repeats:
        ratio, interval = _log_ratio(cand, ref, rule.confidence)
    return PairedMeasurement(
        candidate=summarize(cand, meter=meter, unit=unit, confidence=rule.confidence),
        reference=summarize(ref, meter=meter, unit=unit, confidence=rule.confidence),
        ratio=ratio,
        ratio_interval=interval,
        repeats=len(cand),
        stop_reason=reason,
        candidate_samples=tuple(cand),
        reference_samples=tuple(ref),
    )
