"""Differential inputs: find an input on which two programs behave differently.

:func:`find_distinguishing_input` infers the arguments' types and shapes from
example inputs (ints, floats, strs, bools, None, lists / tuples / dicts / sets
of those, nested, unions), then tries, in this order and within a budget of
inputs:

1. the example inputs themselves (``seed``);
2. small perturbations and boundary values of each example argument
   (``mutation``: 0, ±1, empty, single element, one shorter / longer,
   reversed, sorted, doubled, large);
3. values drawn by Hypothesis from strategies built from the inferred shapes
   (``hypothesis``), alternating with values drawn by a seeded
   ``random.Random`` (``random``).

Both programs run only in the sandbox (:meth:`Sandbox.run_calls`, streamed,
a small CPU limit per call); the supervisor compares what comes back: values
with Python ``==`` (floats within ``1e-9`` relative), exceptions by type,
and a call that times out, crashes, runs out of memory or prints too much
in one program and not the other is a difference too. A difference is
confirmed by running that input again on its own (a timed-out side with four
times the CPU limit), then optionally shrunk to a simpler input that still
distinguishes. Hypothesis is used here only to *generate plain data*; it
never runs program code. Everything is deterministic for a given ``seed``.

Integer and float inputs stay in the sign domain of the examples (no
negative numbers where every example's are >= 0): an input outside a
problem's preconditions would "distinguish" programs on a question nobody
asked. Empty collections are always tried.

:class:`DifferentialOracle` adds the inputs that split a problem's candidate
programs to ``pool.inputs`` (their expected outputs are unknown: which side is
right is for another oracle, a model, or a person to say).
"""

from __future__ import annotations

import ast
import asyncio
import json
import math
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from assay import pyast
from assay.oracles import OracleContext
from assay.oracles.pool import OracleKind
from assay.plugins import hookimpl
from assay.problems.model import CallTest
from assay.sandbox.compare import short_repr, values_equal
from assay.sandbox.harness import codec

PHASES = ("seed", "mutation", "hypothesis", "random")
FLOAT_REL_TOL = 1e-9
MiB = 1024 * 1024


# ---------------------------------------------------------------- behaviours


@dataclass(frozen=True)
class Behaviour:
    """What one program did on one input, as plain data."""

    status: str  # returned | raised | timeout | memory | output_limit | crash | unencodable | no_load | infra_error
    value: Any = None
    error: str | None = None  # exception type
    message: str | None = None

    @classmethod
    def from_reply(cls, reply: Any, loading: bool = False) -> "Behaviour":
        if loading:
            return cls("no_load", error=reply.exception_type, message=_short(reply.message or reply.status))
        if reply.status == "ok":
            return cls("returned", reply.value)
        if reply.status == "exception":
            return cls("raised", error=reply.exception_type, message=_short(reply.message))
        return cls(reply.status, error=reply.exception_type, message=_short(reply.message))

    def same_as(self, other: "Behaviour") -> bool:
        if self.status != other.status:
            return False
        if self.status == "returned":
            return same_value(self.value, other.value)
        if self.status in ("raised", "no_load"):
            return self.error == other.error
        return True  # both timed out, both crashed, ...

    def describe(self) -> str:
        if self.status == "returned":
            return "returned %s" % short_repr(self.value, 400)
        if self.status == "raised":
            return "raised %s%s" % (self.error, ": %s" % self.message if self.message else "")
        if self.status == "no_load":
            return "did not load (%s)" % (self.message or self.error)
        words = {"timeout": "timed out", "memory": "ran out of memory", "output_limit": "printed more than the output limit",
                 "crash": "crashed", "unencodable": "returned a value that is not plain data", "infra_error": "hit a sandbox failure"}  # fmt: skip
        return words.get(self.status, self.status) + (" (%s)" % self.message if self.message else "")

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "value": codec.encode(self.value) if self.status == "returned" else None, "error": self.error, "message": self.message,
                "text": self.describe()}  # fmt: skip


def _short(text: str | None, limit: int = 300) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 3] + "..."


def same_value(a: Any, b: Any) -> bool:
    """Python ``==`` on plain data, floats within a relative 1e-9 (and NaN equal to NaN)."""
    if type(a) is float or type(b) is float:
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
            if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
                return True
            try:
                return math.isclose(a, b, rel_tol=FLOAT_REL_TOL, abs_tol=1e-12)
            except OverflowError:
                return False
        return values_equal(a, b)
    if type(a) in (list, tuple) and type(b) is type(a):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if type(a) is dict and type(b) is dict:
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return values_equal(a, b)


