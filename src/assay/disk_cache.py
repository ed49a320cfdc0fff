"""A key -> value table in one SQLite file: the shape of assay's on-disk caches (counts, workloads).

One connection per thread (a SQLite connection is not shared between
threads), WAL so that readers do not wait for a writer. A cache only saves
time: a value that cannot be read is a miss, and a write that fails is dropped.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any


class DiskCache:
    """``table`` (key TEXT, value ``value_type``) in the SQLite file at ``path``, created if missing."""

    def __init__(self, path: str | os.PathLike[str], table: str, value_type: str = "TEXT") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._table = table
        self._local = threading.local()
        with self._connection() as db:
            db.execute("CREATE TABLE IF NOT EXISTS %s (key TEXT PRIMARY KEY, value %s NOT NULL)" % (table, value_type))

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self.path, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
        return db

    def get(self, key: str) -> Any | None:
        """The stored value, or None (not there, or the file cannot be read)."""
        try:
            row = self._connection().execute("SELECT value FROM %s WHERE key = ?" % self._table, (key,)).fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row else None

    def put(self, key: str, value: Any) -> None:
        try:
            with self._connection() as db:
                db.execute("INSERT OR REPLACE INTO %s (key, value) VALUES (?, ?)" % self._table, (key, value))
        except sqlite3.Error:
            pass  # a cache that cannot be written only costs time
