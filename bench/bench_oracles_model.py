"""Model-written oracles on HumanEval: false rejects on the canonical solutions and mutants killed, per kind, against the hidden tests.

    python bench/bench_oracles_model.py [--model embedded] [--limit 20] [--candidates 4] [--no-write]

For the first ``--limit`` problems, a pool is built exactly as a search
builds it (``assay.oracles.build.build_pools``: the problem without its hidden
tests and without its reference; the model writes properties, input/output
tests and stress-input generators; ``--candidates`` programs sampled for
agreement). Then, with the canonical solution and the mutants of
``bench/data/humaneval_mixed.jsonl`` (never shown to the builder):

- **false rejects**: kept tests (or properties) the canonical solution fails,
  among all kept ones and among those a search trusts (tests at trust
  ``TRUSTED``, properties at the ``pgs`` preset's ``property_trust``, as its checker uses them);
- **mutants killed**: a mutant is killed by a kind when it fails one of that
  kind's search-trusted tests (or properties) that the canonical solution
  passes, next to the hidden tests' own kills; the pool without hidden tests
  should kill at least 80% of what the hidden tests kill (issue 13);
- **cost** per problem: model calls, tokens, seconds per kind.

Replies are cached (``~/.cache/assay/responses.sqlite``): a rerun replays them.
Writes the ``oracles-model`` section of docs/benchmarks.md after each problem
(marked partial until the run ends).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_oracles import load_mutants, pct  # noqa: E402
from report import git_revision, load_average, machine, replace_section, table, today  # noqa: E402

from assay.models import CachedModel, ResponseCache, load_model  # noqa: E402
from assay.oracles.build import OracleConfig, build_pools  # noqa: E402
from assay.oracles.examples import reference_failures  # noqa: E402
from assay.oracles.pool import OraclePool  # noqa: E402
from assay.oracles.properties import check_property  # noqa: E402
from assay.problems import Problem  # noqa: E402
from assay.problems.humaneval import load_problems  # noqa: E402
from assay.sandbox import Sandbox  # noqa: E402
from assay.search.presets import PRESETS  # noqa: E402
from assay.search.value import TRUSTED  # noqa: E402
from assay.store import Store  # noqa: E402

KINDS = ("examples", "property", "generated", "stress")
PROPERTY_TRUST = PRESETS["pgs"].property_trust  # what the pgs preset's checker keeps: every kept property


@dataclass
class KindFigures:
    """One oracle kind over the problems: what it kept, what the canonical solutions fail, what it kills."""

    made: int = 0  # what the kind made, in its own unit (properties, tests, generators)
    kept: int = 0
    entries: int = 0  # tests (or properties) in the pools
    trusted: int = 0
    rejects: int = 0  # kept ones the canonical solution fails
    trusted_rejects: int = 0
    inconclusive: int = 0  # properties the canonical solution left undecided
    problems_with: int = 0  # problems where the kind kept something a search trusts
    seconds: float = 0.0
    reasons: Counter = field(default_factory=Counter)
    reject_examples: list[str] = field(default_factory=list)


@dataclass
class Oracle:
    """One trusted test or property: how to ask whether a program fails it."""

    kind: str
    name: str
    test: object | None = None  # an OracleTest
    prop: dict | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)  # a property's name is the model's: it may equal a test's


def oracles_of(pool: OraclePool) -> list[Oracle]:
    """Everything in the pool a search trusts, per kind."""
    found = [Oracle(t.provenance.kind.value, t.test.name, test=t) for t in pool.tests if t.trust >= TRUSTED]
    found += [Oracle("property", str(p.get("name")), prop=p) for p in pool.extras.get("property", []) if float(p.get("trust") or 0.0) >= PROPERTY_TRUST]
    return found


def failed(sandbox: Sandbox, problem: Problem, program: str, oracles: list[Oracle]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """Keys of the oracles ``program`` fails, and of the properties left inconclusive."""
    tests = [o for o in oracles if o.test is not None]
    failing = reference_failures(sandbox, problem, program, [o.test for o in tests]) if tests else {}
    failures = {o.key for o in tests if o.test.test.name in failing}
    inconclusive: set[tuple[str, str]] = set()
    for o in oracles:
        if o.prop is None:
            continue
        verdict = check_property(sandbox, program, problem.entry_point, o.prop)
        if verdict.status == "failed":
            failures.add(o.key)
        elif verdict.status != "passed":
            inconclusive.add(o.key)
    return failures, inconclusive


KIND_OF_TALLY = {"examples": "example", "property": "property", "generated": "generated", "stress": "stress"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--limit", type=int, default=20, help="the first N HumanEval problems")
    parser.add_argument("--candidates", type=int, default=4, help="programs sampled per problem for agreement")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    command = "python bench/bench_oracles_model.py" + "".join(" " + a for a in (argv if argv is not None else sys.argv[1:]))
    info = {"date": today(), "git": git_revision(), "machine": machine(), "load": "%.2f/%.2f/%.2f" % load_average()}
    problems = load_problems()[: args.limit]
    mutants_of: dict[str, list[dict]] = {}
    for m in load_mutants(None):
        mutants_of.setdefault(m["task_id"], []).append(m)
    model = CachedModel(load_model(args.model), ResponseCache())
    config = OracleConfig(kinds=KINDS, candidates=args.candidates)
    figures = {KIND_OF_TALLY[k]: KindFigures() for k in KINDS}
    state = {"problems": 0, "mutants": 0, "hidden": 0, "pool": 0, "pool_of_hidden": 0, "beyond_hidden": 0, "calls": 0, "prompt": 0, "completion": 0, "model_s": 0.0,
             "per_problem_s": [], "killed_by": Counter(), "killed_of_hidden": Counter()}  # fmt: skip
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="assay-bench-oracles-") as scratch, Sandbox(workers=2) as sandbox:
        with Store(Path(scratch) / "s.sqlite") as store:
            for number, problem in enumerate(problems, 1):
                t0 = time.monotonic()
                built = build_pools([problem], sandbox=sandbox, store=store, config=config, model=model, benchmark="humaneval")
                pool = built.pools[problem.task_id]
                for kind, tally in built.tallies.items():
                    f = figures[KIND_OF_TALLY[kind]]
                    f.made += tally.kept + tally.discarded
                    f.kept += tally.kept
                    f.seconds += tally.seconds
                    f.reasons.update(tally.reasons)
                total = built.ledger.total
                state["calls"] += total.calls
                state["prompt"] += total.prompt_tokens
                state["completion"] += total.completion_tokens
                state["model_s"] += total.seconds
                score_problem(sandbox, problem, pool, mutants_of.get(problem.task_id, []), figures, state)
                state["problems"] += 1
                state["per_problem_s"].append(time.monotonic() - t0)
                print("%d/%d %s: %s; %.0f s" % (number, len(problems), problem.task_id, pool.counts(), time.monotonic() - started), flush=True)
                if not args.no_write:
                    write(command, info, args, figures, state, finished=False)
    print_summary(figures, state)
    if not args.no_write:
        write(command, info, args, figures, state, finished=True)
    return 0


def score_problem(sandbox: Sandbox, problem: Problem, pool: OraclePool, mutants: list[dict], figures: dict[str, KindFigures], state: dict) -> None:
    """False rejects of the canonical solution, then the mutants each kind kills."""
    trusted = oracles_of(pool)
    every = [Oracle(t.provenance.kind.value, t.test.name, test=t) for t in pool.tests]
    every += [Oracle("property", str(p.get("name")), prop=p) for p in pool.extras.get("property", [])]
    canonical_fails, inconclusive = failed(sandbox, problem, problem.reference, every)
    trusted_keys = {o.key for o in trusted}
    for kind in {o.kind for o in every}:
        f = figures.setdefault(kind, KindFigures())
        mine = [o for o in every if o.kind == kind]
        f.entries += len(mine)
        f.trusted += sum(o.key in trusted_keys for o in mine)
        f.rejects += sum(o.key in canonical_fails for o in mine)
        f.trusted_rejects += sum(o.key in canonical_fails and o.key in trusted_keys for o in mine)
        f.inconclusive += sum(o.key in inconclusive for o in mine)
        f.problems_with += any(o.key in trusted_keys for o in mine)
        for o in mine:
            if o.key in canonical_fails and len(f.reject_examples) < 6:
                f.reject_examples.append("%s %s%s" % (problem.task_id, o.name, " (trusted)" if o.key in trusted_keys else ""))
    sound = [o for o in trusted if o.key not in canonical_fails and o.key not in inconclusive]
    for m in mutants:
        program = m["solution"]
        hidden = not sandbox.run(problem, program).passed
        fails, _ = failed(sandbox, problem, program, sound)
        kinds = {o.kind for o in sound if o.key in fails}
        state["mutants"] += 1
        state["hidden"] += hidden
        state["pool"] += bool(kinds)
        state["pool_of_hidden"] += bool(kinds) and hidden
        state["beyond_hidden"] += bool(kinds) and not hidden
        for kind in kinds:
            state["killed_by"][kind] += 1
            state["killed_of_hidden"][kind] += hidden


def print_summary(figures: dict[str, KindFigures], state: dict) -> None:
    for kind, f in figures.items():
        print("%-10s made %d kept %d trusted %d rejects %d (trusted %d) inconclusive %d; kills %d (%d of hidden's)" % (
            kind, f.made, f.kept, f.trusted, f.rejects, f.trusted_rejects, f.inconclusive, state["killed_by"][kind], state["killed_of_hidden"][kind]))  # fmt: skip
    print(
        "mutants %d, hidden kills %d, pool kills %d (%d of hidden's: %s)" % (state["mutants"], state["hidden"], state["pool"], state["pool_of_hidden"], pct(state["pool_of_hidden"], state["hidden"]))
    )


def write(command: str, info: dict, args, figures: dict[str, KindFigures], state: dict, finished: bool) -> None:
    n = state["problems"]
    rows = []
    for kind, f in figures.items():
        rows.append([
            kind, f.made, f.kept, f.entries, f.trusted, "%d/%d" % (f.problems_with, n),
            "%d (%s)" % (f.rejects, pct(f.rejects, f.entries)), "%d (%s)" % (f.trusted_rejects, pct(f.trusted_rejects, f.trusted)),
            f.inconclusive if kind == "property" else "",
            "%d (%s of the hidden tests' kills)" % (state["killed_by"][kind], pct(state["killed_of_hidden"][kind], state["hidden"])), "%.1f" % (f.seconds / n if n else 0.0),
            "; ".join("%s (%d)" % (r, c) for r, c in f.reasons.most_common(2)),
        ])  # fmt: skip
    per = state["per_problem_s"]
    body = "\n".join([
        "## Model-written oracles on HumanEval (false rejects and mutants killed, per kind)",
        "",
        "Command: `%s`  " % command.strip(),
        "Date: %s, revision %s  " % (info["date"], info["git"]),
        "Machine: %s; load average %s at the start." % (info["machine"], info["load"]),
        "" if finished else "\n**Partial: the run was still going when this was written (%d of %d problems).**" % (n, args.limit),
        "",
        "Model `%s`, the first %d HumanEval problems, %d candidates sampled per problem for agreement. Each pool is built as a search builds it: "
        "no hidden tests, no reference. A search trusts tests at trust %.3f or more (examples, generated and stress tests every candidate agrees with) "
        "and properties at %.1f or more (the `pgs` preset's threshold). *Made* and *kept* count what the kind makes (properties; tests; stress-input generators); *in the pools* counts "
        "tests (properties for that kind), and false rejects are those the canonical solution fails. A mutant is killed by a kind when it fails one of that kind's trusted tests the canonical solution "
        "passes." % (args.model, n, args.candidates, TRUSTED, PROPERTY_TRUST),
        "",
        table(["kind", "made", "kept", "in the pools", "trusted by a search", "problems with a trusted one", "canonical fails (of kept)", "canonical fails (of trusted)",
               "properties inconclusive on canonical", "mutants killed", "seconds / problem", "top reasons for discarding"], rows),  # fmt: skip
        "",
        "| mutants | killed by the hidden tests | killed by the pool (trusted, canonical-passing) | of the hidden tests' kills | killed only by the pool |",
        "| ---: | ---: | ---: | ---: | ---: |",
        "| %d | %d | %d | **%d (%s)** (target ≥ 80%%) | %d |" % (state["mutants"], state["hidden"], state["pool"], state["pool_of_hidden"], pct(state["pool_of_hidden"], state["hidden"]), state["beyond_hidden"]),
        "",
        "Cost per problem: %.1f model calls, %.0f completion tokens, %.0f s of model time; %.0f s in all (median %.0f s), on a machine shared with other benches."
        % (state["calls"] / max(n, 1), state["completion"] / max(n, 1), state["model_s"] / max(n, 1), sum(per) / max(n, 1), statistics.median(per) if per else 0.0),
        "",
        "False rejects (first few per kind): " + "; ".join("%s: %s" % (k, ", ".join(f.reject_examples)) for k, f in figures.items() if f.reject_examples) if any(f.reject_examples for f in figures.values()) else "No false rejects.",
    ])  # fmt: skip
    replace_section("oracles-model", body)


if __name__ == "__main__":
    sys.exit(main())
