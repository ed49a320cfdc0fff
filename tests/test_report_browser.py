"""The report in a real browser (headless chromium): no console errors, the key elements, a click opens a problem's samples."""

from __future__ import annotations

import pytest
from report_runs import PROBLEMS, make_runs

from assay.report import browser
from assay.report.build import write_report
from assay.store import Store

why = browser.unavailable()
pytestmark = pytest.mark.skipif(why is not None, reason="no browser for the report test: %s" % why)


@pytest.fixture(scope="module")
def page_file(tmp_path_factory, sandbox):
    folder = tmp_path_factory.mktemp("browser")
    with Store(folder / "store.sqlite") as store:
        eval_id, solve_id = make_runs(store, sandbox)
        write_report(store, [eval_id, solve_id], folder / "report.html")
    return folder / "report.html"


@pytest.fixture(scope="module")
def chromium():
    with browser.browser() as instance:
        yield instance


def test_the_report_opens_without_errors_and_shows_its_parts(page_file, chromium):
    page, console = browser.open_page(chromium, page_file)
    assert console.errors == []
    for selector in ("#summary table.summary", "#plots img.plot", "#compare table.compare-table", "#problems-0 table.problem-table", "#problems-1 table.problem-table"):
        assert page.locator(selector).first.is_visible(), selector
    assert page.locator("#problems-0 tr.row").count() == len(PROBLEMS)
    assert page.locator("#problems-0 .filters .count").inner_text() == "%d of %d problems" % (len(PROBLEMS), len(PROBLEMS))
    assert all(page.evaluate("img => img.complete && img.naturalWidth > 0", img) for img in page.locator("img.plot").element_handles())


def test_a_click_on_a_problem_opens_its_samples(page_file, chromium):
    page, console = browser.open_page(chromium, page_file)
    row = page.locator('#problems-0 tr.row[data-task="%s"]' % PROBLEMS[1].task_id)
    row.click()
    detail = page.locator("#problems-0 tr.detail")
    detail.wait_for()  # the run's samples are unpacked on the first click
    assert detail.count() == 1
    samples = detail.locator("details.sample")
    assert samples.count() == 2
    wrong = samples.nth(1)  # the failing sample opens first
    assert wrong.evaluate("d => d.open")
    text = wrong.inner_text()
    assert "wrong answer" in text and "first difference" in text and "returned a wrong answer" in text and "CPU ms" in text
    assert "%s(" % PROBLEMS[1].entry_point in wrong.locator("dl.evidence dd pre").first.inner_text()  # the failing input
    assert wrong.locator("pre.hl .k").first.inner_text() == "def"  # the program, highlighted
    row.click()
    assert page.locator("#problems-0 tr.detail").count() == 0  # a second click closes it
    model_row = page.locator('#problems-1 tr.row[data-task="%s"]' % PROBLEMS[0].task_id)
    model_row.click()
    call = page.locator("#problems-1 tr.detail details.call").first
    call.wait_for()
    call.locator("summary").click()
    assert "system" in call.inner_text() and "```python" in call.locator("pre.reply").inner_text()
    assert console.errors == []


def test_hostile_output_is_shown_as_text_and_runs_nothing(page_file, chromium):
    page, console = browser.open_page(chromium, page_file)
    page.locator('#problems-0 tr.row[data-task="%s"]' % PROBLEMS[2].task_id).click()
    page.locator("#problems-0 tr.detail").wait_for()
    shown = page.locator("#problems-0 tr.detail details.sample[open]").inner_text()
    assert "</script><script>window.__pwned = 1</script>" in shown  # as text
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("script").count() == 1 + page.locator('script[type="application/x-assay-json+gzip"]').count()
    assert console.errors == []


def test_sorting_and_filtering(page_file, chromium):
    page, console = browser.open_page(chromium, page_file)
    table = page.locator("#problems-1 table.problem-table")
    table.locator("th", has_text="pass@1").click()
    first = table.locator("tr.row").first.get_attribute("data-task")
    assert first in (PROBLEMS[1].task_id, PROBLEMS[3].task_id)  # the unsolved ones first
    page.locator("#problems-0 .f-kind").select_option("timeout")
    visible = [r for r in page.locator("#problems-0 tr.row").all() if r.is_visible()]
    assert [r.get_attribute("data-task") for r in visible] == [PROBLEMS[3].task_id]
    page.locator(".f-differ").check()
    assert "of %d problems" % len(PROBLEMS) in page.locator("#compare .filters .count").inner_text()
    assert console.errors == []


def test_a_problem_opens_side_by_side_across_runs(page_file, chromium):
    page, console = browser.open_page(chromium, page_file)
    page.locator('#compare tr.cmp[data-task="%s"]' % PROBLEMS[1].task_id).click()
    page.locator("#compare tr.detail").wait_for()
    columns = page.locator("#compare tr.detail .side-by-side .column")
    assert columns.count() == 2
    assert columns.nth(0).locator("details.sample .badge.st-pass").count() >= 1  # the evaluation's passing sample
    assert "wrong answer" in columns.nth(1).inner_text()  # the model's wrong answer, with its evidence
    assert columns.nth(1).locator("pre.hl").count() == 1
    assert console.errors == []


def test_a_browser_that_cannot_unpack_says_so_where_a_problem_would_open(page_file, chromium):
    page, console = browser.open_page(chromium, page_file, init_script="delete window.DecompressionStream;")
    assert page.locator("#problems-0 tr.row").count() == len(PROBLEMS)  # the rest of the report is there
    page.locator("#problems-0 tr.row").first.click()
    detail = page.locator("#problems-0 tr.detail")
    detail.wait_for()
    assert "cannot unpack" in detail.inner_text() and "DecompressionStream" in detail.inner_text()
    assert console.errors == []


@pytest.fixture(scope="module")
def search_page(tmp_path_factory, sandbox):
    from assay.models import ScriptedModel, ScriptedReply
    from assay.solve import SolveConfig, solve

    problem = PROBLEMS[0]
    never = "```python\ndef %s(numbers, threshold):\n    return False\n```" % problem.entry_point
    replies = [ScriptedReply("```python\n%s```" % problem.reference, match="This program is wrong"), ScriptedReply(never)]
    folder = tmp_path_factory.mktemp("search")
    with Store(folder / "store.sqlite") as store:
        report = solve([problem], ScriptedModel(replies), config=SolveConfig(strategy="self-debug"), sandbox=sandbox, store=store, benchmark="humaneval")
        write_report(store, [report.evaluation.run_id], folder / "report.html")
    return folder / "report.html"


def test_a_search_tree_opens_node_by_node(search_page, chromium):
    page, console = browser.open_page(chromium, search_page)
    tree = page.locator("#tree details.tree").first
    assert "2 nodes" in tree.locator("summary").first.inner_text() and "solved" in tree.locator("summary").first.inner_text()
    tree.locator("summary").first.click()
    root = tree.locator("details.node").first
    root.wait_for()
    assert root.locator("summary").first.inner_text().startswith("implement program")
    assert "should return True" in root.locator("pre.out").first.inner_text()  # the feedback the repair was given
    child = root.locator(".children details.node").first
    assert child.locator("summary").first.inner_text().startswith("debug program") and child.locator(".badge.best").count() == 1
    assert child.locator("details.program").first.evaluate("d => d.open")  # the best program shows
    assert child.locator("pre.hl .k").first.inner_text() in ("from", "def")  # highlighted
    assert not root.locator("details.program").first.evaluate("d => d.open")  # the others open on demand
    assert console.errors == []
