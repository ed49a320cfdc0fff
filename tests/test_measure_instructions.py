"""The instruction meter: counts only the call, exactly, under Valgrind."""

from __future__ import annotations

import os
import pickle
import sys

import pytest

from assay.measure.call_harness import result_digest
from assay.measure.cost import VALGRIND_INSTRUCTIONS, Cost, MeterMismatch
from assay.measure.harness_client import HARNESS_PATH, MEASURE_ENV, HarnessError
from assay.measure.instructions import (
    CACHEGRIND_OPTIONS,
    MeasurementFailed,
    ValgrindInstructionMeter,
    count_instructions,
    find_valgrind,
    probe_perf,
    read_summaries,
    select_backend,
    valgrind_command,
)
from assay.measure.stats import coefficient_of_variation

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

def quadratic(xs):
    out = []
    for x in xs:
        if x not in out:
            out.append(x)
    return len(out)

def linear(xs):
    return len(set(xs))

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

def sly(n):
    # a reward hack: do the real work natively, skip it when being measured
    with open("/proc/self/maps") as maps:
        if "vgpreload" in maps.read():
            return 0
    return f(n)
"""


@pytest.fixture(scope="module")
def meter():
    if find_valgrind() is None:
        pytest.skip("valgrind is not installed")
    with ValgrindInstructionMeter() as m:
        yield m


def _counts(meter, fn, inputs, source=LOOP, **kw):
    results = meter.measure(source, fn, inputs, **kw)
    return results


# ------------------------------------------------------ command and probe


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


def test_perf_probe_explains_itself_and_backend_falls_back():
    probe = probe_perf()
    assert isinstance(probe.reason, str) and probe.reason
    if not probe.available:
        assert "perf_event_open" in probe.reason
        if find_valgrind():
            assert select_backend() == "valgrind"
    else:
        assert select_backend() == "perf"


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


# ------------------------------------------------------ counting the call


@needs_valgrind
def test_empty_call_costs_zero_and_work_is_linear(meter):
    results = _counts(meter, "f", ["(0,)", "(1000,)", "(2000,)", "(4000,)"])
    assert all(r.ok for r in results)
    c0, c1, c2, c4 = (r.cost.value for r in results)
    assert c0 < 2000  # a call that does nothing beyond set-up and return
    per_1000 = c2 - c1
    assert per_1000 > 100_000
    assert c1 - c0 == pytest.approx(per_1000, rel=0.01)
    assert c4 - c2 == pytest.approx(2 * per_1000, rel=0.01)
    (empty,) = _counts(meter, "empty", ["(5,)"])
    assert empty.cost.value == 0.0
    assert results[0].cost.meter == f"{VALGRIND_INSTRUCTIONS}/{sys.version_info[0]}.{sys.version_info[1]}"
    assert results[0].cost.unit == "instructions"


@needs_valgrind
def test_program_loading_and_startup_are_not_counted(meter):
    heavy_module = "import json, decimal, fractions\nTABLE = [i * i for i in range(200000)]\n" + LOOP
    (light,) = _counts(meter, "f", ["(3000,)"])
    (heavy,) = _counts(meter, "f", ["(3000,)"], source=heavy_module)
    (heavy_again,) = _counts(meter, "f", ["(3000,)"], source=heavy_module)
    assert heavy.cost.value == heavy_again.cost.value
    # loading the heavy module costs ~10^8 instructions; the call itself may
    # differ a little because pymalloc's pools are in another state (f
    # allocates an int per iteration), never by anything like the loading
    assert abs(heavy.cost.value - light.cost.value) < 0.1 * light.cost.value
    (no_alloc_light,) = _counts(meter, "no_alloc", ["(3000,)"])
    (no_alloc_heavy,) = _counts(meter, "no_alloc", ["(3000,)"], source=heavy_module)
    # a call that allocates nothing still sees a different interpreter state
    # (dict layouts, paths): a few hundred instructions of ~670,000, not 10^8
    assert abs(no_alloc_heavy.cost.value - no_alloc_light.cost.value) < 0.001 * no_alloc_light.cost.value


@needs_valgrind
def test_malloc_allocator_makes_counts_independent_of_module_state():
    heavy_module = "import json, decimal, fractions\nTABLE = [i * i for i in range(200000)]\n" + LOOP
    with ValgrindInstructionMeter(allocator="malloc") as plain_malloc:
        (light,) = plain_malloc.measure(LOOP, "f", ["(3000,)"])
        (heavy,) = plain_malloc.measure(heavy_module, "f", ["(3000,)"])
    assert abs(heavy.cost.value - light.cost.value) < 0.005 * light.cost.value
    assert light.cost.meter.endswith("+malloc")


@needs_valgrind
def test_counts_are_identical_across_repeats_and_processes(meter):
    inputs = ["(5000,)", repr((["w%d" % i for i in range(300)],))]
    warm = [[r.cost.value for r in _counts(meter, fn, [arg])] for _ in range(3) for fn, arg in
            (("f", inputs[0]), ("string_set", inputs[1]))]
    fresh = [count_instructions(LOOP, "f", inputs[0], backend="valgrind").value]
    fresh.append(count_instructions(LOOP, "string_set", inputs[1], backend="valgrind").value)
    f_counts = [w[0] for w in warm[0::2]] + [fresh[0]]
    set_counts = [w[0] for w in warm[1::2]] + [fresh[1]]
    assert len(set(f_counts)) == 1, f_counts
    assert len(set(set_counts)) == 1, set_counts  # needs PYTHONHASHSEED=0
    assert coefficient_of_variation(f_counts) == 0.0


@needs_valgrind
def test_payload_encodings_give_the_same_count(meter):
    arg = (list(range(500, 0, -1)),)
    results = _counts(meter, "quadratic", [repr(arg), pickle.dumps(arg, protocol=4), arg])
    assert len({r.cost.value for r in results}) == 1


@needs_valgrind
def test_slow_and_fast_algorithms_are_ordered_and_digests_match(meter):
    data = ([i % 400 for i in range(2000)],)
    slow, fast = (_counts(meter, fn, [data])[0] for fn in ("quadratic", "linear"))
    assert slow.cost.value > 20 * fast.cost.value
    assert slow.digest == fast.digest == result_digest(400)
    assert slow.cost > fast.cost
    with pytest.raises(MeterMismatch):
        slow.cost < Cost(1.0, "s", "cpu-time")


@needs_valgrind
def test_code_that_behaves_differently_under_the_meter_is_caught_by_its_digest(meter):
    (honest,) = _counts(meter, "f", ["(2000,)"])
    (sly,) = _counts(meter, "sly", ["(2000,)"])
    assert sly.cost.value < honest.cost.value  # the hack would pay off...
    native_answer = sum(range(1000, 3000))
    assert honest.digest == result_digest(native_answer)
    assert sly.digest != result_digest(native_answer)  # ...but it is visible


@needs_valgrind
def test_unverified_mode_counts_the_same_without_digests(meter):
    verified = _counts(meter, "f", ["(2000,)", "(3,)"])
    quick = _counts(meter, "f", ["(2000,)", "(3,)"], verify=False)
    # the two modes leave the call differently (fork a reporter or write a
    # line): the same counts to within a handful of instructions
    for q, v in zip(quick, verified):
        assert abs(q.cost.value - v.cost.value) <= 50
    assert all(r.digest is None for r in quick)
    (err,) = _counts(meter, "boom", ["(4,)"], verify=False)
    assert err.status == "error" and "boom 4" in err.error


@needs_valgrind
def test_failures_are_reported_not_counted(meter):
    err, timeout, gone = (
        _counts(meter, fn, ["(1,)"], timeout=t)[0] for fn, t in (("boom", 30), ("spin", 2), ("leave", 30))
    )
    assert err.status == "error" and "ValueError: boom 1" in err.error and err.cost is None
    assert timeout.status == "timeout" and timeout.cost is None
    assert gone.status == "crash" and gone.cost is None
    # the meter survives and keeps counting exactly
    (after,) = _counts(meter, "f", ["(0,)"])
    assert after.ok


@needs_valgrind
def test_budget_and_load_errors(meter):
    small, big = _counts(meter, "f", ["(10,)", "(10000,)"], budget=1_000_000)
    assert small.status == "ok" and big.status == "over_budget" and big.cost.value > 1_000_000
    with pytest.raises(MeasurementFailed):
        meter.measure("def f(:\n", "f", ["(1,)"])
    with pytest.raises(MeasurementFailed):
        meter.measure(LOOP, "missing", ["(1,)"])


@needs_valgrind
def test_one_shot_api_returns_a_cost():
    cost = count_instructions(LOOP, "f", "(100,)", timeout=60, backend="valgrind")
    assert isinstance(cost, Cost) and cost.value > 0 and cost.spread == 0.0
    with pytest.raises(MeasurementFailed) as info:
        count_instructions(LOOP, "boom", "(2,)", backend="valgrind")
    assert info.value.status == "error"


def test_harness_file_is_standalone():
    # the harness runs with -S under other interpreters: stdlib imports only
    text = HARNESS_PATH.read_text()
    assert "import assay" not in text and "from assay" not in text
    assert os.access(HARNESS_PATH, os.R_OK)


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


@needs_valgrind
def test_randomized_code_counts_the_same_every_time():
    # random reseeds from os.urandom after every fork; the harness fixes its state per call
    counts = {count_instructions(RANDOMIZED, "count", "(400,)", backend="valgrind").value for _ in range(2)}
    assert len(counts) == 1, counts
