"""Property oracles: a model writes Hypothesis properties from the specification; the sandbox runs them; the supervisor decides.

A *property* is a pair of functions the model writes from the problem's
prompt alone (never from a solution)::

    def strategy_nonnegative():          # a Hypothesis strategy for the arguments
        return st.tuples(st.integers(0, 50))

    def property_nonnegative(args, output):   # a predicate over (arguments, output)
        assert output >= 0                     # (or: return a bool)

Replies are parsed with :mod:`ast` only; nothing a model wrote runs outside
the sandbox.

**Who decides.** Checking a program against a property
(:func:`check_property`) uses three kinds of sandboxed session, and the
verdict rests only on the last two:

1. *combined* (one process: the program, the property, Hypothesis searching
   and shrinking with ``derandomize=True, database=None, deadline=None``,
   bounded examples and shrinking time). Its answer (passed, or a shrunk
   counterexample) is a *claim*: the program shares the process and could
   patch Hypothesis, ``builtins`` or the reply channel.
2. *program alone*: the program on the claimed counterexample and on the
   examples the strategy draws when it runs alone (a session holding only
   the strategy, same derandomized settings, drawn once and kept in the
   pool); its replies are plain data, as in judging.
3. *predicate alone*: a session holding only the property's code, given
   each (arguments, output) pair as plain data.

A counterexample counts only when (2) and (3) confirm it: the program,
alone, raises, fails to answer, or gives an output that the predicate,
alone, rejects. A pass counts only when every drawn example holds in (2)
and (3). What the combined process says is never the verdict; at best it
supplies the shrunk arguments that (2) and (3) then confirm.

**Building a pool** (:class:`PropertyOracle`): every property is drawn from
(strategy alone), then discarded with its reason when it cannot run, fails
the reference (where the caller gives one), or holds for a trivially wrong
program (``return None``, ``return 0``, returning the first argument). The
kept ones go to ``pool.extras["property"]`` as plain dicts (``name``,
``source``, ``provenance``, ``trust``, ``note``, ``examples``) that
:func:`check_property` takes.

A property is itself model-written code, so the oracle trusts a property
only as far as validation shows: code in the predicate's session could
answer "holds" for everything (by returning True, or by writing forged
replies), but such a property also holds for ``return None`` and is
discarded. A hostile property gains nothing else: it runs only in the
sandbox, under the sandbox's limits.
"""

from __future__ import annotations

import ast
import asyncio
import copy
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from assay import pyast
from assay.models.base import Message
from assay.models.extract import clean_reply, find_fenced_blocks
from assay.oracles import OracleContext
from assay.oracles.pool import OracleKind
from assay.plugins import hookimpl
from assay.problems.model import Problem
from assay.problems.prompt import entry_arity
from assay.sandbox import Call, InfraError, Limits, Sandbox, wall_for_cpu
from assay.sandbox.compare import short_repr, values_equal
from assay.sandbox.harness import codec
from assay.sandbox.harness.codec import Opaque

RUNNER_SOURCE = (Path(__file__).with_name("_property_runner.py")).read_text(encoding="utf-8")
HEADER = "from hypothesis import strategies as st\n"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

SYSTEM_PROMPT = "You are an expert in property-based testing with Python and Hypothesis. Reply with one Python code block."
USER_TEMPLATE = """Write {count} properties that every correct implementation of the function `{entry}` must satisfy, from its specification alone. Do not implement `{entry}` and do not call it.

```python
{prompt}
```

Reply with one ```python block. For each property NAME (a short snake_case name) define exactly two functions:

def strategy_NAME():
    # a Hypothesis strategy for the positional arguments of {entry}, drawing a tuple
    return st.tuples(st.integers(min_value=0, max_value=20))

def property_NAME(args, output):
    # args: the tuple of arguments; output: what {entry}(*args) returned
    assert ...  # or return True / False

`st` is hypothesis.strategies, already imported. Draw only inputs the specification allows, keep them small, and use plain values only (numbers, strings, lists, tuples, dicts, sets). Each property must hold for every correct implementation and fail for wrong ones (a function that returns None or 0 must fail at least one)."""

# programs a useful property rejects; {f} is the entry point
TRIVIAL_PROGRAMS = {
    "return None": "def {f}(*args, **kwargs):\n    return None\n",
    "return 0": "def {f}(*args, **kwargs):\n    return 0\n",
    "return the first argument": "def {f}(*args, **kwargs):\n    return args[0] if args else None\n",
}


