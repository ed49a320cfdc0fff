"""Per-sample efficiency on ENAMEL stress inputs (assay.measure.efficiency), on both meters."""

from __future__ import annotations

import pytest

from assay.measure.efficiency import EfficiencyConfig, EfficiencyEvaluator
from assay.measure.valgrind import find_valgrind
from assay.metrics import LevelStatus
from assay.problems import load_benchmark
from assay.sandbox.pool import Sandbox

needs_valgrind = pytest.mark.skipif(find_valgrind() is None, reason="valgrind is not installed")

SLOW = """
def has_close_elements(numbers, threshold):
    for i in range(len(numbers)):
        for j in range(len(numbers)):
            if i != j and abs(numbers[i] - numbers[j]) < threshold:
                return True
    return False
"""

WRONG = "def has_close_elements(numbers, threshold):\n    return False\n"

# right and fast, but hangs on the largest level (15000 numbers)
HANGS_AT_TOP = """
def has_close_elements(numbers, threshold):
    if len(numbers) > 12000:
        while True:
            pass
    s = sorted(numbers)
    return any(b - a < threshold for a, b in zip(s, s[1:]))
"""


@pytest.fixture(scope="module")
def problem():
    return {p.task_id: p for p in load_benchmark("enamel")}["HumanEval/0"]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as box:
        yield box


@pytest.fixture(scope="module")
def cpu(sandbox):
    return EfficiencyEvaluator(sandbox, EfficiencyConfig(meter="cpu-time"))


@pytest.fixture(scope="module")
def instructions(sandbox):
    return EfficiencyEvaluator(sandbox, EfficiencyConfig(meter="instructions"))


def test_reference_scores_about_one_on_cpu(cpu, problem):
    result = cpu.measure(problem, problem.reference)
    assert result.passed and result.note is None
    assert 0.6 < result.score < 1.4  # CPU time is noisy; see the instruction meter for exactness
    assert result.meter == "cpu-time" and result.unit == "cpu_seconds"
    assert all(level.meter == "cpu-time" and level.unit == "cpu_seconds" for level in result.levels)
    assert [level.status for level in result.levels] == ["ok"] * 4
    assert result.speedup is not None and 0.5 < result.speedup < 2.0


def test_wrong_solution_fails_with_zero(cpu, problem):
    result = cpu.measure(problem, WRONG)
    assert not result.passed and result.score == 0.0
    assert result.failed_at == 0
    assert result.levels[0].status == "wrong"


def test_failed_correctness_scores_zero_without_running(cpu, problem):
    result = cpu.measure(problem, problem.reference, passed_correctness=False)
    assert not result.passed and result.score == 0.0 and not result.levels


def test_hang_at_top_level_is_censored_not_failed(cpu, problem):
    result = cpu.measure(problem, HANGS_AT_TOP)
    assert result.passed
    assert result.censored_at == 3
    assert [level.status for level in result.levels][3] == "censored"
    assert 0.0 < result.score <= 0.6 + 0.2  # levels 1 and 2 (weights 3+3 of 10) at most ~1 each
    assert result.speedup is None  # the largest level was not completed
    assert result.seconds < 30


def test_slower_solution_scores_lower_on_cpu(cpu, problem):
    slow = cpu.measure(problem, SLOW)
    assert slow.passed
    assert slow.score < 0.5
    assert slow.censored_at is not None and slow.censored_at <= 2


@needs_valgrind
def test_instruction_meter_exact_and_deterministic(instructions, problem):
    ref = instructions.measure(problem, problem.reference)
    assert ref.passed and ref.note is None
    assert ref.score == 1.0 and ref.speedup == 1.0
    assert ref.meter == "instructions" and ref.unit == "instructions"
    assert ref.levels[0].value is None  # weight-0 level: status only, not counted
    first = instructions.measure(problem, SLOW)
    second = instructions.measure(problem, SLOW)
    assert first.score < ref.score
    assert first.score == second.score
    assert [level.value for level in first.levels] == [level.value for level in second.levels]
    assert first.levels[1].value > 10 * ref.levels[1].value  # O(n^2) vs O(n log n) at n = 100


@needs_valgrind
def test_instruction_meter_skips_valgrind_for_wrong_answers(instructions, problem):
    result = instructions.measure(problem, WRONG)
    assert not result.passed and result.score == 0.0
    assert result.seconds < 5  # the native screen decided; no valgrind start-up


