"""Model-written input/output tests, weighed by agreement among candidates (CodeT's dual agreement).

A model writes ``assert f(...) == ...`` lines from the problem's prompt;
they are parsed with :mod:`ast` and :func:`ast.literal_eval` only (nothing
the model wrote is run outside the sandbox). Then:

* every candidate program runs on every distinct generated input, in the
  sandbox (``run_calls``; plain data back);
* candidates are **clustered** by identical behaviour on those inputs (the
  same plain-data output, or the same exception type, or the same way of
  ending, on every input);
* each cluster ``c`` is **scored** ``score(c) = |c| * |T(c)|``: its number of
  candidates times the number of generated tests it passes (CodeT);
* each test ``t`` gets the **trust** ``trust(t) = sum(|c| * score(c) for
  clusters c that pass t) / sum(|c| * score(c) for all clusters)``: the share
  of candidates, each weighed by its cluster's score, whose output satisfies
  it (0 when no cluster passes any test). A test only a minority cluster
  satisfies therefore has little trust; one no candidate satisfies has
  trust 0 and is discarded with its reason.

Inputs are kept even when outputs are doubtful: every distinct generated
input (positional arguments only) goes to ``pool.inputs``, where
differential testing finds it; only inputs on which the reference (where
the caller gives one) raises are left out, as outside the specification.

With a reference in the context, the reference decides instead: a test it
passes has trust 1.0, one it fails is discarded. With neither a reference
nor candidates, tests are kept with trust 0.0, noted as unweighed.

:func:`rank_candidates` gives the clusters with their scores, best first, for
CodeT-style reranking in a search.
"""

from __future__ import annotations

import ast
import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from assay import pyast
from assay.models.base import Message
from assay.models.extract import clean_reply, find_fenced_blocks
from assay.oracles import OracleContext
from assay.oracles.pool import OracleKind, OracleTest, Provenance
from assay.plugins import hookimpl
from assay.problems.model import CallTest, Problem, Trust
from assay.sandbox import Call, InfraError, Sandbox, compare_output
from assay.sandbox.compare import short_repr, values_equal
from assay.sandbox.harness import codec

SYSTEM_PROMPT = "You are an expert Python tester. Reply with one Python code block."
USER_TEMPLATE = """Write {count} test cases for the function `{entry}` below, from its specification alone. Do not implement it.

```python
{prompt}
```

Reply with one ```python block holding only lines of the form

assert {entry}(<arguments>) == <expected value>

one per line, with literal arguments and expected values only (numbers, strings, lists, tuples, dicts, sets, True, False, None). Cover typical cases and edge cases (empty, smallest, largest, duplicates) that the specification allows."""

APPROX_REL = 1e-6
APPROX_ABS = 1e-9


@dataclass(frozen=True)
class GeneratedTest:
    """One parsed ``assert`` line: the call's arguments and what it should give."""

    args: tuple
    expected: Any = None
    kwargs: dict = field(default_factory=dict)
    comparison: str = "exact"  # exact | approx (floats) | truthy (``assert f(x)``) | falsy (``assert not f(x)``)
    source: str = ""  # the assert as the model wrote it

    def call_test(self, name: str, function: str | None = None) -> CallTest:
        tolerant = self.comparison == "approx"
        return CallTest(
            name=name, args=self.args, expected=self.expected, kwargs=dict(self.kwargs), comparison=self.comparison,
            abs_tol=APPROX_ABS if tolerant else 0.0, rel_tol=APPROX_REL if tolerant else 0.0, function=function,
            hidden=False, trust=Trust.GENERATED,
        )  # fmt: skip


# ---------------------------------------------------------------- prompting and parsing


def generated_messages(problem: Problem, count: int = 10) -> list[Message]:
    """The request for ``count`` input/output tests of ``problem``'s function, from its prompt alone."""
    user = USER_TEMPLATE.format(count=count, entry=problem.entry_point, prompt=problem.prompt.rstrip())
    return [Message.system(SYSTEM_PROMPT), Message.user(user)]


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_float(v) for v in value)
    return False


