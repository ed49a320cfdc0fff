"""The search methods of the seed papers, as presets of one engine.

Each preset is data (:class:`~assay.search.engine.Preset`) plus the lines
below naming its paper and what differs. All run on the same sandbox, the
same oracle pool (examples from the problem's text unless the preset asks
for more) and the same budgets, so they compare fairly; none sees a hidden
test. Every preset is registered as a strategy of ``assay solve``
(``--strategy NAME``); a plugin adds its own with ``register_strategies``
and :func:`~assay.search.engine.search_strategy`.

``greedy``
    One program, greedy decoding. The floor.
``best-of-n``
    CodeT-style reranking (Chen et al., "CodeT"): n samples at temperature
    0.8 in one call, ranked by the examples they pass, then by agreement
    (the share of samples that behave the same on the pool's inputs). CodeT
    also asks the model for tests; here the examples and agreement do it
    (add ``generated`` to the oracle kinds for CodeT's dual agreement).
``self-debug``
    Self-Debug (Chen et al., "Teaching Large Language Models to
    Self-Debug"): greedy, then up to 4 rounds of "here is what running it
    showed, fix it", fed with the failing visible examples (the call, the
    expected value, the first difference or the exception).
``reflexion``
    Reflexion (Shinn et al.): after a failure the model first writes a
    short self-reflection, then a new program with every reflection so far
    in its prompt (the episodic memory). The paper's tests are model-written;
    here the feedback comes from the problem's own examples (the "Revisit
    Self-Debugging" study found model-written tests make it worse).
``trace-debug``
    LDB (Zhong et al., "Debug like a Human"): the repair prompt also gets
    the failing call's trace, line by line with its variables, recorded by a
    tracer that runs in the sandbox. LDB splits the trace into basic blocks
    and asks the model to judge each; here the trace is given whole (first
    40 events).
``pgs``
    The property-generated solver ("Use Property-Based Testing to Bridge LLM
    Code Generation and Validation"): the model writes properties of the
    specification, Hypothesis checks them in the sandbox, and a violated
    property's confirmed, shrunk counterexample is the debug feedback,
    next to the examples.
``s-star``
    S* (Li et al., "S*: Test Time Scaling for Code Generation"): parallel
    samples, a debug round on each failing one, then selection: programs
    that tie on the checks but behave differently are told apart by a
    distinguishing input (found by :mod:`assay.oracles.differential`), and
    the model judges which output the specification asks for.
``default``
    What ``assay solve`` runs without ``--strategy`` once a bench backs it:
    one greedy program; only if it fails the checks, three samples at
    temperature 0.8, ranked by examples and agreement, then Self-Debug
    rounds from the best failing program (best-first), at most 10 model
    calls per problem. Greedy first because sampling at 0.8 costs a small
    model accuracy (best-of-2 fell to 13/20 where greedy had 17/20), and a
    problem that greedy solves on the checks needs nothing more. Until the search bench has run at
    scale, ``sample`` stays the CLI's default.

The tree presets (search, part 2):

``codetree``
    CodeTree (Li et al., "CodeTree: Agent-guided Tree Search for Code
    Generation with Large Language Models", 2024): three strategies in words
    (the Thinker, sampled at 0.8), each implemented greedily (the Solver),
    then repairs (the Debugger) where the values point (best-first).
    CodeTree's Critic agent scores nodes and decides to refine, abort or
    accept; here execution decides: a strategy whose implementation and one
    repair both pass none of the visible checks is pruned (nothing under it
    is expanded again), and rewritten once from its best program's evidence
    (the Thinker's revision), then implemented again. No model critic,
    feedback from the problem's examples only, at most 12 calls.
``rethink-mcts``
    RethinkMCTS (Li et al., "RethinkMCTS: Refining Erroneous Thoughts in
    Monte Carlo Tree Search for Code Generation"; GPT-3.5 70.1 -> 89.0 on
    HumanEval in the paper): MCTS (UCT) over thoughts, each thought rolled
    out into a program that runs on the visible checks, the value backed up
    the tree. When the program fails, *rethink*: the thought the evidence
    blames is rewritten from that evidence (the failing checks and the
    failing call's line-by-line trace, the paper's block-level feedback in
    LDB's manner) and takes the blamed thought's place, with its parent and
    its statistics; the old one is retired and the new one implemented
    again. Differs: a thought is a whole plan (up to five steps), not one
    step per tree level, so the blamed thought is the plan the program
    followed (no step-level blame); the reward is the execution value only
    (the paper adds a model self-evaluation once the visible tests pass);
    three first thoughts, at most two rewrites per lineage, 12 calls.
``lats``
    LATS (Zhou et al., "Language Agent Tree Search Unifies Reasoning,
    Acting, and Planning in Language Models"): UCT over programs; expanding
    a failing program writes a self-reflection and two new programs with
    the path's reflections in memory; every program's value is backed up
    to the root. LATS's own code builds the value from the benchmark's
    hidden tests (its issue 28); here the values come from the oracle pool
    only (the problem's examples and agreement), the hidden tests being
    sealed away, and there is no model-scored value term. At most 12 calls.
``lats-puct``
    LATS with PUCT selection and priors from the model, as in SWE-Search
    (Antoniades et al.): after each expansion the model ranks the new
    children (one greedy call, "most likely correct first"), and the prior
    of a child is linear in its rank (of k children the first gets k, the
    last 1, normalised; children the reply does not name get 1/2). Three
    children per expansion; SWE-Search's value agent and discriminator are
    not used (values come from execution). At most 14 calls.
"""

