"""Visible examples: the input/output pairs a problem's own text gives, as trusted call tests.

A problem's authors often show what the function should do: doctests, lines
such as ``f(3) ==> 7``, ``f([1, 2]) ➞ True``, ``f('a') should return 'b'``,
"For s = "abcde", c = "ae", the result should be ('bcd',False)", "Input:
arr = [1, 2], k = 1 / Output: [2]", and the problem's visible tests. This
module finds them in the entry point's docstring (its raw source text, so
``"a\\nb"`` stays one line) and turns each into a
:class:`~assay.oracles.pool.OracleTest` of kind ``EXAMPLE``, trust 1.0.

Arguments and expected values are parsed with :func:`ast.literal_eval` only:
nothing from a prompt is ever evaluated or executed here. A line that looks
like an example but does not parse (an argument that is a name, an expected
value written as arithmetic, a typo) is not guessed at: it goes to the pool's
discarded list with the reason. Floats compare approximately (``approx``,
``FLOAT_TOLERANCE``); the words ``true``/``false`` are booleans.

Problem texts are sometimes wrong. :class:`ExampleOracle` drops an example
that the reference solution fails *only* when the caller allows the builder
the reference (``OracleContext.reference``), and says so in the discarded
list; without the reference every extracted example is kept.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from assay import pyast
from assay.oracles import OracleContext
from assay.oracles.pool import Discarded, OracleKind, OraclePool, OracleTest, Provenance
from assay.plugins import hookimpl
from assay.problems.model import CallTest, Problem, Trust

FLOAT_TOLERANCE = 1e-6  # relative and absolute, for expected values that hold floats
SOURCE_DOCSTRING = "docstring"
SOURCE_VISIBLE = "visible-test"

# between a call and its expected value: f(x) ==> v, f(x) => v, f(x) ➞ v, f(x) -> v, f(x) == v, f(x) = v,
# f(x) returns v, f(x) should return v, f(x) # => v, f(x) # returns v, f(x) the result should be v
_ARROW = re.compile(
    r"[ \t]*(?:#[ \t]*)?(?P<op>==>|=>|➞|->|==|=(?!=)|returns?\b|should\s+return\b|should\s+be\b|(?:the\s+)?(?:result|output)\s+(?:should|will)\s+be\b)[ \t]*",
    re.UNICODE,
)
_FOR = re.compile(r"\bFor\s+(?P<inputs>.*?),?\s+(?:the\s+)?(?:result|output)\s+(?:should|will)\s+be\s+(?P<value>.*)$", re.IGNORECASE)
_INPUT_OUTPUT = re.compile(r"\bInput\s*:(?P<inputs>.*?)\n[ \t]*Output\s*:[ \t]*\n?(?P<value>[^\n]*)", re.DOTALL)
_ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z_]\w*)\s*[=:](?!=)\s*")
_WORDS = {"true": True, "false": False, "True": True, "False": False, "None": None, "none": None, "null": None}
_ARITHMETIC = re.compile(r"^\s*(?:[-+*/%<>=]|\*\*)")
_NOT_ALIASES = frozenset(dir(builtins)) | {"print", "assert", "round"}


class Unparseable(ValueError):
    """Text that looks like an example but is not one we can read safely."""


@dataclass(frozen=True)
class Example:
    """One example found in a problem's text."""

    args: tuple[Any, ...]
    expected: Any
    text: str  # the example as written, on one line
    style: str  # doctest, arrow, for, input-output, visible-test
    comparison: str = "exact"
    abs_tol: float = 0.0
    rel_tol: float = 0.0
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Extraction:
    """What :func:`extract_examples` found: examples, and what looked like one but could not be read."""

    examples: list[Example] = field(default_factory=list)
    discarded: list[Discarded] = field(default_factory=list)

    def add(self, example: Example) -> None:
        key = repr((example.args, sorted(example.kwargs.items()), example.expected))
        if any(repr((e.args, sorted(e.kwargs.items()), e.expected)) == key for e in self.examples):
            return  # the same example written twice (a doctest and a prose line)
        self.examples.append(example)

    def discard(self, text: str, reason: str) -> None:
        self.discarded.append(Discarded(OracleKind.EXAMPLE, _one_line(text), reason))


