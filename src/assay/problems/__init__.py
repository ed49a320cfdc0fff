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
from assay.problems.registry import load_benchmark

__all__ = [
    "CallTest",
    "InputGenerator",
    "Problem",
    "ScriptTest",
    "StdioTest",
    "Test",
    "Trust",
    "load_benchmark",
]