@dataclass
class DiffResult:
    """The outcome of a search: a distinguishing input with both behaviours, or how hard it looked."""

    found: bool
    args: tuple | None = None
    a: Behaviour | None = None
    b: Behaviour | None = None
    source: str | None = None  # the phase that found it: seed, mutation, hypothesis, random
    tried: int = 0  # distinct inputs run on both programs
    sandbox_runs: int = 0
    seconds: float = 0.0
    tried_by_source: dict[str, int] = field(default_factory=dict)
    shapes: str = ""  # the inferred argument types
    shrunk_from: tuple | None = None  # the input first found, when shrinking made it simpler
    notes: list[str] = field(default_factory=list)
    entry_point: str = "f"

    def which(self) -> str:
        """Which side misbehaved, in words (timeouts and crashes named)."""
        assert self.a is not None and self.b is not None
        bad = {"timeout", "crash", "memory", "output_limit", "no_load", "unencodable"}
        if self.a.status in bad and self.b.status not in bad:
            return "A %s, B did not" % self.a.describe().split(" (")[0]
        if self.b.status in bad and self.a.status not in bad:
            return "B %s, A did not" % self.b.describe().split(" (")[0]
        return "the programs disagree"

    def summary(self) -> str:
        if self.found:
            return "distinguishing input %s (found by %s after %d inputs): A %s; B %s" % (
                call_text(self.args or (), self.entry_point), self.source, self.tried, self.a.describe() if self.a else "?", self.b.describe() if self.b else "?")
        return "no distinguishing input in %d inputs (%s), %d sandbox runs, %.2f s" % (
            self.tried, ", ".join("%s %d" % kv for kv in self.tried_by_source.items()) or "none", self.sandbox_runs, self.seconds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "found": self.found, "input": codec.encode(list(self.args)) if self.args is not None else None,
            "call": call_text(self.args, self.entry_point) if self.args is not None else None,
            "a": self.a.to_dict() if self.a else None, "b": self.b.to_dict() if self.b else None,
            "source": self.source, "tried": self.tried, "sandbox_runs": self.sandbox_runs, "seconds": round(self.seconds, 3),
            "tried_by_source": self.tried_by_source, "shapes": self.shapes,
            "shrunk_from": codec.encode(list(self.shrunk_from)) if self.shrunk_from is not None else None, "notes": self.notes,
        }  # fmt: skip


def call_text(args: Sequence[Any], name: str = "f") -> str:
    return "%s(%s)" % (name, ", ".join(short_repr(a, 200) for a in args))


# ---------------------------------------------------------------- shapes


@dataclass(frozen=True)
class Shape:
    """The type of one argument, as seen in the examples."""

    kind: str  # int float bool str none list tuple dict set union unknown
    lo: float = 0.0  # numbers: smallest and largest seen
    hi: float = 0.0
    alphabet: str = ""  # str: the characters seen
    size: int = 0  # str / collections: the largest length seen
    items: tuple["Shape", ...] = ()  # list/set: (element,); tuple: one per position; dict: (key, value); union: options

    def describe(self) -> str:
        if self.kind in ("int", "float"):
            return "%s[%g..%g]" % (self.kind, self.lo, self.hi)
        if self.kind == "str":
            return "str(len<=%d)" % self.size
        if self.kind in ("list", "set"):
            return "%s[%s]" % (self.kind, self.items[0].describe() if self.items else "?")
        if self.kind == "tuple":
            return "tuple[%s]" % ", ".join(s.describe() for s in self.items)
        if self.kind == "dict":
            return "dict[%s, %s]" % (self.items[0].describe(), self.items[1].describe())
        if self.kind == "union":
            return " | ".join(s.describe() for s in self.items)
        return self.kind

    @property
    def nonnegative(self) -> bool:
        return self.lo >= 0


UNKNOWN = Shape("unknown")


def shape_of(value: Any, depth: int = 0) -> Shape:
    kind = type(value)
    if depth > 20:
        return UNKNOWN
    if kind is bool:
        return Shape("bool")
    if kind is int:
        v = max(min(value, 10**12), -(10**12))
        return Shape("int", v, v)
    if kind is float:
        v = value if math.isfinite(value) else 0.0
        return Shape("float", v, v)
    if kind is str:
        return Shape("str", alphabet="".join(sorted(set(value)))[:64], size=len(value))
    if value is None:
        return Shape("none")
    if kind in (list, set, frozenset):
        element = UNKNOWN
        for item in value:
            element = merge(element, shape_of(item, depth + 1))
        return Shape("list" if kind is list else "set", size=len(value), items=(element,))
    if kind is tuple:
        return Shape("tuple", size=len(value), items=tuple(shape_of(v, depth + 1) for v in value))
    if kind is dict:
        key, val = UNKNOWN, UNKNOWN
        for k, v in value.items():
            key, val = merge(key, shape_of(k, depth + 1)), merge(val, shape_of(v, depth + 1))
        return Shape("dict", size=len(value), items=(key, val))
    return UNKNOWN


def merge(a: Shape, b: Shape) -> Shape:
    if a.kind == "unknown":
        return b
    if b.kind == "unknown":
        return a
    if a.kind == "union" or b.kind == "union" or a.kind != b.kind:
        options = list(a.items if a.kind == "union" else (a,))
        for extra in b.items if b.kind == "union" else (b,):
            for i, option in enumerate(options):
                if option.kind == extra.kind and option.kind != "tuple" or option.kind == "tuple" == extra.kind and len(option.items) == len(extra.items):
                    options[i] = merge(option, extra)
                    break
            else:
                options.append(extra)
        return options[0] if len(options) == 1 else Shape("union", items=tuple(options[:6]))
    if a.kind in ("int", "float"):
        return Shape(a.kind, min(a.lo, b.lo), max(a.hi, b.hi))
    if a.kind == "str":
        return Shape("str", alphabet="".join(sorted(set(a.alphabet) | set(b.alphabet)))[:64], size=max(a.size, b.size))
    if a.kind == "tuple":
        if len(a.items) != len(b.items):
            return Shape("union", items=(a, b))
        return Shape("tuple", size=a.size, items=tuple(merge(x, y) for x, y in zip(a.items, b.items)))
    if a.kind in ("list", "set", "dict"):
        return Shape(a.kind, size=max(a.size, b.size), items=tuple(merge(x, y) for x, y in zip(a.items, b.items)))
    return a


