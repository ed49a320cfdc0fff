"""The ENAMEL problem set (Apache-2.0, https://github.com/q-rz/enamel), shipped in ``assay/data/enamel``.

ENAMEL reuses HumanEval's 164 tasks and adds, per task, an expert efficient
reference solution, an input generator with four size levels, and a checker
``__check(input, answer, output)``. Correctness tests are HumanEval's own.
ENAMEL's own evaluation (the ``enam`` package) scores the 142 problems in
:data:`EVALUATED_TASK_IDS`, with 8, 4, 4, 4 inputs per level and level
weights 0, 3, 3, 4.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from importlib import resources

from assay import sealing
from assay.problems import humaneval
from assay.problems.model import InputGenerator, Problem
from assay.problems.prompt import helper_code
from assay.samples import Sample

BENCHMARK = "enamel"
CHECKER_FUNCTION = "__check"
LEVEL_WEIGHTS = (0.0, 3.0, 3.0, 4.0)  # ENAMEL's default "hardness"
LEVEL_CASES = (8, 4, 4, 4)  # ENAMEL's default n_tests
SEED = 998244353  # ENAMEL's default seed; input k of problem i uses SEED ^ i ^ k

# Left out of ENAMEL's evaluation (enam.PROBLEMSET = range(164) minus these).
EXCLUDED_INDICES = frozenset(
    {2, 23, 41, 45, 53, 60, 71, 92, 97, 99, 102, 123, 124, 135, 137, 138, 144, 148, 156, 157, 159, 160}
)
EVALUATED_TASK_IDS: tuple[str, ...] = tuple(f"HumanEval/{i}" for i in range(164) if i not in EXCLUDED_INDICES)

SAMPLE_SETS = ("humaneval-canonical", "humanevalplus-canonical", "enamel-references")


def _data(name: str) -> str:
    return resources.files("assay").joinpath("data", "enamel", name).read_text(encoding="utf-8")


def generator_helpers() -> str:
    """Source of the helpers ENAMEL's generators call (``rand_parens``, ``rand_primality``...)."""
    return _data("generator_helpers.py")


def _levels(text: str) -> tuple[int, ...]:
    return tuple(int(size) for size in text.split())


def problem_from_row(row: dict[str, str], index: int) -> Problem:
    """Build a :class:`Problem` from one row of enamel.csv (``index`` = its position)."""
    task_id, entry_point = row["task_id"], row["entry_point"]
    prompt = row["prompt"] if row["prompt"].endswith("\n") else row["prompt"] + "\n"
    setup = helper_code(prompt, entry_point)
    generator_source = "\n\n".join(
        part.strip("\n") for part in (generator_helpers(), setup, row["input_generator"]) if part.strip()
    )
    generator = InputGenerator(
        source=generator_source + "\n",
        levels=_levels(row["input_levels"]),
        weights=LEVEL_WEIGHTS,
        cases_per_level=LEVEL_CASES[-1],
        level_cases=LEVEL_CASES,
    )
    return Problem(
        task_id=task_id,
        prompt=prompt,
        entry_point=entry_point,
        tests=humaneval.problems_by_id()[task_id].tests,
        reference=prompt + row["reference_solution"],
        setup=setup,
        generator=generator,
        checker=row["checker"],
        checker_function=CHECKER_FUNCTION,
        benchmark=BENCHMARK,
        metadata={
            "enamel_index": index,
            "enamel_seed": SEED,
            "evaluated_by_enamel": index not in EXCLUDED_INDICES,
        },
    )


@functools.cache
def _problems() -> tuple[Problem, ...]:
    rows = csv.DictReader(io.StringIO(_data("enamel.csv"), newline=""))
    return tuple(problem_from_row(row, index) for index, row in enumerate(rows))


def load_problems(evaluated_only: bool = False) -> list[Problem]:
    """All 164 ENAMEL problems, or only the 142 ENAMEL evaluates."""
    sealing.refuse("loading ENAMEL")
    problems = _problems()
    if evaluated_only:
        return [p for p in problems if p.metadata["evaluated_by_enamel"]]
    return list(problems)


def load_sample_set(name: str) -> list[Sample]:
    """One of ENAMEL's shipped sample files, as whole programs in task order.

    ``name`` is ``humaneval-canonical``, ``humanevalplus-canonical`` (the
    HumanEval / HumanEval+ canonical solutions) or ``enamel-references``.
    """
    if name not in SAMPLE_SETS:
        raise ValueError(f"unknown ENAMEL sample set {name!r}; choose one of {', '.join(SAMPLE_SETS)}")
    programs = json.loads(_data(f"{name}.json"))
    return [
        Sample(task_id=f"HumanEval/{position}", index=index, program=program)
        for position, per_task in enumerate(programs)
        for index, program in enumerate(per_task)
    ]
