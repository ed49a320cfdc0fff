"""Stress inputs at size levels, large enough to separate algorithms.

A problem's :class:`~assay.problems.model.InputGenerator` is trusted
benchmark code: it runs here, in the supervisor, seeded as ENAMEL seeds it
(input ``k`` of problem ``i`` uses ``seed ^ i ^ k``, with ``k`` counting on
across levels), so the inputs are the ones ENAMEL's own evaluator makes.
Expected outputs come from the reference solution, run in the sandbox like
any other program, one call at a time and timed: that run is also the first
native measurement of the reference a cost meter needs.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from assay.problems.model import CallTest, Problem, Trust
from assay.sandbox.calls import Mode
from assay.sandbox.pool import Sandbox

_GLOBAL_RANDOM = threading.Lock()  # generators seed the random module itself


class WorkloadError(Exception):
    """The problem cannot give stress inputs (no generator, or the reference fails)."""


@dataclass(frozen=True)
class StressLevel:
    level: int
    size: int
    weight: float
    tests: tuple[CallTest, ...]


@dataclass(frozen=True)
class ReferenceTiming:
    """The reference's CPU on one stress input while it computed the expected output (kernel-read, in the sandbox)."""

    cpu_ns: int  # the call's own window
    before_ns: int  # decoding the arguments
    after_ns: int  # encoding the result


@dataclass(frozen=True)
class Workload:
    task_id: str
    levels: tuple[StressLevel, ...]
    # per stress input, in order: the run that computed the expected outputs, one call at a time and timed
    # (a cost meter's first native run of the reference need not be made again)
    reference_timings: tuple[ReferenceTiming, ...] = ()

    @property
    def tests(self) -> tuple[CallTest, ...]:
        return tuple(t for level in self.levels for t in level.tests)


def generate_inputs(problem: Problem, problem_index: int | None = None, seed: int | None = None) -> list[list[tuple[Any, ...]]]:
    """The arguments of every stress input, per level."""
    generator = problem.generator
    if generator is None:
        raise WorkloadError("%s has no input generator (see docs/problems-format.md for how to supply one)" % problem.task_id)
    index = problem_index if problem_index is not None else int(problem.metadata.get("enamel_index", 0))
    base = seed if seed is not None else int(problem.metadata.get("enamel_seed", 0))
    namespace: dict[str, Any] = {"random": random}
    levels: list[list[tuple[Any, ...]]] = []
    with _GLOBAL_RANDOM:
        state = random.getstate()
        try:
            exec(compile(generator.source, "<generator %s>" % problem.task_id, "exec"), namespace)
            make = namespace[generator.function]
            offset = 0
            for level, size in enumerate(generator.levels):
                inputs = []
                for case in range(generator.cases_at(level)):
                    random.seed(base ^ index ^ (offset + case))
                    value = make(size=size, lid=level, cid=case)
                    inputs.append(tuple(value) if isinstance(value, (list, tuple)) else (value,))
                levels.append(inputs)
                offset += generator.cases_at(level)
        finally:
            random.setstate(state)
    return levels


def build_workload(problem: Problem, sandbox: Sandbox, problem_index: int | None = None, seed: int | None = None) -> Workload:
    """Stress inputs with expected outputs computed by the reference in the sandbox."""
    if not problem.reference:
        raise WorkloadError("%s has no reference solution to compute expected outputs" % problem.task_id)
    inputs = generate_inputs(problem, problem_index, seed)
    comparison = "checker" if problem.checker else "exact"
    unanswered = [
        CallTest("level%d_case%d" % (level, case), args, comparison=comparison, trust=Trust.STRESS)
        for level, cases in enumerate(inputs)
        for case, args in enumerate(cases)
    ]
    probe = Problem(problem.task_id, problem.prompt, problem.entry_point, tuple(unanswered), setup=problem.setup, benchmark=problem.benchmark)
    try:
        replies = sandbox.reference_replies(probe, problem.reference, mode=Mode.LOCKSTEP)
    except ValueError as exc:
        raise WorkloadError(str(exc)) from exc
    answers = [reply.value for reply in replies]
    timings = tuple(ReferenceTiming(r.measurement.cpu_ns, r.measurement.cpu_before_ns, r.measurement.cpu_after_ns) for r in replies)
    weights = problem.generator.weights or (1.0,) * len(problem.generator.levels)
    levels = []
    position = 0
    for level, cases in enumerate(inputs):
        tests = []
        for case, args in enumerate(cases):
            tests.append(CallTest("level%d_case%d" % (level, case), args, answers[position], comparison=comparison, trust=Trust.STRESS))
            position += 1
        levels.append(StressLevel(level, problem.generator.levels[level], weights[level], tuple(tests)))
    return Workload(problem.task_id, tuple(levels), timings)