@dataclass(frozen=True)
class PropertySpec:
    """A parsed property: its name and the source of its code (imports and helpers, ``strategy_<name>``, ``property_<name>``)."""

    name: str
    source: str


@dataclass(frozen=True)
class PropertySettings:
    """How hard each check works.

    ``max_examples``: examples Hypothesis draws (the same in every session);
    ``shrink_seconds``: the bound on shrinking in the combined run;
    ``search_cpu_seconds``: the CPU limit of the combined run's search and of
    drawing the examples; ``call_cpu_seconds``: each call of the program or
    the predicate (default: the sandbox's limit); ``load_cpu_seconds``:
    loading a session that imports Hypothesis.
    """

    max_examples: int = 50
    shrink_seconds: float = 5.0
    search_cpu_seconds: float = 20.0
    call_cpu_seconds: float | None = None
    load_cpu_seconds: float = 5.0


DEFAULT_SETTINGS = PropertySettings()


@dataclass(frozen=True)
class PropertyVerdict:
    """What the supervisor decided about one program and one property.

    ``status``: ``passed`` (every example held, checked apart), ``failed``
    (a confirmed counterexample), ``inconclusive`` (the property or the
    sandbox could not give an answer; not a pass). ``counterexample``: the
    arguments, plain data; ``shrunk``: it is Hypothesis's shrunk one,
    confirmed; ``output``: what the program returned there (when it did).
    ``message`` is written by the supervisor from confirmed runs, for a
    model to read.
    """

    passed: bool
    counterexample: tuple | None = None
    message: str = ""
    status: str = "inconclusive"
    shrunk: bool = False
    output: Any = None
    examples: int = 0


class PropertyError(Exception):
    """A property that cannot run (its strategy, its predicate, or its code); the message says why."""


# ---------------------------------------------------------------- prompting and parsing


def property_messages(problem: Problem, count: int = 3) -> list[Message]:
    """The request for ``count`` properties of ``problem``'s function, from its prompt alone."""
    user = USER_TEMPLATE.format(count=count, entry=problem.entry_point, prompt=problem.prompt.rstrip())
    return [Message.system(SYSTEM_PROMPT), Message.user(user)]


def _reply_code(reply: str) -> tuple[str, bool]:
    """The reply's Python blocks joined (or the whole text when it has none), and whether there were blocks."""
    text = clean_reply(reply)
    blocks = [b.code for b in find_fenced_blocks(text) if b.tag in ("", "python", "py", "python3", "py3")]
    return ("\n\n".join(blocks), True) if blocks else (text, False)


def _signature_problem(node: ast.FunctionDef, positional: int) -> str | None:
    """Why ``node`` cannot be called with exactly ``positional`` positional arguments (None if it can)."""
    a = node.args
    params = [*a.posonlyargs, *a.args]
    required = len(params) - len(a.defaults)
    if any(default is None for default in a.kw_defaults):
        return "it has required keyword-only parameters"
    if required > positional:
        return "it requires %d arguments, it gets %d" % (required, positional)
    if len(params) < positional and a.vararg is None:
        return "it takes %d arguments, it gets %d" % (len(params), positional)
    return None


