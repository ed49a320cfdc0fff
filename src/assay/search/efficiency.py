"""Efficiency presets: correct first, then faster; and several algorithms, the fastest correct one.

``optimize``
    SOAP (Huang et al., "Self-Optimization Improves the Efficiency of Code
    Generation") and PerfCodeGen (Peng et al.): a correct program first (the
    Self-Debug loop of the engine, on the oracle pool), then rounds of "make
    this faster", fed with what executing it showed: its cost on the meter
    (against the starting program), the input that costs it most, and a
    per-line profile of that input (line hit counts, recorded by a tracer in
    the sandbox). A faster program is **kept only if its behaviour is the
    starting program's**: it passes every check the start passes, and on
    every input of the pool (and larger versions of them) it returns the
    same value, raises the same exception type and leaves its arguments the
    same way, and a search for a distinguishing input against the starting
    program (:func:`assay.oracles.differential.find_distinguishing_input`:
    mutations of the inputs, Hypothesis and random values of their types)
    finds none. A faster program that fails any of these is rejected, its
    reason recorded on its node and shown to the next round. SOAP profiles
    with ``line_profiler`` and ``memory_profiler`` on the problem's tests;
    here the profile is line hit counts (deterministic) on the pool's
    costliest input, and cost is the meter's (instructions by default).
``llm4effi``
    LLM4EFFI (Ye et al., "LLM4EFFI: Leveraging Large Language Models to
    Enhance Code Efficiency and Correctness"): the model first lists several
    algorithms with their time complexity, each is implemented, failing
    implementations get a round of repairs (the paper's test refinement
    uses model-written tests checked against each other; here the pool's
    checks), and the answer is the fastest correct one on the instruction
    meter, among the programs that agree with the majority of correct ones
    on the pool's inputs.

Both presets measure with a meter from the registry (``instructions`` by
default: deterministic, so one measurement is the cost; ``cpu-time`` with
repeats where exactness does not matter). :class:`Gate` (behaviour
unchanged) and :func:`measure` / :func:`compare_costs` (cost, speedup and
its confidence) are shared with ``assay optimize`` (:mod:`assay.optimize`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from assay.measure.meters import MeterInfraError, ReferenceUnavailable, make_meter
from assay.models.accounting import BudgetExhausted
from assay.models.base import Message
from assay.oracles.differential import Behaviour, DiffResult, call_text, find_distinguishing_input, shapes_from_signature
from assay.oracles.pool import OraclePool
from assay.plugins import hookimpl
from assay.sandbox.calls import Call
from assay.sandbox.compare import short_repr
from assay.search import operators
from assay.search.engine import Preset, SandboxBudgetExhausted, Search, SearchResult
from assay.search.policies import POLICIES
from assay.search.tree import Node, NodeKind
from assay.search.value import Checker, Value, _distinct
from assay.solve import SYSTEM_PROMPT, Candidate, SolveTask

EFFECTS = "__assay_effects__"
PROFILE = "__assay_profile__"
MiB = 1024 * 1024

_EFFECTS_SOURCE = '''

def __assay_effects__(*__assay_args__):
    __assay_list__ = list(__assay_args__)
    __assay_out__ = globals()[%(entry)r](*__assay_list__)
    return [__assay_out__, __assay_list__]
'''

_PROFILE_SOURCE = '''

def __assay_profile__(__assay_args__):
    import sys as __assay_sys
    __assay_counts__ = {}
    __assay_file__ = globals()[%(entry)r].__code__.co_filename

    def __assay_tracer__(frame, event, arg):
        if frame.f_code.co_filename != __assay_file__ or frame.f_code.co_name.startswith("__assay"):
            return None
        if event == "line":
            __assay_counts__[frame.f_lineno] = __assay_counts__.get(frame.f_lineno, 0) + 1
        return __assay_tracer__

    __assay_sys.settrace(__assay_tracer__)
    try:
        globals()[%(entry)r](*__assay_args__)
    except BaseException:
        pass
    finally:
        __assay_sys.settrace(None)
    return sorted(__assay_counts__.items())
'''


def with_effects(program: str, entry_point: str) -> str:
    """``program`` plus ``__assay_effects__(*args)``: the entry point's result and its arguments after the call."""
    return program.rstrip("\n") + "\n" + _EFFECTS_SOURCE % {"entry": entry_point}


def describe(behaviour: Behaviour) -> str:
    """A behaviour of the effects wrapper in words: the value, and the arguments only where the call changed them."""
    if behaviour.status == "returned" and isinstance(behaviour.value, list) and len(behaviour.value) == 2:
        return "returned %s" % short_repr(behaviour.value[0], 200)
    return behaviour.describe()


def _effects_text(args: tuple, behaviour: Behaviour) -> str:
    if behaviour.status == "returned" and isinstance(behaviour.value, list) and len(behaviour.value) == 2:
        after = behaviour.value[1]
        if isinstance(after, (list, tuple)) and list(after) != list(args):
            return "; arguments after the call: %s" % short_repr(tuple(after), 200)
    return ""


