"""Efficiency: ENAMEL canonical sets end to end, meter repeatability, slow/fast ranking.

    python bench/bench_efficiency.py                       # everything (about 25 minutes on 2 cores)
    python bench/bench_efficiency.py --parts cv,pairs      # a subset: sets, cv, pairs
    python bench/bench_efficiency.py --ins-budget 900      # seconds for the instruction-meter pass over a set

Parts (docs/benchmarks.md, section ``efficiency``):

sets   ENAMEL's canonical sample files (humaneval-canonical.json,
       humanevalplus-canonical.json) on the 142 problems ENAMEL evaluates:
       pass@1 and eff@1 with bootstrap CIs on the CPU meter for all of them,
       and on the instruction meter for as many problems as fit --ins-budget.
cv     the coefficient of variation of one sample's per-level cost over 20
       repeats, per meter, idle and with every core busy (the bench starts
       and stops its own load generator).
pairs  pairs of correct solutions with a known slow/fast order; the fraction
       ranked correctly from a single measurement per sample, per meter.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shlex
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402

from assay.measure.efficiency import EfficiencyConfig, EfficiencyEvaluator  # noqa: E402
from assay.measure.meters import make_meter  # noqa: E402
from assay.measure.valgrind import find_valgrind  # noqa: E402
from assay.metrics import ProblemSamples, eff_at_k_over_problems, pass_at_k_over_problems  # noqa: E402
from assay.problems import load_benchmark  # noqa: E402
from assay.problems.enamel import load_sample_set  # noqa: E402
from assay.sandbox.calls import Call  # noqa: E402
from assay.sandbox.pool import Sandbox  # noqa: E402

SECTION = "efficiency"
SETS = ("humaneval-canonical", "humanevalplus-canonical")


# ------------------------------------------------------------------ sets


def run_set(sandbox: Sandbox, evaluator: EfficiencyEvaluator, set_name: str, problems: dict, budget: float | None = None, order: list[str] | None = None) -> dict:
    """Correctness (hidden tests) then efficiency of one sample per problem."""
    samples = [s for s in load_sample_set(set_name) if s.task_id in problems and s.index == 0]
    if order is not None:
        rank = {t: i for i, t in enumerate(order)}
        samples.sort(key=lambda s: rank.get(s.task_id, 10**9))
    started = time.monotonic()
    judged = dict(sandbox.run_many((problems[s.task_id], s.program) for s in samples))
    correctness_seconds = time.monotonic() - started

    def one(position: int):
        if budget is not None and time.monotonic() - started > budget:
            return None
        sample = samples[position]
        return evaluator.measure(problems[sample.task_id], sample.program, judged[position].passed)

    with ThreadPoolExecutor(max_workers=sandbox.size) as pool:
        effs = list(pool.map(one, range(len(samples))))
    elapsed = time.monotonic() - started
    rows = []
    for position, eff in enumerate(effs):
        if eff is None:
            continue
        passed = judged[position].passed and eff.passed
        rows.append((samples[position].task_id, passed, eff))
    measured = [(t, p, e) for t, p, e in rows if not math.isnan(e.score)]
    unmeasured = [(t, e.note) for t, p, e in rows if math.isnan(e.score)]
    pass_metric = pass_at_k_over_problems([ProblemSamples(t, (p,)) for t, p, _ in rows], 1) if rows else None
    eff_metric = eff_at_k_over_problems([ProblemSamples(t, (p,), (e.score,)) for t, p, e in measured], 1) if measured else None
    return {
        "set": set_name,
        "meter": evaluator.meter,
        "n": len(rows),
        "of": len(samples),
        "pass": pass_metric,
        "eff": eff_metric,
        "n_eff": len(measured),
        "unmeasured": unmeasured,
        "seconds": elapsed,
        "correctness_seconds": correctness_seconds,
        "scores": {t: e.score for t, _, e in measured},
        "levels": {t: [[c.level, c.status, c.value] for c in e.levels] for t, _, e in rows},  # what each score came from
        "failed": [t for t, p, _ in rows if not p],
    }


def fmt_metric(metric) -> str:
    if metric is None:
        return "-"
    return "%.4f [%.4f, %.4f]" % (metric.value, metric.interval.low, metric.interval.high)


# ------------------------------------------------------------------ load generator


class Load:
    """Busy loops on every core, started and stopped by the bench itself."""

    def __init__(self, n: int | None = None) -> None:
        self.n = n or os.cpu_count() or 1
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> "Load":
        for _ in range(self.n):
            self.procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait()


def cv(values: list[float]) -> float:
    mean = statistics.fmean(values)
    return statistics.pstdev(values) / mean if mean else math.nan


def run_cv(sandbox: Sandbox, problems: dict, task_id: str, repeats: int, meters: list[str]) -> list[list[object]]:
    problem = problems[task_id]
    rows = []
    for meter in meters:
        evaluator = EfficiencyEvaluator(sandbox, EfficiencyConfig(meter=meter, repeats=1))
        evaluator.measure(problem, problem.reference)  # reference and workload cached before timing
        for condition in ("idle", "all cores busy"):
            def one(_: int):
                return evaluator.measure(problem, problem.reference)

            started = time.monotonic()
            if condition == "idle":
                with ThreadPoolExecutor(max_workers=sandbox.size) as pool:
                    results = list(pool.map(one, range(repeats)))
            else:
                with Load(), ThreadPoolExecutor(max_workers=sandbox.size) as pool:
                    results = list(pool.map(one, range(repeats)))
            seconds = time.monotonic() - started
            top = [r.levels[-1].value for r in results if r.levels and r.levels[-1].value]
            scores = [r.score for r in results]
            rows.append([
                meter, condition, len(top),
                "%.3g" % statistics.median(top) if top else "-",
                "%.4f%%" % (100 * cv(top)) if len(top) > 1 else "-",
                "%.4f%%" % (100 * cv(scores)) if len(scores) > 1 else "-",
                "%.3f-%.3f" % (min(scores), max(scores)),
                "%.1f" % (seconds / repeats * sandbox.size),
            ])
            print(rows[-1], flush=True)
    return rows


# ------------------------------------------------------------------ pairs

PAIRS: list[tuple[str, str, str, str, str]] = [
    # (name, function, slow, fast, arguments built by a Python expression using rng)
    ("close elements: O(n^2) vs sort", "f",
     "def f(a, t):\n    return any(abs(a[i]-a[j]) < t for i in range(len(a)) for j in range(i+1, len(a)))\n",
     "def f(a, t):\n    s = sorted(a)\n    return any(y - x < t for x, y in zip(s, s[1:]))\n",
     "([rng.random() * 1e6 for _ in range(400)], 1e-9)"),
    ("prepend concatenation vs join", "f",
     "def f(xs):\n    s = ''\n    for x in xs:\n        s = x + s\n    return s\n",
     "def f(xs):\n    return ''.join(reversed(xs))\n",
     "([str(rng.randrange(1000)) for _ in range(20000)],)"),
    ("fibonacci: recursion vs memo", "f",
     "def f(n):\n    return n if n < 2 else f(n-1) + f(n-2)\n",
     "from functools import lru_cache\n@lru_cache(None)\ndef f(n):\n    return n if n < 2 else f(n-1) + f(n-2)\n",
     "(20,)"),
    ("dedupe: list membership vs set", "f",
     "def f(a):\n    out = []\n    for x in a:\n        if x not in out:\n            out.append(x)\n    return len(out)\n",
     "def f(a):\n    seen = set()\n    out = []\n    for x in a:\n        if x not in seen:\n            seen.add(x)\n            out.append(x)\n    return len(out)\n",
     "([rng.randrange(3000) for _ in range(3000)],)"),
    ("bubble sort vs sorted", "f",
     "def f(a):\n    a = list(a)\n    for i in range(len(a)):\n        for j in range(len(a)-1-i):\n            if a[j] > a[j+1]:\n                a[j], a[j+1] = a[j+1], a[j]\n    return a\n",
     "def f(a):\n    return sorted(a)\n",
     "([rng.randrange(10**6) for _ in range(300)],)"),
    ("queue: list.pop(0) vs deque", "f",
     "def f(n):\n    q = list(range(n))\n    s = 0\n    while q:\n        s += q.pop(0)\n    return s\n",
     "from collections import deque\ndef f(n):\n    q = deque(range(n))\n    s = 0\n    while q:\n        s += q.popleft()\n    return s\n",
     "(30000,)"),
    ("count primes: trial division vs sieve", "f",
     "def f(n):\n    c = 0\n    for k in range(2, n):\n        if all(k % d for d in range(2, k)):\n            c += 1\n    return c\n",
     "def f(n):\n    s = bytearray([1]) * n\n    s[0:2] = b'\\x00\\x00'\n    for i in range(2, int(n ** 0.5) + 1):\n        if s[i]:\n            s[i*i::i] = bytearray(len(range(i*i, n, i)))\n    return sum(s)\n",
     "(1500,)"),
    ("sum 1..n: loop vs formula", "f",
     "def f(n):\n    s = 0\n    for i in range(1, n + 1):\n        s += i\n    return s\n",
     "def f(n):\n    return n * (n + 1) // 2\n",
     "(100000,)"),
    ("maximum: sort vs max", "f",
     "def f(a):\n    return sorted(a)[-1]\n",
     "def f(a):\n    return max(a)\n",
     "([rng.randrange(10**9) for _ in range(50000)],)"),
    ("two-sum: O(n^2) vs dict", "f",
     "def f(a, t):\n    for i in range(len(a)):\n        for j in range(i+1, len(a)):\n            if a[i] + a[j] == t:\n                return (i, j)\n    return None\n",
     "def f(a, t):\n    seen = {}\n    for j, x in enumerate(a):\n        if t - x in seen:\n            return (seen[t - x], j)\n        seen[x] = j\n    return None\n",
     "([2 * rng.randrange(10**6) for _ in range(700)], 1)"),
    ("palindrome: recursive slicing vs reversal", "f",
     "def f(s):\n    if len(s) < 2:\n        return True\n    return s[0] == s[-1] and f(s[1:-1])\n",
     "def f(s):\n    return s == s[::-1]\n",
     "('ab' * 400 + 'ba' * 400,)"),
    ("gcd: subtraction vs Euclid", "f",
     "def f(a, b):\n    while a != b:\n        if a > b:\n            a -= b\n        else:\n            b -= a\n    return a\n",
     "def f(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n",
     "(300000, 7)"),
    ("modular power: loop vs pow", "f",
     "def f(b, e, m):\n    r = 1\n    for _ in range(e):\n        r = r * b % m\n    return r\n",
     "def f(b, e, m):\n    return pow(b, e, m)\n",
     "(7, 50000, 10**9 + 7)"),
    ("count occurrences: slicing scan vs str.count", "f",
     "def f(s, t):\n    return sum(1 for i in range(len(s) - len(t) + 1) if s[i:i+len(t)] == t)\n",
     "def f(s, t):\n    return s.count(t)\n",
     "(''.join(rng.choice('ab') for _ in range(20000)), 'abba')"),
    ("ordered unique: list.count vs dict", "f",
     "def f(a):\n    return [x for i, x in enumerate(a) if a[:i].count(x) == 0]\n",
     "def f(a):\n    return list(dict.fromkeys(a))\n",
     "([rng.randrange(500) for _ in range(800)],)"),
    ("longest increasing subsequence: O(n^2) vs bisect", "f",
     "def f(a):\n    d = [1] * len(a)\n    for i in range(len(a)):\n        for j in range(i):\n            if a[j] < a[i] and d[j] + 1 > d[i]:\n                d[i] = d[j] + 1\n    return max(d)\n",
     "import bisect\ndef f(a):\n    t = []\n    for x in a:\n        k = bisect.bisect_left(t, x)\n        if k == len(t):\n            t.append(x)\n        else:\n            t[k] = x\n    return len(t)\n",
     "([rng.randrange(10**6) for _ in range(500)],)"),
    ("range sums: naive vs prefix sums", "f",
     "def f(a, qs):\n    return [sum(a[l:r]) for l, r in qs]\n",
     "from itertools import accumulate\ndef f(a, qs):\n    p = [0, *accumulate(a)]\n    return [p[r] - p[l] for l, r in qs]\n",
     "([rng.randrange(100) for _ in range(3000)], [tuple(sorted((rng.randrange(3000), rng.randrange(3000)))) for _ in range(500)])"),
    ("search: linear vs binary", "f",
     "def f(a, qs):\n    return [a.index(q) if q in a else -1 for q in qs]\n",
     "import bisect\ndef f(a, qs):\n    out = []\n    for q in qs:\n        i = bisect.bisect_left(a, q)\n        out.append(i if i < len(a) and a[i] == q else -1)\n    return out\n",
     "(list(range(0, 20000, 2)), [rng.randrange(20000) for _ in range(300)])"),
    ("edit distance: plain recursion vs DP", "f",
     "def f(a, b):\n    if not a or not b:\n        return len(a) + len(b)\n    if a[0] == b[0]:\n        return f(a[1:], b[1:])\n    return 1 + min(f(a[1:], b), f(a, b[1:]), f(a[1:], b[1:]))\n",
     "def f(a, b):\n    prev = list(range(len(b) + 1))\n    for i, x in enumerate(a, 1):\n        cur = [i]\n        for j, y in enumerate(b, 1):\n            cur.append(prev[j-1] if x == y else 1 + min(prev[j], cur[j-1], prev[j-1]))\n        prev = cur\n    return prev[-1]\n",
     "('kitten', 'sitting')"),
    ("inversions: O(n^2) vs merge sort", "f",
     "def f(a):\n    return sum(1 for i in range(len(a)) for j in range(i+1, len(a)) if a[i] > a[j])\n",
     "def f(a):\n    def go(x):\n        if len(x) < 2:\n            return x, 0\n        m = len(x) // 2\n        l, p = go(x[:m])\n        r, q = go(x[m:])\n        out, i, j, c = [], 0, 0, p + q\n        while i < len(l) and j < len(r):\n            if l[i] <= r[j]:\n                out.append(l[i]); i += 1\n            else:\n                out.append(r[j]); j += 1; c += len(l) - i\n        out += l[i:] + r[j:]\n        return out, c\n    return go(list(a))[1]\n",
     "([rng.randrange(10**6) for _ in range(600)],)"),
    ("maximum subarray: O(n^2) vs Kadane", "f",
     "def f(a):\n    best = a[0]\n    for i in range(len(a)):\n        s = 0\n        for j in range(i, len(a)):\n            s += a[j]\n            best = max(best, s)\n    return best\n",
     "def f(a):\n    best = cur = a[0]\n    for x in a[1:]:\n        cur = max(x, cur + x)\n        best = max(best, cur)\n    return best\n",
     "([rng.randrange(-100, 100) for _ in range(600)],)"),
    ("anagram groups: sorted key per pair vs dict", "f",
     "def f(ws):\n    groups = []\n    for w in ws:\n        for g in groups:\n            if sorted(g[0]) == sorted(w):\n                g.append(w)\n                break\n        else:\n            groups.append([w])\n    return len(groups)\n",
     "def f(ws):\n    d = {}\n    for w in ws:\n        d.setdefault(''.join(sorted(w)), []).append(w)\n    return len(d)\n",
     "([''.join(rng.choice('abcdefg') for _ in range(5)) for _ in range(600)],)"),
]


def _cpu_once(sandbox: Sandbox, program: str, function: str, args: tuple) -> float:
    batch = sandbox.run_calls(program, [Call(function, args, cpu_seconds=20.0, wall_seconds=60.0)])
    load, replies = batch.load, batch.replies
    if load.status != "ok" or not replies or replies[0].status != "ok":
        raise RuntimeError("pair program failed: %s %s" % (load.status, replies[0].status if replies else "-"))
    return replies[0].measurement.cpu_ns / 1e9


def run_pairs(sandbox: Sandbox, meters: list[str]) -> tuple[list[list[object]], dict[str, tuple[int, int]]]:
    rng = random.Random(0)
    cases = []
    for name, function, slow, fast, expression in PAIRS:
        args = eval(expression, {"rng": rng})  # noqa: S307 - trusted bench data
        cases.append((name, function, slow, fast, args))
    counter = make_meter("instructions") if "instructions" in meters else None
    costs: dict[tuple[str, int, str], float] = {}

    def measure(job):
        meter, index, which = job
        name, function, slow, fast, args = cases[index]
        program = slow if which == "slow" else fast
        if meter == "cpu-time":
            return job, _cpu_once(sandbox, program, function, args)
        assert counter is not None
        (cost,) = counter.call_costs(sandbox, program, [Call(function, args)], 120.0)
        if not cost.ok:
            raise RuntimeError("%s %s: %s under valgrind" % (name, which, cost.status))
        return job, cost.value

    jobs = [(meter, i, which) for meter in meters for i in range(len(cases)) for which in ("slow", "fast")]
    with ThreadPoolExecutor(max_workers=sandbox.size) as pool:
        for job, value in pool.map(measure, jobs):
            costs[job] = value
    rows, summary = [], {}
    for i, (name, *_rest) in enumerate(cases):
        row: list[object] = [name]
        for meter in meters:
            slow, fast = costs[(meter, i, "slow")], costs[(meter, i, "fast")]
            row += ["%.3g / %.3g" % (slow, fast), "yes" if slow > fast else "**no**"]
        rows.append(row)
    for meter in meters:
        right = sum(costs[(meter, i, "slow")] > costs[(meter, i, "fast")] for i in range(len(cases)))
        summary[meter] = (right, len(cases))
    return rows, summary


# ------------------------------------------------------------------ main


def markdown(sections: dict, info: dict, command: str) -> str:
    out = ["## Efficiency: ENAMEL eff@1, meter repeatability, slow/fast ranking", ""]
    out.append("Run %s, git %s, on %s (load average before: %s). Command:" % (info["date"], info["git"], info["machine"], info["load"]))
    out += ["", "    " + command, ""]
    out.append(
        "Meters (see `src/assay/measure/efficiency.py`): **cpu-time** = the sandbox's kernel-read CPU time per call, "
        "median of 3 runs per stress input, calls cut off at alpha x the reference's largest level (+10 ms); "
        "**instructions** = cachegrind (`--cache-sim=no`) inside the sandbox (exec mode), one valgrind process per "
        "sample, each input counted in its own forked process minus an empty call; weight-0 level not counted. "
        "References are measured in the same run, once per problem. eff@1 follows ENAMEL (weights 0,3,3,4, alpha 2)."
    )
    out.append("")
    if sections.get("sets"):
        out += ["### ENAMEL canonical sets (142 problems ENAMEL evaluates)", ""]
        rows = []
        for r in sections["sets"]:
            rows.append([r["set"], r["meter"], "%d/%d" % (r["n"], r["of"]), fmt_metric(r["pass"]), fmt_metric(r["eff"]), r["n_eff"], "%.0f" % r["seconds"]])
        out.append(report.table(["sample set", "meter", "problems run", "pass@1 [95% CI]", "eff@1 [95% CI]", "problems with eff", "seconds"], rows))
        out.append("")
        for r in sections["sets"]:
            if r["unmeasured"]:
                out.append("- %s / %s: no efficiency for %d problems: %s" % (r["set"], r["meter"], len(r["unmeasured"]), "; ".join("%s (%s)" % (t, (n or "")[:90]) for t, n in r["unmeasured"][:6])))
            if r["failed"]:
                out.append("- %s / %s: failed (ENAMEL's pass: hidden tests and stress levels): %s" % (r["set"], r["meter"], ", ".join(r["failed"][:20])))
        if sections.get("sets_note"):
            out.append("- " + sections["sets_note"])
        out.append("")
    if "cv" in sections:
        out += ["### Repeatability: the same sample measured %d times" % sections["cv_repeats"], ""]
        out.append("Sample: the ENAMEL reference of %s measured against itself (a fresh measurement each repeat, reference cached). " % sections["cv_task"]
                   + "'cost' is the largest level's cost (max over its 4 inputs); 'seconds/sample' is the wall time of one measurement on one worker.")
        out.append("")
        out.append(report.table(["meter", "condition", "n", "median cost", "CV of cost", "CV of score", "score range", "seconds/sample"], sections["cv"]))
        out.append("")
    if "pairs" in sections:
        rows, summary = sections["pairs"]
        meters = list(summary)
        out += ["### Slow/fast pairs, one measurement each", ""]
        out.append(" / ".join("%s: **%d/%d** ranked correctly" % (m, *summary[m]) for m in meters))
        out.append("")
        headers = ["pair"]
        for m in meters:
            headers += ["%s slow / fast" % m, "right"]
        out.append(report.table(headers, rows))
        out.append("")
    if sections.get("see_also"):
        out += [sections["see_also"], ""]
    if sections.get("missing"):
        out += ["### Not measured in this run", ""] + ["- " + m for m in sections["missing"]] + [""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="sets,cv,pairs")
    parser.add_argument("--ins-budget", type=float, default=900.0, help="seconds for the instruction meter over humaneval-canonical (0: skip; bench_enam.py runs it over the whole set)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems (quick runs)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--cv-task", default="HumanEval/0")
    parser.add_argument("--doc", type=Path, default=report.DOC)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    command = "python bench/bench_efficiency.py" + (" " + shlex.join(argv if argv is not None else sys.argv[1:]) if (argv or sys.argv[1:]) else "")
    info = {"date": report.today(), "git": report.git_revision(), "machine": report.machine(), "load": "%.2f %.2f %.2f" % report.load_average()}
    meters = ["cpu-time"] + (["instructions"] if find_valgrind() else [])
    sections: dict = {"missing": []}
    if not find_valgrind():
        sections["missing"].append("instruction meter: valgrind is not installed")
    problems = {p.task_id: p for p in load_benchmark("enamel-142")}
    if args.limit:
        problems = dict(list(problems.items())[: args.limit])
    with Sandbox() as sandbox:
        def guarded(name, action):
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - a failed part is reported, the others still run
                import traceback

                traceback.print_exc()
                sections["missing"].append("part %s failed: %s: %s" % (name, type(exc).__name__, exc))

        def part_sets():
            cpu = EfficiencyEvaluator(sandbox, EfficiencyConfig(meter="cpu-time"))
            results = sections.setdefault("sets", [])
            for name in SETS:
                r = run_set(sandbox, cpu, name, problems)
                print(name, "cpu-time", fmt_metric(r["pass"]), fmt_metric(r["eff"]), "%.0fs" % r["seconds"], flush=True)
                results.append(r)
            if "instructions" in meters and args.ins_budget > 0:
                ins = EfficiencyEvaluator(sandbox, EfficiencyConfig(meter="instructions"))
                r = run_set(sandbox, ins, SETS[0], problems, budget=args.ins_budget)
                print(SETS[0], "instructions", r["n"], fmt_metric(r["pass"]), fmt_metric(r["eff"]), "%.0fs" % r["seconds"], flush=True)
                results.append(r)
                done = set(r["scores"])
                cpu_same = [s for t, s in results[0]["scores"].items() if t in done]
                if cpu_same:
                    sections["sets_note"] = "instruction meter fit %d of %d problems in a %.0f s budget (%.1f s per problem on %d workers, reference included); eff@1 of the CPU meter on the same %d problems: %.4f" % (
                        r["n"], r["of"], args.ins_budget, r["seconds"] / max(1, r["n"]) * sandbox.size, sandbox.size, len(cpu_same), statistics.fmean(cpu_same))

        def part_cv():
            sections["cv"] = run_cv(sandbox, problems, args.cv_task, args.repeats, meters)
            sections["cv_repeats"], sections["cv_task"] = args.repeats, args.cv_task

        def part_pairs():
            sections["pairs"] = run_pairs(sandbox, meters)
            print(sections["pairs"][1], flush=True)

        for name, action in (("cv", part_cv), ("pairs", part_pairs), ("sets", part_sets)):
            if name in parts:
                guarded(name, action)
    sections["see_also"] = ("ENAMEL's own evaluator side by side with assay (wall time, eff@1 of two runs of each, the instruction meter over the whole set twice): "
                            "section *enam* (`python bench/bench_enam.py`); the instruction meter's cost against input size: section *meter-cost*.")
    text = markdown(sections, info, command)
    print(text)
    if not args.no_doc:
        path = report.replace_section(SECTION, text, args.doc)
        print("wrote section %r of %s" % (SECTION, path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