def parse_properties(reply: str, arity: int | None = None) -> tuple[list[PropertySpec], list[tuple[str, str]]]:
    """The properties in a model's reply, and what was discarded as ``(what, reason)``.

    Parsed with :mod:`ast`, never run. Top-level imports, assignments,
    classes and helper functions are shared by every property of the reply;
    other top-level statements (calls, asserts, loops) are dropped.

    A strategy that declares parameters its body never reads (the entry
    point's, copied by mistake) is kept without them.

    ``arity``: how many positional arguments the entry point takes, when
    known. A predicate written with the arguments unpacked,
    ``property_NAME(a, b, output)``, then takes exactly ``arity + 1``
    parameters and is kept behind a ``property_NAME(args, output)`` that
    unpacks them (with one argument the two readings cannot be told apart,
    so nothing is adapted).
    """
    code, fenced = _reply_code(reply)
    if not code.strip():
        return [], [("reply", "no code in the reply")]
    try:
        tree = pyast.parse(code)
    except SyntaxError as error:
        if not fenced:
            return [], [("reply", "no code in the reply: no ```python block, and the text is not Python")]
        return [], [("reply", "not valid Python: %s (line %s)" % (error.msg, error.lineno))]
    shared: list[ast.stmt] = []
    strategies: dict[str, ast.stmt] = {}
    predicates: dict[str, ast.stmt] = {}
    discarded: list[tuple[str, str]] = []
    for node in tree.body:
        name = getattr(node, "name", "")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and name.startswith(("strategy_", "property_")):
            kind, _, short = name.partition("_")
            (strategies if kind == "strategy" else predicates)[short] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.FunctionDef, ast.ClassDef)):
            shared.append(node)
    specs: list[PropertySpec] = []
    for short in sorted(set(strategies) | set(predicates), key=lambda n: _first_line(strategies, predicates, n)):
        strategy, predicate = strategies.get(short), predicates.get(short)
        if strategy is None or predicate is None:
            missing = "strategy_" if strategy is None else "property_"
            discarded.append((short, "defines %s%s but no %s%s" % ("property_" if strategy is None else "strategy_", short, missing, short)))
            continue
        if isinstance(strategy, ast.FunctionDef) and _unused_parameters(strategy):
            strategy = _without_parameters(strategy)
        predicates_code = [predicate]
        if arity is not None and arity >= 2 and isinstance(predicate, ast.FunctionDef) and _takes_unpacked(predicate, arity):
            predicates_code = _unpacking(predicate, short)
            predicate = predicates_code[-1]
        reason = _shape_problem(short, strategy, predicate)
        if reason is not None:
            discarded.append((short, reason))
            continue
        module = ast.Module(body=[*shared, strategy, *predicates_code], type_ignores=[])
        specs.append(PropertySpec(short, HEADER + ast.unparse(module) + "\n"))
    if not specs and not discarded:
        discarded.append(("reply", "no strategy_<name> / property_<name> pair in the reply"))
    return specs, discarded


def _unused_parameters(function: ast.FunctionDef) -> bool:
    """Parameters its body never reads (a strategy written as if it took the entry point's arguments, which it ignores)."""
    a = function.args
    names = {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)} | {p.arg for p in (a.vararg, a.kwarg) if p is not None}
    if not names:
        return False
    read = {node.id for statement in function.body for node in ast.walk(statement) if isinstance(node, ast.Name)}
    return not names & read


def _without_parameters(function: ast.FunctionDef) -> ast.FunctionDef:
    stripped = copy.copy(function)  # every other field as written (the fields differ between Python versions)
    stripped.args = ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
    return stripped


def _takes_unpacked(predicate: ast.FunctionDef, arity: int) -> bool:
    """``property_NAME(a, b, ..., output)``: exactly ``arity + 1`` plain positional parameters."""
    a = predicate.args
    return not a.posonlyargs and not a.defaults and a.vararg is None and not a.kwonlyargs and a.kwarg is None and len(a.args) == arity + 1


def _unpacking(predicate: ast.FunctionDef, short: str) -> list[ast.stmt]:
    """The predicate renamed, and a ``property_NAME(args, output)`` that calls it with the arguments unpacked."""
    inner = "_unpacked_property_" + short
    renamed = copy.copy(predicate)
    renamed.name = inner
    wrapper = pyast.parse("def property_%s(args, output):\n    return %s(*args, output)\n" % (short, inner)).body[0]
    return [renamed, wrapper]


def _first_line(strategies: dict[str, ast.stmt], predicates: dict[str, ast.stmt], name: str) -> int:
    return min(node.lineno for node in (strategies.get(name), predicates.get(name)) if node is not None)


def _shape_problem(name: str, strategy: ast.stmt, predicate: ast.stmt) -> str | None:
    if not NAME.match(name):
        return "the name %r is not a short identifier" % name
    for node in (strategy, predicate):
        if isinstance(node, ast.AsyncFunctionDef):
            return "%s is async; it must be a plain function" % node.name
    assert isinstance(strategy, ast.FunctionDef) and isinstance(predicate, ast.FunctionDef)
    why = _signature_problem(strategy, 0)
    if why:
        return "strategy_%s() must take no arguments: %s" % (name, why)
    why = _signature_problem(predicate, 2)
    if why:
        return "property_%s(args, output) must take two arguments: %s" % (name, why)
    return None


