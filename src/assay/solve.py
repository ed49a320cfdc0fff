"""``assay solve``, first form: sample from a model, judge on the hidden tests.

This is the plain baseline that search strategies are measured against:
``n`` independent samples per problem, code extracted from each reply, every
LLM call and every verdict written to the store as it happens.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

from assay.evaluate import EvalReport, SampleOutcome, score
from assay.models.accounting import Ledger, MeteredModel
from assay.models.base import GenerationParams, Message, Model
from assay.models.extract import extract_code
from assay.problems import Problem
from assay.sandbox.pool import Sandbox
from assay.sandbox.verdict import SampleResult
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


def defines(code: str, name: str) -> bool:
    """Does ``code`` parse and define ``name`` at top level? (Is there code at all?)"""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name for node in tree.body)


def messages_for(problem: Problem) -> list[Message]:
    return [Message.system(SYSTEM_PROMPT), Message.user(USER_TEMPLATE.format(prompt=problem.prompt.rstrip()))]


def solve(
    problems: Sequence[Problem],
    model: Model,
    *,
    config: SolveConfig | None = None,
    sandbox: Sandbox,
    store: Store,
    benchmark: str = "custom",
    on_progress: Callable[[int, int, SampleOutcome | None], None] | None = None,
) -> SolveReport:
    """Generate ``n`` samples per problem, judge each, and score the set."""
    config = config or SolveConfig()
    if config.strategy != "sample":
        raise ValueError("unknown strategy %r: the first form of solve supports 'sample'" % config.strategy)
    return asyncio.run(_solve(problems, model, config, sandbox, store, benchmark, on_progress))


async def _solve(problems, model, config, sandbox, store, benchmark, on_progress) -> SolveReport:
    started = time.monotonic()
    ledger = Ledger()
    metered = MeteredModel(model, ledger)
    identity = hashlib.sha256(
        ("%s|%s|%s|%d|%s" % (benchmark, model.name, config.strategy, config.n, sorted(asdict(config.params).items()))).encode()
    ).hexdigest()[:16]
    run_id = "solve-" + identity
    store.start_run(run_id, "solve", benchmark, model.name, {"strategy": config.strategy, "n": config.n, "params": asdict(config.params)}, resume=False)
    total = len(problems) * config.n
    outcomes: list[SampleOutcome] = []
    failures = 0
    gate = asyncio.Semaphore(config.concurrency)
    loop = asyncio.get_running_loop()
    judge_pool = ThreadPoolExecutor(max_workers=sandbox.size)
    if on_progress:
        on_progress(0, total, None)

    async def one(problem_index: int, problem: Problem) -> None:
        nonlocal failures
        messages = messages_for(problem)
        params = config.params.replace(n=config.n)
        async with gate:
            began = time.perf_counter()
            completions = await metered.with_scope(problem.task_id).generate(messages, params)
            seconds = time.perf_counter() - began
        for index, completion in enumerate(completions):
            store.add_llm_call(
                run_id, problem.task_id, index, model.name, [m.to_dict() for m in messages], asdict(params),
                completion.text, completion.finish_reason, completion.usage.prompt_tokens, completion.usage.completion_tokens,
                seconds / max(1, len(completions)), completion.cached,
            )  # fmt: skip
            extracted = extract_code(completion.text, entry_point=problem.entry_point, prompt=problem.prompt)
            if not defines(extracted.code, problem.entry_point):
                failures += 1
            result: SampleResult = await loop.run_in_executor(judge_pool, sandbox.run, problem, extracted.code)
            data = result.to_dict()
            data["extraction"] = extracted.method
            position = problem_index * config.n + index
            store.add_result(run_id, position, None, problem.task_id, index, result.passed, result.status.value, data)
            outcome = SampleOutcome(position, problem.task_id, index, None, result.passed, result.status.value, data)
            outcomes.append(outcome)
            if on_progress:
                on_progress(len(outcomes), total, outcome)

    try:
        await asyncio.gather(*(one(i, p) for i, p in enumerate(problems)))
    finally:
        judge_pool.shutdown(wait=True)
    store.finish_run(run_id)
    outcomes.sort(key=lambda o: o.position)
    report = score(run_id, benchmark, problems, outcomes, [], (1,) if config.n == 1 else (1, config.n), time.monotonic() - started)
    return SolveReport(report, model.name, ledger, failures)
