"""Stress inputs at size levels, large enough to separate algorithms.

A problem's :class:`~assay.problems.model.InputGenerator` is trusted
benchmark code: it runs here, in the supervisor, seeded as ENAMEL seeds it
(input ``k`` of problem ``i`` uses ``seed ^ i ^ k``, with ``k`` counting on
across levels), so the inputs are the ones ENAMEL's own evaluator makes.
Expected outputs come from the reference solution, run in the sandbox like
any other program, one call at a time and timed: that run is also the first
native measurement of the reference a cost meter needs.

A built workload depends only on the problem (generator, seeds, reference,
setup, checker) and on the interpreter, so :class:`WorkloadCache` keeps it on
disk: a run after the first skips the generators and the reference's run.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import sqlite3
import sys
import threading
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assay.disk_cache import DiskCache
from assay.problems import model as problem_model
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
    # read from a WorkloadCache: the timings are an earlier run's, not this one's
    cached: bool = field(default=False, compare=False)

    @property
    def tests(self) -> tuple[CallTest, ...]:
        return tuple(t for level in self.levels for t in level.tests)


def _seeding(problem: Problem, problem_index: int | None, seed: int | None) -> tuple[int, int]:
    """The problem's index and the base seed (ENAMEL's, from the problem's metadata, unless given)."""
    index = problem_index if problem_index is not None else int(problem.metadata.get("enamel_index", 0))
    return index, seed if seed is not None else int(problem.metadata.get("enamel_seed", 0))


def generate_inputs(problem: Problem, problem_index: int | None = None, seed: int | None = None) -> list[list[tuple[Any, ...]]]:
    """The arguments of every stress input, per level."""
    generator = problem.generator
    if generator is None:
        raise WorkloadError("%s has no input generator (see docs/problems-format.md for how to supply one)" % problem.task_id)
    index, base = _seeding(problem, problem_index, seed)
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


def build_workload(problem: Problem, sandbox: Sandbox, problem_index: int | None = None, seed: int | None = None, cache: "WorkloadCache | None" = None) -> Workload:
    """Stress inputs with expected outputs computed by the reference in the sandbox (or read from ``cache``, and written there)."""
    key = WorkloadCache.key(problem, problem_index, seed) if cache is not None else ""
    if cache is not None and (found := cache.get(key)) is not None:
        return replace(found, cached=True)
    workload = _build_workload(problem, sandbox, problem_index, seed)
    if cache is not None:
        cache.put(key, workload)
    return workload


def _build_workload(problem: Problem, sandbox: Sandbox, problem_index: int | None, seed: int | None) -> Workload:
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


FORMAT = 1  # bumped when what a stored workload means changes (part of every key)
_SOURCES = (Path(__file__), Path(problem_model.__file__))  # the code that builds a workload and the classes it holds


class WorkloadCache:
    """Built workloads on disk (SQLite, pickled and compressed), keyed by everything that can change one.

    The reference's timings stored with a workload are those of the run that
    built it (a workload read back says so: ``cached``): a counting meter's
    screen takes its cutoff and time limits from them; the ``cpu-time`` meter,
    which scores against the reference's times, times it again in its own run.
    Only workloads written by assay itself are read back (the file lives in
    the user's own cache directory).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            from assay.paths import cache_root

            path = cache_root() / "workloads.sqlite"
        self._table = DiskCache(path, "workloads", "BLOB")
        self.path = self._table.path

    @classmethod
    def default(cls) -> "WorkloadCache | None":
        """The cache at ``$ASSAY_WORKLOAD_CACHE`` (``off``: none), else ``<assay cache>/workloads.sqlite``."""
        configured = os.environ.get("ASSAY_WORKLOAD_CACHE", "")
        if configured.lower() in ("off", "0", "no", "none"):
            return None
        try:
            return cls(configured or None)
        except (OSError, sqlite3.Error):
            return None  # no cache costs time, never a result

    @staticmethod
    def key(problem: Problem, problem_index: int | None = None, seed: int | None = None) -> str:
        generator = problem.generator
        digest = hashlib.sha256()
        parts = [
            str(FORMAT),
            sys.version,
            os.path.realpath(sys.executable),
            problem.task_id,
            problem.entry_point,
            problem.reference or "",
            problem.setup,
            problem.checker or "",
            repr(None if generator is None else (generator.source, generator.function, generator.levels, generator.weights, [generator.cases_at(j) for j in range(len(generator.levels))])),
            repr(_seeding(problem, problem_index, seed)),
        ]
        parts += [source.read_text(encoding="utf-8") for source in _SOURCES]
        for part in parts:
            digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
        return digest.hexdigest()

    def get(self, key: str) -> Workload | None:
        blob = self._table.get(key)
        try:
            return pickle.loads(zlib.decompress(blob)) if blob is not None else None
        except (zlib.error, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError):
            return None  # unreadable: built again

    def put(self, key: str, workload: Workload) -> None:
        try:
            blob = zlib.compress(pickle.dumps(workload, protocol=pickle.HIGHEST_PROTOCOL), 1)
        except (pickle.PicklingError, TypeError, AttributeError):
            return  # a workload that cannot be pickled is built again next time
        self._table.put(key, blob)