# ---------------------------------------------------------------- sandboxed sessions


def _session_limits(sandbox: Sandbox, settings: PropertySettings) -> Limits:
    cpu = max(sandbox.limits.cpu_seconds, settings.load_cpu_seconds)
    total = max(sandbox.limits.sample_cpu_seconds, settings.search_cpu_seconds + settings.load_cpu_seconds + 5)
    return replace(sandbox.limits, cpu_seconds=cpu, wall_seconds=wall_for_cpu(cpu), sample_cpu_seconds=total)


def _call_cpu(sandbox: Sandbox, settings: PropertySettings) -> float:
    return settings.call_cpu_seconds if settings.call_cpu_seconds is not None else sandbox.limits.cpu_seconds


def _property_program(prop: PropertySpec, candidate: str | None = None) -> str:
    line = "setup(%r)\n" % prop.source if candidate is None else "setup(%r, %r)\n" % (prop.source, candidate)
    return RUNNER_SOURCE + "\n" + line


def _has_opaque(value: Any) -> bool:
    if isinstance(value, Opaque):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_has_opaque(v) for v in value)
    if isinstance(value, dict):
        return any(_has_opaque(k) or _has_opaque(v) for k, v in value.items())
    return False


def _reply_problem(reply: Any) -> str:
    what = reply.status
    if reply.exception_type:
        what = "%s (%s: %s)" % (what, reply.exception_type, (reply.message or "")[:300])
    elif reply.message:
        what = "%s (%s)" % (what, reply.message[:300])
    return what


def draw_examples(sandbox: Sandbox, prop: PropertySpec, settings: PropertySettings = DEFAULT_SETTINGS) -> list[tuple]:
    """The argument tuples the strategy draws, in a session holding only the property's code (no program).

    Raises :class:`PropertyError` when the strategy cannot run, draws
    nothing, or draws values that are not plain data.
    """
    calls = [Call("draw_examples", (prop.name, settings.max_examples), cpu_seconds=settings.search_cpu_seconds)]
    try:
        batch = sandbox.run_calls(_property_program(prop), calls, limits=_session_limits(sandbox, settings))
    except InfraError as error:
        raise PropertyError("sandbox failure (not the property's fault): %s" % error) from None
    if not batch.loaded:
        raise PropertyError("its code does not load: %s" % _reply_problem(batch.load))
    if not batch.replies or batch.replies[0].status != "ok":
        reply = batch.replies[0] if batch.replies else batch.load
        raise PropertyError("strategy_%s cannot draw examples: %s" % (prop.name, _reply_problem(reply)))
    drawn = batch.replies[0].value
    if not isinstance(drawn, list):
        raise PropertyError("strategy_%s gave no list of examples" % prop.name)
    examples: list[tuple] = []
    seen: list[Any] = []
    for args in drawn:
        args = args if isinstance(args, tuple) else (args,)
        if _has_opaque(args):
            raise PropertyError("strategy_%s draws values that are not plain data: %s" % (prop.name, short_repr(args)))
        key = codec.encode(args)
        if key not in seen:
            seen.append(key)
            examples.append(args)
    if not examples:
        raise PropertyError("strategy_%s draws no examples" % prop.name)
    return examples


@dataclass(frozen=True)
class _Outcome:
    """The program alone on one example."""

    ok: bool
    value: Any = None
    problem: str = ""  # when not ok: how the call ended


def program_outcomes(sandbox: Sandbox, program: str, entry_point: str, examples: Sequence[tuple], settings: PropertySettings = DEFAULT_SETTINGS) -> list[_Outcome]:
    """The program alone on each example (one session, plain data back, as in judging)."""
    cpu = _call_cpu(sandbox, settings)
    batch = sandbox.run_calls(program, [Call(entry_point, tuple(args), cpu_seconds=cpu) for args in examples])
    if not batch.loaded:
        return [_Outcome(False, problem="the program failed to load: " + _reply_problem(batch.load))] * len(examples)
    outcomes = []
    for index in range(len(examples)):
        if index >= len(batch.replies):
            outcomes.append(_Outcome(False, problem="not run: the program ended on an earlier example"))
            continue
        reply = batch.replies[index]
        if reply.status == "ok":
            outcomes.append(_Outcome(True, reply.value))
        elif reply.status == "exception":
            outcomes.append(_Outcome(False, problem="raised %s: %s" % (reply.exception_type, (reply.message or "")[:300])))
        else:
            outcomes.append(_Outcome(False, problem=_reply_problem(reply)))
    return outcomes


