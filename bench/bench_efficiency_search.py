"""The efficiency presets on ENAMEL: speedup over the starting program, correctness kept, eff@1 before and after.

    python bench/bench_efficiency_search.py [--model embedded] [--limit 20] [--meter instructions] [--presets optimize,llm4effi]

Starting programs: greedy decoding (``greedy``), and the canonical solution
(on ENAMEL, HumanEval's canonical solution, from ENAMEL's
``humaneval-canonical`` sample set: correct, often slow; ENAMEL's own
reference is the expert solution every score is relative to, and it is
judged too, as the ceiling a start from it leaves).
``optimize`` runs through :func:`assay.solve.solve` (correct first from its
own greedy program, then faster); ``optimize@canonical`` starts from each
problem's canonical solution, handed to the search by this bench (a strategy
never sees a reference; here the reference is the point); ``llm4effi``
starts from nothing. Every answer is then judged on the hidden tests and
measured on ENAMEL's stress inputs (``assay.evaluate`` with efficiency on the
chosen meter): pass@1, eff@1 and the geometric-mean speedup over the
reference, next to the starting program's. Replies are cached, so a rerun
replays them. Writes the ``efficiency-search`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import git_revision, load_average, machine, replace_section, table, today  # noqa: E402

from assay import plugins  # noqa: E402
from assay.evaluate import EvalConfig, evaluate  # noqa: E402
from assay.measure.efficiency import EfficiencyConfig  # noqa: E402
from assay.models import CachedModel, ResponseCache, load_model  # noqa: E402
from assay.problems import load_benchmark  # noqa: E402
from assay.problems.enamel import load_sample_set  # noqa: E402
from assay.samples import Sample  # noqa: E402
from assay.sandbox.pool import Sandbox  # noqa: E402
from assay.search.efficiency import PRESETS, OptimizeSearch, efficiency_strategy  # noqa: E402
from assay.solve import Candidate, SolveConfig, solve  # noqa: E402
from assay.store import Store  # noqa: E402


def captured(name: str, strategy, programs: dict, spent: dict) -> str:
    """``strategy`` registered as ``bench-NAME``, its answers' programs and ``spent`` kept here."""

    async def wrapped(task):
        candidates = await strategy(task)
        programs[task.problem.task_id] = candidates[0].program if candidates else None
        spent[task.problem.task_id] = (candidates[0].spent or {}) if candidates else {}
        return candidates

    wrapped.answers = 1  # type: ignore[attr-defined]
    plugins.STRATEGIES.register("bench-" + name, wrapped, name, plugin="bench")
    return "bench-" + name


def canonical_programs(benchmark: str, problems) -> tuple[str, dict[str, str]]:
    """What ``optimize@canonical`` starts from: HumanEval's canonical solutions on ENAMEL, else each problem's reference."""
    if benchmark.startswith("enamel"):
        wanted = {p.task_id for p in problems}
        return "HumanEval's canonical solution", {s.task_id: s.program for s in load_sample_set("humaneval-canonical") if s.index == 0 and s.task_id in wanted}
    return "the reference", {p.task_id: p.reference for p in problems if p.reference}


def from_start(preset, starts: dict[str, str]):
    async def strategy(task):
        search = OptimizeSearch(preset, task, start=starts[task.problem.task_id])
        result = await search.run()
        program = result.best.content if result.best is not None else None
        return [Candidate(0, program, "search:%s@canonical" % preset.name, spent={**result.spent.to_dict(), "efficiency": search.report()})]

    return strategy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--benchmark", default="enamel")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--meter", default="instructions", help="the search's meter and the evaluation's")
    parser.add_argument("--presets", default="optimize,llm4effi")
    parser.add_argument("--no-canonical", action="store_true", help="skip optimize from the canonical solution")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    command = "python bench/bench_efficiency_search.py " + " ".join(argv if argv is not None else sys.argv[1:])
    load_before = load_average()
    problems = load_benchmark(args.benchmark)[: args.limit]
    model = CachedModel(load_model(args.model), ResponseCache())
    canonical_name, starts = canonical_programs(args.benchmark, problems)
    efficiency = EfficiencyConfig(meter=args.meter)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="assay-bench-effsearch-") as scratch, Store(Path(scratch) / "s.sqlite") as store, Sandbox() as sandbox:

        def judge(label: str, samples: list[Sample] | str, spent: dict, started: float, calls: int = 0, tokens: int = 0) -> None:
            report = evaluate(problems, samples, config=EvalConfig(efficiency=efficiency), store=store, sandbox=sandbox)
            eff = report.eff_at.get(1)
            row = {
                "strategy": label, "pass": report.pass_at[1].value, "passed": sum(o.passed for o in report.outcomes), "problems": len(problems),
                "eff": eff.value if eff else None, "eff_ci": (eff.interval.low, eff.interval.high) if eff else None,
                "speedup": report.speedup.value if report.speedup else None,
                "per_problem": {o.task_id: float(o.efficiency.speedup) for o in report.outcomes if o.efficiency is not None and o.efficiency.speedup},
                "kept": sum(int((s.get("efficiency") or {}).get("kept", 0)) for s in spent.values()),
                "outcomes": sum((Counter((s.get("efficiency") or {}).get("outcomes") or {}) for s in spent.values()), Counter()),
                "calls": calls, "tokens": tokens, "seconds": time.monotonic() - started,
            }  # fmt: skip
            rows.append(row)
            print(row, flush=True)
            write(args, command, problems, rows, load_before, canonical_name)

        def run(label: str, strategy) -> None:
            programs: dict[str, str | None] = {}
            spent: dict[str, dict] = {}
            name = captured(label, strategy, programs, spent)
            started = time.monotonic()
            report = solve(problems, model, config=SolveConfig(strategy=name, concurrency=1), sandbox=sandbox, store=store, benchmark=args.benchmark)
            samples = [Sample(p.task_id, 0, programs.get(p.task_id) or "") for p in problems]
            judge(label, samples, spent, started, report.ledger.total.calls, report.ledger.total.completion_tokens)

        meter_presets = {name: dataclasses.replace(preset, meter=args.meter) for name, preset in PRESETS.items()}
        judge("reference", "canonical", {}, time.monotonic())
        if any(starts.get(p.task_id) != p.reference for p in problems):
            judge("canonical", [Sample(p.task_id, 0, starts.get(p.task_id, "")) for p in problems], {}, time.monotonic())
        if not args.no_canonical and "optimize" in args.presets.split(","):
            run("optimize@canonical", from_start(meter_presets["optimize"], starts))
        run("greedy", plugins.STRATEGIES.get("greedy"))
        for name in [n for n in args.presets.split(",") if n]:
            run(name, efficiency_strategy(meter_presets[name]))
    write(args, command, problems, rows, load_before, canonical_name, finished=True)
    return 0


