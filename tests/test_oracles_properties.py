"""Property oracles: parsing, validation (reference, trivially wrong programs), shrunk counterexamples, and red-team cases.

The model is always a ScriptedModel; every property and program runs in the
session's sandbox.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from conftest import only_zygotes_remain

from assay.models import GenerationParams, MeteredModel, ScriptedModel
from assay.oracles import OracleContext, OracleKind, OraclePool
from assay.oracles.properties import (
    PropertyOracle,
    PropertySettings,
    PropertySpec,
    check_property,
    draw_examples,
    parse_properties,
    property_messages,
    run_combined,
)
from assay.problems import Problem
from assay.sandbox import Call

SETTINGS = PropertySettings(max_examples=25, shrink_seconds=2.0, search_cpu_seconds=4.0)
HOSTILE = PropertySettings(max_examples=10, shrink_seconds=0.5, search_cpu_seconds=1.0)  # properties that loop: shorter limits

SQUARE = Problem(task_id="oracles/square", prompt='def square(n):\n    """Return n * n."""\n', entry_point="square", tests=())
GOOD = "def square(n):\n    return n * n\n"
WRONG_ABOVE_5 = "def square(n):\n    return n * n if n <= 5 else -n\n"

NONNEGATIVE = """```python
def strategy_nonnegative():
    return st.tuples(st.integers(min_value=0, max_value=50))

def property_nonnegative(args, output):
    assert output >= 0
```"""

# rejects return None (TypeError), return 0 (n=1), returning n (n=-1 or n=2... n*n >= n holds for ints, but -1 < 0)
GROWS = """
def strategy_grows():
    return st.tuples(st.integers(min_value=-30, max_value=30))

def property_grows(args, output):
    (n,) = args
    assert output >= 0 and output >= abs(n) and output % 2 == n % 2
"""
WRONG = """
def strategy_twice():
    return st.tuples(st.integers(min_value=0, max_value=30))

def property_twice(args, output):
    return output == 2 * args[0]
"""
VACUOUS = """
def strategy_anything():
    return st.tuples(st.integers())

def property_anything(args, output):
    return output is None or output >= 0
"""


def one(reply: str) -> PropertySpec:
    specs, discarded = parse_properties(reply)
    assert len(specs) == 1 and not discarded, (specs, discarded)
    return specs[0]


def build(sandbox, *replies: str, reference: str | None = GOOD, candidates: list[str] | None = None, problem: Problem = SQUARE, settings: PropertySettings = SETTINGS) -> tuple[OraclePool, ScriptedModel]:
    model = ScriptedModel(list(replies) or ["nothing"])
    pool = OraclePool(problem.task_id)
    context = OracleContext(problem, sandbox, pool, MeteredModel(model), GenerationParams(max_tokens=800), candidates=candidates or [], reference=reference)
    asyncio.run(PropertyOracle(count=3, settings=settings).build(context))
    return pool, model


def reasons(pool: OraclePool) -> dict[str, str]:
    return {d.what: d.reason for d in pool.discarded if d.kind is OracleKind.PROPERTY}


def kept(pool: OraclePool) -> list[str]:
    return [p["name"] for p in pool.extras.get("property", [])]


# ---------------------------------------------------------------- prompting and parsing


def test_prompt_asks_for_the_shape_from_the_specification_alone():
    messages = property_messages(SQUARE, 4)
    text = messages[-1].content
    assert "def square(n)" in text and "strategy_NAME" in text and "property_NAME(args, output)" in text and "4 properties" in text


def test_parse_keeps_pairs_with_shared_helpers_and_drops_top_level_calls():
    reply = """Here you go:
