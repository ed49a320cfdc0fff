"""Building oracle pools for a benchmark: every registered kind, per problem, stored as it comes.

``assay oracles`` is :func:`build_pools` on the command line. Each problem is
seen as a strategy sees it (:func:`assay.solve.strategy_view`); the reference
reaches the oracles only with ``validate_with_reference`` (for measuring the
oracles themselves, never inside a search). Kinds that weigh tests by
agreement need candidate programs: ``candidates`` of them are sampled from the
model first, and their calls are metered and stored like any other.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

from assay.evaluate import run_identity
from assay.models.accounting import Ledger, MeteredModel
from assay.models.base import GenerationParams, Model
from assay.oracles import OracleContext
from assay.oracles.pool import OraclePool
from assay.plugins import ORACLES
from assay.problems import Problem
from assay.sandbox.pool import Sandbox
from assay.store import Store

NEEDS_MODEL = frozenset({"property", "generated", "stress"})
NEEDS_CANDIDATES = frozenset({"generated", "differential", "stress"})
VALIDATED_WITHOUT_CANDIDATES = frozenset({"stress"})  # with the reference allowed, these need no candidates


@dataclass(frozen=True)
class OracleConfig:
    kinds: tuple[str, ...] = ("examples", "differential")
    candidates: int = 4  # programs sampled for agreement and differential inputs
    params: GenerationParams = field(default_factory=lambda: GenerationParams(temperature=0.8, max_tokens=512))
    validate_with_reference: bool = False
    seed: int = 0


@dataclass
class KindTally:
    """Per kind, what its oracle made: ``kept`` counts the entries it keeps in ``pool.extras`` (properties,
    generators) where it keeps any, else its tests; ``tests`` counts its tests either way."""

    kept: int = 0
    discarded: int = 0
    tests: int = 0
    inputs: int = 0
    seconds: float = 0.0
    reasons: Counter = field(default_factory=Counter)


@dataclass
class OracleReport:
    run_id: str
    pools: dict[str, OraclePool]
    tallies: dict[str, KindTally]
    ledger: Ledger
    seconds: float


def _reason_head(reason: str) -> str:
    return reason.split(":", 1)[0][:80]


async def build_pool(problem: Problem, sandbox: Sandbox, kinds: Sequence[str], *, model: MeteredModel | None = None, params: GenerationParams | None = None,
                     candidates: Sequence[str] = (), reference: str | None = None, seed: int = 0,
                     tallies: dict[str, KindTally] | None = None) -> OraclePool:  # fmt: skip
    """One problem's pool: every kind in ``kinds`` adds to it, in order."""
    from assay.solve import strategy_view

    pool = OraclePool(problem.task_id)
    context = OracleContext(strategy_view(problem), sandbox, pool, model, params, list(candidates), reference, seed)
    for kind in kinds:
        oracle = ORACLES.get(kind)
        before_tests, before_gone, before_inputs, before_extras = len(pool.tests), len(pool.discarded), len(pool.inputs), len(pool.extras.get(kind, ()))
        started = time.monotonic()
        await oracle.build(context)
        if tallies is not None:
            tally = tallies.setdefault(kind, KindTally())
            tests, extras = len(pool.tests) - before_tests, len(pool.extras.get(kind, ())) - before_extras
            tally.kept += extras if extras else tests
            tally.tests += tests
            tally.discarded += len(pool.discarded) - before_gone
            tally.inputs += len(pool.inputs) - before_inputs
            tally.seconds += time.monotonic() - started
            tally.reasons.update(_reason_head(d.reason) for d in pool.discarded[before_gone:])
    return pool


async def sample_candidates(problem: Problem, model: MeteredModel, params: GenerationParams, n: int) -> list[str]:
    """``n`` programs for the problem from the model (the prompt ``assay solve`` uses); replies without code are dropped."""
    from assay.models.extract import program_from_reply
    from assay.solve import messages_for, strategy_view

    view = strategy_view(problem)
    completions = await model.with_scope(problem.task_id).generate(messages_for(view), params.replace(n=n))
    programs = [program_from_reply(c.text, view)[0] for c in completions]
    return [p for p in programs if p]


