"""Finding the problem a reward is about: by benchmark and task id, or inline.

Inline problems come in assay's JSONL problem format (docs/problems-format.md)
as a dict or a JSON string, or as bare tests plus an entry point, or in the
APPS / PRIME style (``{"inputs": [...], "outputs": [...], "fn_name": ...}``)
that verl's code datasets use. An inline problem's task id gets a hash of its
content appended (``name#1a2b3c4d5e6f``) so that two different problems
sent under one name never share the sandbox's per-problem caches (time
limits calibrated on the reference, the reference's cost).
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any, Mapping

from assay import sealing
from assay.problems import load_benchmark
from assay.problems.jsonl import problem_from_json
from assay.problems.model import CallTest, Problem, StdioTest


class ProblemError(ValueError):
    """A request names a problem that does not exist or is malformed (the caller's mistake)."""


def benchmark_problems(name: str) -> dict[str, Problem]:
    """task_id → Problem for a named benchmark or a JSONL problems file (loaded once)."""
    sealing.refuse("loading a benchmark")
    return _benchmark_problems(name)


@functools.lru_cache(maxsize=16)
def _benchmark_problems(name: str) -> dict[str, Problem]:
    try:
        problems = load_benchmark(name)
    except (ValueError, FileNotFoundError) as exc:
        raise ProblemError(str(exc)) from None
    return {p.task_id: p for p in problems}


def benchmark_problem(benchmark: str, task_id: str) -> Problem:
    problems = benchmark_problems(benchmark)
    try:
        return problems[task_id]
    except KeyError:
        raise ProblemError(f"unknown task_id {task_id!r} in benchmark {benchmark!r}") from None


def content_hash(data: Any) -> str:
    text = data if isinstance(data, str) else json.dumps(data, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[str, Problem] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> Problem | None:
        with self.lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key: str, value: Problem) -> None:
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


_inline_cache = _LRU(4096)


def inline_problem(record: Mapping[str, Any] | str | Problem) -> Problem:
    """A Problem from assay's JSON problem format (dict or JSON text); parsed once per content."""
    if isinstance(record, Problem):
        return record
    if isinstance(record, str):
        key = record
        try:
            data = json.loads(record)
        except json.JSONDecodeError as exc:
            raise ProblemError(f"the problem is not valid JSON: {exc.msg} (column {exc.colno})") from None
    elif isinstance(record, Mapping):
        data = dict(record)
        key = json.dumps(data, sort_keys=True, default=repr)
    else:
        raise ProblemError(f"a problem must be a JSON object, found {type(record).__name__}")
    cached = _inline_cache.get(key)
    if cached is not None:
        return cached
    if isinstance(data, dict) and "task_id" not in data:
        data = {"task_id": "inline", **data}
    if isinstance(data, dict) and "prompt" not in data:
        data = {**data, "prompt": ""}
    try:
        problem = problem_from_json(data)
    except Exception as exc:  # jsonl's own error type is private; its message names the mistake
        raise ProblemError(f"invalid problem: {exc}") from None
    problem = replace(problem, task_id=f"{problem.task_id}#{content_hash(key)}", metadata={**problem.metadata, "given_task_id": problem.task_id})
    _inline_cache.put(key, problem)
    return problem


def given_task_id(problem: Problem) -> str:
    """The task id the caller used (inline problems carry a content hash internally)."""
    return str(problem.metadata.get("given_task_id", problem.task_id))


def problem_from_tests(tests: Any, entry_point: str | None, *, task_id: str | None = None, prompt: str | None = None, reference: str | None = None) -> Problem:
    """An inline problem from bare tests (JSONL test objects, or JSON text of a list of them)."""
    if isinstance(tests, str):
        try:
            tests = json.loads(tests)
        except json.JSONDecodeError as exc:
            raise ProblemError(f"'tests' is not valid JSON: {exc.msg}") from None
    record: dict[str, Any] = {"task_id": task_id or "inline", "prompt": prompt or "", "entry_point": entry_point or "main", "tests": tests}
    if reference:
        record["reference"] = reference
    if entry_point is None and not all(isinstance(t, dict) and t.get("kind") == "stdio" for t in (tests or [])):
        raise ProblemError("inline call or script tests need an 'entry_point'")
    return inline_problem(record)


# ------------------------------------------------------------- APPS / PRIME

APPS_CHECKER = '''
def check_output(args, expected, output):
    """APPS / PRIME call-based comparison: tuples compare as lists, and an
    expected value wrapped in a one-element list also matches."""
    def norm(value):
        if isinstance(value, tuple):
            return [norm(v) for v in value]
        if isinstance(value, list):
            return [norm(v) for v in value]
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        return value
    out = norm(output)
    if out == norm(expected):
        return True
    return isinstance(expected, list) and len(expected) == 1 and out == norm(expected[0])
'''


def _lines(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value) + "\n"
    return str(value)


def problem_from_apps(ground_truth: Mapping[str, Any], task_id: str = "apps", prompt: str = "") -> Problem:
    """APPS / PRIME / TACO test cases: ``inputs`` and ``outputs``, call-based with ``fn_name``."""
    inputs, outputs = ground_truth.get("inputs"), ground_truth.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs) or not inputs:
        raise ProblemError("APPS-style tests need 'inputs' and 'outputs': two non-empty lists of equal length")
    key = "apps\0" + json.dumps(ground_truth, sort_keys=True, default=repr)
    cached = _inline_cache.get(key)
    if cached is not None:
        return cached
    fn_name = ground_truth.get("fn_name")
    tests: tuple[Any, ...]
    if fn_name:
        tests = tuple(
            CallTest(name=f"test_{i}", args=tuple(args) if isinstance(args, list) else (args,), expected=expected, comparison="checker")
            for i, (args, expected) in enumerate(zip(inputs, outputs))
        )
        problem = Problem(task_id=task_id, prompt=prompt, entry_point=str(fn_name), tests=tests, checker=APPS_CHECKER, checker_function="check_output", benchmark="apps")
    else:
        tests = tuple(StdioTest(name=f"test_{i}", stdin=_lines(stdin), expected_stdout=_lines(stdout)) for i, (stdin, stdout) in enumerate(zip(inputs, outputs)))
        problem = Problem(task_id=task_id, prompt=prompt, entry_point="main", tests=tests, benchmark="apps")
    problem = replace(problem, task_id=f"{task_id}#{content_hash(key)}", metadata={"given_task_id": task_id})
    _inline_cache.put(key, problem)
    return problem


def looks_like_apps(data: Any) -> bool:
    return isinstance(data, Mapping) and "inputs" in data and "outputs" in data and "tests" not in data
