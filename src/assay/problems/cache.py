"""A disk cache of built benchmarks, for start-up time.

Turning HumanEval's 164 ``check`` functions into tests (``convert.py``)
costs more than everything else a small ``assay eval`` does before its first
sample. The built problems are kept in assay's cache directory
(``$ASSAY_CACHE_DIR``, else ``$XDG_CACHE_HOME/assay``, else
``~/.cache/assay``), keyed by everything that can change them: the data
file (path, size, modification time), the source of every module of
``assay.problems``, assay's version and Python's. A cache that cannot be
read or written is skipped (the problems are built as before);
``ASSAY_NO_PROBLEM_CACHE=1`` turns it off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Callable, TypeVar

from assay.paths import cache_root

T = TypeVar("T")
FORMAT = 1


def cache_dir() -> Path:
    return cache_root() / "problems"


def cache_key(name: str, data_file: Path) -> str:
    from assay import __version__

    digest = hashlib.sha256()
    stat = data_file.stat()
    digest.update(repr((FORMAT, name, str(data_file.resolve()), stat.st_size, stat.st_mtime_ns, __version__, sys.version)).encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def cached(name: str, data_file: Path, build: Callable[[], T]) -> T:
    """``build()``, or what an earlier process built from the same data and code."""
    if os.environ.get("ASSAY_NO_PROBLEM_CACHE") == "1":
        return build()
    try:
        path = cache_dir() / ("%s-%s.pickle" % (name, cache_key(name, data_file)))
    except OSError:
        return build()
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)  # noqa: S301 - our own cache, in the user's own directory
    except Exception:  # noqa: BLE001 - missing, damaged or stale: built again
        pass
    value = build()
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob("%s-*.pickle" % name):  # entries of older data or code
            old.unlink(missing_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".%s-" % name)
        with os.fdopen(handle, "wb") as out:
            pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)  # whole or not at all, whoever writes it at the same time
    except Exception:  # noqa: BLE001 - no cache is no worse than before
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
    return value
