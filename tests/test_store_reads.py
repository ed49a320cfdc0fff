"""The store's read side (what reports and `assay runs` use) and migration 5 (programs, machines)."""

from __future__ import annotations

import sqlite3

from assay.store import MIGRATIONS, Store


def fill(store: Store) -> None:
    store.start_run("run_1", "eval", "humaneval", "s.jsonl", {"ks": [1]}, resume=False)
    store.add_result("run_1", 0, 1, "T/0", 0, True, "pass", {"efficiency": 0.5}, program="def f(): pass\n")
    store.add_result("run_1", 1, 2, "T/0", 1, False, "fail", {"efficiency": None})
    store.add_sample_error("run_1", 3, "T/1", "not JSON")
    store.finish_run("run_1")
    store.start_run("run%2", "solve", "humaneval", "scripted", {"strategy": "sample", "n": 1}, resume=False)
    store.add_llm_call("run%2", "T/0", 0, "scripted", [{"role": "user", "content": "hi"}], {}, "reply", "stop", 10, 5, 0.25, True)


def test_runs_read_back_oldest_first_with_config_and_machine(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        fill(store)
        runs = store.runs()
        assert [r.run_id for r in runs] == ["run_1", "run%2"]
        assert runs[0].config == {"ks": [1]} and runs[0].finished_at and runs[1].finished_at is None
        assert runs[0].machine["cores"] >= 1 and runs[0].machine["python"]
        assert store.run("nope") is None


def test_prefixes_are_literal_and_an_exact_id_wins(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        fill(store)
        assert store.find_runs("run") == ["run_1", "run%2"]
        assert store.find_runs("run%") == ["run%2"]  # '%' and '_' are not wildcards
        assert store.find_runs("run_") == ["run_1"]
        assert store.find_runs("run_1") == ["run_1"]


def test_results_programs_errors_and_model_totals(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        fill(store)
        briefs = store.result_briefs("run_1")
        assert [(b.task_id, b.passed, b.status, b.efficiency, b.has_efficiency) for b in briefs] == [("T/0", True, "pass", 0.5, True), ("T/0", False, "fail", None, True)]
        assert store.programs("run_1") == {0: "def f(): pass\n"}
        assert store.sample_errors("run_1") == [{"line_number": 3, "task_id": "T/1", "message": "not JSON"}]
        assert store.llm_totals("run%2") == {"calls": 1, "prompt_tokens": 10, "completion_tokens": 5, "seconds": 0.25, "cached": 1}
        assert store.llm_totals("run_1")["calls"] == 0


def test_rows_of_a_table_other_work_adds(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        fill(store)
        assert store.rows("later_table", "run_1") == [] and not store.has_table("later_table")
        assert store.rows("runs; DROP TABLE runs", "run_1") == []  # not a name: nothing is run
        store._db.execute("CREATE TABLE later_table (run_id TEXT, node_id TEXT)")  # noqa: SLF001 - as a later migration would
        store._db.execute("INSERT INTO later_table VALUES ('run_1', 'a')")  # noqa: SLF001
        assert store.rows("later_table", "run_1") == [{"run_id": "run_1", "node_id": "a"}]


def test_a_store_from_before_migration_5_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        db.executescript("BEGIN;" + script + "PRAGMA user_version=%d; COMMIT;" % number)
    db.execute("INSERT INTO runs (run_id, kind, benchmark, source, config, created_at) VALUES ('old', 'eval', 'b', 's', '{}', 1.0)")
    db.execute("INSERT INTO results (run_id, position, line_number, task_id, sample_index, passed, status, result, created_at) VALUES ('old', 0, 1, 'T', 0, 1, 'pass', '{}', 1.0)")
    db.commit()
    db.close()
    with Store(path) as store:
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)  # noqa: SLF001
        assert store.run("old").machine is None and store.programs("old") == {}
        assert [b.passed for b in store.result_briefs("old")] == [True]
