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

__all__ = ["CallTest", "InputGenerator", "Problem", "ScriptTest", "StdioTest", "Test", "Trust"]