def predicate_verdicts(sandbox: Sandbox, prop: PropertySpec, pairs: Sequence[tuple[tuple, Any]], settings: PropertySettings = DEFAULT_SETTINGS) -> tuple[list[str | None], str | None]:
    """The predicate alone on each (arguments, output): None where it holds, else why not.

    Returns the verdicts and, when the predicate could not answer on some
    pair (its code does not load, it times out, it kills its process...),
    why: the verdicts then stop before that pair.
    """
    if not pairs:
        return [], None
    cpu = _call_cpu(sandbox, settings)
    calls = [Call("check_output", (prop.name, tuple(args), output), cpu_seconds=cpu) for args, output in pairs]
    try:
        batch = sandbox.run_calls(_property_program(prop), calls, limits=_session_limits(sandbox, settings))
    except InfraError as error:
        return [], "sandbox failure (not the property's fault): %s" % error
    if not batch.loaded:
        return [], "its code does not load: %s" % _reply_problem(batch.load)
    verdicts: list[str | None] = []
    for index, (args, _output) in enumerate(pairs):
        reply = batch.replies[index] if index < len(batch.replies) else None
        if reply is None or reply.status != "ok" or type(reply.value) is not dict or type(reply.value.get("holds")) is not bool:
            what = _reply_problem(reply) if reply is not None else "no answer"
            return verdicts, "property_%s gave no answer on %s: %s" % (prop.name, short_repr(args), what)
        verdicts.append(None if reply.value["holds"] else str(reply.value.get("why") or "it does not hold"))
    return verdicts, None


@dataclass(frozen=True)
class _Judged:
    """The program alone and the predicate alone on a list of examples."""

    outcomes: list[_Outcome]
    failures: list[tuple[int, str]]  # (example index, why) in example order
    error: str | None = None  # the property could not answer

    def first_failure(self) -> tuple[int, str] | None:
        return self.failures[0] if self.failures else None


def judge_examples(sandbox: Sandbox, program: str, entry_point: str, prop: PropertySpec, examples: Sequence[tuple], settings: PropertySettings = DEFAULT_SETTINGS) -> _Judged:
    """The verdict's evidence: the program alone on each example, then the predicate alone on each output."""
    try:
        outcomes = program_outcomes(sandbox, program, entry_point, examples, settings)
    except InfraError as error:
        return _Judged([], [], "sandbox failure (not the program's fault): %s" % error)
    failures = [(i, "%s(%s) %s" % (entry_point, _arguments(examples[i]), o.problem)) for i, o in enumerate(outcomes) if not o.ok]
    checked = [i for i, o in enumerate(outcomes) if o.ok]
    verdicts, error = predicate_verdicts(sandbox, prop, [(examples[i], outcomes[i].value) for i in checked], settings)
    for i, why in zip(checked, verdicts):
        if why is not None:
            failures.append((i, "%s(%s) returned %s, and property_%s does not hold: %s" % (entry_point, _arguments(examples[i]), short_repr(outcomes[i].value), prop.name, why)))
    return _Judged(outcomes, sorted(failures), error)


def _arguments(args: tuple) -> str:
    return ", ".join(short_repr(a) for a in args)


def run_combined(sandbox: Sandbox, program: str, entry_point: str, prop: PropertySpec, settings: PropertySettings = DEFAULT_SETTINGS) -> dict | None:
    """The program and the property in one process, Hypothesis searching and shrinking: a *claim*, or None.

    The answer is plain data, but the program wrote it as much as Hypothesis
    did; :func:`check_property` only uses its arguments, and only once
    confirmed apart.
    """
    calls = [Call("run_combined", (entry_point, prop.name, settings.max_examples, settings.shrink_seconds), cpu_seconds=settings.search_cpu_seconds)]
    try:
        batch = sandbox.run_calls(_property_program(prop, program), calls, limits=_session_limits(sandbox, settings))
    except InfraError:
        return None
    if not batch.loaded or not batch.replies or batch.replies[0].status != "ok" or type(batch.replies[0].value) is not dict:
        return None
    return batch.replies[0].value


