"""The CPU stress run: one program over a workload's stress inputs, each call timed in its window.

:func:`stress_run` is the evaluator's native run: the ``cpu-time`` path's
measurement (repeated, median per input) and the cheap screen before a
counting meter. One lock-step batch in one candidate process
(``Sandbox.run_calls(mode="lockstep")``), each call cut off at its CPU limit,
each answer judged with the test's comparison
(:func:`assay.sandbox.compare.compare_output`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from assay.metrics import LevelStatus
from assay.problems.model import CallTest, Problem
from assay.sandbox.calls import Call, Mode
from assay.sandbox.compare import compare_output
from assay.sandbox.judge import reply_status
from assay.sandbox.limits import Limits
from assay.sandbox.pool import Sandbox
from assay.sandbox.verdict import Status


@dataclass(frozen=True)
class StressRun:
    """One stress input's outcome in one run."""

    status: LevelStatus
    cpu_ns: int  # the call's window
    before_ns: int = 0  # before it: decoding the arguments
    after_ns: int = 0  # after it: encoding the result


# As in ENAMEL's evaluator, running out of room on a large input is a limit
# reached, not a wrong answer: the level and those above score 0, the sample
# still passes (MemoryError arrives as the memory status).
CENSORING_EXCEPTIONS = frozenset({"MemoryError", "OverflowError"})


# The candidate's harness marks the call's window, and candidate code could
# forge the marks (say, "returned" at once, then the real work). So the CPU
# before and after the window may exceed the reference's for the same input
# by this factor plus this margin; beyond that, everything the request cost
# counts, less the reference's own decoding and encoding.
OUTSIDE_FACTOR = 2.0
OUTSIDE_MARGIN_SECONDS = 0.0005


def call_cost(run: StressRun, allowance: tuple[float, float] | None) -> float:
    """Seconds a call cost: its window, unless too much happened outside it."""
    window, before, after = run.cpu_ns / 1e9, run.before_ns / 1e9, run.after_ns / 1e9
    if allowance is None:
        return window
    ref_before, ref_after = allowance
    if before <= OUTSIDE_FACTOR * ref_before + OUTSIDE_MARGIN_SECONDS and after <= OUTSIDE_FACTOR * ref_after + OUTSIDE_MARGIN_SECONDS:
        return window
    return window + max(0.0, before - ref_before) + max(0.0, after - ref_after)


def stress_run(sandbox: Sandbox, problem: Problem, program: str, tests: Sequence[CallTest], cutoff_seconds: float, load_limits: Limits, overheads: Sequence[tuple[float, float]] | None = None) -> list[StressRun]:
    """One batch over the stress tests: one process, each call cut off at ``cutoff_seconds`` of CPU.

    The sandbox's limit covers the whole request, so each call also gets room
    for decoding and encoding (``overheads``: the reference's, per test;
    generous where unknown). The load gets ``load_limits`` (imports are not
    the call's cost). Returns one entry per test that ran; the batch stops
    at the first call that ends the process (a timeout); a wrong answer does
    not stop it. Raises ``InfraError`` if the sandbox failed twice.
    """
    limits = [cutoff_seconds + (OUTSIDE_FACTOR * sum(overheads[i]) + 2 * OUTSIDE_MARGIN_SECONDS if overheads else max(1.0, cutoff_seconds)) for i in range(len(tests))]
    calls = [Call(t.function or problem.entry_point, tuple(t.args), dict(t.kwargs), cpu_seconds=limit) for t, limit in zip(tests, limits)]
    batch = sandbox.run_calls(program, calls, limits=load_limits, mode=Mode.LOCKSTEP)
    if not batch.loaded:
        return [StressRun(LevelStatus.WRONG, 0)]
    out = []
    for test, reply in zip(tests, batch.replies):
        status = reply_status(reply) if reply.status != "ok" else None
        if status is None:
            ok, _ = compare_output(problem, test, reply.value)
            out.append(StressRun(LevelStatus.OK if ok else LevelStatus.WRONG, reply.measurement.cpu_ns, reply.measurement.cpu_before_ns, reply.measurement.cpu_after_ns))
        elif status in (Status.TIMEOUT, Status.MEMORY) or reply.exception_type in CENSORING_EXCEPTIONS:
            out.append(StressRun(LevelStatus.CENSORED, reply.measurement.cpu_ns))
        else:
            out.append(StressRun(LevelStatus.WRONG, reply.measurement.cpu_ns))
    return out
