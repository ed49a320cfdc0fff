"""Search presets against greedy decoding and best-of-n at equal tokens, on the hidden tests.

    python bench/bench_search.py [--presets greedy,self-debug,default] [--limit 20] [--model embedded]

Each preset runs through `assay.solve.solve` on the same HumanEval problems
with the same model; the hidden tests judge each answer. Next to every preset
that spends more than greedy decoding, best-of-n runs with n chosen so that
its completion tokens per problem match the preset's (CodeT-style ranking by
the examples and agreement), so a gain that only buys more samples shows as
none. Replies are cached (ASSAY_CACHE_DIR), so a rerun replays them. Writes
the `search` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import git_revision, load_average, machine, replace_section, table, today  # noqa: E402

from assay import plugins  # noqa: E402
from assay.models import CachedModel, ResponseCache, load_model  # noqa: E402
from assay.problems import load_benchmark  # noqa: E402
from assay.sandbox.pool import Sandbox  # noqa: E402
from assay.search.engine import search_strategy  # noqa: E402
from assay.search.presets import PRESETS  # noqa: E402
from assay.solve import SolveConfig, solve  # noqa: E402
from assay.store import Store  # noqa: E402


def run_preset(name: str, problems, model, sandbox: Sandbox, store: Store) -> dict:
    started = time.monotonic()
    report = solve(problems, model, config=SolveConfig(strategy=name, concurrency=1), sandbox=sandbox, store=store, benchmark="humaneval")
    seconds = time.monotonic() - started
    outcomes = report.evaluation.outcomes
    total = report.ledger.total
    spent = [o.spent or {} for o in outcomes]
    return {
        "preset": name,
        "passed": sum(o.passed for o in outcomes),
        "problems": len(outcomes),
        "calls": total.calls,
        "completion_tokens": total.completion_tokens,
        "prompt_tokens": total.prompt_tokens,
        "model_seconds": total.seconds,
        "seconds": seconds,
        "sandbox_runs": sum(int(s.get("sandbox_runs", 0)) for s in spent),
        "max_calls": max((int(s.get("calls", 0)) for s in spent), default=0),
    }


def equal_tokens_best_of_n(preset_row: dict, greedy_row: dict) -> str:
    """A best-of-n preset whose n matches the preset's completion tokens per problem, registered; its name."""
    per_sample = max(1.0, greedy_row["completion_tokens"] / max(1, greedy_row["problems"]))
    per_problem = preset_row["completion_tokens"] / max(1, preset_row["problems"])
    n = max(2, round(per_problem / per_sample))
    name = "best-of-%d" % n
    if name not in plugins.STRATEGIES:
        preset = dataclasses.replace(PRESETS["best-of-n"], name=name, initial=n, summary="best-of-n at %d samples" % n)
        strategy = search_strategy(preset)
        strategy.answers = 1
        plugins.STRATEGIES.register(name, strategy, preset.summary, plugin="bench")
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="greedy,self-debug,trace-debug,default")
    parser.add_argument("--limit", type=int, default=20, help="the first N HumanEval problems")
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--no-equal-tokens", action="store_true", help="skip best-of-n at equal tokens")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    load_before = load_average()
    problems = load_benchmark("humaneval")[: args.limit]
    model = CachedModel(load_model(args.model), ResponseCache())
    names = [n.strip() for n in args.presets.split(",") if n.strip()]
    if "greedy" not in names:
        names.insert(0, "greedy")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="assay-bench-search-") as scratch, Store(Path(scratch) / "s.sqlite") as store, Sandbox() as sandbox:
        results = {}
        for name in names:
            results[name] = run_preset(name, problems, model, sandbox, store)
            rows.append(results[name])
            print(_line(results[name]), flush=True)
            if name != "greedy" and not args.no_equal_tokens and results[name]["completion_tokens"] > 1.5 * results["greedy"]["completion_tokens"]:
                twin = equal_tokens_best_of_n(results[name], results["greedy"])
                if twin not in results:
                    results[twin] = run_preset(twin, problems, model, sandbox, store)
                    results[twin]["twin_of"] = name
                    rows.append(results[twin])
                    print(_line(results[twin]), flush=True)
    if args.no_docs:
        return 0
    command = "python bench/bench_search.py" + (" " + " ".join(argv) if argv else "")
    greedy = results["greedy"]
    body = "\n".join([
        "## Search presets against greedy and best-of-n at equal tokens",
        "",
        "Command: `%s`  " % command,
        "Date: %s, revision %s  " % (today(), git_revision()),
        "Machine: %s; load average %.2f before, %.2f after." % (machine(), load_before[0], load_average()[0]),
        "",
        "Model `%s`, the first %d HumanEval problems, one answer per problem judged on the hidden tests; the search sees only the examples in each prompt (and, for `pgs`, properties the model writes). `best-of-N` rows are best-of-n with N samples, N chosen so that its completion tokens per problem match the preset named beside it." % (args.model, len(problems)),
        "",
        table(
            ["strategy", "pass@1", "passed", "vs greedy", "model calls", "completion tokens", "tokens / problem", "sandbox runs", "model s", "total s", "equal-token twin of"],
            [[r["preset"], "%.3f" % (r["passed"] / r["problems"]), "%d/%d" % (r["passed"], r["problems"]), "%+d" % (r["passed"] - greedy["passed"]), r["calls"],
              r["completion_tokens"], "%.0f" % (r["completion_tokens"] / r["problems"]), r["sandbox_runs"], "%.0f" % r["model_seconds"], "%.0f" % r["seconds"], r.get("twin_of", "")]
             for r in rows],
        ),  # fmt: skip
        "",
        "Replies are cached: a rerun replays the same replies (greedy ones are what the model gives; sampled ones are the samples drawn the first time).",
    ])
    replace_section("search", body)
    return 0


def _line(r: dict) -> str:
    return "%-14s pass@1 %d/%d  calls %d  completion tokens %d  sandbox runs %d  %.0fs" % (
        r["preset"], r["passed"], r["problems"], r["calls"], r["completion_tokens"], r["sandbox_runs"], r["seconds"])


if __name__ == "__main__":
    sys.exit(main())