# ---------------------------------------------------------------- the text


@dataclass(frozen=True)
class _Function:
    docstring: str  # raw source text of the docstring, quotes removed (or the whole prompt)
    params: tuple[str, ...] | None  # None: the prompt is not Python
    defined: frozenset[str]  # names the prompt defines or imports


def _function_text(prompt: str, entry_point: str) -> _Function:
    try:
        tree = pyast.parse(prompt)
    except SyntaxError:
        return _Function(prompt, None, frozenset())
    defined: set[str] = set()
    target: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
            if node.name == entry_point and not isinstance(node, ast.ClassDef):
                target = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    if target is None:
        return _Function(prompt, None, frozenset(defined))
    args = target.args
    params = tuple(a.arg for a in [*args.posonlyargs, *args.args])
    for stmt in target.body:  # the first string statement (HumanEval/115 imports before it)
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            raw = ast.get_source_segment(prompt, stmt.value) or stmt.value.value
            return _Function(_strip_quotes(raw), params, frozenset(defined))
    return _Function("", params, frozenset(defined))


def _strip_quotes(raw: str) -> str:
    body = raw.lstrip("rRuUbB")
    for quote in ('"""', "'''", '"', "'"):
        if body.startswith(quote) and body.endswith(quote) and len(body) >= 2 * len(quote):
            return body[len(quote) : -len(quote)]
    return body


def _one_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


# ---------------------------------------------------------------- scanning helpers


def _closing(text: str, start: int) -> int:
    """Index just past the bracket that closes the one at ``start`` (quotes respected), or -1."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack: list[str] = []
    i, quote = start, None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in pairs:
            stack.append(pairs[ch])
        elif ch in ")]}":
            if not stack or stack.pop() != ch:
                return -1
            if not stack:
                return i + 1
        i += 1
    return -1


def _extent(text: str) -> str:
    """``text`` up to the first newline outside brackets (a value may span lines inside them)."""
    depth, quote, i = 0, None, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote or ch == "\n":
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch == "\n" and depth == 0:
            return text[:i]
        i += 1
    return text


def _top_level(text: str) -> list[bool]:
    """Per character: is it outside every bracket and string?"""
    out, depth, quote, i = [], 0, None, 0
    while i < len(text):
        ch = text[i]
        out.append(depth == 0 and quote is None)
        if quote:
            if ch == "\\" and i + 1 < len(text):
                out.append(False)
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        i += 1
    return out


def _literal(node: ast.AST, what: str) -> Any:
    try:
        return pyast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise Unparseable("%s is not a literal: %s" % (what, _one_line(ast.unparse(node), 60))) from None


def parse_call(text: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The literal arguments of a call written as ``name(...)``."""
    try:
        node = pyast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise Unparseable("the call does not parse") from None
    if not isinstance(node, ast.Call):
        raise Unparseable("not a call")
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        raise Unparseable("starred arguments")
    args = tuple(_literal(a, "argument") for a in node.args)
    kwargs = {k.arg: _literal(k.value, "argument") for k in node.keywords if k.arg}
    return args, kwargs


def parse_value(text: str) -> Any:
    """An expected value written in prose: the longest literal at the start, with an explanation after it allowed.

    ``true``/``false`` are booleans; ``19 - 5 - 6 = 8`` is 8 (the value after the last ``=``);
    a trailing full stop is prose. Raises :class:`Unparseable` otherwise.
    """
    text = text.strip()
    if not text:
        raise Unparseable("no expected value")
    found = _longest_literal(text)
    if found is not None:
        return found[0]
    if "=" in text:  # an equation: 1 + 9 + 0 + 0 = 10
        last = text.rsplit("=", 1)[1]
        found = _longest_literal(last.strip())
        if found is not None:
            return found[0]
    raise Unparseable("the expected value is not a literal: %s" % _one_line(text, 60))


