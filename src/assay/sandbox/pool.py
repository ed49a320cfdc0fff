"""The sandbox as a pool of warm workers, with limits derived from references."""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from assay.paths import cache_root
from assay.problems.model import CallTest, Problem
from assay.sandbox.calls import Call, CallBatch, Mode, run_batch
from assay.sandbox.cgroups import CgroupLimiter
from assay.sandbox.isolation import IsolationPlan, plan, warn_missing
from assay.sandbox.judge import RunPolicy, SampleRun
from assay.sandbox.limits import Limits
from assay.sandbox.memo import IdentityMemo
from assay.sandbox.script_replay import ScriptCalls
from assay.sandbox.verdict import SampleResult, Status, TestVerdict
from assay.sandbox.worker import InfraError, Reply, Session, Worker

ATTEMPTS = 2  # an infrastructure failure is retried once on a fresh worker
T = TypeVar("T")


def retrying(worker: Worker, action: Callable[[Worker], T]) -> T:
    """``action(worker)``, tried again once on a restarted worker if the sandbox failed (the one retry rule).

    Raises :class:`InfraError` when both attempts failed: an infrastructure
    failure is reported as such, never as the candidate's.
    """
    failure: InfraError | None = None
    for _ in range(ATTEMPTS):
        try:
            worker.ensure_started()
            return action(worker)
        except InfraError as exc:
            failure = exc
            worker.stop()
    raise InfraError("the sandbox failed twice: %s" % failure)


def _digest(problem: Problem) -> str:
    return hashlib.sha256(repr((problem.reference, problem.tests)).encode("utf-8", "surrogatepass")).hexdigest()


_digests: IdentityMemo[Problem, str] = IdentityMemo(_digest)


def calibration_key(problem: Problem) -> tuple[str, str]:
    """Limits are calibrated per problem: its id and a digest of its reference and tests."""
    return problem.task_id, _digests(problem)


