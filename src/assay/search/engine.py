"""One engine for every search method: a preset says which operators, which policy, which oracles and what budget.

For one problem, :class:`Search` builds the oracle pool from the problem as
a strategy sees it (no hidden tests, no reference), makes the first nodes
(plans, or programs), runs every program on the pool (:class:`~assay.search.value.Checker`),
and then, while the budget lasts and no program passes every check, lets
the preset's policy pick an open node and its operator grow it. Values come
from execution only. The answer is the best program by the preset's
selection; the hidden tests judge it afterwards, in :mod:`assay.solve`,
out of the search's reach. Every node goes to the store as it is made.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from assay.models.accounting import Budget, BudgetExhausted
from assay.models.base import Completion, GenerationParams, Message
from assay.oracles import OracleContext
from assay.oracles.pool import OraclePool
from assay.plugins import ORACLES
from assay.search import operators
from assay.search.feedback import check_feedback, trace_feedback
from assay.search.policies import POLICIES
from assay.search.tree import Node, NodeKind, Tree
from assay.search.value import Checker, value_of
from assay.solve import Candidate, SolveTask

EXPANSIONS = ("none", "debug", "trace-debug", "reflexion", "rethink")
SELECTIONS = ("value", "s-star")
PRIORS = ("uniform", "model-rank")


@dataclass(frozen=True)
class Preset:
    """A search method as data. Fields left at their defaults do nothing."""

    name: str
    summary: str  # one line: what it does, and the paper it follows
    initial: int = 1  # programs sampled at the start (per plan when planning)
    greedy_first: bool = False  # the first of them by greedy decoding, the rest only if it does not pass the checks
    plans: int = 0  # > 0: first this many strategies in words, each implemented
    plan_temperature: float | None = None  # for the strategies (None: ``temperature``)
    expand: str = "none"  # the operator on an open program: none | debug | trace-debug | reflexion | rethink (rewrite the plan it followed, re-implement)
    trace: bool = False  # the feedback also holds the failing call's trace (always with trace-debug)
    max_rethinks: int = 2  # rewrites of one plan's lineage (rethink, revision of a pruned plan)
    prune_below: float | None = None  # a plan whose first ``prune_after`` programs all pass at most this share of the checks is pruned
    prune_after: int = 2
    revise_pruned: bool = False  # a pruned plan is rewritten once from its programs' evidence, and implemented again
    priors: str = "uniform"  # PUCT priors of the children of one expansion: uniform | model-rank (the model ranks them, one call)
    branching: int = 1  # children per expansion
    max_expansions: int = 1  # times one node may be expanded
    max_depth: int = 3
    policy: str = "linear"
    exploration: float = 1.0
    select: str = "value"  # value | s-star (pairwise, by a distinguishing input)
    oracle_kinds: tuple[str, ...] = ("examples",)
    property_trust: float = 0.0  # properties kept by the pool (valid, not vacuous) at least this trusted are checks
    temperature: float = 0.0  # for the first programs
    expand_temperature: float = 0.0  # for repairs
    max_tokens: int = 512
    max_calls: int | None = 10  # model calls per problem, oracles included
    max_model_tokens: int | None = None
    max_sandbox_runs: int | None = 300
    max_seconds: float | None = None  # wall seconds per problem
    stop_when_passing: bool = True  # stop as soon as a program passes every check (and there are checks)

    def __post_init__(self) -> None:
        if self.expand not in EXPANSIONS:
            raise ValueError(f"preset {self.name}: expand must be one of {EXPANSIONS}")
        if self.policy not in POLICIES:
            raise ValueError(f"preset {self.name}: policy must be one of {sorted(POLICIES)}")
        if self.select not in SELECTIONS:
            raise ValueError(f"preset {self.name}: select must be one of {SELECTIONS}")
        if self.priors not in PRIORS:
            raise ValueError(f"preset {self.name}: priors must be one of {PRIORS}")
        if (self.expand == "rethink" or self.prune_below is not None) and self.plans <= 0:
            raise ValueError(f"preset {self.name}: rethinking and pruning work on plans: set plans > 0")

    def params(self, temperature: float) -> GenerationParams:
        return GenerationParams(temperature=temperature, max_tokens=self.max_tokens)


@dataclass
class Spent:
    calls: int = 0
    tokens: int = 0
    sandbox_runs: int = 0
    seconds: float = 0.0
    nodes: int = 0
    stopped: str = ""  # why the search stopped

    def to_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "tokens": self.tokens, "sandbox_runs": self.sandbox_runs, "seconds": round(self.seconds, 3), "nodes": self.nodes, "stopped": self.stopped}


@dataclass
class SearchResult:
    best: Node | None
    tree: Tree
    pool: OraclePool
    spent: Spent = field(default_factory=Spent)


class SandboxBudgetExhausted(Exception):
    pass


class TokenGuard:
    """The task as the operators see it: a model call is made only if its worst case fits the token budget left.

    The worst case of a call is its prompt's bytes (a byte-level token covers
    at least one byte), a few tokens per message for the chat template, and
    ``n * max_tokens`` completion tokens. So a preset's ``max_model_tokens``
    is never exceeded, not only checked before each call.
    """

    TEMPLATE_TOKENS = 8  # per message, for the chat template's markers

    def __init__(self, task: SolveTask, budget: Budget) -> None:
        self.task = task
        self.budget = budget

    def __getattr__(self, name: str) -> Any:
        return getattr(self.task, name)

    async def generate(self, messages: Sequence[Message], params: GenerationParams | None = None, *, index: int = 0) -> list[Completion]:
        params = params or self.task.params
        left = self.budget.remaining_tokens
        if left is not None:
            worst = sum(len(m.content.encode()) + self.TEMPLATE_TOKENS for m in messages) + params.n * params.max_tokens
            if worst > left:
                raise BudgetExhausted(self.budget, f"{self.budget.spent.total_tokens} tokens used of {self.budget.max_tokens}; the next call could take {worst}")
        return await self.task.generate(messages, params, index=index)


class Search:
    """One preset on one problem."""

    def __init__(self, preset: Preset, task: SolveTask) -> None:
        self.preset = preset
        self.task = task
        self.tree = Tree()
        self.budget = Budget(max_calls=preset.max_calls, max_tokens=preset.max_model_tokens, label=f"{preset.name} search")
        task.limit(self.budget)
        self.model: Any = TokenGuard(task, self.budget)  # what operators and oracles ask (a SolveTask, guarded)
        self.started = time.monotonic()
        self.checker: Checker | None = None
        self.next_index = 0
        self.spent = Spent()

    # ---------------------------------------------------------------- the loop

    async def run(self) -> SearchResult:
        preset = self.preset
        pool = OraclePool(self.task.problem.task_id)
        try:
            pool = await self.build_pool()
            self.checker = Checker(self.task.sandbox, self.task.problem, pool, property_trust=self.preset.property_trust)
            await self.start()
            while not self.done():
                node = POLICIES[preset.policy](self.tree, self.is_open, preset.exploration)
                if node is None:
                    self.spent.stopped = "nothing left to expand"
                    break
                node.expanded += 1
                self.task.record_node(node.row())
                await self.expand(node)
        except BudgetExhausted as exc:
            self.spent.stopped = str(exc)
        except SandboxBudgetExhausted as exc:
            self.spent.stopped = str(exc)
        best = await self.select()
        for node in self.tree.nodes:  # once more, in the order they were made, with the statistics the search ended with
            self.task.record_node(node.row())
        self.spent.calls, self.spent.tokens = self.budget.spent.calls, self.budget.spent.total_tokens
        self.spent.sandbox_runs = self.checker.sandbox_runs if self.checker else 0
        self.spent.seconds = time.monotonic() - self.started
        self.spent.nodes = len(self.tree.nodes)
        return SearchResult(best, self.tree, pool, self.spent)

    def done(self) -> bool:
        preset = self.preset
        if preset.stop_when_passing and any(n.solved for n in self.tree.programs()):
            self.spent.stopped = "a program passes every check"
            return True
        if preset.max_seconds is not None and time.monotonic() - self.started > preset.max_seconds:
            self.spent.stopped = f"{preset.max_seconds:g} s spent"
            return True
        if self.budget.exhausted:
            self.spent.stopped = self.budget.exhausted_limit() or "budget spent"
            return True
        return False

    def is_open(self, node: Node) -> bool:
        preset = self.preset
        if node.kind is NodeKind.PLAN:  # a pruned plan waiting for its one revision
            return preset.revise_pruned and node.expanded == 0 and bool(node.retired) and node.retired.startswith("pruned") and node.revision < preset.max_rethinks
        if preset.expand == "none" or node.expanded >= preset.max_expansions or node.depth >= preset.max_depth:
            return False
        if node.kind is NodeKind.PROGRAM:
            if node.under_retired():
                return False
            if preset.expand == "rethink" and ((plan := node.plan()) is None or plan.revision >= preset.max_rethinks):
                return False
            return node.check is not None and not node.solved and not node.check.infra_error and node.check.total > 0
        return False

    async def build_pool(self) -> OraclePool:
        pool = OraclePool(self.task.problem.task_id)
        params = self.preset.params(0.8)
        context = OracleContext(self.task.problem, self.task.sandbox, pool, model=self.model, params=params)
        for kind in self.preset.oracle_kinds:
            await ORACLES.get(kind).build(context)
        return pool

    async def start(self) -> None:
        preset = self.preset
        params = preset.params(preset.temperature)
        if preset.plans > 0:
            plan_params = params if preset.plan_temperature is None else preset.params(preset.plan_temperature)
            plans = [self._add(NodeKind.PLAN, "plan", made.content, None, made)
                     for made in await operators.plan(self.model, preset.plans, plan_params, index=self._indices(preset.plans)) if made.content]  # fmt: skip
            await self._rank(plans)
            for plan_node in plans:
                await self._implement(plan_node, params)
                if self.done():
                    return
            return
        sampled = preset.initial
        if preset.greedy_first and sampled > 0:
            for made in await operators.implement(self.model, 1, preset.params(0.0), index=self._indices(1)):
                await self._program(made, "implement", None)
            sampled -= 1
            if sampled == 0 or self.done():
                return
        for made in await operators.implement(self.model, sampled, params, index=self._indices(sampled)):
            await self._program(made, "implement", None)

    async def expand(self, node: Node) -> None:
        preset = self.preset
        params = preset.params(preset.expand_temperature)
        if node.kind is NodeKind.PLAN:  # a pruned plan: rewrite it from the evidence of its best program (CodeTree's revision)
            tried = [n for n in node.descendants() if n.kind is NodeKind.PROGRAM and n.check is not None]
            best = max(tried, key=lambda n: (n.value.key() if n.value else (), -int(n.id)), default=None)
            evidence = await self._evidence(best) if best is not None else "No program following it could be checked."
            await self._rethink(node, evidence, best.content if best is not None else None, params)
            return
        program, feedback = node.content, await self._evidence(node)
        if preset.expand == "rethink":  # RethinkMCTS: the plan the failing program followed is the thought the evidence blames
            blamed = node.plan()
            if blamed is not None and not blamed.retired:
                await self._rethink(blamed, feedback, program, params)
            return
        if preset.expand == "reflexion":
            made = await operators.reflect(self.model, program, feedback, params, index=self._indices(1))
            if not made.content:
                return
            reflection = self._add(NodeKind.REFLECTION, "reflect", made.content, node, made)
            memory = [n.content for n in [reflection, *reflection.ancestors()] if n.kind is NodeKind.REFLECTION]
            children = [await self._program(attempt, "implement", reflection)
                        for attempt in await operators.implement(self.model, preset.branching, params, reflections=list(reversed(memory)), index=self._indices(preset.branching))]  # fmt: skip
            await self._rank([c for c in children if c is not None])
            return
        children = [await self._program(made, "trace-debug" if preset.expand == "trace-debug" else "debug", node)
                    for made in await operators.debug(self.model, program, feedback, params, n=preset.branching, index=self._indices(preset.branching))]  # fmt: skip
        await self._rank([c for c in children if c is not None])

    async def _evidence(self, node: Node) -> str:
        """What running ``node``'s program showed: the failing checks, and with trace-level feedback the failing call's trace."""
        feedback = node.feedback or ""
        if self.preset.expand == "trace-debug" or self.preset.trace:
            failing = self._first_failing_input(node)
            if failing is not None:
                trace = await asyncio.to_thread(trace_feedback, self.task.sandbox, self.task.problem, node.content, failing)
                if trace:
                    feedback = feedback + "\n\n" + trace
        return feedback

    async def _rethink(self, blamed: Node, evidence: str, program: str | None, params: GenerationParams) -> Node | None:
        """Rewrite the blamed plan from the evidence; the new plan takes its place (same parent, its statistics) and is implemented."""
        made = await operators.rethink(self.model, blamed.content, evidence, params, program=program, index=self._indices(1))
        if not made.content:
            return None
        new = self._add(NodeKind.PLAN, "rethink", made.content, blamed.parent, made)
        new.replaces, new.prior, blamed.replaced_by = blamed, blamed.prior, new
        new.visits, new.value_sum = blamed.visits, blamed.value_sum  # the thought is rewritten in place: what was learnt of it stays
        new.feedback = "rewrites plan %s" % blamed.id
        blamed.retired = ("%s; " % blamed.retired if blamed.retired else "") + "rethought as plan %s" % new.id
        self.task.record_node(blamed.row())
        self.task.record_node(new.row())
        await self._implement(new, self.preset.params(self.preset.temperature))
        return new

    async def _implement(self, plan_node: Node, params: GenerationParams) -> None:
        n = self.preset.initial
        children = [await self._program(program, "implement", plan_node)
                    for program in await operators.implement(self.model, n, params, plan=plan_node.content, index=self._indices(n))]  # fmt: skip
        await self._rank([c for c in children if c is not None])

    async def _rank(self, siblings: list[Node]) -> None:
        """PUCT priors for the children of one expansion: the model's ranking of them (``priors="model-rank"``), one call."""
        if self.preset.priors != "model-rank" or len(siblings) < 2 or self.done():
            return
        order, made = await operators.rank(self.model, [n.content for n in siblings], self.preset.params(0.0), index=self._indices(1))
        weights = [0.0] * len(siblings)
        for place, position in enumerate(order):  # linear in the rank: the first of k gets k, the last 1; unranked ones get 1/2
            weights[position] = float(len(siblings) - place)
        weights = [w or 0.5 for w in weights]
        for node, weight in zip(siblings, weights):
            node.prior = weight / sum(weights)
            self.task.record_node(node.row())

    # ---------------------------------------------------------------- nodes

    def _indices(self, n: int) -> int:
        first, self.next_index = self.next_index, self.next_index + n
        return first

    def _add(self, kind: NodeKind, operator: str, content: str, parent: Node | None, made: operators.Made) -> Node:
        node = self.tree.add(kind, operator, content, parent, prompt=[m.to_dict() for m in made.messages], reply=made.reply, sample_index=made.sample_index)
        self.task.record_node(node.row())
        return node

    async def _program(self, made: operators.Made, operator: str, parent: Node | None) -> Node | None:
        if not made.content:
            return None
        node = self._add(NodeKind.PROGRAM, operator, made.content, parent, made)
        assert self.checker is not None
        if self.preset.max_sandbox_runs is not None and self.checker.sandbox_runs >= self.preset.max_sandbox_runs:
            raise SandboxBudgetExhausted(f"{self.checker.sandbox_runs} sandbox runs used of {self.preset.max_sandbox_runs}")
        node.check = await asyncio.to_thread(self.checker.check, node.content)
        node.feedback = check_feedback(self.task.problem, self.checker.trusted_problem, node.check)
        self._revalue()
        self.tree.backpropagate(node, node.value.scalar() if node.value else 0.0)
        self.task.record_node(node.row())
        self._prune(node.plan())
        return node

    def _prune(self, plan: Node | None) -> None:
        """CodeTree's pruning: a plan whose first ``prune_after`` programs all pass at most ``prune_below`` of the checks is dropped."""
        preset = self.preset
        if preset.prune_below is None or plan is None or plan.retired:
            return
        tried = [n for n in plan.descendants() if n.kind is NodeKind.PROGRAM and n.check is not None and n.check.total > 0 and not n.check.infra_error]
        if len(tried) < preset.prune_after or any(n.check.fraction > preset.prune_below for n in tried):  # type: ignore[union-attr]
            return
        plan.retired = "pruned: its %d programs pass at most %.0f%% of the checks" % (len(tried), 100 * max(n.check.fraction for n in tried))  # type: ignore[union-attr]
        self.task.record_node(plan.row())

    def _revalue(self) -> None:
        """Agreement is over every program of the tree, so each new program changes everyone's."""
        checks = [n.check for n in self.tree.programs() if n.check is not None]
        for node in self.tree.programs():
            assert node.check is not None
            node.value = value_of(node.check, checks)

    def _first_failing_input(self, node: Node) -> tuple | None:
        assert self.checker is not None and node.check is not None
        failing = {v.name for v in node.check.failures()}
        for test in self.checker.trusted_problem.tests:
            if test.name in failing and hasattr(test, "args"):
                return tuple(test.args)  # type: ignore[union-attr]
        return None

    # ---------------------------------------------------------------- the answer

    async def select(self) -> Node | None:
        best = self.tree.best()
        if self.preset.select != "s-star" or best is None:
            return best
        return await self._s_star(best)

    async def _s_star(self, best: Node) -> Node:
        """S*: among the programs as good as the best on the checks, settle each disagreement by a distinguishing input."""
        from assay.oracles.differential import find_distinguishing_input

        assert best.check is not None and self.checker is not None
        contenders, seen = [], set()
        for node in sorted(self.tree.programs(), key=lambda n: (n.value.key() if n.value else (), -int(n.id)), reverse=True):
            if node.check is None or node.check.fraction < best.check.fraction or node.content.strip() in seen:
                continue
            seen.add(node.content.strip())
            contenders.append(node)
        winner = contenders[0]
        seeds = [tuple(t.args) for t in self.checker.trusted_problem.tests if hasattr(t, "args")]  # type: ignore[union-attr]
        for challenger in contenders[1:3]:
            found = await asyncio.to_thread(find_distinguishing_input, self.task.sandbox, winner.content, challenger.content, self.task.problem.entry_point, seeds, 120)
            if not found.found or found.a is None or found.b is None:
                continue
            call = "%s(%s)" % (self.task.problem.entry_point, ", ".join(repr(a) for a in found.args or ()))
            try:
                verdict, made = await operators.judge_outputs(self.model, call, found.a.describe(), found.b.describe(), self.preset.params(0.0), index=self._indices(1))
            except BudgetExhausted:
                break
            node = self._add(NodeKind.REFLECTION, "select", "%s: A=%s, B=%s -> %s" % (call, found.a.describe(), found.b.describe(), verdict or "?"), winner, made)
            node.feedback = found.summary()
            self.task.record_node(node.row())
            if verdict == "B":
                winner = challenger
        return winner


def search_strategy(preset: Preset):
    """The preset as a strategy for :func:`assay.solve.solve` (registered under the preset's name)."""

    async def strategy(task: SolveTask) -> list[Candidate]:
        result = await Search(preset, task).run()
        program = result.best.content if result.best is not None else None
        return [Candidate(0, program, "search:%s" % preset.name, spent=result.spent.to_dict())]

    strategy.__doc__ = preset.summary
    strategy.preset = preset  # type: ignore[attr-defined]
    return strategy
