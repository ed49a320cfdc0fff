"""How big a report of 164 problems x 10 samples is, and how fast it opens in a browser.

    python bench/bench_report.py                 # 164 x 10, 5 loads per report, screenshots into docs/
    python bench/bench_report.py --loads 3 --no-doc

Builds a store that looks like a real HumanEval run without running the
sandbox 1640 times: every row goes through the Store API with verdicts
shaped like the sandbox's (a verdict per test with CPU and memory; wrong
answers with the call and the first difference; exceptions with a
traceback and output; timeouts; the failing inputs), the problems' own
programs and tests,
efficiency records on four stress levels, and for the model run an LLM
call per sample with its prompt and reply. Then it renders the report of
the evaluation alone and of the evaluation and the model run side by side,
and opens each in headless chromium (``assay.report.browser``): the time
from navigation start to the end of the load event (median of ``--loads``
fresh pages), and the time a click on a problem takes to show its samples
(the first click parses the run's sample data). Writes the section
``report`` of docs/benchmarks.md and the screenshots docs/report-summary.png,
docs/report-plots.png, docs/report-problem.png, docs/report-compare.png and
docs/report-tree.png.
"""

from __future__ import annotations

import argparse
import random
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402

from assay.evaluate import EfficiencyRecord, SampleOutcome, failing_inputs  # noqa: E402
from assay.problems import load_benchmark  # noqa: E402
from assay.report import browser  # noqa: E402
from assay.report.build import write_report  # noqa: E402
from assay.sandbox.verdict import Measurement, SampleResult, Status, TestVerdict  # noqa: E402
from assay.solve import messages_for  # noqa: E402
from assay.store import Store  # noqa: E402

SECTION = "report"
DOCS = report.ROOT / "docs"
# how samples of a mid-sized model end on HumanEval at temperature 0.8 (roughly)
OUTCOMES = [("pass", 0.58), ("fail", 0.24), ("error", 0.12), ("timeout", 0.04), ("memory", 0.01), ("output_limit", 0.01)]
EXCEPTIONS = [("IndexError", "list index out of range"), ("TypeError", "'NoneType' object is not subscriptable"), ("NameError", "name 'helper' is not defined"),
              ("ValueError", "invalid literal for int() with base 10: 'a'"), ("ZeroDivisionError", "division by zero"), ("KeyError", "'x'")]  # fmt: skip


def _call_text(problem, test) -> str:
    args = ", ".join(repr(a) for a in getattr(test, "args", ()))
    text = "%s(%s)" % (problem.entry_point, args)
    return text if len(text) < 300 else text[:297] + "..."


def _measure(rng: random.Random, scale: float = 1.0) -> Measurement:
    cpu = int(rng.lognormvariate(11.5, 0.8) * scale)
    return Measurement(cpu_ns=cpu, wall_ns=int(cpu * rng.uniform(1.05, 1.6)), peak_rss_bytes=rng.choice([11, 11, 12, 12, 13, 18]) * 2**20 + rng.randrange(2**16) * 16)