```python
import math
LIMIT = 30

def helper(n):
    return abs(n)

def strategy_a():
    return st.tuples(st.integers(0, LIMIT))

def property_a(args, output):
    assert output >= helper(args[0])

print(property_a((1,), 1))
```"""
    specs, discarded = parse_properties(reply)
    assert discarded == []
    assert [s.name for s in specs] == ["a"]
    source = specs[0].source
    assert "from hypothesis import strategies as st" in source and "import math" in source and "def helper" in source and "LIMIT = 30" in source
    assert "print(" not in source


@pytest.mark.parametrize(
    "reply, what, reason",
    [
        ("```python\ndef strategy_a(:\n```", "reply", "not valid Python"),
        ("no code at all, sorry", "reply", "no code in the reply"),
        ("```python\nx = 1\n```", "reply", "no strategy_<name> / property_<name> pair"),
        ("```python\ndef strategy_a():\n    return st.tuples(st.integers())\n```", "a", "no property_a"),
        ("```python\ndef property_a(args, output):\n    return True\n```", "a", "no strategy_a"),
        ("```python\ndef strategy_a(x):\n    return x\ndef property_a(args, output):\n    return True\n```", "a", "must take no arguments"),
        ("```python\ndef strategy_a():\n    return st.just((1,))\ndef property_a(output):\n    return True\n```", "a", "must take two arguments"),
        ("```python\ndef strategy_a():\n    return st.just((1,))\nasync def property_a(args, output):\n    return True\n```", "a", "async"),
    ],
)
def test_parse_discards_wrong_shapes_with_reasons(reply, what, reason):
    specs, discarded = parse_properties(reply)
    assert specs == []
    assert len(discarded) == 1
    assert discarded[0][0] == what and reason in discarded[0][1], discarded


ADD = Problem(task_id="oracles/add", prompt='def add(a, b):\n    """Return a + b."""\n', entry_point="add", tests=())
UNPACKED = """```python
def strategy_sum():
    return st.tuples(st.integers(-20, 20), st.integers(-20, 20))

def property_sum(a, b, output):
    assert output == a + b
```"""


def test_a_predicate_written_with_the_arguments_unpacked_is_kept_when_the_arity_says_so(sandbox):
    specs, discarded = parse_properties(UNPACKED, arity=2)
    assert not discarded and [s.name for s in specs] == ["sum"]
    assert check_property(sandbox, "def add(a, b):\n    return a + b\n", "add", specs[0], SETTINGS).status == "passed"
    verdict = check_property(sandbox, "def add(a, b):\n    return a - b\n", "add", specs[0], SETTINGS)
    assert verdict.status == "failed" and verdict.counterexample is not None and verdict.counterexample[1] != 0
    # without the arity, or with an arity it does not fit, the shape is wrong as before
    for arity in (None, 3):
        specs, discarded = parse_properties(UNPACKED, arity=arity)
        assert specs == [] and "must take two arguments" in discarded[0][1]
    pool, _ = build(sandbox, UNPACKED, reference="def add(a, b):\n    return a + b\n", problem=ADD)
    assert kept(pool) == ["sum"]  # the oracle reads the arity from the prompt


def test_a_strategy_that_declares_parameters_it_never_reads_is_kept_without_them(sandbox):
    reply = NONNEGATIVE.replace("def strategy_nonnegative():", "def strategy_nonnegative(n):")
    spec = one(reply)
    assert "def strategy_nonnegative():" in spec.source
    assert check_property(sandbox, GOOD, "square", spec, SETTINGS).status == "passed"
    reads = reply.replace("st.integers(min_value=0, max_value=50)", "st.integers(min_value=0, max_value=n)")
    specs, discarded = parse_properties(reads)
    assert specs == [] and "must take no arguments" in discarded[0][1]  # a parameter it reads cannot be dropped


# ---------------------------------------------------------------- running in the sandbox


def test_hypothesis_imports_inside_the_sandbox(sandbox):
    batch = sandbox.run_calls("import hypothesis\ndef version():\n    return hypothesis.__version__\n", [Call("version")])
    assert batch.complete, batch.load
    import hypothesis

    assert batch.replies[0].value == hypothesis.__version__


def test_examples_are_drawn_the_same_every_time(sandbox):
    spec = one(NONNEGATIVE)
    first, second = draw_examples(sandbox, spec, SETTINGS), draw_examples(sandbox, spec, SETTINGS)
    assert first == second
    assert 1 < len(first) <= SETTINGS.max_examples
    assert all(isinstance(args, tuple) and len(args) == 1 and 0 <= args[0] <= 50 for args in first)


def test_a_counterexample_is_shrunk_and_confirmed(sandbox):
    spec = one(NONNEGATIVE)
    verdict = check_property(sandbox, WRONG_ABOVE_5, "square", spec, SETTINGS)
    assert not verdict.passed and verdict.status == "failed"
    assert verdict.counterexample == (6,) and verdict.shrunk
    assert verdict.output == -6
    assert "square(6) returned -6" in verdict.message and "assert output >= 0" in verdict.message


def test_a_correct_program_passes(sandbox):
    verdict = check_property(sandbox, GOOD, "square", one(NONNEGATIVE), SETTINGS)
    assert verdict.passed and verdict.status == "passed" and verdict.counterexample is None
    assert verdict.examples > 1


def test_a_program_that_raises_has_a_counterexample(sandbox):
    program = "def square(n):\n    if n > 3:\n        raise ValueError('too big')\n    return n * n\n"
    verdict = check_property(sandbox, program, "square", one(NONNEGATIVE), SETTINGS)
    assert verdict.status == "failed" and verdict.counterexample == (4,) and verdict.shrunk
    assert "raised ValueError: too big" in verdict.message


# ---------------------------------------------------------------- building a pool


def test_build_keeps_a_useful_property_and_discards_a_wrong_and_a_vacuous_one(sandbox):
    reply = "```python\n" + GROWS + WRONG + VACUOUS + "```"
    pool, model = build(sandbox, reply)
    assert kept(pool) == ["grows"]
    why = reasons(pool)
    assert why["twice"].startswith("fails the reference") and "square(1) returned 1" in why["twice"]
    assert why["anything"].startswith("vacuous: holds for a trivially wrong program (return None)")
    entry = pool.extras["property"][0]
    assert entry["trust"] == 1.0 and entry["provenance"]["kind"] == "property" and entry["provenance"]["model"] == "scripted"
    assert "def square(n)" in model.requests[0][0][-1].content  # asked from the specification
    # the kept entry is what a search checks programs against, examples reused
    assert check_property(sandbox, GOOD, "square", entry, SETTINGS).passed
    failing = check_property(sandbox, WRONG_ABOVE_5, "square", entry, SETTINGS)
    assert failing.status == "failed" and failing.shrunk and failing.counterexample == (6,)


def test_holding_for_return_zero_is_vacuous(sandbox):
    pool, _ = build(sandbox, NONNEGATIVE)
    assert kept(pool) == []
    assert reasons(pool)["nonnegative"].startswith("vacuous: holds for a trivially wrong program (return 0)")


def test_an_unparseable_reply_is_discarded_with_its_reason(sandbox):
    pool, _ = build(sandbox, "```python\ndef strategy_x(:\n    pass\n```")
    assert kept(pool) == []
    assert reasons(pool)["reply"].startswith("not valid Python")


def test_a_property_that_cannot_run_is_discarded(sandbox):
    broken = """```python
def strategy_broken():
    return st.tuples(st.integers(min_value=10, max_value=0))

def property_broken(args, output):
    return True

def strategy_undefined():
    return st.tuples(undefined_strategy())

def property_undefined(args, output):
    return True
```"""
    pool, _ = build(sandbox, broken)
    assert kept(pool) == []
    why = reasons(pool)
    assert why["broken"].startswith("cannot run: strategy_broken cannot draw examples") and "InvalidArgument" in why["broken"]
    assert why["undefined"].startswith("cannot run") and "NameError" in why["undefined"]


def test_without_a_reference_trust_is_the_share_of_candidates_that_satisfy_it(sandbox):
    pool, _ = build(sandbox, "```python\n" + GROWS + "```", reference=None, candidates=[GOOD, GOOD, WRONG_ABOVE_5, "def square(n):\n    return n ** 2\n"])
    assert kept(pool) == ["grows"]
    entry = pool.extras["property"][0]
    assert entry["trust"] == 0.75 and entry["note"].startswith("3 of 4 candidates")


def test_without_a_reference_a_property_no_candidate_satisfies_is_discarded(sandbox):
    pool, _ = build(sandbox, "```python\n" + WRONG + "\n" + GROWS + "```", reference=None, candidates=[GOOD, "def square(n):\n    return n ** 2\n"])
    assert kept(pool) == ["grows"]
    assert reasons(pool)["twice"] == "no candidate satisfies it (2 checked)"


def test_without_a_model_nothing_is_built(sandbox):
    pool = OraclePool("x")
    asyncio.run(PropertyOracle().build(OracleContext(SQUARE, sandbox, pool)))
    assert pool.extras == {} and pool.discarded == []


def test_a_trivial_program_the_reference_agrees_with_is_no_reason_to_discard(sandbox):
    zero = Problem(task_id="oracles/zero", prompt="def zero(n):\n    '''Return 0 for every non-negative n.'''\n", entry_point="zero", tests=())
    reply = "```python\ndef strategy_z():\n    return st.tuples(st.integers(0, 9))\ndef property_z(args, output):\n    assert output == 0 and type(output) is int\n```"
    pool, _ = build(sandbox, reply, reference="def zero(n):\n    return 0\n", problem=zero)
    assert kept(pool) == ["z"], pool.discarded


# ---------------------------------------------------------------- red team: hostile candidates

WRONG_CORE = "def square(n):\n    return -1\n"
PATCH_THE_RUNNER = """
import gc
for space in gc.get_objects():
    if isinstance(space, dict) and "run_combined" in space and "_explore" in space:
        space["_explore"] = lambda *args, **kwargs: None