def _longest_literal(text: str) -> tuple[Any] | None:
    word = re.match(r"(true|false|True|False|None|none|null)\b", text)
    if word and _acceptable_rest(text[word.end() :]):
        return (_WORDS[word.group(1)],)
    top = _top_level(text)
    for end in range(len(text), 0, -1):
        if end < len(text) and not top[end]:
            continue
        head = text[:end].rstrip()
        if not head or head.endswith(",") or end < len(text) and head != text[:end]:
            continue
        rest = text[end:]
        if not _acceptable_rest(rest):
            continue
        if head.endswith(".") and re.search(r"\d\.$", head) is None:
            continue  # "'Hi'." : the full stop is prose
        if re.fullmatch(r"-?\d+\.", head):
            continue  # "16." at the end of a sentence is 16, tried next
        try:
            value = pyast.literal_eval(head)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        return (value,)
    return None


def _acceptable_rest(rest: str) -> bool:
    """What may follow an expected value: nothing, a comment, an explanation; not arithmetic, not glued text."""
    if not rest.strip():
        return True
    if rest.strip() in (".", ",", ";"):
        return True
    if _ARITHMETIC.match(rest):
        return False
    if rest[0] in " \t\n":
        return True
    return rest[0] in "#.,;" and (len(rest) == 1 or rest[1] in " \t\n")


def _expected_test(value: Any) -> tuple[str, float, float]:
    return ("approx", FLOAT_TOLERANCE, FLOAT_TOLERANCE) if _has_float(value) else ("exact", 0.0, 0.0)


def _has_float(value: Any) -> bool:
    if type(value) is float:
        return True
    if type(value) in (list, tuple):
        return any(_has_float(v) for v in value)
    return False


# ---------------------------------------------------------------- the styles


def extract_examples(problem: Problem) -> Extraction:
    """Every example in ``problem``'s text and visible tests (see the module's docstring)."""
    found = Extraction()
    function = _function_text(problem.prompt, problem.entry_point)
    text = function.docstring
    consumed = _doctests(text, problem.entry_point, function, found)
    prose = "\n".join("" if i in consumed else line for i, line in enumerate(text.split("\n")))
    _calls(prose, problem.entry_point, function, found)
    _for_lines(prose, function, found)
    _input_output(prose, function, found)
    for test in problem.visible_tests():
        if isinstance(test, CallTest):
            found.add(Example(test.args, test.expected, "%s%r" % (test.function or problem.entry_point, test.args), "visible-test",
                              test.comparison, test.abs_tol, test.rel_tol, dict(test.kwargs)))  # fmt: skip
        else:
            found.discard(test.name, "a visible %s test is not a call test (the problem keeps it; the pool holds call tests)" % test.kind)
    return found


def _names(entry_point: str, function: _Function) -> Callable[[str], bool]:
    """Which called names are the entry point: itself, or (in its own docstring) a name the prompt does not define."""

    def is_entry(name: str) -> bool:
        if name == entry_point:
            return True
        return function.params is not None and name not in function.defined and name not in _NOT_ALIASES and not name.startswith("_")

    return is_entry


_CALL = re.compile(r"(?<![\w.])(?P<name>[A-Za-z_]\w*)[ \t]*\(")
_SHOULD_RETURN = re.compile(r"\s+(?:should\s+return|returns)\b\s*")


def _doctests(text: str, entry_point: str, function: _Function, found: Extraction) -> set[int]:
    """``>>> expr`` lines with their output lines; returns the line numbers used."""
    lines = text.split("\n")
    used: set[int] = set()
    is_entry = _names(entry_point, function)
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped.startswith(">>>"):
            i += 1
            continue
        used.add(i)
        source = stripped[3:].strip()
        i += 1
        while i < len(lines) and lines[i].strip().startswith("..."):
            source += "\n" + lines[i].strip()[3:]
            used.add(i)
            i += 1
        output_lines = []
        while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(">>>"):
            output_lines.append(lines[i].strip())
            used.add(i)
            i += 1
        output = "\n".join(output_lines)
        shown = source + (" -> " + output if output else "")
        try:
            example = _doctest_example(source, output, entry_point, is_entry)
        except Unparseable as exc:
            found.discard(shown, "doctest: %s" % exc)
            continue
        if example is not None:
            found.add(replace(example, text=_one_line(shown)))
    return used