def _as_spec(prop: PropertySpec | dict) -> tuple[PropertySpec, list[tuple] | None]:
    if isinstance(prop, PropertySpec):
        return prop, None
    examples = prop.get("examples")
    decoded = [tuple(args) for args in codec.decode(examples)] if examples is not None else None
    return PropertySpec(str(prop["name"]), str(prop["source"])), decoded


def check_property(sandbox: Sandbox, program: str, entry_point: str, prop: PropertySpec | dict, settings: PropertySettings | None = None, *, search: bool = True) -> PropertyVerdict:
    """Does ``program`` satisfy the property? Decided by the supervisor from separate runs.

    ``prop``: a :class:`PropertySpec` or an entry of ``pool.extras["property"]``
    (whose drawn ``examples`` are reused). With ``search`` (the default) a
    combined run first looks for a shrunk counterexample; either way the
    verdict is the program alone and the predicate alone on the claimed
    counterexample (if any) and on every drawn example.
    """
    settings = settings or DEFAULT_SETTINGS
    spec, examples = _as_spec(prop)
    if examples is None:
        try:
            examples = draw_examples(sandbox, spec, settings)
        except PropertyError as error:
            return PropertyVerdict(False, message="the property cannot run: %s" % error)
    claimed: tuple | None = None
    if search:
        claim = run_combined(sandbox, program, entry_point, spec, settings)
        args = claim.get("args") if claim is not None and claim.get("outcome") == "failed" else None
        if isinstance(args, (tuple, list)) and not _has_opaque(args):
            claimed = tuple(args)
    to_run = ([claimed] if claimed is not None else []) + [a for a in examples if not (claimed is not None and values_equal(a, claimed))]
    judged = judge_examples(sandbox, program, entry_point, spec, to_run, settings)
    failure = judged.first_failure()
    if failure is not None:
        index, why = failure
        outcome = judged.outcomes[index] if index < len(judged.outcomes) else None
        shrunk = claimed is not None and index == 0
        note = "" if shrunk or claimed is None else " (Hypothesis's shrunk example was not confirmed; this one is as drawn)"
        head = "property_%s fails%s: " % (spec.name, " on a shrunk counterexample" if shrunk else "")
        return PropertyVerdict(False, to_run[index], head + why + note, "failed", shrunk, outcome.value if outcome and outcome.ok else None, len(to_run))
    if judged.error is not None:
        return PropertyVerdict(False, message="inconclusive: %s" % judged.error, examples=len(to_run))
    return PropertyVerdict(True, message="property_%s holds on %d examples" % (spec.name, len(to_run)), status="passed", examples=len(to_run))


# ---------------------------------------------------------------- building a pool


@dataclass(frozen=True)
class _Validated:
    spec: PropertySpec
    examples: list[tuple] | None = None
    reason: str | None = None  # why it is discarded
    trust: float = 0.0
    note: str = ""


