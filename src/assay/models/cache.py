"""A SQLite cache of model replies, so a rerun of an experiment costs nothing.

Each completion is stored under a key made of the model's name, the
messages, the sampling parameters (all but ``n``) and the *sample index*.
:class:`CachedModel` hands out sample indexes per distinct request in call
order: the first ``generate(..., n=3)`` gets samples 0–2, a second identical
request gets samples 3–5, and so on.  A rerun that makes the same calls in
the same order therefore gets the same replies, and asking for more samples
than before only generates the new ones.

Cached completions come back with ``cached=True`` and their original token
usage, so budgets spend the same way on a rerun and a search takes the same
path.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Sequence

from assay.models.base import Completion, GenerationParams, Message, Model, Usage, aclose_model
from assay.paths import cache_root

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key               TEXT PRIMARY KEY,
    model             TEXT NOT NULL,
    sample_index      INTEGER NOT NULL,
    text              TEXT NOT NULL,
    finish_reason     TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    request           TEXT NOT NULL,
    created_at        REAL NOT NULL
);
"""


def default_cache_path() -> Path:
    return cache_root() / "responses.sqlite"


def request_fingerprint(model_name: str, messages: Sequence[Message], params: GenerationParams) -> str:
    """The canonical JSON of everything that shapes a sample, except its index."""
    return json.dumps(
        {
            "model": model_name,
            "messages": [message.to_dict() for message in messages],
            "params": params.sampling_key(),
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def cache_key(request: str, sample_index: int) -> str:
    return hashlib.sha256(f"{request}\n#{sample_index}".encode()).hexdigest()


class ResponseCache:
    """The table of cached completions.  Thread-safe; one file per cache."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        with self._lock, self._db:
            if str(self.path) != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, finish_reason, prompt_tokens, completion_tokens "
                "FROM responses WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        text, finish_reason, prompt_tokens, completion_tokens = row
        return Completion(text, finish_reason, Usage(prompt_tokens, completion_tokens), cached=True)

    def put(self, key: str, model: str, sample_index: int, request: str, completion: Completion) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key, model, sample_index, completion.text, completion.finish_reason,
                    completion.usage.prompt_tokens, completion.usage.completion_tokens,
                    request, time.time(),
                ),
            )  # fmt: skip

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def clear(self, model: str | None = None) -> None:
        with self._lock, self._db:
            if model is None:
                self._db.execute("DELETE FROM responses")
            else:
                self._db.execute("DELETE FROM responses WHERE model = ?", (model,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedModel:
    """Wraps a model: reads replies from the cache, generates only what is missing.

    ``read=False`` bypasses lookups (``--no-cache``) while still recording
    fresh replies when ``write`` is True.
    """

    def __init__(
        self, inner: Model, cache: ResponseCache, *, read: bool = True, write: bool = True
    ) -> None:
        self.inner = inner
        self.cache = cache
        self.read = read
        self.write = write
        self.hits = 0
        self.misses = 0
        self._issued: dict[str, int] = {}  # request fingerprint -> sample indexes handed out
        self._issued_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.inner.name

    def __repr__(self) -> str:
        return f"CachedModel({self.inner!r}, cache={str(self.cache.path)!r}, read={self.read})"

    def reset_sample_counters(self) -> None:
        """Start handing out sample indexes from 0 again (as a fresh run would)."""
        with self._issued_lock:
            self._issued.clear()

    async def aclose(self) -> None:
        await aclose_model(self.inner)

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams
    ) -> list[Completion]:
        request = request_fingerprint(self.inner.name, messages, params)
        first = self._claim_indexes(request, params.n)
        indexes = list(range(first, first + params.n))
        found = {i: self.cache.get(cache_key(request, i)) for i in indexes} if self.read else {}
        results = {i: c for i, c in found.items() if c is not None}
        self.hits += len(results)
        for run in _contiguous_runs([i for i in indexes if i not in results]):
            run_params = params.replace(n=len(run), seed=params.seed_for(run[0]))
            fresh = await self.inner.generate(messages, run_params)
            self.misses += len(run)
            for index, completion in zip(run, fresh):
                results[index] = completion
                if self.write:
                    self.cache.put(cache_key(request, index), self.inner.name, index, request, completion)
        return [results[i] for i in indexes]

    def _claim_indexes(self, request: str, count: int) -> int:
        with self._issued_lock:
            first = self._issued.get(request, 0)
            self._issued[request] = first + count
            return first


def _contiguous_runs(indexes: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for index in indexes:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs
