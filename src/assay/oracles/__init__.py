"""Oracles: tests a search may see, each with its provenance and a measured trust.

An *oracle* adds to a problem's :class:`~assay.oracles.pool.OraclePool`.
Oracles are registered in :data:`assay.plugins.ORACLES` by kind name and
run with an :class:`OracleContext`, which holds the problem as a strategy
sees it (no hidden tests; no reference unless the caller allows the builder
to validate with it), the sandbox, and optionally a model and candidate
programs. Hidden tests are never in a context: code that holds a pool
cannot reach them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from assay.oracles.pool import Discarded, OracleKind, OraclePool, OracleTest, Provenance
from assay.problems.model import Problem

if TYPE_CHECKING:
    from assay.models.accounting import MeteredModel
    from assay.models.base import GenerationParams
    from assay.sandbox.pool import Sandbox


@dataclass
class OracleContext:
    """What an oracle may use to build tests for one problem."""

    problem: Problem  # as a strategy sees it: visible tests only, reference None
    sandbox: "Sandbox"
    pool: OraclePool
    model: "MeteredModel | None" = None
    params: "GenerationParams | None" = None
    candidates: list[str] = field(default_factory=list)  # programs written for the problem (agreement)
    reference: str | None = None  # only where the caller lets the builder validate with it
    seed: int = 0


class Oracle(Protocol):
    """Adds tests (or inputs, or discarded entries with reasons) to ``context.pool``."""

    kind: OracleKind

    async def build(self, context: OracleContext) -> None: ...


__all__ = ["Discarded", "Oracle", "OracleContext", "OracleKind", "OraclePool", "OracleTest", "Provenance"]