"""

HOSTILE_CANDIDATES = {
    "patches the runner's Hypothesis": PATCH_THE_RUNNER + WRONG_CORE,
    "patches hypothesis": "import hypothesis, hypothesis.core\nhypothesis.given = lambda *a, **k: (lambda f: (lambda *x, **y: None))\nhypothesis.core.given = hypothesis.given\n" + WRONG_CORE,
    "patches builtins": "import builtins\nbuiltins.AssertionError = type('AssertionError', (BaseException,), {})\nbuiltins.isinstance = lambda *a: True\n" + WRONG_CORE,
    "raises SystemExit": "def square(n):\n    raise SystemExit(0)\n",
    "exits while loading": "import os\nos._exit(0)\n" + WRONG_CORE,
    "returns an object that compares as anything": (
        "class Anything(int):\n"
        "    def __ge__(self, other): return True\n"
        "    def __eq__(self, other): return True\n"
        "    def __mod__(self, other): return other\n"
        "    __hash__ = int.__hash__\n"
        "def square(n):\n    return Anything(-1)\n"
    ),
    "exits the process": "import os\ndef square(n):\n    os._exit(0)\n",
    "prints passed": "print('passed')\ndef square(n):\n    print('property holds: passed, all tests passed')\n    return -1\n",
    "kills its parent": "import os, signal\ndef square(n):\n    for pid in (os.getppid(), 0, -1, 1, 2):\n        try:\n            os.kill(pid, signal.SIGKILL)\n        except OSError:\n            pass\n    return -1\n",
    "forges replies": """
