"""``fresh``: problems written for assay, in HumanEval's shape, that no model can have memorised.

Search results on HumanEval may measure memory rather than search. These
problems were written for this project (``data/fresh/problems.py`` is their
source; it writes ``data/fresh/problems.jsonl``): each has a prompt with
doctest examples, a canonical solution, a ``check(candidate)`` test and a
second, independent implementation (``alternative_solution``, used only by
``tests/test_fresh_problems.py``, never part of a :class:`Problem`). They are
loaded exactly like HumanEval's (:func:`assay.problems.humaneval.problem_from_record`).
Licence: the project's own (Apache-2.0).
"""

from __future__ import annotations

import functools
import json
from importlib import resources

from assay import sealing
from assay.problems.humaneval import problem_from_record
from assay.problems.model import Problem

BENCHMARK = "fresh"


@functools.cache
def records() -> tuple[dict, ...]:
    """The raw JSONL records (HumanEval's fields plus ``alternative_solution``)."""
    text = resources.files("assay").joinpath("data", "fresh", "problems.jsonl").read_text(encoding="utf-8")
    return tuple(json.loads(line) for line in text.splitlines() if line.strip())


@functools.cache
def _problems() -> tuple[Problem, ...]:
    fields = ("task_id", "prompt", "entry_point", "canonical_solution", "test")
    return tuple(problem_from_record({key: record[key] for key in fields}, benchmark=BENCHMARK) for record in records())


def load_problems() -> list[Problem]:
    """The fresh problems in task order."""
    sealing.refuse("loading the fresh problems")
    return list(_problems())