def _doctest_example(source: str, output: str, entry_point: str, is_entry: Callable[[str], bool]) -> Example | None:
    call = _CALL.match(source)
    if call and is_entry(call.group("name")):
        end = _closing(source, call.end() - 1)
        if end < 0:
            raise Unparseable("unbalanced brackets")
        args, kwargs = parse_call(source[:end])
        rest = source[end:].strip()
        if not rest:
            expected = _doctest_output(output) if output else None  # a doctest shows nothing for None
        elif rest.startswith("==") and not rest.startswith("==="):
            if output and output not in ("True", "true"):
                raise Unparseable("a comparison shown as %s" % output)
            expected = parse_value(rest[2:])
        elif not rest.startswith("#"):
            expected = parse_value(rest)  # HumanEval/116: `>>> f([1, 0]) [0, 1]`
        else:
            expected = _doctest_output(output)
        comparison, abs_tol, rel_tol = _expected_test(expected)
        return Example(args, expected, source, "doctest", comparison, abs_tol, rel_tol, kwargs)
    try:
        node = pyast.parse(source, mode="eval").body
    except SyntaxError:
        node = None
    calls = [n for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == entry_point] if node is not None else []
    if not calls:
        return None  # a doctest of something else (a helper)
    # round(f(args), k): the output is the rounded value
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "round" and len(node.args) == 2
            and node.args[0] is calls[0] and isinstance(node.args[1], ast.Constant) and type(node.args[1].value) is int):  # fmt: skip
        args, kwargs = parse_call(ast.unparse(calls[0]))
        expected = _doctest_output(output)
        if type(expected) not in (int, float):
            raise Unparseable("round(...) shown as a non-number")
        return Example(args, expected, source, "doctest", "approx", 0.5 * 10.0 ** -node.args[1].value + 1e-9, 0.0, kwargs)
    raise Unparseable("the call is wrapped in other code: %s" % _one_line(source, 60))


def _doctest_output(output: str) -> Any:
    try:
        return parse_value(output)
    except Unparseable:
        first = output.split("\n", 1)[0]
        if first != output:
            return parse_value(first)
        raise


_SECTION_BREAK = re.compile(r"^[ \t]*(?:(?:for\s+)?examples?\b[^\n]*:)?[ \t]*$", re.IGNORECASE | re.MULTILINE)


