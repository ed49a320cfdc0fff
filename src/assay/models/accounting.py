"""Token, call and time accounting, and budgets that stop work when spent.

:class:`MeteredModel` wraps any model.  Every ``generate`` call is tallied in
a :class:`Ledger` (in total and per scope, e.g. per problem) and charged to
zero or more :class:`Budget` objects.  A call made when a budget is already
spent raises :class:`BudgetExhausted` *before* reaching the model, so a
strategy can read ``budget.remaining_*`` to plan and simply stop when told.
A call that starts within budget is allowed to finish, so a budget can be
overshot by at most one call.

A prompt shared by ``n`` samples is counted once per call.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, fields
from typing import Iterable, Sequence

from assay.models.base import Completion, GenerationParams, Message, Model, aclose_model


class BudgetExhausted(Exception):
    """A budget is spent; ``str(error)`` says which limit and by how much."""

    def __init__(self, budget: Budget, limit: str) -> None:
        self.budget = budget
        self.limit = limit
        super().__init__(f"{budget.label} budget exhausted: {limit}")


@dataclass
class Tally:
    """What some model calls cost."""

    calls: int = 0
    samples: int = 0
    cached_samples: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Tally) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    @classmethod
    def of_call(cls, completions: Sequence[Completion], seconds: float) -> Tally:
        return cls(
            calls=1,
            samples=len(completions),
            cached_samples=sum(1 for c in completions if c.cached),
            prompt_tokens=max((c.usage.prompt_tokens for c in completions), default=0),
            completion_tokens=sum(c.usage.completion_tokens for c in completions),
            seconds=seconds,
        )


@dataclass
class Budget:
    """Limits on calls, samples, tokens (prompt + completion) and wall seconds.

    ``None`` means unlimited.  ``spent`` grows as calls are charged.
    """

    max_calls: int | None = None
    max_samples: int | None = None
    max_tokens: int | None = None
    max_seconds: float | None = None
    label: str = "model"
    spent: Tally = field(default_factory=Tally)

    @property
    def remaining_calls(self) -> int | None:
        return None if self.max_calls is None else max(0, self.max_calls - self.spent.calls)

    @property
    def remaining_samples(self) -> int | None:
        return None if self.max_samples is None else max(0, self.max_samples - self.spent.samples)

    @property
    def remaining_tokens(self) -> int | None:
        return None if self.max_tokens is None else max(0, self.max_tokens - self.spent.total_tokens)

    @property
    def remaining_seconds(self) -> float | None:
        return None if self.max_seconds is None else max(0.0, self.max_seconds - self.spent.seconds)

    def exhausted_limit(self) -> str | None:
        """A description of the first spent limit, or None if there is room left."""
        checks = (
            ("calls", self.max_calls, self.spent.calls),
            ("samples", self.max_samples, self.spent.samples),
            ("tokens", self.max_tokens, self.spent.total_tokens),
            ("seconds", self.max_seconds, self.spent.seconds),
        )
        for what, limit, used in checks:
            if limit is not None and used >= limit:
                shown = f"{used:.1f}" if isinstance(used, float) else str(used)
                return f"{shown} {what} used of {limit}"
        return None

    @property
    def exhausted(self) -> bool:
        return self.exhausted_limit() is not None

    def check(self) -> None:
        """Raise :class:`BudgetExhausted` if any limit is reached."""
        if (limit := self.exhausted_limit()) is not None:
            raise BudgetExhausted(self, limit)

    def charge(self, tally: Tally) -> None:
        self.spent.add(tally)


class Ledger:
    """Running totals of model use, overall and per scope (problem id, phase, …)."""

    def __init__(self) -> None:
        self.total = Tally()
        self.by_scope: dict[str, Tally] = {}
        self._lock = threading.Lock()

    def record(self, tally: Tally, scope: str | None = None) -> None:
        with self._lock:
            self.total.add(tally)
            if scope is not None:
                self.by_scope.setdefault(scope, Tally()).add(tally)

    def scope(self, name: str) -> Tally:
        with self._lock:
            return self.by_scope.setdefault(name, Tally())


class MeteredModel:
    """Wraps a model: checks budgets before each call, tallies and charges after."""

    def __init__(
        self,
        inner: Model,
        ledger: Ledger | None = None,
        budgets: Iterable[Budget] = (),
        scope: str | None = None,
    ) -> None:
        self.inner = inner
        self.ledger = ledger if ledger is not None else Ledger()
        self.budgets = tuple(budgets)
        self.scope = scope

    @property
    def name(self) -> str:
        return self.inner.name

    def __repr__(self) -> str:
        return f"MeteredModel({self.inner!r}, scope={self.scope!r}, budgets={len(self.budgets)})"

    def with_scope(self, scope: str, budget: Budget | None = None) -> MeteredModel:
        """The same model, ledger and budgets, tallied under ``scope`` (plus an extra budget)."""
        extra = (budget,) if budget is not None else ()
        return MeteredModel(self.inner, self.ledger, self.budgets + extra, scope)

    async def aclose(self) -> None:
        await aclose_model(self.inner)

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams
    ) -> list[Completion]:
        for budget in self.budgets:
            budget.check()
        started = time.perf_counter()
        completions = await self.inner.generate(messages, params)
        tally = Tally.of_call(completions, time.perf_counter() - started)
        self.ledger.record(tally, self.scope)
        for budget in self.budgets:
            budget.charge(tally)
        return completions
