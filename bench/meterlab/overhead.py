"""Measure what the lab meters cost on this machine: ``python bench/meterlab/overhead.py``.

Prints, for the Valgrind instruction meter (and the interpreter-events meter
where a Python >= 3.12 is found):

* per-process overhead: a one-shot measurement of an empty function
  (valgrind start-up, interpreter start-up under valgrind, harness);
* per-program and per-input overhead on a warm meter;
* the multiplier on the measured work: (wall time under the meter - the
  same for an empty call) / native time of the same call;
* the coefficient of variation of the count over repeated measurements, in
  one warm meter and across fresh processes;
* for contrast, the CV of native CPU time (``time.process_time``) of the same
  call.

Numbers depend on the machine and its load; the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for meterlab

from assay.measure.valgrind import find_valgrind  # noqa: E402
from meterlab.host_valgrind import ValgrindInstructionMeter, count_instructions  # noqa: E402
from meterlab.interpreter_events import count_interpreter_events_batch, find_monitoring_python  # noqa: E402
from meterlab.stats import coefficient_of_variation  # noqa: E402

WORK = """
def work(n):
    s = 0
    for i in range(n):
        s += i % 7
    return s

def empty(n):
    return n
"""


def _wall(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _children_cpu(fn: Callable[[], object]) -> float:
    """CPU seconds of the child processes ``fn`` started and waited for."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    fn()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its waited-for descendants (/proc stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def _cpu_of_job(meter: ValgrindInstructionMeter, *args: object, **kwargs: object) -> float:
    """CPU seconds the warm meter spent on one job (less sensitive to load than wall time)."""
    pid = meter._harness().pid
    before = _tree_cpu(pid)
    meter.measure(*args, **kwargs)  # type: ignore[arg-type]
    return _tree_cpu(pid) - before


def _native_seconds(n: int, python: str, repeats: int = 5) -> tuple[float, list[float]]:
    """Median wall time and CPU times of work(n) in a native interpreter."""
    code = WORK + f"""
import time, json
walls, cpus = [], []
for _ in range({repeats}):
    w, c = time.perf_counter(), time.process_time()
    work({n})
    cpus.append(time.process_time() - c)
    walls.append(time.perf_counter() - w)
print(json.dumps([walls, cpus]))
"""
    out = subprocess.run([python, "-S", "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "0", "PATH": "/usr/bin:/bin"})
    walls, cpus = json.loads(out.stdout)
    return statistics.median(walls), cpus


def measure_valgrind(n: int, repeats: int) -> dict[str, object]:
    report: dict[str, object] = {}
    startup = _wall(lambda: subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         os.path.realpath(sys.executable), "-S", "-c", "pass"],
        capture_output=True, check=True))
    report["whole_process_cachegrind_python_-S_-c_pass_s"] = round(startup, 3)
    report["whole_process_cachegrind_python_-S_-c_pass_cpu_s"] = round(_children_cpu(lambda: subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         os.path.realpath(sys.executable), "-S", "-c", "pass"],
        capture_output=True, check=True)), 3)
    report["one_shot_empty_call_s"] = round(_wall(lambda: count_instructions(WORK, "empty", "(1,)")), 3)
    report["one_shot_empty_call_cpu_s"] = round(_children_cpu(lambda: count_instructions(WORK, "empty", "(1,)")), 3)

    with ValgrindInstructionMeter() as meter:
        report["warm_meter_first_job_s"] = round(_wall(lambda: meter.measure(WORK, "empty", ["(1,)"])), 3)
        one = statistics.median(_wall(lambda: meter.measure(WORK, "empty", ["(1,)"])) for _ in range(3))
        eleven = statistics.median(_wall(lambda: meter.measure(WORK, "empty", ["(1,)"] * 11)) for _ in range(2))
        eleven_quick = statistics.median(
            _wall(lambda: meter.measure(WORK, "empty", ["(1,)"] * 11, verify=False)) for _ in range(2)
        )
        report["warm_meter_per_program_s"] = round(one, 3)
        report["warm_meter_per_input_s"] = round((eleven - one) / 10, 3)
        report["warm_meter_per_input_unverified_s"] = round((eleven_quick - one) / 10, 3)
        cpu_one = statistics.median(_cpu_of_job(meter, WORK, "empty", ["(1,)"]) for _ in range(3))
        cpu_eleven = statistics.median(_cpu_of_job(meter, WORK, "empty", ["(1,)"] * 11) for _ in range(2))
        cpu_eleven_quick = statistics.median(
            _cpu_of_job(meter, WORK, "empty", ["(1,)"] * 11, verify=False) for _ in range(2)
        )
        cpu_work = statistics.median(_cpu_of_job(meter, WORK, "work", [(n,)]) for _ in range(3))
        report["cpu_per_program_s"] = round(cpu_one, 3)
        report["cpu_per_input_s"] = round((cpu_eleven - cpu_one) / 10, 3)
        report["cpu_per_input_unverified_s"] = round((cpu_eleven_quick - cpu_one) / 10, 3)
        report["cpu_work_s"] = round(cpu_work - cpu_one, 3)

        counts = []
        walls = []
        for _ in range(repeats):
            start = time.perf_counter()
            (result,) = meter.measure(WORK, "work", [(n,)])
            walls.append(time.perf_counter() - start)
            counts.append(result.cost.value)
    fresh = [count_instructions(WORK, "work", (n,)).value for _ in range(2)]
    native, cpus = _native_seconds(n, os.path.realpath(sys.executable), repeats)
    work_under_meter = statistics.median(walls) - one
    report["cpu_multiplier"] = round(float(report["cpu_work_s"]) / statistics.median(cpus), 1)  # type: ignore[arg-type]
    report.update(
        n=n,
        instructions=counts[0],
        instructions_per_iteration=round(counts[0] / n, 1),
        native_work_s=round(native, 4),
        meter_work_s=round(work_under_meter, 3),
        multiplier=round(work_under_meter / native, 1),
        count_cv_warm=coefficient_of_variation(counts),
        count_repeats=repeats,
        fresh_processes_equal=fresh == [counts[0], counts[0]],
        native_cpu_time_cv=round(coefficient_of_variation(cpus), 4),
    )
    return report


def measure_events(n: int, repeats: int) -> dict[str, object] | None:
    python = find_monitoring_python()
    if python is None:
        return None
    one = _wall(lambda: count_interpreter_events_batch(WORK, "empty", ["(1,)"], python=python.executable))
    walls, counts = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        (result,) = count_interpreter_events_batch(WORK, "work", [(n,)], python=python.executable)
        walls.append(time.perf_counter() - start)
        counts.append(result.cost.value)
    native, _ = _native_seconds(n, python.executable)
    work = statistics.median(walls) - one
    return {
        "meter": python.meter,
        "per_process_s": round(one, 3),
        "n": n,
        "bytecodes": counts[0],
        "native_work_s": round(native, 4),
        "meter_work_s": round(work, 3),
        "multiplier": round(work / native, 1),
        "count_cv": coefficient_of_variation(counts),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="loop iterations of the measured call")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    report: dict[str, object] = {"load_average": os.getloadavg(), "cpus": os.cpu_count()}
    if find_valgrind():
        report["valgrind"] = measure_valgrind(args.n, args.repeats)
    report["interpreter_events"] = measure_events(args.n, min(args.repeats, 5))
    report["load_average_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
