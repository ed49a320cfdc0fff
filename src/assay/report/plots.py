"""The report's plots: matplotlib figures rendered to SVG, embedded as images in the page.

Why matplotlib, and SVG images:

- it is the most widely kept Python plotting library, and renders on the
  machine that writes the report: the page carries finished vector images,
  no plotting runtime. plotly would inline about 4.5 MB of JavaScript that
  the browser must parse before the page is usable (a tenth of the 10 MB a
  164 x 10 report may use, and most of its one second to open); vega-lite
  needs its runtime too, or a native converter;
- each plot is an ``<img src="data:image/svg+xml;base64,...">``: sharp at any
  zoom, a few tens of kB, and isolated from the page (an SVG in an image
  runs no script and its element ids cannot collide with the page's);
- text stays text (``svg.fonttype = none``), and a fixed ``svg.hashsalt``
  makes the same data give the same bytes.

Interactivity lives in the page's tables (sorting, filtering, drill-down),
not in the plots. matplotlib is the ``report`` extra (``pip install
'assay[report]'``; ``make`` installs it); without it a report still renders,
with a line in place of each plot that says what to install.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Sequence

from assay.report.page import esc

STATUS_COLORS = {
    "pass": "#2e7d32",
    "fail": "#c62828",
    "error": "#ef6c00",
    "timeout": "#6a1b9a",
    "memory": "#4527a0",
    "output_limit": "#00838f",
    "crash": "#37474f",
    "too_slow": "#ad1457",
    "skipped": "#9e9e9e",
    "infra_error": "#f9a825",
    "bad_input": "#795548",
}
STATUS_ORDER = list(STATUS_COLORS)
RUN_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def missing_note(what: str) -> str:
    return '<p class="note">%s: no plot, matplotlib is not installed (<code>pip install \'assay[report]\'</code>).</p>' % esc(what)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "assay", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    import matplotlib.pyplot as plt

    return plt


def _plain(label: str) -> str:
    """A label from the store as matplotlib shows it literally (a '$' would start mathtext)."""
    return label.replace("$", r"\$")


def _image(fig, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    _pyplot().close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return '<img class="plot" alt="%s" src="data:image/svg+xml;base64,%s">' % (esc(alt), data)


def status_breakdown(runs: Sequence[tuple[str, dict[str, int]]]) -> str:
    """One horizontal bar per run, split by sample status."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.6 + 0.45 * len(runs)))
    labels = [_plain(label) for label, _ in runs]
    left = [0.0] * len(runs)
    statuses = [s for s in STATUS_ORDER if any(counts.get(s) for _, counts in runs)]
    statuses += sorted({s for _, counts in runs for s in counts} - set(statuses))
    for status in statuses:
        widths = [float(counts.get(status, 0)) for _, counts in runs]
        ax.barh(labels, widths, left=left, color=STATUS_COLORS.get(status, "#999999"), label=status, height=0.6)
        left = [a + b for a, b in zip(left, widths)]
    ax.invert_yaxis()
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("samples")
    ax.legend(ncol=min(len(statuses), 6), loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False)
    return _image(fig, "samples by status")


def efficiency_distribution(runs: Sequence[tuple[str, list[float]]]) -> str:
    """Histogram of per-sample efficiency scores (ENAMEL's e, 0 to 1)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    bins = [i / 20 for i in range(21)]
    for i, (label, scores) in enumerate(runs):
        ax.hist(scores, bins=bins, alpha=0.6 if len(runs) > 1 else 0.9, color=RUN_COLORS[i % len(RUN_COLORS)], label=_plain(label))
    ax.set_xlabel("efficiency score of a sample (1 = as fast as the reference)")
    ax.set_ylabel("samples")
    if len(runs) > 1:
        ax.legend(frameon=False)
    return _image(fig, "efficiency distribution")


def speedups(runs: Sequence[tuple[str, list[float]]]) -> str:
    """Per-problem speedup against the reference, sorted (1 = as fast; a log scale when the range is wide)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    for i, (label, values) in enumerate(runs):
        ordered = sorted(v for v in values if v > 0 and math.isfinite(v))
        ax.plot(range(1, len(ordered) + 1), ordered, marker=".", linestyle="-", linewidth=1, color=RUN_COLORS[i % len(RUN_COLORS)], label=_plain(label))
    ax.axhline(1.0, color="#555555", linewidth=0.8, linestyle="--")
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    values = [v for _, vs in runs for v in vs if v > 0 and math.isfinite(v)]
    if values and max(values) / min(values) > 4:  # a wide range: log scale, 1x in the middle
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(0.1, 0.2, 0.5, 1.0), numticks=12))
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: "%.3g×" % value))
    ax.set_xlabel("problems, slowest first")
    ax.set_ylabel("speedup vs reference")
    if len(runs) > 1:
        ax.legend(frameon=False)
    return _image(fig, "speedup against the reference")


def pass_vs_budget(runs: Sequence[tuple[str, list[tuple[float, float]], list[tuple[float, float]]]]) -> str:
    """Share of problems solved within a budget per problem: (label, [(calls, share)], [(tokens, share)]) per run, as steps."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 3.0), sharey=True)
    for i, (label, by_calls, by_tokens) in enumerate(runs):
        color = RUN_COLORS[i % len(RUN_COLORS)]
        left.step([p[0] for p in by_calls], [p[1] for p in by_calls], where="post", color=color, label=_plain(label))
        right.step([p[0] for p in by_tokens], [p[1] for p in by_tokens], where="post", color=color, label=_plain(label))
    left.set_xlabel("model calls per problem")
    right.set_xlabel("tokens per problem")
    left.set_ylabel("problems solved (pass@1 within budget)")
    left.set_ylim(0, 1.02)
    left.set_xlim(left=0)
    right.set_xlim(left=0)
    fig.legend(*left.get_legend_handles_labels(), loc="lower left", bbox_to_anchor=(0.06, 1.0), ncol=min(len(runs), 2), frameon=False, fontsize=8)
    return _image(fig, "pass@1 against budget")
