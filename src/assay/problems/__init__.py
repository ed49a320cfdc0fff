"""Problems, their tests, and loaders for benchmarks."""

from assay.problems.model import (
    CallTest,
    InputGenerator,
    Problem,
    ScriptTest,
    StdioTest,
    Test,
    Trust,
)
from assay.problems.registry import BENCHMARKS, load_benchmark

__all__ = [
    "BENCHMARKS",
    "CallTest",
    "InputGenerator",
    "Problem",
    "ScriptTest",
    "StdioTest",
    "Test",
    "Trust",
    "load_benchmark",
]
