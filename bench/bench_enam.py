"""ENAMEL's own evaluator (the ``enam`` package) and assay, side by side.

    python bench/bench_enam.py                    # the 142 problems, 2 rounds (about 2 h on 2 cores)
    python bench/bench_enam.py --limit 20         # the first 20 of them
    python bench/bench_enam.py --meters instructions,cpu-time

Both score the same sample file (ENAMEL's ``humaneval-canonical.json``) on
the same ``enamel.csv`` (assay's packaged copy) with ENAMEL's settings:
8/4/4/4 inputs per level, level weights 0/3/3/4, seed 998244353, 6 timing
repeats, timeout factor 2, tolerance 10 ms. Each round runs every evaluator
once, from scratch (enam regenerates its tests and re-times its references;
assay re-measures its references), the order rotated between rounds. Wall
time is end to end (inputs, references, samples); enam runs in its own
process, serially, unsandboxed, as it ships; assay uses its sandbox with one
worker per core. The question is the one users ask of ENAMEL: does eff@1
move between two runs of the same samples? (docs/benchmarks.md, section
``enam``.)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402

from assay.measure.efficiency import EfficiencyConfig, EfficiencyEvaluator  # noqa: E402
from assay.measure.valgrind import find_valgrind  # noqa: E402
from assay.problems import load_benchmark  # noqa: E402
from assay.problems.enamel import _data, load_sample_set  # noqa: E402
from assay.sandbox.pool import Sandbox  # noqa: E402

SECTION = "enam"
SAMPLE_SET = "humaneval-canonical"

# Runs in a child process: enam sets rlimits and SIGALRM handlers in the process that calls it.
ENAM_RUNNER = r"""
import json, os, sys, tempfile, time
import enam
csv, samples, subset = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
codes = json.load(open(samples))
started = time.monotonic()
ev = enam.Evaluator(csv, subset, n_tests=[8, 4, 4, 4], n_reps=6, hardness=[0., 3., 3., 4.], memory_giga=4., timeout_factor=2., tolerence_sec=.01, seed=998244353)
ev.make_tests()
made = time.monotonic() - started
with tempfile.TemporaryDirectory() as tmp:
    metrics = ev.evaluate(codes, k=1, save_name=os.path.join(tmp, "run"))
    effs = json.load(open(os.path.join(tmp, "run~effs.json")))
    passes = json.load(open(os.path.join(tmp, "run~passes.json")))
print(json.dumps({"metrics": metrics, "seconds": time.monotonic() - started, "make_tests_seconds": made, "effs": effs, "passes": passes}))
"""
HARDNESS = (0.0, 3.0, 3.0, 4.0)


def run_enam(csv: Path, samples: Path, indices: list[int]) -> dict:
    proc = subprocess.run([sys.executable, "-c", ENAM_RUNNER, str(csv), str(samples), json.dumps(indices)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if proc.returncode != 0:
        raise RuntimeError("enam exited with %d" % proc.returncode)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    scores = {}
    for index, per_sample in out["effs"].items():
        levels = per_sample[0]
        scores["HumanEval/%s" % index] = sum(w * e for w, e in zip(HARDNESS, levels)) / sum(HARDNESS)
    return {"evaluator": "enam", "meter": "wall clock (time.time)", "seconds": out["seconds"], "pass": out["metrics"]["pass@1"], "eff": out["metrics"]["eff@1"], "scores": scores}


CACHED_REFERENCES = "instructions-cached-references"  # --meters entry: the instruction meter with the references measured on disk


def workloads_beside(counts: Path) -> Path:
    """Where the references' workloads (stress inputs, expected outputs) are kept next to their counts."""
    return counts.with_name(counts.stem + "-workloads.sqlite")


def fill_reference_counts(sandbox: Sandbox, problems: dict, path: Path) -> float:
    """Measure every problem's reference into fresh disk caches at ``path`` (counts) and beside it (workloads): what the first run on a machine leaves; seconds taken."""
    os.environ["ASSAY_COUNT_CACHE"] = str(path)
    os.environ["ASSAY_WORKLOAD_CACHE"] = str(workloads_beside(path))
    evaluator = EfficiencyEvaluator(sandbox, EfficiencyConfig(meter="instructions"))
    started = time.monotonic()

    def one(problem) -> None:
        try:
            evaluator.counted_reference(problem)
        except Exception:  # noqa: BLE001 - a problem without a counted reference is unmeasured in the run too
            pass

    with ThreadPoolExecutor(max_workers=sandbox.size) as pool:
        list(pool.map(one, problems.values()))
    return time.monotonic() - started