def infer_shapes(seeds: Sequence[tuple]) -> list[Shape]:
    """One shape per argument position, from the example inputs (the most common arity wins)."""
    if not seeds:
        return []
    arities: dict[int, int] = {}
    for seed in seeds:
        arities[len(seed)] = arities.get(len(seed), 0) + 1
    arity = max(arities, key=lambda n: (arities[n], -n))
    shapes = [UNKNOWN] * arity
    for seed in seeds:
        if len(seed) == arity:
            shapes = [merge(s, shape_of(v)) for s, v in zip(shapes, seed)]
    return shapes


_ANNOTATIONS = {"int": Shape("int", 0, 10), "float": Shape("float", 0.0, 10.0), "str": Shape("str", alphabet="abc", size=5),
                "bool": Shape("bool"), "None": Shape("none")}  # fmt: skip


def shapes_from_signature(program: str, entry_point: str) -> list[Shape] | None:
    """Shapes from the entry point's annotations (``List[int]``, ``str``, ...), read with ``ast`` (never run); None if it is not defined."""
    try:
        tree = pyast.parse(program)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            params = [*node.args.posonlyargs, *node.args.args]
            return [_annotation_shape(p.annotation) for p in params]
    return None


UNANNOTATED = Shape("union", items=(Shape("int", -10, 10), Shape("list", size=5, items=(Shape("int", -10, 10),)), Shape("str", alphabet="abc ", size=5)))