def test_evaluate_reports_eff_at_k(sandbox, problem, tmp_path):
    from assay.evaluate import EvalConfig, evaluate
    from assay.samples import Sample
    from assay.store import Store

    samples = [Sample("HumanEval/0", 0, problem.reference), Sample("HumanEval/0", 1, WRONG)]
    config = EvalConfig(ks=(1,), efficiency=EfficiencyConfig(meter="cpu-time"))
    with Store(tmp_path / "store.sqlite") as store:
        report = evaluate([problem], samples, config=config, store=store, sandbox=sandbox)
    assert 1 in report.eff_at and 0.2 < report.eff_at[1].value < 0.8
    assert report.efficiency_meter == "cpu-time"
    lines = {o.index: o.to_line() for o in report.outcomes}
    assert lines[1]["efficiency"] == 0.0 and not report.outcomes[1].passed
    assert lines[0]["cost"][3]["unit"] == "cpu_seconds" and lines[0]["speedup"] > 0


def test_killed_efficiency_run_keeps_its_verdicts_and_resumes(sandbox, problem, tmp_path, monkeypatch):
    from assay.evaluate import EvalConfig, evaluate
    from assay.measure import efficiency as efficiency_module
    from assay.samples import Sample
    from assay.store import DONE, JUDGED, Store

    samples = [Sample("HumanEval/0", 0, problem.reference), Sample("HumanEval/0", 1, WRONG)]
    config = EvalConfig(ks=(1,), efficiency=EfficiencyConfig(meter="cpu-time"))
    store_path = tmp_path / "store.sqlite"

    class Killed(Exception):
        pass

    def killed(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(efficiency_module, "evaluate_efficiency", killed)
        with Store(store_path) as store, pytest.raises(Killed):
            evaluate([problem], samples, config=config, store=store, sandbox=sandbox)
    with Store(store_path) as store:
        run_id = store._db.execute("SELECT run_id FROM runs").fetchone()[0]
        kept = list(store.results(run_id))
        pending = store.positions(run_id, JUDGED)
    assert [r.passed for r in kept] == [True, False] and pending == {0, 1}  # judged, efficiency still to measure

    judged_again = []
    original_run = type(sandbox).run
    monkeypatch.setattr(type(sandbox), "run", lambda self, *a, **k: judged_again.append(a) or original_run(self, *a, **k))
    with Store(store_path) as store:
        report = evaluate([problem], samples, config=config, store=store, sandbox=sandbox, resume=True)
    assert judged_again == []  # correctness came from the store; only efficiency was measured
    with Store(store_path) as store:
        assert store.positions(run_id, JUDGED) == set() and store.positions(run_id, DONE) == {0, 1}
    lines = {o.index: o.to_line() for o in report.outcomes}
    assert 0.0 < lines[0]["efficiency"] <= 1.5
    assert lines[1]["efficiency"] == 0.0
    assert 1 in report.eff_at


# Correct, twice as slow as the reference, and it installs a profile hook that
# made the old harness's empty baseline call expensive, so that "call minus
# baseline" came out near 0. The counting server has no baseline in the
# candidate's reach and refuses profile hooks outright.
BIASES_ITS_COUNT = """
import sys

def has_close_elements(numbers, threshold):
    for _ in range(2):
        s = sorted(numbers)
        found = any(b - a < threshold for a, b in zip(s, s[1:]))
    return found

def _burn(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "baseline":
        x = 0
        for i in range(200000):
            x += i

sys.setprofile(_burn)
"""


@needs_valgrind
def test_instruction_count_a_candidate_biased_is_not_believed(instructions, problem):
    honest = instructions.measure(problem, problem.reference)
    biased = instructions.measure(problem, BIASES_ITS_COUNT)
    assert honest.passed and honest.score > 0
    # the meter refuses the profile hook: the program does not run under it, and earns nothing for speed
    assert not biased.passed and biased.score == 0.0 and biased.failed_at == 1
    assert all(level.value is None for level in biased.levels)


@needs_valgrind
def test_a_noisy_screen_run_does_not_make_an_honest_count_implausible(instructions, problem, monkeypatch):
    """HumanEval/95's sample once lost 0.8 of its score between two runs: one
    native screen run read milliseconds for a microsecond call."""
    honest = instructions.measure(problem, problem.reference)
    real = type(instructions)._cpu_test_costs

    def spiked(self, *args, **kwargs):
        statuses, costs = real(self, *args, **kwargs)
        if "aggregate" not in kwargs:  # the single screen run, as if the process had been descheduled
            costs = [[c + 0.05 for c in level] for level in costs]
        return statuses, costs

    monkeypatch.setattr(type(instructions), "_cpu_test_costs", spiked)
    again = instructions.measure(problem, problem.reference)
    assert again.note is None and again.score == honest.score


@needs_valgrind
def test_counting_stops_at_the_first_level_over_enamels_budget(instructions, problem, monkeypatch):
    """A screen that lets a quadratic sample through (native times can mislead: memcpy-heavy code is
    cheap natively and dear in instructions): the count stops at the first level over T instead of
    counting 15000^2 iterations at level 3 under valgrind (minutes), and the sample is censored there
    as ENAMEL's timeout does."""
    reference = instructions.measure(problem, problem.reference)
    real = type(instructions)._cpu_test_costs

    def lenient(self, problem_, program, workload, cutoff, repeats, overheads=None, **kwargs):
        if program == SLOW:  # the screen sees the reference's own times
            return real(self, problem_, problem_.reference, workload, cutoff, repeats, overheads, **kwargs)
        return real(self, problem_, program, workload, cutoff, repeats, overheads, **kwargs)

    monkeypatch.setattr(type(instructions), "_cpu_test_costs", lenient)
    slow = instructions.measure(problem, SLOW)
    assert [level.status for level in slow.levels] == ["ok", "ok", "censored", "not_run"]
    assert slow.censored_at == 2 and slow.levels[1].value > 10 * reference.levels[1].value
    assert slow.budget == 2 * max(level.value for level in reference.levels if level.value is not None)


@needs_valgrind
def test_levels_after_the_first_censored_one_are_not_run_whatever_the_screen_saw(instructions, problem, monkeypatch):
    """The count censors a sample at level 2; the native screen (timing) had stopped it at level 3 or let it
    through. Level 3 was never counted either way: it is reported not run, not as the screen's verdict, so the
    levels a report shows do not depend on timing (ENAMEL's HumanEval/117 showed both)."""
    real = type(instructions)._cpu_test_costs

    def screens(stop_at_top):
        def screen(self, problem_, program, workload, cutoff, repeats, overheads=None, **kwargs):
            statuses, costs = real(self, problem_, problem_.reference if program == SLOW else program, workload, cutoff, repeats, overheads, **kwargs)
            return (statuses[:3] + [LevelStatus.CENSORED], costs) if stop_at_top and program == SLOW else (statuses, costs)

        return screen

    seen = []
    for stop_at_top in (True, False):
        monkeypatch.setattr(type(instructions), "_cpu_test_costs", screens(stop_at_top))
        seen.append(instructions.measure(problem, SLOW))
    assert [[level.status for level in result.levels] for result in seen] == [["ok", "ok", "censored", "not_run"]] * 2
    assert seen[0].score == seen[1].score and seen[0].censored_at == seen[1].censored_at == 2


@needs_valgrind
def test_the_levels_a_screen_passes_count_the_same_however_early_it_stops(instructions, problem, monkeypatch):
    """The native screen stops a sample at a level that depends on timing; the counter gets every weighted
    level's calls and counts only the passed ones (``count_first``), so their counts are those of the whole job
    (a job holding fewer inputs counts its calls a few instructions differently)."""
    whole = instructions.measure(problem, problem.reference)
    real_screen = type(instructions)._cpu_test_costs

    def stops_at_level_2(self, problem_, program, workload, cutoff, repeats, overheads=None, **kwargs):
        statuses, costs = real_screen(self, problem_, program, workload, cutoff, repeats, overheads, **kwargs)
        return statuses[:2] + [LevelStatus.CENSORED] + [LevelStatus.NOT_RUN] * (len(statuses) - 3), costs

    seen: list[tuple[int, int | None]] = []
    real_costs = instructions.counter.call_costs

    def recording(sandbox, program, calls, timeout, **options):
        seen.append((len(calls), options.get("count_first")))
        return real_costs(sandbox, program, calls, timeout, **options)

    monkeypatch.setattr(type(instructions), "_cpu_test_costs", stops_at_level_2)
    monkeypatch.setattr(instructions.counter, "call_costs", recording)
    screened = instructions.measure(problem, problem.reference)
    workload = instructions.workload(problem)
    weighted = sum(len(level.tests) for level in workload.levels[1:])
    assert seen == [(weighted, len(workload.levels[1].tests))]
    assert [level.status for level in screened.levels] == ["ok", "ok", "censored", "not_run"]
    assert screened.levels[1].value == whole.levels[1].value
    counted = instructions.counted_references()
    assert list(counted) == [problem.task_id] and counted[problem.task_id].test_costs[1]  # counted once, shared by both samples


# Correct and three times the reference's work, all of it after a forged
# "the call has returned" mark, so that its window closes at once.
FORGES_ITS_WINDOW = """
import json, os, struct

def has_close_elements(numbers, threshold):
    body = json.dumps({"mark": "end"}).encode()
    readers = []
    for fd in [int(x) for x in os.listdir('/proc/self/fd') if int(x) > 2]:
        try:
            os.write(fd, struct.pack('>I', len(body)) + body)
        except OSError:
            readers.append(fd)
    for fd in readers:  # take the monitor's answer, so the calls stay in step
        try:
            (size,) = struct.unpack('>I', os.read(fd, 4))
            os.read(fd, size)
            break
        except (OSError, struct.error):
            pass
    for _ in range(3):
        s = sorted(numbers)
        found = any(b - a < threshold for a, b in zip(s, s[1:]))
    return found
"""


def test_cpu_meter_counts_work_moved_out_of_the_call_window(cpu, problem):
    honest = cpu.measure(problem, problem.reference)
    forged = cpu.measure(problem, FORGES_ITS_WINDOW)
    assert forged.passed, forged
    top_forged, top_honest = forged.levels[-1], honest.levels[-1]
    assert top_forged.value is None or top_forged.value > 1.5 * top_honest.value  # its real cost, not ~0
    assert forged.score < honest.score


def test_overflow_on_a_large_level_censors_like_enamel(cpu):
    # HumanEval/77's canonical solution turns its input into a float, which overflows
    # on the large levels; ENAMEL counts that as a level not completed, not a wrong answer.
    problem = {p.task_id: p for p in load_benchmark("enamel")}["HumanEval/77"]
    canonical = "def iscube(a):\n    a = abs(a)\n    return int(round(a ** (1. / 3))) ** 3 == a\n"
    result = cpu.measure(problem, canonical)
    assert result.passed and result.censored_at is not None and result.failed_at is None
    assert result.levels[result.censored_at].status == "censored"


@pytest.fixture
def stress_runs(monkeypatch) -> list[bool]:
    """One entry per native stress run the evaluator makes from now on: True where it ran the reference."""
    import assay.measure.efficiency as efficiency

    runs: list[bool] = []
    real = efficiency.stress_run

    def recording(sandbox_, problem_, program, *args, **kwargs):
        runs.append(program == problem_.reference)
        return real(sandbox_, problem_, program, *args, **kwargs)

    monkeypatch.setattr(efficiency, "stress_run", recording)
    return runs


def test_the_run_that_computes_expected_outputs_is_the_references_first_timed_run(sandbox, problem, stress_runs):
    """Building the workload runs the reference on every stress input, one call at a time and timed; the
    CPU reference takes that run as its first, so a cost meter runs the reference natively once less."""
    runs = stress_runs
    once = EfficiencyEvaluator(sandbox, EfficiencyConfig(meter="cpu-time", repeats=1))
    workload = once.workload(problem)
    assert len(workload.reference_timings) == len(workload.tests) and all(t.cpu_ns > 0 for t in workload.reference_timings)
    profile = once.cpu_reference(problem)
    assert runs == []  # one repeat: the workload's run is it
    per_test = iter(workload.reference_timings)
    assert profile.test_costs == tuple(tuple(next(per_test).cpu_ns / 1e9 for _ in level.tests) for level in workload.levels)
    thrice = EfficiencyEvaluator(sandbox, EfficiencyConfig(meter="cpu-time", repeats=3))
    thrice.cpu_reference(problem)
    assert runs == [True, True]  # three repeats: its own workload's run and two more


def test_cpu_time_times_the_reference_in_its_own_run_when_the_workload_comes_from_the_cache(sandbox, problem, stress_runs, monkeypatch, tmp_path):
    """A cached workload's timings are an earlier run's: a counting meter's screen may use them, the cpu-time meter may not."""
    monkeypatch.setenv("ASSAY_WORKLOAD_CACHE", str(tmp_path / "workloads.sqlite"))
    EfficiencyEvaluator(sandbox, EfficiencyConfig(meter="cpu-time", repeats=1)).workload(problem)  # fills the cache
    assert stress_runs == []  # building a workload is not a stress run
    later = EfficiencyEvaluator(sandbox, EfficiencyConfig(meter="cpu-time", repeats=1))
    assert later.workload(problem).cached
    later.cpu_reference(problem)
    assert stress_runs == [True]  # the reference timed again, in this run
