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
import math
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


def run_preset(name: str, problems, model, sandbox: Sandbox, store: Store, benchmark: str = "humaneval") -> dict:
    started = time.monotonic()
    report = solve(problems, model, config=SolveConfig(strategy=name, concurrency=1), sandbox=sandbox, store=store, benchmark=benchmark)
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
        "passed_tasks": sorted({o.task_id for o in outcomes if o.passed}, key=_task_order),
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
    parser.add_argument("--benchmark", default="humaneval", help="humaneval, or fresh (problems no model has seen)")
    parser.add_argument("--limit", type=int, default=20, help="the first N problems")
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--no-equal-tokens", action="store_true", help="skip best-of-n at equal tokens")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--section", default=None, help="the docs/benchmarks.md section to write (default: search, or search-BENCHMARK); e.g. search-tree for the tree presets")
    args = parser.parse_args(argv)
    load_before = load_average()
    problems = load_benchmark(args.benchmark)[: args.limit]
    model = CachedModel(load_model(args.model), ResponseCache())
    names = [n.strip() for n in args.presets.split(",") if n.strip()]
    if "greedy" not in names:
        names.insert(0, "greedy")
    rows: list[dict] = []
    command = "python bench/bench_search.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:]) if (argv or sys.argv[1:]) else "")

    def write_docs(finished: bool) -> None:
        if not args.no_docs:
            write_section(args, problems, rows, command, load_before, finished)

    with tempfile.TemporaryDirectory(prefix="assay-bench-search-") as scratch, Store(Path(scratch) / "s.sqlite") as store, Sandbox() as sandbox:
        results: dict[str, dict] = {}

        def run(name: str, twin_of: str = "") -> None:
            results[name] = run_preset(name, problems, model, sandbox, store, args.benchmark)
            if twin_of:
                results[name]["twin_of"] = twin_of
            rows.append(results[name])
            print(_line(results[name]), flush=True)
            write_docs(False)

        for name in names:
            run(name)
            if name != "greedy" and not args.no_equal_tokens and results[name]["completion_tokens"] > 1.5 * results["greedy"]["completion_tokens"]:
                twin = equal_tokens_best_of_n(results[name], results["greedy"])
                if twin not in results:
                    run(twin, twin_of=name)
    write_docs(True)
    return 0


def write_section(args, problems, rows: list[dict], command: str, load_before, finished: bool) -> None:
    greedy = rows[0]
    section = args.section or ("search" if args.benchmark == "humaneval" else "search-%s" % args.benchmark)
    plot = plot_rows(rows, Path(__file__).resolve().parent.parent / "docs" / ("%s.svg" % section), "%s, first %d problems" % (args.benchmark, len(problems)))
    body = "\n".join([
        "## Search presets against greedy and best-of-n at equal tokens (%s%s)" % (args.benchmark, "" if args.section is None else ", %s" % args.section),
        "",
        "Command: `%s`  " % command,
        "Date: %s, revision %s  " % (today(), git_revision()),
        "Machine: %s; load average %.2f before, %.2f after." % (machine(), load_before[0], load_average()[0]),
        "" if finished else "\n**Partial: the run was still going when this was written; the rows below are the presets finished so far.**",
        "",
        "Model `%s`, the first %d `%s` problems, one answer per problem judged on the hidden tests; the search sees only the examples in each prompt (and, for `pgs`, properties the model writes). `best-of-N` rows are best-of-n with N samples, N chosen so that its completion tokens per problem match the preset named beside it. Seconds include waiting for the machine's other jobs." % (args.model, len(problems), args.benchmark),
        "",
        table(
            ["strategy", "pass@1", "passed", "vs greedy", "model calls", "max calls / problem", "completion tokens", "tokens / problem", "sandbox runs", "model s", "total s", "equal-token twin of"],
            [[r["preset"], "%.3f" % (r["passed"] / r["problems"]), "%d/%d" % (r["passed"], r["problems"]), "%+d" % (r["passed"] - greedy["passed"]), r["calls"], r["max_calls"],
              r["completion_tokens"], "%.0f" % (r["completion_tokens"] / r["problems"]), r["sandbox_runs"], "%.0f" % r["model_seconds"], "%.0f" % r["seconds"], r.get("twin_of", "")]
             for r in rows],
        ),  # fmt: skip
        "",
        ("![pass@1 against completion tokens per problem](%s)" % plot.name) if plot else "",
        "",
        "Replies are cached: a rerun replays the same replies (greedy ones are what the model gives; sampled ones are the samples drawn the first time).",
        "",
        "Problems each strategy solves that greedy decoding does not (+), and the reverse (-):",
        "",
        *["- `%s`: %s" % (r["preset"], differences(r, greedy)) for r in rows[1:]],
    ])
    replace_section(section, body)


def _task_order(task_id: str) -> tuple:
    head, _, number = task_id.rpartition("/")
    return (head, int(number)) if number.isdigit() else (task_id, -1)


def differences(row: dict, greedy: dict) -> str:
    """Which problems ``row`` solves and greedy does not, and the reverse."""
    mine, theirs = set(row.get("passed_tasks", ())), set(greedy.get("passed_tasks", ()))
    gained, lost = sorted(mine - theirs, key=_task_order), sorted(theirs - mine, key=_task_order)
    parts = [", ".join("+" + t for t in gained), ", ".join("-" + t for t in lost)]
    return "; ".join(p for p in parts if p) or "the same problems"


def plot_rows(rows: list[dict], path: Path, title: str) -> Path | None:
    """pass@1 against completion tokens per problem, one point per strategy; a twin is joined to its preset."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    by_name = {r["preset"]: r for r in rows}
    for r in rows:
        x, y = r["completion_tokens"] / r["problems"], r["passed"] / r["problems"]
        twin = r.get("twin_of")
        ax.scatter([x], [y], marker="s" if twin else "o", color="tab:gray" if twin else "tab:blue", zorder=3)
        ax.annotate(r["preset"], (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
        if twin and twin in by_name:
            t = by_name[twin]
            ax.plot([x, t["completion_tokens"] / t["problems"]], [y, t["passed"] / t["problems"]], color="tab:gray", linestyle=":", zorder=2)
    rates = [r["passed"] / r["problems"] for r in rows]
    ax.set_ylim(max(0.0, math.floor((min(rates) - 0.1) * 10) / 10), min(1.0, math.ceil((max(rates) + 0.05) * 10) / 10))  # whole tenths: no magnified gaps
    ax.set_xlabel("completion tokens per problem")
    ax.set_ylabel("pass@1 (hidden tests)")
    ax.set_title("Search presets (circles) and best-of-n at equal tokens (squares): %s" % title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return path


def _line(r: dict) -> str:
    return "%-14s pass@1 %d/%d  calls %d  completion tokens %d  sandbox runs %d  %.0fs" % (
        r["preset"], r["passed"], r["problems"], r["calls"], r["completion_tokens"], r["sandbox_runs"], r["seconds"])


if __name__ == "__main__":
    sys.exit(main())
