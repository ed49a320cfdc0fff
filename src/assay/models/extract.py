"""Pull the Python program out of a model's reply.

Replies come in many shapes: a fenced block (tagged ``python``, ``py``, or
not at all), several blocks (the solution, a helper, a usage example), a
bare function with no fences, prose before and after, a fence that never
closes, or, HumanEval style, just the indented body that continues the
prompt.  :func:`extract_code` handles all of them:

1. drop reasoning (``<think>…</think>``) and chat special tokens;
2. find fenced blocks; keep the Python ones (tagged or untagged code);
3. choose the block that defines the entry point (the last one, since models
   revise), else the largest parsable one; pull in helpers and imports it
   needs from the other blocks;
4. with no fences, find the largest region of the reply that parses;
5. with a prompt: a body continues the prompt (``prompt + body``), and a full
   function gets the prompt's imports and helpers it lacks;
6. when an entry point is named (a function is wanted), drop test
   scaffolding at top level (``if __name__ == "__main__"``, ``assert``,
   ``print(...)``, calls of the solution) so a stray example cannot fail or
   slow a correct program.  Without an entry point (a stdin/stdout program)
   everything is kept.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assay import pyast

if TYPE_CHECKING:
    from assay.problems.model import Problem

_PYTHON_TAGS = {"python", "python3", "py", "py3", "python2", "ipython", "sage", "pyth"}
_NOT_PYTHON_TAGS = {
    "bash", "sh", "shell", "console", "zsh", "text", "txt", "plaintext", "output", "json",
    "yaml", "yml", "toml", "ini", "markdown", "md", "html", "xml", "c", "cpp", "c++", "java",
    "javascript", "js", "typescript", "ts", "go", "rust", "sql", "pycon", "diff", "csv", "log",
}  # fmt: skip
_SPECIAL_TOKENS = re.compile(
    r"<\|(?:im_end|im_start|endoftext|eot_id|end_of_text|EOT|end|assistant|user)\|>"
    r"|<｜end▁of▁sentence｜>|</s>|<end_of_turn>|<eos>"
)
_THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_CODELLAMA_OPEN = re.compile(r"^[ \t]*\[PYTHON\][ \t]*$", re.MULTILINE)
_CODELLAMA_CLOSE = re.compile(r"^[ \t]*\[/PYTHON\][ \t]*$", re.MULTILINE)
_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<tag>[^\s`{]*)")
_CODE_START = re.compile(r"^(?:async\s+def|def|class|import|from\s+\S+\s+import|@\w)\b|^@")
_TOP_LEVEL_DEF = re.compile(r"^(?:async\s+def|def|class)\s", re.MULTILINE)
_BLOCK_KEYWORDS = frozenset(
    "for while if elif else try except finally with def class async match case".split()
)
_BUILTIN_NAMES = frozenset(dir(builtins))


@dataclass(frozen=True)
class FencedBlock:
    tag: str  # lower-cased language tag, "" when none
    code: str
    terminated: bool


@dataclass(frozen=True)
class ExtractedCode:
    """The program, and how it was found (for traces and debugging)."""

    code: str
    method: str  # fenced | fenced+merged | bare | region | body | prompt+body | raw | empty (+prompt)
    fenced_blocks: int = 0

    def __str__(self) -> str:
        return self.code


def extract_code(
    reply: str, *, entry_point: str | None = None, prompt: str | None = None
) -> ExtractedCode:
    """The Python program in ``reply``; ``entry_point`` and ``prompt`` sharpen the choice."""
    text = clean_reply(reply)
    blocks = find_fenced_blocks(text)
    code, method = _choose_code(text, blocks, entry_point)
    if prompt is not None and code.strip():
        code, method = _complete_with_prompt(code, method, prompt, entry_point)
    if not code.strip():
        return ExtractedCode("", "empty", len(blocks))
    if entry_point:  # a function is wanted: top-level example runs are noise
        code = strip_test_scaffolding(code, entry_point)
    return ExtractedCode(code.rstrip() + "\n", method, len(blocks))


def clean_reply(reply: str) -> str:
    """Remove reasoning sections and chat special tokens; normalize newlines."""
    text = reply.replace("\r\n", "\n").replace("\r", "\n")
    text = _THINK.sub("", text)
    text = _CODELLAMA_OPEN.sub("```python", text)  # CodeLlama's [PYTHON] … [/PYTHON]
    text = _CODELLAMA_CLOSE.sub("```", text)
    return _SPECIAL_TOKENS.sub("", text)


def find_fenced_blocks(text: str) -> list[FencedBlock]:
    """Every ``` or ~~~ fenced block; an unclosed last fence runs to the end."""
    blocks: list[FencedBlock] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        opening = _FENCE_OPEN.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        tag = opening["tag"].lower().lstrip(".").rstrip(":")
        body: list[str] = []
        index += 1
        terminated = False
        while index < len(lines):
            stripped = lines[index].strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                terminated = True
                index += 1
                break
            line = lines[index]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            index += 1
        blocks.append(FencedBlock(tag, "\n".join(body).strip("\n"), terminated))
    return blocks


def strip_test_scaffolding(code: str, entry_point: str | None = None) -> str:
    """Drop top-level example runs: ``__main__`` guards, asserts, prints, calls of defined functions."""
    tree = _parse(code)
    if tree is None:
        return code
    defined = _top_level_definitions(tree)
    lines = code.split("\n")
    drop: set[int] = set()
    for statement in tree.body:
        if _is_scaffolding(statement, defined | ({entry_point} if entry_point else set())):
            drop.update(range(statement.lineno - 1, (statement.end_lineno or statement.lineno)))
    if not drop:
        return code
    kept = "\n".join(line for number, line in enumerate(lines) if number not in drop)
    kept = re.sub(r"\n{3,}", "\n\n", kept)
    # Comments like "# Test cases" that introduced removed code are left behind; harmless.
    return kept if _parse(kept) is not None else code


# -- choosing the code --------------------------------------------------------


def _choose_code(text: str, blocks: list[FencedBlock], entry_point: str | None) -> tuple[str, str]:
    candidates = [block for block in blocks if _is_python_block(block)]
    if candidates:
        chosen = _pick_block(candidates, entry_point)
        others = [block.code for block in candidates if block is not chosen]
        merged = _merge_needed_definitions(chosen.code, others)
        return merged, ("fenced+merged" if merged != chosen.code else "fenced")
    if _parse(text) is not None and _looks_like_code(text):
        return text.strip("\n"), "bare"
    if _looks_like_body(text):  # an indented body that continues a prompt
        return text.strip("\n").rstrip(), "body"
    region = _largest_code_region(text)
    if region:
        return region, "region"
    return text.strip("\n").rstrip(), "raw"


def _is_python_block(block: FencedBlock) -> bool:
    if not block.code.strip():
        return False
    if block.tag in _PYTHON_TAGS or block.tag.startswith("python"):
        return True
    if block.tag in _NOT_PYTHON_TAGS or block.code.lstrip().startswith(">>>"):
        return False
    if block.tag:  # some other language
        return False
    return _looks_like_code(block.code) and (
        _parse(block.code) is not None or _parse(textwrap.dedent(block.code)) is not None
        or _looks_like_body(block.code)
    )


def _pick_block(candidates: list[FencedBlock], entry_point: str | None) -> FencedBlock:
    if entry_point:
        defining = [block for block in candidates if _defines(block.code, entry_point)]
        parsable = [block for block in defining if _parse(block.code) is not None]
        if parsable or defining:
            return (parsable or defining)[-1]
    parsable = [block for block in candidates if _parse(block.code) is not None]
    pool = parsable or candidates
    return max(pool, key=lambda block: (_definition_count(block.code), len(block.code)))


def _merge_needed_definitions(code: str, other_blocks: list[str]) -> str:
    """Prepend the imports / helpers from other blocks that ``code`` uses but lacks."""
    tree = _parse(code)
    if tree is None or not other_blocks:
        return code
    defined = _top_level_definitions(tree)
    needed = _used_names(tree) - defined - _BUILTIN_NAMES
    prelude: list[str] = []
    for other in other_blocks:
        other_tree = _parse(other)
        if other_tree is None:
            continue
        for statement in other_tree.body:
            provides = _names_defined_by(statement)
            if provides & needed and not provides & defined:
                prelude.append(_source_of(other, statement))
                defined |= provides
                needed = (needed | _used_names(statement)) - defined - _BUILTIN_NAMES
    if not prelude:
        return code
    return "\n\n".join(prelude) + "\n\n" + code


def _largest_code_region(text: str) -> str:
    """The largest run of lines, starting at a def/class/import line, that parses."""
    lines = text.split("\n")
    best = ""
    starts = [i for i, line in enumerate(lines) if _CODE_START.match(line.lstrip())]
    for start in starts[:20]:
        for end in range(len(lines), start, -1):
            chunk = textwrap.dedent("\n".join(lines[start:end])).strip("\n")
            if _parse(chunk) is not None:
                chunk = _drop_trailing_bare_names(chunk)
                if _count_code_lines(chunk) > _count_code_lines(best):
                    best = chunk
                break
    return best


def _complete_with_prompt(
    code: str, method: str, prompt: str, entry_point: str | None
) -> tuple[str, str]:
    """HumanEval style: continue the prompt with a body, or add the prompt's imports/helpers."""
    defines_entry = _defines(code, entry_point) if entry_point else _definition_count(code) > 0
    if not defines_entry and (_looks_like_body(code) or not _TOP_LEVEL_DEF.search(code)):
        body = code if _looks_like_body(code) else textwrap.indent(textwrap.dedent(code), "    ")
        lines = body.rstrip().split("\n")
        for end in range(len(lines), 0, -1):  # drop trailing prose until it compiles
            joined = prompt.rstrip("\n") + "\n" + "\n".join(lines[:end]).rstrip() + "\n"
            if compiles(joined) and (not entry_point or _defines(joined, entry_point)):
                return joined, "prompt+body"
        return code, method
    prompt_tree = _parse(prompt)
    code_tree = _parse(code)
    if prompt_tree is None or code_tree is None:
        return code, method
    have = _top_level_definitions(code_tree)
    prelude = [
        _source_of(prompt, statement)
        for statement in prompt_tree.body
        if not isinstance(statement, ast.Expr)  # module docstrings
        and (names := _names_defined_by(statement))
        and not names & have
        and (entry_point is None or entry_point not in names)
    ]
    if not prelude:
        return code, method
    return "\n".join(prelude) + "\n\n" + code, method + "+prompt"


# -- small AST helpers ------------------------------------------------------------


# Extraction looks at the same text several times (is it code? which block?
# does it define the entry point?); the trees are only read, never changed.
@functools.lru_cache(maxsize=64)
def _parse(code: str) -> ast.Module | None:
    try:
        return pyast.parse(code)
    except (SyntaxError, ValueError):  # ValueError: null bytes
        return None


@functools.lru_cache(maxsize=64)
def compiles(code: str) -> bool:
    """Stricter than parsing: also rejects ``return`` outside a function and the like."""
    try:
        compile(code, "<candidate>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def _looks_like_code(text: str) -> bool:
    return bool(re.search(r"^\s*(def |class |import |from \S+ import |return\b|@)", text, re.MULTILINE))


def _looks_like_body(text: str) -> bool:
    """Indented, and the first line is a statement (or opens a block), not prose."""
    first = next((line for line in text.split("\n") if line.strip()), "")
    if not first.startswith((" ", "\t")):
        return False
    statement = first.strip()
    if statement.endswith(":") and statement.split()[0].rstrip(":") in _BLOCK_KEYWORDS:
        return True
    return _parse(statement) is not None


def _defines(code: str, name: str) -> bool:
    pattern = rf"^\s*(?:async\s+def|def|class)\s+{re.escape(name)}\s*[(:]"
    return re.search(pattern, code, re.MULTILINE) is not None


def _definition_count(code: str) -> int:
    return len(re.findall(r"^\s*(?:async\s+def|def|class)\s+\w+", code, re.MULTILINE))


def _count_code_lines(code: str) -> int:
    return sum(1 for line in code.split("\n") if line.strip() and not line.lstrip().startswith("#"))


def _names_defined_by(statement: ast.stmt) -> set[str]:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return {node.id for target in targets for node in ast.walk(target) if isinstance(node, ast.Name)}
    return set()


def _top_level_definitions(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for statement in tree.body:
        names |= _names_defined_by(statement)
    return names


def _used_names(node: ast.AST) -> set[str]:
    return {child.id for child in ast.walk(node) if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load)}


def _source_of(code: str, statement: ast.stmt) -> str:
    first = statement.lineno
    decorators = getattr(statement, "decorator_list", [])
    if decorators:
        first = min(first, *(decorator.lineno for decorator in decorators))
    lines = code.split("\n")[first - 1 : statement.end_lineno]
    return "\n".join(lines)


def _drop_trailing_bare_names(code: str) -> str:
    """``...code\\nExplanation`` parses, but the trailing word would raise NameError."""
    tree = _parse(code)
    while tree is not None and tree.body:
        last = tree.body[-1]
        if not (isinstance(last, ast.Expr) and isinstance(last.value, (ast.Name, ast.Attribute))):
            break
        code = "\n".join(code.split("\n")[: last.lineno - 1]).rstrip()
        tree = _parse(code)
    return code


def _is_scaffolding(statement: ast.stmt, solution_names: set[str]) -> bool:
    if isinstance(statement, ast.Assert):
        return True
    if isinstance(statement, ast.If) and _is_main_guard(statement.test):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        return _calls_print_or_solution(statement.value, solution_names)
    if isinstance(statement, (ast.For, ast.While)):
        return any(
            isinstance(node, ast.Assert)
            or (isinstance(node, ast.Call) and _calls_print_or_solution(node, solution_names))
            for node in ast.walk(statement)
        )
    if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
        # result = solution(example) at top level: an example run
        function = statement.value.func
        return isinstance(function, ast.Name) and function.id in solution_names
    return False


def _calls_print_or_solution(call: ast.Call, solution_names: set[str]) -> bool:
    function = call.func
    if isinstance(function, ast.Name):
        return function.id in {"print", "input", "exit", "quit"} or function.id in solution_names
    if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name):
        return function.value.id in {"doctest", "unittest", "pytest"}  # doctest.testmod() etc.
    return False


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


# ---------------------------------------------------------------- a reply's program

_PY_TAGS = {"", "python", "python3", "py", "py3"}


def program_from_reply(reply: str, problem: "Problem") -> tuple[str | None, str]:
    """The program a model's reply gives for ``problem``, and how it was found; None when there is no code.

    The one way a reply becomes a program, for ``assay solve``, search and
    rewards alike. A function problem goes through :func:`extract_code`
    with the problem's prompt and entry point (fenced blocks, a bare
    function, or a HumanEval-style body that continues the prompt); a
    stdin/stdout problem takes a whole script. Prose, and bodies of bare
    words ("nope", "TODO") that happen to compile, are no code.
    """
    if problem.tests and all(t.kind == "stdio" for t in problem.tests):
        return _script_program(reply)
    extracted = extract_code(reply, entry_point=problem.entry_point or None, prompt=problem.prompt or None)
    code, method = extracted.code, extracted.method
    if not code.strip():
        return None, method
    if method.startswith("raw") and not compiles(code):  # prose, nothing that looks like code
        return None, method
    if method.startswith("prompt+body") and problem.prompt and _only_words(code[len(problem.prompt.rstrip("\n")) :]):
        return None, method  # "nope" continues a prompt as a body that compiles, but is no code
    return code, method


def _only_words(body: str) -> bool:
    """True when a body is nothing but bare names or strings ("nope", "TODO")."""
    try:
        tree = pyast.parse(textwrap.dedent(body.strip("\n")))
    except (SyntaxError, ValueError):
        return False
    return all(isinstance(s, ast.Expr) and isinstance(s.value, (ast.Name, ast.Constant)) for s in tree.body)


def _script_program(reply: str) -> tuple[str | None, str]:
    """A whole script for stdin/stdout problems.

    ``extract_code`` drops top-level ``print(...)`` calls as test scaffolding,
    which is right for function problems and wrong for scripts; so here the
    last Python (or untagged) fenced block that compiles is taken as is, else
    the whole reply if it compiles.
    """
    text = clean_reply(reply)
    blocks = [b for b in find_fenced_blocks(text) if b.tag in _PY_TAGS and b.code.strip() and compiles(b.code)]
    if blocks:
        return blocks[-1].code.rstrip() + "\n", "fenced-script"
    if text.strip() and compiles(text):
        return text.strip("\n") + "\n", "bare-script"
    return None, "raw"
