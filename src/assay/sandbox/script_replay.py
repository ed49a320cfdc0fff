"""Script tests' calls, recorded from one run and replayed as streamed batches in the next.

A script test (HumanEval's ``check(candidate)``) runs in the supervisor and
sends each call of the candidate into the sandbox in turn: a round trip per
call, about 60 per sample on the HumanEval problems that have them, which
made those 5% of the problems cost a fifth of the judging time. A script's
calls depend only on the script, its ``random`` (which ``script_builtins``
seeds) and what the candidate answered, so the calls one run made are the
calls the next run makes for as long as the candidates answer alike.

The judge therefore sends the recorded calls as streamed batches to one
candidate (in chunks that grow threefold, so that a program failing an early
check is not made to answer the rest), and runs the script against the
replies: call ``i`` of the script is answered by reply ``i`` only if its
function and encoded arguments are those recorded.
The first call that differs, or one past the recording, abandons the batch
(``ReplayMissed``) and the script runs again, live, on a fresh candidate, as
if there had been no batch; the live run's calls become the recording. The
verdict is decided by the same trusted script on the same replies either
way; calls the batch made beyond what the script asked for are never looked
at. A script whose calls change from run to run stops being replayed after a
few misses.

A Sandbox keeps its recordings in assay's cache directory between processes
(``ScriptCalls(path)``), so a new ``assay eval`` replays from its first
sample: a recording is only ever a guess at the calls, checked call by call
as above, so one from an older run, or a damaged file, costs a live run and
never a verdict.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import random
import threading
import types
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from assay.sandbox.harness import codec

CallKey = tuple[str, str, str]
MAX_MISSES_AHEAD = 3  # misses beyond hits after which a script is no longer replayed
MAX_RECORDING_BYTES = 4 << 20  # a script whose calls' arguments weigh more is not recorded
MAX_RECORDINGS = 4096  # scripts remembered, least recently used forgotten first
MAX_FILE_BYTES = 16 << 20  # recordings kept on disk, most recently used first
FILE_FORMAT = 1


class ReplayMissed(BaseException):
    """The script asked for a call the replayed batch did not make.

    A BaseException, so that a script's own ``except Exception`` around a
    call does not swallow it (the judge also remembers that it was raised).
    """


def call_key(function: str, args: tuple, kwargs: dict | None) -> CallKey:
    """A call as the sandbox would receive it, comparable across runs."""
    return function, json.dumps(codec.encode(list(args))), json.dumps(codec.encode(dict(kwargs or {})), sort_keys=True)


@dataclass
class _Recording:
    calls: tuple[CallKey, ...]
    hits: int = 0
    misses: int = 0


class ScriptCalls:
    """The calls each script test made in its longest live run (thread-safe).

    With a ``path``, recordings saved there by earlier processes are read at
    the first lookup, and :meth:`save` writes this process's back.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._recordings: OrderedDict[tuple[str, str, str], _Recording] = OrderedDict()
        self._path = path
        self._saved: dict[str, tuple[CallKey, ...]] | None = None  # read from path, by digest of key
        self._changed = False

    @staticmethod
    def key(task_id: str, test_name: str, source: str) -> tuple[str, str, str]:
        return task_id, test_name, source

    @staticmethod
    def _digest(key: tuple[str, str, str]) -> str:
        return hashlib.sha256("\0".join(key).encode("utf-8", "surrogateescape")).hexdigest()

    def recorded(self, key: tuple[str, str, str]) -> tuple[CallKey, ...] | None:
        with self._lock:
            recording = self._recordings.get(key)
            if recording is None and self._path is not None:
                calls = self._read().get(self._digest(key))
                if calls:
                    recording = self._recordings[key] = _Recording(calls)
            if recording is None or not recording.calls or recording.misses > recording.hits + MAX_MISSES_AHEAD:
                return None
            self._recordings.move_to_end(key)
            return recording.calls

    def record(self, key: tuple[str, str, str], calls: list[CallKey]) -> None:
        """Keep the longer of the recorded and these calls (a failing run stops early)."""
        if sum(len(a) + len(k) for _, a, k in calls) > MAX_RECORDING_BYTES:
            return
        with self._lock:
            recording = self._recordings.setdefault(key, _Recording(()))
            if len(calls) > len(recording.calls):
                recording.calls = tuple(calls)
                self._changed = True
            while len(self._recordings) > MAX_RECORDINGS:
                self._recordings.popitem(last=False)

    def outcome(self, key: tuple[str, str, str], hit: bool) -> None:
        with self._lock:
            recording = self._recordings.get(key)
            if recording is not None:
                if hit:
                    recording.hits += 1
                else:
                    recording.misses += 1

    def _read(self) -> dict[str, tuple[CallKey, ...]]:
        """The recordings on disk (read once; nothing if the file is missing or not ours)."""
        if self._saved is None:
            self._saved = {}
            try:
                with open(self._path, encoding="utf-8") as file:  # type: ignore[arg-type]
                    data = json.load(file)
                if data.get("format") == FILE_FORMAT:
                    for digest, calls in data["recordings"].items():
                        self._saved[str(digest)] = tuple((str(f), str(a), str(k)) for f, a, k in calls)
            except (OSError, ValueError, TypeError, KeyError, AttributeError):
                self._saved = {}
        return self._saved

    def save(self) -> None:
        """Write the recordings to ``path`` (with those of other processes it holds), if any changed; failures are ignored."""
        if self._path is None:
            return
        with self._lock:
            if not self._changed:
                return
            self._changed = False
            mine = {self._digest(key): r.calls for key, r in reversed(self._recordings.items()) if r.calls}
            self._saved = None  # read again: another process may have saved since
            merged = {**mine, **{d: c for d, c in self._read().items() if d not in mine}}  # ours first: most recent
        kept: dict[str, list] = {}
        size = 0
        for digest, calls in merged.items():
            size += len(digest) + sum(len(f) + len(a) + len(k) + 16 for f, a, k in calls)
            if size > MAX_FILE_BYTES or len(kept) >= MAX_RECORDINGS:
                break
            kept[digest] = [list(call) for call in calls]
        path = os.fspath(self._path)
        temporary = "%s.%d.%d" % (path, os.getpid(), threading.get_ident())
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(temporary, "w", encoding="utf-8") as file:
                json.dump({"format": FILE_FORMAT, "recordings": kept}, file)
            os.replace(temporary, path)
        except OSError:
            try:
                os.unlink(temporary)
            except OSError:
                pass


def _seeded_random(seed: int) -> types.ModuleType:
    """A ``random`` module of the script's own, seeded: the global one is shared
    by every thread of the supervisor and reseeded by no one."""
    generator = random.Random(seed)
    module = types.ModuleType("random", random.__doc__)
    for name in dir(random):
        if name.startswith("__"):
            continue
        value = getattr(random, name)
        bound_to = getattr(value, "__self__", None)
        module.__dict__[name] = getattr(generator, name) if isinstance(bound_to, random.Random) else value
    return module


def script_builtins(task_id: str, test_name: str) -> dict[str, Any]:
    """Builtins for a script test's namespace in which ``import random`` gives a
    generator seeded from the problem and test: the same program meets the same
    inputs on every run, so its reward does not depend on the draw."""
    module = _seeded_random(zlib.crc32(("%s\0%s" % (task_id, test_name)).encode()))
    real_import = builtins.__import__

    def scripted_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if name == "random" and level == 0:
            return module
        return real_import(name, globals, locals, fromlist, level)

    namespace_builtins = dict(builtins.__dict__)
    namespace_builtins["__import__"] = scripted_import
    return namespace_builtins
