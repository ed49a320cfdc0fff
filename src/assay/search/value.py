"""Values from execution only: a program's run on the oracle pool, and the order programs are ranked in.

The order is strict (the search issue's): first the trusted oracles (the
share of trusted tests and properties the program passes), then agreement
across all programs of the tree (the share of programs that behave like it
on the pool's inputs), then an optional model critic, then efficiency among
equally correct programs. :meth:`Value.key` sorts by exactly that;
:meth:`Value.scalar` folds it into [0, 1] for UCT / PUCT, with weights small
enough that agreement never outweighs one more trusted test passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from assay.oracles.pool import OraclePool
from assay.problems.model import CallTest, Problem
from assay.sandbox.calls import Call
from assay.sandbox.harness import codec
from assay.sandbox.verdict import SampleResult, Status, TestVerdict

TRUSTED = 0.999  # tests at or above this trust count as trusted oracles


@dataclass(frozen=True)
class Value:
    trusted: float  # share of trusted oracle checks passed, in [0, 1]
    agreement: float = 0.0  # share of the tree's programs that behave the same on the pool's inputs
    critic: float = 0.0  # an optional model critic's score, in [0, 1]
    efficiency: float = 0.0  # among equally correct programs (search part 2)

    def key(self) -> tuple[float, float, float, float]:
        return (self.trusted, self.agreement, self.critic, self.efficiency)

    def scalar(self) -> float:
        return 0.9 * self.trusted + 0.08 * self.agreement + 0.02 * self.critic

    def to_dict(self) -> dict[str, float]:
        return {"trusted": self.trusted, "agreement": self.agreement, "critic": self.critic, "efficiency": self.efficiency}


@dataclass
class Check:
    """One program on the pool: its verdicts on the trusted tests, the properties, and its behaviour on the pool's inputs."""

    result: SampleResult | None  # the trusted call tests (None when the pool has none)
    properties: list[Any] = field(default_factory=list)  # PropertyVerdicts (assay.oracles.properties)
    behaviour: tuple[str, ...] = ()  # one digest per pool input, for agreement
    sandbox_runs: int = 0

    @property
    def total(self) -> int:
        return (len(self.result.tests) if self.result else 0) + len(self.properties)

    @property
    def passed(self) -> int:
        tests = sum(t.passed for t in self.result.tests) if self.result else 0
        return tests + sum(1 for p in self.properties if p.passed)

    @property
    def fraction(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def all_passed(self) -> bool:
        return self.total > 0 and self.passed == self.total and not (self.result and self.result.load is not None)

    @property
    def infra_error(self) -> bool:
        return bool(self.result and self.result.is_infra_error)

    def failures(self) -> list[TestVerdict]:
        if self.result is None:
            return []
        if self.result.load is not None:
            return [self.result.load]
        return [t for t in self.result.tests if t.status not in (Status.PASS, Status.SKIPPED)]


class Checker:
    """Runs programs on one problem's oracle pool; never on hidden tests (it holds none)."""

    def __init__(self, sandbox: Any, problem: Problem, pool: OraclePool, *, property_trust: float = 0.5) -> None:
        self.sandbox = sandbox
        self.problem = problem
        self.pool = pool
        self.trusted_problem = pool.as_problem(problem, at_least=TRUSTED)
        self.properties = [p for p in pool.extras.get("property", []) if float(p.get("trust") or 0.0) >= property_trust]
        self.inputs = _distinct([t.test.args for t in pool.tests] + [tuple(a) for a in pool.inputs])
        self.sandbox_runs = 0

    def check(self, program: str) -> Check:
        result = self.sandbox.run(self.trusted_problem, program) if self.trusted_problem.tests else None
        runs = 1 if result is not None else 0
        properties = []
        if self.properties:
            from assay.oracles.properties import check_property

            for prop in self.properties:
                properties.append(check_property(self.sandbox, program, self.problem.entry_point, prop))
                runs += 3
        behaviour = self.behaviour(program)
        runs += 1 if self.inputs else 0
        self.sandbox_runs += runs
        return Check(result, properties, behaviour, runs)

    def behaviour(self, program: str) -> tuple[str, ...]:
        """What the program does on each pool input, as short comparable strings."""
        if not self.inputs:
            return ()
        batch = self.sandbox.run_calls(program, [Call(self.problem.entry_point, args, cpu_seconds=0.5) for args in self.inputs])
        out = []
        for i in range(len(self.inputs)):
            if not batch.loaded:
                out.append("no-load")
            elif i >= len(batch.replies):
                out.append("not-run")
            else:
                reply = batch.replies[i]
                out.append(repr(_plain(reply.value)) if reply.status == "ok" else "%s:%s" % (reply.status, reply.exception_type or ""))
        return tuple(out)


def agreement(programs: Sequence[Check], one: Check) -> float:
    """The share of ``programs`` that behave exactly like ``one`` on the pool's inputs (0 without inputs)."""
    if not one.behaviour or not programs:
        return 0.0
    return sum(1 for p in programs if p.behaviour == one.behaviour) / len(programs)


def value_of(check: Check, programs: Sequence[Check], critic: float = 0.0) -> Value:
    return Value(check.fraction, agreement(programs, check), critic)


def _plain(value: Any) -> Any:
    try:
        return codec.encode(value)
    except codec.Unencodable:
        return "<unencodable>"


def _distinct(inputs: Sequence[tuple]) -> list[tuple]:
    seen, out = set(), []
    for args in inputs:
        key = repr(_plain(list(args)))
        if key not in seen:
            seen.add(key)
            out.append(tuple(args))
    return out


def call_tests(pool: OraclePool, at_least: float = TRUSTED) -> list[CallTest]:
    return [t.test for t in pool.tests if t.trust >= at_least]
