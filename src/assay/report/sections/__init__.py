"""Report sections: what a section is, and what it gets.

A section is registered through the registry's ``register_report_sections``
hook as ``register(name, ReportSection(title, render), description)``;
``render(context)`` returns a :class:`~assay.report.page.Fragment` or None
(nothing to show for these runs: a tree section for runs without a tree).
Sections appear in the order they were registered, assay's own first.
Every section reads the runs the context carries; none touches the sandbox
or a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # cheap to import: every command loads the registry, and with it this module
    from assay.report.data import RunData
    from assay.report.page import Fragment
    from assay.report.summary import RunSummary


@dataclass
class ReportContext:
    """The runs a report shows, each with its summary, in the order given."""

    runs: "list[RunData]"
    summaries: "list[RunSummary]"
    plots: bool = True  # False: render no plots (matplotlib missing, or asked not to)
    notes: list[str] = field(default_factory=list)

    @property
    def several(self) -> bool:
        return len(self.runs) > 1


@dataclass(frozen=True)
class ReportSection:
    title: str
    render: "Callable[[ReportContext], Fragment | None]"

