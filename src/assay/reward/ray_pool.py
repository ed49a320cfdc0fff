"""The batch reward call spread over Ray actors, each with its own warm sandbox.

::

    import ray
    from assay.reward.ray_pool import RayRewardPool
    ray.init(address="auto")                  # an existing cluster (as verl runs), or ray.init() locally
    pool = RayRewardPool(num_actors=8, workers_per_actor=4)
    rewards = pool.score_batch(items, RewardSpec(kind="correctness"))

A batch is cut into chunks; chunks go to the actors (least loaded first) and
the answer comes back in input order. An actor that dies mid-batch (node
lost, OOM-killed, ``ray.kill``) has its unfinished chunks sent to another
actor, and a replacement actor is started; a chunk that has failed
``max_retries + 1`` times, or a batch left with no live actor, raises
:class:`RewardPoolError`. A batch never comes back with a silently missing
or made-up reward.
"""

from __future__ import annotations

import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from assay.reward.functions import Reward, RewardSpec
from assay.reward.scoring import RewardItem, RewardScorer
from assay.sandbox.limits import Limits


class RewardPoolError(RuntimeError):
    """A batch could not be completed on the Ray pool (raised, never answered with made-up rewards)."""


class RewardActor:
    """One Ray actor: a RewardScorer over a Sandbox of its own."""

    def __init__(self, workers: int = 1, limits: Limits | None = None) -> None:
        from assay.sandbox.pool import Sandbox

        self.scorer = RewardScorer(Sandbox(workers=workers, limits=limits), own_sandbox=True)

    def score(self, items: list[RewardItem], spec: RewardSpec) -> list[Reward]:
        return self.scorer.score_batch(items, spec)

    def run(self, problem: Any, program: str, policy: Any = None) -> Any:
        """One program's verdicts (``POST /v1/run`` on ``assay serve --ray``)."""
        return self.scorer.sandbox.run(problem, program, policy=policy)

    def info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "workers": self.scorer.sandbox.size, "node": _node_id()}

    def close(self) -> bool:
        self.scorer.close()
        return True


def _node_id() -> str | None:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:
        return None


@dataclass
class _Slot:
    handle: Any
    alive: bool = True
    inflight: int = 0
    index: int = 0


@dataclass
class _Chunk:
    index: int
    start: int
    items: list[RewardItem]
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


