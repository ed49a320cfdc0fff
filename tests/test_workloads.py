"""Stress inputs: ENAMEL's generators, seeded as ENAMEL seeds them, answered by the reference."""

from __future__ import annotations

import random

import pytest

from assay.problems import Problem, load_benchmark
from assay.workloads import WorkloadError, build_workload, generate_inputs

ENAMEL = {p.task_id: p for p in load_benchmark("enamel")}


def test_inputs_are_deterministic_and_leave_global_random_alone():
    problem = ENAMEL["HumanEval/0"]
    random.seed(123)
    before = random.random()
    random.seed(123)
    first = generate_inputs(problem)
    assert random.random() == before
    assert generate_inputs(problem) == first
    assert [len(level) for level in first] == [8, 4, 4, 4]
    assert len(first[3][0][0]) == 15000  # the largest level's list has the level's size


def test_inputs_match_enamels_own_seeding():
    pytest.importorskip("enam")
    import csv
    import io
    import time
    from importlib import resources

    from enam.evaluate import Evaluator, datautils

    rows = list(csv.DictReader(io.StringIO(resources.files("assay").joinpath("data", "enamel", "enamel.csv").read_text())))
    for task_id in ("HumanEval/1", "HumanEval/10"):
        problem = ENAMEL[task_id]
        index = problem.metadata["enamel_index"]
        row = rows[index]
        size = int(row["input_levels"].split()[2])
        scope = dict(time=time, **datautils)
        # ENAMEL's own template, as its Evaluator.make_tests runs it (level 2, case 1)
        exec(Evaluator.TPL_MAKE % (row["prompt"], row["input_generator"], 998244353 ^ index ^ (8 + 4 + 1), size, 2, 1), scope)
        assert generate_inputs(problem)[2][1] == tuple(scope["__input"])


def test_workload_has_expected_outputs_and_the_reference_passes_it(sandbox):
    problem = ENAMEL["HumanEval/0"]
    workload = build_workload(problem, sandbox)
    assert [level.weight for level in workload.levels] == [0.0, 3.0, 3.0, 4.0]
    assert all(isinstance(t.expected, bool) for t in workload.tests)
    stress = Problem(problem.task_id, problem.prompt, problem.entry_point, workload.tests, checker=problem.checker, checker_function=problem.checker_function)
    assert sandbox.run(stress, problem.reference).passed
    assert not sandbox.run(stress, problem.prompt + "    return False\n").passed


def test_problem_without_generator_says_so(sandbox):
    with pytest.raises(WorkloadError, match="no input generator"):
        build_workload(load_benchmark("humaneval")[0], sandbox)


def test_a_cached_workload_is_read_back_without_running_the_generator_or_the_reference(sandbox, tmp_path, monkeypatch):
    from assay import workloads

    cache = workloads.WorkloadCache(tmp_path / "workloads.sqlite")
    problem = ENAMEL["HumanEval/0"]
    built = build_workload(problem, sandbox, cache=cache)

    def refuse(*args, **kwargs):
        raise AssertionError("ran although the workload is on disk")

    monkeypatch.setattr(workloads, "generate_inputs", refuse)
    monkeypatch.setattr(type(sandbox), "reference_replies", refuse)
    again = build_workload(problem, sandbox, cache=workloads.WorkloadCache(tmp_path / "workloads.sqlite"))
    assert again == built
    assert again.reference_timings == built.reference_timings
    assert again.cached and not built.cached
    with pytest.raises(AssertionError, match="on disk"):  # another seed is another workload
        build_workload(problem, sandbox, seed=1, cache=cache)


def test_the_workload_key_follows_everything_that_changes_a_workload():
    from dataclasses import replace

    from assay.workloads import WorkloadCache

    problem = ENAMEL["HumanEval/0"]
    key = WorkloadCache.key(problem)
    assert WorkloadCache.key(replace(problem)) == key
    changed = [
        replace(problem, reference=problem.reference + "\n# edited\n"),
        replace(problem, generator=replace(problem.generator, source=problem.generator.source + "\n")),
        replace(problem, generator=replace(problem.generator, levels=problem.generator.levels[:-1] + (problem.generator.levels[-1] + 1,))),
        replace(problem, setup="import math\n"),
        replace(problem, checker="def check_output(i, e, o):\n    return True\n"),
    ]
    keys = {WorkloadCache.key(p) for p in changed} | {WorkloadCache.key(problem, seed=7), WorkloadCache.key(problem, problem_index=3)}
    assert key not in keys and len(keys) == len(changed) + 2


def test_an_unreadable_entry_is_built_again_and_the_cache_can_be_turned_off(sandbox, tmp_path, monkeypatch):
    import sqlite3

    from assay.workloads import WorkloadCache

    cache = WorkloadCache(tmp_path / "w.sqlite")
    problem = ENAMEL["HumanEval/0"]
    built = build_workload(problem, sandbox, cache=cache)
    with sqlite3.connect(tmp_path / "w.sqlite") as db:
        db.execute("UPDATE workloads SET value = ?", (b"not a workload",))
    assert cache.get(WorkloadCache.key(problem)) is None
    assert build_workload(problem, sandbox, cache=cache).tests == built.tests
    assert cache.get(WorkloadCache.key(problem)) is not None  # written again
    monkeypatch.setenv("ASSAY_WORKLOAD_CACHE", "off")
    assert WorkloadCache.default() is None
    monkeypatch.setenv("ASSAY_WORKLOAD_CACHE", str(tmp_path / "elsewhere.sqlite"))
    assert WorkloadCache.default().path == tmp_path / "elsewhere.sqlite"
