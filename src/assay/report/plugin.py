"""assay's own report sections and the ``runs`` and ``report`` commands, registered through the registry.

Sections render in this order: summary, plots, side by side (several runs),
problems, search trees (runs that have one). A plugin adds its own with the
same hook, after these.
"""

from __future__ import annotations

from typing import Callable

from assay.plugins import Command, deferred, hookimpl


@hookimpl
def register_report_sections(register: Callable[..., None]) -> None:
    from assay.report.sections import ReportSection

    register("summary", ReportSection("Summary", deferred("assay.report.sections.summary:render")), "pass@k and eff@k with intervals, cost, meter, machine")
    register("plots", ReportSection("Plots", deferred("assay.report.sections.plots:render")), "status breakdown, efficiency and speedups, pass@1 against budget")
    register("compare", ReportSection("Side by side", deferred("assay.report.sections.compare:render")), "several runs on the same problems: who wins where, what only one solves")
    register("problems", ReportSection("Problems", deferred("assay.report.sections.problems:render")), "sortable, filterable problems; each opens to its samples and their evidence")
    register("tree", ReportSection("Search trees", deferred("assay.report.sections.tree:render")), "a search run's tree per problem: operator, feedback, score of each node")


@hookimpl
def register_commands(register: Callable[..., None]) -> None:
    register("runs", Command("list stored runs; `runs show ID` summarises one, `runs export ID` writes its samples",
                             deferred("assay.report.commands:configure_runs"), deferred("assay.report.commands:command_runs")))  # fmt: skip
    register("report", Command("write a self-contained HTML report of one or more runs",
                               deferred("assay.report.commands:configure_report"), deferred("assay.report.commands:command_report")))  # fmt: skip
