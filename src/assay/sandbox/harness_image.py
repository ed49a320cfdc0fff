"""The harness as the zygote loads it: a private copy, compiled to bytecode.

The zygote is the image every candidate is forked from. Compiled from source
at start, its modules would leave ~2.5 MB of the compiler's freed memory
scattered through its heap, and every candidate's fork would copy those
pages' tables and its exit unmap them again (~0.4 ms of each sample's CPU).
Loaded from bytecode, they are never compiled inside the sandbox. The script
Python is started with is a two-line stub, because a script, unlike a
module, is always compiled from source.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import py_compile
import shutil
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

from assay.paths import cache_root

HARNESS_SOURCE = Path(__file__).parent / "harness"
ENTRY = "zygote_start.py"


def bytecode_path(root: Path, module: str) -> Path:
    return root / "__pycache__" / f"{module}.{sys.implementation.cache_tag}.pyc"


def _remove(root: Path, owner: int) -> None:
    if os.getpid() == owner:  # not from a forked child that inherited the hook
        shutil.rmtree(root, ignore_errors=True)


@lru_cache(maxsize=1)
def harness_image() -> Path:
    """A directory holding the harness sources, their bytecode and the stub.

    Compiling the harness costs every process that starts a sandbox ~25 ms, so
    the image is kept in assay's cache directory, named by a digest of the
    sources and of this Python; where that directory cannot be written, a
    private copy is made in a temp dir and removed at exit.
    """
    sources = sorted(HARNESS_SOURCE.glob("*.py"))
    digest = hashlib.sha256(repr((sys.version, sys.implementation.cache_tag)).encode())
    for source in sources:
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    cached = cache_root() / "harness" / digest.hexdigest()[:24]
    if (cached / ENTRY).is_file():  # the stub is written last: its presence means the image is whole
        return cached
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=".building-", dir=cached.parent))
        _build(building, sources)
        try:
            os.rename(building, cached)  # whole or not at all; another process may have won the race
        except OSError:
            if cached.is_dir() and not (cached / ENTRY).is_file():  # not whole (changed by hand): replaced
                stale = cached.with_name(".stale-%d" % os.getpid())
                os.rename(cached, stale)
                shutil.rmtree(stale, ignore_errors=True)
                os.rename(building, cached)
            else:
                shutil.rmtree(building, ignore_errors=True)
        if (cached / ENTRY).is_file():
            return cached
    except OSError:
        pass
    root = Path(tempfile.mkdtemp(prefix="assay-harness-"))
    atexit.register(_remove, root, os.getpid())
    _build(root, sources)
    return root


def _build(root: Path, sources: list[Path]) -> None:
    for source in sources:
        target = root / source.name
        shutil.copyfile(source, target)
        # unchecked: Python loads it without comparing the source's timestamp;
        # it was compiled from that very source a moment ago
        py_compile.compile(
            str(target), cfile=str(bytecode_path(root, source.stem)), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
    (root / ENTRY).write_text("import zygote\n\nzygote.main()\n")
    root.chmod(0o755)  # mkdtemp's 0700 would do for the same uid; bwrap binds it read-only either way
