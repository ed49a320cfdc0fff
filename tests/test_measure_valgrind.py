"""The instructions meter: valgrind in the sandbox counts only the call, exactly."""

from __future__ import annotations

import os

import pytest

from assay.measure import valgrind_driver
from assay.measure.harness_job import HARNESS_PATH, MEASURE_ENV, HarnessError
from assay.measure.meters import InstructionMeter, ReferenceUnavailable
from assay.measure.valgrind import CACHEGRIND_OPTIONS, DRIVER_PATH, find_valgrind, read_summaries, valgrind_command
from assay.sandbox.calls import Call
from assay.sandbox.pool import Sandbox

needs_valgrind = pytest.mark.skipif(find_valgrind() is None, reason="valgrind is not installed")

LOOP = """
def f(n):
    # constant work per iteration: no small-int cache, no multi-digit ints
    s = 0
    for i in range(1000, 1000 + n):
        s += i
    return s

def empty(n):
    return None

def no_alloc(n):
    from itertools import repeat
    s = 0
    for _ in repeat(None, n):
        s ^= 1
    return s

def string_set(words):
    seen = set(words)
    return [w for w in seen]

def boom(n):
    raise ValueError("boom %d" % n)

def spin(n):
    while True:
        try:
            pass
        except BaseException:
            pass

def leave(n):
    import os
    os._exit(0)
"""

RANDOMIZED = """
def probably_prime(n):
    import random  # inside the call, as ENAMEL's HumanEval/39 reference does
    if n < 4:
        return n in (2, 3)
    for _ in range(20):
        a = random.randrange(2, n - 1)
        if pow(a, n - 1, n) != 1:
            return False
    return True

def count(limit):
    return sum(probably_prime(k) for k in range(2, limit))
"""


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


@pytest.fixture(scope="module")
def meter():
    if find_valgrind() is None:
        pytest.skip("valgrind is not installed")
    return InstructionMeter()


def _values(costs):
    assert all(c.ok for c in costs), costs
    return [c.value for c in costs]


# ------------------------------------------------------ command, logs, scripts


def test_valgrind_command_is_cachegrind_without_cache_simulation(tmp_path):
    cmd = valgrind_command(tmp_path, python="/usr/bin/python3")
    assert cmd[0] == "valgrind"
    for option in CACHEGRIND_OPTIONS:
        assert option in cmd
    assert "--cache-sim=no" in cmd
    assert f"--log-file={tmp_path}/vg.%p.log" in cmd
    tail = cmd[cmd.index("/usr/bin/python3") :]
    assert tail == ["/usr/bin/python3", "-S", str(HARNESS_PATH), "valgrind-pair"]
    # -E and -I would make Python ignore PYTHONHASHSEED
    assert "-E" not in cmd and "-I" not in cmd
    assert MEASURE_ENV["PYTHONHASHSEED"] == "0"


def test_read_summaries_rejects_forged_logs(tmp_path):
    (tmp_path / "vg.41.log").write_text("==41== Cachegrind\n==41== I   refs:      1,234\n")
    (tmp_path / "vg.42.log").write_text("==42== killed, no summary\n")
    assert read_summaries(tmp_path) == {41: 1234}
    (tmp_path / "vg.43.log").write_text("==43== I   refs:      5\n==43== I   refs:      9\n")
    with pytest.raises(HarnessError):
        read_summaries(tmp_path)
    (tmp_path / "vg.43.log").write_text("==44== I   refs:      5\n")
    with pytest.raises(HarnessError):
        read_summaries(tmp_path)


def test_harness_and_driver_are_standalone_scripts():
    # both run with -S in the sandbox: stdlib imports only
    for path in (HARNESS_PATH, DRIVER_PATH):
        text = path.read_text()
        assert "import assay" not in text and "from assay" not in text
        assert os.access(path, os.R_OK)
    # the driver builds the measured environment from scratch: the same one
    assert valgrind_driver.ENV == MEASURE_ENV


def test_keyword_arguments_are_refused_not_miscounted(sandbox, meter):
    with pytest.raises(ReferenceUnavailable, match="keyword"):
        meter.call_costs(sandbox, LOOP, [Call("f", (), {"n": 3})], 30.0)
    assert meter.call_costs(sandbox, LOOP, [], 30.0) == []  # nothing to count: no valgrind start


# ------------------------------------------------------ counting the call


@needs_valgrind
def test_empty_call_costs_zero_and_work_is_linear(sandbox, meter):
    c0, c1, c2, c4, empty = _values(meter.call_costs(sandbox, LOOP, [Call("f", (n,)) for n in (0, 1000, 2000, 4000)] + [Call("empty", (5,))], 60.0))
    assert c0 < 2000  # a call that does nothing beyond set-up and return
    per_1000 = c2 - c1
    assert per_1000 > 100_000
    assert c1 - c0 == pytest.approx(per_1000, rel=0.01)
    assert c4 - c2 == pytest.approx(2 * per_1000, rel=0.01)
    # the regions' own cost is calibrated on an empty function in a program of its own: a few
    # instructions of interpreter state apart from this program's, never more
    assert empty < 100


@needs_valgrind
def test_program_loading_and_startup_are_not_counted(sandbox, meter):
    heavy_module = "import json, decimal, fractions\nTABLE = [i * i for i in range(200000)]\n" + LOOP
    calls = [Call("f", (3000,)), Call("no_alloc", (3000,))]
    light, light_no_alloc = _values(meter.call_costs(sandbox, LOOP, calls, 60.0))
    heavy, heavy_no_alloc = _values(meter.call_costs(sandbox, heavy_module, calls, 60.0))
    # loading the heavy module costs ~10^8 instructions; the call itself may
    # differ a little because pymalloc's pools are in another state (f
    # allocates an int per iteration), never by anything like the loading
    assert abs(heavy - light) < 0.1 * light
    # a call that allocates nothing still sees a different interpreter state
    # (dict layouts, paths): a few hundred instructions of ~670,000, not 10^8
    assert abs(heavy_no_alloc - light_no_alloc) < 0.001 * light_no_alloc


@needs_valgrind
def test_counts_are_identical_run_to_run(sandbox, meter):
    words = ["w%d" % i for i in range(300)]
    calls = [Call("f", (5000,)), Call("string_set", (words,))]
    first, second = (_values(meter.call_costs(sandbox, LOOP, calls, 60.0)) for _ in range(2))
    assert first == second  # the set's order needs PYTHONHASHSEED=0
    # random reseeds from os.urandom after every fork; the harness fixes its state per call
    randomized = {tuple(_values(meter.call_costs(sandbox, RANDOMIZED, [Call("count", (400,))], 60.0))) for _ in range(2)}
    assert len(randomized) == 1, randomized


@needs_valgrind
def test_failures_are_reported_not_counted_each_in_its_place(sandbox, meter):
    calls = [Call("f", (10,)), Call("boom", (1,)), Call("spin", (1,)), Call("leave", (1,)), Call("f", (20,))]
    costs = meter.call_costs(sandbox, LOOP, calls, 3.0)
    assert [c.status for c in costs] == ["ok", "error", "timeout", "crash", "ok"]
    assert [c.value is None for c in costs] == [False, True, True, True, False]
    assert costs[4].value > costs[0].value
    not_loading = meter.call_costs(sandbox, "def f(:\n", [Call("f", (1,)), Call("f", (2,))], 30.0)
    assert [c.status for c in not_loading] == ["error", "error"]
