"""Oracles on HumanEval: visible examples and differential inputs, against the hidden tests, on mutants of the canonical solutions.

    python bench/bench_oracles.py [--budget 200] [--per-problem N] [--limit N] [--no-write]

For all 164 problems: how many examples each problem's text yields, whether
the canonical solutions pass them (false rejects; every failure explained),
and, on the AST mutants of bench/data/humaneval_mixed.jsonl, the share each
oracle kills next to the hidden tests' own share: the examples alone; the
examples plus a differential search of the mutant against the canonical
solution (an input kills the mutant when the two behave differently there:
the canonical solution judges that input, which is what measuring the
search needs, and which a real search does not have); and, for each mutant
the hidden tests kill, whether the full search (seed, mutation, Hypothesis,
random) and a random-only search at the same budget find a distinguishing
input, and at what cost (sandbox runs, seconds). Writes the `oracles`
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import git_revision, load_average, machine, replace_section, table, today  # noqa: E402

from assay.oracles.differential import PHASES, find_distinguishing_input  # noqa: E402
from assay.oracles.examples import example_tests, extract_examples, reference_failures  # noqa: E402
from assay.problems.humaneval import load_problems  # noqa: E402
from assay.sandbox import Call, Sandbox, compare_output  # noqa: E402

MIXED = Path(__file__).parent / "data" / "humaneval_mixed.jsonl"

# Why the canonical solution fails an example its problem's text gives: the text is wrong (checked by hand).
WRONG_IN_HUMANEVAL = {
    "HumanEval/47": "median([-10, 4, 6, 1000, 10, 20]) is 8.0; the docstring says 15.0",
    "HumanEval/116": "the three doctests show a plain sort; the task (and the hidden tests) sort by the number of ones in binary, then by value",
    "HumanEval/148": 'bf("Earth", "Mercury") ==> ("Venus"): in Python ("Venus") is the string \'Venus\'; the function returns the tuple (\'Venus\',)',
}


def load_mutants(per_problem: int | None) -> list[dict]:
    mutants = [json.loads(line) for line in MIXED.read_text(encoding="utf-8").splitlines() if line.strip()]
    mutants = [m for m in mutants if m.get("kind") != "canonical"]
    mutants.sort(key=lambda m: (int(m["task_id"].split("/")[1]), int(m["mutant_id"].split("#m")[1])))
    if per_problem is None:
        return mutants
    kept, seen = [], {}
    for m in mutants:
        seen[m["task_id"]] = seen.get(m["task_id"], 0) + 1
        if seen[m["task_id"]] <= per_problem:
            kept.append(m)
    return kept


def fails_examples(sandbox: Sandbox, problem, program: str, tests) -> bool:
    """Does ``program`` fail any of the example tests (a wrong value, an exception, a timeout, a crash)?"""
    if not tests:
        return False
    calls = [Call(problem.entry_point, t.test.args, dict(t.test.kwargs), cpu_seconds=1.0) for t in tests]
    batch = sandbox.run_calls(program, calls)
    if not batch.loaded or len(batch.replies) < len(calls):
        return True
    for t, reply in zip(tests, batch.replies):
        if reply.status != "ok" or not compare_output(problem, t.test, reply.value)[0]:
            return True
    return False


def pct(part: int, whole: int) -> str:
    return "%.1f%%" % (100.0 * part / whole) if whole else "—"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=200, help="inputs per differential search (both the full and the random-only one)")
    parser.add_argument("--per-problem", type=int, default=None, help="at most N mutants per problem (default: all of humaneval_mixed.jsonl)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)

    info = {"date": today(), "git": git_revision(), "machine": machine(), "load": "%.2f/%.2f/%.2f" % load_average()}
    command = "python bench/bench_oracles.py" + "".join(" " + a for a in (argv if argv is not None else sys.argv[1:]))
    started = time.monotonic()
    problems = load_problems()[: args.limit] if args.limit else load_problems()
    by_id = {p.task_id: p for p in problems}

    # ------------------------------------------------ examples
    counts: dict[str, int] = {}
    discarded: dict[str, int] = {}
    styles: dict[str, int] = {}
    tests_of: dict = {}
    false_rejects: list[tuple[str, str, str]] = []
    build_seconds: list[float] = []
    with Sandbox(workers=2) as sandbox:
        for p in problems:
            t0 = time.monotonic()
            extraction = extract_examples(p)
            tests = example_tests(p, extraction)
            failures = reference_failures(sandbox, p, p.reference, tests)
            build_seconds.append(time.monotonic() - t0)
            counts[p.task_id] = len(tests)
            discarded[p.task_id] = len(extraction.discarded)
            for e in extraction.examples:
                style = e.style.split(" (")[0]
                styles[style] = styles.get(style, 0) + 1
            for t in tests:
                if t.test.name in failures:
                    false_rejects.append((p.task_id, (t.note or "").split(": ", 1)[-1], failures[t.test.name]))
            tests_of[p.task_id] = [t for t in tests if t.test.name not in failures]  # what a builder allowed the reference keeps
        values = sorted(counts.values())
        none = [task for task, n in counts.items() if n == 0]
        unexplained = [f for f in false_rejects if f[0] not in WRONG_IN_HUMANEVAL]
        print("examples per problem: min %d, median %g, max %d, total %d; problems with none: %d (%s)" % (
            values[0], statistics.median(values), values[-1], sum(values), len(none), ", ".join(none)))  # fmt: skip
        print("styles: %s; lines discarded (looked like examples, not read): %d" % (styles, sum(discarded.values())))
        print("false rejects of the canonical solutions by the unvalidated examples: %d examples in %d problems, unexplained: %d" % (
            len(false_rejects), len({f[0] for f in false_rejects}), len(unexplained)))  # fmt: skip
        for f in false_rejects:
            print("   %s  %s  -> %s" % f)

        # ------------------------------------------------ mutants
        mutants = [m for m in load_mutants(args.per_problem) if m["task_id"] in by_id]
        rows = []
        for number, m in enumerate(mutants, 1):
            p = by_id[m["task_id"]]
            program = m["solution"]
            hidden_killed = not sandbox.run(p, program).passed
            examples_killed = fails_examples(sandbox, p, program, tests_of[p.task_id])
            seeds = [t.test.args for t in tests_of[p.task_id] if not t.test.kwargs]
            full = find_distinguishing_input(sandbox, p.reference, program, p.entry_point, seeds, args.budget, seed=args.seed, shrink=False, phases=PHASES)
            rand = find_distinguishing_input(sandbox, p.reference, program, p.entry_point, seeds, args.budget, seed=args.seed, shrink=False, phases=("random",))
            beyond = find_distinguishing_input(sandbox, p.reference, program, p.entry_point, seeds, args.budget, seed=args.seed, shrink=False, phases=PHASES[1:])
            rows.append({
                "mutant": m["mutant_id"], "mutation": m["mutation"], "kind": m["kind"], "hidden": hidden_killed, "examples": examples_killed,
                "full": full.found, "full_source": full.source, "full_runs": full.sandbox_runs, "full_seconds": full.seconds, "full_tried": full.tried,
                "random": rand.found, "random_runs": rand.sandbox_runs, "random_seconds": rand.seconds, "random_tried": rand.tried,
                "beyond": beyond.found, "beyond_runs": beyond.sandbox_runs, "beyond_seconds": beyond.seconds, "beyond_tried": beyond.tried,
                "full_input": repr(full.args)[:80] if full.found else None, "full_which": full.which() if full.found else None,
            })  # fmt: skip
            if number % 50 == 0:
                print("  %d/%d mutants, %.0f s" % (number, len(mutants), time.monotonic() - started), flush=True)
    elapsed = time.monotonic() - started

    n = len(rows)
    hidden = [r for r in rows if r["hidden"]]
    k_hidden = len(hidden)
    k_examples = sum(r["examples"] for r in rows)
    k_pool = sum(r["examples"] or r["full"] for r in rows)
    k_pool_of_hidden = sum(r["examples"] or r["full"] for r in hidden)
    k_examples_of_hidden = sum(r["examples"] for r in hidden)
    found_full = sum(r["full"] for r in hidden)
    found_random = sum(r["random"] for r in hidden)
    beyond_hidden = [r for r in rows if not r["hidden"] and (r["examples"] or r["full"])]
    missed = [r for r in hidden if not r["full"]]
    past_examples = [r for r in hidden if not r["examples"]]
    found_beyond = sum(r["beyond"] for r in hidden)

    def cost(key: str, subset: list[dict]) -> str:
        if not subset:
            return "—"
        runs = [r[key + "_runs"] for r in subset]
        secs = [r[key + "_seconds"] for r in subset]
        tried = [r[key + "_tried"] for r in subset]
        return "%g / %g / %.2f s" % (statistics.median(tried), statistics.median(runs), statistics.median(secs)) + " (mean %.1f / %.1f / %.2f s)" % (
            statistics.mean(tried), statistics.mean(runs), statistics.mean(secs))

    sources: dict[str, int] = {}
    for r in hidden:
        if r["full"]:
            sources[r["full_source"]] = sources.get(r["full_source"], 0) + 1
    total_search_seconds = sum(r["full_seconds"] for r in rows)
    total_search_runs = sum(r["full_runs"] for r in rows)
    per_problem_seconds = total_search_seconds / max(1, len({m["task_id"] for m in mutants}))
    per_problem_runs = total_search_runs / max(1, len({m["task_id"] for m in mutants}))

    print("mutants: %d (%s per problem); hidden tests kill %d (%s)" % (n, "all" if args.per_problem is None else "at most %d" % args.per_problem, k_hidden, pct(k_hidden, n)))
    print("examples alone kill %d (%s); examples + differential kill %d (%s)" % (k_examples, pct(k_examples, n), k_pool, pct(k_pool, n)))
    print("of the %d the hidden tests kill: examples %d (%s), pool %d (%s) (target >= 80%%)" % (k_hidden, k_examples_of_hidden, pct(k_examples_of_hidden, k_hidden), k_pool_of_hidden, pct(k_pool_of_hidden, k_hidden)))
    print("distinguishing input vs the canonical, of the %d hidden-killed: full search %d (%s) (target >= 90%%), random only %d (%s), budget %d" % (
        k_hidden, found_full, pct(found_full, k_hidden), found_random, pct(found_random, k_hidden), args.budget))  # fmt: skip
    print("cost when found, median inputs / sandbox runs / seconds: full %s; random %s" % (cost("full", [r for r in hidden if r["full"]]), cost("random", [r for r in hidden if r["random"]])))
    print("without the examples' own inputs (mutation, Hypothesis, random): %d (%s)" % (found_beyond, pct(found_beyond, k_hidden)))
    print("on the %d hidden-killed mutants the examples miss: full %d, random only %d, without the examples' inputs %d" % (
        len(past_examples), sum(r["full"] for r in past_examples), sum(r["random"] for r in past_examples), sum(r["beyond"] for r in past_examples)))  # fmt: skip
    print("cost when not found: full %s" % cost("full", [r for r in rows if not r["full"]]))
    print("found by phase: %s" % sources)
    print("killed by the pool but not by the hidden tests: %d" % len(beyond_hidden))
    for r in beyond_hidden[:12]:
        print("   %s (%s): %s %s" % (r["mutant"], r["mutation"], r["full_input"], r["full_which"] or "examples"))
    print("hidden-killed, no distinguishing input found: %s" % ", ".join("%s (%s)" % (r["mutant"], r["mutation"]) for r in missed))
    print("total %.0f s" % elapsed)

    if args.no_write:
        return 0
    lines = ["## Oracles: visible examples and differential inputs (HumanEval)", ""]
    lines += [
        "Command: `%s`  " % command,
        "Date: %s  " % info["date"],
        "Revision: %s  " % info["git"],
        "Machine: %s  " % info["machine"],
        "Load average at the start: %s; the whole run took %.0f s." % (info["load"], elapsed),
        "",
        "### Visible examples (`assay.oracles.examples`)",
        "",
        "Extracted from each problem's own text with `ast.literal_eval` only (doctests, `f(x) ==> y` / `=>` / `➞` / `->` / `==` / `=` / "
        "`returns` / `should return` lines, \"For x = ..., the result should be ...\" lines, `Input:` / `Output:` blocks); HumanEval has no visible tests.",
        "",
        table(["", "value"], [
            ["problems", len(counts)],
            ["examples per problem: min / median / max", "%d / %g / %d" % (values[0], statistics.median(values), values[-1])],
            ["examples in all", sum(values)],
            ["problems with none", "%d (%s)" % (len(none), ", ".join(t.split("/")[1] for t in none))],
            ["by style", ", ".join("%s %d" % kv for kv in sorted(styles.items(), key=lambda kv: -kv[1]))],
            ["lines that looked like examples and were discarded, with a reason", sum(discarded.values())],
            ["canonical solutions failing an example (false rejects, unvalidated examples)", "%d examples in %d problems, **%d unexplained**" % (
                len(false_rejects), len({f[0] for f in false_rejects}), len(unexplained))],
            ["false rejects once the builder may use the reference", "0 (those examples are discarded, with the reason)"],
            ["cost per problem (extract + one sandbox run of the reference)", "1 sandbox run, median %.1f ms" % (1000 * statistics.median(build_seconds))],
        ], "lr"),  # fmt: skip
        "",
        "Examples per problem, how many problems have that many: %s." % ", ".join(
            "%d: %d" % (k, sum(1 for v in values if v == k)) for k in sorted(set(values))),
        "",
        "<details><summary>Examples per problem</summary>",
        "",
        " ".join("%s: %d," % (task.split("/")[1], count) for task, count in counts.items()).rstrip(","),
        "",
        "</details>",
        "",
        "The examples HumanEval's own text gets wrong (the canonical solution, which passes the hidden tests, disagrees; checked by hand):",
        "",
    ]
    for task, example, why in false_rejects:
        lines.append("- %s `%s`: %s. %s" % (task, example, why.replace("the reference returns something else: ", "the reference: "), WRONG_IN_HUMANEVAL.get(task, "**not explained**")))
    lines += [
        "",
        "Not counted as examples, on purpose: HumanEval/130's `tri(1) = 3`, `tri(2) = ... = 2`, `tri(4) = 3` (and /46's, /63's `fib4(0) -> 0`, `fibfib(0) == 0`, ...) "
        "sit in a block with a recurrence (`tri(n) = ...`): they define the sequence, not what the function returns (/130 returns a list); "
        "HumanEval/80's `is_happy(a) => False` has a name where a string belongs, /158's `== \"\"aaaaaaa\"` is a typo: discarded with their reasons.",
        "",
        "### Mutants: what each oracle kills",
        "",
        "%d AST mutants of the canonical solutions (`bench/data/humaneval_mixed.jsonl`, %s; %d loop forever and %d sleep by design). "
        "A mutant is killed by the hidden tests when `Sandbox.run` does not pass it; by the examples when it fails one the canonical solution passes; "
        "by a differential input when the search (budget %d inputs, 0.25 s CPU per call, seeded with the examples' inputs) finds an input where the mutant "
        "and the canonical solution behave differently. **The canonical solution is the judge of those inputs** here: that measures the search; a search "
        "for a real problem has candidates, not a reference, and a differential input is an input worth asking about (`pool.inputs`), not a test with an answer." % (
            n, "all of them" if args.per_problem is None else "at most %d per problem" % args.per_problem,
            sum(r["kind"] == "hang" for r in rows), sum(r["kind"] == "sleep" for r in rows), args.budget),
        "",
        table(["oracle", "mutants killed", "share", "of the hidden tests' kills"], [
            ["hidden tests (HumanEval's `check`)", k_hidden, pct(k_hidden, n), "—"],
            ["visible examples alone", k_examples, pct(k_examples, n), "%d (%s)" % (k_examples_of_hidden, pct(k_examples_of_hidden, k_hidden))],
            ["examples + differential inputs", k_pool, pct(k_pool, n), "**%d (%s)** (target ≥ 80%%)" % (k_pool_of_hidden, pct(k_pool_of_hidden, k_hidden))],
        ]),  # fmt: skip
        "",
        "The examples are those a builder allowed the reference keeps (the %d wrong ones above dropped). Killed by examples + differential inputs "
        "but not by the hidden tests: %d (inputs the hidden tests do not try; such an input may lie outside what the problem promises, where the "
        "canonical solution's answer is only one possible answer): %s." % (len(false_rejects), len(beyond_hidden), "; ".join(
            "%s (%s) on `%s`: %s" % (r["mutant"], r["mutation"], r["full_input"], r["full_which"] or "an example") for r in beyond_hidden) or "none"),
        "",
        "### Differential search: a distinguishing input for each mutant the hidden tests kill",
        "",
        table(["search (budget %d inputs)" % args.budget, "found", "share", "median inputs / sandbox runs / s when found (mean)"], [
            ["full: seed, mutation, Hypothesis, random", found_full, "**%s** (target ≥ 90%%)" % pct(found_full, k_hidden), cost("full", [r for r in hidden if r["full"]])],
            ["random values of the inferred types only", found_random, pct(found_random, k_hidden), cost("random", [r for r in hidden if r["random"]])],
            ["full without the examples' own inputs (mutation, Hypothesis, random)", found_beyond, pct(found_beyond, k_hidden), cost("beyond", [r for r in hidden if r["beyond"]])],
        ]),  # fmt: skip
        "",
        "Random-only draws values of the types inferred from the examples' inputs (ranges, alphabets, sizes), never the inputs themselves. "
        "Every search is deterministic for its seed (%d); the machine's load moves the seconds, not the inputs tried: limits are CPU time. "
        "Most mutants fail an example already, so the full search finds them with its first batch (the example inputs). On the %d hidden-killed mutants "
        "that pass every example: full search %d, random only %d, without the examples' inputs %d." % (
            args.seed, len(past_examples), sum(r["full"] for r in past_examples), sum(r["random"] for r in past_examples), sum(r["beyond"] for r in past_examples)),
        "",
        "Found first by: %s. A search that finds nothing costs its whole budget: median inputs / runs / s %s. "
        "Cost per problem of the full searches (all of a problem's mutants): %.1f sandbox runs, %.2f s on average." % (
            ", ".join("%s %d" % kv for kv in sorted(sources.items(), key=lambda kv: -kv[1])), cost("full", [r for r in rows if not r["full"]]), per_problem_runs, per_problem_seconds),
        "",
        "Hidden-killed mutants with no distinguishing input found: %s." % (", ".join("%s (%s)" % (r["mutant"], r["mutation"]) for r in missed) or "none"),
    ]  # fmt: skip
    replace_section("oracles", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