def _calls(text: str, entry_point: str, function: _Function, found: Extraction) -> None:
    """``f(args) OP value`` anywhere in the prose (OP: ==>, =>, ➞, ->, ==, =, returns, should return, ...).

    A block of lines (between blank lines or "Example(s):" headings) that holds a recurrence
    (``tri(n) = ...``, ``tri(3) = tri(2) + ...``) defines a sequence under the function's name:
    its literal lines (``tri(1) = 3``) say what the sequence is, not what the function returns
    (HumanEval/130's returns the list of the first n + 1 terms), so they are discarded, with that reason.
    """
    is_entry = _names(entry_point, function)
    breaks = [m.start() for m in _SECTION_BREAK.finditer(text)]
    found_here: list[tuple[int, str, Example | None, str | None]] = []  # (block, shown, example, why not)
    recurrences: set[int] = set()
    position = 0
    while True:
        match = _CALL.search(text, position)
        if match is None:
            break
        position = match.end()
        if not is_entry(match.group("name")):
            continue
        end = _closing(text, match.end() - 1)
        if end < 0:
            continue
        arrow = _ARROW.match(text, end)
        if arrow is None:
            arrow = _SHOULD_RETURN.match(text, end)  # "should\n    return 15"
        if arrow is None:
            continue  # a mention, not an example: "Write a function f() that ..."
        block = sum(1 for b in breaks if b < match.start())
        call_text = text[match.start() : end]
        value_text = _extent(text[arrow.end() :])
        shown = text[match.start() : arrow.end()] + value_text
        position = max(position, arrow.end())
        try:
            args, kwargs = parse_call(call_text if match.group("name") == entry_point else entry_point + call_text[len(match.group("name")) :])
            expected = parse_value(value_text)
        except Unparseable as exc:
            if str(exc).startswith("argument") or re.search(r"(?<![\w.])%s\s*\(" % re.escape(match.group("name")), value_text):
                recurrences.add(block)  # f(n) = ..., or f(3) = f(2) + f(1)
            found_here.append((block, shown, None, str(exc)))
            continue
        comparison, abs_tol, rel_tol = _expected_test(expected)
        style = "arrow" if match.group("name") == entry_point else "arrow (named %s in the text)" % match.group("name")
        found_here.append((block, shown, Example(args, expected, _one_line(shown), style, comparison, abs_tol, rel_tol, kwargs), None))
    for block, shown, example, why in found_here:
        if example is None:
            found.discard(shown, str(why))
        elif block in recurrences:
            found.discard(shown, "defines a sequence under the function's name (a recurrence is in the same block), not a call of the function")
        else:
            found.add(example)


def _assignments(text: str, params: tuple[str, ...] | None) -> tuple[Any, ...]:
    """``a = 1, b = "x"`` (or ``a : 1`` on lines of their own) as an argument tuple in the parameters' order."""
    top = _top_level(text)
    marks = [m for m in _ASSIGNMENT.finditer(text) if top[m.start()] and (m.start() == 0 or not text[m.start() - 1].isalnum())]
    if not marks:
        raise Unparseable("no `name = value` inputs")
    names, values = [], []
    for k, mark in enumerate(marks):
        stop = marks[k + 1].start() if k + 1 < len(marks) else len(text)
        chunk = text[mark.end() : stop].strip()
        chunk = re.sub(r"(?:,|\band)\s*$", "", chunk).strip()
        found = _longest_literal(chunk)
        if found is None:
            raise Unparseable("input %s is not a literal: %s" % (mark.group("name"), _one_line(chunk, 60)))
        names.append(mark.group("name"))
        values.append(found[0])
    if params is None:
        return tuple(values)
    if set(names) == set(params) and len(names) == len(params):
        by_name = dict(zip(names, values))
        return tuple(by_name[p] for p in params)
    if len(values) == len(params):
        return tuple(values)  # named differently in the text (HumanEval/115: bucket_capacity for capacity)
    raise Unparseable("inputs %s do not match the parameters %s" % (", ".join(names), ", ".join(params)))


def _for_lines(text: str, function: _Function, found: Extraction) -> None:
    """"For s = "abcde", c = "ae", the result should be ('bcd',False)" and "For lst = [1,2,3] the output should be 14"."""
    for line in text.split("\n"):
        match = _FOR.search(line)
        if match is None or "=" not in match.group("inputs"):
            continue
        inputs = match.group("inputs")
        # "For N = 1000, the sum of digits will be 1 the output should be": inputs end where prose starts
        inputs = re.split(r",\s+(?=the\b)", inputs)[0]
        try:
            args = _assignments(inputs, function.params)
            expected = parse_value(match.group("value"))
        except Unparseable as exc:
            found.discard(line, str(exc))
            continue
        comparison, abs_tol, rel_tol = _expected_test(expected)
        found.add(Example(args, expected, _one_line(line), "for", comparison, abs_tol, rel_tol))