def worker_cpus(workers: int, pin: bool | None) -> list[int] | None:
    """The CPU each worker keeps to, or None to let the kernel place them.

    A worker's processes (monitor, template, candidate) take turns, so one
    CPU serves them all, and keeping them there spares the cross-CPU wake-ups
    and TLB flushes of each fork and exit: 8-10% more rewards/s here with
    every worker busy, ~5% fewer for a lone client waiting on one reward at a
    time (the monitor no longer reads replies on another CPU while the
    candidate runs). By default (``pin=None``) only a pool with one worker per
    CPU it may use is pinned: a smaller pool cannot know which CPUs other
    pools take. Pinning is for speed, not isolation: a candidate may widen
    its own affinity.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if pin is False or (pin is None and workers != len(cpus)):
        return None
    return [cpus[i % len(cpus)] for i in range(workers)]


class Sandbox:
    """Runs programs against problems' tests in isolated, warm workers.

    Thread-safe: up to ``workers`` samples run at once. Use as a context
    manager, or call :meth:`close`.

    Where a problem has a reference solution, each test's CPU limit is
    ``timeout_factor`` times the reference's measured CPU time, but never
    below ``min_cpu_seconds``; without one, ``limits.cpu_seconds`` applies.

    ``pin``: keep each worker's processes on one CPU (see :func:`worker_cpus`;
    default: when there is one worker per CPU this process may use).
    """

    def __init__(
        self,
        workers: int | None = None,
        limits: Limits | None = None,
        policy: RunPolicy | None = None,
        timeout_factor: float = 20.0,
        min_cpu_seconds: float = 0.3,
        calibrate: bool = True,
        pin: bool | None = None,
        wait: bool = True,
    ) -> None:
        self.limits = limits or Limits()
        self.policy = policy or RunPolicy()
        self.timeout_factor = timeout_factor
        self.min_cpu_seconds = min_cpu_seconds
        self.calibrate = calibrate
        self.size = max(1, workers or os.cpu_count() or 1)
        cgroups = CgroupLimiter() if os.geteuid() == 0 else None
        if cgroups is not None and not any(cgroups.available.values()):
            cgroups = None
        self.cgroups = cgroups
        cpus = worker_cpus(self.size, pin)
        self._workers = [Worker(i, plan(), self.limits, cgroups, cpu=cpus[i] if cpus else None) for i in range(self.size)]
        # queue.Queue wakes waiting callers first come, first served
        self._free: queue.Queue[Worker] = queue.Queue()
        self._calibrated: dict[tuple[str, str], Limits] = {}
        self._calibrated_tasks: set[str] = set()
        self._calibration_lock = threading.Lock()
        # what script tests called last time, in this process or an earlier one: their next run is one batch
        self._script_calls = ScriptCalls(cache_root() / "script-calls.json")
        self._closed = False
        self._isolation: IsolationPlan | None = None
        self._ready_lock = threading.Lock()
        # All start at once, from this thread: bwrap's --die-with-parent kills a worker when the
        # *thread* that started it ends, so workers are never started from a short-lived thread here.
        for worker in self._workers:
            worker.launch()
            self._free.put(worker)
        if wait:
            self.ready()

    def ready(self) -> "Sandbox":
        """Wait for the first worker to say it is ready (``Sandbox(wait=False)`` returns before it has).

        The other workers are waited for at their first use. Warns once if
        isolation layers are missing.
        """
        if self._isolation is None:
            with self._ready_lock:
                if self._isolation is None:
                    first = self._workers[0]
                    first.ensure_started()
                    available = self.cgroups.available if self.cgroups else {"memory": False, "pids": False}
                    self._isolation = plan(available, first.hello.get("pid_namespace_per_run"))
                    warn_missing(self._isolation)
        return self

    @property
    def isolation(self) -> IsolationPlan:
        """The isolation layers in force (known once the first worker has started)."""
        self.ready()
        assert self._isolation is not None
        return self._isolation

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            worker.ask_to_exit()  # all at once; each close below then waits for its own
        self._script_calls.save()
        for worker in self._workers:
            worker.close()

    # ---------------------------------------------------------------- lending

    @contextlib.contextmanager
    def lease(self) -> Iterator[Worker]:
        """A free worker, started, for the caller alone until the block ends."""
        if self._closed:
            raise RuntimeError("the sandbox is closed")
        self.ready()  # the first worker's hello is read there, never by two threads at once
        worker = self._free.get()
        try:
            worker.ensure_started()
            yield worker
        finally:
            self._free.put(worker)

    def run_calls(self, program: str, calls: Sequence[Call], *, limits: Limits | None = None, mode: Mode | str = Mode.STREAMED) -> CallBatch:
        """Load ``program`` in one candidate process and make each call (see :class:`~assay.sandbox.calls.Mode`).

        ``limits`` (default: the sandbox's) apply to the load and to calls
        that set no limit of their own. Retried once on a fresh worker if the
        sandbox fails; then :class:`InfraError`.
        """
        limits = limits or self.limits
        with self.lease() as worker:
            return retrying(worker, lambda w: run_batch(Session(w, program, limits), calls, mode))

    def run_exec(self, argv: list[str], files: dict[str, str] | None = None, collect: list[str] | None = None, limits: Limits | None = None) -> Reply:
        """Run a separate program in a worker's sandbox (its files written first, ``collect`` read back after)."""
        limits = limits or self.limits
        with self.lease() as worker:
            return retrying(worker, lambda w: Session(w, "", limits).run_exec(argv, files=files, collect=collect))

    @property
    def python(self) -> str:
        """The Python version the sandbox's workers run."""
        return str(self._workers[0].hello.get("python", ""))

    # ---------------------------------------------------------------- running

    def run(self, problem: Problem, program: str, limits: Limits | None = None, policy: RunPolicy | None = None) -> SampleResult:
        """Judge one program on one problem's tests.

        Calibration is lazy: the program first runs under the floor
        (``min_cpu_seconds``), which is never above the calibrated limit. Only
        if a test times out there is the reference measured, and the program
        judged again under the limit derived from it.
        """
        if self._closed:
            raise RuntimeError("the sandbox is closed")
        if limits is not None or not self.calibrate or not problem.reference:
            return self._run(problem, program, limits or self.limits, policy)
        with self._calibration_lock:  # a task never calibrated skips its digest (the reference's and the tests' repr)
            calibrated = self._calibrated.get(calibration_key(problem)) if problem.task_id in self._calibrated_tasks else None
        result = self._run(problem, program, calibrated or self._floor_limits(), policy)
        if calibrated is None and any(t.status is Status.TIMEOUT for t in result.tests):
            calibrated = self.limits_for(problem)
            if calibrated.cpu_seconds > self.min_cpu_seconds:
                result = self._run(problem, program, calibrated, policy)
        return result

    def _floor_limits(self) -> Limits:
        return self.limits.with_cpu(self.min_cpu_seconds)

    def _run(self, problem: Problem, program: str, limits: Limits, policy: RunPolicy | None) -> SampleResult:
        worker = self._free.get()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._free.put(worker)

        try:
            return self._run_on(worker, problem, program, limits, policy or self.policy, release)
        finally:
            release()

    def _run_on(self, worker: Worker, problem: Problem, program: str, limits: Limits, policy: RunPolicy, release: Callable[[], None] | None = None) -> SampleResult:
        try:
            return retrying(worker, lambda w: SampleRun(w, problem, program, limits, policy, release, self._script_calls).run())
        except InfraError as failure:
            message = "sandbox failure (not the candidate's fault): %s" % failure
        tests = [TestVerdict(t.name, Status.INFRA_ERROR, kind=t.kind, message=message) for t in problem.tests]
        return SampleResult(task_id=problem.task_id, tests=tests, infra_message=message)

    def run_many(
        self,
        items: Iterable[tuple[Problem, str]],
        on_result: Callable[[int, SampleResult], None] | None = None,
    ) -> Iterator[tuple[int, SampleResult]]:
        """Judge many (problem, program) pairs; yields (position, result) as they finish.

        ``items`` may still be producing (a model still writing): it is read
        on a thread of its own, and results come out while it goes on.
        """
        results: queue.SimpleQueue = queue.SimpleQueue()
        fed = object()
        submitted = 0
        failure: list[BaseException] = []
        # twice as many threads as workers: a worker released before its
        # sample is judged starts the next one while the judging goes on
        with ThreadPoolExecutor(max_workers=2 * self.size, thread_name_prefix="assay-sandbox") as pool:

            def feed() -> None:
                nonlocal submitted
                try:
                    for position, (problem, program) in enumerate(items):
                        future = pool.submit(self.run, problem, program)
                        future.add_done_callback(lambda f, p=position: results.put((p, f)))
                        submitted += 1
                except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
                    failure.append(exc)
                finally:
                    results.put(fed)

            feeder = threading.Thread(target=feed, name="assay-sandbox-feed", daemon=True)
            feeder.start()
            received, total = 0, None
            while total is None or received < total:
                entry = results.get()
                if entry is fed:
                    total = submitted  # final: every submit happened before the marker was put
                    continue
                position, future = entry
                received += 1
                result = future.result()
                if on_result is not None:
                    on_result(position, result)
                yield position, result
            feeder.join()
        if failure:
            raise failure[0]

    def reference_replies(self, problem: Problem, program: str, limits: Limits | None = None, mode: Mode | str = Mode.STREAMED) -> list:
        """A trusted program's replies to each call test's arguments: their ``value`` and ``measurement`` (per call in ``lockstep`` mode).

        Used to compute expected outputs (e.g. of stress inputs) from a
        reference solution; it still runs in the sandbox, like any program.
        Raises ValueError when the program fails to load or on any input.
        """
        limits = limits or self.limits.with_cpu(self.limits.cpu_seconds * 10)
        tests = [t for t in problem.tests if isinstance(t, CallTest)]
        batch = self.run_calls(program, [Call(t.function or problem.entry_point, t.args, t.kwargs) for t in tests], limits=limits, mode=mode)
        load, replies = batch.load, batch.replies
        if load.status != "ok":
            raise ValueError("%s: the reference failed to load: %s" % (problem.task_id, load.message))
        for test, reply in zip(tests, replies):
            if reply.status != "ok":
                raise ValueError("%s: the reference failed on %s: %s %s" % (problem.task_id, test.name, reply.status, reply.message or ""))
        if len(replies) != len(tests):
            raise ValueError("%s: the reference stopped after %d of %d inputs" % (problem.task_id, len(replies), len(tests)))
        return list(replies)

    # ---------------------------------------------------------------- limits

    def limits_for(self, problem: Problem) -> Limits:
        """Per-test CPU limit from the reference's cost, measured once per problem."""
        if not self.calibrate or not problem.reference:
            return self.limits
        with self._calibration_lock:
            cached = self._calibrated.get(calibration_key(problem))
        if cached is not None:
            return cached
        result = self._run(problem, problem.reference, self.limits, None)
        if result.passed:
            slowest = max((t.measurement.cpu_ns for t in result.tests), default=0) / 1e9
            limits = self.limits.with_cpu(max(self.min_cpu_seconds, self.timeout_factor * slowest))
        else:
            limits = self.limits  # a reference that fails its own tests calibrates nothing
        with self._calibration_lock:
            self._calibrated[calibration_key(problem)] = limits
            self._calibrated_tasks.add(problem.task_id)
        return limits

    @property
    def pid_namespace_per_run(self) -> bool:
        return bool(self._workers[0].hello.get("pid_namespace_per_run"))


class SandboxStart:
    """A Sandbox whose workers are starting (``Sandbox(wait=False)``): ``get`` waits for it, ``discard`` closes it unless taken.

    Made on the caller's thread (bwrap ties a worker's life to the thread that
    started it), it returns at once; the workers start while the caller goes
    on. ``key`` is what it was started with (the Sandbox's options), so a
    caller can tell it is the one it needs.
    """

    def __init__(self, box: Sandbox, key: Any = None) -> None:
        self.key = key
        self._box = box
        self._taken = False

    @classmethod
    def of(cls, **options: Any) -> "SandboxStart":
        """``Sandbox(**options)``, starting; ``key`` is ``options``."""
        return cls(Sandbox(**options, wait=False), options)

    def get(self) -> Sandbox:
        box = self._box.ready()  # a worker that failed to start raises here; discard() still closes the rest
        self._taken = True
        return box

    def discard(self) -> None:
        if not self._taken:
            self._taken = True
            self._box.close()
