"""Where assay keeps what it can rebuild: ``$ASSAY_CACHE_DIR``, else ``$XDG_CACHE_HOME/assay``, else ``~/.cache/assay``.

Everything under it is a cache (built problems, the compiled harness, entry
points, script recordings, reference counts, stress workloads, model
replies, embedded models): deleting it costs time, never a result.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    if configured := os.environ.get("ASSAY_CACHE_DIR"):
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "assay"
