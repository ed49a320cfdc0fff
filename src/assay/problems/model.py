"""What a problem is: a prompt, an entry point, and tests of several kinds.

Tests are plain data. Expected values live only on the supervisor's side: the
sandbox receives inputs, never answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, Union


class Trust(str, Enum):
    """How far a passing test can be believed, from strongest to weakest."""

    GIVEN = "given"  # written by the benchmark's authors
    PROPERTY = "property"  # property-based (Hypothesis)
    GENERATED = "generated"  # written by a model, cross-checked
    STRESS = "stress"  # large inputs for performance, expected from the reference


# a name in assay.plugins.COMPARISONS: exact, approx, truthy, falsy, checker, or a plugin's
Comparison = str


@dataclass(frozen=True)
class CallTest:
    """Call the entry point with ``args`` and compare the result outside the sandbox.

    ``comparison`` selects how: ``exact`` is Python ``==`` on plain data,
    ``approx`` allows ``abs_tol``/``rel_tol``, ``truthy``/``falsy`` check
    ``bool(result)``, ``checker`` hands (args, expected, output) to the
    problem's checker. ``function`` overrides the problem's entry point.
    """

    name: str
    args: tuple[Any, ...]
    expected: Any = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    comparison: Comparison = "exact"
    abs_tol: float = 0.0
    rel_tol: float = 0.0
    function: str | None = None
    hidden: bool = True
    trust: Trust = Trust.GIVEN
    kind: Literal["call"] = "call"


@dataclass(frozen=True)
class ScriptTest:
    """A test written as code (HumanEval's ``check(candidate)``).

    The script runs in the supervisor, never in the sandbox: ``candidate`` and
    every name of the candidate's module it uses are proxies whose calls run in
    the sandbox and return plain data. So an assertion is decided by trusted
    code on values the candidate cannot forge into a pass.
    ``setup`` is trusted code (e.g. helper functions from the prompt) run
    before the script; ``entry`` is called with the candidate proxy.
    """

    name: str
    source: str
    entry: str = "check"
    setup: str = ""
    hidden: bool = True
    trust: Trust = Trust.GIVEN
    kind: Literal["script"] = "script"


@dataclass(frozen=True)
class StdioTest:
    """Run the program as ``__main__`` with ``stdin``; compare its stdout."""

    name: str
    stdin: str
    expected_stdout: str
    hidden: bool = True
    trust: Trust = Trust.GIVEN
    kind: Literal["stdio"] = "stdio"


Test = Union[CallTest, ScriptTest, StdioTest]


@dataclass(frozen=True)
class InputGenerator:
    """Source of ``generate_input(size, lid, cid)`` and the sizes of its levels.

    ``levels`` holds one size per level, in the benchmark's order (ENAMEL's
    are smallest first except HumanEval/147's); ``weights`` weigh the
    levels in efficiency scores. ``level_cases``, when given, is the number of
    inputs to generate at each level (ENAMEL: 8, 4, 4, 4) and takes precedence
    over the single ``cases_per_level``.
    """

    source: str
    levels: tuple[int, ...]
    weights: tuple[float, ...] = ()
    cases_per_level: int = 0
    function: str = "generate_input"
    level_cases: tuple[int, ...] = ()

    def cases_at(self, level: int) -> int:
        """How many inputs to generate at ``level`` (0-based)."""
        return self.level_cases[level] if self.level_cases else self.cases_per_level


@dataclass(frozen=True)
class Problem:
    """One task: what the model sees (``prompt``) and how an answer is judged.

    ``setup`` is trusted code that script tests and checkers may use (helpers
    defined in the prompt). ``reference`` is a complete, correct program.
    ``checker`` is the source of ``checker_function(input, expected, output)``
    for problems whose answers are not unique.
    """

    task_id: str
    prompt: str
    entry_point: str
    tests: tuple[Test, ...]
    reference: str | None = None
    setup: str = ""
    generator: InputGenerator | None = None
    checker: str | None = None
    checker_function: str = "check_output"
    benchmark: str = "custom"
    metadata: dict[str, Any] = field(default_factory=dict)

    def visible_tests(self) -> tuple[Test, ...]:
        return tuple(t for t in self.tests if not t.hidden)
