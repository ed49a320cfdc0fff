"""`make demo`'s second half: the default search preset next to greedy decoding, with the embedded model.

    python scripts/demo_search.py [--limit 5] [--model embedded]

Runs `assay solve` (through its Python API) on the first N HumanEval problems
twice, greedy then the default preset, and prints pass@1 on the hidden tests
with what each cost. Replies are cached (ASSAY_CACHE_DIR), so a second run
replays them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assay.models import CachedModel, ResponseCache, load_model
from assay.problems import load_benchmark
from assay.sandbox import Sandbox
from assay.solve import SolveConfig, solve
from assay.store import Store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--strategies", default="greedy,default")
    args = parser.parse_args(argv)
    problems = load_benchmark("humaneval")[: args.limit]
    model = CachedModel(load_model(args.model), ResponseCache())
    table = Table(title="assay solve: the first %d HumanEval problems, model %s, judged on the hidden tests" % (len(problems), args.model))
    for column in ("strategy", "pass@1", "model calls", "completion tokens", "sandbox runs", "seconds"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    with tempfile.TemporaryDirectory(prefix="assay-demo-") as scratch, Store(Path(scratch) / "demo.sqlite") as store, Sandbox() as sandbox:
        for strategy in [s.strip() for s in args.strategies.split(",") if s.strip()]:
            started = time.monotonic()
            report = solve(problems, model, config=SolveConfig(strategy=strategy, concurrency=1), sandbox=sandbox, store=store, benchmark="humaneval")
            seconds = time.monotonic() - started
            outcomes = report.evaluation.outcomes
            passed = sum(o.passed for o in outcomes)
            runs = sum(int((o.spent or {}).get("sandbox_runs", 0)) for o in outcomes)
            total = report.ledger.total
            table.add_row(strategy, "%d/%d (%.2f)" % (passed, len(outcomes), passed / max(1, len(outcomes))), str(total.calls), str(total.completion_tokens), str(runs), "%.0f" % seconds)
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
