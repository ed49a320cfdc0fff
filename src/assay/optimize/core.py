"""Make one function of a user's module faster, with evidence that its behaviour is unchanged.

:func:`optimize_function` gathers inputs (the tests file's calls and
asserts, the function's doctests, values Hypothesis draws from the argument
types seen), runs the ``optimize`` search from the module as it is
(:class:`assay.search.efficiency.OptimizeSearch`: the model's faster
versions, each spliced into the module and kept only if its behaviour is the
original's on every input, on the checks and on differential inputs), and
measures the fastest kept version against the original on the meter.
"""

from __future__ import annotations

import ast
import asyncio
import difflib
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from assay import pyast
from assay.models.accounting import Ledger, MeteredModel
from assay.models.base import GenerationParams, Model
from assay.models.extract import program_from_reply
from assay.optimize.module import Module, TestInputs, bound_names, splice
from assay.oracles.differential import Generator, infer_shapes, shapes_from_signature
from assay.oracles.examples import _expected_test, example_tests, extract_examples
from assay.oracles.pool import OracleKind, OraclePool, OracleTest, Provenance
from assay.problems.model import CallTest, Problem, Trust
from assay.search.efficiency import EfficiencyPreset, Equivalence, Judged, OptimizeSearch, Speedup, compare_costs
from assay.search.value import _distinct
from assay.solve import SolveTask


class ModuleDoesNotLoad(Exception):
    """The module fails to load in the sandbox (an import of a sibling module, a missing package)."""


class CannotMeasure(Exception):
    """The meter cannot measure here (valgrind missing for ``instructions``) or the sandbox failed while measuring."""


@dataclass
class Inputs:
    """Where the inputs came from, counted."""

    doctests: int = 0
    asserts: int = 0
    calls: int = 0
    generated: int = 0
    shapes: str = ""
    skipped: list[str] = field(default_factory=list)
    properties: list[str] = field(default_factory=list)  # model-written properties the original holds (checks)