def build_pools(problems: Sequence[Problem], *, sandbox: Sandbox, store: Store, config: OracleConfig | None = None, model: Model | None = None,
                benchmark: str = "custom", on_progress: Callable[[int, int], None] | None = None) -> OracleReport:  # fmt: skip
    """Build and store a pool for every problem; the report tallies each kind."""
    config = config or OracleConfig()
    unknown = [k for k in config.kinds if k not in ORACLES]
    if unknown:
        raise ValueError(f"unknown oracle kinds {unknown}; known: {', '.join(ORACLES.names())}")
    if model is None and NEEDS_MODEL & set(config.kinds):
        raise ValueError(f"oracle kinds {sorted(NEEDS_MODEL & set(config.kinds))} need a model")
    started = time.monotonic()
    ledger = Ledger()
    metered = MeteredModel(model, ledger) if model is not None else None
    run_id = "oracles-" + run_identity(benchmark, [p.task_id for p in problems], model.name if model else None, asdict(config))
    store.start_run(run_id, "oracles", benchmark, model.name if model else "-", {"kinds": list(config.kinds), "candidates": config.candidates, "validate_with_reference": config.validate_with_reference}, resume=False)
    tallies: dict[str, KindTally] = {kind: KindTally() for kind in config.kinds}
    pools: dict[str, OraclePool] = {}

    async def one(problem: Problem) -> OraclePool:
        candidates: list[str] = []
        wanted = NEEDS_CANDIDATES & set(config.kinds)
        if config.validate_with_reference and problem.reference:
            wanted -= VALIDATED_WITHOUT_CANDIDATES
        if metered is not None and wanted and config.candidates > 0:
            candidates = await sample_candidates(problem, metered, config.params, config.candidates)
        reference = problem.reference if config.validate_with_reference else None
        return await build_pool(problem, sandbox, config.kinds, model=metered, params=config.params, candidates=candidates, reference=reference, seed=config.seed, tallies=tallies)

    for done, problem in enumerate(problems, start=1):
        pool = asyncio.run(one(problem))
        pools[problem.task_id] = pool
        store.add_oracle_pool(run_id, problem.task_id, pool.to_dict())
        if on_progress is not None:
            on_progress(done, len(problems))
    store.finish_run(run_id)
    return OracleReport(run_id, pools, tallies, ledger, time.monotonic() - started)


# ---------------------------------------------------------------- assay oracles


def configure_oracles(parser) -> None:  # argparse.ArgumentParser
    from pathlib import Path

    parser.add_argument("--benchmark", required=True, help="a registered benchmark or a problems JSONL file")
    parser.add_argument("--model", default=None, help="a model spec (needed by the property, generated and stress kinds)")
    parser.add_argument("--kinds", default="examples,differential", help="comma-separated oracle kinds (see `assay plugins`)")
    parser.add_argument("--candidates", type=int, default=4, help="programs sampled per problem for agreement and differential inputs")
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    parser.add_argument("--validate-with-reference", action="store_true", help="let the builder discard tests the reference fails (for measuring oracles, not for search)")
    parser.add_argument("--workers", type=int, default=None, help="sandbox workers (default: one per core)")
    parser.add_argument("--store", type=Path, default=None, help="SQLite run store (default .assay/store.sqlite)")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-tokens", type=int, default=512)


def command_oracles(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from assay.cli import errors, progress_bar
    from assay.problems import load_benchmark

    console = Console()
    try:
        problems = load_benchmark(args.benchmark)
        model = None
        if args.model:
            from assay.models import CachedModel, ResponseCache, load_model

            model = CachedModel(load_model(args.model), ResponseCache())
    except (ValueError, OSError) as exc:
        errors.print("[red]error[/]: %s" % exc)
        return 2
    if args.limit is not None:
        problems = problems[: args.limit]
    config = OracleConfig(
        kinds=tuple(k.strip() for k in args.kinds.split(",") if k.strip()), candidates=args.candidates,
        params=GenerationParams(temperature=args.temperature, max_tokens=args.max_tokens), validate_with_reference=args.validate_with_reference,
    )  # fmt: skip
    store = Store(args.store) if args.store else Store()
    progress, on_progress = progress_bar("building oracles", count_passed=False)
    try:
        with progress, store, Sandbox(workers=args.workers) as sandbox:
            report = build_pools(problems, sandbox=sandbox, store=store, config=config, model=model, benchmark=args.benchmark, on_progress=on_progress)
    except ValueError as exc:
        errors.print("[red]error[/]: %s" % exc)
        return 2
    table = Table(title="oracle pools: %s (%d problems), run %s" % (args.benchmark, len(report.pools), report.run_id))
    for column in ("kind", "made", "kept", "discarded", "tests kept", "inputs kept", "seconds", "top reasons for discarding"):
        table.add_column(column, justify="left" if column in ("kind", "top reasons for discarding") else "right")
    for kind, tally in report.tallies.items():
        reasons = "; ".join("%s (%d)" % (reason, count) for reason, count in tally.reasons.most_common(3))
        table.add_row(kind, str(tally.kept + tally.discarded), str(tally.kept), str(tally.discarded), str(tally.tests), str(tally.inputs), "%.1f" % tally.seconds, reasons)
    console.print(table)
    total = report.ledger.total
    if total.calls:
        console.print("model: %d calls, %d prompt + %d completion tokens, %.1fs" % (total.calls, total.prompt_tokens, total.completion_tokens, total.seconds))
    return 0
