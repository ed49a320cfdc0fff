"""Scoring (problem, completion) pairs in a sandbox: the engine behind every adapter.

:class:`RewardScorer` turns a :class:`RewardItem` into a
:class:`~assay.reward.functions.Reward`: it extracts the program from the
completion (or takes a whole ``solution`` as is), judges it in the sandbox,
and applies the reward formula. :meth:`RewardScorer.score_batch` runs a batch
on a thread pool sized to the sandbox's workers and answers in input order.

By default every scorer shares one process-wide :class:`Sandbox`, created on
first use (``ASSAY_REWARD_WORKERS`` workers, default: one per CPU) and closed
at interpreter exit. A process that forks after creating it gets a fresh one
in the child.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from assay.measure.meters import MeterInfraError, ReferenceUnavailable
from assay.measure.problem_cost import ProblemCosts
from assay.models.extract import program_from_reply
from assay.problems.model import Problem
from assay.reward.functions import (
    NOT_SCORED,
    Reward,
    RewardSpec,
    efficiency_value,
    infra_reward,
    no_code_reward,
    verdict_reward,
)
from assay.reward.resolve import given_task_id
from assay.sandbox.pool import Sandbox
from assay.sandbox.worker import InfraError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RewardItem:
    """One thing to score: a model reply (``completion``) or a whole program (``solution``).

    A ``completion`` goes through :func:`assay.models.extract.extract_code`
    with the problem's prompt and entry point (fenced blocks, a bare function,
    or a HumanEval-style body that continues the prompt); a ``solution`` is
    run exactly as given. ``id`` is echoed back in the Reward.
    """

    problem: Problem
    completion: str | None = None
    solution: str | None = None
    id: Any = None

    def __post_init__(self) -> None:
        if (self.completion is None) == (self.solution is None):
            raise ValueError("a reward item needs exactly one of 'completion' or 'solution'")


def program_of(item: RewardItem) -> tuple[str | None, str]:
    """(program or None when there is no code, how it was found)."""
    if item.solution is not None:
        return (item.solution if item.solution.strip() else None), "solution"
    return program_from_reply(item.completion or "", item.problem)


# ------------------------------------------------------------- shared sandbox

_shared_lock = threading.Lock()
_shared: Sandbox | None = None
_shared_pid: int | None = None


def default_workers() -> int:
    value = os.environ.get("ASSAY_REWARD_WORKERS", "").strip()
    if value:
        return max(1, int(value))
    return max(1, os.cpu_count() or 1)


def shared_sandbox() -> Sandbox:
    """The process-wide sandbox (created on first use, closed at exit)."""
    global _shared, _shared_pid
    with _shared_lock:
        if _shared is None or _shared_pid != os.getpid():
            _shared = Sandbox(workers=default_workers())
            _shared_pid = os.getpid()
        return _shared


def set_shared_sandbox(sandbox: Sandbox | None) -> None:
    """Use ``sandbox`` as the process-wide one (the caller keeps ownership)."""
    global _shared, _shared_pid
    with _shared_lock:
        _shared, _shared_pid = sandbox, (os.getpid() if sandbox is not None else None)


def close_shared_sandbox() -> None:
    global _shared, _shared_pid
    with _shared_lock:
        sandbox, pid = _shared, _shared_pid
        _shared, _shared_pid = None, None
    if sandbox is not None and pid == os.getpid():
        sandbox.close()


atexit.register(close_shared_sandbox)


# ------------------------------------------------------------------- scorer


class FairGate:
    """At most ``n`` holders; waiters get in first come, first served.

    The sandbox hands out its workers through a queue whose waiters wake in
    no particular order, so with more callers than workers some wait for
    seconds while others go round again. The scorer queues its callers here
    first, in order, so no reward waits much longer than the queue ahead of it.
    """

    def __init__(self, n: int) -> None:
        self._free = n
        self._lock = threading.Lock()
        self._waiters: deque[threading.Event] = deque()

    def __enter__(self) -> "FairGate":
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return self
            ticket = threading.Event()
            self._waiters.append(ticket)
        ticket.wait()  # the releasing holder hands its place straight to us
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().set()
            else:
                self._free += 1


class RewardScorer:
    """Scores reward items in a sandbox (the shared one unless given).

    ``own_sandbox=True`` hands the sandbox over: :meth:`close` closes it too.
    """

    def __init__(self, sandbox: Sandbox | None = None, spec: RewardSpec | None = None, max_concurrency: int | None = None, *, own_sandbox: bool = False) -> None:
        self._sandbox = sandbox
        self._own_sandbox = own_sandbox
        self.spec = spec or RewardSpec()
        self._max_concurrency = max_concurrency
        self._meters: dict[str, ProblemCosts] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._executor_pid: int | None = None
        self._gate: FairGate | None = None

    @property
    def sandbox(self) -> Sandbox:
        return self._sandbox if self._sandbox is not None else shared_sandbox()

    @property
    def concurrency(self) -> int:
        return self._max_concurrency or self.sandbox.size

    def gate(self) -> FairGate:
        with self._lock:
            if self._gate is None:
                self._gate = FairGate(self.sandbox.size)
            return self._gate

    def meter(self, name: str) -> ProblemCosts:
        with self._lock:
            meter = self._meters.get(name)
            if meter is None:
                meter = self._meters[name] = ProblemCosts.named(name)
            return meter

    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None or self._executor_pid != os.getpid():
                # Twice as many threads as sandbox slots: while one thread does a
                # reward's own work (extraction, scoring), another already holds
                # the worker it freed; the gate keeps the sandbox at its size.
                self._executor = ThreadPoolExecutor(max_workers=2 * self.concurrency, thread_name_prefix="assay-reward")
                self._executor_pid = os.getpid()
            return self._executor

    def close(self) -> None:
        """Stop this scorer's threads; close its sandbox if it owns it (``own_sandbox=True``)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if self._sandbox is not None and self._own_sandbox:
            self._sandbox.close()

    def __enter__(self) -> "RewardScorer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- scoring

    def score(self, item: RewardItem, spec: RewardSpec | None = None) -> Reward:
        """Score one item. Never raises for a sandbox failure: that is ``value=None`` with a reason."""
        spec = spec or self.spec
        task_id = given_task_id(item.problem)
        program, extraction = program_of(item)
        if program is None:
            return no_code_reward(spec, task_id, extraction, item.id)
        sandbox = self.sandbox
        try:
            with self.gate():
                result = sandbox.run(item.problem, program, policy=spec.policy)
        except InfraError as exc:
            return infra_reward(spec, task_id, f"sandbox failure (not the candidate's fault): {exc}", item_id=item.id)
        except Exception as exc:  # a bug of ours is never the candidate's failure either
            log.exception("judging %s failed", task_id)
            return infra_reward(spec, task_id, f"internal error while judging ({type(exc).__name__}: {exc})", item_id=item.id)
        reward = verdict_reward(result, spec, extraction=extraction, item_id=item.id)
        reward.task_id = task_id
        if spec.kind == "efficiency" and reward.value is not None:
            reward = self._efficiency(item, program, reward, spec)
        return reward

    def _efficiency(self, item: RewardItem, program: str, reward: Reward, spec: RewardSpec) -> Reward:
        if not reward.passed:
            return reward  # gated on correctness: a failing program earns 0
        assert reward.result is not None
        meter = self.meter(spec.meter)
        sandbox = self.sandbox
        try:
            reference = meter.reference_cost(sandbox, item.problem, spec.reference_repeats)
            candidate = meter.candidate_cost(sandbox, item.problem, program, reward.result)
        except ReferenceUnavailable as exc:
            reward.value, reward.status, reward.reason = None, NOT_SCORED, str(exc)
            return reward
        except (MeterInfraError, InfraError) as exc:
            return infra_reward(spec, reward.task_id, str(exc), reward.result, item.id)
        candidate.check_comparable(reference)
        reward.value = efficiency_value(candidate.value, reference.value, spec)
        reward.cost = {
            "meter": meter.name,
            "unit": candidate.unit,
            "deterministic": meter.deterministic,
            "candidate": candidate.value if math.isfinite(candidate.value) else None,  # None: could not be counted
            "reference": reference.value,
            "reference_spread": reference.spread,
            "reference_repeats": reference.repeats,
            "speedup": max(reference.value, spec.min_cost_ns) / max(candidate.value, spec.min_cost_ns),
        }
        return reward

    def submit(self, item: RewardItem, spec: RewardSpec | None = None) -> "Future[Reward]":
        return self.executor().submit(self._score_guarded, item, spec)

    def _score_guarded(self, item: RewardItem, spec: RewardSpec | None) -> Reward:
        try:
            return self.score(item, spec)
        except Exception as exc:  # score() catches sandbox failures; this is a last line
            log.exception("scoring failed")
            return infra_reward(spec or self.spec, given_task_id(item.problem), f"internal error ({type(exc).__name__}: {exc})", item_id=item.id)

    def score_batch(self, items: Iterable[RewardItem], spec: RewardSpec | None = None) -> list[Reward]:
        """Score many items concurrently; the answer is in input order."""
        items = list(items)
        if len(items) <= 1:
            return [self._score_guarded(item, spec) for item in items]
        futures = [self.submit(item, spec) for item in items]
        return [future.result() for future in futures]


def score_pairs(
    pairs: Iterable[tuple[Problem, str]],
    kind: str = "correctness",
    *,
    as_solution: bool = False,
    spec: RewardSpec | None = None,
    scorer: RewardScorer | None = None,
) -> list[Reward]:
    """Plain-Python batch: rewards for (problem, completion) pairs, in order.

    ``as_solution=True`` runs each string as a whole program instead of
    extracting code from a model reply.
    """
    spec = spec or RewardSpec(kind=kind)  # type: ignore[arg-type]
    items: Sequence[RewardItem] = [
        RewardItem(problem, solution=text) if as_solution else RewardItem(problem, completion=text) for problem, text in pairs
    ]
    return (scorer or default_scorer()).score_batch(items, spec)


_default_scorer: RewardScorer | None = None


def default_scorer() -> RewardScorer:
    """A process-wide scorer over the shared sandbox."""
    global _default_scorer
    with _shared_lock:
        if _default_scorer is None:
            _default_scorer = RewardScorer()
        return _default_scorer
