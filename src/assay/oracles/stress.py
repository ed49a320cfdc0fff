"""Stress inputs: a model writes an input generator with a size parameter; the sandbox runs it; the supervisor validates it.

A *generator* is a function the model writes from the problem's prompt alone
(never from a solution)::

    def generate(size: int, rng: random.Random) -> tuple:
        return ([rng.randint(0, 100) for _ in range(size)],)   # the entry point's arguments

The reply is parsed with :mod:`ast` only. The generator runs only in the
sandbox (:meth:`Sandbox.run_calls`, one session per generator, a CPU cap per
call and a memory cap per session), at every size level (default 10, 100,
1000, 10^4; ``per_level`` inputs each, seeded from the context's seed, the
size and the input's index, so the same inputs come back every time). What
it returns is plain data, and everything is decided from that data in the
supervisor:

* **discarded**, with the reason, when it raises, times out, runs out of
  memory or prints too much at some level; returns something that is not a
  tuple of the entry point's arity (read from the prompt's ``def``) or not
  plain data; does not **grow** (the input's size, :func:`input_size`, must
  increase from each level to the next); or produces inputs the validator
  rejects (raises on, or cannot answer at all);
* **validated** by the reference where the context gives one (the builder
  may use it: ``assay oracles --validate-with-reference``); else by the
  candidate that agreement favours (candidates clustered by behaviour on the
  pool's tests so far and on the stress inputs, scored CodeT-style as in
  :mod:`assay.oracles.generated`; the first member of the best cluster); with
  neither, the inputs are kept unvalidated, trust 0.0. A level on which the
  validator runs out of time or memory is dropped with every larger one (the
  inputs outgrew it), and the generator is discarded when fewer than two
  levels are left.

Kept generators go to ``pool.extras["stress"]`` (``name``, ``source``,
``provenance``, ``trust``, ``note``, ``validated_by``, and per level its
``size`` and the names of its tests, or its ``inputs`` when unvalidated);
each validated input is an :class:`~assay.oracles.pool.OracleTest` of kind
``stress`` whose expected output is the validator's. **Trust**: 1.0 when the
reference gave the output; with a favoured candidate, the share of
candidates whose behaviour on that input is the favoured one's (itself
included); a generator's trust is its tests' mean.

:func:`stress_inputs` gives the inputs per size level (for meters and the
efficiency search), :func:`stress_tests` the tests per level.
"""

from __future__ import annotations

import ast
import asyncio
import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from assay import pyast
from assay.models.base import Message
from assay.models.extract import clean_reply, find_fenced_blocks
from assay.oracles import OracleContext
from assay.oracles.pool import OracleKind, OraclePool, OracleTest, Provenance
from assay.plugins import hookimpl
from assay.problems.model import CallTest, Problem, Trust
from assay.problems.prompt import entry_arity
from assay.sandbox import Call, InfraError, Limits, Sandbox, wall_for_cpu
from assay.sandbox.compare import short_repr
from assay.sandbox.harness import codec

KIND = OracleKind.STRESS
EXTRAS = "stress"
MiB = 1024 * 1024
APPROX_REL = 1e-6
APPROX_ABS = 1e-9
GENERATE = "__assay_stress_generate"
RUNNER = (
    """

import random as __assay_random


def %s(size, seed):
    __assay_random.seed(seed)
    return generate(size, __assay_random.Random(seed))
"""
    % GENERATE
)

SYSTEM_PROMPT = "You are an expert in performance testing of Python code. Reply with one Python code block."
USER_TEMPLATE = """Write an input generator for stress-testing the function `{entry}` below, from its specification alone. Do not implement `{entry}` and do not call it.

```python
{prompt}
```

Reply with one ```python block defining

import random

def generate(size: int, rng: random.Random) -> tuple:
    # one valid input of {entry}: the tuple of its {arity}positional arguments
    ...

The input must be allowed by the specification and grow with `size` (a list of `size` elements, a string of `size` characters, a number near `size`, ...), so that a slow implementation is slow on it. Draw randomness from `rng` only, use plain values only (numbers, strings, lists, tuples, dicts, sets), and take time linear in `size`."""