def _input_output(text: str, function: _Function, found: Extraction) -> None:
    """``Input: ... Output: ...`` blocks."""
    for match in _INPUT_OUTPUT.finditer(text):
        inputs = match.group("inputs").strip()
        shown = "Input: %s Output: %s" % (inputs, match.group("value").strip())
        try:
            top = _top_level(inputs)
            named = any(top[m.start()] for m in _ASSIGNMENT.finditer(inputs))
            if named:
                args = _assignments(inputs, function.params)
            else:
                if function.params is not None and len(function.params) != 1:
                    raise Unparseable("an unnamed input for a function of %d parameters" % len(function.params))
                args = (parse_value(inputs),)
            expected = parse_value(match.group("value"))
        except Unparseable as exc:
            found.discard(shown, str(exc))
            continue
        comparison, abs_tol, rel_tol = _expected_test(expected)
        found.add(Example(args, expected, _one_line(shown), "input-output", comparison, abs_tol, rel_tol))


# ---------------------------------------------------------------- tests, the reference, the oracle


def example_tests(problem: Problem, extraction: Extraction | None = None) -> list[OracleTest]:
    """The examples of ``problem`` as trusted oracle tests."""
    extraction = extraction or extract_examples(problem)
    tests = []
    for number, example in enumerate(extraction.examples):
        test = CallTest(
            name="example_%d" % number, args=example.args, expected=example.expected, kwargs=dict(example.kwargs),
            comparison=example.comparison, abs_tol=example.abs_tol, rel_tol=example.rel_tol, hidden=False, trust=Trust.GIVEN,
        )  # fmt: skip
        source = SOURCE_VISIBLE if example.style == "visible-test" else SOURCE_DOCSTRING
        tests.append(OracleTest(test, Provenance(OracleKind.EXAMPLE, source), 1.0, "%s: %s" % (example.style, example.text)))
    return tests


def reference_failures(sandbox: Any, problem: Problem, reference: str, tests: list[OracleTest], cpu_seconds: float = 2.0) -> dict[str, str]:
    """Test name -> why the reference fails it (runs the reference in the sandbox; compares here)."""
    from assay.sandbox import Call, compare_output

    if not tests:
        return {}
    calls = [Call(t.test.function or problem.entry_point, t.test.args, dict(t.test.kwargs), cpu_seconds=cpu_seconds) for t in tests]
    failures: dict[str, str] = {}
    start = 0
    while start < len(tests):
        batch = sandbox.run_calls(reference, calls[start:])
        if not batch.loaded:
            for t in tests[start:]:
                failures[t.test.name] = "the reference does not load (%s: %s)" % (batch.load.status, batch.load.message)
            return failures
        for t, reply in zip(tests[start:], batch.replies):
            if reply.status != "ok":
                failures[t.test.name] = "the reference ends with %s%s" % (reply.status, " (%s: %s)" % (reply.exception_type, reply.message) if reply.exception_type else "")
                continue
            ok, difference = compare_output(problem, t.test, reply.value)
            if not ok:
                failures[t.test.name] = "the reference returns something else: %s" % difference
        start += max(1, len(batch.replies))
    return failures


class ExampleOracle:
    """Fills a pool with the problem's own examples (trust 1.0); with the reference allowed, drops the ones it fails, saying so."""

    kind = OracleKind.EXAMPLE

    async def build(self, context: OracleContext) -> None:
        extraction = extract_examples(context.problem)
        for gone in extraction.discarded:
            context.pool.discarded.append(gone)
        tests = example_tests(context.problem, extraction)
        failures: dict[str, str] = {}
        if context.reference:
            failures = await asyncio.to_thread(reference_failures, context.sandbox, context.problem, context.reference, tests)
        add_examples(context.pool, tests, failures)


def add_examples(pool: OraclePool, tests: list[OracleTest], failures: dict[str, str]) -> None:
    for test in tests:
        reason = failures.get(test.test.name)
        if reason is None:
            pool.add(test)
        else:
            pool.discard(OracleKind.EXAMPLE, test.note or test.test.name, "the problem's text is wrong here (%s)" % reason)


@hookimpl
def register_oracles(register: Callable[..., None]) -> None:
    register("examples", ExampleOracle(), "the problem's own examples (doctests, 'f(x) ==> y' lines, Input/Output blocks, visible tests), trust 1.0")