def _call_parts(node: ast.expr, entry_point: str) -> tuple[tuple, dict] | str:
    """The literal arguments of ``entry_point(...)``, or why not."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry_point):
        return "not a call of %s" % entry_point
    args = []
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            return "starred argument %s" % ast.unparse(arg)
        try:
            args.append(pyast.literal_eval(arg))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return "argument is not a literal: %s" % ast.unparse(arg)[:120]
    kwargs = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            return "** argument %s" % ast.unparse(keyword.value)[:120]
        try:
            kwargs[keyword.arg] = pyast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return "argument is not a literal: %s" % ast.unparse(keyword.value)[:120]
    return tuple(args), kwargs


def _literal(node: ast.expr) -> tuple[bool, Any]:
    try:
        return True, pyast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def parse_assert(statement: ast.Assert, entry_point: str) -> GeneratedTest | str:
    """One test from ``assert f(...) == value`` (either side), ``is None/True/False``, ``assert f(...)``, ``assert not f(...)``; else why not."""
    source = ast.unparse(statement)
    test = statement.test
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        parts = _call_parts(test.operand, entry_point)
        return parts if isinstance(parts, str) else GeneratedTest(parts[0], None, parts[1], "falsy", source)
    if isinstance(test, ast.Call):
        parts = _call_parts(test, entry_point)
        return parts if isinstance(parts, str) else GeneratedTest(parts[0], None, parts[1], "truthy", source)
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and len(test.comparators) == 1):
        return "not of the form assert %s(...) == <value>" % entry_point
    op, left, right = test.ops[0], test.left, test.comparators[0]
    if isinstance(op, ast.Is):
        if not (isinstance(right, ast.Constant) and right.value in (None, True, False)):
            return "'is' compares with something other than None, True or False"
    elif not isinstance(op, ast.Eq):
        return "compares with %s, not ==" % type(op).__name__
    if not isinstance(left, ast.Call) and isinstance(right, ast.Call):
        left, right = right, left
    parts = _call_parts(left, entry_point)
    if isinstance(parts, str):
        return parts
    ok, expected = _literal(right)
    if not ok:
        return "expected value is not a literal: %s" % ast.unparse(right)[:120]
    return GeneratedTest(parts[0], expected, parts[1], "approx" if _has_float(expected) else "exact", source)


def _statements(code: str) -> list[ast.stmt] | str:
    try:
        return pyast.parse(code).body
    except SyntaxError as error:
        whole = "%s (line %s)" % (error.msg, error.lineno)
    # one bad line must not lose the others: each line that starts an assert, alone
    found: list[ast.stmt] = []
    for line in code.splitlines():
        if line.strip().startswith("assert"):
            try:
                found.extend(pyast.parse(line.strip()).body)
            except SyntaxError:
                continue
    return found if found else "not valid Python: %s" % whole


def parse_tests(reply: str, entry_point: str) -> tuple[list[GeneratedTest], list[tuple[str, str]]]:
    """The tests in a model's reply, and what was discarded as ``(what, reason)``; duplicates dropped."""
    text = clean_reply(reply)
    blocks = [b.code for b in find_fenced_blocks(text) if b.tag in ("", "python", "py", "python3", "py3")]
    code = "\n".join(blocks) if blocks else text
    statements = _statements(code)
    if isinstance(statements, str):
        return [], [("reply", statements if blocks else "no assert %s(...) == ... lines in the reply" % entry_point)]
    tests: list[GeneratedTest] = []
    discarded: list[tuple[str, str]] = []
    for statement in statements:
        if not isinstance(statement, ast.Assert):
            continue
        parsed = parse_assert(statement, entry_point)
        if isinstance(parsed, str):
            discarded.append((ast.unparse(statement)[:200], parsed))
        elif not any(_same_test(parsed, seen) for seen in tests):
            tests.append(parsed)
    if not tests and not discarded:
        discarded.append(("reply", "no assert %s(...) == ... lines in the reply" % entry_point))
    return tests, discarded


