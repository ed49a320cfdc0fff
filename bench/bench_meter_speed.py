"""The deterministic efficiency reward at RL speed: warm counting servers against valgrind started per measurement.

    python bench/bench_meter_speed.py [--n 40] [--per-start 6]

N HumanEval canonical solutions (problems whose tests are all calls) are
scored with ``RewardSpec(kind="efficiency")`` on the ``instructions`` meter
through ``RewardScorer.score_batch``, as an RL trainer calls it, with the disk
count cache off so that every count is made:

* **cold**: no counting server running: valgrind's start-up and warm-up of
  each server, and every reference's count, are in the time;
* **warm**: the same scorer again: servers warm, references cached in memory
  as they are across training steps, every candidate counted again;
* **under load**: once more with two CPU burners on the machine.

The rewards must be identical in all three. Side by side, in the same run,
the engine assay had before (cachegrind started for every measurement, a
fork pair per input) scores the first M of the same items. Writes the
``meter-speed`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402
from bench_core import CpuMeter  # noqa: E402

from assay.measure.counting import close_shared_pools, supported  # noqa: E402
from assay.measure.meters import InstructionMeter, register_meter  # noqa: E402
from assay.plugins import METERS  # noqa: E402
from assay.problems import CallTest, load_benchmark  # noqa: E402
from assay.reward import RewardItem, RewardScorer, RewardSpec  # noqa: E402
from assay.sandbox.pool import Sandbox  # noqa: E402

FRESH = "instructions-uncached"
PER_START = "instructions-per-start"


class PerStartInstructionMeter(InstructionMeter):
    """The engine before counting servers: valgrind started for every measurement, a fork pair per input."""

    def total_cost(self, sandbox, program, calls, timeout_seconds):  # type: ignore[override]
        costs = self._call_costs_per_start(sandbox, program, calls, self._groups(calls), timeout_seconds)
        return sum(c.value for c in costs if c.value is not None) if all(c.ok for c in costs) else None


def _register() -> None:
    if FRESH not in METERS:
        register_meter(FRESH, lambda: InstructionMeter(cache=False))
    if PER_START not in METERS:
        register_meter(PER_START, lambda: PerStartInstructionMeter(cache=False))


def _burn(seconds: float) -> None:
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        x += 1


def score(scorer: RewardScorer, items: list[RewardItem], meter: str) -> tuple[float, list]:
    started = time.perf_counter()
    rewards = scorer.score_batch(items, RewardSpec(kind="efficiency", meter=meter))
    return time.perf_counter() - started, [r.value for r in rewards]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="canonical solutions to score (default 40)")
    parser.add_argument("--per-start", type=int, default=6, help="of them, scored by the per-start engine too (default 6)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warm-rounds", type=int, default=5, help="warm rounds (the median is reported; each is listed)")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    ok, why = supported()
    if not ok:
        print("counting servers are not available here: %s" % why)
        return 0
    _register()
    problems = [p for p in load_benchmark("humaneval") if p.reference and all(isinstance(t, CallTest) for t in p.tests)]
    chosen = problems[:: max(1, len(problems) // args.n)][: args.n]
    items = [RewardItem(p, solution=p.reference) for p in chosen]
    load_before = report.load_average()
    close_shared_pools()
    rows = []
    meter = CpuMeter()  # every process of the run: this one, the counting servers, the sandbox workers
    with Sandbox(workers=args.workers) as sandbox:
        scorer = RewardScorer(sandbox)
        cold_s, cold = score(scorer, items, FRESH)
        cpu_before = meter.seconds()
        rounds = [score(scorer, items, FRESH) for _ in range(max(1, args.warm_rounds))]
        warm_cpu = (meter.seconds() - cpu_before) / (len(rounds) * len(items))
        warm_s, warm = statistics.median(s for s, _ in rounds), rounds[0][1]
        burners = [multiprocessing.Process(target=_burn, args=(warm_s * 3 + 30,)) for _ in range(2)]
        for b in burners:
            b.start()
        try:
            loaded_s, loaded = score(scorer, items, FRESH)
        finally:
            for b in burners:
                b.terminate()
        scorer.close()
        old_items = items[: args.per_start]
        old_cold_s = old_warm_s = None
        if old_items:  # --per-start 0: the counting servers alone
            old_scorer = RewardScorer(sandbox)
            old_cold_s, _ = score(old_scorer, old_items, PER_START)
            old_warm_s, _ = score(old_scorer, old_items, PER_START)
            old_scorer.close()
    close_shared_pools()
    meter_name = meter.name
    meter.close()
    n, m = len(items), len(old_items)
    cores = os.cpu_count() or 1
    scored = sum(v is not None for v in warm)
    identical = cold == warm == loaded and all(values == warm for _, values in rounds)
    each_round = " / ".join("%.1f" % (n / s) for s, _ in rounds)
    rows = [
        ["counting servers (cold: start-up, references)", n, "%.1f" % cold_s, "%.2f" % (n / cold_s)],
        ["counting servers (warm, median of %d rounds: %s)" % (len(rounds), each_round), n, "%.1f" % warm_s, "%.2f" % (n / warm_s)],
        ["counting servers (warm, 2 CPU burners running)", n, "%.1f" % loaded_s, "%.2f" % (n / loaded_s)],
    ]
    ratio = None
    if old_cold_s is not None and old_warm_s is not None:
        rows += [
            ["valgrind per measurement (cold)", m, "%.1f" % old_cold_s, "%.2f" % (m / old_cold_s)],
            ["valgrind per measurement (warm: references cached)", m, "%.1f" % old_warm_s, "%.2f" % (m / old_warm_s)],
        ]
        ratio = (n / warm_s) / (m / old_warm_s)
    against = "" if ratio is None else "warm ratio %.1fx; " % ratio
    print(report.table(["engine", "rewards", "seconds", "rewards/s"], rows))
    cpu_line = "CPU per warm reward, every process of the run (%s): %.1f ms, so %d cores allow %.1f rewards/s when nothing else runs" % (meter_name, warm_cpu * 1000, cores, cores / warm_cpu)
    print(cpu_line)
    print("%sidentical rewards cold, warm and under load: %s; scored %d/%d" % (against, identical, scored, n))
    if not args.no_docs:
        command = "python bench/bench_meter_speed.py" + ("" if not (argv or sys.argv[1:]) else " " + shlex.join(argv if argv is not None else sys.argv[1:]))
        body = "\n".join([
            "## The deterministic efficiency reward at RL speed",
            "",
            "Command: `%s`  " % command,
            "Date: %s, revision %s  " % (report.today(), report.git_revision()),
            "Machine: %s; %d sandbox workers; load average %.2f before, %.2f after (other jobs shared the machine: rates are lower bounds)." % (report.machine(), args.workers, load_before[0], report.load_average()[0]),
            "",
            "HumanEval canonical solutions of problems whose tests are all calls, scored as `RewardSpec(kind=\"efficiency\")` on the `instructions` meter through `RewardScorer.score_batch`, with the disk count cache off so that every count is made. *Cold*: no counting server running (valgrind's start-up and warm-up, and each reference's count, are in the time). *Warm*: the same scorer again, references cached in memory as across training steps, every candidate counted again, in several rounds (the median is the figure; each round's rate is listed). The per-measurement engine is the one assay had before (cachegrind started for every measurement, a fork pair per input), %s." % ("on the first %d items in the same run" % m if m else "not run this time (`--per-start 0`)"),
            "",
            report.table(["engine", "rewards", "seconds", "rewards/s"], rows),
            "",
            cpu_line + ": the load-robust counterpart of the warm rate, which other jobs on this machine lower.",
            "",
            ("" if ratio is None else "Warm counting servers score **%.1fx** the rewards per second of valgrind per measurement. " % ratio)
            + "Rewards identical cold, in every warm round and under load: **%s** (%d of %d scored)." % ("yes" if identical else "NO", scored, n),
        ])  # fmt: skip
        report.replace_section("meter-speed", body)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
