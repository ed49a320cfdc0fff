"""Stress-input oracles: a model-written generator runs in the sandbox at growing sizes; the reference (or the agreed candidate) validates it.

The model is always a ScriptedModel; every generator and program runs in the
session's sandbox.
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import threading

import pytest
from conftest import only_zygotes_remain

from assay.models import GenerationParams, MeteredModel, ScriptedModel
from assay.oracles import OracleContext, OracleKind, OraclePool
from assay.oracles.stress import (
    StressOracle,
    StressSettings,
    input_size,
    parse_generator,
    stress_inputs,
    stress_messages,
    stress_sizes,
    stress_tests,
)
from assay.problems import CallTest, Problem
from assay.problems.prompt import entry_arity
from assay.sandbox import Call

SETTINGS = StressSettings(levels=(10, 100, 1000), per_level=2, cpu_seconds=1.0)
HOSTILE_SETTINGS = StressSettings(levels=(10, 100, 1000), per_level=2, cpu_seconds=0.5, memory_bytes=256 << 20)  # generators that loop: shorter limits

PROMPT = 'def total(xs):\n    """Return the sum of a list of non-negative integers."""\n'
TOTAL = Problem(task_id="oracles/total", prompt=PROMPT, entry_point="total", tests=())
REFERENCE = "def total(xs):\n    if any(x < 0 for x in xs):\n        raise ValueError('negative numbers are outside the specification')\n    return sum(xs)\n"
GOOD_PROGRAM = "def total(xs):\n    return sum(xs)\n"
WRONG_ON_LONG = "def total(xs):\n    return sum(xs) + (len(xs) > 50)\n"


def reply(body: str, imports: str = "import random\n") -> str:
    return "```python\n%sdef generate(size, rng):\n%s\n```" % (imports, body)


GOOD = reply("    return ([rng.randint(0, 100) for _ in range(size)],)")
DISCARDED = {
    "raises": (reply("    raise ValueError('no idea')"), "generate() raised ValueError: at size=10: no idea"),
    "wrong arity": (reply("    return ([1] * size, size)"), "wrong shape: generate(10, rng) returned 2 arguments; the entry point takes 1"),
    "not a tuple": (reply("    return [1] * size"), "wrong shape: generate(10, rng) returned list, not a tuple"),
    "rejected by the reference": (reply("    return ([rng.randint(-100, -1) for _ in range(size)],)"), "rejected by the reference: on its size=10 input"),
    "does not grow": (reply("    return ([rng.randint(0, 9) for _ in range(3)],)"), "does not grow with size: the largest input's size is 4, 4, 4 at size=10, 100, 1000"),
}


def build(sandbox, *replies: str, reference: str | None = REFERENCE, candidates: list[str] | None = None, problem: Problem = TOTAL,
          settings: StressSettings = SETTINGS, pool: OraclePool | None = None, seed: int = 0) -> tuple[OraclePool, ScriptedModel]:  # fmt: skip
    model = ScriptedModel(list(replies) or ["nothing"])
    pool = pool or OraclePool(problem.task_id)
    context = OracleContext(problem, sandbox, pool, MeteredModel(model), GenerationParams(max_tokens=800), candidates=candidates or [], reference=reference, seed=seed)
    asyncio.run(StressOracle(settings).build(context))
    return pool, model


def reasons(pool: OraclePool) -> list[str]:
    return [d.reason for d in pool.discarded if d.kind is OracleKind.STRESS]


# ---------------------------------------------------------------- prompting, parsing, sizes


def test_the_prompt_asks_for_a_generator_from_the_specification_alone():
    text = stress_messages(TOTAL)[-1].content
    assert "def total(xs)" in text and "def generate(size: int, rng: random.Random) -> tuple" in text and "1 positional arguments" in text
    assert entry_arity(TOTAL) == (1, 1)
    two = Problem(task_id="x", prompt="from typing import List\n\n\ndef f(a: List[int], k: int = 3):\n    '''Doc.'''\n", entry_point="f", tests=())
    assert entry_arity(two) == (1, 2)


def test_parse_keeps_the_generator_and_its_helpers_and_drops_top_level_statements():
    spec = parse_generator("Here:\n```python\nimport string\nALPHABET = string.ascii_lowercase\ndef word(rng, n):\n    return ''.join(rng.choice(ALPHABET) for _ in range(n))\n"
                           "def generate(size, rng):\n    return (word(rng, size),)\nprint(generate(3, None))\n```")  # fmt: skip
    assert not isinstance(spec, str)
    assert "ALPHABET = string.ascii_lowercase" in spec.source and "def word" in spec.source and "print(" not in spec.source


@pytest.mark.parametrize(
    "text, reason",
    [
        ("no code, sorry", "no code in the reply"),
        ("```python\ndef generate(size, rng:\n```", "not valid Python"),
        ("```python\ndef make(size, rng):\n    return (1,)\n```", "no def generate(size, rng)"),
        ("```python\ndef generate(size):\n    return (1,)\n```", "generate must take two arguments"),
        ("```python\nasync def generate(size, rng):\n    return (1,)\n```", "generate is async"),
    ],
)
def test_parse_says_why_there_is_no_generator(text, reason):
    found = parse_generator(text)
    assert isinstance(found, str) and found.startswith(reason), found


def test_input_size_counts_elements_or_for_numbers_alone_their_bits():
    assert input_size(([1, 2, 3],)) == 4 and input_size(("abcde", 7)) == 6 and input_size(({"a": [1, 2]},)) == 5
    assert input_size((10,)) < input_size((100,)) < input_size((10_000,))


# ---------------------------------------------------------------- building a pool


def test_a_good_generator_is_kept_with_growing_inputs_whose_expected_outputs_are_the_references(sandbox):
    pool, model = build(sandbox, GOOD, seed=7)
    assert reasons(pool) == []
    (entry,) = pool.extras["stress"]
    assert entry["validated_by"] == "reference" and entry["trust"] == 1.0 and [level["size"] for level in entry["levels"]] == [10, 100, 1000]
    assert entry["provenance"] == {"kind": "stress", "source": "model", "model": "scripted", "prompt": model.requests[0][0][-1].content, "seed": 7}
    assert "def total(xs)" in entry["provenance"]["prompt"]  # asked from the specification
    per_level = stress_inputs(pool)
    assert stress_sizes(pool) == [10, 100, 1000] and [len(level) for level in per_level] == [2, 2, 2]
    assert [max(len(args[0]) for args in level) for level in per_level] == [10, 100, 1000]
    assert all(isinstance(args, tuple) and len(args) == 1 and all(0 <= x <= 100 for x in args[0]) for level in per_level for args in level)
    tests = pool.of_kind(OracleKind.STRESS)
    assert len(tests) == 6 and all(t.trust == 1.0 and t.test.expected == sum(t.test.args[0]) for t in tests)
    assert pool.counts()["stress"] == {"kept": 6, "discarded": 0, "extras": 1}  # six tests and one generator, not seven "kept"
    assert [[t.test.args for t in level] for level in stress_tests(pool)] == per_level
    assert stress_inputs(pool, levels=(1000, 10_000)) == [per_level[2], []]
    # the same seed gives the same inputs; the pool's tests judge programs like any other
    again, _ = build(sandbox, GOOD, seed=7)
    assert stress_inputs(again) == per_level
    assert sandbox.run(pool.as_problem(TOTAL), GOOD_PROGRAM).passed
    assert not sandbox.run(pool.as_problem(TOTAL), WRONG_ON_LONG).passed


@pytest.mark.parametrize("name", list(DISCARDED))
def test_a_bad_generator_is_discarded_with_its_reason(sandbox, name):
    text, reason = DISCARDED[name]
    pool, _ = build(sandbox, text)
    assert pool.extras.get("stress") is None and pool.of_kind(OracleKind.STRESS) == []
    (why,) = reasons(pool)
    assert why.startswith(reason), why


def test_levels_the_reference_cannot_answer_in_time_are_dropped(sandbox):
    slow = "def total(xs):\n    if len(xs) > 500:\n        while True:\n            pass\n    return sum(xs)\n"
    pool, _ = build(sandbox, GOOD, reference=slow, settings=StressSettings(levels=(10, 100, 1000), per_level=1, cpu_seconds=0.3))
    (entry,) = pool.extras["stress"]
    assert stress_sizes(pool) == [10, 100]
    assert "levels from size=1000 dropped: the reference timeout there" in entry["note"]
    pool, _ = build(sandbox, GOOD, reference=slow.replace("500", "50"), settings=StressSettings(levels=(10, 100, 1000), per_level=1, cpu_seconds=0.3))
    assert reasons(pool)[0].startswith("too large for the reference: timeout at size=100")


def test_without_a_reference_the_favoured_candidate_validates_and_trust_is_the_agreeing_share(sandbox):
    pool, _ = build(sandbox, GOOD, reference=None, candidates=[WRONG_ON_LONG, GOOD_PROGRAM, GOOD_PROGRAM])
    (entry,) = pool.extras["stress"]
    assert entry["validated_by"] == "candidate" and "2 of 3 candidates in its cluster" in entry["note"]
    trust = {t.test.name.split("/")[2]: t.trust for t in pool.of_kind(OracleKind.STRESS)}
    assert trust == {"10": 1.0, "100": 0.666667, "1000": 0.666667}  # the wrong candidate agrees on short lists only
    assert all(t.test.expected == sum(t.test.args[0]) for t in pool.of_kind(OracleKind.STRESS))  # the majority's outputs, not the first candidate's
    assert [len(level) for level in stress_inputs(pool, at_least=0.7)] == [2, 0, 0]  # the generator's trust (its tests' mean) is 7/9
    assert stress_inputs(pool, at_least=0.9) == []


def test_the_pools_tests_decide_between_candidates(sandbox):
    pool = OraclePool(TOTAL.task_id)
    from assay.oracles import OracleTest, Provenance

    pool.add(OracleTest(CallTest("example", ([1] * 60,), 60), Provenance(OracleKind.EXAMPLE, "docstring")))
    pool, _ = build(sandbox, GOOD, reference=None, candidates=[WRONG_ON_LONG, WRONG_ON_LONG, GOOD_PROGRAM], pool=pool)
    assert all(t.test.expected == sum(t.test.args[0]) for t in pool.of_kind(OracleKind.STRESS))  # the cluster passing the example wins
    assert "scored on 1 pool tests" in pool.extras["stress"][0]["note"]


def test_a_candidate_that_agreement_favours_can_reject_the_inputs(sandbox):
    strict = "def total(xs):\n    assert len(xs) < 50\n    return sum(xs)\n"
    pool, _ = build(sandbox, GOOD, reference=None, candidates=[strict, strict, GOOD_PROGRAM])
    (why,) = reasons(pool)
    assert why.startswith("rejected by the favoured candidate: on its size=100 input") and "AssertionError" in why and "(candidate #0, in a cluster of 2 of 3)" in why


def test_with_neither_reference_nor_candidates_the_inputs_are_kept_unvalidated(sandbox):
    pool, _ = build(sandbox, GOOD, reference=None)
    (entry,) = pool.extras["stress"]
    assert entry["validated_by"] is None and entry["trust"] == 0.0 and entry["note"].startswith("unvalidated")
    assert pool.of_kind(OracleKind.STRESS) == [] and [len(level) for level in stress_inputs(pool)] == [2, 2, 2]
    assert stress_inputs(pool, at_least=0.5) == [] and stress_tests(pool) == [[], [], []]


def test_several_replies_are_several_generators_and_duplicates_are_discarded(sandbox):
    other = reply("    return ([rng.randint(0, 5) for _ in range(2 * size)],)")
    model = ScriptedModel([GOOD, other, GOOD])
    context = OracleContext(TOTAL, sandbox, OraclePool(TOTAL.task_id), MeteredModel(model), GenerationParams(max_tokens=800, n=3), reference=REFERENCE)
    asyncio.run(StressOracle(SETTINGS).build(context))
    assert [e["name"] for e in context.pool.extras["stress"]] == ["stress/0", "stress/1"]
    assert [(d.what, d.reason) for d in context.pool.discarded] == [("stress/2", "the same generator as an earlier reply")]
    assert [len(level) for level in stress_inputs(context.pool)] == [4, 4, 4]


def test_without_a_model_nothing_is_built(sandbox):
    pool = OraclePool("x")
    asyncio.run(StressOracle().build(OracleContext(TOTAL, sandbox, pool)))
    assert pool.extras == {} and pool.discarded == [] and pool.tests == []


# ---------------------------------------------------------------- red team: hostile generators


def hostile(body: str) -> str:
    return reply(body, imports="import os, sys, socket, random\n")


HOSTILE = {
    "infinite loop": ("    while True:\n        try:\n            pass\n        except BaseException:\n            pass", "generate() timeout: at size=10"),
    "huge allocation": ("    blocks = []\n    while True:\n        blocks.append(bytearray(64 << 20))", "generate() "),
    # its first call starts printing as soon as the load's reply is sent; on a busy machine the monitor may see the
    # output pass the cap before it has finished with that reply, and blame the load: either way, for printing
    "prints forever": ("    while True:\n        print('x' * 10000)", ("generate() output_limit: at size=10", "its code does not load: output_limit")),
    "fork bomb": ("    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass", "generate() "),
    "exits": ("    os._exit(0)", "generate() "),
    # its kills reach nothing outside its own namespace; what it then returns is judged as data
    "kills its parent": ("    for pid in (os.getppid(), 0, -1, 1, 2):\n        try:\n            os.kill(pid, 9)\n        except OSError:\n            pass\n    return ([1, 2, 3],)",
                         "does not grow with size"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_generator_stays_in_the_sandbox_and_is_discarded(sandbox, name):
    body, reason = HOSTILE[name]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pool, _ = build(sandbox, hostile(body), settings=HOSTILE_SETTINGS)
    assert pool.extras.get("stress") is None
    (why,) = reasons(pool)
    assert why.startswith(reason), why  # a prefix, or a tuple of them
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: nothing it allocated landed here
    assert only_zygotes_remain(sandbox)
    assert sandbox.run_calls(GOOD_PROGRAM, [Call("total", ([1, 2],))]).replies[0].value == 3


def test_a_generator_cannot_read_the_hosts_files_or_reach_its_network(sandbox, tmp_path):
    secret = tmp_path / "answers.txt"
    secret.write_text("the answers")
    escaped = tmp_path / "escaped.txt"
    reads = hostile("    return (open(%r).read() * size,)" % str(secret))
    writes = hostile("    open(%r, 'w').write('x')\n    return ([1] * size,)" % str(escaped))
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted: list = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    connects = hostile("    socket.create_connection(('127.0.0.1', %d), timeout=0.5).close()\n    return ([1] * size,)" % server.getsockname()[1])
    for text, error in ((reads, "FileNotFoundError"), (writes, "Error"), (connects, "Error")):
        pool, _ = build(sandbox, text, settings=HOSTILE_SETTINGS)
        (why,) = reasons(pool)
        assert why.startswith("generate() raised") and error in why.split(":")[0], why
    server.close()
    assert not accepted and not escaped.exists() and secret.read_text() == "the answers"


# ---------------------------------------------------------------- the store and the command


def test_the_pool_round_trips_through_the_store_with_provenance(sandbox, tmp_path):
    from assay.oracles.build import OracleConfig, build_pools
    from assay.store import Store

    problem = Problem(task_id="oracles/total", prompt=PROMPT, entry_point="total", tests=(CallTest("t", ([1, 2],), 3, hidden=True),), reference=REFERENCE)
    model = ScriptedModel([GOOD, DISCARDED["raises"][0]])
    config = OracleConfig(kinds=("stress",), validate_with_reference=True, params=GenerationParams(max_tokens=800, n=2), seed=3)
    with Store(tmp_path / "s.sqlite") as store:
        report = build_pools([problem], sandbox=sandbox, store=store, config=config, model=model, benchmark="mine")
        stored = store.oracle_pools(report.run_id)
    assert model.requests and len(model.requests) == 1  # no candidates sampled: the reference validates
    tally = report.tallies["stress"]
    assert (tally.kept, tally.discarded, tally.tests) == (1, 1, 8) and list(tally.reasons) == ["generate() raised ValueError"]
    pool = report.pools[problem.task_id]
    again = OraclePool.from_dict(json.loads(json.dumps(stored[problem.task_id])))
    assert again.tests == pool.tests and again.extras == pool.extras and again.discarded == pool.discarded
    assert stress_inputs(again) == stress_inputs(pool) and stress_tests(again) == stress_tests(pool)
    provenance = again.of_kind(OracleKind.STRESS)[0].provenance
    assert (provenance.kind, provenance.model, provenance.seed) == (OracleKind.STRESS, "scripted", 3) and "def total(xs)" in provenance.prompt
    assert all(t.test.name.startswith("stress/0/") for t in again.tests)  # no hidden test in the pool


def test_assay_oracles_kinds_stress_prints_made_kept_discarded_and_reasons(tmp_path, capsys, monkeypatch):
    from assay.cli import main

    monkeypatch.setenv("ASSAY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")
    problems = tmp_path / "p.jsonl"
    lines = [{"task_id": "demo/total%d" % i, "prompt": PROMPT, "entry_point": "total", "reference": REFERENCE, "tests": [{"args": [[1, 2]], "expected": 3}]} for i in range(2)]
    problems.write_text("".join(json.dumps(line) + "\n" for line in lines))
    script = tmp_path / "replies.jsonl"
    script.write_text(json.dumps(GOOD) + "\n" + json.dumps(DISCARDED["does not grow"][0]) + "\n")
    code = main(["oracles", "--benchmark", str(problems), "--model", "scripted:%s" % script, "--kinds", "stress", "--validate-with-reference",
                 "--store", str(tmp_path / "s.sqlite"), "--workers", "1"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    header = next(line for line in out.splitlines() if "made" in line)
    assert [cell.strip() for cell in header.strip("┃").split("┃")][:5] == ["kind", "made", "kept", "discarded", "tests kept"]
    row = next(line for line in out.splitlines() if line.strip("│ ").startswith("stress"))
    cells = [cell.strip() for cell in row.strip("│").split("│")]
    assert cells[:6] == ["stress", "2", "1", "1", "8", "0"] and cells[-1] == "does not grow with size (1)", cells


def test_registers_itself_as_an_oracle():
    from assay import plugins
    from assay.oracles import stress

    assert isinstance(plugins.ORACLES.get("stress"), stress.StressOracle) and plugins.ORACLES.get("stress").kind is OracleKind.STRESS
    assert plugins.BUILTIN_HOOKS["assay.oracles.stress"] == ("register_oracles",)