from __future__ import annotations

from typing import Callable

from assay.plugins import hookimpl
from assay.search.engine import Preset, search_strategy

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("greedy", "one program, greedy decoding", initial=1, max_calls=1),
        Preset("best-of-n", "n samples ranked by the examples, then by agreement (CodeT-style)", initial=8, temperature=0.8, max_calls=1),
        Preset("self-debug", "greedy, then repairs fed with the failing examples (Self-Debug)", expand="debug", max_depth=4, max_calls=5),
        Preset("reflexion", "self-reflection, then a new program with every reflection in memory (Reflexion)", expand="reflexion", max_depth=8, max_calls=9),
        Preset("trace-debug", "repairs fed with the failing call's line-by-line trace (LDB)", expand="trace-debug", max_depth=4, max_calls=5),
        Preset("pgs", "repairs fed with a property's shrunk counterexample (property-generated solver)", expand="debug", max_depth=4, oracle_kinds=("examples", "property"), max_calls=6),
        Preset("s-star", "parallel samples, a repair round each, selection by distinguishing inputs (S*)", initial=4, temperature=0.8, expand="debug",
               policy="breadth-first", max_depth=1, select="s-star", stop_when_passing=False, max_calls=10),  # fmt: skip
        Preset("default", "greedy, then samples ranked by examples and agreement, then best-first repairs; at most 10 calls", initial=4, greedy_first=True, temperature=0.8,
               expand="debug", policy="best-first", max_depth=3, max_expansions=2, max_calls=10),  # fmt: skip
        Preset("codetree", "strategies, implementations, best-first repairs; a strategy failing every check is pruned and revised (CodeTree)", plans=3, plan_temperature=0.8,
               initial=1, expand="debug", policy="best-first", max_depth=3, prune_below=0.0, prune_after=2, revise_pruned=True, max_rethinks=1,
               max_calls=12, max_model_tokens=24000),  # fmt: skip
        Preset("rethink-mcts", "MCTS over thoughts; a failing program's thought is rewritten from the evidence and re-implemented (RethinkMCTS)", plans=3,
               plan_temperature=0.8, initial=1, expand="rethink", trace=True, policy="uct", max_depth=8, max_rethinks=2, max_calls=12, max_model_tokens=24000),  # fmt: skip
        Preset("lats", "UCT over programs, reflections as expansions, values backed up from the visible checks (LATS)", initial=1, expand="reflexion", branching=2,
               expand_temperature=0.8, policy="uct", max_depth=6, max_calls=12, max_model_tokens=24000),  # fmt: skip
        Preset("lats-puct", "LATS with PUCT and priors from the model's ranking of the children (SWE-Search)", initial=1, expand="reflexion", branching=3,
               expand_temperature=0.8, policy="puct", priors="model-rank", max_depth=6, max_calls=14, max_model_tokens=28000),  # fmt: skip
    )
}


@hookimpl
def register_strategies(register: Callable[..., None]) -> None:
    for preset in PRESETS.values():
        strategy = search_strategy(preset)
        strategy.answers = 1  # type: ignore[attr-defined]  # a search gives one answer per problem
        register(preset.name, strategy, preset.summary)