@dataclass
class Outcome:
    module: Module
    meter: str
    inputs: Inputs
    best: str  # the module with the fastest kept version (the original when none was kept)
    region: str | None  # the new text of the function's lines, when one was kept
    speedup: Speedup | None
    evidence: Equivalence | None  # the gate's verdict on the best version
    checks: tuple[int, int] = (0, 0)  # checks the best passes, of all
    compared_inputs: int = 0  # inputs compared directly (pool and larger ones)
    judged: list[Judged] = field(default_factory=list)
    calls: int = 0
    tokens: int = 0
    sandbox_runs: int = 0
    seconds: float = 0.0

    @property
    def improved(self) -> bool:
        return self.region is not None

    def diff(self) -> str:
        path = str(self.module.path)
        return "".join(difflib.unified_diff(self.module.source.splitlines(keepends=True), self.best.splitlines(keepends=True), path, path + " (faster)"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": "%s::%s" % (self.module.path, self.module.name), "improved": self.improved, "meter": self.meter,
            "speedup": self.speedup.to_dict() if self.speedup else None, "confidence": self.speedup.confidence() if self.speedup else None,
            "diff": self.diff(), "evidence": self.evidence.to_dict() if self.evidence else None, "checks": list(self.checks),
            "inputs": {"doctests": self.inputs.doctests, "asserts": self.inputs.asserts, "calls": self.inputs.calls, "generated": self.inputs.generated,
                       "compared": self.compared_inputs, "shapes": self.inputs.shapes},
            "candidates": [{"kept": j.kept, "outcome": j.outcome, "reason": j.reason, "speedup": j.speedup} for j in self.judged],
            "spent": {"calls": self.calls, "tokens": self.tokens, "sandbox_runs": self.sandbox_runs, "seconds": round(self.seconds, 3)},
        }  # fmt: skip


def build_pool(module: Module, problem: Problem, tests: TestInputs | None, generated: int, seed: int) -> tuple[OraclePool, Inputs]:
    """The doctests and the tests file's asserts as checks (trust 1.0); their inputs, the plain calls and generated values as inputs."""
    pool = OraclePool(problem.task_id)
    counts = Inputs()
    seen = set()
    for source in (problem, module_doc_problem(module, problem)):
        if source is None:
            continue
        for test in example_tests(source, extract_examples(source)):
            key = repr((test.test.args, test.test.expected))
            if not test.test.kwargs and key not in seen:
                seen.add(key)
                pool.add(replace(test, test=replace(test.test, name="doctest_%d" % len(seen))))
                counts.doctests += 1
    if tests is not None:
        for number, (args, expected, text) in enumerate(tests.expected):
            comparison, abs_tol, rel_tol = _expected_test(expected)
            call = CallTest("tests_%d" % number, args, expected, comparison=comparison, abs_tol=abs_tol, rel_tol=rel_tol, hidden=False, trust=Trust.GIVEN)
            pool.add(OracleTest(call, Provenance(OracleKind.EXAMPLE, "tests-file"), 1.0, text))
            counts.asserts += 1
        pool.inputs.extend(tests.calls)
        counts.calls = len(_distinct(list(tests.calls)))
        counts.skipped = list(tests.skipped)
    seeds = _distinct([t.test.args for t in pool.tests] + list(pool.inputs))
    shapes = infer_shapes(seeds) or shapes_from_signature(module.source, module.name) or []
    counts.shapes = ", ".join(s.describe() for s in shapes) or "no arguments"
    if generated > 0 and shapes:
        generator = Generator(shapes, random.Random(seed))
        try:
            drawn = generator.hypothesis_inputs(generated, seed)
        except Exception:  # noqa: BLE001 - Hypothesis refusing a strategy: random values instead
            drawn = []
        drawn += [generator.random_input() for _ in range(generated)]
        known = len(seeds)
        merged = _distinct(seeds + drawn)
        fresh = merged[known : known + generated]
        pool.inputs.extend(fresh)
        counts.generated = len(fresh)
    elif not shapes and not seeds:
        pool.inputs.append(())  # a function of no arguments: one call
    return pool, counts


def module_doc_problem(module: Module, problem: Problem) -> Problem | None:
    """The module's docstring as if it were the function's, for its ``>>> function(...)`` examples; None without one."""
    try:
        doc = ast.get_docstring(pyast.parse(module.source), clean=False)
    except SyntaxError:
        return None
    if not doc or ">>>" not in doc:
        return None
    body = "\n".join("    " + line for line in doc.replace('"""', "'''").splitlines())
    return replace(problem, prompt='def %s(*args):\n    """\n%s\n    """\n' % (module.name, body))


def check_loads(sandbox: Any, module: Module) -> None:
    batch = sandbox.run_calls(module.source, [])
    if not batch.loaded:
        load = batch.load
        raise ModuleDoesNotLoad("%s does not load in the sandbox: %s%s" % (module.path, (load.exception_type + ": ") if load.exception_type else "", load.message or load.status))


def optimize_function(module: Module, model: Model, sandbox: Any, *, tests: TestInputs | None = None, meter: str = "instructions", rounds: int = 3,
                      samples: int = 1, generated: int = 30, seed: int = 0, repeats: int = 7, differential_budget: int = 200, temperature: float = 0.0,
                      max_tokens: int = 1024, call_cpu_seconds: float = 1.0, cost_inputs: int = 6, properties: int = 0) -> Outcome:  # fmt: skip
    """Ask ``model`` for faster versions of ``module``'s function; keep those that behave as the original; measure the fastest.

    ``properties``: ask the model for this many Hypothesis properties of the
    function first (:class:`assay.oracles.properties.PropertyOracle`); those
    the original holds, and that reject trivially wrong programs, become
    checks every faster version must pass too.
    """
    problem = Problem("%s::%s" % (module.path.name, module.name), module.header, module.name, tests=())
    pool, counts = build_pool(module, problem, tests, generated, seed)
    check_loads(sandbox, module)
    regions: dict[str, str] = {}

    def make_program(reply: str) -> str | None:
        program, _ = program_from_reply(reply, problem)
        spliced = splice(module, program)
        if spliced is None:
            return None
        regions[spliced[0]] = spliced[1]
        return spliced[0]

    others = sorted(n for n in bound_names(module.source) if n != module.name and not n.startswith("__"))

    def present(program: str) -> str:
        """The function alone (a small model shown a whole module tends to echo it), and the module's names it may use."""
        region = regions.get(program, module.function)
        return region.rstrip("\n") + ("\n\n# other names defined or imported by its module: %s" % ", ".join(others) if others else "")

    preset = EfficiencyPreset("assay-optimize", "assay optimize: faster versions kept only if behaviour is unchanged", meter=meter, rounds=rounds,
                              branching=samples, expand_temperature=temperature, max_tokens=max_tokens, max_calls=rounds, max_sandbox_runs=None,
                              differential_budget=differential_budget, call_cpu_seconds=call_cpu_seconds, max_cost_inputs=cost_inputs,
                              repeats=1 if meter == "instructions" else 3, min_gain=0.02 if meter == "instructions" else 0.05)  # fmt: skip
    ledger = Ledger()
    task = SolveTask(problem, MeteredModel(model, ledger), GenerationParams(temperature=temperature, max_tokens=max_tokens, seed=seed), 1, sandbox=sandbox)
    if properties > 0:
        from assay.oracles import OracleContext
        from assay.oracles.properties import PropertyOracle

        context = OracleContext(problem, sandbox, pool, model=task, params=GenerationParams(temperature=0.0, max_tokens=max_tokens, seed=seed), reference=module.source, seed=seed)
        asyncio.run(PropertyOracle(count=properties).build(context))
        counts.properties = [str(p.get("name")) for p in pool.extras.get("property", [])]
        counts.skipped += ["property %s: %s" % (d.what, d.reason) for d in pool.discarded if d.kind is OracleKind.PROPERTY]
    search = OptimizeSearch(preset, task, start=module.source, pool=pool, make_program=make_program, task_text="", present=present)
    result = asyncio.run(search.run())
    if search.measure_error:
        raise CannotMeasure(search.measure_error)
    best = search.answer()
    start = search.start_node
    outcome = Outcome(module, search.meter.name, counts, module.source, None, None, None, judged=search.judged, compared_inputs=len(search.compare_inputs))
    outcome.calls, outcome.tokens, outcome.seconds = ledger.total.calls, ledger.total.completion_tokens + ledger.total.prompt_tokens, result.spent.seconds
    if best is not None and best.check is not None:
        outcome.checks = (best.check.passed, best.check.total)
    if best is not None and start is not None and best is not start:
        outcome.best = best.content
        outcome.region = regions.get(best.content)
        outcome.evidence = next((j.equivalence for j in search.judged if j.node is best), None)
        if search.meter.deterministic:
            outcome.speedup = exact_speedup(search, start.content, best.content)
        else:
            outcome.speedup = compare_costs(sandbox, search.meter, start.content, best.content, module.name, search.cost_inputs, repeats=repeats)
    elif start is not None:
        outcome.evidence = None
    outcome.sandbox_runs = result.spent.sandbox_runs
    return outcome


def exact_speedup(search: OptimizeSearch, base: str, new: str) -> Speedup:
    a, b = search.costs[base], search.costs[new]
    common = [i for i in a.measured if b.per_input[i] is not None]
    base_total = sum(a.per_input[i] or 0.0 for i in common)
    new_total = sum(b.per_input[i] or 0.0 for i in common)
    ratio = base_total / new_total if new_total > 0 else float("inf")
    return Speedup(ratio, ratio, ratio, a.meter, a.unit, True, 1, base_total, new_total, len(common))


def evidence_lines(outcome: Outcome) -> list[str]:
    """The evidence that the kept version behaves as the original, one line per kind."""
    counts = outcome.inputs
    sources = []
    if counts.doctests:
        sources.append("%d from the doctests" % counts.doctests)
    if counts.asserts or counts.calls:
        sources.append("%d from the tests file (%d with expected values)" % (counts.asserts + counts.calls, counts.asserts))
    if counts.generated:
        sources.append("%d drawn from the argument types seen (%s)" % (counts.generated, counts.shapes))
    lines = []
    evidence = outcome.evidence
    if evidence is not None:
        larger = max(0, outcome.compared_inputs - (counts.doctests + counts.asserts + counts.calls + counts.generated))
        lines.append("inputs: %s%s; the same value, exception and arguments after the call on all %d compared%s" % (
            ", ".join(sources) or "none given", ", %d larger versions of them" % larger if larger else "", evidence.inputs,
            " (%d where the original timed out left out)" % evidence.skipped if evidence.skipped else ""))  # fmt: skip
        diff = evidence.differential
        if diff is not None:
            lines.append("differential: %s" % diff.summary())
        lines.append("checks: passes %d of %d (doctests, the tests file's asserts%s), as the original does" % (
            *outcome.checks, ", properties %s" % ", ".join(counts.properties) if counts.properties else ""))  # fmt: skip
        lines.append("properties held: %s" % "; ".join(evidence.properties))
    else:
        lines.append("inputs: %s" % (", ".join(sources) or "none given"))
    return lines


def summary_lines(outcome: Outcome) -> Sequence[str]:
    kept = sum(j.kept for j in outcome.judged)
    why_not = Counter(j.outcome for j in outcome.judged if not j.kept)
    lines = ["candidates: %d from the model, %d kept, %d rejected%s" % (len(outcome.judged), kept, len(outcome.judged) - kept,
                                                                       " (%s)" % ", ".join("%s %d" % kv for kv in why_not.most_common()) if why_not else "")]  # fmt: skip
    for number, judged in enumerate(outcome.judged, 1):
        lines.append("  #%d %s" % (number, judged.reason.replace("\n", "\n     ")))
    lines.append("model: %d calls, %d tokens; %d sandbox runs; %.1f s" % (outcome.calls, outcome.tokens, outcome.sandbox_runs, outcome.seconds))
    return lines
