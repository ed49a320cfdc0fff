"""Token / call / time accounting and budgets."""

from __future__ import annotations

import pytest

from assay.models import (
    Budget,
    BudgetExhausted,
    CachedModel,
    GenerationParams,
    Ledger,
    MeteredModel,
    ResponseCache,
    ScriptedModel,
    generate_sync,
)


def scripted() -> ScriptedModel:
    return ScriptedModel(["def f():\n    return 1"])  # 4 "tokens" per reply


def test_ledger_counts_calls_samples_and_tokens_per_scope():
    ledger = Ledger()
    model = MeteredModel(scripted(), ledger)
    generate_sync(model.with_scope("HumanEval/0"), "one two", GenerationParams(n=3))
    generate_sync(model.with_scope("HumanEval/1"), "one two three", GenerationParams())
    total = ledger.total
    assert (total.calls, total.samples) == (2, 4)
    assert total.prompt_tokens == 2 + 3  # a prompt shared by n samples counts once
    assert total.completion_tokens == 4 * 4
    assert total.total_tokens == 21
    assert ledger.by_scope["HumanEval/0"].samples == 3
    assert ledger.by_scope["HumanEval/1"].calls == 1
    assert total.seconds >= 0


def test_budget_stops_work_once_spent():
    budget = Budget(max_calls=2)
    model = MeteredModel(scripted(), budgets=[budget])
    generate_sync(model, "go")
    assert budget.remaining_calls == 1 and not budget.exhausted
    generate_sync(model, "go")
    assert budget.exhausted and budget.remaining_calls == 0
    with pytest.raises(BudgetExhausted) as caught:
        generate_sync(model, "go")
    assert str(caught.value) == "model budget exhausted: 2 calls used of 2"
    assert caught.value.budget is budget


def test_token_budget_may_overshoot_by_one_call_then_stops():
    budget = Budget(max_tokens=10, label="problem")
    model = MeteredModel(scripted(), budgets=[budget])
    generate_sync(model, "a b c d e", GenerationParams(n=2))  # 5 + 2 * 4 tokens
    assert budget.spent.total_tokens == 13 and budget.remaining_tokens == 0
    with pytest.raises(BudgetExhausted, match="problem budget exhausted: 13 tokens used of 10"):
        generate_sync(model, "again")


def test_run_and_problem_budgets_together():
    run_budget = Budget(max_samples=5, label="run")
    inner = scripted()
    run_model = MeteredModel(inner, budgets=[run_budget])
    problem = run_model.with_scope("p1", Budget(max_samples=2, label="p1"))
    generate_sync(problem, "x", GenerationParams(n=2))
    with pytest.raises(BudgetExhausted, match="p1 budget"):
        generate_sync(problem, "x")
    generate_sync(run_model.with_scope("p2"), "x", GenerationParams(n=3))
    with pytest.raises(BudgetExhausted, match="run budget exhausted: 5 samples used of 5"):
        generate_sync(run_model.with_scope("p3"), "x")
    assert len(inner.requests) == 2  # refused calls never reached the model


def test_cached_samples_are_counted_and_flagged(tmp_path):
    ledger = Ledger()
    cache = ResponseCache(tmp_path / "c.sqlite")
    generate_sync(MeteredModel(CachedModel(scripted(), cache), ledger), "x", GenerationParams(n=2))
    generate_sync(MeteredModel(CachedModel(scripted(), cache), ledger), "x", GenerationParams(n=2))
    assert ledger.total.samples == 4 and ledger.total.cached_samples == 2
    assert ledger.total.completion_tokens == 16  # same spend on a rerun: the search takes the same path


def test_unlimited_budget_reports_none():
    budget = Budget()
    assert (budget.remaining_calls, budget.remaining_tokens, budget.remaining_seconds, budget.remaining_samples) == (None,) * 4
    budget.check()


def test_seconds_budget():
    budget = Budget(max_seconds=0.0)
    with pytest.raises(BudgetExhausted, match="seconds used of 0.0"):
        budget.check()
