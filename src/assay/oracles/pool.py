"""An oracle pool: the tests a search may see for one problem, each with where it came from and how far it is believed.

A pool is built from the problem *as a strategy sees it* (no hidden tests, no
reference: :func:`assay.solve.strategy_view`), so nothing in it can carry a
hidden test. Every entry records its :class:`Provenance` (kind, source,
model, prompt, seed) and a ``trust`` in [0, 1] that is measured, not
assumed: 1.0 for examples the benchmark's authors wrote in the prompt, and
for model-written tests the share of evidence (agreement across candidates,
the reference where the builder may use one) that backs them. What was
thrown away is kept too, with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from assay.problems.model import CallTest, Problem, Trust
from assay.sandbox.harness import codec


class OracleKind(str, Enum):
    EXAMPLE = "example"  # extracted from the problem's text (doctests, "for example" lines)
    PROPERTY = "property"  # a model-written property, checked by Hypothesis in the sandbox
    GENERATED = "generated"  # a model-written input/output test, weighed by agreement
    DIFFERENTIAL = "differential"  # an input on which two programs differ
    STRESS = "stress"  # a model-written input generator with a size parameter


TRUST_OF_KIND = {
    OracleKind.EXAMPLE: Trust.GIVEN,
    OracleKind.PROPERTY: Trust.PROPERTY,
    OracleKind.GENERATED: Trust.GENERATED,
    OracleKind.DIFFERENTIAL: Trust.GENERATED,
    OracleKind.STRESS: Trust.STRESS,
}


@dataclass(frozen=True)
class Provenance:
    kind: OracleKind
    source: str  # "docstring", "model", "random", "hypothesis", ...
    model: str | None = None
    prompt: str | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "source": self.source, "model": self.model, "prompt": self.prompt, "seed": self.seed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Provenance":
        return cls(OracleKind(data["kind"]), data["source"], data.get("model"), data.get("prompt"), data.get("seed"))


@dataclass(frozen=True)
class OracleTest:
    """A call test a search may run, with its provenance and measured trust."""

    test: CallTest
    provenance: Provenance
    trust: float = 1.0
    note: str | None = None  # why the trust is what it is

    def to_dict(self) -> dict[str, Any]:
        t = self.test
        return {
            "name": t.name, "args": codec.encode(list(t.args)), "kwargs": codec.encode(dict(t.kwargs)), "expected": codec.encode(t.expected),
            "comparison": t.comparison, "abs_tol": t.abs_tol, "rel_tol": t.rel_tol, "function": t.function,
            "provenance": self.provenance.to_dict(), "trust": self.trust, "note": self.note,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OracleTest":
        provenance = Provenance.from_dict(data["provenance"])
        test = CallTest(
            name=data["name"], args=tuple(codec.decode(data["args"])), kwargs=dict(codec.decode(data["kwargs"])), expected=codec.decode(data["expected"]),
            comparison=data.get("comparison", "exact"), abs_tol=data.get("abs_tol", 0.0), rel_tol=data.get("rel_tol", 0.0), function=data.get("function"),
            hidden=False, trust=TRUST_OF_KIND[provenance.kind],
        )  # fmt: skip
        return cls(test, provenance, float(data.get("trust", 1.0)), data.get("note"))


@dataclass(frozen=True)
class Discarded:
    """Something an oracle made and the pool did not keep, and why."""

    kind: OracleKind
    what: str  # a short description (the test's call, the property's name)
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "what": self.what, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Discarded":
        return cls(OracleKind(data["kind"]), data["what"], data["reason"])


@dataclass
class OraclePool:
    """Everything a search may check a program of ``task_id`` against."""

    task_id: str
    tests: list[OracleTest] = field(default_factory=list)
    inputs: list[tuple] = field(default_factory=list)  # argument tuples worth running, expected outputs unknown or doubtful
    extras: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per kind, what is not a call test (properties, generators)
    discarded: list[Discarded] = field(default_factory=list)

    def add(self, test: OracleTest) -> None:
        self.tests.append(test)

    def discard(self, kind: OracleKind, what: str, reason: str) -> None:
        self.discarded.append(Discarded(kind, what, reason))

    def of_kind(self, kind: OracleKind) -> list[OracleTest]:
        return [t for t in self.tests if t.provenance.kind is kind]

    def trusted(self, at_least: float = 1.0) -> list[OracleTest]:
        return [t for t in self.tests if t.trust >= at_least]

    def as_problem(self, problem: Problem, at_least: float = 0.0) -> Problem:
        """``problem`` with the pool's tests (trust at least ``at_least``) as its only tests, all visible."""
        tests = tuple(replace(t.test, hidden=False) for t in self.tests if t.trust >= at_least)
        return replace(problem, tests=tests, reference=None)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per kind: tests kept, entries discarded, and (where a kind keeps any) its entries in ``extras``: properties, generators, counted apart from tests."""
        out: dict[str, dict[str, int]] = {}
        for test in self.tests:
            out.setdefault(test.provenance.kind.value, {"kept": 0, "discarded": 0})["kept"] += 1
        for gone in self.discarded:
            out.setdefault(gone.kind.value, {"kept": 0, "discarded": 0})["discarded"] += 1
        for kind, items in self.extras.items():
            out.setdefault(kind, {"kept": 0, "discarded": 0})["extras"] = len(items)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "tests": [t.to_dict() for t in self.tests],
            "inputs": [codec.encode(list(args)) for args in self.inputs],
            "extras": self.extras,
            "discarded": [d.to_dict() for d in self.discarded],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OraclePool":
        return cls(
            data["task_id"],
            [OracleTest.from_dict(t) for t in data.get("tests", ())],
            [tuple(codec.decode(args)) for args in data.get("inputs", ())],
            dict(data.get("extras") or {}),
            [Discarded.from_dict(d) for d in data.get("discarded", ())],
        )