def _annotation_shape(node: ast.AST | None) -> Shape:
    if node is None:
        return UNANNOTATED
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return _annotation_shape(pyast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return Shape("int", 0, 10)
    if isinstance(node, ast.Constant) and node.value is None:
        return Shape("none")
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    if name is not None:
        base = name.lower()
        if name in _ANNOTATIONS:
            return _ANNOTATIONS[name]
        if base in ("list", "sequence", "iterable"):
            return Shape("list", size=5, items=(Shape("int", 0, 10),))
        if base == "dict":
            return Shape("dict", size=3, items=(_ANNOTATIONS["str"], _ANNOTATIONS["int"]))
        return Shape("int", 0, 10)
    if isinstance(node, ast.Subscript):
        outer = node.value.id if isinstance(node.value, ast.Name) else node.value.attr if isinstance(node.value, ast.Attribute) else ""
        inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        shapes = [_annotation_shape(n) for n in inner if not (isinstance(n, ast.Constant) and n.value is Ellipsis)]
        outer = outer.lower()
        if outer in ("list", "sequence", "iterable", "set") and shapes:
            return Shape("set" if outer == "set" else "list", size=5, items=(shapes[0],))
        if outer == "tuple":
            if any(isinstance(n, ast.Constant) and n.value is Ellipsis for n in inner):
                return Shape("list", size=5, items=(shapes[0],))  # Tuple[int, ...]: a list will do as input shape
            return Shape("tuple", size=len(shapes), items=tuple(shapes))
        if outer == "dict" and len(shapes) == 2:
            return Shape("dict", size=3, items=tuple(shapes))
        if outer in ("optional", "union") and shapes:
            return Shape("union", items=tuple(shapes) + ((Shape("none"),) if outer == "optional" else ()))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return merge(_annotation_shape(node.left), _annotation_shape(node.right))
    return Shape("int", 0, 10)


# ---------------------------------------------------------------- values


class Generator:
    """Values of inferred shapes: perturbations of examples, random draws, Hypothesis draws."""

    def __init__(self, shapes: list[Shape], rng: random.Random) -> None:
        self.shapes = shapes
        self.rng = rng

    # bounds
    @staticmethod
    def _int_bounds(shape: Shape) -> tuple[int, int]:
        top = int(max(abs(shape.lo), abs(shape.hi), 10))
        high = max(int(shape.hi) * 2, 20) if shape.hi < 10**6 else int(shape.hi)
        low = 0 if shape.nonnegative else -max(top * 2, 20)
        return low, high

    @staticmethod
    def _alphabet(shape: Shape) -> str:
        return shape.alphabet or "ab"

    # random
    def random_value(self, shape: Shape, depth: int = 0) -> Any:
        rng = self.rng
        kind = shape.kind
        if kind == "union":
            return self.random_value(rng.choice(shape.items), depth)
        if kind == "bool":
            return rng.random() < 0.5
        if kind == "none":
            return None
        if kind == "int" or kind == "unknown":
            low, high = self._int_bounds(shape) if kind == "int" else (0, 20)
            roll = rng.random()
            if roll < 0.15:
                return rng.choice([v for v in (0, 1, -1, 2, low, high) if low <= v <= high] or [low])
            if roll < 0.6:
                return rng.randint(max(low, -10), min(high, 10)) if max(low, -10) <= min(high, 10) else rng.randint(low, high)
            return rng.randint(low, high)
        if kind == "float":
            low, high = self._int_bounds(Shape("int", shape.lo, shape.hi))
            roll = rng.random()
            if roll < 0.15:
                return rng.choice([v for v in (0.0, 0.5, 1.0, -0.5, -1.0) if low <= v <= high] or [0.0])
            value = rng.uniform(max(low, -10), min(high, 10)) if roll < 0.6 else rng.uniform(low, high)
            return round(value, rng.choice((0, 1, 2, 3)))
        if kind == "str":
            alphabet = self._alphabet(shape)
            length = rng.choice((0, 1, 2, 3)) if rng.random() < 0.3 else rng.randint(0, max(4, min(2 * shape.size, 20)))
            return "".join(rng.choice(alphabet) for _ in range(length))
        if depth > 4:
            return [] if kind in ("list",) else () if kind == "tuple" else {} if kind == "dict" else set()
        if kind in ("list", "set"):
            length = rng.choice((0, 1, 2)) if rng.random() < 0.3 else rng.randint(0, max(4, min(shape.size + 3, 12)))
            items = [self.random_value(shape.items[0], depth + 1) for _ in range(length)]
            return items if kind == "list" else set(_hashable(items))
        if kind == "tuple":
            return tuple(self.random_value(s, depth + 1) for s in shape.items)
        if kind == "dict":
            length = rng.randint(0, max(3, min(shape.size + 2, 8)))
            out = {}
            for _ in range(length):
                key = self.random_value(shape.items[0], depth + 1)
                if _is_hashable(key):
                    out[key] = self.random_value(shape.items[1], depth + 1)
            return out
        return 0

    def random_input(self) -> tuple:
        return tuple(self.random_value(s) for s in self.shapes)

    # perturbations
    def variants(self, value: Any, shape: Shape) -> list[Any]:
        """Boundary values and small perturbations of one example argument."""
        kind = type(value)
        out: list[Any] = []
        if kind is bool:
            out = [not value]
        elif kind is int:
            low, high = self._int_bounds(shape) if shape.kind == "int" else (-(10**9), 10**9)
            large = max(high * 5, 1000) if shape.hi < 10**5 else value * 2
            out = [v for v in (0, value + 1, value - 1, 1, -value, 2 * value, value // 2, -1, large) if v >= low]
        elif kind is float:
            low = 0.0 if shape.kind == "float" and shape.nonnegative else -math.inf
            out = [v for v in (0.0, value + 0.5, value - 0.5, -value, 2 * value, float(round(value)), value + 1e-3, 1.5) if v >= low]
        elif kind is str:
            alphabet = self._alphabet(shape) if shape.kind == "str" else "ab"
            out = ["", value[:1], value[:-1], value[1:], value + value[-1:], value[::-1], value.swapcase(), value * 2]
            if value:
                i = self.rng.randrange(len(value))
                out.append(value[:i] + self.rng.choice(alphabet) + value[i + 1 :])
                out.append(value[:i] + value[i] + value[i:])
            for sep in sorted({c for c in value if not c.isalnum()})[:3]:  # structure: "name.ext" -> ".ext", "name.", "name..ext", "nameext"
                parts = value.split(sep)
                out += [sep.join(parts[:k] + [""] + parts[k + 1 :]) for k in range(min(len(parts), 4))]
                out += [value.replace(sep, sep * 2, 1), value.replace(sep, "", 1)]
        elif kind is list:
            out = [[], value[:1], value[:-1], value[1:], value + value[-1:], value[::-1], value * 2]
            try:
                out += [sorted(value), sorted(value, reverse=True)]
            except TypeError:
                pass
            element = shape.items[0] if shape.kind == "list" and shape.items else UNKNOWN
            if value:
                i = self.rng.randrange(len(value))
                for replacement in self.variants(value[i], element)[:4]:
                    out.append(value[:i] + [replacement] + value[i + 1 :])
                out.append(value[:i] + [value[i]] + value[i:])
            else:
                out += [[self.random_value(element)], [self.random_value(element), self.random_value(element)]]
        elif kind is tuple:
            items = shape.items if shape.kind == "tuple" and len(shape.items) == len(value) else (UNKNOWN,) * len(value)
            for i, (item, item_shape) in enumerate(zip(value, items)):
                for replacement in self.variants(item, item_shape)[:4]:
                    out.append(value[:i] + (replacement,) + value[i + 1 :])
        elif kind is dict:
            keys = list(value)
            out = [{}, {k: value[k] for k in keys[1:]}, {k: value[k] for k in keys[:1]}]
        elif kind in (set, frozenset):
            out = [kind(), kind(list(value)[:1]), kind(list(value)[1:])]
        return [v for v in out if not (type(v) is type(value) and same_value(v, value))]

    def mutations(self, seeds: Sequence[tuple]) -> Iterable[tuple]:
        """Each example with one argument replaced by a variant, round-robin over examples.

        Then recombinations: an example with one argument taken from another example
        (``bf("Jupiter", "Mercury")`` from ``bf("Jupiter", "Neptune")`` and ``bf("Earth", "Mercury")``),
        and with two arguments of the same type swapped: values the problem's authors used
        are often the only valid ones (planet names, file names).
        """
        seeds = [s for s in seeds if len(s) == len(self.shapes)]
        per_seed = []
        for seed in seeds:
            options = [seed[:i] + (v,) + seed[i + 1 :] for i, (value, shape) in enumerate(zip(seed, self.shapes)) for v in self.variants(value, shape)]
            for i in range(len(seed)):
                for other in seeds:
                    if other is not seed and type(other[i]) is type(seed[i]):
                        options.insert(min(len(options), 2 + i), seed[:i] + (other[i],) + seed[i + 1 :])
                for j in range(i + 1, len(seed)):
                    if type(seed[i]) is type(seed[j]):
                        swapped = list(seed)
                        swapped[i], swapped[j] = seed[j], seed[i]
                        options.insert(min(len(options), 1), tuple(swapped))
            per_seed.append(options)
        for round_ in range(max((len(o) for o in per_seed), default=0)):
            for options in per_seed:
                if round_ < len(options):
                    yield options[round_]

    # hypothesis
    def hypothesis_inputs(self, count: int, seed: int) -> list[tuple]:
        """``count`` inputs drawn by Hypothesis (plain data only; nothing is run here)."""
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import seed as hypothesis_seed
        from hypothesis import strategies as st

        strategy = st.tuples(*[self._strategy(s, st) for s in self.shapes])
        drawn: list[tuple] = []

        @hypothesis_seed(seed)
        @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck), derandomize=False)
        @given(strategy)
        def collect(args: tuple) -> None:
            drawn.append(args)

        collect()
        return drawn

    def _strategy(self, shape: Shape, st: Any, depth: int = 0) -> Any:
        kind = shape.kind
        if kind == "union":
            return st.one_of(*[self._strategy(s, st, depth) for s in shape.items])
        if kind == "bool":
            return st.booleans()
        if kind == "none":
            return st.none()
        if kind in ("int", "unknown"):
            low, high = self._int_bounds(shape) if kind == "int" else (0, 20)
            return st.integers(min_value=low, max_value=high)
        if kind == "float":
            low, high = self._int_bounds(Shape("int", shape.lo, shape.hi))
            return st.floats(min_value=float(low), max_value=float(high), allow_nan=False, allow_infinity=False, allow_subnormal=False)
        if kind == "str":
            return st.text(alphabet=sorted(self._alphabet(shape)), max_size=max(4, min(2 * shape.size, 20)))
        if depth > 4:
            return st.just([])
        if kind == "list":
            return st.lists(self._strategy(shape.items[0], st, depth + 1), max_size=max(4, min(shape.size + 3, 12)))
        if kind == "set":
            return st.sets(self._strategy(shape.items[0], st, depth + 1).filter(_is_hashable), max_size=max(4, min(shape.size + 3, 12)))
        if kind == "tuple":
            return st.tuples(*[self._strategy(s, st, depth + 1) for s in shape.items])
        if kind == "dict":
            return st.dictionaries(self._strategy(shape.items[0], st, depth + 1).filter(_is_hashable), self._strategy(shape.items[1], st, depth + 1),
                                   max_size=max(3, min(shape.size + 2, 8)))  # fmt: skip
        return st.integers(0, 20)

    # shrinking
    def simpler(self, args: tuple) -> list[tuple]:
        """Inputs one step simpler than ``args`` (an element fewer, a number nearer 0, a string shorter)."""
        out = []
        for i, value in enumerate(args):
            for smaller in _smaller(value):
                out.append(args[:i] + (smaller,) + args[i + 1 :])
        return out


def _smaller(value: Any) -> list[Any]:
    kind = type(value)
    if kind is int and value != 0:
        return [v for v in (0, value // 2, value - 1 if value > 0 else value + 1) if abs(v) < abs(value)]
    if kind is float and value != 0.0:
        return [0.0, float(int(value))] if value != float(int(value)) else [0.0]
    if kind in (str, list) and value:
        cut = [value[:i] + value[i + 1 :] for i in range(min(len(value), 8))]
        if kind is list:  # then each element simpler
            cut += [value[:i] + [s] + value[i + 1 :] for i in range(min(len(value), 8)) for s in _smaller(value[i])[:1]]
        return [value[: len(value) // 2]] + cut if len(value) > 2 else cut
    if kind is tuple:
        return [value[:i] + (s,) + value[i + 1 :] for i, item in enumerate(value) for s in _smaller(item)[:2]]
    if kind is dict and value:
        keys = list(value)
        return [{k: value[k] for k in keys if k != drop} for drop in keys[:6]]
    return []


def _is_hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _hashable(items: list) -> list:
    return [i for i in items if _is_hashable(i)]


def _key(args: tuple) -> str:
    try:
        return json.dumps(codec.encode(list(args)), sort_keys=True)
    except (codec.Unencodable, TypeError, ValueError):
        return repr(args)


# ---------------------------------------------------------------- running


class _Runner:
    """Runs both programs on batches of inputs in the sandbox, counting sandbox runs."""

    def __init__(self, sandbox: Any, program_a: str, program_b: str, entry_point: str, cpu_seconds: float, memory_bytes: int, max_timeouts: int = 12) -> None:
        from assay.sandbox import Limits

        self.sandbox = sandbox
        self.programs = (program_a, program_b)
        self.entry_point = entry_point
        self.cpu = cpu_seconds
        self.limits = Limits.for_cpu(cpu_seconds, sample_cpu_seconds=60.0, memory_bytes=memory_bytes, output_bytes=256 * 1024)
        self.runs = 0
        self.timeouts = 0
        self.max_timeouts = max_timeouts
        self._lock = threading.Lock()
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="assay-diff")

    def close(self) -> None:
        self.executor.shutdown(wait=True)

    @property
    def exhausted(self) -> bool:
        return self.timeouts >= self.max_timeouts

    def side(self, which: int, inputs: Sequence[tuple], cpu: float | None = None) -> list[Behaviour]:
        """One program's behaviour on each input; a call that ends the candidate starts a fresh batch after it.

        Stops early (fewer behaviours than inputs) once the search's timed-out calls reach ``max_timeouts``.
        """
        from assay.sandbox import Call, InfraError

        cpu = cpu or self.cpu
        calls = [Call(self.entry_point, tuple(args), cpu_seconds=cpu) for args in inputs]
        out: list[Behaviour] = []
        limits = self.limits if cpu == self.cpu else self.limits.with_cpu(cpu)
        while len(out) < len(calls):
            if self.exhausted and out:
                break
            with self._lock:
                self.runs += 1
            try:
                batch = self.sandbox.run_calls(self.programs[which], calls[len(out) :], limits=limits)
            except InfraError as exc:
                out += [Behaviour("infra_error", message=_short(str(exc)))] * (len(calls) - len(out))
                break
            if not batch.loaded:
                out += [Behaviour.from_reply(batch.load, loading=True)] * (len(calls) - len(out))
                break
            out += [Behaviour.from_reply(r) for r in batch.replies]
            if not batch.replies:  # nothing answered: count the first call as crashed rather than loop
                out.append(Behaviour("crash", message="no reply"))
            if out[-1].status == "timeout":
                with self._lock:
                    self.timeouts += 1
        return out

    def both(self, inputs: Sequence[tuple], cpu: float | None = None) -> tuple[list[Behaviour], list[Behaviour]]:
        first = self.executor.submit(self.side, 0, inputs, cpu)
        second = self.executor.submit(self.side, 1, inputs, cpu)
        return first.result(), second.result()


def find_distinguishing_input(
    sandbox: Any,
    program_a: str,
    program_b: str,
    entry_point: str,
    seeds: Sequence[tuple] = (),
    budget: int = 300,
    *,
    seed: int = 0,
    phases: Sequence[str] = PHASES,
    cpu_seconds: float = 0.25,
    memory_bytes: int = 512 * MiB,
    batch_size: int = 32,
    max_timeouts: int = 12,
    shrink: bool = True,
    shrink_budget: int = 60,
    shapes: list[Shape] | None = None,
    model: Any = None,
) -> DiffResult:
    """Search for an input on which ``program_a`` and ``program_b`` (sources defining ``entry_point``) behave differently.

    ``seeds``: example argument tuples (their types guide the search). ``budget``: at most this many
    distinct inputs. ``phases``: which of ``seed``, ``mutation``, ``hypothesis``, ``random`` to use
    (``("random",)`` is the random-only baseline). ``max_timeouts``: give up once this many calls
    timed out (two programs that hang everywhere agree, slowly). ``model``: a model
    (:class:`assay.models.base.Model`) or a :class:`ModelProposer`, asked for inputs after the
    other phases, with inputs the programs agree on as feedback (Mokav-style); its rounds have
    ``proposer.reserve`` inputs of the budget kept for them.
    """
    started = time.monotonic()
    rng = random.Random(seed)
    seeds = [tuple(s) for s in seeds]
    shapes = shapes if shapes is not None else infer_shapes(seeds)
    notes: list[str] = []
    if not shapes:
        shapes = shapes_from_signature(program_a, entry_point) or shapes_from_signature(program_b, entry_point) or []
        if shapes:
            notes.append("no example inputs: argument types from the signature of %s" % entry_point)
    generator = Generator(shapes, rng)
    result = DiffResult(False, shapes=", ".join(s.describe() for s in shapes) or "no arguments", notes=notes, entry_point=entry_point)
    runner = _Runner(sandbox, program_a, program_b, entry_point, cpu_seconds, memory_bytes, max_timeouts)
    seen: set[str] = set()
    proposer = None if model is None else model if hasattr(model, "propose") else ModelProposer(model)
    reserve = min(budget, proposer.reserve) if proposer is not None else 0
    state = SearchState(program_a, program_b, entry_point)

    def fresh(candidates: Iterable[tuple], limit: int) -> list[tuple]:
        out = []
        for args in candidates:
            if len(out) >= limit:
                break
            key = _key(args)
            if key in seen:
                continue
            seen.add(key)
            out.append(args)
        return out

    def batches() -> Iterable[tuple[str, list[tuple]]]:
        if "seed" in phases and seeds:
            yield "seed", fresh(seeds, budget)
        if "mutation" in phases and seeds:
            stream = iter(generator.mutations(seeds))
            share = budget // 2 if {"hypothesis", "random"} & set(phases) else budget
            taken = 0
            while taken < share:
                chunk = fresh(stream, min(batch_size, share - taken))
                if not chunk:
                    break
                taken += len(chunk)
                yield "mutation", chunk
        drawn: list[tuple] = []
        if "hypothesis" in phases and shapes:
            try:
                drawn = generator.hypothesis_inputs(max(budget, 1), seed)
            except ImportError:
                notes.append("Hypothesis is not installed: random values only")
            except Exception as exc:  # noqa: BLE001 - a strategy Hypothesis refuses must not end the search
                notes.append("Hypothesis could not draw inputs (%s: %s): random values only" % (type(exc).__name__, exc))
        hypothesis_stream = iter(drawn)
        size = min(16, batch_size)
        stalls = 0
        while stalls < 3:
            produced = False
            if drawn:
                chunk = fresh(hypothesis_stream, size)
                if chunk:
                    produced = True
                    yield "hypothesis", chunk
            if "random" in phases or ("hypothesis" in phases and not drawn):
                chunk = fresh((generator.random_input() for _ in range(size * 4)), size)
                if chunk:
                    produced = True
                    yield "random", chunk
            stalls = 0 if produced else stalls + 1
            size = min(size * 2, batch_size)
        if proposer is not None:
            for chunk in proposer.propose(state):
                got = fresh(chunk, batch_size)
                if got:
                    yield "model", got
                else:
                    state.notes.append("the model proposed nothing new")

    try:
        if len(shapes) == 0 and not seeds:
            candidates: Iterable[tuple[str, list[tuple]]] = [("seed", [()])]  # a function of no arguments: one call tells
        else:
            candidates = batches()
        for source, inputs in candidates:
            room = budget - result.tried - (0 if source == "model" else reserve)
            if room <= 0:
                if source == "model" or proposer is None:
                    break
                continue  # the rest of the budget is the model's
            inputs = inputs[:room]
            a_side, b_side = runner.both(inputs)
            ran = min(len(a_side), len(b_side))  # fewer than asked when the timeouts ran out
            result.tried += ran
            result.tried_by_source[source] = result.tried_by_source.get(source, 0) + ran
            for args, a, b in zip(inputs, a_side, b_side):
                if a.same_as(b):
                    state.agreed.append((args, a))
                    continue
                confirmed = _confirm(runner, args, a, b)
                if confirmed is None:
                    result.notes.append("%s: a difference that did not repeat (%s vs %s), ignored" % (call_text(args, entry_point), a.describe(), b.describe()))
                    continue
                result.found, result.args, result.source = True, args, source
                result.a, result.b = confirmed
                break
            if result.found:
                break
            if runner.exhausted:
                result.notes.append("gave up after %d timed-out calls (both programs time out alike)" % runner.timeouts)
                break
        if result.found and shrink:
            _shrink(runner, generator, result, shrink_budget)
    finally:
        runner.close()
    result.notes += state.notes
    result.sandbox_runs = runner.runs
    result.seconds = time.monotonic() - started
    return result


def _confirm(runner: _Runner, args: tuple, a: Behaviour, b: Behaviour) -> tuple[Behaviour, Behaviour] | None:
    """Run the input again on its own (a timed-out side with 4x the CPU); the behaviours if they still differ."""
    cpu = runner.cpu * 4 if "timeout" in (a.status, b.status) else runner.cpu
    again_a, again_b = runner.both([args], cpu)
    a2, b2 = again_a[0], again_b[0]
    if a2.same_as(b2):
        return None
    return a2, b2


def _shrink(runner: _Runner, generator: Generator, result: DiffResult, budget: int) -> None:
    """Greedy: while a simpler input still distinguishes the programs, take it."""
    assert result.args is not None
    original, spent = result.args, 0
    slow = "timeout" in (result.a.status if result.a else "", result.b.status if result.b else "")
    if slow:
        return  # shrinking a timeout costs a CPU limit per try
    while spent < budget:
        options = [o for o in generator.simpler(result.args) if _key(o) != _key(result.args)][: budget - spent]
        if not options:
            break
        spent += len(options)
        a_side, b_side = runner.both(options)
        for args, a, b in zip(options, a_side, b_side):
            if not a.same_as(b):
                result.args, result.a, result.b = args, a, b
                break
        else:
            break
    if result.args != original:
        result.shrunk_from = original


# ---------------------------------------------------------------- model-proposed inputs (Mokav)


@dataclass
class SearchState:
    """What a proposer may see of a search: the two programs, and inputs they agreed on so far (with what they did)."""

    program_a: str
    program_b: str
    entry_point: str
    agreed: list[tuple[tuple, Behaviour]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


PROPOSER_SYSTEM = (
    "You are testing two Python programs that are meant to compute the same function. "
    "Find inputs on which they behave differently (different results, an exception in one, a hang in one)."
)
PROPOSER_TEMPLATE = """Program A:
```python
{a}
```

Program B:
```python
{b}
```

They behave the same on these inputs (what both did):
{agreed}

Write {count} new calls of `{entry}` whose arguments are Python literals, one per line, in one ```python block, for example `{entry}(...)`. Choose inputs where A and B are likely to differ; do not repeat the inputs above."""


class ModelProposer:
    """Asks a model for inputs that split two programs, showing it inputs they agree on (execution feedback, as in Mokav).

    Each round sends the programs and the latest agreed inputs with their behaviours, reads the
    reply's ``f(...)`` lines with ``ast.literal_eval`` (never running them here) and hands the
    inputs to the search, which runs them in the sandbox; the next round sees what they did.
    """

    def __init__(self, model: Any, params: Any = None, rounds: int = 3, per_round: int = 8, shown: int = 12) -> None:
        self.model = model
        self.params = params
        self.rounds = rounds
        self.per_round = per_round
        self.shown = shown
        self.calls = 0

    @property
    def reserve(self) -> int:
        return self.rounds * self.per_round

    def messages(self, state: SearchState) -> list[Any]:
        from assay.models.base import Message

        recent = state.agreed[-self.shown :]
        agreed = "\n".join("- %s: %s" % (call_text(args, state.entry_point), behaviour.describe()) for args, behaviour in recent) or "- (none yet)"
        user = PROPOSER_TEMPLATE.format(a=state.program_a.strip(), b=state.program_b.strip(), agreed=agreed, count=self.per_round, entry=state.entry_point)
        return [Message.system(PROPOSER_SYSTEM), Message.user(user)]

    def propose(self, state: SearchState) -> Iterable[list[tuple]]:
        from assay.models.base import GenerationParams, ModelError, generate_sync

        params = self.params or GenerationParams(temperature=0.8, max_tokens=512, seed=0)
        for _ in range(self.rounds):
            self.calls += 1
            try:
                completions = generate_sync(self.model, self.messages(state), params)
            except ModelError as exc:
                state.notes.append("the model failed: %s" % exc)
                return
            inputs: list[tuple] = []
            for completion in completions:
                found, rejected = proposed_inputs(completion.text, state.entry_point)
                inputs += found
                if rejected:
                    state.notes.append("model lines not read as inputs: %s" % "; ".join(rejected[:3]))
            yield inputs[: self.per_round * max(1, len(completions))]


def proposed_inputs(text: str, entry_point: str) -> tuple[list[tuple], list[str]]:
    """The argument tuples of the ``entry_point(...)`` calls in a reply (literals only), and the calls that were not."""
    from assay.oracles.examples import Unparseable, _closing, parse_call

    found, rejected = [], []
    for line in text.splitlines():
        line = line.strip().removeprefix(">>>").strip()
        for prefix in ("assert ", "print("):
            if line.startswith(prefix):
                line = line[len(prefix) :]
        if not line.startswith(entry_point + "("):
            continue
        end = _closing(line, len(entry_point))
        try:
            args, kwargs = parse_call(line[:end] if end > 0 else line)
        except Unparseable as exc:
            rejected.append("%s (%s)" % (line[:60], exc))
            continue
        if kwargs:
            rejected.append("%s (keyword arguments)" % line[:60])
            continue
        found.append(args)
    return found, rejected


# ---------------------------------------------------------------- the oracle


class DifferentialOracle:
    """Adds inputs that split the candidate programs to ``pool.inputs`` (and what each side did to ``pool.extras``)."""

    kind = OracleKind.DIFFERENTIAL

    def __init__(self, budget: int = 200, max_pairs: int = 8, cpu_seconds: float = 0.25) -> None:
        self.budget = budget
        self.max_pairs = max_pairs
        self.cpu_seconds = cpu_seconds

    async def build(self, context: OracleContext) -> None:
        candidates = list(dict.fromkeys(context.candidates))  # the same program twice splits nothing
        if len(candidates) < 2:
            return
        seeds = seed_inputs(context)
        pairs = [(0, j) for j in range(1, len(candidates))] + [(i, i + 1) for i in range(1, len(candidates) - 1)]
        extras = context.pool.extras.setdefault(OracleKind.DIFFERENTIAL.value, [])
        known = {_key(tuple(args)) for args in context.pool.inputs}
        for i, j in pairs[: self.max_pairs]:
            result = await asyncio.to_thread(
                find_distinguishing_input, context.sandbox, candidates[i], candidates[j], context.problem.entry_point, seeds, self.budget,
                seed=context.seed, cpu_seconds=self.cpu_seconds, model=ModelProposer(context.model, context.params) if context.model is not None else None,
            )  # fmt: skip
            entry = {"pair": [i, j], **result.to_dict()}  # candidates' positions; "a"/"b" are their behaviours
            extras.append(entry)
            if result.found and result.args is not None and _key(result.args) not in known:
                known.add(_key(result.args))
                context.pool.inputs.append(result.args)


def seed_inputs(context: OracleContext) -> list[tuple]:
    """Example inputs to guide a search: the pool's tests' arguments and the problem's visible call tests'."""
    seeds = [t.test.args for t in context.pool.tests if not t.test.kwargs]
    seeds += [t.args for t in context.problem.visible_tests() if isinstance(t, CallTest) and not t.kwargs]
    unique: dict[str, tuple] = {}
    for args in seeds:
        unique.setdefault(_key(tuple(args)), tuple(args))
    return list(unique.values())


@hookimpl
def register_oracles(register: Callable[..., None]) -> None:
    register("differential", DifferentialOracle(), "inputs on which two candidate programs differ (seeded mutation, Hypothesis and random search in the sandbox)")