def _same_test(a: GeneratedTest, b: GeneratedTest) -> bool:
    return a.comparison == b.comparison and same_value(a.args, b.args) and same_value(a.kwargs, b.kwargs) and same_value(a.expected, b.expected)


def same_value(a: Any, b: Any) -> bool:
    """Equal plain data (NaN equal to NaN, opaque values by type and repr): the equality behaviour clusters use."""
    if values_equal(a, b) and type(a) is type(b):
        return True
    try:
        return codec.encode(a) == codec.encode(b)
    except codec.Unencodable:
        return False


# ---------------------------------------------------------------- agreement


@dataclass(frozen=True)
class Behaviour:
    """A program on one input: ``kind`` is ``ok`` (with its plain-data ``value``), ``raised`` (``detail``: the exception type), or how the call ended (``timeout``, ``crash``, ``load-error``, ``not-run``...)."""

    kind: str
    value: Any = None
    detail: str = ""

    def same(self, other: "Behaviour") -> bool:
        if self.kind != other.kind:
            return False
        if self.kind == "ok":
            return same_value(self.value, other.value)
        return self.detail == other.detail

    def describe(self) -> str:
        if self.kind == "ok":
            return "returns %s" % short_repr(self.value)
        return "%s %s" % (self.kind, self.detail) if self.detail else self.kind


@dataclass(frozen=True)
class Cluster:
    """Candidates that behave identically on every generated input."""

    members: tuple[int, ...]  # indices into the candidates
    behaviour: tuple[Behaviour, ...]  # one per input
    passed: tuple[int, ...]  # indices of the tests the cluster passes
    score: float  # len(members) * len(passed)

    @property
    def size(self) -> int:
        return len(self.members)


@dataclass(frozen=True)
class Agreement:
    """Clusters (best first) and each test's trust, from candidates run on the tests' inputs."""

    clusters: list[Cluster]
    trust: list[float]  # per test, in the tests' order
    inputs: list[tuple[tuple, dict]]  # distinct (args, kwargs), in first-seen order
    input_of_test: list[int]

    def supporters(self, test_index: int) -> list[Cluster]:
        return [c for c in self.clusters if test_index in c.passed]


def distinct_inputs(tests: Sequence[CallTest]) -> tuple[list[tuple[tuple, dict]], list[int]]:
    """The distinct (args, kwargs) of ``tests``, and for each test the index of its input."""
    inputs: list[tuple[tuple, dict]] = []
    index_of: list[int] = []
    for test in tests:
        for i, (args, kwargs) in enumerate(inputs):
            if same_value(args, tuple(test.args)) and same_value(kwargs, dict(test.kwargs)):
                index_of.append(i)
                break
        else:
            inputs.append((tuple(test.args), dict(test.kwargs)))
            index_of.append(len(inputs) - 1)
    return inputs, index_of


def behaviours_of(sandbox: Sandbox, program: str, function: str, inputs: Sequence[tuple[tuple, dict]]) -> list[Behaviour]:
    """``program`` alone on each input, in the sandbox (one session)."""
    if not inputs:
        return []
    try:
        batch = sandbox.run_calls(program, [Call(function, args, kwargs) for args, kwargs in inputs])
    except InfraError as error:
        return [Behaviour("infra-error", detail=str(error)[:200])] * len(inputs)
    if not batch.loaded:
        return [Behaviour("load-error", detail=batch.load.exception_type or batch.load.status)] * len(inputs)
    return behaviours_in(batch, len(inputs))


def behaviours_in(batch, count: int, *, detailed: bool = False) -> list[Behaviour]:
    """A :class:`Behaviour` per call of a loaded batch (``not-run`` past its replies); ``detailed`` keeps messages."""
    found = []
    for index in range(count):
        reply = batch.replies[index] if index < len(batch.replies) else None
        if reply is None:
            found.append(Behaviour("not-run"))
        elif reply.status == "ok":
            found.append(Behaviour("ok", reply.value))
        elif reply.status == "exception":
            found.append(Behaviour("raised", detail="%s: %s" % (reply.exception_type, (reply.message or "")[:200]) if detailed else reply.exception_type or ""))
        else:
            found.append(Behaviour(reply.status, detail=(reply.message or "")[:200] if detailed else ""))
    return found


