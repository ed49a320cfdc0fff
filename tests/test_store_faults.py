"""The store under real faults (issue 15, section 3): a SIGKILL mid-write, a full disk, two writers at once.

Each must leave a store that opens, passes SQLite's integrity check, counts
no half-written result, and lets ``--resume`` finish the run. The faults are
real: processes are killed with SIGKILL, the disk is a tiny tmpfs that fills
(skipped, with the reason, where one cannot be mounted), and the writers are
separate processes.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from assay.store import Store, StoreError

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
CANONICAL = 164


def assay_eval(store: Path, *extra: str, results: Path | None = None, **popen) -> list[str]:
    args = [sys.executable, "-m", "assay.cli", "eval", "--benchmark", "humaneval", "--samples", "canonical", "--store", str(store), "--workers", "1", "--k", "1", *extra]
    return args + (["--results", str(results)] if results else [])


def read_only(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30)
    db.execute("PRAGMA busy_timeout=30000")
    return db


def count_results(path: Path) -> int:
    try:
        with read_only(path) as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def check_whole(path: Path) -> list[dict]:
    """The store opens, is intact, and every stored result is a whole one."""
    with read_only(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT position, task_id, status, passed, result FROM results").fetchall()
    lines = []
    for position, task_id, status, passed, result in rows:
        line = json.loads(result)  # a torn row would not parse
        assert line["task_id"] == task_id and line["status"] == status and line["passed"] == bool(passed)
        lines.append(line)
    return lines


def wait_until(predicate, timeout: float = 180.0, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process and everything it started (its sandbox workers)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)


# A writer that commits results as fast as it can and says after each commit how many are in.
WRITER = textwrap.dedent(
    """
    import sys
    from assay.store import Store
    path, run, start, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = Store(path)
    store.start_run(run, "eval", "b", "s", {}, resume=True)
    filler = "x" * 20000  # big rows: a kill lands mid-write more often than not
    for position in range(start, start + count):
        line = {"task_id": "t/%d" % position, "passed": True, "status": "pass", "tests": [], "filler": filler}
        store.add_result(run, position, position + 1, "t/%d" % position, 0, True, "pass", line, program="pass")
        print(position - start + 1, flush=True)
    store.close()
    """
)


# ------------------------------------------------------------------ SIGKILL mid-write


def test_writers_killed_mid_write_leave_only_whole_rows(tmp_path):
    path = tmp_path / "store.sqlite"
    acknowledged = 0
    for round_, after in enumerate((1, 7, 30, 3, 60)):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "run", str(acknowledged), "100000"], stdout=subprocess.PIPE, text=True, env=ENV, start_new_session=True)
        for _ in range(after):
            assert proc.stdout.readline(), "the writer died on its own (round %d)" % round_
        kill_group(proc)  # while it is writing the next rows
        proc.stdout.close()
        lines = check_whole(path)
        assert len(lines) >= acknowledged + after  # nothing committed is lost
        acknowledged = len(lines)
        assert sorted(int(line["task_id"].split("/")[1]) for line in lines) == list(range(acknowledged))  # whole rows, no gaps
    with Store(path) as store:  # opens and takes more
        store.add_result("run", acknowledged, None, "t/x", 0, True, "pass", {"task_id": "t/x"})
        assert len(list(store.results("run"))) == acknowledged + 1


def test_a_killed_eval_resumes_without_rerunning_what_it_stored(tmp_path):
    path = tmp_path / "store.sqlite"
    proc = subprocess.Popen(assay_eval(path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV, start_new_session=True)
    try:
        assert wait_until(lambda: count_results(path) >= 15 or proc.poll() is not None), "no results were written"
        assert proc.poll() is None, proc.stderr.read()
    finally:
        kill_group(proc)  # SIGKILL, mid-run, results still coming
        proc.stderr.close()
    stored = check_whole(path)
    assert 15 <= len(stored) < CANONICAL and all(line["passed"] for line in stored)
    results = tmp_path / "results.jsonl"
    done = subprocess.run(assay_eval(path, "--resume", results=results), capture_output=True, text=True, env=ENV, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "%d reused from the store" % len(stored) in done.stdout
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(lines) == CANONICAL and all(line["passed"] for line in lines)
    assert len(check_whole(path)) == CANONICAL


# ------------------------------------------------------------------ a full disk


@pytest.fixture
def tiny_disk():
    """A 320 KiB tmpfs (root, and mount allowed), unmounted afterwards."""
    where = Path(tempfile.mkdtemp(prefix="assay-tinydisk-"))
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=320k", "tmpfs", str(where)], capture_output=True, text=True)
    except OSError as exc:
        mounted = subprocess.CompletedProcess([], 1, "", str(exc))
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip("cannot mount a tmpfs to fill (needs root and mount permission): %s" % (mounted.stderr.strip() or "mount failed"))
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        where.rmdir()


def test_a_full_disk_stops_eval_with_a_clear_error_and_resume_finishes(tiny_disk, tmp_path):
    path = tiny_disk / "store.sqlite"
    full = subprocess.run(assay_eval(path), capture_output=True, text=True, env=ENV, timeout=600)
    assert full.returncode == 1, full.stdout + full.stderr
    assert "Traceback" not in full.stderr, full.stderr
    message = " ".join(full.stderr.split())
    assert "disk is full" in message and str(path) in message and "--resume" in message, full.stderr
    stored = check_whole(path)
    assert 0 < len(stored) < CANONICAL  # it stopped part way
    subprocess.run(["mount", "-o", "remount,size=16m", str(tiny_disk)], check=True)  # space again
    results = tmp_path / "results.jsonl"
    done = subprocess.run(assay_eval(path, "--resume", results=results), capture_output=True, text=True, env=ENV, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "reused from the store" in done.stdout
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(lines) == CANONICAL and all(line["passed"] for line in lines)
    assert len(check_whole(path)) == CANONICAL


def test_a_store_that_cannot_be_written_names_its_path(tiny_disk):
    filler = tiny_disk / "filler"
    with open(filler, "wb") as handle:  # fill the disk before the store exists
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError:
            pass
    path = tiny_disk / "store.sqlite"
    with pytest.raises(StoreError) as raised:
        Store(path)
    assert str(path) in str(raised.value) and "full" in str(raised.value)


# ------------------------------------------------------------------ two writers at once


OPENER = textwrap.dedent(
    """
    import os, sys, time
    from assay.store import Store
    path, run, go = sys.argv[1], sys.argv[2], float(sys.argv[3])
    while time.time() < go:  # every process opens the fresh store at the same moment
        pass
    store = Store(path)
    store.start_run(run, "eval", "b", "s", {}, resume=False)
    for position in range(150):
        passed = position % 2 == 0
        status = "pass" if passed else "fail"
        store.add_result(run, position, None, "t/%d" % position, 0, passed, status, {"task_id": "t/%d" % position, "passed": passed, "status": status})
        if position % 50 == 0:
            store.add_sample_error(run, position, None, "bad")
    store.finish_run(run)
    store.close()
    """
)


def test_processes_creating_and_writing_one_store_at_once(tmp_path):
    """Six processes open a store that does not exist yet at the same instant (all migrate it) and write at once."""
    for attempt in range(3):  # three fresh stores: the race on creation is the one that used to fail
        path = tmp_path / ("store%d.sqlite" % attempt)
        go = time.time() + 2.0
        procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(path), "run%d" % i, str(go)], stderr=subprocess.PIPE, text=True, env=ENV) for i in range(6)]
        failures = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
        for p in procs:
            p.stderr.close()
        assert all(code == 0 for code, _ in failures), [err for code, err in failures if code][:1]
        with Store(path) as store:
            runs = store.runs()
            assert sorted(r.run_id for r in runs) == ["run%d" % i for i in range(6)] and all(r.finished_at for r in runs)
            for i in range(6):
                assert [r.position for r in store.results("run%d" % i)] == list(range(150))
                assert len(store.sample_errors("run%d" % i)) == 3
        check_whole(path)


def test_two_evals_on_one_store_at_once_both_finish(tmp_path):
    path = tmp_path / "store.sqlite"
    samples = tmp_path / "wrong.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "HumanEval/%d" % i, "completion": "    return None\n"}) + "\n" for i in range(40)))
    wrong = [sys.executable, "-m", "assay.cli", "eval", "--benchmark", "humaneval", "--samples", str(samples), "--store", str(path), "--workers", "1", "--k", "1"]
    first = subprocess.Popen(assay_eval(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    second = subprocess.Popen(wrong, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    out1, err1 = first.communicate(timeout=600)
    out2, err2 = second.communicate(timeout=600)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    with Store(path) as store:
        runs = {r.source: r for r in store.runs()}
        assert set(runs) == {"canonical", str(samples)} and all(r.finished_at for r in runs.values())
        assert sum(r.passed for r in store.results(runs["canonical"].run_id)) == CANONICAL
        assert [r.passed for r in store.results(runs[str(samples)].run_id)] == [False] * 40
    check_whole(path)
