"""``ast.parse`` and ``ast.literal_eval`` safe to call from several threads at once.

CPython 3.11 keeps one recursion counter per interpreter while it turns a
parse into ``ast`` objects. When two threads convert at once (the GIL
changes hands mid-conversion, e.g. while a finalizer runs), the counter is
corrupted and one of them raises ``SystemError: AST constructor recursion
depth mismatch`` (python/cpython#106905). assay parses programs on many
threads (reward scoring, judging, oracles, search), and that error surfaced
as an infrastructure error on a sample that did nothing wrong. Every parse
in assay goes through one lock here; the sandbox's harness, which parses in
a process of its own, does not need it.
"""

from __future__ import annotations

import ast
import threading
from typing import Any

_lock = threading.RLock()  # re-entrant: a finalizer run by a parse on this thread may parse too


def parse(source: str | bytes, filename: str = "<unknown>", mode: str = "exec", **options: Any) -> Any:
    with _lock:
        return ast.parse(source, filename, mode, **options)


def literal_eval(node_or_string: str | ast.AST) -> Any:
    if isinstance(node_or_string, str):
        node_or_string = parse(node_or_string.lstrip(" \t"), mode="eval")
    return ast.literal_eval(node_or_string)