def versions(outcomes: Counter | None) -> str:
    if not outcomes:
        return ""
    return ", ".join("%s %d" % (name, count) for name, count in outcomes.most_common())


START_OF = {"optimize@canonical": "canonical", "optimize": "greedy"}


def over_start(row: dict, rows: list[dict]) -> str:
    """The answer's speedup over its starting program's, geometric mean over the problems both were measured on."""
    start = next((r for r in rows if r["strategy"] == START_OF.get(row["strategy"])), None)
    if start is None:
        return ""
    both = [t for t in row["per_problem"] if t in start["per_problem"]]
    if not both:
        return "-"
    return "%.3f (%d)" % (math.exp(sum(math.log(row["per_problem"][t] / start["per_problem"][t]) for t in both) / len(both)), len(both))


def write(args, command: str, problems, rows: list[dict], load_before, canonical_name: str, finished: bool = False) -> None:
    if args.no_docs:
        return
    body = "\n".join([
        "## The efficiency presets on %s (speedup over the starting program, correctness kept)" % args.benchmark,
        "",
        "Command: `%s`  " % command.strip(),
        "Date: %s, revision %s  " % (today(), git_revision()),
        "Machine: %s; load average %.2f before, %.2f now." % (machine(), load_before[0], load_average()[0]),
        "" if finished else "\n**Partial: the run was still going when this was written.**",
        "",
        "Model `%s`, the first %d `%s` problems; every answer judged on the hidden tests and measured on ENAMEL's stress inputs on the `%s` meter. "
        "`reference` is the benchmark's reference (ENAMEL's expert solution: eff@1 1 by definition); `canonical` is %s; "
        "`optimize@canonical` starts from it (handed in by the bench), `optimize` from its own greedy program, `llm4effi` from nothing. "
        "Speedup: geometric mean over problems of the reference's cost over the answer's; steps kept: optimize steps (or llm4effi algorithms) kept. "
        "Versions: what became of each program the model wrote in an optimize round (or llm4effi's correct ones): kept, or why not "
        "(fails checks the start passes, behaviour differs on the pool or differential inputs, not faster, unlike the majority of correct ones; "
        "not judged: a repeat of an earlier version, a reply without code). Speedup over its start: geometric mean, over the problems where both were measured, of the answer's speedup over the starting program's "
        "(`optimize@canonical` over `canonical`, `optimize` over `greedy`)." % (args.model, len(problems), args.benchmark, args.meter, canonical_name),
        "",
        table(["strategy", "pass@1", "passed", "eff@1", "eff@1 95% CI", "speedup vs reference", "speedup over its start (problems)", "steps kept", "versions", "model calls", "completion tokens", "seconds"],
              [[r["strategy"], "%.3f" % r["pass"], "%d/%d" % (r["passed"], r["problems"]), "%.3f" % r["eff"] if r["eff"] is not None else "-",
                "[%.3f, %.3f]" % r["eff_ci"] if r["eff_ci"] else "-", "%.3f" % r["speedup"] if r["speedup"] else "-", over_start(r, rows), r["kept"], versions(r.get("outcomes")), r["calls"], r["tokens"], "%.0f" % r["seconds"]]
               for r in rows]),  # fmt: skip
    ])  # fmt: skip
    replace_section("efficiency-search", body)


if __name__ == "__main__":
    sys.exit(main())
