"""What a prompt says about the function the model must write: the helper code around it, and its arity."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from assay import pyast

if TYPE_CHECKING:
    from assay.problems.model import Problem


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


def entry_arity(problem: Problem) -> tuple[int, int | None] | None:
    """(required, most) positional arguments of the entry point as the prompt defines it (most None: ``*args``); None if unknown."""
    prompt = problem.prompt
    tree = None
    for text in (prompt, prompt.rstrip() + "\n    pass\n"):
        try:
            tree = pyast.parse(text)
            break
        except SyntaxError:
            continue
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == problem.entry_point:
            params = [*node.args.posonlyargs, *node.args.args]
            return len(params) - len(node.args.defaults), (None if node.args.vararg is not None else len(params))
    return None