@dataclass(frozen=True)
class StressSettings:
    """How the generators are run and validated.

    ``levels``: the sizes, ascending; ``per_level``: inputs per size;
    ``cpu_seconds``: the cap on each call (a generation, the validator on
    one input); ``memory_bytes``: the cap on each session (the sandbox's
    own when lower); ``max_bytes``: a generator's inputs as plain data, at
    most (the pool is stored).
    """

    levels: tuple[int, ...] = (10, 100, 1000, 10_000)
    per_level: int = 2
    cpu_seconds: float = 2.0
    memory_bytes: int = 1024 * MiB
    max_bytes: int = 8 * MiB
    load_cpu_seconds: float = 5.0


DEFAULT_SETTINGS = StressSettings()


@dataclass(frozen=True)
class GeneratorSpec:
    """A parsed generator: the source of its code (imports and helpers, ``generate``)."""

    source: str


@dataclass
class Level:
    size: int
    inputs: list[tuple] = field(default_factory=list)


@dataclass
class _Validated:
    levels: list[Level]
    reason: str | None = None  # why it is discarded
    outputs: list[list[Any]] = field(default_factory=list)  # per kept level, the validator's output per input
    trust: list[list[float]] = field(default_factory=list)
    validated_by: str | None = None
    note: str = ""


# ---------------------------------------------------------------- prompting and parsing


def _arity_text(arity: tuple[int, int | None] | None) -> str:
    if arity is None:
        return "the"
    low, high = arity
    if high == low:
        return str(low)
    return "%d or more" % low if high is None else "%d to %d" % (low, high)


def stress_messages(problem: Problem) -> list[Message]:
    """The request for an input generator of ``problem``'s function, from its prompt alone."""
    arity = entry_arity(problem)
    user = USER_TEMPLATE.format(entry=problem.entry_point, prompt=problem.prompt.rstrip(), arity=_arity_text(arity) + " " if arity is not None else "")
    return [Message.system(SYSTEM_PROMPT), Message.user(user)]


def parse_generator(reply: str) -> GeneratorSpec | str:
    """The generator in a model's reply, or why there is none.

    Parsed with :mod:`ast`, never run. Top-level imports, assignments,
    classes and functions are kept; other top-level statements (calls,
    loops, prints) are dropped.
    """
    text = clean_reply(reply)
    blocks = [b.code for b in find_fenced_blocks(text) if b.tag in ("", "python", "py", "python3", "py3")]
    code = "\n\n".join(blocks) if blocks else text
    if not code.strip():
        return "no code in the reply"
    try:
        tree = pyast.parse(code)
    except SyntaxError as error:
        if not blocks:
            return "no code in the reply: no ```python block, and the text is not Python"
        return "not valid Python: %s (line %s)" % (error.msg, error.lineno)
    kept: list[ast.stmt] = []
    generate: ast.stmt | None = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "generate":
            generate = node
        elif isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.FunctionDef, ast.ClassDef)):
            kept.append(node)
    if generate is None:
        return "no def generate(size, rng) in the reply"
    if isinstance(generate, ast.AsyncFunctionDef):
        return "generate is async; it must be a plain function"
    assert isinstance(generate, ast.FunctionDef)
    a = generate.args
    params = [*a.posonlyargs, *a.args]
    if any(default is None for default in a.kw_defaults) or len(params) - len(a.defaults) > 2 or (len(params) < 2 and a.vararg is None):
        return "generate must take two arguments (size, rng): %s" % ast.unparse(a)[:120]
    module = ast.Module(body=[*kept, generate], type_ignores=[])
    return GeneratorSpec("import random\n" + ast.unparse(module) + "\n")


# ---------------------------------------------------------------- sizes


_CONTAINERS = (str, bytes, list, tuple, dict, set, frozenset)


def _structural(value: Any) -> int:
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, dict):
            total += 1
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 1
            stack.extend(item)
        else:
            total += 1
    return total


def _bits(value: Any) -> int:
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return max(1, abs(value).bit_length())
    if isinstance(value, float) and math.isfinite(value):
        return max(1, int(abs(value)).bit_length())
    if isinstance(value, complex):
        return _bits(value.real) + _bits(value.imag)
    return 1


def input_size(args: tuple) -> int:
    """How large an input is: its recursive length (strings count their characters, containers their elements, each scalar 1);
    for arguments that are numbers only, the numbers' magnitude (the sum of their bit lengths)."""
    if any(isinstance(a, _CONTAINERS) for a in args):
        return sum(_structural(a) for a in args)
    return sum(_bits(a) for a in args)


