"""The reward service: ``assay serve``, an aiohttp server over a RewardScorer.

Endpoints (documented with examples in docs/rewards.md):

``POST /v1/rewards``  a batch of items → rewards in input order
``POST /v1/run``      one program and its tests → the sandbox's verdicts
``GET  /healthz``     liveness and load; 503 while draining
``GET  /metrics``     Prometheus text format

Admission is counted in *items* (samples), not requests: at most
``max_queue_items`` are accepted and not yet finished. A request that would
go over is refused at once with 429 and ``Retry-After`` (seconds, estimated
from the recent time per item); nothing is accepted that cannot be answered.
Sandbox calls block, so they run on the scorer's thread pool, sized to the
sandbox's workers; the event loop only parses, admits and answers.

Shutdown (SIGTERM / SIGINT): new requests get 503; everything accepted runs
to the end within ``drain_timeout`` seconds; items still waiting after that
are answered with ``reward: null`` and status ``shutdown`` (a run already in a
sandbox worker finishes within its time limits). Then the server closes.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import math
import os
import signal
import socket
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from assay.problems.model import Problem
from assay.reward.functions import KINDS, SHUTDOWN, Reward, RewardSpec
from assay.reward.resolve import ProblemError, benchmark_problem, given_task_id, inline_problem, problem_from_tests
from assay.reward.scoring import RewardItem, RewardScorer
from assay.sandbox.judge import RunPolicy
from assay.sandbox.verdict import SampleResult
from assay.sandbox.worker import InfraError

log = logging.getLogger(__name__)

API_KEY_ENV = "ASSAY_API_KEY"
MiB = 1024 * 1024


@dataclass
class ServerConfig:
    """Limits and settings of the reward service (``assay serve --help`` lists them)."""

    host: str = "127.0.0.1"
    port: int = 8750
    max_queue_items: int = 4096  # accepted and unfinished items; beyond → 429
    max_batch_items: int | None = None  # one request's items; default: max_queue_items; beyond → 413
    max_body_bytes: int = 32 * MiB  # request body; beyond → 413
    max_program_bytes: int = 1 * MiB  # one completion / solution / program; beyond → 413
    api_key: str | None = None  # required as "Authorization: Bearer KEY" or "X-API-Key: KEY"
    drain_timeout: float = 30.0
    default_benchmark: str | None = None
    access_log: bool = False
    insecure: bool = False  # allow a non-loopback address without an API key (anyone who reaches it runs code)

    @property
    def batch_limit(self) -> int:
        return min(self.max_batch_items or self.max_queue_items, self.max_queue_items)


class ExposedError(Exception):
    """Refused: a non-loopback address without an API key (anyone who reaches it could run code)."""


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address (127.0.0.0/8, ::1, localhost).

    An empty host binds every interface; a name that does not resolve is not
    known to be loopback.
    """
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]).is_loopback for info in infos)


def exposure_error(host: str, api_key: str | None, insecure: bool) -> str | None:
    """Why binding ``host`` is refused, with how to fix it; None when it is allowed."""
    if api_key or insecure or is_loopback(host):
        return None
    return (f"refusing to serve on {host or 'every interface'!r} without an API key: whoever can reach it could run any code "
            f"in this machine's sandbox. Set {API_KEY_ENV} (clients then send 'Authorization: Bearer <key>'), or bind "
            f"127.0.0.1, or pass --insecure if the network is yours alone.")  # fmt: skip


