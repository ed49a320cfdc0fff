"""What one instruction-meter measurement costs, and how that grows with input size.

    python bench/bench_meter_cost.py                 # sizes 10 .. 1e6, two functions
    python bench/bench_meter_cost.py --max-size 100000

For each function and input size, three numbers: the call's native CPU time
(the sandbox's CPU meter, lock-step, median of 3), the wall time of one
instruction-meter measurement of that call alone (a valgrind start in the
sandbox, the call counted by a fork pair, as ``assay eval --efficiency
--meter instructions`` does it), and the instruction count itself. Then the
same sizes measured together in one valgrind process, which is how assay
measures a problem's inputs, to separate the fixed start-up cost from the
per-input cost. (docs/benchmarks.md, section ``meter-cost``.)
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402

from assay.measure.valgrind import find_valgrind, instruction_counts  # noqa: E402
from assay.sandbox.calls import Call  # noqa: E402
from assay.sandbox.pool import Sandbox  # noqa: E402

SECTION = "meter-cost"
FUNCTIONS = {
    # name: (program, function, input builder, what it shows)
    "python loop": ("def f(n):\n    s = 0\n    for i in range(n):\n        s += i * i\n    return s\n", "f", lambda n: (n,), "work done by the interpreter"),
    "sorted": ("def f(a):\n    return sorted(a)[len(a) // 2]\n", "f", lambda n: ([(i * 7919) % (n + 1) for i in range(n)],), "work done in C"),
}


def native_cpu(sandbox: Sandbox, program: str, function: str, args: tuple, repeats: int = 3) -> float:
    values = []
    for _ in range(repeats):
        batch = sandbox.run_calls(program, [Call(function, args, cpu_seconds=60.0, wall_seconds=120.0)], mode="lockstep")
        load, replies = batch.load, batch.replies
        if load.status != "ok" or not replies or replies[0].status != "ok":
            raise RuntimeError("the bench program failed: %s" % (replies[0].message if replies else load.message))
        values.append(replies[0].measurement.cpu_ns / 1e9)
    return statistics.median(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-size", type=int, default=1_000_000)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args(argv)
    if not find_valgrind():
        print("valgrind is not installed: nothing to measure")
        return 1
    command = "python bench/bench_meter_cost.py" + ("" if not (argv or sys.argv[1:]) else " " + shlex.join(argv if argv is not None else sys.argv[1:]))
    sizes = [n for n in (10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000) if n <= args.max_size]
    python = os.path.realpath(sys.executable)
    info = {"date": report.today(), "git": report.git_revision(), "machine": report.machine(), "load": "%.2f %.2f %.2f" % report.load_average()}
    rows, batch_rows = [], []
    with Sandbox(workers=1) as sandbox:
        for name, (program, function, build, _) in FUNCTIONS.items():
            inputs = [build(n) for n in sizes]
            for n, call_args in zip(sizes, inputs):
                cpu = native_cpu(sandbox, program, function, call_args)
                started = time.monotonic()
                ((status, count),) = instruction_counts(sandbox, python, [(program, function, [call_args])], 600.0)[0]
                wall = time.monotonic() - started
                if status != "ok":
                    raise RuntimeError("%s n=%d: %s under valgrind" % (name, n, status))
                rows.append([name, "{:,}".format(n), "%.3f" % (cpu * 1e3), "{:,.0f}".format(count), "%.2f" % wall])
                print(rows[-1], flush=True)
            started = time.monotonic()
            together = instruction_counts(sandbox, python, [(program, function, inputs)], 600.0)[0]
            wall = time.monotonic() - started
            batch_rows.append([name, len(sizes), "%.2f" % wall, "%.2f" % sum(float(r[4]) for r in rows if r[0] == name)])
            singles = {r[1]: r[3] for r in rows if r[0] == name}
            same = all("{:,.0f}".format(value) == singles["{:,}".format(n)] for n, (_, value) in zip(sizes, together))
            batch_rows[-1].append("yes" if same else "**no**")
            print(batch_rows[-1], flush=True)
    fixed = [float(r[4]) for r in rows if r[1] == "10"]
    out = [
        "## What one instruction-meter measurement costs",
        "",
        *report.run_header(command, info),
        "",
        "One sample, one input, one sandbox worker: *native CPU* is the call's CPU time on the sandbox's CPU meter (lock-step batch, median of 3); "
        "*measure s* is the wall time of one instruction-meter measurement of that call alone (valgrind cachegrind without cache simulation, "
        "started in the sandbox; the call counted by a fork pair, so start-up, imports and loading never count); *instructions* is what it counted.",
        "",
        report.table(["function", "n", "native CPU ms", "instructions", "measure s"], rows),
        "",
        "The fixed cost is valgrind starting Python (about %.1f s here for the smallest input, where the call itself is nothing); above it, a measurement costs what the call "
        "costs natively times valgrind's slowdown. All of a problem's inputs share one valgrind process, so the fixed cost is paid once per sample, not per input:" % (min(fixed) if fixed else float("nan")),
        "",
        report.table(["function", "inputs", "all sizes in one process, s", "one process per size, s (sum)", "same counts"], batch_rows),
        "",
    ]
    text = "\n".join(out)
    print(text)
    if not args.no_doc:
        report.replace_section(SECTION, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
