"""The run store: every result is written to SQLite as it is produced.

A killed run loses nothing: ``--resume`` reads back what is done and runs
only the rest. Schema changes go through numbered migrations.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import sys
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
    # What reports show that was not kept before: each sample's program, and the machine a run ran on.
    # Older rows keep NULL there (reports say "not stored").
    """
    ALTER TABLE results ADD COLUMN program TEXT;
    ALTER TABLE runs ADD COLUMN machine TEXT;
    """,
    # A search's tree, node by node as it grows (assay.search): what made each node, what it
    # holds, what the model was asked and answered, the feedback and the value it got.
    """
    CREATE TABLE search_nodes (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        task_id TEXT NOT NULL,
        node_id TEXT NOT NULL,
        parent_id TEXT,
        operator TEXT NOT NULL,
        kind TEXT NOT NULL,
        content TEXT NOT NULL,
        program TEXT,
        score REAL,
        passed INTEGER,
        value TEXT,
        feedback TEXT,
        prompt TEXT,
        reply TEXT,
        created_at REAL NOT NULL,
        PRIMARY KEY (run_id, task_id, node_id)
    );
    """,
)
DONE, JUDGED = "done", "judged"
BUSY_TIMEOUT_MS = 30_000  # another process writing the same store: wait this long for its lock


class StoreError(Exception):
    """The store cannot be read or written: the message names its path, says why, and what to do."""


def _explain(path: Path, error: BaseException) -> str:
    name = getattr(error, "sqlite_errorname", "") or ""
    text = str(error)
    if name == "SQLITE_FULL" or "full" in text.lower() or getattr(error, "errno", None) == errno.ENOSPC:
        return ("the store %s cannot be written: the disk is full (%s). Results written before are kept; "
                "free some space and rerun with --resume to go on." % (path, text))  # fmt: skip
    if name == "SQLITE_BUSY" or "locked" in text.lower():
        return ("the store %s is locked by another process (waited %d s: %s); "
                "rerun with --resume when it is done, or use --store for another file." % (path, BUSY_TIMEOUT_MS // 1000, text))  # fmt: skip
    if isinstance(error, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text):
        return "the store %s is damaged (%s); move it aside and start a new one (--store)." % (path, text)
    return "the store %s: %s: %s" % (path, type(error).__name__, text)


def default_path() -> Path:
    return Path(os.environ.get("ASSAY_HOME", ".assay")) / "store.sqlite"


def machine_info() -> dict[str, Any]:
    """The machine a run runs on, as reports show it: CPU, cores, memory, system, Python.

    Read from ``os.uname`` and ``/proc``, not the ``platform`` module: its
    import and ``platform.processor()`` (which runs ``uname -p``) cost every
    new run ~15 ms before its first sample.
    """
    uname = os.uname()
    cpu = uname.machine
    memory = None
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
        with open("/proc/meminfo") as handle:
            memory = int(handle.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    from assay import __version__

    python = "%d.%d.%d" % sys.version_info[:3]
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_bytes": memory, "system": "%s %s" % (uname.sysname, uname.release), "python": python, "assay": __version__}


@dataclass(frozen=True)
class StoredRun:
    """A run's row: what it was (kind, benchmark, source, config), when, and where."""

    run_id: str
    kind: str
    benchmark: str
    source: str  # eval: the samples file; solve: the model's name
    config: dict[str, Any]
    created_at: float
    finished_at: float | None
    machine: dict[str, Any] | None  # None: stored before migration 4


