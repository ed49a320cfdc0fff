"""Judging spread over a Ray cluster: ``assay eval --ray``, ``assay solve --ray``.

::

    from assay.scale import RayJudge
    with RayJudge("auto") as judge:              # or "host:6379"; an already initialised Ray is reused
        report = evaluate("humaneval", "samples.jsonl", judge=judge)

Each node gets one :class:`JudgeActor` holding a warm :class:`~assay.sandbox.Sandbox`
with as many workers as the node has CPUs (``workers=`` to choose). The driver
cuts the samples into small chunks, keeps two in flight on every actor, and
yields each verdict as it comes back, so the one SQLite store stays on the
driver and is written by it alone (``Evaluation.record``): a killed run
resumes from it with ``--resume``, on the cluster or not (the run's identity
does not depend on where it ran).

A lost actor (its node gone, OOM-killed, ``ray.kill``) is an infrastructure
failure, never the candidate's: its unfinished chunks go to the other actors
and a replacement actor is started (it gets work once it answers). A chunk
lost ``max_retries + 1`` times comes back as ``infra_error`` verdicts (left
out of pass@k, run again by ``--resume``); with no live actor left and none
starting, :class:`RayJudgeError` is raised and what was judged is already
stored. A bug in the actor's own code is raised, not retried.

Every node must have the same assay installed (and ``bubblewrap``, as for a
local sandbox). Ray with token authentication (the default of the Ray
installed here) needs ``RAY_AUTH_MODE=token`` and the cluster's token
(``ray get-auth-token``) on the client too.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from assay.problems import Problem
from assay.sandbox.limits import Limits
from assay.sandbox.verdict import SampleResult, Status, TestVerdict


class RayJudgeError(RuntimeError):
    """The cluster could not go on judging (no live actor left); what was judged is stored."""


def connect(address: str | None = None) -> Any:
    """Ray, initialised: reused if this process already joined a cluster (as inside a verl job), else ``ray.init(address)``.

    ``address``: ``"auto"`` (the cluster this machine belongs to), ``"host:port"``
    of a head node, or ``"local"`` for a Ray started in this process.
    """
    try:
        import ray
    except ImportError:
        raise ImportError("--ray needs Ray: pip install 'assay[ray]'") from None
    if ray.is_initialized():
        return ray
    target = None if address in (None, "", "local") else address
    if target and target != "auto" and "://" not in target:  # host:port: fail at once where nothing listens (Ray itself retries for minutes)
        import socket

        host, _, port = target.rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=10).close()
        except (OSError, ValueError) as exc:
            raise RayJudgeError(f"nothing answers at {target!r} ({exc}): is the head up (`ray start --head --port PORT`), and is the address its host:port?") from None
    try:
        ray.init(address=target, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except Exception as exc:
        hint = ""
        if "auth" in str(exc).lower() or type(exc).__name__ == "AuthenticationError":
            hint = " (the cluster uses token authentication: set RAY_AUTH_MODE=token and give its token, from `ray get-auth-token` on the head, in RAY_AUTH_TOKEN or ~/.ray/auth_token)"
        raise RayJudgeError(f"cannot join the Ray cluster at {address!r}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}{hint}") from exc
    return ray


def infra_result(problem: Problem, message: str) -> SampleResult:
    """A verdict that says the infrastructure failed, for every test: never the candidate's failure."""
    tests = [TestVerdict(t.name, Status.INFRA_ERROR, kind=t.kind, message=message) for t in problem.tests]
    if not tests:
        tests = [TestVerdict("sandbox", Status.INFRA_ERROR, message=message)]
    return SampleResult(task_id=problem.task_id, tests=tests, infra_message=message)


class JudgeActor:
    """One Ray actor: a warm Sandbox on its node, judging chunks of (problem, program) pairs."""

    def __init__(self, workers: int, limits: Limits | None, timeout_factor: float, min_cpu_seconds: float, pin: bool | None = False) -> None:
        from assay.sandbox.pool import Sandbox

        # pin: as a local pool (None: pinned when it has every CPU the process may use); False where actors may share a machine
        self.sandbox = Sandbox(workers=workers, limits=limits, timeout_factor=timeout_factor, min_cpu_seconds=min_cpu_seconds, pin=pin)
        self.judged = 0

    def info(self) -> dict[str, Any]:
        node = None
        try:
            import ray

            node = ray.get_runtime_context().get_node_id()
        except Exception:
            pass
        return {"pid": os.getpid(), "host": os.uname().nodename, "node": node, "workers": self.sandbox.size}

    def judge(self, chunk: list[tuple[Problem, str]]) -> list[SampleResult]:
        results: list[SampleResult | None] = [None] * len(chunk)
        for offset, result in self.sandbox.run_many(chunk):
            results[offset] = result
        self.judged += len(chunk)
        return results  # type: ignore[return-value]

    def close(self) -> bool:
        self.sandbox.close()
        return True