def behaviours_of_all(sandbox: Sandbox, programs: Sequence[str], function: str, inputs: Sequence[tuple[tuple, dict]]) -> list[list[Behaviour]]:
    """:func:`behaviours_of` for each program, as many at once as the sandbox has workers."""
    if len(programs) <= 1:
        return [behaviours_of(sandbox, program, function, inputs) for program in programs]
    with ThreadPoolExecutor(max_workers=min(len(programs), sandbox.size), thread_name_prefix="assay-agreement") as pool:
        return list(pool.map(lambda program: behaviours_of(sandbox, program, function, inputs), programs))


def passes(problem: Problem, test: CallTest, behaviour: Behaviour) -> bool:
    """Does this behaviour pass the test, by the comparison the judge uses?"""
    return behaviour.kind == "ok" and compare_output(problem, test, behaviour.value)[0]


def dual_agreement(problem: Problem, tests: Sequence[CallTest], behaviours: Sequence[Sequence[Behaviour]], input_of_test: Sequence[int] | None = None) -> Agreement:
    """Cluster candidates by behaviour and weigh tests (CodeT), from behaviours already observed.

    ``behaviours[k][i]``: candidate ``k`` on input ``i``; ``input_of_test[j]``:
    the input of test ``j`` (default: test ``j`` has input ``j``). See the
    module's docstring for the formulas.
    """
    input_of_test = list(input_of_test) if input_of_test is not None else list(range(len(tests)))
    groups: list[list[int]] = []
    for k, row in enumerate(behaviours):
        for group in groups:
            first = behaviours[group[0]]
            if len(first) == len(row) and all(a.same(b) for a, b in zip(first, row)):
                group.append(k)
                break
        else:
            groups.append([k])
    clusters = []
    for group in groups:
        row = tuple(behaviours[group[0]])
        passed = tuple(j for j, test in enumerate(tests) if passes(problem, test, row[input_of_test[j]]))
        clusters.append(Cluster(tuple(group), row, passed, float(len(group) * len(passed))))
    clusters.sort(key=lambda c: (-c.score, -c.size, c.members[0]))
    total = sum(c.size * c.score for c in clusters)
    trust = [(sum(c.size * c.score for c in clusters if j in c.passed) / total) if total > 0 else 0.0 for j in range(len(tests))]
    inputs = [((), {})] * (max(input_of_test) + 1 if input_of_test else 0)
    for j, test in enumerate(tests):
        inputs[input_of_test[j]] = (tuple(test.args), dict(test.kwargs))
    return Agreement(clusters, trust, inputs, input_of_test)


def _as_call_tests(tests: Sequence[CallTest | OracleTest | GeneratedTest]) -> list[CallTest]:
    out = []
    for j, test in enumerate(tests):
        if isinstance(test, OracleTest):
            out.append(test.test)
        elif isinstance(test, GeneratedTest):
            out.append(test.call_test("generated/%d" % j))
        else:
            out.append(test)
    return out


def agreement(sandbox: Sandbox, problem: Problem, candidates: Sequence[str], tests: Sequence[CallTest | OracleTest | GeneratedTest]) -> Agreement:
    """Run every candidate on every distinct input of ``tests`` (in the sandbox) and weigh them (:func:`dual_agreement`)."""
    calls = _as_call_tests(tests)
    inputs, input_of_test = distinct_inputs(calls)
    function = problem.entry_point
    behaviours = behaviours_of_all(sandbox, candidates, function, inputs)
    found = dual_agreement(problem, calls, behaviours, input_of_test)
    return Agreement(found.clusters, found.trust, inputs, input_of_test)


def rank_candidates(sandbox: Sandbox, problem: Problem, candidates: Sequence[str], tests: Sequence[CallTest | OracleTest | GeneratedTest]) -> list[Cluster]:
    """The candidates' clusters with their CodeT scores, best first (ties: the larger, then the earlier)."""
    return agreement(sandbox, problem, candidates, tests).clusters


