"""``assay solve``: a strategy writes programs with a model; the evaluation judges them.

The strategy sees a problem without its hidden tests and without its
reference solution (:func:`strategy_view`), and talks to the model through a
:class:`SolveTask` that meters and stores every call. What it returns is
judged on the hidden tests afterwards, by the same :class:`~assay.evaluate.Evaluation`
that ``assay eval`` uses: the same fan-out over the sandbox, store rows and
scores. Strategies are registered in :data:`assay.plugins.STRATEGIES`; the
built-in ``sample`` is the baseline every search method is measured against:
``n`` independent samples per problem.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

from assay import sealing
from assay.evaluate import EvalReport, Evaluation, Pending, Progress, run_identity
from assay.models.accounting import Budget, Ledger, MeteredModel
from assay.models.base import Completion, GenerationParams, Message, Model, aclose_model
from assay.models.extract import program_from_reply
from assay.plugins import STRATEGIES, hookimpl
from assay.problems import Problem
from assay.samples import Sample
from assay.sandbox.calls import Call, CallBatch, Mode
from assay.sandbox.limits import Limits
from assay.sandbox.pool import Sandbox
from assay.sandbox.verdict import SampleResult
from assay.sandbox.worker import Reply
from assay.store import Store

SYSTEM_PROMPT = "You are an expert Python programmer. Reply with one complete Python code block."
USER_TEMPLATE = (
    "Complete the following Python function. Return the whole function, with any imports it needs, "
    "in a single ```python code block.\n\n```python\n{prompt}\n```"
)


@dataclass(frozen=True)
class SolveConfig:
    strategy: str = "sample"
    n: int = 1
    params: GenerationParams = field(default_factory=GenerationParams)
    concurrency: int = 4


@dataclass
class SolveReport:
    evaluation: EvalReport
    model: str
    ledger: Ledger
    extraction_failures: int


@dataclass(frozen=True)
class Candidate:
    """A program a strategy proposes as its answer (``index``: which of the problem's ``n``)."""

    index: int
    program: str | None  # None: the reply held no code
    extraction: str  # how the program was found in the reply
    spent: dict[str, Any] | None = None  # what the strategy spent on it (calls, tokens, sandbox runs, seconds)


def messages_for(problem: Problem) -> list[Message]:
    return [Message.system(SYSTEM_PROMPT), Message.user(USER_TEMPLATE.format(prompt=problem.prompt.rstrip()))]


def strategy_view(problem: Problem) -> Problem:
    """The problem as a strategy may see it: no hidden tests, no reference solution."""
    return replace(problem, tests=problem.visible_tests(), reference=None)


class Workbench:
    """The sandbox as a strategy uses it: run programs on tests it may see, and plain calls."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def run(self, problem: Problem, program: str) -> SampleResult:
        return self._sandbox.run(problem, program)

    def run_calls(self, program: str, calls: Sequence[Call], *, limits: Limits | None = None, mode: Mode | str = Mode.STREAMED) -> CallBatch:
        return self._sandbox.run_calls(program, calls, limits=limits, mode=mode)

    def run_exec(self, argv: list[str], files: dict[str, str] | None = None, collect: list[str] | None = None, limits: Limits | None = None) -> Reply:
        return self._sandbox.run_exec(argv, files=files, collect=collect, limits=limits)

    @property
    def size(self) -> int:
        return self._sandbox.size

    @property
    def limits(self) -> Limits:
        return self._sandbox.limits


class SolveTask:
    """One problem for a strategy: its visible part, a model whose every call is metered and recorded, and a workbench.

    The task is also a model (``name``, ``generate``): oracles that ask a
    model get the task, so their calls are metered and recorded too.
    Records (model calls, search nodes) go to ``record``, which the caller
    writes to the store outside the strategy's sealed context.
    """

    def __init__(self, problem: Problem, model: MeteredModel, params: GenerationParams, n: int, *, sandbox: Sandbox | Workbench | None = None,
                 record: Callable[[str, dict[str, Any]], None] = lambda kind, row: None) -> None:  # fmt: skip
        self.problem = strategy_view(problem)
        self.params = params
        self.n = n
        self.sandbox = sandbox if sandbox is None or isinstance(sandbox, Workbench) else Workbench(sandbox)
        self._model = model.with_scope(problem.task_id)
        self._record = record
        self._model_name = model.name

    @property
    def name(self) -> str:
        return self._model_name

    def limit(self, budget: Budget) -> None:
        """Charge every later model call to ``budget`` too (a call made when it is spent raises BudgetExhausted)."""
        self._model = self._model.with_scope(self.problem.task_id, budget)

    async def generate(self, messages: Sequence[Message], params: GenerationParams | None = None, *, index: int = 0) -> list[Completion]:
        """Completions for ``messages``; each is recorded under sample ``index + i``."""
        params = params or self.params
        began = time.perf_counter()
        completions = await self._model.generate(messages, params)
        seconds = time.perf_counter() - began
        for offset, completion in enumerate(completions):
            self._record("llm_call", {
                "task_id": self.problem.task_id, "sample_index": index + offset, "model": self._model_name, "messages": [m.to_dict() for m in messages],
                "params": asdict(params), "completion": completion.text, "finish_reason": completion.finish_reason,
                "prompt_tokens": completion.usage.prompt_tokens, "completion_tokens": completion.usage.completion_tokens,
                "seconds": seconds / max(1, len(completions)), "cached": completion.cached,
            })  # fmt: skip
        return completions

    def record_node(self, row: dict[str, Any]) -> None:
        """A search node, as ``Store.add_search_node`` takes it."""
        self._record("search_node", {"task_id": self.problem.task_id, **row})

    def candidate(self, index: int, reply: str) -> Candidate:
        program, method = program_from_reply(reply, self.problem)
        return Candidate(index, program, method)


class Strategy(Protocol):
    """Writes programs for one problem; never sees its hidden tests."""

    async def __call__(self, task: SolveTask) -> list[Candidate]: ...


async def sample(task: SolveTask) -> list[Candidate]:
    """The baseline: ``n`` independent samples, the program of each reply as it is."""
    completions = await task.generate(messages_for(task.problem), task.params.replace(n=task.n))
    return [task.candidate(index, completion.text) for index, completion in enumerate(completions)]


@hookimpl
def register_strategies(register: Callable[..., None]) -> None:
    register("sample", sample, "n independent samples per problem (the baseline every method is measured against)")


def solve(
    problems: Sequence[Problem],
    model: Model,
    *,
    config: SolveConfig | None = None,
    sandbox: Sandbox,
    store: Store,
    benchmark: str = "custom",
    resume: bool = False,
    on_progress: Progress | None = None,
    judge: Any = None,
) -> SolveReport:
    """Run the strategy on every problem, judge each candidate on the hidden tests, and score the set.

    The strategies run on a thread of their own, sealed (:mod:`assay.sealing`):
    they get each problem's :func:`strategy_view` and nothing that holds
    its hidden tests. Their model calls and search nodes come back as records
    that this side writes to the store; their candidates are judged here as
    they arrive. With ``resume``, problems whose answers are all stored are
    not run again (replies come from the response cache where the model is
    wrapped in one).

    ``judge`` (``assay.scale.RayJudge``): the candidates are judged on the
    hidden tests there (a Ray cluster) instead of on ``sandbox``; the model
    calls, the strategies (and the runs a search makes on visible tests, on
    ``sandbox``) and the store stay in this process.
    """
    config = config or SolveConfig()
    strategy: Strategy = STRATEGIES.get(config.strategy)
    answers = int(getattr(strategy, "answers", config.n))
    ledger = Ledger()
    metered = MeteredModel(model, ledger)
    run_id = "solve-" + run_identity(benchmark, model.name, config.strategy, config.n, sorted(asdict(config.params).items()))
    run = Evaluation(store, run_id, kind="solve", benchmark=benchmark, source=model.name,
                     config={"strategy": config.strategy, "n": config.n, "params": asdict(config.params)},
                     resume=resume, total=len(problems) * answers, on_progress=on_progress)  # fmt: skip
    todo = [(i, p) for i, p in enumerate(problems) if not all(i * answers + k in run.done for k in range(answers))]
    run.completed = (len(problems) - len(todo)) * answers
    run.progress()
    by_id = {p.task_id: p for p in problems}
    views = [(i, strategy_view(p)) for i, p in todo]
    sealed_paths = [store.path] + ([benchmark] if Path(benchmark).is_file() else [])
    workbench = Workbench(sandbox)
    written: queue.Queue = queue.Queue()
    done = object()
    failures = 0
    del todo

    def record(kind: str, row: dict[str, Any]) -> None:
        written.put((kind, row))

    async def one(problem_index: int, view: Problem, gate: asyncio.Semaphore) -> None:
        async with gate:
            task = SolveTask(view, metered, config.params, config.n, sandbox=workbench, record=record)
            candidates = await strategy(task)
        for candidate in candidates:
            sample = Sample(view.task_id, candidate.index, candidate.program or "")
            written.put(("candidate", (problem_index * answers + candidate.index, sample, candidate)))

    async def generate_all() -> None:
        gate = asyncio.Semaphore(config.concurrency)
        try:
            with sealing.sealed(sealed_paths):
                await asyncio.gather(*(one(i, view, gate) for i, view in views))
        finally:  # this loop ends with the run: close the model's connections on it (no "unclosed transport" at exit)
            await aclose_model(metered)

    failure: list[BaseException] = []

    def writer() -> None:
        try:
            asyncio.run(generate_all())
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            failure.append(exc)
        finally:
            written.put(done)

    def candidates() -> Iterator[Pending]:
        nonlocal failures
        while (item := written.get()) is not done:
            kind, payload = item
            if kind == "llm_call":
                store.add_llm_call(run_id, **payload)
            elif kind == "search_node":
                store.add_search_node(run_id, payload.pop("task_id"), payload)
            else:
                position, sample_, candidate = payload
                failures += candidate.program is None
                yield Pending(position, sample_, candidate.extraction, candidate.spent)

    thread = threading.Thread(target=writer, name="assay-solve-strategies", daemon=True)
    thread.start()
    for _ in run.judge(judge or sandbox, by_id, candidates()):
        pass
    thread.join()
    if failure:
        raise failure[0]
    report = run.finish(problems, (1,) if answers == 1 else (1, answers))
    return SolveReport(report, model.name, ledger, failures)