# ---------------------------------------------------------------- sandboxed runs


def _limits(sandbox: Sandbox, settings: StressSettings, calls: int) -> Limits:
    cpu = max(settings.cpu_seconds, settings.load_cpu_seconds)
    total = settings.load_cpu_seconds + calls * settings.cpu_seconds + 5
    return replace(sandbox.limits, cpu_seconds=cpu, wall_seconds=wall_for_cpu(cpu), sample_cpu_seconds=max(sandbox.limits.sample_cpu_seconds, total),
                   memory_bytes=min(sandbox.limits.memory_bytes, settings.memory_bytes))  # fmt: skip


def _ended(reply: Any) -> str:
    """How a call ended when it did not return (for reasons)."""
    if reply.status == "exception":
        return "raised %s: %s" % (reply.exception_type, (reply.message or "")[:300])
    return "%s%s" % (reply.status, " (%s)" % reply.message[:200] if reply.message else "")


def _failed(reply: Any, size: int, cpu_seconds: float) -> str:
    """Why a generator's call did not return, with the head ``generate() <how>`` that tallies group by."""
    if reply.status == "exception":
        return "generate() raised %s: at size=%d: %s" % (reply.exception_type, size, (reply.message or "")[:300])
    cap = " (%gs CPU cap per call)" % cpu_seconds if reply.status == "timeout" else ""
    return "generate() %s: at size=%d%s%s" % (reply.status, size, cap, ": %s" % reply.message[:200] if reply.message else "")


def seed_for(seed: int, size: int, index: int) -> int:
    """The seed of input ``index`` at ``size``: the same inputs every time for a context's seed."""
    return (seed * 1_000_003 + size * 7919 + index) % (2**63)


def generate_levels(sandbox: Sandbox, spec: GeneratorSpec, arity: tuple[int, int | None] | None, seed: int = 0,
                    settings: StressSettings = DEFAULT_SETTINGS) -> list[Level] | str:  # fmt: skip
    """The generator's inputs at every level, run in the sandbox; or why it is discarded."""
    plan = [(size, k) for size in settings.levels for k in range(settings.per_level)]
    calls = [Call(GENERATE, (size, seed_for(seed, size, k)), cpu_seconds=settings.cpu_seconds) for size, k in plan]
    try:
        batch = sandbox.run_calls(spec.source + RUNNER, calls, limits=_limits(sandbox, settings, len(calls)))
    except InfraError as error:
        return "sandbox failure (not the generator's fault): %s" % error
    if not batch.loaded:
        return "its code does not load: %s" % _ended(batch.load)
    levels: dict[int, Level] = {size: Level(size) for size in settings.levels}
    for index, (size, k) in enumerate(plan):
        reply = batch.replies[index] if index < len(batch.replies) else None
        if reply is None:
            return "generate() not run: at size=%d, its process ended earlier" % size
        if reply.status != "ok":
            return _failed(reply, size, settings.cpu_seconds)
        args = reply.value
        if type(args) is not tuple:
            return "wrong shape: generate(%d, rng) returned %s, not a tuple of the arguments" % (size, type(args).__name__)
        if arity is not None:
            low, high = arity
            if len(args) < low or (high is not None and len(args) > high):
                return "wrong shape: generate(%d, rng) returned %d arguments; the entry point takes %s" % (size, len(args), _arity_text(arity))
        if _has_opaque(args):
            return "not plain data: generate(%d, rng) returned %s" % (size, short_repr(args))
        level = levels[size]
        if not any(_same(args, seen) for seen in level.inputs):
            level.inputs.append(args)
    found = [levels[size] for size in settings.levels]
    sizes = [max(input_size(args) for args in level.inputs) for level in found]
    if any(later <= earlier for earlier, later in zip(sizes, sizes[1:])):
        return "does not grow with size: the largest input's size is %s at size=%s" % (", ".join(map(str, sizes)), ", ".join(str(level.size) for level in found))
    weight = len(json.dumps([codec.encode(level.inputs) for level in found]))
    if weight > settings.max_bytes:
        return "its inputs take %.1f MiB as plain data (at most %.1f MiB are kept)" % (weight / MiB, settings.max_bytes / MiB)
    return found