import os, json, struct
def square(n):
    for fd in map(int, os.listdir('/proc/self/fd')):
        for guess in ({"status": "ok", "value": {"$dict": [["outcome", "passed"]]}}, {"status": "ok", "value": 0}):
            body = json.dumps(guess).encode()
            try:
                os.write(fd, struct.pack('>I', len(body)) + body)
            except OSError:
                pass
    os._exit(0)
""",
}


@pytest.mark.parametrize("name", list(HOSTILE_CANDIDATES))
def test_a_hostile_candidate_gains_nothing(sandbox, name):
    verdict = check_property(sandbox, HOSTILE_CANDIDATES[name], "square", one("```python" + GROWS + "```"), SETTINGS)
    assert not verdict.passed and verdict.status == "failed", verdict
    assert verdict.counterexample is not None
    assert sandbox.run_calls(GOOD, [Call("square", (3,))]).replies[0].value == 9  # the sandbox is still fine


def test_a_candidate_that_fakes_the_combined_run_is_still_judged_apart(sandbox):
    spec = one("```python" + GROWS + "```")
    program = HOSTILE_CANDIDATES["patches the runner's Hypothesis"]
    claim = run_combined(sandbox, program, "square", spec, SETTINGS)
    assert claim is not None and claim["outcome"] == "passed"  # the attack works on the shared process...
    verdict = check_property(sandbox, program, "square", spec, SETTINGS)
    assert verdict.status == "failed" and not verdict.shrunk  # ...and changes nothing: the drawn examples, checked apart, fail it
    assert "not confirmed" not in verdict.message  # there was no claimed counterexample to reject


def test_a_forged_counterexample_does_not_fail_a_correct_program(sandbox):
    forger = GOOD + """
import gc
def _claim(*args, **kwargs):
    return {"outcome": "failed", "args": (7,), "error": "AssertionError", "notes": []}
for space in gc.get_objects():
    if isinstance(space, dict) and "run_combined" in space and "_explore" in space:
        space["run_combined"] = _claim
