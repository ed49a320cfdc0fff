"""The Ray scale-out bench: ``assay eval``'s judging on a Ray cluster with 1 and 2 nodes, against the local pool.

    python bench/bench_ray.py [--quick] [--rounds 3] [--no-docs]

Samples: bench/data/humaneval_mixed.jsonl (the 164 HumanEval canonical
solutions and near-miss mutants of them), judged with ``evaluate`` as
``assay eval`` does, each run into a fresh store (nothing reused).

The cluster is real but lives on this machine: a head and a second node, each
a ``ray start --block`` process given **one CPU** (``assay.scale.LocalCluster``,
token authentication as the installed Ray has it); this bench is the Ray
driver. Paths, each with one sandbox worker per CPU it is given:

1. **local, 1 worker** / **local, 2 workers**: ``Sandbox(workers=w)`` in
   this process (what ``assay eval`` does without ``--ray``);
2. **Ray, 1 node**: ``RayJudge(actors=1, workers=1)``: one actor, on one of
   the two nodes (the other idles);
3. **Ray, 2 nodes**: ``RayJudge()``: one actor per node, one worker each.

So "2 nodes against 1" is the scale-out (the machine has 2 cores, one per
node), and "Ray against local at the same workers" is what going through
Ray costs. Each round starts every path afresh (a judge's actors or a
sandbox, then a run that calibrates each problem's time limits on them, as
a new run does) and times the run alone; start-up is reported apart. Paths
run interleaved, ``--rounds`` times, order rotated; the median is reported,
and every path's verdicts are checked to be the same.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

SECTION = "ray"
MIXED = BENCH_DIR / "data" / "humaneval_mixed.jsonl"
PATHS = ("local, 1 worker", "local, 2 workers", "Ray, 1 node", "Ray, 2 nodes")


def samples_file(quick: bool, directory: Path) -> tuple[Path, int]:
    lines = MIXED.read_text(encoding="utf-8").splitlines()
    if quick:
        lines = lines[:120]
    path = directory / "samples.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, len(lines)


def one_run(path: str, address: str, samples: Path, workdir: Path, tag: str) -> tuple[float, float, list[tuple]]:
    """(start-up seconds, run seconds, verdicts) of one path's fresh run."""
    from assay.evaluate import EvalConfig, evaluate
    from assay.sandbox.pool import Sandbox
    from assay.scale import RayJudge
    from assay.store import Store

    began = time.perf_counter()
    sandbox = judge = None
    if path.startswith("local"):
        sandbox = Sandbox(workers=1 if "1 worker" in path else 2)
    elif path == "Ray, 1 node":
        judge = RayJudge(address, actors=1, workers=1)
    else:
        judge = RayJudge(address, workers=1)
    started = time.perf_counter() - began
    store = Store(workdir / ("%s.sqlite" % tag))
    try:
        began = time.perf_counter()
        report = evaluate("humaneval", samples, config=EvalConfig(ks=(1,)), store=store, sandbox=sandbox, judge=judge)
        elapsed = time.perf_counter() - began
    finally:
        store.close()
        if sandbox is not None:
            sandbox.close()
        if judge is not None:
            nodes = len(judge.nodes)
            judge.close()
            assert nodes == (1 if path == "Ray, 1 node" else 2), "%s ran on %d nodes" % (path, nodes)
    verdicts = [(o.task_id, o.index, o.passed, o.status.value) for o in sorted(report.outcomes, key=lambda o: o.position)]
    return started, elapsed, verdicts


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description="assay eval's judging on a Ray cluster with 1 and 2 nodes, against the local pool.")
    parser.add_argument("--quick", action="store_true", help="the first 120 samples instead of all")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; paths interleaved, order rotated, median reported (default 3)")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(argv)
    command = "python bench/bench_ray.py" + (" " + shlex.join(argv) if argv else "")
    if os.environ.get("RAY_AUTH_MODE") != "token" and "ray" not in sys.modules:
        os.environ.update({"RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"})  # read when Ray is imported
    elif os.environ.get("RAY_AUTH_MODE") != "token":  # Ray was imported without token auth (another bench, run_all): a process of its own
        env = dict(os.environ, RAY_AUTH_MODE="token", RAY_USAGE_STATS_ENABLED="0")
        return subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv], env=env).returncode
    try:
        import ray
    except ImportError:
        print("ray bench: Ray is not installed (pip install 'assay[ray]'); skipped")
        return 0
    from assay.scale import LocalCluster

    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="assay-bench-ray-"))
    samples, n = samples_file(args.quick, workdir)
    print(f"ray bench: {n} samples, {os.cpu_count()} cores, load {' '.join('%.2f' % x for x in load_before)}", flush=True)
    began = time.perf_counter()
    cluster = LocalCluster(nodes=2, cpus_per_node=1).start()
    cluster_seconds = time.perf_counter() - began
    runs: dict[str, list[tuple[float, float]]] = {p: [] for p in PATHS}
    verdicts: dict[str, list[tuple]] = {}
    try:
        began = time.perf_counter()
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        connect_seconds = time.perf_counter() - began
        print(f"  cluster of 2 one-CPU nodes up in {cluster_seconds:.1f}s; the driver joined in {connect_seconds:.1f}s", flush=True)
        for r in range(args.rounds):
            order = PATHS[r % len(PATHS) :] + PATHS[: r % len(PATHS)]
            for path in order:
                started, elapsed, got = one_run(path, cluster.address, samples, workdir, "%d-%d" % (r, PATHS.index(path)))
                runs[path].append((started, elapsed))
                verdicts.setdefault(path, got)
                assert got == verdicts[path], "%s: verdicts differ from round to round" % path
                print(f"  round {r + 1} {path:18s} start-up {started:5.2f}s, run {elapsed:6.2f}s, {n / elapsed:6.1f} samples/s", flush=True)
    finally:
        try:
            ray.shutdown()
        finally:
            cluster.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    load_after = os.getloadavg()
    reference = verdicts[PATHS[0]]
    agree = {p: sum(a == b for a, b in zip(verdicts[p], reference)) for p in PATHS}
    rate = {p: n / statistics.median(e for _, e in runs[p]) for p in PATHS}
    startup = {p: statistics.median(s for s, _ in runs[p]) for p in PATHS}
    passed = sum(v[2] for v in reference)
    print("  median samples/s: " + ", ".join("%s %.1f" % (p, rate[p]) for p in PATHS))
    print(f"  2 nodes / 1 node: {rate['Ray, 2 nodes'] / rate['Ray, 1 node']:.2f}x; local 2 workers / 1 worker: {rate['local, 2 workers'] / rate['local, 1 worker']:.2f}x; "
          f"Ray 2 nodes / local 2 workers: {rate['Ray, 2 nodes'] / rate['local, 2 workers']:.2f}x")  # fmt: skip
    print("  verdicts equal to the local 1-worker run: " + ", ".join("%s %d/%d" % (p, agree[p], n) for p in PATHS))
    if not args.no_docs:
        import report

        rows = [[p, "%.1f" % rate[p], "%.2f" % startup[p], " / ".join("%.1f" % (n / e) for _, e in runs[p]), "%d/%d" % (agree[p], n)] for p in PATHS]
        lines = [
            f"Run: `{command}` on {report.today()}, revision {report.git_revision()}.",
            f"Machine: {report.machine()}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after (other jobs shared this machine: numbers are lower bounds).",
            "",
            f"{n} HumanEval samples from bench/data/humaneval_mixed.jsonl ({passed} pass), judged by `evaluate` as `assay eval` does, "
            "each run into a fresh store. The Ray cluster is two `ray start` node processes on this machine, **one CPU each** "
            f"(`assay.scale.LocalCluster`; up in {cluster_seconds:.1f} s, the driver joined in {connect_seconds:.1f} s); "
            "every path has one sandbox worker per CPU it is given. *Ray, 1 node*: one actor on one node (the other idle); "
            "*Ray, 2 nodes*: `RayJudge()`, one actor per node, as `assay eval --ray` runs. Start-up: a judge's actors up "
            "(or a local sandbox's workers), before the run; each run then calibrates every problem's time limit on its own "
            f"workers, as a new run does. Median of {args.rounds} rounds, paths interleaved, order rotated.",
            "",
            report.table(["path", "samples/s", "start-up s", "each round, samples/s", "verdicts as local"], rows),
            "",
            f"- 2 nodes against 1: **{rate['Ray, 2 nodes'] / rate['Ray, 1 node']:.2f}x** (the local pool, 2 workers against 1: {rate['local, 2 workers'] / rate['local, 1 worker']:.2f}x).",
            f"- Ray against the local pool at the same workers: {rate['Ray, 1 node'] / rate['local, 1 worker']:.2f}x with one, "
            f"{rate['Ray, 2 nodes'] / rate['local, 2 workers']:.2f}x with two: the price of the chunks' round trips and of each "
            "actor calibrating the problems it sees, no larger than the spread between rounds on this busy machine.",
            "- Both nodes share this machine's two cores with the driver, the Ray daemons and other jobs: on a real cluster "
            "each node brings its own cores, and the driver's share (storing results) is the same.",
            "- That a lost node loses nothing is a test, not a figure: `tests/test_ray_cluster.py` SIGKILLs the second node "
            "mid-run and gets the local run's verdicts, with no infrastructure error "
            "(`.venv/bin/python -m pytest tests/test_ray_cluster.py -q`, marked `cluster`).",
        ]
        report.replace_section(SECTION, "\n".join(lines))
        print(f"wrote the '{SECTION}' section of {report.DOC}")
    return 0 if all(agree[p] == n for p in PATHS) else 1


if __name__ == "__main__":
    sys.exit(main())