def behaviours(sandbox: Any, program: str, function: str, inputs: Sequence[tuple], cpu_seconds: float = 1.0) -> tuple[list[Behaviour], int]:
    """What ``function`` of ``program`` does on each input, and the sandbox runs it took (a call that ends the candidate starts a fresh batch)."""
    from assay.sandbox import InfraError, Limits

    limits = Limits.for_cpu(cpu_seconds, sample_cpu_seconds=max(60.0, cpu_seconds * 4), memory_bytes=1024 * MiB, output_bytes=256 * 1024)
    calls = [Call(function, tuple(args), cpu_seconds=cpu_seconds) for args in inputs]
    out: list[Behaviour] = []
    runs = 0
    while len(out) < len(calls):
        runs += 1
        try:
            batch = sandbox.run_calls(program, calls[len(out) :], limits=limits)
        except InfraError as exc:
            out += [Behaviour("infra_error", message=str(exc)[:200])] * (len(calls) - len(out))
            break
        if not batch.loaded:
            out += [Behaviour.from_reply(batch.load, loading=True)] * (len(calls) - len(out))
            break
        out += [Behaviour.from_reply(r) for r in batch.replies]
        if not batch.replies:
            out.append(Behaviour("crash", message="no reply"))
    return out, runs


# ---------------------------------------------------------------- behaviour unchanged


@dataclass
class Equivalence:
    """Whether a candidate behaves like the starting program, and the evidence either way."""

    same: bool
    reason: str = ""  # why not, in words a model (and a person) can act on
    inputs: int = 0  # pool inputs compared
    skipped: int = 0  # pool inputs on which the start timed out (no evidence either way)
    differential: DiffResult | None = None
    properties: list[str] = field(default_factory=list)  # properties the candidate was shown to hold
    sandbox_runs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"same": self.same, "reason": self.reason, "inputs": self.inputs, "skipped": self.skipped, "properties": self.properties,
                "differential": self.differential.to_dict() if self.differential is not None else None}  # fmt: skip


class Gate:
    """Is a candidate's behaviour the starting program's?

    On every input of the pool: the same value (floats within 1e-9), the
    same exception type, the same arguments after the call (a program that
    sorts its input in place behaves differently); on the properties given
    (model-written ones the start holds); and on differential inputs: a
    search for an input that tells the two apart
    (:func:`~assay.oracles.differential.find_distinguishing_input`, seeded
    with the pool's inputs, which it does not run again: their mutations,
    then Hypothesis and random values of their types) finds none. An input on which the start times
    out is no evidence either way (a faster program may answer it).
    """

    def __init__(self, sandbox: Any, start: str, entry_point: str, inputs: Sequence[tuple], *, budget: int = 200, cpu_seconds: float = 1.0,
                 seed: int = 0, properties: Sequence[dict] = (), seeds: Sequence[tuple] | None = None) -> None:  # fmt: skip
        self.sandbox = sandbox
        self.start = start
        self.entry_point = entry_point
        self.inputs = _distinct(list(inputs))
        self.budget = budget
        self.cpu_seconds = cpu_seconds
        self.seed = seed
        self.properties = list(properties)
        self.seeds = _distinct(list(self.inputs if seeds is None else seeds))[:40]  # guide the differential search (already compared directly)
        self.expected, self.sandbox_runs = behaviours(sandbox, with_effects(start, entry_point), EFFECTS, self.inputs, cpu_seconds)
        self.shapes = None if self.inputs else shapes_from_signature(start, entry_point)

    def check(self, candidate: str) -> Equivalence:
        runs = 0
        got, used = behaviours(self.sandbox, with_effects(candidate, self.entry_point), EFFECTS, self.inputs, self.cpu_seconds)
        runs += used
        skipped = 0
        for args, want, have in zip(self.inputs, self.expected, got):
            if want.status in ("timeout", "infra_error") or have.status == "infra_error":
                skipped += 1
                continue
            if not want.same_as(have):
                call = call_text(args, self.entry_point)
                reason = "on %s the starting program %s%s, this one %s%s" % (call, describe(want), _effects_text(args, want), describe(have), _effects_text(args, have))
                return Equivalence(False, reason, len(self.inputs), skipped, sandbox_runs=runs)
        held = []
        if self.properties:
            from assay.oracles.properties import check_property

            for prop in self.properties:
                verdict = check_property(self.sandbox, candidate, self.entry_point, prop)
                runs += 3
                if not verdict.passed:
                    return Equivalence(False, "a property the starting program holds does not hold: %s" % (verdict.message or verdict.status)[:400],
                                       len(self.inputs), skipped, sandbox_runs=runs)  # fmt: skip
                held.append(str(prop.get("name", "property")))
        found = None
        for attempt in range(2):
            found = find_distinguishing_input(
                self.sandbox, with_effects(self.start, self.entry_point), with_effects(candidate, self.entry_point), EFFECTS, self.seeds, self.budget,
                seed=self.seed + attempt, cpu_seconds=self.cpu_seconds, shapes=self.shapes, memory_bytes=1024 * MiB, phases=("mutation", "hypothesis", "random"),
            )  # fmt: skip
            found.entry_point = self.entry_point
            runs += found.sandbox_runs
            if not (found.found and found.a is not None and found.a.status == "timeout"):
                break
            found.notes.append("the starting program timed out on %s, which is no evidence; searched again" % call_text(found.args or (), self.entry_point))
        assert found is not None
        if found.found and found.a is not None and found.b is not None and found.a.status != "timeout":
            args = found.args or ()
            reason = "on %s (found by %s search after %d inputs) the starting program %s%s, this one %s%s" % (
                call_text(args, self.entry_point), found.source, found.tried, describe(found.a), _effects_text(args, found.a), describe(found.b), _effects_text(args, found.b))
            return Equivalence(False, reason, len(self.inputs), skipped, found, held, runs)
        held = ["returns what the starting program returns", "raises what it raises", "leaves its arguments as it does"] + held
        return Equivalence(True, "", len(self.inputs), skipped, found, held, runs)


