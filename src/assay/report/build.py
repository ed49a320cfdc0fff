"""A report from run ids: read the runs, summarise them, render every registered section into one page."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

from assay.plugins import REPORT_SECTIONS
from assay.report import plots
from assay.report.data import RunData, load_run, resolve_run
from assay.report.page import Fragment, esc, render_page
from assay.report.sections import ReportContext, ReportSection
from assay.report.summary import summarize
from assay.store import Store


def context_for(store: Store, refs: Sequence[str], *, with_plots: bool = True) -> ReportContext:
    ids = list(dict.fromkeys(resolve_run(store, ref) for ref in refs))
    runs: list[RunData] = [load_run(store, run_id) for run_id in ids]
    notes = []
    if with_plots and not plots.available():
        notes.append("matplotlib is not installed: the report has no plots (pip install 'assay[report]').")
    return ReportContext(runs, [summarize(run) for run in runs], plots=with_plots and plots.available(), notes=notes)


def render_sections(context: ReportContext) -> list[Fragment]:
    fragments = []
    for entry in REPORT_SECTIONS.entries():
        section: ReportSection = entry.value
        try:
            fragment = section.render(context)
        except Exception as exc:  # noqa: BLE001 - a plugin's broken section must not take the report down
            if entry.plugin == "assay":
                raise
            warnings.warn("report section %r from plugin %r failed and is left out: %s: %s" % (entry.name, entry.plugin, type(exc).__name__, exc), stacklevel=2)
            fragment = Fragment("section-" + entry.name, section.title, '<p class="note">this section failed: %s</p>' % esc("%s: %s" % (type(exc).__name__, exc)))
        if fragment is not None:
            fragments.append(fragment)
    return fragments


def build_report(store: Store, refs: Sequence[str], *, with_plots: bool = True) -> str:
    """The HTML of a report on the runs ``refs`` (ids or unique prefixes), from the store alone."""
    context = context_for(store, refs, with_plots=with_plots)
    if len(context.runs) == 1:
        run = context.runs[0]
        title = "assay report: %s" % run.label
        subtitle = "%s run %s on %s, %s" % (run.kind, run.run_id, run.run.benchmark, run.date)
    else:
        title = "assay report: %d runs side by side" % len(context.runs)
        subtitle = "; ".join(r.label for r in context.runs)
    return render_page(title, subtitle, render_sections(context))


def write_report(store: Store, refs: Sequence[str], path: str | Path, *, with_plots: bool = True) -> Path:
    path = Path(path)
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    text = build_report(store, refs, with_plots=with_plots)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
