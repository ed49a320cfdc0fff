"""One meter protocol and one registry: names, Cost, and a plug-in meter used by the reward and the evaluator alike."""

from __future__ import annotations

import pytest

from assay.measure.cost import Cost, MeterMismatch, same_meter
from assay.measure.efficiency import EfficiencyConfig, EfficiencyEvaluator
from assay.measure.meters import (
    CPU_TIME,
    INSTRUCTIONS,
    CallCost,
    CpuTimeMeter,
    InstructionMeter,
    Meter,
    canonical_name,
    make_meter,
    meter_names,
    register_meter,
)
from assay.measure.probe import probe_meters
from assay.measure.problem_cost import ProblemCosts
from assay.plugins import METERS
from assay.problems import load_benchmark
from assay.reward import RewardItem, RewardScorer, RewardSpec
from assay.sandbox.calls import Call
from assay.sandbox.pool import Sandbox

# ---------------------------------------------------------------- Cost


def test_cost_refuses_comparison_across_meters_and_units():
    a = Cost(1.0, "s", CPU_TIME)
    b = Cost(2.0, "instructions", INSTRUCTIONS)
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


# ---------------------------------------------------------------- names and registry


def test_one_set_of_names():
    assert {"cpu-time", "instructions"} <= set(meter_names()) and "cpu" not in meter_names()
    assert meter_names() == sorted(METERS.names())  # one registry: assay.plugins.METERS
    assert isinstance(make_meter("cpu-time"), CpuTimeMeter) and isinstance(make_meter("instructions"), InstructionMeter)
    assert canonical_name("cpu") == "cpu-time" and make_meter("cpu").name == "cpu-time"  # old scripts keep working
    assert EfficiencyConfig(meter="cpu").meter == "cpu-time"
    for meter in (make_meter(name) for name in meter_names()):
        assert isinstance(meter, Meter) and meter.name in meter_names()
    assert make_meter(INSTRUCTIONS).counts_in_candidate_process and not make_meter(CPU_TIME).counts_in_candidate_process
    with pytest.raises(ValueError, match="unknown meter 'valgrind-instructions': known meters are cpu-time, instructions"):
        make_meter("valgrind-instructions")
    with pytest.raises(ValueError):
        register_meter("cpu", CpuTimeMeter)
    with pytest.raises(ValueError, match="unknown meter"):
        EfficiencyEvaluator(None, EfficiencyConfig(meter="nope"))  # type: ignore[arg-type]


def test_probe_lists_every_registered_meter_with_a_reason():
    probes = {p.name: p for p in probe_meters()}
    assert sorted(probes) == meter_names()
    assert probes["cpu-time"].available and probes["cpu-time"].detail
    assert probes["instructions"].detail


# ---------------------------------------------------------------- a plug-in meter


class ArgumentSize:
    """A toy meter: a call costs the length of its arguments' repr (the program never matters)."""

    name = "argument-size"
    unit = "characters"
    deterministic = True
    calls_seen: list[int] = []

    def call_costs(self, sandbox, program, calls, timeout_seconds):
        ArgumentSize.calls_seen.append(len(calls))
        return [CallCost("ok", float(len(repr(c.args)))) for c in calls]


@pytest.fixture
def plugin_meter():
    register_meter(ArgumentSize.name, ArgumentSize)
    ArgumentSize.calls_seen = []
    try:
        yield ArgumentSize.name
    finally:
        METERS._entries.pop(ArgumentSize.name, None)  # noqa: SLF001 - a test's own meter, gone after it


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as box:
        yield box


def test_problem_costs_sum_a_meters_call_costs(plugin_meter):
    problem = {p.task_id: p for p in load_benchmark("humaneval")}["HumanEval/0"]
    costs = ProblemCosts.named(plugin_meter)
    expected = sum(len(repr(tuple(t.args))) for t in problem.tests)
    assert costs.name == plugin_meter and costs.unit == "characters"
    assert costs._total(None, problem, "anything", None) == expected  # type: ignore[arg-type]
    assert plugin_meter in meter_names() and plugin_meter in {p.name for p in probe_meters()}


def test_a_registered_meter_serves_the_reward_and_the_evaluator(plugin_meter, sandbox):
    he0 = {p.task_id: p for p in load_benchmark("humaneval")}["HumanEval/0"]
    with RewardScorer(sandbox) as scorer:
        (reward,) = scorer.score_batch([RewardItem(he0, solution=he0.reference)], RewardSpec(kind="efficiency", meter=plugin_meter))
    assert reward.value is not None, reward
    assert reward.cost["meter"] == plugin_meter and reward.cost["unit"] == "characters"
    assert reward.cost["candidate"] == reward.cost["reference"]

    enamel0 = {p.task_id: p for p in load_benchmark("enamel")}["HumanEval/0"]
    evaluator = EfficiencyEvaluator(sandbox, EfficiencyConfig(meter=plugin_meter))
    before = len(ArgumentSize.calls_seen)
    result = evaluator.measure(enamel0, enamel0.reference)
    assert result.note is None and result.passed and result.score == 1.0, result
    assert result.meter == plugin_meter and result.unit == "characters"
    assert result.levels[0].value is None and all(level.meter == plugin_meter for level in result.levels)
    assert len(ArgumentSize.calls_seen) == before + 2  # the reference's costs, then the sample's: one call_costs each
    wrong = evaluator.measure(enamel0, "def has_close_elements(numbers, threshold):\n    return False\n")
    assert not wrong.passed and wrong.score == 0.0
    assert len(ArgumentSize.calls_seen) == before + 2  # the native screen decided: the meter was not asked


def test_cpu_time_meter_costs_each_call_in_its_window(sandbox):
    program = "def f(n):\n    return sum(range(n))\n\ndef boom(n):\n    raise ValueError(n)\n"
    costs = make_meter("cpu-time").call_costs(sandbox, program, [Call("f", (10,)), Call("f", (3_000_000,)), Call("boom", (1,))], 10.0)
    assert [c.status for c in costs] == ["ok", "ok", "error"]
    assert costs[1].value > 10 * costs[0].value and costs[2].value is None
    assert make_meter("cpu-time").call_costs(sandbox, "def f(:\n", [Call("f", (1,))], 10.0)[0].status == "not_run"


def test_one_budget_rule_for_every_engine():
    from assay.measure.meters import CallCost, _over_budget, first_over_budget

    costs = [CallCost("ok", 10.0), CallCost("ok", 50.0), CallCost("ok", 5.0)]
    assert [c.status for c in _over_budget(costs, 20)] == ["ok", "over_budget", "not_run"]
    assert _over_budget(costs, 50) == costs and _over_budget(costs, None) == costs  # met exactly is not exceeded
    assert first_over_budget(["ok", "error", "ok"], [1.0, None, 99.0], 10) is None  # a failure first: its own status stands
    assert first_over_budget(["ok", "over_budget", "not_run"], [1.0, None, None], 10) == 1