@dataclass
class _Slot:
    index: int
    handle: Any
    node: str | None = None  # the node it was placed on (None: let Ray choose)
    ready: bool = False
    alive: bool = True
    inflight: int = 0
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Chunk:
    items: list[tuple[int, Problem, str]]  # (position in run_many's input, problem, program)
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


class RayJudge:
    """``run_many`` over Ray actors, a drop-in for ``Sandbox.run_many`` where a run judges its samples.

    ``address``: as :func:`connect`. ``workers``: sandbox workers per actor
    (default: the node's CPUs). ``actors``: how many (default: one per node
    with CPUs, each placed on its node; with ``actors`` given, Ray spreads
    them). ``chunk_size``: samples per Ray call (default: twice the actor's
    workers). ``max_retries``: how often a chunk whose actor was lost is sent
    again. ``max_replacements``: actors started in place of lost ones over the
    judge's life (default: as many as it started with).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        actors: int | None = None,
        limits: Limits | None = None,
        timeout_factor: float = 20.0,
        min_cpu_seconds: float = 0.3,
        chunk_size: int | None = None,
        max_retries: int = 3,
        max_replacements: int | None = None,
        in_flight: int = 2,
        ready_timeout: float = 300.0,
    ) -> None:
        self._ray = ray = connect(address)
        self.address = address
        self.workers = workers
        self.limits = limits
        self.timeout_factor = timeout_factor
        self.min_cpu_seconds = min_cpu_seconds
        self.chunk_size = chunk_size
        self.max_retries = max_retries
        self.in_flight = max(1, in_flight)
        self._actor_class = ray.remote(JudgeActor)
        self.slots: list[_Slot] = []
        self.lost: list[str] = []  # one line per lost actor
        self.retried_chunks = 0
        self.judged_by: Counter[str] = Counter()  # samples judged per node
        self._closed = False
        self._starting: dict[Any, _Slot] = {}
        if actors is None:
            for node in ray.nodes():
                cpus = int(node.get("Resources", {}).get("CPU", 0))
                if node.get("Alive") and cpus > 0:
                    self._start(workers or cpus, node=node["NodeID"])
        else:
            for _ in range(actors):
                self._start(workers or 1)
        if not self.slots:
            raise RayJudgeError("the Ray cluster has no node with CPUs")
        self.max_replacements = len(self.slots) if max_replacements is None else max_replacements
        self.replacements = 0
        self._wait_ready(ready_timeout)

    # ---------------------------------------------------------------- actors

    def _start(self, workers: int, node: str | None = None) -> _Slot:
        options: dict[str, Any] = {"num_cpus": workers, "max_restarts": 0, "max_concurrency": self.in_flight + 1}
        if node is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=True)
        else:
            options["scheduling_strategy"] = "SPREAD"
        # the node's own actor pins its workers as a local pool does (when it has them all); actors that may share a node do not
        pin = None if node is not None else False
        handle = self._actor_class.options(**options).remote(workers, self.limits, self.timeout_factor, self.min_cpu_seconds, pin)
        slot = _Slot(len(self.slots), handle, node)
        slot.info = {"workers": workers}
        self.slots.append(slot)
        return slot

    def _wait_ready(self, timeout: float, settle: float = 30.0) -> None:
        """Wait for the first actor (up to ``timeout``), then up to ``settle`` s for the others.

        One that is still starting after that (placed on a node that is gone
        but not yet declared dead, waiting for resources) gets work when it
        answers, in :meth:`run_many`.
        """
        self._starting = {slot.handle.info.remote(): slot for slot in self.slots}
        deadline = time.monotonic() + timeout
        settled: float | None = None
        while self._starting:
            now = time.monotonic()
            if settled is None and any(s.ready for s in self.slots):
                settled = now + settle
            limit = deadline if settled is None else min(deadline, settled)
            if now >= limit:
                break
            done, _ = self._ray.wait(list(self._starting), num_returns=1, timeout=limit - now)
            for ref in done:
                self._became_ready(self._starting.pop(ref), ref)
        if not any(s.ready for s in self.slots):
            raise RayJudgeError(f"no judging actor came up on the Ray cluster within {timeout:.0f} s")

    def _became_ready(self, slot: _Slot, ref: Any) -> None:
        try:
            slot.info = self._ray.get(ref)
            slot.ready = True
        except Exception as exc:  # the actor could not start (its node died, no sandbox there)
            self._lose(slot, f"actor {slot.index} did not start: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")

    def _lose(self, slot: _Slot, why: str) -> None:
        if not slot.alive:
            return
        slot.alive = slot.ready = False
        self.lost.append(why)
        try:
            self._ray.kill(slot.handle, no_restart=True)
        except Exception:
            pass

    @property
    def size(self) -> int:
        """Sandbox workers on the live actors."""
        return sum(int(s.info.get("workers", 0)) for s in self.slots if s.alive and s.ready)

    @property
    def nodes(self) -> list[str]:
        return sorted({str(s.info.get("node")) for s in self.slots if s.alive and s.ready})

    def describe(self) -> str:
        live = [s for s in self.slots if s.alive and s.ready]
        waiting = sum(s.alive and not s.ready for s in self.slots)
        nodes = len(self.nodes)
        return "%d actor%s on %d node%s, %d sandbox workers%s" % (
            len(live),
            "" if len(live) == 1 else "s",
            nodes,
            "" if nodes == 1 else "s",
            self.size,
            ", %d more starting" % waiting if waiting else "",
        )

    def summary(self) -> str:
        """Where the samples were judged and what was lost on the way (one line)."""
        where = ", ".join("%d on node %s" % (n, node[:8]) for node, n in sorted(self.judged_by.items())) or "nothing judged"
        lost = (
            "; %d actor%s lost (%s), %d chunk%s sent again"
            % (len(self.lost), "" if len(self.lost) == 1 else "s", "; ".join(self.lost[:3]), self.retried_chunks, "" if self.retried_chunks == 1 else "s")
            if self.lost
            else ""
        )
        return "Ray: judged %s%s" % (where, lost)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        ray = self._ray
        closing = [s.handle.close.remote() for s in self.slots if s.alive and s.ready]
        if closing:
            ray.wait(closing, num_returns=len(closing), timeout=30)
        for slot in self.slots:
            if slot.alive:
                try:
                    ray.kill(slot.handle, no_restart=True)
                except Exception:
                    pass
                slot.alive = False

    def __enter__(self) -> "RayJudge":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- judging

    def run_many(self, items: Iterable[tuple[Problem, str]], on_result: Callable[[int, SampleResult], None] | None = None) -> Iterator[tuple[int, SampleResult]]:
        """Judge (problem, program) pairs on the cluster; yields (position, result) as chunks come back.

        ``items`` may still be producing (a model still writing): it is read
        on a thread of its own, and a partial chunk goes out whenever an
        actor is idle.
        """
        ray = self._ray
        fed: queue.SimpleQueue = queue.SimpleQueue()
        end = object()
        failure: list[BaseException] = []

        def feed() -> None:
            try:
                for position, (problem, program) in enumerate(items):
                    fed.put((position, problem, program))
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
                failure.append(exc)
            finally:
                fed.put(end)

        feeder = threading.Thread(target=feed, name="assay-ray-feed", daemon=True)
        feeder.start()
        waiting: list[tuple[int, Problem, str]] = []
        again: list[_Chunk] = []  # chunks whose actor was lost
        running: dict[Any, tuple[_Chunk, _Slot]] = {}
        starting = self._starting  # actors not up yet: they get work once they answer
        finished_feeding = False

        def chunk_size(slot: _Slot) -> int:
            return self.chunk_size or max(2, 2 * int(slot.info.get("workers", 1)))

        def dispatch() -> None:
            while True:
                free = [s for s in self.slots if s.alive and s.ready and s.inflight < self.in_flight]
                if not free or not (again or waiting):
                    return
                slot = min(free, key=lambda s: (s.inflight, s.index))
                if again:
                    chunk = again.pop(0)
                else:
                    size = chunk_size(slot)
                    if len(waiting) < size and not finished_feeding and slot.inflight > 0:
                        return  # a partial chunk only to an idle actor: more may come
                    chunk = _Chunk(waiting[:size])
                    del waiting[:size]
                chunk.attempts += 1
                slot.inflight += 1
                ref = slot.handle.judge.remote([(problem, program) for _, problem, program in chunk.items])
                running[ref] = (chunk, slot)

        def replace(slot: _Slot) -> None:
            if self.replacements < self.max_replacements:
                self.replacements += 1
                fresh = self._start(int(slot.info.get("workers", 1)))
                starting[fresh.handle.info.remote()] = fresh

        while True:
            while True:  # take what the feeder has
                try:
                    entry = fed.get_nowait()
                except queue.Empty:
                    break
                if entry is end:
                    finished_feeding = True
                else:
                    waiting.append(entry)
            if failure:
                raise failure[0]
            dispatch()
            if finished_feeding and not waiting and not again and not running:
                break
            if not running and not starting and not any(s.alive and s.ready for s in self.slots):
                raise RayJudgeError("no live judging actor is left on the Ray cluster (lost: %s); what was judged is stored, rerun with --resume" % "; ".join(self.lost[-3:]))
            refs = list(running) + list(starting)
            if not refs:  # nothing out: wait for the feeder
                try:
                    entry = fed.get(timeout=1.0)
                except queue.Empty:
                    continue
                if entry is end:
                    finished_feeding = True
                else:
                    waiting.append(entry)
                continue
            done, _ = ray.wait(refs, num_returns=1, timeout=None if finished_feeding else 0.05)
            for ref in done:
                if ref in starting:
                    self._became_ready(starting.pop(ref), ref)
                    continue
                chunk, slot = running.pop(ref)
                slot.inflight -= 1
                try:
                    results = ray.get(ref)
                except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError, ray.exceptions.ObjectLostError) as exc:
                    was_alive = slot.alive
                    self._lose(slot, f"actor {slot.index} on node {str(slot.info.get('node'))[:12]}: {type(exc).__name__}")
                    if was_alive:
                        replace(slot)
                    chunk.errors.append(f"actor {slot.index}: {type(exc).__name__}")
                    if chunk.attempts > self.max_retries:
                        message = "infrastructure failure (not the candidate's fault): the Ray actor judging it was lost %d times (%s)" % (chunk.attempts, "; ".join(chunk.errors))
                        for position, problem, _ in chunk.items:
                            result = infra_result(problem, message)
                            if on_result is not None:
                                on_result(position, result)
                            yield position, result
                    else:
                        self.retried_chunks += 1
                        again.append(chunk)
                    continue
                except ray.exceptions.RayTaskError as exc:  # a bug in the actor's code: loud, not retried
                    raise RayJudgeError(f"judging a chunk on actor {slot.index} raised: {exc}") from exc
                if len(results) != len(chunk.items):
                    raise RayJudgeError(f"actor {slot.index} answered {len(results)} verdicts for {len(chunk.items)} samples")
                self.judged_by[str(slot.info.get("node"))] += len(results)
                for (position, _, _), result in zip(chunk.items, results):
                    if on_result is not None:
                        on_result(position, result)
                    yield position, result
        feeder.join()


def add_ray_option(parser: Any) -> None:
    """``--ray ADDRESS`` on a command (eval, solve)."""
    parser.add_argument("--ray", metavar="ADDRESS", default=None,
                        help="judge on a Ray cluster: 'auto' (the cluster this machine is in), a head's host:port, or 'local'; "
                             "one actor per node with --workers sandbox workers (default: the node's CPUs); the store stays here")  # fmt: skip


@contextlib.contextmanager
def judge_for(args: Any, limits: Limits, say: Callable[[str], None] = print) -> Iterator[RayJudge | None]:
    """The RayJudge that ``args.ray`` asks for (None: judge locally); says where it judged, and what it lost, at the end."""
    address = getattr(args, "ray", None)
    if not address:
        yield None
        return
    judge = RayJudge(address, workers=args.workers, limits=limits, timeout_factor=args.timeout_factor, min_cpu_seconds=args.min_timeout)
    say("on Ray (%s): %s" % (address, judge.describe()))
    try:
        yield judge
    finally:
        say(judge.summary())
        judge.close()


# ---------------------------------------------------------------------------- a cluster on this machine


class LocalCluster:
    """A throwaway Ray cluster of ``nodes`` node processes on this machine (tests, benches, trying ``--ray``).

    Each node is a ``ray start --block`` in a session of its own, in a temp
    dir of its own, on a port of its own; :meth:`kill_node` SIGKILLs one
    node's processes (as a lost machine), :meth:`stop` ends them all. Only
    the processes it started are touched (never ``ray stop``, which would end
    every Ray on the machine). ``env`` is what a client needs to join it
    (token authentication included).
    """

    def __init__(self, nodes: int = 2, cpus_per_node: int = 1, *, port: int | None = None, object_store_mb: int = 80, ray_bin: str | None = None) -> None:
        self.nodes = nodes
        self.cpus_per_node = cpus_per_node
        self.port = port or _free_port()
        self.object_store_mb = object_store_mb
        self.ray_bin = ray_bin or str(Path(sys.executable).with_name("ray"))
        self.temp_dir = tempfile.mkdtemp(prefix="assay-ray-", dir="/tmp")  # short: Ray's socket paths are limited
        self.address = "127.0.0.1:%d" % self.port
        self.env = dict(os.environ, RAY_AUTH_MODE="token", RAY_USAGE_STATS_ENABLED="0")
        self.env.pop("RAY_ADDRESS", None)
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self, timeout: float = 120.0) -> "LocalCluster":
        if not (self.env.get("RAY_AUTH_TOKEN") or self.env.get("RAY_AUTH_TOKEN_PATH") or (Path.home() / ".ray" / "auth_token").exists()):
            subprocess.run([self.ray_bin, "get-auth-token", "--generate"], env=self.env, check=True, capture_output=True, timeout=60)
        common = ["--num-cpus", str(self.cpus_per_node), "--object-store-memory", str(self.object_store_mb * 1024 * 1024), "--disable-usage-stats", "--block"]
        try:
            self._node(["--head", "--port", str(self.port), "--temp-dir", self.temp_dir, "--include-dashboard", "false", *common], timeout)
            for _ in range(self.nodes - 1):
                self._node(["--address", self.address, *common], timeout)
            self.wait_nodes(self.nodes, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _node(self, argv: list[str], timeout: float) -> None:
        log = Path(self.temp_dir) / ("node%d.log" % len(self.processes))
        with open(log, "wb") as out:
            process = subprocess.Popen([self.ray_bin, "start", *argv], env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        self.logs.append(log)
        deadline = time.monotonic() + timeout
        while b"block forever" not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ray start %s failed:\n%s" % (" ".join(argv), log.read_text(errors="replace")[-3000:]))
            time.sleep(0.2)

    def alive_nodes(self) -> int:
        code = "import ray; ray.init(address=%r, log_to_driver=False, include_dashboard=False); print(sum(n['Alive'] for n in ray.nodes()))" % self.address
        done = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True, text=True, timeout=120)
        return int(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 and done.stdout.strip() else 0

    def wait_nodes(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.alive_nodes() < count:
            if time.monotonic() > deadline:
                raise RuntimeError("the local Ray cluster did not reach %d nodes" % count)
            time.sleep(0.5)

    def kill_node(self, index: int) -> None:
        """SIGKILL every process of node ``index`` (0 is the head): the machine is gone."""
        _kill_tree(self.processes[index].pid, signal.SIGKILL)
        self.processes[index].wait(timeout=30)

    def stop(self) -> None:
        for process in reversed(self.processes):  # worker nodes first, the head last
            if process.poll() is None:
                _kill_tree(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            _kill_tree(process.pid, signal.SIGKILL)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kill_tree(pid: int, sig: int) -> None:
    """Signal ``pid``'s process group and every descendant of it (Ray's workers live in groups of their own)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, "rb") as handle:
                    stat = handle.read()
                ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    group = [pid]
    pgid = _pgid(pid)
    if pgid is not None and pgid != os.getpgid(0):  # never our own group
        group += [int(e) for e in os.listdir("/proc") if e.isdigit() and _pgid(int(e)) == pgid]
    seen: set[int] = set()
    stack = list(group)
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(children.get(current, ()))
    for target in seen:
        try:
            os.kill(target, sig)
        except OSError:
            pass


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


__all__ = ["JudgeActor", "LocalCluster", "RayJudge", "RayJudgeError", "connect", "infra_result"]
