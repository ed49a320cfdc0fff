"""Split a prompt into trusted helper code and the function the model must write."""

from __future__ import annotations

import ast

from assay import pyast


def helper_code(prompt: str, entry_point: str) -> str:
    """Everything in ``prompt`` except the ``entry_point`` function itself.

    HumanEval prompts define helpers the tests call (``encode_cyclic`` in
    HumanEval/38, ``encode_shift`` in /50, ``poly`` in /32); this is the
    trusted code a script test or checker runs before it. Imports and comments
    outside the entry point are kept. Returns ``""`` when nothing is left.
    """
    try:
        module = pyast.parse(prompt)
    except SyntaxError:
        module = pyast.parse(prompt + "\n    pass\n")  # a bare signature with no body yet
    entry = None
    for stmt in module.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == entry_point:
            entry = stmt
    if entry is None:
        raise ValueError(f"prompt does not define {entry_point!r}")
    first = min([entry.lineno] + [d.lineno for d in entry.decorator_list])
    last = entry.end_lineno or entry.lineno
    lines = prompt.splitlines(keepends=True)
    kept = "".join(lines[: first - 1] + lines[last:])
    kept = kept.strip("\n")
    if not any(line.strip() and not line.lstrip().startswith("#") for line in kept.splitlines()):
        return ""
    return kept + "\n"