class RequestError(Exception):
    """A client mistake, answered with ``status`` and a JSON error."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


class ServiceMetrics:
    """Prometheus metrics of one service (its own registry, so several can live in one process)."""

    def __init__(self, workers: int, capacity: int) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("assay_reward_requests", "HTTP requests answered, by endpoint and status code", ["endpoint", "code"], registry=r)
        self.items = Counter("assay_reward_items", "Items scored, by reward kind and status", ["kind", "status"], registry=r)
        self.infra_errors = Counter("assay_reward_infra_errors", "Items with no reward because the sandbox failed", registry=r)
        self.rejected = Counter("assay_reward_rejected", "Requests refused before any work, by reason", ["reason"], registry=r)
        self.queue_items = Gauge("assay_reward_queue_items", "Accepted items not finished yet", registry=r)
        self.queue_capacity = Gauge("assay_reward_queue_capacity", "Most items accepted at once", registry=r)
        self.workers = Gauge("assay_reward_sandbox_workers", "Sandbox workers (and scoring threads)", registry=r)
        self.inflight = Gauge("assay_reward_inflight_requests", "Requests being handled", registry=r)
        self.item_seconds = Histogram("assay_reward_item_seconds", "Time to score one item (in a worker)", registry=r,
                                      buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))  # fmt: skip
        self.request_seconds = Histogram("assay_reward_request_seconds", "Time to answer a request", ["endpoint"], registry=r,
                                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))  # fmt: skip
        self.queue_capacity.set(capacity)
        self.workers.set(workers)


class RewardService:
    """The HTTP reward service around a :class:`RewardScorer`."""

    def __init__(self, config: ServerConfig | None = None, scorer: RewardScorer | None = None) -> None:
        self.config = config or ServerConfig()
        if self.config.api_key is None:
            self.config.api_key = os.environ.get(API_KEY_ENV) or None
        self.scorer = scorer or RewardScorer()
        self.workers = self.scorer.concurrency
        self.metrics = ServiceMetrics(self.workers, self.config.max_queue_items)
        self.pending_items = 0
        self.inflight_requests = 0
        self.draining = False
        self._futures: set[Future] = set()
        self._item_seconds_ewma = 0.05
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.app = self._build_app()

    # ---------------------------------------------------------------- app

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes, middlewares=[self._middleware])
        app.router.add_post("/v1/rewards", self.handle_rewards)
        app.router.add_post("/v1/run", self.handle_run)
        app.router.add_get("/healthz", self.handle_health)
        app.router.add_get("/metrics", self.handle_metrics)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        endpoint = request.match_info.route.resource.canonical if request.match_info.route.resource else "other"
        started = time.monotonic()
        self.inflight_requests += 1
        self.metrics.inflight.set(self.inflight_requests)
        try:
            if endpoint != "/healthz" and not self._authorized(request):
                self.metrics.rejected.labels("unauthorized").inc()
                response: web.StreamResponse = _error(401, "missing or wrong API key: send 'Authorization: Bearer <key>'", headers={"WWW-Authenticate": "Bearer"})
            elif request.content_length is not None and request.content_length > self.config.max_body_bytes:
                self.metrics.rejected.labels("too_large").inc()
                response = _error(413, f"request body of {request.content_length} bytes is over the limit of {self.config.max_body_bytes}")
            else:
                try:
                    response = await handler(request)
                except RequestError as exc:
                    if exc.status in (413, 429, 503):
                        self.metrics.rejected.labels({413: "too_large", 429: "queue_full", 503: "draining"}[exc.status]).inc()
                    response = _error(exc.status, exc.message, **exc.extra)
                except web.HTTPRequestEntityTooLarge:
                    self.metrics.rejected.labels("too_large").inc()
                    response = _error(413, f"request body is over the limit of {self.config.max_body_bytes} bytes")
                except web.HTTPException as exc:
                    response = _error(exc.status, exc.reason or "error")
        finally:
            self.inflight_requests -= 1
            self.metrics.inflight.set(self.inflight_requests)
        self.metrics.requests.labels(endpoint, str(response.status)).inc()
        self.metrics.request_seconds.labels(endpoint).observe(time.monotonic() - started)
        return response

    def _authorized(self, request: web.Request) -> bool:
        key = self.config.api_key
        if not key:
            return True
        given = request.headers.get("X-API-Key", "")
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return hmac.compare_digest(given.encode(), key.encode())

    # ---------------------------------------------------------------- admission

    def _admit(self, n: int) -> None:
        if self.draining:
            raise RequestError(503, "the server is shutting down", headers={"Retry-After": "5"})
        if n > self.config.batch_limit:
            raise RequestError(413, f"{n} items in one request is over the limit of {self.config.batch_limit}: split the batch")
        if self.pending_items + n > self.config.max_queue_items:
            retry = self.retry_after()
            raise RequestError(429, f"the queue is full ({self.pending_items} of {self.config.max_queue_items} items pending); retry in {retry} s",
                               headers={"Retry-After": str(retry)}, retry_after=retry)  # fmt: skip
        self.pending_items += n
        self.metrics.queue_items.set(self.pending_items)

    def retry_after(self) -> int:
        """Seconds until the queue has drained, estimated from recent per-item times."""
        return max(1, math.ceil(self.pending_items * self._item_seconds_ewma / max(1, self.workers)))

    def _release(self, seconds: float | None) -> None:
        self.pending_items -= 1
        self.metrics.queue_items.set(self.pending_items)
        if seconds is not None:
            self._item_seconds_ewma = 0.9 * self._item_seconds_ewma + 0.1 * seconds

    def _submit(self, fn: Callable[[], Any]) -> "asyncio.Future[Any]":
        """Run ``fn`` on the scorer's pool; the item leaves the queue when it ends, whoever waits for it."""
        loop = asyncio.get_running_loop()
        started = time.monotonic()

        def timed() -> Any:
            begun = time.monotonic()
            try:
                return fn()
            finally:
                self.metrics.item_seconds.observe(time.monotonic() - begun)

        future = self.scorer.executor().submit(timed)
        self._futures.add(future)

        def done(f: Future) -> None:
            seconds = None if f.cancelled() else time.monotonic() - started
            try:
                loop.call_soon_threadsafe(self._finished, f, seconds)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

        future.add_done_callback(done)
        return asyncio.wrap_future(future, loop=loop)

    def _finished(self, future: Future, seconds: float | None) -> None:
        self._futures.discard(future)
        self._release(seconds)

    # ---------------------------------------------------------------- handlers

    async def handle_health(self, request: web.Request) -> web.Response:
        body = {
            "status": "draining" if self.draining else "ok",
            "workers": self.workers,
            "queue_items": self.pending_items,
            "queue_capacity": self.config.max_queue_items,
            "inflight_requests": self.inflight_requests - 1,
        }
        return web.json_response(body, status=503 if self.draining else 200)

    async def handle_metrics(self, request: web.Request) -> web.Response:
        self.metrics.queue_items.set(self.pending_items)
        return web.Response(body=generate_latest(self.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _json(self, request: web.Request) -> dict[str, Any]:
        if self.draining:
            raise RequestError(503, "the server is shutting down", headers={"Retry-After": "5"})
        body = await request.read()  # HTTPRequestEntityTooLarge past client_max_size
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestError(400, f"the body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise RequestError(400, "the body must be a JSON object")
        return data

    async def handle_rewards(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        data = await self._json(request)
        spec, items, details = self.parse_rewards(data)
        self._admit(len(items))
        futures = [self._submit(lambda item=item: self.scorer.score(item, spec)) for item in items]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        rewards: list[Reward] = []
        for item, outcome in zip(items, outcomes):
            if isinstance(outcome, Reward):
                rewards.append(outcome)
            else:
                reason = "the server shut down before this item ran" if isinstance(outcome, asyncio.CancelledError) else f"internal error: {outcome!r}"
                rewards.append(Reward(None, spec.kind, SHUTDOWN if isinstance(outcome, asyncio.CancelledError) else "infra_error", reason, given_task_id(item.problem), id=item.id))
        for reward in rewards:
            self.metrics.items.labels(spec.kind, reward.status).inc()
            if reward.value is None:
                self.metrics.infra_errors.inc()
        body: dict[str, Any] = {
            "kind": spec.kind,
            "count": len(rewards),
            "rewards": [r.value for r in rewards],
            "results": [r.to_dict(details=details) for r in rewards],
            "infra_errors": sum(r.value is None for r in rewards),
            "elapsed_seconds": round(time.monotonic() - started, 6),
        }
        if spec.kind == "efficiency":
            body["meter"] = spec.meter
        return web.json_response(body)

    def parse_rewards(self, data: dict[str, Any]) -> tuple[RewardSpec, list[RewardItem], bool]:
        """Validate a /v1/rewards body; any mistake is a 400 naming the item."""
        kind = data.get("kind", "correctness")
        if kind not in KINDS:
            raise RequestError(400, f"'kind' must be one of {', '.join(KINDS)}")
        try:
            spec = RewardSpec(kind=kind).with_params(data.get("params"))
        except (ValueError, TypeError) as exc:
            raise RequestError(400, f"bad 'params': {exc}") from None
        raw_items = data.get("items")
        if not isinstance(raw_items, list) or not raw_items:
            raise RequestError(400, "'items' must be a non-empty array")
        if len(raw_items) > self.config.batch_limit:
            raise RequestError(413, f"{len(raw_items)} items in one request is over the limit of {self.config.batch_limit}: split the batch")
        benchmark = data.get("benchmark") or self.config.default_benchmark
        inline: dict[str, Problem] = {}
        raw_problems = data.get("problems") or []
        if not isinstance(raw_problems, list):
            raise RequestError(400, "'problems' must be an array of problem objects")
        for position, raw in enumerate(raw_problems):
            try:
                problem = inline_problem(raw)
            except ProblemError as exc:
                raise RequestError(400, f"problems[{position}]: {exc}", problem=position) from None
            inline[given_task_id(problem)] = problem
        items = [self._parse_item(raw, i, benchmark, inline) for i, raw in enumerate(raw_items)]
        return spec, items, bool(data.get("details", True))

    def _parse_item(self, raw: Any, index: int, benchmark: str | None, inline: dict[str, Problem]) -> RewardItem:
        where = f"items[{index}]"
        if not isinstance(raw, dict):
            raise RequestError(400, f"{where}: must be an object", item=index)
        completion, solution = raw.get("completion"), raw.get("solution")
        if (completion is None) == (solution is None):
            raise RequestError(400, f"{where}: give exactly one of 'completion' or 'solution'", item=index)
        text = completion if completion is not None else solution
        if not isinstance(text, str):
            raise RequestError(400, f"{where}: 'completion' / 'solution' must be a string", item=index)
        if len(text.encode("utf-8", "surrogatepass")) > self.config.max_program_bytes:
            raise RequestError(413, f"{where}: the program is over the limit of {self.config.max_program_bytes} bytes", item=index)
        try:
            if raw.get("problem") is not None:
                problem = inline_problem(raw["problem"])
            else:
                task_id = raw.get("task_id")
                if not isinstance(task_id, str):
                    raise RequestError(400, f"{where}: needs a 'task_id' (or an inline 'problem')", item=index)
                if task_id in inline:
                    problem = inline[task_id]
                elif benchmark:
                    problem = benchmark_problem(benchmark, task_id)
                else:
                    raise RequestError(400, f"{where}: task_id {task_id!r} is not among 'problems' and no 'benchmark' is given", item=index)
        except ProblemError as exc:
            raise RequestError(400, f"{where}: {exc}", item=index) from None
        return RewardItem(problem, completion=completion, solution=solution, id=raw.get("id"))

    async def handle_run(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        program = data.get("program")
        if not isinstance(program, str):
            raise RequestError(400, "'program' must be a string")
        if len(program.encode("utf-8", "surrogatepass")) > self.config.max_program_bytes:
            raise RequestError(413, f"the program is over the limit of {self.config.max_program_bytes} bytes")
        try:
            if data.get("problem") is not None:
                problem = inline_problem(data["problem"])
            elif data.get("tests") is not None:
                problem = problem_from_tests(data["tests"], data.get("entry_point"))
            elif isinstance(data.get("task_id"), str) and (data.get("benchmark") or self.config.default_benchmark):
                problem = benchmark_problem(data.get("benchmark") or self.config.default_benchmark, data["task_id"])
            else:
                raise RequestError(400, "give 'tests' (+ 'entry_point'), an inline 'problem', or 'task_id' + 'benchmark'")
        except ProblemError as exc:
            raise RequestError(400, str(exc)) from None
        policy = RunPolicy(continue_after_fatal=bool(data.get("continue_after_fatal", False)))
        self._admit(1)
        sandbox = self.scorer.sandbox

        def run() -> SampleResult | str:
            try:
                return sandbox.run(problem, program, policy=policy)
            except InfraError as exc:
                return f"sandbox failure (not the program's fault): {exc}"

        try:
            outcome = await self._submit(run)
        except asyncio.CancelledError:
            outcome = "the server shut down before this program ran"
        if isinstance(outcome, str):
            return web.json_response({"status": "infra_error", "passed": None, "reason": outcome, "tests": []})
        body = outcome.to_dict()
        body["task_id"] = given_task_id(problem)
        body["fraction_passed"] = outcome.fraction_passed
        if outcome.is_infra_error:
            body["passed"] = None
        return web.json_response(body)

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> tuple[str, int]:
        """Bind and serve; returns the (host, port) actually bound (port 0 picks a free one).

        Raises :class:`ExposedError` for a non-loopback address without an
        API key, unless ``config.insecure``.
        """
        refused = exposure_error(self.config.host, self.config.api_key, self.config.insecure)
        if refused:
            raise ExposedError(refused)
        self._loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(self.app, access_log=log if self.config.access_log else None, shutdown_timeout=max(1.0, self.config.drain_timeout))
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.config.port = port
        return host, port

    async def drain(self) -> None:
        """Stop taking work; finish what was accepted, or answer it as not run after drain_timeout."""
        self.draining = True
        deadline = time.monotonic() + self.config.drain_timeout
        while self.pending_items > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.pending_items > 0:
            for future in list(self._futures):
                future.cancel()  # not started yet: answered as 'shutdown'; running ones end within their limits
        while self.inflight_requests > 0 and time.monotonic() < deadline + 30:
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await self.drain()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def serve_forever(self, ready: Callable[[str, int], None] | None = None) -> None:
        """Serve until SIGTERM or SIGINT, then drain and stop."""
        host, port = await self.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread
                pass
        if ready is not None:
            ready(host, port)
        await stop.wait()
        await self.stop()


def _error(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    body = {"error": message, **extra}
    return web.json_response(body, status=status, headers=headers)


class RunningServer:
    """A service on its own event loop in a background thread (tests, benchmarks, notebooks)."""

    def __init__(self, service: RewardService) -> None:
        self.service = service
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.host, self.port = "", 0
        self.thread = threading.Thread(target=self._run, name="assay-serve", daemon=True)
        self.thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise self._error
        if not self._ready.is_set():
            raise RuntimeError("the reward server did not start in 60 s")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.host, self.port = self.loop.run_until_complete(self.service.start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if not self.loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(self.service.stop(), self.loop).result(timeout=self.service.config.drain_timeout + 60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def __enter__(self) -> "RunningServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(config: ServerConfig | None = None, scorer: RewardScorer | None = None) -> RunningServer:
    """Start a reward server in a background thread; ``.url``, ``.stop()``."""
    return RunningServer(RewardService(config, scorer))