def _has_opaque(value: Any) -> bool:
    if isinstance(value, codec.Opaque):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_has_opaque(v) for v in value)
    if isinstance(value, dict):
        return any(_has_opaque(k) or _has_opaque(v) for k, v in value.items())
    return False


def _same(a: Any, b: Any) -> bool:
    from assay.oracles.generated import same_value

    return same_value(a, b)


def run_program(sandbox: Sandbox, program: str, entry_point: str, inputs: Sequence[tuple], settings: StressSettings = DEFAULT_SETTINGS) -> list[Any]:
    """``program`` alone on each input (one session, each call capped): a :class:`~assay.oracles.generated.Behaviour` per input."""
    from assay.oracles.generated import Behaviour, behaviours_in

    if not inputs:
        return []
    calls = [Call(entry_point, tuple(args), cpu_seconds=settings.cpu_seconds) for args in inputs]
    try:
        batch = sandbox.run_calls(program, calls, limits=_limits(sandbox, settings, len(calls)))
    except InfraError as error:
        return [Behaviour("infra-error", detail=str(error)[:200])] * len(inputs)
    if not batch.loaded:
        return [Behaviour("load-error", detail=_ended(batch.load))] * len(inputs)
    return behaviours_in(batch, len(inputs), detailed=True)


_OUTGROWN = frozenset({"timeout", "memory", "not-run"})  # the inputs outgrew the validator: the level is dropped, not the generator


def _check(levels: list[Level], behaviours: list[Any], who: str, cpu_seconds: float) -> tuple[int, str | None, str]:
    """How many levels the validator answered in full, why the generator is discarded (or None), and a note on dropped levels."""
    position = 0
    for kept, level in enumerate(levels):
        for args in level.inputs:
            behaviour = behaviours[position]
            position += 1
            if behaviour.kind == "ok" and _has_opaque(behaviour.value):
                return kept, "output not plain data: %s's output on its size=%d input %s" % (who, level.size, _args_text(args)), ""
            if behaviour.kind in _OUTGROWN:
                note = "levels from size=%d dropped: %s %s there (%gs CPU cap per call)" % (level.size, who, behaviour.kind, cpu_seconds)
                if kept < 2:
                    return kept, "too large for %s: %s at size=%d on %s" % (who, behaviour.kind, level.size, _args_text(args)), note
                return kept, None, note
            if behaviour.kind in ("infra-error", "load-error"):
                return kept, "%s: %s cannot run (not the generator's fault): %s" % (behaviour.kind, who, behaviour.detail), ""
            if behaviour.kind != "ok":
                what = "raised " + behaviour.detail if behaviour.kind == "raised" else behaviour.describe()
                return kept, "rejected by %s: on its size=%d input %s it %s" % (who, level.size, _args_text(args), what), ""
    return len(levels), None, ""


def _args_text(args: tuple) -> str:
    return "(%s)" % ", ".join(short_repr(a) for a in args)


def validate_generator(sandbox: Sandbox, spec: GeneratorSpec, problem: Problem, pool: OraclePool, reference: str | None, candidates: Sequence[str] = (),
                       seed: int = 0, settings: StressSettings = DEFAULT_SETTINGS) -> _Validated:  # fmt: skip
    """Run one generator at every level and validate its inputs (see the module's docstring)."""
    generated = generate_levels(sandbox, spec, entry_arity(problem), seed, settings)
    if isinstance(generated, str):
        return _Validated([], generated)
    levels = generated
    inputs = [args for level in levels for args in level.inputs]
    entry = problem.entry_point
    if reference is not None:
        behaviours = run_program(sandbox, reference, entry, inputs, settings)
        kept, reason, note = _check(levels, behaviours, "the reference", settings.cpu_seconds)
        if reason is not None:
            return _Validated(levels, reason)
        outputs, _ = _per_level(levels[:kept], [b.value for b in behaviours])
        trust = [[1.0] * len(level.inputs) for level in levels[:kept]]
        note = "; ".join(x for x in ("expected outputs from the reference", note) if x)
        return _Validated(levels[:kept], None, outputs, trust, "reference", note)
    programs = list(candidates)
    if programs:
        return _by_agreement(sandbox, problem, pool, levels, inputs, programs, settings)
    return _Validated(levels, None, [], [], None, "unvalidated: no reference and no candidates; inputs kept without expected outputs")


