"""assay's own report sections and the ``runs`` and ``report`` commands, registered through the registry.

Sections render in this order: summary, plots, side by side (several runs),
problems, search trees (runs that have one). A plugin adds its own with the
same hook, after these.
"""

from __future__ import annotations

from typing import Callable

from assay.plugins import Command, hookimpl


@hookimpl
def register_report_sections(register: Callable[..., None]) -> None:
    from assay.report.sections import ReportSection, lazy

    register("summary", ReportSection("Summary", lazy("assay.report.sections.summary")), "pass@k and eff@k with intervals, cost, meter, machine")
    register("plots", ReportSection("Plots", lazy("assay.report.sections.plots")), "status breakdown, efficiency and speedups, pass@1 against budget")
    register("compare", ReportSection("Side by side", lazy("assay.report.sections.compare")), "several runs on the same problems: who wins where, what only one solves")
    register("problems", ReportSection("Problems", lazy("assay.report.sections.problems")), "sortable, filterable problems; each opens to its samples and their evidence")
    register("tree", ReportSection("Search trees", lazy("assay.report.sections.tree")), "a search run's tree per problem: operator, feedback, score of each node")


@hookimpl
def register_commands(register: Callable[..., None]) -> None:
    from assay.report import commands

    register("runs", Command("list stored runs; `runs show ID` summarises one, `runs export ID` writes its samples", commands.configure_runs, commands.command_runs))
    register("report", Command("write a self-contained HTML report of one or more runs", commands.configure_report, commands.command_report))
