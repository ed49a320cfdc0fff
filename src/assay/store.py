"""The run store: every result is written to SQLite as it is produced.

A killed run loses nothing: ``--resume`` reads back what is done and runs
only the rest. Schema changes go through numbered migrations.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

MIGRATIONS = (
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        benchmark TEXT NOT NULL,
        source TEXT NOT NULL,
        config TEXT NOT NULL,
        created_at REAL NOT NULL,
        finished_at REAL
    );
    CREATE TABLE results (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        position INTEGER NOT NULL,
        line_number INTEGER,
        task_id TEXT NOT NULL,
        sample_index INTEGER NOT NULL,
        passed INTEGER NOT NULL,
        status TEXT NOT NULL,
        result TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (run_id, position)
    );
    CREATE TABLE sample_errors (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        line_number INTEGER,
        task_id TEXT,
        message TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE llm_calls (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        task_id TEXT NOT NULL,
        sample_index INTEGER NOT NULL,
        model TEXT NOT NULL,
        messages TEXT NOT NULL,
        params TEXT NOT NULL,
        completion TEXT NOT NULL,
        finish_reason TEXT,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        seconds REAL NOT NULL,
        cached INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX llm_calls_run ON llm_calls(run_id, task_id, sample_index);
    """,
    # A result's stage: 'done', or 'judged' while more is to be measured (efficiency).
    # Stores from before kept that as a flag in the result's JSON.
    """
    ALTER TABLE results ADD COLUMN stage TEXT NOT NULL DEFAULT 'done';
    UPDATE results SET stage = 'judged' WHERE json_extract(result, '$.efficiency_pending');
    """,
    # Oracle pools: the tests a search may see, per problem, with provenance and trust (assay.oracles).
    """
    CREATE TABLE oracle_pools (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        task_id TEXT NOT NULL,
        pool TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (run_id, task_id)
    );
    """,
)
DONE, JUDGED = "done", "judged"


def default_path() -> Path:
    return Path(os.environ.get("ASSAY_HOME", ".assay")) / "store.sqlite"


@dataclass(frozen=True)
class StoredResult:
    position: int
    line_number: int | None
    task_id: str
    sample_index: int
    passed: bool
    status: str
    result: dict[str, Any]


class Store:
    """A SQLite file shared by the threads of one process."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self._db.executescript("BEGIN;" + script + "PRAGMA user_version=%d; COMMIT;" % number)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- runs

    def start_run(self, run_id: str, kind: str, benchmark: str, source: str, config: dict[str, Any], resume: bool) -> int:
        """Create the run (or, resuming, keep it); returns how many results it already has."""
        with self._lock:
            exists = self._db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if exists and resume:
                return self._db.execute("SELECT COUNT(*) FROM results WHERE run_id = ?", (run_id,)).fetchone()[0]
            self._db.execute("BEGIN")
            if exists:
                for table in ("results", "sample_errors", "llm_calls", "oracle_pools", "runs"):
                    self._db.execute("DELETE FROM %s WHERE run_id = ?" % table, (run_id,))
            self._db.execute(
                "INSERT INTO runs (run_id, kind, benchmark, source, config, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, kind, benchmark, source, json.dumps(config, sort_keys=True), time.time()),
            )
            self._db.execute("COMMIT")
            return 0

    def finish_run(self, run_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE runs SET finished_at = ? WHERE run_id = ?", (time.time(), run_id))

    def run_finished(self, run_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT finished_at FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return bool(row and row[0])

    # ---------------------------------------------------------------- results

    def add_result(self, run_id: str, position: int, line_number: int | None, task_id: str, sample_index: int, passed: bool, status: str, result: dict[str, Any], stage: str | None = None) -> None:
        """Store (or replace) one sample's result; ``stage`` JUDGED while more is to be measured."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, position, line_number, task_id, sample_index, int(passed), status, json.dumps(result), time.time(), stage or DONE),
            )

    def positions(self, run_id: str, stage: str) -> set[int]:
        """Positions whose result is at ``stage``."""
        with self._lock:
            rows = self._db.execute("SELECT position FROM results WHERE run_id = ? AND stage = ?", (run_id, stage)).fetchall()
        return {row[0] for row in rows}

    def add_llm_call(self, run_id: str, task_id: str, sample_index: int, model: str, messages: list[dict], params: dict, completion: str, finish_reason: str | None, prompt_tokens: int, completion_tokens: int, seconds: float, cached: bool) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO llm_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, task_id, sample_index, model, json.dumps(messages), json.dumps(params), completion, finish_reason, prompt_tokens, completion_tokens, seconds, int(cached), time.time()),
            )

    def llm_calls(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute("SELECT * FROM llm_calls WHERE run_id = ? ORDER BY rowid", (run_id,))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def add_sample_error(self, run_id: str, line_number: int | None, task_id: str | None, message: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO sample_errors VALUES (?, ?, ?, ?)", (run_id, line_number, task_id, message))

    def clear_sample_errors(self, run_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sample_errors WHERE run_id = ?", (run_id,))

    def done_positions(self, run_id: str) -> set[int]:
        """Positions with a result that counts; infrastructure errors are run again."""
        with self._lock:
            rows = self._db.execute("SELECT position FROM results WHERE run_id = ? AND status != 'infra_error'", (run_id,)).fetchall()
        return {row[0] for row in rows}

    def add_oracle_pool(self, run_id: str, task_id: str, pool: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO oracle_pools VALUES (?, ?, ?, ?)", (run_id, task_id, json.dumps(pool), time.time()))

    def oracle_pools(self, run_id: str) -> dict[str, dict[str, Any]]:
        """task_id -> the stored pool (``OraclePool.to_dict``)."""
        with self._lock:
            rows = self._db.execute("SELECT task_id, pool FROM oracle_pools WHERE run_id = ? ORDER BY rowid", (run_id,)).fetchall()
        return {task_id: json.loads(pool) for task_id, pool in rows}

    def results(self, run_id: str) -> Iterator[StoredResult]:
        with self._lock:
            rows = self._db.execute(
                "SELECT position, line_number, task_id, sample_index, passed, status, result FROM results WHERE run_id = ? ORDER BY position",
                (run_id,),
            ).fetchall()
        for position, line, task_id, index, passed, status, result in rows:
            yield StoredResult(position, line, task_id, index, bool(passed), status, json.loads(result))