def run_assay(sandbox: Sandbox, meter: str, problems: dict, reference_counts: Path | None = None) -> dict:
    """One evaluation from scratch; ``reference_counts``: a disk cache holding only the references' counts (copied, so each run starts from it), their workloads beside it."""
    from bench_efficiency import run_set

    label = meter
    if meter == CACHED_REFERENCES:
        assert reference_counts is not None
        run_cache = reference_counts.with_name("run-%d.sqlite" % time.monotonic_ns())
        with sqlite3.connect(reference_counts) as source, sqlite3.connect(run_cache) as copy:
            source.backup(copy)  # the WAL's pages too, which a file copy would miss
        os.environ["ASSAY_COUNT_CACHE"] = str(run_cache)  # references from disk; every sample counted
        os.environ["ASSAY_WORKLOAD_CACHE"] = str(workloads_beside(reference_counts))
        meter, label = "instructions", "instructions, references on disk"
    else:
        os.environ["ASSAY_COUNT_CACHE"] = os.environ["ASSAY_WORKLOAD_CACHE"] = "off"  # everything made, as in the first run on a machine
    evaluator = EfficiencyEvaluator(sandbox, EfficiencyConfig(meter=meter))  # fresh: nothing cached from an earlier round
    started = time.monotonic()
    result = run_set(sandbox, evaluator, SAMPLE_SET, problems)
    seconds = time.monotonic() - started
    n = result["n"]
    scores = {t: (s if not math.isnan(s) else 0.0) for t, s in result["scores"].items()}
    eff = sum(scores.get(t, 0.0) for t in problems) / len(problems) if problems else math.nan
    return {
        "evaluator": "assay",
        "meter": label if label != meter else evaluator.meter,
        "seconds": seconds,
        "pass": result["pass"].value if result["pass"] else math.nan,
        "eff": eff,
        "scores": scores,
        "unmeasured": result["unmeasured"],
        "n": n,
        "levels": result["levels"],  # per problem: [level, status, count] of the sample
        "references": {t: [list(c) for c in ref.test_costs] for t, ref in evaluator.counted_references().items()},
    }


def drift(first: dict, second: dict) -> tuple[int, float]:
    """Problems whose score changed between two runs, and the largest change."""
    keys = set(first) | set(second)
    changes = [abs(first.get(k, 0.0) - second.get(k, 0.0)) for k in keys]
    return sum(c > 0 for c in changes), max(changes, default=0.0)


