"""Robust statistics, Cost, and the sequential interleaving controller."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.measure import stats
from assay.measure.cost import CPU_TIME, VALGRIND_INSTRUCTIONS, Cost, MeterMismatch, same_meter
from assay.measure.stats import (
    Interval,
    StopRule,
    binomial_half_cdf,
    coefficient_of_variation,
    hodges_lehmann_shift,
    mann_whitney_counts,
    measure_interleaved,
    median,
    median_ci,
    pseudo_median,
    pseudo_median_ci,
    shift_ci,
    signed_rank_counts,
    summarize,
)

samples = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=30)


# ---------------------------------------------------------------- Cost


def test_cost_refuses_comparison_across_meters_and_units():
    a = Cost(1.0, "s", CPU_TIME)
    b = Cost(2.0, "instructions", VALGRIND_INSTRUCTIONS)
    for op in (lambda: a < b, lambda: a <= b, lambda: a > b, lambda: a >= b, lambda: a.ratio_to(b)):
        with pytest.raises(MeterMismatch):
            op()
    with pytest.raises(MeterMismatch):
        Cost(1.0, "s", CPU_TIME) < Cost(1.0, "ms", CPU_TIME)
    with pytest.raises(MeterMismatch):
        same_meter([a, a, b])
    assert a < Cost(2.0, "s", CPU_TIME)
    assert Cost(3.0, "s", CPU_TIME).ratio_to(Cost(1.5, "s", CPU_TIME)) == 2.0


def test_cost_validates_and_round_trips():
    with pytest.raises(ValueError):
        Cost(1.0, "s", "")
    with pytest.raises(ValueError):
        Cost(1.0, "s", CPU_TIME, spread=-1)
    with pytest.raises(ValueError):
        Cost(1.0, "s", CPU_TIME, repeats=0)
    c = Cost(2.0, "s", CPU_TIME, 0.1, 7)
    assert Cost.from_dict(c.to_dict()) == c
    assert c.relative_spread == pytest.approx(0.05)


# ---------------------------------------------------------- estimators


@settings(deadline=None)
@given(st.lists(st.floats(0, 1e3, allow_nan=False), min_size=1, max_size=25))
def test_pseudo_median_is_enam_calc_exec_time(xs):
    enam = pytest.importorskip("enam")
    assert pseudo_median(xs) == pytest.approx(float(enam.calc_exec_time(xs)), rel=1e-12, abs=1e-12)


@settings(deadline=None)
@given(samples, st.floats(-1e3, 1e3, allow_nan=False))
def test_hl_shift_recovers_an_exact_shift(xs, delta):
    ys = [x + delta for x in xs]
    assert hodges_lehmann_shift(xs, ys) == pytest.approx(delta, abs=1e-6)
    assert pseudo_median(ys) == pytest.approx(pseudo_median(xs) + delta, abs=1e-6)


def test_estimators_resist_outliers():
    xs = [1.0, 1.1, 0.9, 1.05, 0.95, 1000.0]
    assert median(xs) == pytest.approx(1.025)
    assert pseudo_median(xs) < 1.2
    assert hodges_lehmann_shift([1.0, 1.0, 1.0, 1e9], [2.0, 2.0, 2.0, 2.0]) == pytest.approx(1.0)


def test_coefficient_of_variation():
    assert coefficient_of_variation([5.0] * 10) == 0.0
    assert coefficient_of_variation([1.0, 3.0]) == pytest.approx(statistics.stdev([1.0, 3.0]) / 2.0)
    assert coefficient_of_variation([7.0]) == 0.0


# --------------------------------------------------- exact distributions


@pytest.mark.parametrize("m,n", [(1, 1), (2, 3), (3, 3), (4, 2), (5, 4)])
def test_mann_whitney_counts_match_enumeration(m, n):
    counts = [0] * (m * n + 1)
    for x_positions in itertools.combinations(range(m + n), m):
        xs = set(x_positions)
        ys = [p for p in range(m + n) if p not in xs]
        u = sum(1 for x in xs for y in ys if x < y)
        counts[u] += 1
    assert mann_whitney_counts(m, n) == counts
    assert sum(mann_whitney_counts(m, n)) == math.comb(m + n, m)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_signed_rank_counts_match_enumeration(n):
    counts = [0] * (n * (n + 1) // 2 + 1)
    for signs in itertools.product([0, 1], repeat=n):
        counts[sum(r for r, s in zip(range(1, n + 1), signs) if s)] += 1
    assert signed_rank_counts(n) == counts


def test_binomial_half_cdf():
    assert binomial_half_cdf(2, 4) == pytest.approx((1 + 4 + 6) / 16)
    assert binomial_half_cdf(-1, 4) == 0.0 and binomial_half_cdf(4, 4) == 1.0


# -------------------------------------------------- confidence intervals


def test_intervals_report_achieved_coverage():
    ci = median_ci(list(range(20)))
    assert ci.adequate and 0.95 <= ci.confidence < 0.99
    assert (ci.low, ci.high) == (5, 14)  # the textbook order statistics for n = 20
    tiny = median_ci([1.0, 2.0, 3.0])
    assert not tiny.adequate and tiny.confidence == pytest.approx(0.75)
    assert (tiny.low, tiny.high) == (1.0, 3.0)


def _coverage(make_interval, truth, draw, trials=400, seed=3):
    rng = random.Random(seed)
    hits = sum(truth in make_interval(rng, draw) for _ in range(trials))
    return hits / trials


def test_median_ci_covers_the_true_median():
    # exponential(1): median ln 2, strongly skewed like timings
    cov = _coverage(lambda rng, d: median_ci([rng.expovariate(1.0) for _ in range(15)]), math.log(2), None)
    assert cov >= 0.92


def test_pseudo_median_ci_covers_the_center_of_a_symmetric_law():
    cov = _coverage(lambda rng, d: pseudo_median_ci([rng.gauss(3.0, 1.0) for _ in range(12)]), 3.0, None)
    assert cov >= 0.92


def test_shift_ci_covers_a_true_shift_of_skewed_samples():
    def make(rng, _):
        x = [rng.expovariate(1.0) for _ in range(10)]
        y = [rng.expovariate(1.0) + 0.5 for _ in range(12)]
        return shift_ci(x, y)

    assert _coverage(make, 0.5, None) >= 0.92


def test_normal_approximation_agrees_with_exact(monkeypatch):
    rng = random.Random(2)
    x = [rng.random() for _ in range(40)]
    y = [rng.random() + 0.1 for _ in range(40)]
    exact_shift, exact_pm = shift_ci(x, y), pseudo_median_ci(x)
    monkeypatch.setattr(stats, "EXACT_LIMIT", 0)
    approx_shift, approx_pm = shift_ci(x, y), pseudo_median_ci(x)
    assert approx_shift.low == pytest.approx(exact_shift.low, abs=0.02)
    assert approx_shift.high == pytest.approx(exact_shift.high, abs=0.02)
    assert approx_pm.low == pytest.approx(exact_pm.low, abs=0.02)


def test_summarize_gives_value_spread_and_repeats():
    cost = summarize([1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0], meter=CPU_TIME, unit="s")
    assert cost.value == pytest.approx(1.0, abs=0.03)
    assert 0 < cost.spread < 0.1 and cost.repeats == 7 and cost.meter == CPU_TIME
    single = summarize([2.0], meter=CPU_TIME, unit="s")
    assert single.spread == 0.0 and single.repeats == 1


# -------------------------------------------------- sequential controller


def _noisy(rng, center, noise, log):
    def run():
        log.append(center)
        # multiplicative noise with occasional big outliers, like a busy machine
        value = center * math.exp(rng.gauss(0.0, noise))
        if rng.random() < 0.1:
            value *= 3
        return value

    return run


def test_interleaving_is_abba_and_converges_on_the_true_ratio():
    rng = random.Random(1)
    log: list[float] = []
    result = measure_interleaved(_noisy(rng, 2.0, 0.02, log), _noisy(rng, 1.0, 0.02, log), StopRule(0.03))
    assert log[:8] == [2.0, 1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0]
    assert result.stop_reason == "converged"
    assert 2.0 in result.ratio_interval
    assert result.ratio == pytest.approx(2.0, rel=0.03)
    assert result.relative_half_width <= 0.03
    assert result.candidate.meter == CPU_TIME and result.candidate.repeats == result.repeats


def test_controller_spends_more_repeats_on_noisier_costs_and_stops_at_the_budget():
    quiet = measure_interleaved(
        _noisy(random.Random(4), 1.5, 0.01, []), _noisy(random.Random(5), 1.0, 0.01, []), StopRule(0.05)
    )
    loud = measure_interleaved(
        _noisy(random.Random(4), 1.5, 0.3, []), _noisy(random.Random(5), 1.0, 0.3, []), StopRule(0.05, max_repeats=25)
    )
    assert quiet.stop_reason == "converged"
    assert loud.repeats > quiet.repeats
    assert loud.stop_reason == "max_repeats" and loud.repeats == 25


def test_controller_stops_at_the_time_budget():
    ticks = itertools.count()
    result = measure_interleaved(
        lambda: random.random() + 1,
        lambda: random.random() + 1,
        StopRule(0.001, max_repeats=1000, max_seconds=10),
        clock=lambda: float(next(ticks)),
    )
    assert result.stop_reason == "max_seconds"
    assert result.repeats == 10


def test_stop_rule_validation():
    with pytest.raises(ValueError):
        StopRule(min_repeats=10, max_repeats=5)
    with pytest.raises(ValueError):
        StopRule(target_relative_half_width=0)
    with pytest.raises(ValueError):
        Interval(0, 1, 0.9, 0.95) and median_ci([1.0], confidence=1.5)


def test_meter_probe_lists_every_meter_with_a_reason():
    from assay.measure.probe import probe_meters

    probes = {p.name: p for p in probe_meters()}
    for name in ("perf-instructions", "valgrind-instructions", "interpreter-events", "cpu-time", "peak-rss"):
        assert name in probes and probes[name].detail
    in_use = probes["instruction meter in use"]
    if probes["perf-instructions"].available:
        assert in_use.detail == "perf-instructions"
    elif probes["valgrind-instructions"].available:
        assert in_use.detail == "valgrind-instructions"