def _per_level(levels: list[Level], values: list[Any]) -> tuple[list[list[Any]], int]:
    out, position = [], 0
    for level in levels:
        out.append(values[position : position + len(level.inputs)])
        position += len(level.inputs)
    return out, position


def _by_agreement(sandbox: Sandbox, problem: Problem, pool: OraclePool, levels: list[Level], inputs: list[tuple], programs: list[str],
                  settings: StressSettings) -> _Validated:  # fmt: skip
    from assay.oracles.generated import distinct_inputs, dual_agreement

    entry = problem.entry_point
    tests = [t.test for t in pool.tests if t.trust > 0 and t.provenance.kind is not KIND]
    test_inputs, input_of_test = distinct_inputs(tests)

    def rows(program: str) -> tuple[list[Any], list[Any]]:
        from assay.oracles.generated import behaviours_of

        on_tests = behaviours_of(sandbox, program, entry, test_inputs) if test_inputs else []
        return on_tests, run_program(sandbox, program, entry, inputs, settings)

    with ThreadPoolExecutor(max_workers=max(1, min(len(programs), sandbox.size)), thread_name_prefix="assay-stress") as executor:
        distinct = list(dict.fromkeys(programs))  # each program runs once; the same program twice still counts twice (CodeT)
        ran = dict(zip(distinct, executor.map(rows, distinct)))
    found = [ran[program] for program in programs]
    agreement = dual_agreement(problem, tests, [a + b for a, b in found], input_of_test)
    best = agreement.clusters[0]
    favoured = best.members[0]
    stress = [row for _, row in found]
    kept, reason, note = _check(levels, stress[favoured], "the favoured candidate", settings.cpu_seconds)
    if reason is not None:
        return _Validated(levels, "%s (candidate #%d, in a cluster of %d of %d)" % (reason, favoured, best.size, len(programs)))
    count = sum(len(level.inputs) for level in levels[:kept])
    mine = stress[favoured][:count]
    shares = [sum(1 for row in stress if row[i].same(mine[i])) / len(programs) for i in range(count)]
    outputs, _ = _per_level(levels[:kept], [b.value for b in mine])
    trust, _ = _per_level(levels[:kept], shares)
    head = "expected outputs from the candidate agreement favours (%d of %d candidates in its cluster%s); trust = the share of candidates that agree on each input" % (
        best.size,
        len(programs),
        ", scored on %d pool tests" % len(tests) if tests else "",
    )
    return _Validated(levels[:kept], None, outputs, trust, "candidate", "; ".join(x for x in (head, note) if x))


# ---------------------------------------------------------------- building a pool and reading it


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_float(v) for v in value)
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    return False


class StressOracle:
    """Asks the model for input generators, runs and validates them in the sandbox, keeps the inputs of the good ones."""

    kind = KIND

    def __init__(self, settings: StressSettings | None = None) -> None:
        self.settings = settings or DEFAULT_SETTINGS

    async def build(self, context: OracleContext) -> None:
        if context.model is None:
            return
        problem, pool = context.problem, context.pool
        completions, provenance = await context.ask(stress_messages(problem), KIND)
        start = len(pool.extras.get(EXTRAS, [])) + sum(1 for d in pool.discarded if d.kind is KIND)
        specs: list[tuple[str, GeneratorSpec]] = []
        for offset, completion in enumerate(completions):
            name = "stress/%d" % (start + offset)
            parsed = parse_generator(completion.text)
            if isinstance(parsed, str):
                pool.discard(KIND, name, parsed)
            elif any(parsed.source == seen.source for _, seen in specs):
                pool.discard(KIND, name, "the same generator as an earlier reply")
            else:
                specs.append((name, parsed))
        validate: Callable[[GeneratorSpec], _Validated] = lambda spec: validate_generator(  # noqa: E731
            context.sandbox, spec, problem, pool, context.reference, context.candidates, context.seed, self.settings
        )
        results = await asyncio.gather(*(asyncio.to_thread(validate, spec) for _, spec in specs))
        for (name, spec), result in zip(specs, results):
            if result.reason is not None:
                pool.discard(KIND, name, result.reason)
            else:
                keep(pool, name, spec, result, provenance, problem.entry_point)


