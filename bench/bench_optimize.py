"""`assay optimize` on the three slow functions of a small real-looking module: speedups, evidence, diffs.

    python bench/bench_optimize.py [--model embedded] [--meter instructions] [--rounds 3]

The module is tests/fixtures/optimize_demo/textstats.py (imports, helpers,
doctests, a `__main__` block) with its tests file desk_tests.py; each of
`top_words`, `pairs_with_sum` and `longest_quiet_streak` is optimized from
the module as it is on disk (a copy: nothing is written). With
`--model scripted:bench/data/optimize_demo_replies.jsonl` the "model" replies
with faster versions written by hand: the figures are then those of the
mechanism (the gate, the meter, the splice), not of a model. Writes the
`optimize` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import git_revision, load_average, machine, replace_section, run_header, table, today  # noqa: E402

from assay.models import CachedModel, ResponseCache, load_model  # noqa: E402
from assay.optimize.core import evidence_lines, optimize_function  # noqa: E402
from assay.optimize.module import load_module, read_tests  # noqa: E402
from assay.sandbox.pool import Sandbox  # noqa: E402

DEMO = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "optimize_demo"
FUNCTIONS = ("top_words", "pairs_with_sum", "longest_quiet_streak")


def doc_section(model: str) -> str:
    """Replayed hand-written versions (the mechanism's figures) and a real model's run each keep a section of their own."""
    if model.startswith("scripted:"):
        return "optimize"
    return "optimize-" + "".join(c if c.isalnum() else "-" for c in model).strip("-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--meter", default="instructions")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--functions", default=",".join(FUNCTIONS))
    parser.add_argument("--no-doc", action="store_true", help="print only; do not write docs/benchmarks.md")
    args = parser.parse_args(argv)
    info = {"date": today(), "git": git_revision(), "machine": machine(), "load": "%.2f %.2f %.2f" % load_average()}
    model = CachedModel(load_model(args.model), ResponseCache())
    rows, details = [], []
    with tempfile.TemporaryDirectory() as tmp, Sandbox(workers=2, calibrate=False) as sandbox:
        shutil.copytree(DEMO, Path(tmp) / "demo")
        path = Path(tmp) / "demo" / "textstats.py"
        for name in args.functions.split(","):
            module = load_module(path, name)
            tests = read_tests(Path(tmp) / "demo" / "desk_tests.py", name)
            started = time.monotonic()
            outcome = optimize_function(module, model, sandbox, tests=tests, meter=args.meter, rounds=args.rounds)
            seconds = time.monotonic() - started
            kept = sum(j.kept for j in outcome.judged)
            speedup = outcome.speedup
            diff = outcome.evidence.differential if outcome.evidence is not None else None
            rows.append([
                "`%s`" % name,
                "%.2fx" % speedup.ratio if speedup else "none kept",
                speedup.confidence() if speedup else "",
                "%d / %d" % (kept, len(outcome.judged)),
                outcome.evidence.inputs if outcome.evidence else outcome.compared_inputs,
                diff.tried if diff is not None else "",
                "%d of %d" % outcome.checks,
                "%d / %d" % (outcome.calls, outcome.tokens),
                "%.0f" % seconds,
            ])  # fmt: skip
            details.append("`%s`:\n\n%s\n\n%s" % (name, "\n".join("- " + line for line in evidence_lines(outcome)),
                                                  "```diff\n%s```" % outcome.diff() if outcome.improved else "(no version kept: %s)" % "; ".join(j.reason[:300] for j in outcome.judged)))  # fmt: skip
            print(rows[-1], flush=True)
    who = ("The model is `%s`: its own versions, judged by the same gate and meter as the hand-written ones in the `optimize` section. " % args.model) if not args.model.startswith("scripted:") else ""
    title = "## `assay optimize` on a small real-looking module (%s)\n\n" % ("hand-written versions replayed" if args.model.startswith("scripted:") else "model `%s`" % args.model)
    body = title + "\n".join(run_header("python bench/bench_optimize.py --model %s --meter %s --rounds %d" % (args.model, args.meter, args.rounds), info)) + "\n\n" + (who + "\n\n" if who else "")
    body += table(["function", "speedup", "confidence", "kept / versions", "inputs compared", "differential inputs", "checks", "model calls / tokens", "seconds"], rows)
    body += "\n\n" + "\n\n".join(details) + "\n"
    print(body)
    if not args.no_doc:
        replace_section(doc_section(args.model), body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