def markdown(runs: list[dict], info: dict, command: str, n_problems: int) -> str:
    out = [
        "## ENAMEL's evaluator (enam) and assay side by side",
        "",
        *report.run_header(command, info),
        "",
        "%d ENAMEL problems, one sample each: ENAMEL's `%s.json`, on assay's packaged `enamel.csv`, with ENAMEL's settings (8/4/4/4 inputs per level, "
        "weights 0/3/3/4, seed 998244353, 6 timing repeats, timeout factor 2, 10 ms tolerance). Each round runs every evaluator from scratch "
        "(enam regenerates its tests and re-times its references; assay re-measures its references), order rotated. enam runs serially in one "
        "unsandboxed process as it ships; assay runs in its sandbox on %d workers. eff@1 here is the mean per-problem score (n = 1), as enam computes it." % (n_problems, SAMPLE_SET, info["workers"]),
        "",
    ]
    if "fill_seconds" in info:
        out += [
            "*instructions, references on disk*: the instruction meter as it runs on a machine where an earlier run measured the references: "
            "their counts (deterministic, keyed by valgrind, Python, the server and the job) and their workloads (the stress inputs and the "
            "reference's expected outputs, keyed by the generator, seeds, reference and Python) are read from assay's disk caches. Each such run "
            "starts from caches holding only those, filled before the rounds in %.0f s; every sample is run natively (the screen) and counted. "
            "The other instruction rows make everything (`ASSAY_COUNT_CACHE=off`, `ASSAY_WORKLOAD_CACHE=off`)." % info["fill_seconds"],
            "",
        ]
    enam_seconds = {r["round"]: r["seconds"] for r in runs if r["evaluator"] == "enam"}

    def against_enam(r: dict) -> str:
        base = enam_seconds.get(r["round"])
        return "%.2f×" % (r["seconds"] / base) if base and r["evaluator"] != "enam" else ""

    rows = [[r["evaluator"], r["meter"], r["round"], "%.0f" % r["seconds"], against_enam(r), "%.4f" % r["pass"], "%.4f" % r["eff"]] for r in runs]
    out.append(report.table(["evaluator", "meter", "round", "wall s", "time ÷ enam's (same round)", "pass@1", "eff@1"], rows))
    out.append("")
    by_key: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        by_key.setdefault((r["evaluator"], r["meter"]), []).append(r)
    summary = []
    for (evaluator, meter), rs in by_key.items():
        if len(rs) < 2:
            continue
        changed, largest = drift(rs[0]["scores"], rs[1]["scores"])
        summary.append([evaluator, meter, "%+.4f" % (rs[1]["eff"] - rs[0]["eff"]), "%d / %d" % (changed, len(rs[0]["scores"])), "%.4f" % largest, "%.0f" % (sum(r["seconds"] for r in rs) / len(rs))])
    if summary:
        out.append("Between the two rounds:")
        out.append("")
        out.append(report.table(["evaluator", "meter", "eff@1 change", "problems whose score changed", "largest change of a score", "mean wall s"], summary))
        out.append("")
    enam_runs = [r for r in runs if r["evaluator"] == "enam"]
    if enam_runs:
        base = enam_runs[0]["scores"]
        agreement = []
        for r in runs:
            if r["evaluator"] == "enam" or r["round"] != 1:
                continue
            diffs = [abs(r["scores"].get(t, 0.0) - base[t]) for t in base]
            agreement.append([r["meter"], "%.4f" % (sum(diffs) / len(diffs)), sum(d > 0.2 for d in diffs), "%.4f" % (r["eff"] - enam_runs[0]["eff"])])
        if agreement:
            out.append("Per problem, against enam's round-1 scores (ENAMEL's own numbers are the yardstick, noise and all):")
            out.append("")
            out.append(report.table(["assay meter", "mean abs. score difference", "problems differing by > 0.2", "eff@1 difference"], agreement))
            out.append("")
    for r in runs:
        if r.get("unmeasured"):
            out.append("- assay / %s, round %d: no efficiency for %s" % (r["meter"], r["round"], "; ".join("%s (%s)" % (t, (n or "")[:80]) for t, n in r["unmeasured"][:5])))
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="only the first N of the 142 problems")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--meters", default="instructions,cpu-time", help="assay meters to run (instructions needs valgrind)")
    parser.add_argument("--no-enam", action="store_true", help="assay only")
    parser.add_argument("--out", type=Path, default=None, help="also write every run (with per-problem scores) to this JSON file")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args(argv)
    command = "python bench/bench_enam.py" + ("" if not (argv or sys.argv[1:]) else " " + shlex.join(argv if argv is not None else sys.argv[1:]))
    meters = [m for m in args.meters.split(",") if m and (m not in ("instructions", CACHED_REFERENCES) or find_valgrind())]
    problems = {p.task_id: p for p in load_benchmark("enamel-142")}
    if args.limit:
        problems = dict(list(problems.items())[: args.limit])
    indices = [int(t.split("/")[1]) for t in problems]
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="assay-bench-enam-") as tmp, Sandbox() as sandbox:
        csv = Path(tmp, "enamel.csv")
        csv.write_text(_data("enamel.csv"), encoding="utf-8")
        samples = Path(tmp, "samples.json")
        by_position = {int(s.task_id.split("/")[1]): s.program for s in load_sample_set(SAMPLE_SET) if s.index == 0}
        samples.write_text(json.dumps([[by_position[i]] for i in range(164)]), encoding="utf-8")
        info = {"date": report.today(), "git": report.git_revision(), "machine": report.machine(), "load": "%.2f %.2f %.2f" % report.load_average(), "workers": sandbox.size}
        jobs = ([("enam", None)] if not args.no_enam else []) + [("assay", m) for m in meters]
        reference_counts = None
        if CACHED_REFERENCES in meters:
            reference_counts = Path(tmp, "reference-counts.sqlite")
            info["fill_seconds"] = fill_reference_counts(sandbox, problems, reference_counts)
            print("references counted into %s in %.0f s (not part of any run below)" % (reference_counts, info["fill_seconds"]), flush=True)
        for round_ in range(1, args.rounds + 1):
            shift = (round_ - 1) % len(jobs)
            for evaluator, meter in jobs[shift:] + jobs[:shift]:
                started = time.monotonic()
                result = run_enam(csv, samples, indices) if evaluator == "enam" else run_assay(sandbox, meter, problems, reference_counts)
                result["round"] = round_
                runs.append(result)
                print("round %d %-5s %-28s %6.0fs pass@1 %.4f eff@1 %.4f" % (round_, evaluator, result["meter"], time.monotonic() - started, result["pass"], result["eff"]), flush=True)
                if args.out:
                    args.out.write_text(json.dumps(runs, indent=1))
    text = markdown(runs, info, command, len(problems))
    print(text)
    if not args.no_doc:
        report.replace_section(SECTION, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