def validate_property(sandbox: Sandbox, spec: PropertySpec, entry_point: str, reference: str | None, candidates: Sequence[str] = (), settings: PropertySettings = DEFAULT_SETTINGS) -> _Validated:
    """Keep or discard one property, with the reason; measure its trust.

    Discarded: it cannot run (its strategy draws nothing, its code or its
    predicate fails); it fails ``reference``; it holds for a trivially wrong
    program on every drawn example (unless the reference gives the same
    outputs there, so that the examples cannot tell them apart).
    Trust: 1.0 when it held for the reference; without a reference, the
    share of ``candidates`` that satisfy it (checked apart, as in
    :func:`check_property` without the search), and discarded when none
    does (as a generated test no candidate satisfies is: the property, not
    every candidate, is most likely wrong); 0.0 with neither, noted as
    unmeasured.
    """
    try:
        examples = draw_examples(sandbox, spec, settings)
    except PropertyError as error:
        return _Validated(spec, reason="cannot run: %s" % error)
    entry = {"name": spec.name, "source": spec.source, "examples": codec.encode(examples)}
    reference_outputs: list[_Outcome] | None = None
    if reference is not None:
        verdict = check_property(sandbox, reference, entry_point, entry, settings)
        if verdict.status == "failed":
            return _Validated(spec, examples, reason="fails the reference: %s" % verdict.message)
        if not verdict.passed:
            return _Validated(spec, examples, reason="cannot run on the reference: %s" % verdict.message)
        try:
            reference_outputs = program_outcomes(sandbox, reference, entry_point, examples, settings)
        except InfraError as error:
            return _Validated(spec, examples, reason="sandbox failure (not the property's fault): %s" % error)
    for label, template in TRIVIAL_PROGRAMS.items():
        trivial = template.format(f=entry_point)
        judged = judge_examples(sandbox, trivial, entry_point, spec, examples, settings)
        if judged.failures:
            continue
        if judged.error is not None:
            return _Validated(spec, examples, reason="cannot run: %s" % judged.error)
        if reference_outputs is not None and all(r.ok and o.ok and values_equal(r.value, o.value) for r, o in zip(reference_outputs, judged.outcomes)):
            continue  # the reference answers the same on every example: nothing to tell apart
        return _Validated(spec, examples, reason="vacuous: holds for a trivially wrong program (%s) on all %d examples" % (label, len(examples)))
    if reference is not None:
        return _Validated(spec, examples, trust=1.0, note="holds for the reference on %d examples; rejects %s" % (len(examples), ", ".join(TRIVIAL_PROGRAMS)))
    if candidates:
        with ThreadPoolExecutor(max_workers=min(len(candidates), sandbox.size), thread_name_prefix="assay-property") as pool:
            passed = sum(pool.map(lambda program: check_property(sandbox, program, entry_point, entry, settings, search=False).passed, candidates))
        if passed == 0:
            return _Validated(spec, examples, reason="no candidate satisfies it (%d checked)" % len(candidates))
        return _Validated(spec, examples, trust=passed / len(candidates), note="%d of %d candidates satisfy it; rejects %s" % (passed, len(candidates), ", ".join(TRIVIAL_PROGRAMS)))
    return _Validated(spec, examples, trust=0.0, note="unmeasured (no reference, no candidates); rejects %s" % ", ".join(TRIVIAL_PROGRAMS))


class PropertyOracle:
    """Asks the model for properties, validates them in the sandbox, keeps the useful ones in ``pool.extras["property"]``."""

    kind = OracleKind.PROPERTY

    def __init__(self, count: int = 3, settings: PropertySettings | None = None) -> None:
        self.count = count
        self.settings = settings or DEFAULT_SETTINGS

    async def build(self, context: OracleContext) -> None:
        if context.model is None:
            return
        problem, pool = context.problem, context.pool
        completions, provenance = await context.ask(property_messages(problem, self.count), OracleKind.PROPERTY)
        shape = entry_arity(problem)
        arity = shape[0] if shape is not None and shape[0] == shape[1] else None
        specs: list[PropertySpec] = []
        taken = {str(e.get("name")) for e in pool.extras.get("property", [])}
        for completion in completions:
            parsed, discarded = parse_properties(completion.text, arity)
            for what, reason in discarded:
                pool.discard(OracleKind.PROPERTY, what, reason)
            for spec in parsed:
                if spec.name in taken:
                    pool.discard(OracleKind.PROPERTY, spec.name, "a property of that name is already kept")
                    continue
                taken.add(spec.name)
                specs.append(spec)
        validate: Callable[[PropertySpec], _Validated] = lambda spec: validate_property(  # noqa: E731
            context.sandbox, spec, problem.entry_point, context.reference, context.candidates, self.settings
        )
        results = await asyncio.gather(*(asyncio.to_thread(validate, spec) for spec in specs))
        for result in results:
            if result.reason is not None:
                pool.discard(OracleKind.PROPERTY, result.spec.name, result.reason)
                continue
            pool.extras.setdefault("property", []).append({
                "name": result.spec.name, "source": result.spec.source, "provenance": provenance.to_dict(),
                "trust": result.trust, "note": result.note, "examples": codec.encode(result.examples),
            })  # fmt: skip


@hookimpl
def register_oracles(register: Callable[..., None]) -> None:
    register("property", PropertyOracle(), "model-written Hypothesis properties, run in the sandbox, confirmed by the supervisor apart from the program")


__all__ = [
    "PropertyError", "PropertyOracle", "PropertySettings", "PropertySpec", "PropertyVerdict", "check_property",
    "draw_examples", "judge_examples", "parse_properties", "program_outcomes", "property_messages", "run_combined", "validate_property",
]  # fmt: skip