# ---------------------------------------------------------------- building a pool


class GeneratedOracle:
    """Asks the model for input/output tests and weighs them by agreement (or by the reference, where given)."""

    kind = OracleKind.GENERATED

    def __init__(self, count: int = 10) -> None:
        self.count = count

    async def build(self, context: OracleContext) -> None:
        if context.model is None:
            return
        problem, pool = context.problem, context.pool
        completions, provenance = await context.ask(generated_messages(problem, self.count), OracleKind.GENERATED)
        tests: list[GeneratedTest] = []
        for completion in completions:
            parsed, discarded = parse_tests(completion.text, problem.entry_point)
            for what, reason in discarded:
                pool.discard(OracleKind.GENERATED, what, reason)
            tests.extend(t for t in parsed if not any(_same_test(t, seen) for seen in tests))
        if not tests:
            return
        await asyncio.to_thread(self._weigh, context, tests, provenance)

    def _weigh(self, context: OracleContext, generated: list[GeneratedTest], provenance: Provenance) -> None:
        problem, pool = context.problem, context.pool
        start = len(pool.of_kind(OracleKind.GENERATED))
        tests = [t.call_test("generated/%d" % (start + j)) for j, t in enumerate(generated)]
        inputs, input_of_test = distinct_inputs(tests)
        if context.reference is not None:
            reference = behaviours_of(context.sandbox, context.reference, problem.entry_point, inputs)
            outside = {i for i, b in enumerate(reference) if b.kind != "ok"}
            self._keep_inputs(pool, [args for i, (args, kwargs) in enumerate(inputs) if not kwargs and i not in outside])
            for j, test in enumerate(tests):
                behaviour = reference[input_of_test[j]]
                if behaviour.kind != "ok":
                    pool.discard(OracleKind.GENERATED, generated[j].source, "the reference does not answer on this input (%s): outside the specification?" % behaviour.describe())
                    continue
                ok, difference = compare_output(problem, test, behaviour.value)
                if not ok:
                    pool.discard(OracleKind.GENERATED, generated[j].source, "fails the reference: %s" % difference)
                    continue
                pool.add(OracleTest(test, provenance, 1.0, "the reference passes it"))
            return
        self._keep_inputs(pool, [args for args, kwargs in inputs if not kwargs])
        if not context.candidates:
            for test in tests:
                pool.add(OracleTest(test, provenance, 0.0, "unweighed: no candidates and no reference"))
            return
        behaviours = behaviours_of_all(context.sandbox, context.candidates, problem.entry_point, inputs)
        found = dual_agreement(problem, tests, behaviours, input_of_test)
        n = len(context.candidates)
        for j, test in enumerate(tests):
            supporters = found.supporters(j)
            if found.trust[j] <= 0.0:
                outputs = sorted({c.behaviour[input_of_test[j]].describe() for c in found.clusters})[:3]
                pool.discard(OracleKind.GENERATED, generated[j].source, "no candidate satisfies it (candidates: %s); its input is kept in pool.inputs" % "; ".join(outputs))
                continue
            count = sum(c.size for c in supporters)
            note = "%d of %d candidates (%d of %d clusters) satisfy it; trust = their share weighted by cluster score" % (count, n, len(supporters), len(found.clusters))
            pool.add(OracleTest(test, provenance, round(found.trust[j], 6), note))

    @staticmethod
    def _keep_inputs(pool: Any, inputs: list[tuple]) -> None:
        for args in inputs:
            if not any(same_value(args, kept) for kept in pool.inputs):
                pool.inputs.append(args)


@hookimpl
def register_oracles(register: Callable[..., None]) -> None:
    register("generated", GeneratedOracle(), "model-written input/output tests, trusted by CodeT dual agreement among candidates")


__all__ = [
    "Agreement", "Behaviour", "Cluster", "GeneratedOracle", "GeneratedTest", "agreement", "behaviours_of", "behaviours_of_all", "distinct_inputs",
    "dual_agreement", "generated_messages", "parse_assert", "parse_tests", "passes", "rank_candidates", "same_value",
]  # fmt: skip