"""
    spec = one("```python" + GROWS + "```")
    assert run_combined(sandbox, forger, "square", spec, SETTINGS)["args"] == (7,)
    assert check_property(sandbox, forger, "square", spec, SETTINGS).passed


# ---------------------------------------------------------------- red team: hostile properties


def hostile(body: str, strategy: str = "st.tuples(st.integers(min_value=-5, max_value=5))") -> str:
    return "```python\nimport os, sys, json, struct\n\ndef strategy_h():\n    return %s\n\ndef property_h(args, output):\n%s\n```" % (strategy, body)


HOSTILE_PROPERTIES = {
    "fork bomb": "    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass",
    "infinite loop": "    while True:\n        try:\n            pass\n        except BaseException:\n            pass",
    "exits": "    sys.exit(0)",
}
FORGES_HOLDS = (
    "    for fd in map(int, os.listdir('/proc/self/fd')):\n"
    "        body = json.dumps({'status': 'ok', 'value': {'$dict': [['holds', True]]}}).encode()\n"
    "        for _ in range(40):\n"
    "            try:\n"
    "                os.write(fd, struct.pack('>I', len(body)) + body)\n"
    "            except OSError:\n"
    "                pass\n"
    "    os._exit(0)"
)


@pytest.mark.parametrize("name", list(HOSTILE_PROPERTIES))
def test_a_hostile_property_stays_in_the_sandbox_and_is_discarded(sandbox, name):
    reply = hostile(HOSTILE_PROPERTIES[name])
    pool, _ = build(sandbox, reply, settings=HOSTILE)
    assert kept(pool) == [] and reasons(pool)["h"].startswith("cannot run"), pool.discarded
    verdict = check_property(sandbox, WRONG_CORE, "square", one(reply), HOSTILE)
    assert not verdict.passed and verdict.status == "inconclusive", verdict
    assert only_zygotes_remain(sandbox)
    assert sandbox.run_calls(GOOD, [Call("square", (3,))]).replies[0].value == 9


KILLS_ITS_PARENT = "    for pid in (os.getppid(), 0, -1, 1, 2):\n        try:\n            os.kill(pid, 9)\n        except OSError:\n            pass"


@pytest.mark.parametrize("body", [FORGES_HOLDS, KILLS_ITS_PARENT], ids=["forges holds on the reply channel", "kills its parent"])
def test_a_property_that_forges_holds_or_kills_its_parent_is_vacuous(sandbox, body):
    # The predicate is the oracle: a forged "holds" is a property that holds for
    # everything, return None included, and the pool never keeps it. (Killing
    # the parent reaches nothing: the predicate is PID 1 of its own namespace,
    # and then returns None, i.e. holds.)
    pool, _ = build(sandbox, hostile(body), settings=HOSTILE)
    assert kept(pool) == []
    assert reasons(pool)["h"].startswith("vacuous: holds for a trivially wrong program")
    assert only_zygotes_remain(sandbox)


def test_a_hostile_strategy_stays_in_the_sandbox(sandbox):
    loop = "st.tuples(st.integers().map(lambda n: next(x for x in iter(int, 1) if x)))"
    pool, _ = build(sandbox, hostile("    return True", strategy=loop), settings=HOSTILE)
    assert reasons(pool)["h"].startswith("cannot run: strategy_h cannot draw examples: timeout")
    assert only_zygotes_remain(sandbox)


def test_a_property_cannot_read_the_hosts_files(sandbox, tmp_path):
    secret = tmp_path / "answers.txt"
    secret.write_text("the answers")
    repository = Path(__file__).resolve().parent.parent
    body = "    return open(%r).read() == 'the answers' or os.path.exists(%r)" % (str(secret), str(repository / "src"))
    pool, _ = build(sandbox, hostile(body))
    assert kept(pool) == []
    assert "FileNotFoundError" in reasons(pool)["h"]
    assert os.path.exists(secret)


def test_registers_itself_as_an_oracle():
    from assay.oracles import properties

    found = {}
    properties.register_oracles(register=lambda name, value, description="": found.setdefault(name, (value, description)))
    oracle, description = found["property"]
    assert isinstance(oracle, PropertyOracle) and oracle.kind is OracleKind.PROPERTY and "Hypothesis" in description
