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
from typing import Callable, Iterator, Protocol, Sequence

from assay.evaluate import EvalReport, Evaluation, Progress, run_identity
from assay.models.accounting import Ledger, MeteredModel
from assay.models.base import Completion, GenerationParams, Message, Model
from assay.models.extract import program_from_reply
from assay.plugins import STRATEGIES, hookimpl
from assay.problems import Problem
from assay.samples import Sample
from assay.sandbox.pool import Sandbox
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


def messages_for(problem: Problem) -> list[Message]:
    return [Message.system(SYSTEM_PROMPT), Message.user(USER_TEMPLATE.format(prompt=problem.prompt.rstrip()))]


def strategy_view(problem: Problem) -> Problem:
    """The problem as a strategy may see it: no hidden tests, no reference solution."""
    return replace(problem, tests=problem.visible_tests(), reference=None)


class SolveTask:
    """One problem for a strategy: the problem's visible part, and a model whose every call is metered and stored."""

    def __init__(self, problem: Problem, model: MeteredModel, store: Store, run_id: str, params: GenerationParams, n: int) -> None:
        self.problem = strategy_view(problem)
        self.params = params
        self.n = n
        self._model = model.with_scope(problem.task_id)
        self._store = store
        self._run_id = run_id
        self._model_name = model.name

    async def generate(self, messages: list[Message], params: GenerationParams | None = None, *, index: int = 0) -> list[Completion]:
        """Completions for ``messages``; each is stored under sample ``index + i``."""
        params = params or self.params
        began = time.perf_counter()
        completions = await self._model.generate(messages, params)
        seconds = time.perf_counter() - began
        for offset, completion in enumerate(completions):
            self._store.add_llm_call(
                self._run_id, self.problem.task_id, index + offset, self._model_name, [m.to_dict() for m in messages], asdict(params),
                completion.text, completion.finish_reason, completion.usage.prompt_tokens, completion.usage.completion_tokens,
                seconds / max(1, len(completions)), completion.cached,
            )  # fmt: skip
        return completions

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
    on_progress: Progress | None = None,
) -> SolveReport:
    """Run the strategy on every problem, judge each candidate on the hidden tests, and score the set."""
    config = config or SolveConfig()
    strategy: Strategy = STRATEGIES.get(config.strategy)
    ledger = Ledger()
    metered = MeteredModel(model, ledger)
    run_id = "solve-" + run_identity(benchmark, model.name, config.strategy, config.n, sorted(asdict(config.params).items()))
    run = Evaluation(store, run_id, kind="solve", benchmark=benchmark, source=model.name,
                     config={"strategy": config.strategy, "n": config.n, "params": asdict(config.params)},
                     total=len(problems) * config.n, on_progress=on_progress)  # fmt: skip
    run.progress()
    by_id = {p.task_id: p for p in problems}
    written: queue.Queue = queue.Queue()
    done = object()
    failures = 0

    async def one(problem_index: int, problem: Problem, gate: asyncio.Semaphore) -> None:
        async with gate:
            candidates = await strategy(SolveTask(problem, metered, store, run_id, config.params, config.n))
        for candidate in candidates:
            sample = Sample(problem.task_id, candidate.index, candidate.program or "")
            written.put((problem_index * config.n + candidate.index, sample, candidate))

    async def generate_all() -> None:
        gate = asyncio.Semaphore(config.concurrency)
        await asyncio.gather(*(one(i, p, gate) for i, p in enumerate(problems)))

    failure: list[BaseException] = []

    def writer() -> None:
        try:
            asyncio.run(generate_all())
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            failure.append(exc)
        finally:
            written.put(done)

    def candidates() -> Iterator[tuple[int, Sample, str | None]]:
        nonlocal failures
        while (item := written.get()) is not done:
            position, sample_, candidate = item
            failures += candidate.program is None
            yield position, sample_, candidate.extraction

    thread = threading.Thread(target=writer, name="assay-solve-model", daemon=True)
    thread.start()
    for _ in run.judge(sandbox, by_id, candidates()):
        pass
    thread.join()
    if failure:
        raise failure[0]
    report = run.finish(problems, (1,) if config.n == 1 else (1, config.n))
    return SolveReport(report, model.name, ledger, failures)
