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
from typing import TYPE_CHECKING, Any, Protocol

from assay.problems.model import Problem

if TYPE_CHECKING:
    from assay.models.accounting import MeteredModel
    from assay.models.base import GenerationParams
    from assay.oracles.pool import Discarded, OracleKind, OraclePool, OracleTest, Provenance
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

    async def ask(self, messages: list, kind: OracleKind) -> tuple[list, Provenance]:
        """The model's completions for an oracle's prompt (seeded by the context), and their provenance."""
        from assay.models.base import GenerationParams
        from assay.oracles.pool import Provenance

        assert self.model is not None
        params = self.params or GenerationParams(max_tokens=1024)
        if params.seed is None:
            params = params.replace(seed=self.seed)
        completions = await self.model.generate(messages, params)
        return completions, Provenance(kind, "model", model=self.model.name, prompt=messages[-1].content, seed=params.seed)


class Oracle(Protocol):
    """Adds tests (or inputs, or discarded entries with reasons) to ``context.pool``."""

    kind: OracleKind

    async def build(self, context: OracleContext) -> None: ...


_FROM_POOL = ("Discarded", "OracleKind", "OraclePool", "OracleTest", "Provenance")


def __getattr__(name: str) -> Any:
    """The pool's types, imported at first use: registering ``assay oracles`` (every command's start-up) does not load them."""
    if name in _FROM_POOL:
        from assay.oracles import pool

        return getattr(pool, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


__all__ = ["Discarded", "Oracle", "OracleContext", "OracleKind", "OraclePool", "OracleTest", "Provenance"]