@dataclass(frozen=True)
class ResultBrief:
    """What a listing needs of one result, read without parsing the result's JSON in Python."""

    task_id: str
    sample_index: int
    passed: bool
    status: str
    efficiency: float | None
    has_efficiency: bool


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
    """A SQLite file shared by the threads of one process, and by other processes.

    Every write is one transaction (a killed process leaves whole rows or
    none); other processes writing the same file are waited for (WAL mode,
    a busy timeout); any failure (a full disk, a lock held too long, a
    damaged file) is a :class:`StoreError` naming the path.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(_explain(self.path, exc)) from exc
        try:
            self._db.execute("PRAGMA busy_timeout=%d" % BUSY_TIMEOUT_MS)  # before anything that may wait for another process
            for attempt in range(200):  # switching to WAL does not wait on the busy handler: another process creating the file may hold it
                try:
                    self._db.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or attempt == 199:
                        raise
                    time.sleep(0.05)
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            self._db.close()
            raise StoreError(_explain(self.path, exc)) from exc

    def _migrate(self) -> None:
        """Bring the schema up to date; several processes may open a new store at once."""
        with self._lock:
            while True:
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version >= len(MIGRATIONS):
                    return
                number = version + 1
                try:  # IMMEDIATE: the write lock first, so two processes never run one migration together
                    self._db.executescript("BEGIN IMMEDIATE;" + MIGRATIONS[version] + "PRAGMA user_version=%d; COMMIT;" % number)
                except sqlite3.OperationalError:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    if self._db.execute("PRAGMA user_version").fetchone()[0] > version:
                        continue  # another process ran it first (it held the lock while we waited)
                    raise

    @contextlib.contextmanager
    def _using(self) -> Iterator[None]:
        """The connection, for one statement or transaction: failures become a StoreError naming the path."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise StoreError(_explain(self.path, exc)) from exc

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:  # a full disk can refuse the last checkpoint; the WAL keeps the data for the next open
                pass

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- runs

    def start_run(self, run_id: str, kind: str, benchmark: str, source: str, config: dict[str, Any], resume: bool) -> int:
        """Create the run (or, resuming, keep it); returns how many results it already has."""
        with self._using():
            self._db.execute("BEGIN IMMEDIATE")  # another process starting the same run waits, then sees it
            exists = self._db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if exists and resume:
                count = self._db.execute("SELECT COUNT(*) FROM results WHERE run_id = ?", (run_id,)).fetchone()[0]
                self._db.execute("COMMIT")
                return count
            if exists:
                for table in ("results", "sample_errors", "llm_calls", "oracle_pools", "search_nodes", "runs"):
                    self._db.execute("DELETE FROM %s WHERE run_id = ?" % table, (run_id,))
            self._db.execute(
                "INSERT INTO runs (run_id, kind, benchmark, source, config, created_at, machine) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, kind, benchmark, source, json.dumps(config, sort_keys=True), time.time(), json.dumps(machine_info())),
            )
            self._db.execute("COMMIT")
            return 0

    def finish_run(self, run_id: str) -> None:
        with self._using():
            self._db.execute("UPDATE runs SET finished_at = ? WHERE run_id = ?", (time.time(), run_id))

    def run_finished(self, run_id: str) -> bool:
        with self._using():
            row = self._db.execute("SELECT finished_at FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return bool(row and row[0])

    # ---------------------------------------------------------------- results

    def add_result(self, run_id: str, position: int, line_number: int | None, task_id: str, sample_index: int, passed: bool, status: str, result: dict[str, Any], stage: str | None = None, program: str | None = None) -> None:
        """Store (or replace) one sample's result; ``stage`` JUDGED while more is to be measured; ``program``: the code judged."""
        with self._using():
            self._db.execute(
                "INSERT OR REPLACE INTO results (run_id, position, line_number, task_id, sample_index, passed, status, result, created_at, stage, program)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, position, line_number, task_id, sample_index, int(passed), status, json.dumps(result), time.time(), stage or DONE, program),
            )

    def positions(self, run_id: str, stage: str) -> set[int]:
        """Positions whose result is at ``stage``."""
        with self._using():
            rows = self._db.execute("SELECT position FROM results WHERE run_id = ? AND stage = ?", (run_id, stage)).fetchall()
        return {row[0] for row in rows}

    def add_llm_call(self, run_id: str, task_id: str, sample_index: int, model: str, messages: list[dict], params: dict, completion: str, finish_reason: str | None, prompt_tokens: int, completion_tokens: int, seconds: float, cached: bool) -> None:
        with self._using():
            self._db.execute(
                "INSERT INTO llm_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, task_id, sample_index, model, json.dumps(messages), json.dumps(params), completion, finish_reason, prompt_tokens, completion_tokens, seconds, int(cached), time.time()),
            )

    def llm_calls(self, run_id: str) -> list[dict[str, Any]]:
        with self._using():
            cursor = self._db.execute("SELECT * FROM llm_calls WHERE run_id = ? ORDER BY rowid", (run_id,))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def add_sample_error(self, run_id: str, line_number: int | None, task_id: str | None, message: str) -> None:
        with self._using():
            self._db.execute("INSERT INTO sample_errors VALUES (?, ?, ?, ?)", (run_id, line_number, task_id, message))

    def clear_sample_errors(self, run_id: str) -> None:
        with self._using():
            self._db.execute("DELETE FROM sample_errors WHERE run_id = ?", (run_id,))

    def done_positions(self, run_id: str) -> set[int]:
        """Positions with a result that counts; infrastructure errors are run again."""
        with self._using():
            rows = self._db.execute("SELECT position FROM results WHERE run_id = ? AND status != 'infra_error'", (run_id,)).fetchall()
        return {row[0] for row in rows}

    def add_search_node(self, run_id: str, task_id: str, node: dict[str, Any]) -> None:
        """One node of a search tree (``assay.search.tree.Node.row``), replaced when the node changes."""
        columns = ("node_id", "parent_id", "operator", "kind", "content", "program", "score", "passed", "value", "feedback", "prompt", "reply")
        values = [node.get(c) for c in columns]
        values[columns.index("value")] = json.dumps(node.get("value")) if node.get("value") is not None else None
        with self._using():
            self._db.execute(
                "INSERT OR REPLACE INTO search_nodes (run_id, task_id, %s, created_at) VALUES (?, ?, %s, ?)" % (", ".join(columns), ", ".join("?" * len(columns))),
                (run_id, task_id, *values, time.time()),
            )

    def search_nodes(self, run_id: str, task_id: str | None = None) -> list[dict[str, Any]]:
        with self._using():
            query = "SELECT * FROM search_nodes WHERE run_id = ?" + (" AND task_id = ?" if task_id is not None else "") + " ORDER BY rowid"
            cursor = self._db.execute(query, (run_id,) if task_id is None else (run_id, task_id))
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row)) for row in cursor.fetchall()]
        for row in rows:
            row["value"] = json.loads(row["value"]) if row.get("value") else None
        return rows

    def add_oracle_pool(self, run_id: str, task_id: str, pool: dict[str, Any]) -> None:
        with self._using():
            self._db.execute("INSERT OR REPLACE INTO oracle_pools VALUES (?, ?, ?, ?)", (run_id, task_id, json.dumps(pool), time.time()))

    def oracle_pools(self, run_id: str) -> dict[str, dict[str, Any]]:
        """task_id -> the stored pool (``OraclePool.to_dict``)."""
        with self._using():
            rows = self._db.execute("SELECT task_id, pool FROM oracle_pools WHERE run_id = ? ORDER BY rowid", (run_id,)).fetchall()
        return {task_id: json.loads(pool) for task_id, pool in rows}

    def results(self, run_id: str) -> Iterator[StoredResult]:
        with self._using():
            rows = self._db.execute(
                "SELECT position, line_number, task_id, sample_index, passed, status, result FROM results WHERE run_id = ? ORDER BY position",
                (run_id,),
            ).fetchall()
        for position, line, task_id, index, passed, status, result in rows:
            yield StoredResult(position, line, task_id, index, bool(passed), status, json.loads(result))

    # ---------------------------------------------------------------- reading runs back (reports, `assay runs`)

    def _run(self, row: tuple) -> StoredRun:
        run_id, kind, benchmark, source, config, created, finished, machine = row
        return StoredRun(run_id, kind, benchmark, source, json.loads(config), created, finished, json.loads(machine) if machine else None)

    def runs(self) -> list[StoredRun]:
        """Every run, oldest first."""
        with self._using():
            rows = self._db.execute("SELECT run_id, kind, benchmark, source, config, created_at, finished_at, machine FROM runs ORDER BY created_at, run_id").fetchall()
        return [self._run(row) for row in rows]

    def run(self, run_id: str) -> StoredRun | None:
        with self._using():
            row = self._db.execute("SELECT run_id, kind, benchmark, source, config, created_at, finished_at, machine FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return self._run(row) if row else None

    def find_runs(self, prefix: str) -> list[str]:
        """Run ids starting with ``prefix`` (an exact id first)."""
        with self._using():
            if self._db.execute("SELECT 1 FROM runs WHERE run_id = ?", (prefix,)).fetchone():
                return [prefix]
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = self._db.execute("SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' ORDER BY created_at", (escaped + "%",)).fetchall()
        return [row[0] for row in rows]

    def result_briefs(self, run_id: str) -> list[ResultBrief]:
        """Task, index, pass, status and efficiency score of every result, in position order."""
        with self._using():
            rows = self._db.execute(
                "SELECT task_id, sample_index, passed, status, json_extract(result, '$.efficiency'), json_type(result, '$.efficiency') IS NOT NULL"
                " FROM results WHERE run_id = ? ORDER BY position",
                (run_id,),
            ).fetchall()
        return [ResultBrief(task, index, bool(passed), status, eff, bool(has)) for task, index, passed, status, eff, has in rows]

    def programs(self, run_id: str) -> dict[int, str]:
        """The program each result judged, by position (results stored before migration 4 have none)."""
        with self._using():
            rows = self._db.execute("SELECT position, program FROM results WHERE run_id = ? AND program IS NOT NULL", (run_id,)).fetchall()
        return dict(rows)

    def sample_errors(self, run_id: str) -> list[dict[str, Any]]:
        with self._using():
            rows = self._db.execute("SELECT line_number, task_id, message FROM sample_errors WHERE run_id = ? ORDER BY rowid", (run_id,)).fetchall()
        return [{"line_number": line, "task_id": task, "message": message} for line, task, message in rows]

    def llm_totals(self, run_id: str) -> dict[str, Any]:
        """A run's model cost: calls, prompt and completion tokens, seconds in the model, cached replies."""
        with self._using():
            calls, prompt, completion, seconds, cached = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(seconds), 0), COALESCE(SUM(cached), 0) FROM llm_calls WHERE run_id = ?",
                (run_id,),
            ).fetchone()
        return {"calls": calls, "prompt_tokens": prompt, "completion_tokens": completion, "seconds": seconds, "cached": cached}

    def has_table(self, name: str) -> bool:
        with self._using():
            return self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None

    def rows(self, table: str, run_id: str) -> list[dict[str, Any]]:
        """Every row of ``table`` for a run, as dicts (for tables other work adds, e.g. a search tree); [] if there is no such table."""
        if not table.isidentifier() or not self.has_table(table):
            return []
        with self._using():
            cursor = self._db.execute("SELECT * FROM %s WHERE run_id = ? ORDER BY rowid" % table, (run_id,))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