def keep(pool: OraclePool, name: str, spec: GeneratorSpec, result: _Validated, provenance: Provenance, entry_point: str) -> None:
    """A validated generator into ``pool``: its tests (when validated) and its entry in ``pool.extras["stress"]``."""
    levels: list[dict[str, Any]] = []
    trusts: list[float] = []
    for index, level in enumerate(result.levels):
        if result.validated_by is None:
            levels.append({"size": level.size, "inputs": codec.encode(level.inputs)})
            continue
        names = []
        for k, args in enumerate(level.inputs):
            expected = result.outputs[index][k]
            trust = round(result.trust[index][k], 6)
            tolerant = _has_float(expected)
            test = CallTest(
                name="%s/%d/%d" % (name, level.size, k), args=tuple(args), expected=expected, comparison="approx" if tolerant else "exact",
                abs_tol=APPROX_ABS if tolerant else 0.0, rel_tol=APPROX_REL if tolerant else 0.0, function=None, hidden=False, trust=Trust.STRESS,
            )  # fmt: skip
            why = "the reference's output" if result.validated_by == "reference" else "the favoured candidate's output; %s of the candidates agree" % trust
            pool.add(OracleTest(test, provenance, trust, "size=%d input from %s; expected: %s" % (level.size, name, why)))
            names.append(test.name)
            trusts.append(trust)
        levels.append({"size": level.size, "tests": names})
    pool.extras.setdefault(EXTRAS, []).append({
        "name": name, "source": spec.source, "provenance": provenance.to_dict(), "validated_by": result.validated_by,
        "trust": round(sum(trusts) / len(trusts), 6) if trusts else 0.0, "note": result.note, "levels": levels,
    })  # fmt: skip


def _levels_of(pool: OraclePool, at_least: float) -> dict[int, list[tuple[tuple, OracleTest | None]]]:
    by_name = {t.test.name: t for t in pool.of_kind(KIND)}
    found: dict[int, list[tuple[tuple, OracleTest | None]]] = {}
    for entry in pool.extras.get(EXTRAS, []):
        if float(entry.get("trust", 0.0)) < at_least:
            continue
        for level in entry.get("levels", ()):
            into = found.setdefault(int(level["size"]), [])
            if "inputs" in level:
                into.extend((tuple(args), None) for args in codec.decode(level["inputs"]))
            else:
                into.extend((by_name[n].test.args, by_name[n]) for n in level.get("tests", ()) if n in by_name and by_name[n].trust >= at_least)
    return found


def stress_sizes(pool: OraclePool) -> list[int]:
    """The size levels the pool's kept generators reached, ascending."""
    return sorted(_levels_of(pool, 0.0))


def stress_inputs(pool: OraclePool, levels: Sequence[int] | None = None, *, at_least: float = 0.0) -> list[list[tuple]]:
    """The pool's stress inputs (argument tuples) per size level: one list per size in ``levels`` (default: every size
    reached, ascending; a size no generator reached gives an empty list). ``at_least``: only generators and tests of
    that trust (0.0 keeps unvalidated inputs too)."""
    found = _levels_of(pool, at_least)
    sizes = sorted(found) if levels is None else list(levels)
    return [[args for args, _ in found.get(size, [])] for size in sizes]


def stress_tests(pool: OraclePool, levels: Sequence[int] | None = None, *, at_least: float = 0.0) -> list[list[OracleTest]]:
    """Like :func:`stress_inputs`, the validated inputs only, as tests with their expected outputs."""
    found = _levels_of(pool, at_least)
    sizes = sorted(found) if levels is None else list(levels)
    return [[test for _, test in found.get(size, []) if test is not None] for size in sizes]


@hookimpl
def register_oracles(register: Callable[..., None]) -> None:
    register("stress", StressOracle(), "model-written input generators with a size parameter, run in the sandbox at growing sizes, validated by the reference or the agreed candidate")


__all__ = [
    "GeneratorSpec", "StressOracle", "StressSettings", "generate_levels", "input_size", "parse_generator", "run_program",
    "stress_inputs", "stress_messages", "stress_sizes", "stress_tests", "validate_generator",
]  # fmt: skip
