"""Search: turning execution feedback into better programs.

One engine (:mod:`assay.search.engine`) grows a tree (:mod:`.tree`) of
plans, reflections and programs with operators (:mod:`.operators`: implement,
plan, debug, reflect, rethink, rank, select), chosen by a policy (:mod:`.policies`:
linear, breadth-first, best-first, UCT, PUCT, with values backed up and plans
pruned or rewritten where a preset asks), valued by execution only
(:mod:`.value`: trusted oracles, then agreement, then a critic, then
efficiency), fed back as text (:mod:`.feedback`), within a budget. Each
method of the seed papers is a preset of it (:mod:`.presets`), registered as
a strategy of ``assay solve``; hidden tests judge the answer afterwards,
sealed away from the search (:mod:`assay.sealing`).
"""

from assay.search.engine import Preset, Search, SearchResult, search_strategy
from assay.search.tree import Node, NodeKind, Tree
from assay.search.value import Check, Checker, Value

__all__ = ["Check", "Checker", "Node", "NodeKind", "Preset", "Search", "SearchResult", "Tree", "Value", "search_strategy"]