class RayRewardPool:
    """Reward scoring on Ray actors (see the module docstring).

    ``num_actors``: default, the cluster's CPUs divided by ``num_cpus_per_actor``.
    ``workers_per_actor``: sandbox workers (and scoring threads) in each actor.
    ``num_cpus_per_actor``: the Ray CPU resource each actor holds (default:
    ``workers_per_actor``). ``chunk_size``: items per Ray task (default: the
    batch split in about 4 chunks per actor, at most 64 items).
    """

    def __init__(
        self,
        num_actors: int | None = None,
        *,
        workers_per_actor: int = 1,
        num_cpus_per_actor: float | None = None,
        chunk_size: int | None = None,
        max_retries: int = 2,
        replace_dead: bool = True,
        limits: Limits | None = None,
        actor_options: dict[str, Any] | None = None,
        address: str | None = None,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ImportError("RayRewardPool needs Ray: pip install 'assay[ray]'") from None

        if not ray.is_initialized():
            target = None if address == "local" else address
            ray.init(address=target or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False)
        self._ray = ray
        self.workers_per_actor = workers_per_actor
        self.num_cpus_per_actor = workers_per_actor if num_cpus_per_actor is None else num_cpus_per_actor
        if num_actors is None:
            cpus = float(ray.cluster_resources().get("CPU", 1))
            num_actors = max(1, int(cpus // max(self.num_cpus_per_actor, 1e-9))) if self.num_cpus_per_actor > 0 else max(1, int(cpus))
        self.num_actors = num_actors
        self.chunk_size = chunk_size
        self.max_retries = max_retries
        self.replace_dead = replace_dead
        self.limits = limits
        self.actor_options = dict(actor_options or {})
        self._actor_class = ray.remote(RewardActor)
        self._lock = threading.RLock()  # slots and their counts: score_batch may be called from many threads (assay serve --ray)
        self.slots: list[_Slot] = []
        self.replacements = 0
        for _ in range(num_actors):
            self._start_actor()
        self._closed = False

    # ---------------------------------------------------------------- actors

    def _start_actor(self) -> _Slot:
        options = {"num_cpus": self.num_cpus_per_actor, "max_restarts": 0, **self.actor_options}
        handle = self._actor_class.options(**options).remote(self.workers_per_actor, self.limits)
        slot = _Slot(handle, index=len(self.slots))
        self.slots.append(slot)
        return slot

    @property
    def actors(self) -> list[Any]:
        """Handles of the live actors."""
        return [s.handle for s in self.slots if s.alive]

    def wait_ready(self, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Block until every live actor has its sandbox up; returns their info."""
        return self._ray.get([s.handle.info.remote() for s in self.slots if s.alive], timeout=timeout)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for slot in self.slots:
            if slot.alive:
                try:
                    self._ray.get(slot.handle.close.remote(), timeout=30)
                except Exception:
                    pass
                self._ray.kill(slot.handle, no_restart=True)
                slot.alive = False

    def __enter__(self) -> "RayRewardPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- scoring

    def _chunks(self, items: list[RewardItem]) -> list[_Chunk]:
        live = max(1, sum(s.alive for s in self.slots))
        size = self.chunk_size or max(1, min(64, math.ceil(len(items) / (4 * live))))
        return [_Chunk(i, start, items[start : start + size]) for i, start in enumerate(range(0, len(items), size))]

    def _pick(self) -> _Slot:
        live = [s for s in self.slots if s.alive]
        if not live:
            raise RewardPoolError("no live reward actor is left in the pool")
        return min(live, key=lambda s: (s.inflight, s.index))

    def _lost(self, slot: _Slot) -> None:
        with self._lock:
            if slot.alive:
                slot.alive = False
                if self.replace_dead:
                    self._start_actor()
                    self.replacements += 1

    def run(self, problem: Any, program: str, policy: Any = None) -> Any:
        """One program's verdicts on an actor's sandbox; a lost actor is retried on another, then InfraError."""
        from assay.sandbox.worker import InfraError

        errors = []
        for _ in range(self.max_retries + 1):
            with self._lock:
                try:
                    slot = self._pick()
                except RewardPoolError as exc:
                    raise InfraError(str(exc)) from exc
                slot.inflight += 1
            try:
                return self._ray.get(slot.handle.run.remote(problem, program, policy))
            except (self._ray.exceptions.RayActorError, self._ray.exceptions.ActorUnavailableError) as exc:
                errors.append(f"actor {slot.index}: {type(exc).__name__}")
                self._lost(slot)
            finally:
                with self._lock:
                    slot.inflight -= 1
        raise InfraError("the Ray actors running it were lost %d times (%s)" % (len(errors), "; ".join(errors)))

    def score_batch(self, items: Iterable[RewardItem], spec: RewardSpec | None = None, timeout: float | None = None) -> list[Reward]:
        """Rewards for ``items`` in input order; raises RewardPoolError rather than lose or invent one."""
        ray = self._ray
        spec = spec or RewardSpec()
        items = list(items)
        if not items:
            return []
        deadline = None if timeout is None else time.monotonic() + timeout
        results: list[Reward | None] = [None] * len(items)
        pending: dict[Any, tuple[_Chunk, _Slot]] = {}

        def dispatch(chunk: _Chunk) -> None:
            with self._lock:
                slot = self._pick()
                chunk.attempts += 1
                slot.inflight += 1
            pending[slot.handle.score.remote(chunk.items, spec)] = (chunk, slot)

        for chunk in self._chunks(items):
            dispatch(chunk)
        while pending:
            wait_for = None if deadline is None else max(0.0, deadline - time.monotonic())
            done, _ = ray.wait(list(pending), num_returns=1, timeout=wait_for)
            if not done:
                raise RewardPoolError(f"the batch did not finish within {timeout} s ({len(pending)} chunks outstanding)")
            ref = done[0]
            chunk, slot = pending.pop(ref)
            with self._lock:
                slot.inflight -= 1
            try:
                rewards = ray.get(ref)
            except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
                chunk.errors.append(f"actor {slot.index}: {type(exc).__name__}")
                self._lost(slot)
                if chunk.attempts > self.max_retries:
                    raise RewardPoolError(f"chunk {chunk.index} failed {chunk.attempts} times: {'; '.join(chunk.errors)}") from exc
                dispatch(chunk)
                continue
            except ray.exceptions.RayTaskError as exc:  # a bug in the actor's code: loud, not retried
                raise RewardPoolError(f"scoring chunk {chunk.index} raised: {exc}") from exc
            if len(rewards) != len(chunk.items):
                raise RewardPoolError(f"chunk {chunk.index}: {len(rewards)} rewards for {len(chunk.items)} items")
            results[chunk.start : chunk.start + len(rewards)] = rewards
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            raise RewardPoolError(f"no reward for items {missing[:10]}")
        return results  # type: ignore[return-value]

    def score_pairs(self, pairs: Iterable[tuple[Any, str]], kind: str = "correctness", *, as_solution: bool = False) -> list[Reward]:
        """Like :func:`assay.reward.scoring.score_pairs`, on the pool."""
        items = [RewardItem(p, solution=t) if as_solution else RewardItem(p, completion=t) for p, t in pairs]
        return self.score_batch(items, RewardSpec(kind=kind))  # type: ignore[arg-type]


class RayScorer:
    """A RayRewardPool in a RewardScorer's place in the reward service (``assay serve --ray``).

    Each item is one call to the least-loaded actor (the service already
    runs items concurrently, ``concurrency`` at a time: the actors' workers);
    a lost actor's item is retried on another, and a pool that cannot score
    answers ``reward: null`` with status ``infra_error``, never a 0.
    """

    def __init__(self, pool: RayRewardPool) -> None:
        self.pool = pool
        self.concurrency = max(1, sum(1 for s in pool.slots if s.alive) * pool.workers_per_actor)
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    @classmethod
    def connect(cls, address: str | None, *, workers: int | None = None, limits: Limits | None = None) -> "RayScorer":
        """Join the cluster at ``address`` ('auto', host:port, 'local') with one actor per ``workers`` CPUs (default: one per CPU)."""
        pool = RayRewardPool(workers_per_actor=workers or 1, limits=limits, address=address)
        pool.wait_ready()
        return cls(pool)

    @property
    def sandbox(self) -> "RayScorer":
        return self  # ``/v1/run`` calls ``scorer.sandbox.run``

    def executor(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=2 * self.concurrency, thread_name_prefix="assay-ray-reward")
            return self._executor

    def score(self, item: RewardItem, spec: RewardSpec | None = None) -> Reward:
        spec = spec or RewardSpec()
        try:
            return self.pool.score_batch([item], spec)[0]
        except RewardPoolError as exc:
            return Reward(None, spec.kind, "infra_error", f"infrastructure failure (not the candidate's fault): {exc}", getattr(item.problem, "task_id", None), id=item.id)

    def score_batch(self, items: Iterable[RewardItem], spec: RewardSpec | None = None) -> list[Reward]:
        return self.pool.score_batch(items, spec)

    def run(self, problem: Any, program: str, policy: Any = None) -> Any:
        return self.pool.run(problem, program, policy)

    def close(self) -> None:
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        self.pool.close()


def values(rewards: Sequence[Reward]) -> list[float | None]:
    return [r.value for r in rewards]


_shared_pool: RayRewardPool | None = None


def shared_pool(**options: Any) -> RayRewardPool:
    """A process-wide pool, created on first call with ``options`` (later calls reuse it).

    It has ``score_batch(items, spec)``, so it can stand in for a RewardScorer:
    ``trl_reward(..., scorer=shared_pool())``, ``compute_score_batch(..., scorer=shared_pool())``.
    """
    global _shared_pool
    if _shared_pool is None or _shared_pool._closed:
        _shared_pool = RayRewardPool(**options)
    return _shared_pool


__all__ = ["RayRewardPool", "RayScorer", "RewardActor", "RewardPoolError", "shared_pool", "values"]