def synthetic_sample(problem, index: int, rng: random.Random) -> tuple[str, SampleResult, str]:
    """(program, verdict, status) shaped like the sandbox's for one sample."""
    roll, status = rng.random(), "pass"
    for name, share in OUTCOMES:
        if roll < share:
            status = name
            break
        roll -= share
    body_comment = "    # sample %d\n" % index
    tests = problem.tests
    verdicts = []
    if status == "pass":
        program = problem.reference.rstrip("\n") + "\n" + body_comment
        verdicts = [TestVerdict(t.name, Status.PASS, kind=t.kind, measurement=_measure(rng)) for t in tests]
    elif status == "fail":
        program = problem.prompt + body_comment + "    result = []\n    for item in %s:\n        result.append(item)\n    return result[:-1]\n" % (problem.entry_point + "_input" if False else "range(3)")
        wrong = rng.sample(range(len(tests)), max(1, len(tests) // 2))
        for i, t in enumerate(tests):
            if i in wrong:
                expected = repr(getattr(t, "expected", None))[:200]
                verdicts.append(TestVerdict(t.name, Status.FAIL, kind=t.kind, message="%s returned a wrong answer" % _call_text(problem, t),
                                            first_difference="expected %s, got [0, 1]" % expected, measurement=_measure(rng)))  # fmt: skip
            else:
                verdicts.append(TestVerdict(t.name, Status.PASS, kind=t.kind, measurement=_measure(rng)))
    elif status == "error":
        exc, message = rng.choice(EXCEPTIONS)
        program = problem.prompt + body_comment + "    print('debug:', locals())\n    return helper(%s)[0]\n" % ", ".join(problem.entry_point for _ in range(1))
        trace = 'Traceback (candidate frames):\n  File "<candidate>", line %d, in %s\n    return helper(%s)[0]\n%s: %s' % (len(problem.prompt.splitlines()) + 3, problem.entry_point, problem.entry_point, exc, message)
        verdicts = [TestVerdict(t.name, Status.ERROR, kind=t.kind, exception_type=exc, message=message, traceback=trace, stdout="debug: {'x': %d}\n" % i, measurement=_measure(rng))
                    for i, t in enumerate(tests)]  # fmt: skip
    else:
        program = problem.prompt + body_comment + "    while True:\n        pass\n"
        first = Status(status)
        message = {"timeout": "exceeded its CPU time limit (0.30 s)", "memory": "exceeded its memory limit (2048 MiB)", "output_limit": "printed more than 1 MiB"}[status]
        verdicts = [TestVerdict(tests[0].name, first, kind=tests[0].kind, message=message, stdout="x" * 2000 if status == "output_limit" else "", measurement=_measure(rng, 3000))]
        verdicts += [TestVerdict(t.name, Status.SKIPPED, kind=t.kind) for t in tests[1:]]
    return program, SampleResult(problem.task_id, verdicts), status


def efficiency(rng: random.Random, passed: bool) -> EfficiencyRecord:
    speedup = rng.lognormvariate(-0.1, 0.6) if passed else None
    score = max(0.0, min(1.0, rng.betavariate(4, 2))) if passed else 0.0
    reference = [rng.lognormvariate(15 + level, 0.3) for level in range(4)]
    costs = tuple({"level": level, "value": (ref / speedup) if speedup else None, "unit": "instructions", "meter": "instructions", "status": "ok" if passed else "wrong", "reference": ref}
                  for level, ref in enumerate(reference))  # fmt: skip
    return EfficiencyRecord(score, "instructions", speedup, costs, {"meter": "instructions", "repeats": 1})


def build_store(path: Path, problems, n: int, seed: int = 0) -> tuple[str, str]:
    """An evaluation with efficiency and a model run, ``n`` samples per problem each; returns their run ids."""
    rng = random.Random(seed)
    with Store(path) as store:
        ids = []
        for kind in ("eval", "solve"):
            run_id = "bench-%s" % kind
            source = "samples.jsonl" if kind == "eval" else "openai:qwen2.5-coder-7b@http://gpu:8000/v1"
            config = {"ks": [1, n], "limits": {}} if kind == "eval" else {"strategy": "sample", "n": n, "params": {"temperature": 0.8}}
            store.start_run(run_id, kind, "humaneval", source, config, resume=False)
            position = 0
            for problem in problems:
                for index in range(n):
                    program, verdict, _ = synthetic_sample(problem, index, rng)
                    eff = efficiency(rng, verdict.passed) if kind == "eval" else None
                    outcome = SampleOutcome(position, problem.task_id, index, position + 1 if kind == "eval" else None, verdict.passed, verdict, eff,
                                            None if kind == "eval" else "fenced", inputs=failing_inputs(problem, verdict))  # fmt: skip
                    store.add_result(run_id, position, outcome.line_number, problem.task_id, index, outcome.passed, outcome.status.value, outcome.to_line(), program=program)
                    if kind == "solve":
                        reply = "Here is the function:\n```python\n%s```\nIt handles the edge cases." % program
                        store.add_llm_call(run_id, problem.task_id, index, source, [m.to_dict() for m in messages_for(problem)], {"temperature": 0.8}, reply, "stop",
                                           rng.randint(150, 400), rng.randint(80, 300), rng.uniform(0.5, 3.0), False)  # fmt: skip
                    position += 1
            store.finish_run(run_id)
            ids.append(run_id)
    return ids[0], ids[1]


OPERATORS = ["debug", "debug", "reflect", "rethink", "implement"]


def build_search_run(path: Path, problems, nodes: int, seed: int = 1) -> str:
    """A search run (self-debug-like): per problem a tree of ``nodes`` nodes grown from one implementation, each with
    its program, value, feedback, prompt and reply, and one answer judged on the hidden tests."""
    rng = random.Random(seed)
    run_id, source = "bench-search", "openai:qwen2.5-coder-7b@http://gpu:8000/v1"
    with Store(path) as store:
        store.start_run(run_id, "solve", "humaneval", source, {"strategy": "self-debug", "n": 1, "params": {"temperature": 0.8}}, resume=False)
        for position, problem in enumerate(problems):
            calls = tokens = 0
            solved_at = rng.randrange(nodes) if rng.random() < 0.8 else None
            best = None
            for i in range(nodes if solved_at is None else solved_at + 1):
                program, verdict, _ = synthetic_sample(problem, i, rng)
                passed = i == solved_at
                operator = "implement" if i == 0 else rng.choice(OPERATORS)
                reflection = operator == "reflect"
                trusted = 1.0 if passed else round(rng.uniform(0, 0.9), 3)
                feedback = None if passed else "The program passes %d of 3 checks.\n%s should return %r, but: expected %r, got None" % (
                    int(trusted * 3), _call_text(problem, problem.tests[0]), getattr(problem.tests[0], "expected", None), getattr(problem.tests[0], "expected", None))
                prompt_tokens, completion_tokens = rng.randint(200, 900), rng.randint(80, 300)
                calls, tokens = calls + 1, tokens + prompt_tokens + completion_tokens
                node = {"node_id": str(i), "parent_id": None if i == 0 else str(rng.randrange(i)), "operator": operator, "kind": "reflection" if reflection else "program",
                        "content": "The loop stops one element early; the last group is never appended." if reflection else program, "program": None if reflection else program,
                        "score": None if reflection else round(0.9 * trusted + 0.08 * rng.random(), 6), "passed": None if reflection else int(passed),
                        "value": None if reflection else {"trusted": trusted, "agreement": round(rng.random(), 3), "critic": 0.0, "efficiency": 0.0},
                        "feedback": feedback, "prompt": "[system]\nYou are an expert Python programmer.\n\n[user]\n" + problem.prompt, "reply": "```python\n%s```" % program}  # fmt: skip
                store.add_search_node(run_id, problem.task_id, node)
                if not reflection:
                    best = program
            program, verdict, _ = synthetic_sample(problem, 99, rng)
            if solved_at is not None:
                verdict = SampleResult(problem.task_id, [TestVerdict(t.name, Status.PASS, kind=t.kind, measurement=_measure(rng)) for t in problem.tests])
                program = best or problem.reference
            spent = {"calls": calls, "tokens": tokens, "sandbox_runs": calls * 2, "seconds": round(calls * rng.uniform(0.8, 2.5), 3), "nodes": calls,
                     "stopped": "a program passes every check" if solved_at is not None else "budget spent"}  # fmt: skip
            outcome = SampleOutcome(position, problem.task_id, 0, None, verdict.passed, verdict, None, "search:self-debug", spent, failing_inputs(problem, verdict))
            store.add_result(run_id, position, None, problem.task_id, 0, outcome.passed, outcome.status.value, outcome.to_line(), program=program)
        store.finish_run(run_id)
    return run_id


def _ms(value: float | None) -> str:
    return "-" if value is None else "%.0f" % value


def load_once(instance, path: Path) -> dict[str, float]:
    page, console = browser.open_page(instance, path)
    if console.errors:
        raise RuntimeError("console errors in %s: %s" % (path, console.errors[:3]))
    timing = browser.load_timing(page)
    page.context.close()
    return timing


def open_problems(instance, path: Path) -> list[float]:
    """Milliseconds for three clicks on problems until their samples are in the page (the first parses the run's sample data)."""
    page, console = browser.open_page(instance, path)
    opens = []
    for nth in (0, 1, 2):
        opens.append(page.evaluate(
            "n => new Promise((done, fail) => { const row = document.querySelectorAll('#problems-0 tr.row')[n * 7]; const t = performance.now();"
            " row.addEventListener('assay:opened', () => row.nextElementSibling.querySelector('details.sample') ? done(performance.now() - t) : fail(new Error('no samples')), {once: true});"
            " row.click(); })", nth))  # fmt: skip
    if console.errors:
        raise RuntimeError("console errors in %s: %s" % (path, console.errors[:3]))
    page.context.close()
    return opens


def measure(instance, paths: dict[str, Path], loads: int) -> dict[str, dict]:
    """Load times of every page, interleaved round by round (the machine's drift hits them alike), and problem openings."""
    timings: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    for _ in range(loads):
        for name, path in paths.items():
            timings[name].append(load_once(instance, path))
    results = {}
    for name, path in paths.items():
        loads_ms = [t["load"] for t in timings[name]]
        opens = open_problems(instance, path) if name != "empty" else [0.0, 0.0, 0.0]
        results[name] = {"load": statistics.median(loads_ms), "load_min": min(loads_ms), "load_max": max(loads_ms),
                         "dcl": statistics.median(t["dom_content_loaded"] for t in timings[name]), "first_open": opens[0], "later_open": statistics.median(opens[1:]),
                         "paint": statistics.median(paints) if (paints := [t["first_paint"] for t in timings[name] if t["first_paint"] is not None]) else None}  # fmt: skip
    return results


def screenshots(instance, path: Path, search: Path) -> list[Path]:
    summary, plots, problem, compare = DOCS / "report-summary.png", DOCS / "report-plots.png", DOCS / "report-problem.png", DOCS / "report-compare.png"
    page, _ = browser.open_page(instance, path, width=1280, height=980)
    page.screenshot(path=str(summary))
    page.locator("#plots").evaluate("s => s.scrollIntoView()")
    page.screenshot(path=str(plots))
    row = page.locator("#problems-0 tr.row").nth(2)
    row.click()
    page.locator("#problems-0 tr.detail").wait_for()
    row.evaluate("r => { r.scrollIntoView(); window.scrollBy(0, -200); }")
    page.screenshot(path=str(problem))
    page.context.close()
    page, _ = browser.open_page(instance, path, width=1280, height=980)
    row = page.locator("#compare tr.cmp[data-differ='1']").first
    row.click()
    page.locator("#compare tr.detail").wait_for()
    row.evaluate("r => { r.scrollIntoView(); window.scrollBy(0, -60); }")
    page.screenshot(path=str(compare))
    page.context.close()
    tree = DOCS / "report-tree.png"
    page, _ = browser.open_page(instance, search, width=1280, height=980)
    box = page.locator("#tree details.tree").nth(1)
    box.locator("summary").first.click()
    box.locator("details.node").first.wait_for()
    box.evaluate("b => { b.scrollIntoView(); window.scrollBy(0, -40); }")
    page.screenshot(path=str(tree))
    page.context.close()
    return [summary, plots, problem, compare, tree]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=164)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--loads", type=int, default=5, help="fresh page loads per report (the median is reported)")
    parser.add_argument("--nodes", type=int, default=30, help="most nodes of a problem's tree in the search run")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args(argv)
    why = browser.unavailable()
    if why:
        print("no browser: %s" % why)
        return 1
    given = argv if argv is not None else sys.argv[1:]
    command = "python bench/bench_report.py" + (" " + shlex.join(given) if given else "")
    info = {"date": report.today(), "git": report.git_revision(), "machine": report.machine(), "load": "%.2f %.2f %.2f" % report.load_average()}
    problems = load_benchmark("humaneval")[: args.problems]
    rows, shots = [], []
    with tempfile.TemporaryDirectory(prefix="assay-bench-report-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        eval_id, solve_id = build_store(folder / "store.sqlite", problems, args.samples)
        search_id = build_search_run(folder / "store.sqlite", problems, args.nodes)
        print("store built in %.1fs" % (time.perf_counter() - started), flush=True)
        with Store(folder / "store.sqlite") as store, browser.browser() as instance:
            reports = {"one run (evaluation, with efficiency)": [eval_id], "two runs side by side (+ a model run)": [eval_id, solve_id],
                       "a search run (trees of up to %d nodes)" % args.nodes: [search_id]}  # fmt: skip
            paths, renders = {}, {}
            for name, runs in reports.items():
                paths[name] = folder / ("report-%d.html" % len(paths))
                started = time.perf_counter()
                write_report(store, runs, paths[name])
                renders[name] = time.perf_counter() - started
            paths["empty"] = folder / "empty.html"
            paths["empty"].write_text("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>empty</title></head><body><p>empty</p></body></html>")
            results = measure(instance, paths, args.loads)
            for name in reports:
                result = results[name]
                rows.append([name, "%d x %d" % (len(problems), args.samples if "search" not in name else 1), "%.2f" % (paths[name].stat().st_size / 1e6), "%.1f" % renders[name], "%.0f" % result["dcl"], _ms(result["paint"]),
                             "%.0f (%.0f-%.0f)" % (result["load"], result["load_min"], result["load_max"]), "%.0f" % result["first_open"], "%.1f" % result["later_open"]])  # fmt: skip
                print(rows[-1], flush=True)
            empty = results["empty"]
            rows.append(["an empty page (the browser's own cost)", "-", "0.00", "-", "%.0f" % empty["dcl"], _ms(empty["paint"]), "%.0f (%.0f-%.0f)" % (empty["load"], empty["load_min"], empty["load_max"]), "-", "-"])
            print(rows[-1], flush=True)
            if not args.no_doc:
                shots = screenshots(instance, paths["two runs side by side (+ a model run)"], paths["a search run (trees of up to %d nodes)" % args.nodes])
    headers = ["report", "problems x samples", "file MB", "render s (Python)", "DOMContentLoaded ms", "first paint ms", "load ms, median (min-max)", "first problem opened ms", "next problems ms"]
    out = [
        "## Reports: size and load time in the browser (164 problems x 10 samples)",
        "",
        *report.run_header(command, info),
        "Load average at the end: %.2f %.2f %.2f (other jobs on this machine slow the browser: the loads are upper bounds)" % report.load_average(),
        "",
        "A store shaped like a real HumanEval run (every row written through the Store API: a verdict per test with CPU and memory, wrong answers with the call and "
        "the first difference, exceptions with tracebacks and output, timeouts, the failing inputs; the problems' own programs; efficiency on four stress levels; for the model run "
        "a prompt and a reply per sample; for the search run, a tree per problem whose every node has its program, value, feedback, prompt and reply), rendered by `assay report` and opened in headless chromium (Debian's, through playwright; offline). "
        "*load* is navigation start to the end of the load event (*first paint*: to the first contentful paint, where chromium reported one), median of %d fresh pages, the reports and an empty page interleaved round by round; "
        "*first problem opened* is a click on a problem until its samples are in the page (it unpacks and parses that run's sample data); *next problems* are later clicks." % args.loads,
        "",
        report.table(headers, rows, "llrrrrrrr"),
        "",
        "Screenshots: `docs/report-summary.png`, `docs/report-plots.png`, `docs/report-problem.png`, `docs/report-compare.png` (the second report), `docs/report-tree.png` (the search run).",
    ]
    text = "\n".join(out)
    print(text)
    if not args.no_doc:
        report.replace_section(SECTION, text)
        print("wrote docs/benchmarks.md section %r and %s" % (SECTION, ", ".join(str(p.relative_to(report.ROOT)) for p in shots)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