# ---------------------------------------------------------------- cost


@dataclass
class Cost:
    """One program's cost on the meter: per input (None: not measured), and one total per repeat over the measured inputs."""

    meter: str
    unit: str
    deterministic: bool
    per_input: list[float | None]
    totals: list[float] = field(default_factory=list)

    @property
    def total(self) -> float:
        return statistics.median(self.totals) if self.totals else float("nan")

    @property
    def measured(self) -> list[int]:
        return [i for i, c in enumerate(self.per_input) if c is not None]


@dataclass(frozen=True)
class Speedup:
    """How many times cheaper ``new`` is than ``base`` on the same inputs and meter, with its confidence."""

    ratio: float
    low: float
    high: float
    meter: str
    unit: str
    exact: bool  # a deterministic meter: one measurement is the cost
    repeats: int
    base_total: float
    new_total: float
    inputs: int

    def confidence(self) -> str:
        if self.exact:
            return "exact: the %s meter is deterministic, one measurement each" % self.meter
        if self.repeats < 2:
            return "one paired measurement on a noisy meter: no interval"
        coverage = 100.0 * (1.0 - 2.0 ** (1 - self.repeats))  # [min, max] of n ratios covers their median with this probability
        return "median of %d paired repeats; %.0f%% interval %.2fx-%.2fx (their min and max)" % (self.repeats, coverage, self.low, self.high)

    def describe(self) -> str:
        return "%.2fx on %s (%s; %s -> %s %s over %d inputs)" % (self.ratio, self.meter, self.confidence(), _figure(self.base_total), _figure(self.new_total), self.unit, self.inputs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _figure(value: float) -> str:
    return "{:,.0f}".format(value) if value >= 100 else "%.3g" % value


def measure(sandbox: Any, meter: Any, program: str, entry_point: str, inputs: Sequence[tuple], *, repeats: int = 1, timeout_seconds: float = 20.0) -> Cost:
    """The cost of ``entry_point`` on each input (a deterministic meter is asked once whatever ``repeats`` says)."""
    repeats = 1 if meter.deterministic else max(1, repeats)
    calls = [Call(entry_point, tuple(args)) for args in inputs]
    runs: list[list[float | None]] = []
    for _ in range(repeats):
        costs = meter.call_costs(sandbox, program, calls, timeout_seconds)
        runs.append([c.value if c.ok else None for c in costs])
    per_input: list[float | None] = []
    for i in range(len(calls)):
        values = [run[i] for run in runs]
        per_input.append(None if any(v is None for v in values) else statistics.median(v for v in values if v is not None))
    cost = Cost(meter.name, meter.unit, meter.deterministic, per_input)
    cost.totals = [sum(run[i] or 0.0 for i in cost.measured) for run in runs]
    return cost


def compare_costs(sandbox: Any, meter: Any, base: str, new: str, entry_point: str, inputs: Sequence[tuple], *, repeats: int = 1, timeout_seconds: float = 20.0) -> Speedup:
    """``base``'s cost over ``new``'s on the inputs both are measured on; cpu-time repeats are paired (base, new, base, new, ...)."""
    repeats = 1 if meter.deterministic else max(1, repeats)
    pairs = []
    for _ in range(repeats):
        pairs.append((measure(sandbox, meter, base, entry_point, inputs, timeout_seconds=timeout_seconds),
                      measure(sandbox, meter, new, entry_point, inputs, timeout_seconds=timeout_seconds)))  # fmt: skip
    common = [i for i in range(len(inputs)) if all(a.per_input[i] is not None and b.per_input[i] is not None for a, b in pairs)]
    ratios, base_totals, new_totals = [], [], []
    for a, b in pairs:
        base_total = sum(a.per_input[i] or 0.0 for i in common)
        new_total = sum(b.per_input[i] or 0.0 for i in common)
        base_totals.append(base_total)
        new_totals.append(new_total)
        ratios.append(base_total / new_total if new_total > 0 else float("inf"))
    ratio = statistics.median(ratios) if ratios else float("nan")
    return Speedup(ratio, min(ratios, default=ratio), max(ratios, default=ratio), meter.name, meter.unit, meter.deterministic, repeats,
                   statistics.median(base_totals) if base_totals else 0.0, statistics.median(new_totals) if new_totals else 0.0, len(common))  # fmt: skip


def grown_inputs(inputs: Sequence[tuple], factors: Sequence[int] = (8, 64), seed: int = 0) -> list[tuple]:
    """Larger versions of inputs, for costs that tell algorithms apart, of two kinds per factor.

    Repeated: lists and strings repeated, ints scaled up (the same values
    again: duplicates, which some algorithms exit early on). Spread: lists
    and texts as long, made of fresh values like the input's (ints and
    floats from a range as many times wider, words of the input's letters),
    ints as they are. Seeded: the same inputs every time.
    """
    rng = random.Random(seed)
    out = []
    for args in inputs:
        for factor in factors:
            for grown in (tuple(_grow(a, factor) for a in args), tuple(_spread(a, factor, rng) for a in args)):
                if grown != tuple(args):
                    out.append(grown)
    return _distinct(out)


def largest(inputs: Sequence[tuple], count: int) -> list[tuple]:
    """The ``count`` largest inputs (by the length of their repr), in their order."""
    if len(inputs) <= count:
        return list(inputs)
    keep = set(sorted(range(len(inputs)), key=lambda i: (-len(repr(inputs[i])), i))[:count])
    return [args for i, args in enumerate(inputs) if i in keep]


def _spread(value: Any, factor: int, rng: random.Random) -> Any:
    if isinstance(value, str) and value:
        letters = sorted(set(value.replace(" ", ""))) or ["a"]
        if " " in value.strip():
            lengths = [len(w) for w in value.split()] or [3]
            return " ".join("".join(rng.choice(letters) for _ in range(rng.choice(lengths))) for _ in range(len(value.split()) * factor))
        return "".join(rng.choice(letters) for _ in range(len(value) * factor))
    if isinstance(value, list) and value:
        if all(type(v) is int for v in value):
            low, high = min(value), max(value)
            span = max(1, high - low) * factor
            return [rng.randint(min(low, 0), min(low, 0) + span) for _ in range(len(value) * factor)]
        if all(type(v) is float for v in value):
            low, high = min(value), max(value)
            span = max(1.0, high - low) * factor
            return [round(rng.uniform(min(low, 0.0), min(low, 0.0) + span), 3) for _ in range(len(value) * factor)]
        if all(isinstance(v, str) for v in value):
            letters = sorted(set("".join(value))) or ["a"]
            lengths = [len(v) for v in value]
            return ["".join(rng.choice(letters) for _ in range(rng.choice(lengths))) for _ in range(len(value) * factor)]
        return value * factor
    if isinstance(value, tuple):
        return tuple(_spread(v, factor, rng) for v in value)
    return value


def _grow(value: Any, factor: int) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value * factor if 0 < abs(value) <= 10**4 else value
    if isinstance(value, (list, str)) and value:
        return value * factor
    if isinstance(value, tuple):
        return tuple(_grow(v, factor) for v in value)
    return value


def brief_call(args: Sequence[Any], entry_point: str) -> str:
    """A call with each long argument described by its type and size (``f(<list of 449 ints>, 20)``): a prompt stays short."""
    parts = []
    for value in args:
        text = short_repr(value, 60)
        if len(repr(value)) > 60 and isinstance(value, (list, tuple, set, dict, str)):
            kinds = sorted({type(v).__name__ for v in (value.values() if isinstance(value, dict) else value)}) if not isinstance(value, str) else []
            text = "<%s of %d %s>" % (type(value).__name__, len(value), "chars" if isinstance(value, str) else "/".join(kinds) + "s" if kinds else "items")
        parts.append(text)
    return "%s(%s)" % (entry_point, ", ".join(parts))


def profile_feedback(sandbox: Any, program: str, entry_point: str, args: tuple, limit: int = 8) -> str:
    """The lines of ``program`` that ran most often on one call, with their hit counts ("" when no profile could be had)."""
    traced = program.rstrip("\n") + "\n" + _PROFILE_SOURCE % {"entry": entry_point}
    try:
        batch = sandbox.run_calls(traced, [Call(PROFILE, (list(args),), cpu_seconds=5.0)])
    except Exception:  # noqa: BLE001 - a profile is a hint; none is no failure
        return ""
    if not batch.loaded or not batch.replies or batch.replies[0].status != "ok" or not isinstance(batch.replies[0].value, list):
        return ""
    lines = program.splitlines()
    counts = [(int(n), int(h)) for n, h in (tuple(pair) for pair in batch.replies[0].value if isinstance(pair, (list, tuple)) and len(pair) == 2) if 0 < int(n) <= len(lines)]
    if not counts:
        return ""
    top = sorted(sorted(counts, key=lambda c: -c[1])[:limit])
    width = max(len("{:,}".format(h)) for _, h in top)
    out = ["Lines run most often on %s (hit counts):" % brief_call(args, entry_point)]
    out += ["  line %3d  %s hits:  %s" % (n, "{:,}".format(h).rjust(width), lines[n - 1].strip()[:120]) for n, h in top]
    return "\n".join(out)


OPTIMIZE_TEMPLATE = """{task}This program is correct:

```python
{program}
```

Make `{entry}` faster without changing its behaviour: for every input it must return the same value, raise the same exceptions and leave its arguments as it does now.

{evidence}

Where the hit counts are large, lower the time complexity: a better algorithm or data structure (a dict or a set instead of nested loops, sorting, a single pass), not small changes to those lines.

Reply with the whole faster function `{entry}`, with any imports it needs, in a single ```python code block."""


def optimize_messages(program: str, entry_point: str, evidence: str, task: str | None = None) -> list[Message]:
    head = "Task:\n\n```python\n%s\n```\n\n" % task.rstrip() if task else ""
    return [Message.system(SYSTEM_PROMPT), Message.user(OPTIMIZE_TEMPLATE.format(task=head, program=program.rstrip(), entry=entry_point, evidence=evidence.strip()))]


ALGORITHMS_TEMPLATE = """List {k} different algorithms for this function, from the simplest to the most efficient, each with its time complexity. Do not write code.

```python
{prompt}
```

Write each as: "Algorithm N (O(...)): what it does, in one or two sentences." """


# ---------------------------------------------------------------- the presets


@dataclass(frozen=True)
class EfficiencyPreset(Preset):
    """A preset of the efficiency search (see the module's docstring)."""

    meter: str = "instructions"
    repeats: int = 1  # measurements per program (a deterministic meter needs one)
    rounds: int = 3  # optimize: "make it faster" steps after a correct program
    algorithms: int = 0  # llm4effi: algorithms asked for (> 0 selects the llm4effi search)
    refine: int = 1  # llm4effi: repair rounds per failing implementation
    min_gain: float = 0.02  # a step is kept only if at least this share cheaper
    differential_budget: int = 200  # inputs tried against the starting program per candidate
    grow: tuple[int, ...] = (8, 64)  # factors of the larger inputs costs are measured on
    call_cpu_seconds: float = 1.0  # per call when comparing behaviour
    max_cost_inputs: int = 6  # costs are measured on this many inputs, the largest (behaviour is compared on all)


# what became of a model's version, in the efficiency report's ``outcomes``
KEPT, FAILS_CHECKS, BEHAVIOUR_DIFFERS, NOT_FASTER, UNLIKE_MAJORITY = "kept", "fails checks", "behaviour differs", "not faster", "unlike the majority"
NO_PROGRAM, REPEAT = "no program", "repeat"  # not judged: a reply without code, or a version judged before


@dataclass
class Judged:
    """What happened to one candidate of an optimize step."""

    node: Node
    kept: bool
    reason: str
    equivalence: Equivalence | None = None
    speedup: float | None = None  # against the starting program
    outcome: str = KEPT  # KEPT or why not


class OptimizeSearch(Search):
    """``optimize`` (and, through :class:`Llm4EffiSearch`, ``llm4effi``) on one problem.

    ``start``: a program already known correct (``assay optimize`` gives the
    user's module), skipping the correct-first phase. ``pool``: a pool built
    by the caller, skipping the preset's oracles. ``make_program``: how a
    reply becomes a program (default: :meth:`SolveTask.candidate`).
    ``task_text``: the specification shown (default the problem's prompt);
    ``present``: what the model is shown of a program (default all of it).
    """

    preset: EfficiencyPreset

    def __init__(self, preset: EfficiencyPreset, task: SolveTask, *, start: str | None = None, pool: OraclePool | None = None,
                 make_program: Callable[[str], str | None] | None = None, task_text: str | None = None,
                 present: Callable[[str], str] | None = None) -> None:  # fmt: skip
        super().__init__(preset, task)
        self.meter = make_meter(preset.meter)
        self.given_start = start
        self.given_pool = pool
        self.make_program = make_program
        self.task_text = task.problem.prompt if task_text is None else task_text
        self.present = present or (lambda program: program)  # what the model is shown of a program
        self.start_node: Node | None = None
        self.gate: Gate | None = None
        self.cost_inputs: list[tuple] = []  # what costs are measured on
        self.compare_inputs: list[tuple] = []  # what behaviour is compared on (the pool's inputs and larger versions)
        self.costs: dict[str, Cost] = {}
        self.judged: list[Judged] = []
        self.unjudged: Counter[str] = Counter()  # versions the model gave that were not judged, by why
        self.gate_runs = 0
        self.measure_error: str | None = None

    # ---------------------------------------------------------------- the loop

    async def run(self) -> SearchResult:
        pool = self.given_pool or OraclePool(self.task.problem.task_id)
        try:
            if self.given_pool is None:
                pool = await self.build_pool()
            self.checker = Checker(self.task.sandbox, self.task.problem, pool, property_trust=self.preset.property_trust)
            start = await self.correct_first()
            if start is not None:
                await self.optimize(start)
        except (BudgetExhausted, SandboxBudgetExhausted) as exc:
            self.spent.stopped = str(exc)
        except (ReferenceUnavailable, MeterInfraError) as exc:  # no cost, no faster: the answer is the best correct program
            self.measure_error = "the %s meter could not measure: %s" % (self.meter.name, exc)
            self.spent.stopped = self.measure_error
        best = self.answer()
        self.spent.calls, self.spent.tokens = self.budget.spent.calls, self.budget.spent.total_tokens
        self.spent.sandbox_runs = (self.checker.sandbox_runs if self.checker else 0) + self.gate_runs
        self.spent.seconds = time.monotonic() - self.started
        self.spent.nodes = len(self.tree.nodes)
        return SearchResult(best, self.tree, pool, self.spent)

    async def correct_first(self) -> Node | None:
        """The program to make faster: the one given, or the first to pass every check (Self-Debug until one does)."""
        if self.given_start is not None:
            node = self._add(NodeKind.PROGRAM, "start", self.given_start, None, operators.Made(self.given_start, [], "", 0))
            await self._check(node)
            return node
        await self.start()
        while not self.done():
            node = POLICIES[self.preset.policy](self.tree, self.is_open, self.preset.exploration)
            if node is None:
                break
            node.expanded += 1
            self.task.record_node(node.row())
            await self.expand(node)
        solved = [n for n in self.tree.programs() if n.solved]
        if not solved:
            self.spent.stopped = "no program passes every check: nothing to make faster"
            return None
        return solved[0]

    async def _check(self, node: Node) -> None:
        assert self.checker is not None
        node.check = await asyncio.to_thread(self.checker.check, node.content)
        node.value = Value(node.check.fraction, 0.0, 0.0, 0.0)

    def _failing(self, node: Node) -> set[str]:
        assert node.check is not None
        names = {v.name for v in node.check.failures()}
        names |= {"property:%d" % i for i, p in enumerate(node.check.properties) if not p.passed}
        if node.check.result is not None and node.check.result.load is not None:
            names.add("load")
        return names

    async def setup_costs(self, start: Node, gate: bool = True) -> None:
        """The inputs costs are measured on, the start's cost, and (``gate``) the gate against ``start``."""
        assert self.checker is not None
        entry = self.task.problem.entry_point
        sandbox = self.task.sandbox
        base = list(self.checker.inputs)
        grown = grown_inputs(base, self.preset.grow) if self.preset.grow else []
        if grown:  # keep the larger inputs the start answers in time
            seen, runs = await asyncio.to_thread(behaviours, sandbox, start.content, entry, grown, self.preset.call_cpu_seconds)
            self.gate_runs += runs
            grown = [args for args, b in zip(grown, seen) if b.status in ("returned", "raised")]
        self.compare_inputs = _distinct(base + grown)
        self.cost_inputs = largest(self.compare_inputs, self.preset.max_cost_inputs)
        self.costs[start.content] = await self._measure(start.content)
        if not gate:
            return
        properties = [p for p in self.checker.properties]
        self.gate = await asyncio.to_thread(Gate, sandbox, start.content, entry, self.compare_inputs, budget=self.preset.differential_budget,
                                            cpu_seconds=self.preset.call_cpu_seconds, properties=properties, seeds=base)  # fmt: skip
        self.gate_runs += self.gate.sandbox_runs

    async def _measure(self, program: str) -> Cost:
        if program not in self.costs:
            self.costs[program] = await asyncio.to_thread(measure, self.task.sandbox, self.meter, program, self.task.problem.entry_point, self.cost_inputs, repeats=self.preset.repeats)
            self.gate_runs += 1
        return self.costs[program]

    def ratio(self, base: Cost, new: Cost) -> float:
        common = [i for i in base.measured if new.per_input[i] is not None]
        a = sum(base.per_input[i] or 0.0 for i in common)
        b = sum(new.per_input[i] or 0.0 for i in common)
        return a / b if b > 0 else (1.0 if a == 0 else float("inf"))

    async def optimize(self, start: Node) -> None:
        self.start_node = start
        await self.setup_costs(start)
        base_cost = self.costs[start.content]
        start.value = dataclasses.replace(start.value or Value(1.0), efficiency=1.0)
        start.feedback = self.cost_text(start, base_cost)
        self.task.record_node(start.row())
        current, rejections = start, []
        params = self.preset.params(self.preset.expand_temperature)
        for _ in range(self.preset.rounds):
            if self.budget.exhausted:
                self.spent.stopped = self.budget.exhausted_limit() or "budget spent"
                return
            evidence = await asyncio.to_thread(self.evidence, current, rejections)
            messages = optimize_messages(self.present(current.content), self.task.problem.entry_point, evidence, self.task_text)
            index = self._indices(self.preset.branching)
            completions = await self.task.generate(messages, params.replace(n=self.preset.branching), index=index)
            better, fresh = None, 0
            for i, completion in enumerate(completions):
                program = self._program_of(index + i, completion.text)
                made = operators.Made(program, messages, completion.text, index + i)
                if not program or any(n.content == program for n in self.tree.programs()):
                    self.unjudged[REPEAT if program else NO_PROGRAM] += 1  # greedy decoding repeats itself
                    continue
                fresh += 1
                node = self._add(NodeKind.PROGRAM, "optimize", program, current, made)
                judged = await self.judge(node, start, current)
                if not judged.kept:
                    rejections.append(judged.reason)
                elif better is None or (judged.speedup or 0) > (better.value.efficiency if better.value else 0):
                    better = node
            if better is not None:
                current = better
            elif fresh == 0 and params.temperature == 0.0:
                params = params.replace(temperature=0.8)  # greedy decoding repeats itself: sample the rounds left
            elif fresh == 0:
                self.spent.stopped = "the model gave no new version"
                return
        self.spent.stopped = "%d optimize rounds done" % self.preset.rounds

    def _program_of(self, index: int, reply: str) -> str | None:
        if self.make_program is not None:
            return self.make_program(reply)
        return self.task.candidate(index, reply).program

    async def judge(self, node: Node, start: Node, current: Node) -> Judged:
        """Keep ``node`` only if it passes what the start passes, behaves as the start on the pool and differential inputs, and is cheaper than ``current``."""
        assert self.gate is not None
        await self._check(node)
        newly_failing = self._failing(node) - self._failing(start)
        if newly_failing:
            return self._verdict(node, False, "it fails checks the starting program passes:\n" + self._check_text(node), outcome=FAILS_CHECKS)
        equivalence = await asyncio.to_thread(self.gate.check, node.content)
        self.gate_runs += equivalence.sandbox_runs
        if not equivalence.same:
            return self._verdict(node, False, "its behaviour differs from the starting program's: " + equivalence.reason, equivalence, outcome=BEHAVIOUR_DIFFERS)
        cost = await self._measure(node.content)
        speedup = self.ratio(self.costs[start.content], cost)
        against_current = self.ratio(self.costs[current.content], cost)
        node.value = dataclasses.replace(node.value or Value(1.0), efficiency=speedup)
        if against_current < 1.0 + self.preset.min_gain:
            return self._verdict(node, False, "it behaves the same but is not faster: %.2fx the cost of the program it was made from" % (1.0 / against_current if against_current else float("inf")),
                                 equivalence, speedup, outcome=NOT_FASTER)  # fmt: skip
        return self._verdict(node, True, "kept: behaviour unchanged (%s); %.2fx the starting program on %s" % (", ".join(equivalence.properties), speedup, self.meter.name), equivalence, speedup)

    def _check_text(self, node: Node) -> str:
        from assay.search.feedback import check_feedback

        assert self.checker is not None and node.check is not None
        return check_feedback(self.task.problem, self.checker.trusted_problem, node.check)

    def _verdict(self, node: Node, kept: bool, reason: str, equivalence: Equivalence | None = None, speedup: float | None = None, outcome: str | None = None) -> Judged:
        if not kept and node.value is not None:
            node.value = dataclasses.replace(node.value, efficiency=0.0)
        node.feedback = reason
        self.task.record_node(node.row())
        judged = Judged(node, kept, reason, equivalence, speedup, outcome or (KEPT if kept else "rejected"))
        self.judged.append(judged)
        return judged

    def cost_text(self, node: Node, cost: Cost) -> str:
        start = self.costs[self.start_node.content] if self.start_node is not None else cost
        ratio = self.ratio(start, cost)
        return "It costs %s %s (%s meter) on %d inputs: %.2fx the starting program's speed." % (_figure(cost.total), cost.unit, cost.meter, len(cost.measured), ratio)

    def evidence(self, current: Node, rejections: Sequence[str]) -> str:
        """What the next "make it faster" step is shown: the cost, the costliest input and its line profile, earlier rejections."""
        cost = self.costs[current.content]
        parts = [self.cost_text(current, cost)]
        if cost.measured:
            slowest = max(cost.measured, key=lambda i: cost.per_input[i] or 0.0)
            args = self.cost_inputs[slowest]
            parts.append("Its costliest input: %s, %s %s." % (brief_call(args, self.task.problem.entry_point), _figure(cost.per_input[slowest] or 0.0), cost.unit))
            profile = profile_feedback(self.task.sandbox, current.content, self.task.problem.entry_point, args)
            self.gate_runs += 1
            if profile:
                parts.append(profile)
        for reason in list(rejections)[-2:]:
            parts.append("An earlier faster version was rejected because %s" % reason)
        return "\n\n".join(parts)

    def answer(self) -> Node | None:
        """The fastest kept program (the start when none is kept); without a correct program, the best by value."""
        if self.start_node is None:
            return self.tree.best()
        kept = [j.node for j in self.judged if j.kept]
        return max([self.start_node, *kept], key=lambda n: (n.value.efficiency if n.value else 0.0, -int(n.id)))

    def report(self) -> dict[str, Any]:
        best = self.answer()
        outcomes = Counter(j.outcome for j in self.judged) + self.unjudged
        out: dict[str, Any] = {"meter": self.meter.name, "kept": sum(j.kept for j in self.judged), "rejected": sum(not j.kept for j in self.judged), "outcomes": dict(outcomes)}
        if self.measure_error:
            out["error"] = self.measure_error
        if best is not None and best.value is not None and self.start_node is not None:
            out["speedup"] = round(best.value.efficiency, 4)
        return out


class Llm4EffiSearch(OptimizeSearch):
    """``llm4effi``: algorithms with their complexity, each implemented, failing ones refined, the fastest correct one answers."""

    async def correct_first(self) -> Node | None:
        preset = self.preset
        params = preset.params(preset.temperature)
        messages = [Message.system("You are an expert Python programmer who knows many algorithms."),
                    Message.user(ALGORITHMS_TEMPLATE.format(k=preset.algorithms, prompt=self.task.problem.prompt.rstrip()))]  # fmt: skip
        index = self._indices(1)
        (completion,) = await self.task.generate(messages, params.replace(n=1), index=index)
        texts = split_algorithms(operators._strip_code(completion.text))[: preset.algorithms]
        if not texts:  # nothing usable: programs straight from the problem, as the engine starts
            await self.start()
        plans = [self._add(NodeKind.PLAN, "algorithm", text, None, operators.Made(text, messages, completion.text, index)) for text in texts]
        for plan in plans:
            for made in await operators.implement(self.task, 1, params, plan=plan.content, index=self._indices(1)):
                await self._program(made, "implement", plan)
        for _ in range(preset.refine):
            failing = [n for n in self.tree.programs() if not n.solved and n.operator in ("implement", "refine") and not n.children and n.check is not None and not n.check.infra_error]
            for node in failing:
                node.expanded += 1
                for made in await operators.debug(self.task, node.content, node.feedback or "", params, index=self._indices(1)):
                    await self._program(made, "refine", node)
        correct = [n for n in self.tree.programs() if n.solved]
        if not correct:
            self.spent.stopped = "no algorithm's program passes every check"
            return None
        return await self.fastest(correct)

    async def fastest(self, correct: list[Node]) -> Node | None:
        """The fastest of the programs that agree with the most correct ones on the pool's (and larger) inputs."""
        first = correct[0]
        await self.setup_costs(first, gate=False)
        entry = self.task.problem.entry_point
        groups: dict[str, list[Node]] = {}
        for node in correct:
            seen, runs = await asyncio.to_thread(behaviours, self.task.sandbox, with_effects(node.content, entry), EFFECTS, self.compare_inputs, self.preset.call_cpu_seconds)
            self.gate_runs += runs
            groups.setdefault(repr([(b.status, b.error, repr(b.value)) for b in seen]), []).append(node)
        majority = max(groups.values(), key=lambda g: (len(g), -int(g[0].id)))
        base = self.costs[first.content]
        for node in correct:
            if node in majority:
                cost = await self._measure(node.content)
                node.value = dataclasses.replace(node.value or Value(1.0), efficiency=self.ratio(base, cost))
                node.feedback = (node.feedback or "") + ("\n" if node.feedback else "") + self.cost_text(node, cost)
                self.judged.append(Judged(node, True, "correct, in the majority", None, node.value.efficiency))
            else:
                node.value = dataclasses.replace(node.value or Value(1.0), efficiency=0.0)
                node.feedback = "passes the checks but behaves unlike the majority of correct programs on the pool's inputs"
                self.judged.append(Judged(node, False, node.feedback, outcome=UNLIKE_MAJORITY))
            self.task.record_node(node.row())
        self.start_node = first
        return None  # no optimize rounds: the answer is chosen among the algorithms

    def answer(self) -> Node | None:
        kept = [j.node for j in self.judged if j.kept]
        if not kept:
            return self.tree.best()
        return max(kept, key=lambda n: (n.value.efficiency if n.value else 0.0, -int(n.id)))


def split_algorithms(text: str) -> list[str]:
    """The algorithms of a reply: blocks starting "Algorithm N" or "N." / "N)" at a line's start; the whole text if there are none."""
    import re

    starts = [m.start() for m in re.finditer(r"(?im)^[ \t]*[#*\-]*[ \t]*\**algorithm\s*\d+", text)]  # "Algorithm N" headers, if any
    if not starts:
        starts = [m.start() for m in re.finditer(r"(?m)^[#*\-]*[ \t]?\**\d+[.)]", text)]  # else numbered lines at the margin
    if not starts:
        return [text.strip()] if text.strip() else []
    blocks = [text[a:b].strip() for a, b in zip(starts, starts[1:] + [len(text)])]
    return [b for b in blocks if b]


def efficiency_strategy(preset: EfficiencyPreset):
    """The preset as a strategy of :func:`assay.solve.solve` (its answer's ``spent`` also carries the meter and the speedup)."""

    async def strategy(task: SolveTask) -> list[Candidate]:
        search = (Llm4EffiSearch if preset.algorithms > 0 else OptimizeSearch)(preset, task)
        result = await search.run()
        program = result.best.content if result.best is not None else None
        return [Candidate(0, program, "search:%s" % preset.name, spent={**result.spent.to_dict(), "efficiency": search.report()})]

    strategy.__doc__ = preset.summary
    strategy.preset = preset  # type: ignore[attr-defined]
    strategy.answers = 1  # type: ignore[attr-defined]
    return strategy


PRESETS: dict[str, EfficiencyPreset] = {
    preset.name: preset
    for preset in (
        EfficiencyPreset("optimize", "correct first (Self-Debug), then faster: profile-fed rounds kept only if behaviour is unchanged (SOAP / PerfCodeGen)",
                         expand="debug", max_depth=3, max_calls=8, max_sandbox_runs=None, rounds=3),  # fmt: skip
        EfficiencyPreset("llm4effi", "algorithms with their complexity, each implemented and refined, the fastest correct one on the instruction meter (LLM4EFFI)",
                         expand="debug", max_calls=8, max_sandbox_runs=None, algorithms=3, refine=1, temperature=0.0),  # fmt: skip
    )
}


@hookimpl
def register_strategies(register: Callable[..., None]) -> None:
    for preset in PRESETS.values():
        register(preset.name, efficiency_strategy(preset), preset.summary)
