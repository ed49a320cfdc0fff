"""Instruction counts from warm counting servers: the ``instructions`` meter's engine.

A :class:`CountingServer` is one long-lived process running
``counting_server.py`` under ``valgrind --tool=callgrind``, in the sandbox's
isolation (bubblewrap: no network, read-only host, private /tmp). It pays
valgrind's start-up and a warm-up once, then forks a child per job that
counts each call inside a collection region (see the server's docstring for
how, and for what a measured program may not do). Counts come back as
callgrind dumps on valgrind's own log pipe, which the measured process cannot
write; each dump carries a nonce the host chose for the job, and a job with a
missing, extra or repeated dump has no count.

What a count is: the instructions of the call alone, minus the fixed cost of
the regions' own requests (measured on an empty function of the same arity,
for the same number of calls, once per server and cached). The same program,
function and inputs give the same count on any server of the same valgrind,
Python and server source, cold or warm, loaded or not, whatever ran before.

:class:`CountingPool` keeps several servers (one job each at a time);
:func:`shared_pool` keeps pools warm for the life of the process, so rewards
after the first pay no start-up. :class:`CountCache` keeps counts on disk,
keyed by everything that can change one.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import marshal
import os
import pickle
import platform
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from assay.disk_cache import DiskCache
from assay.measure import result_form
from assay.measure.meters import NOT_RUN, OVER_BUDGET, first_over_budget
from assay.sandbox.worker import InfraError, spawn

SERVER_PATH = Path(__file__).with_name("counting_server.py")
FORM_PATH = Path(__file__).with_name("result_form.py")  # the server imports it from its own directory
SERVER_INSIDE = "/opt/assay-counter/counting_server.py"
VALGRIND_OPTIONS = (
    "--tool=callgrind",
    "--collect-atstart=no",
    "--vgdb=no",
    "--combine-dumps=yes",
    "--dump-line=no",
    "--dump-instr=no",
    "--dump-every-bb=%d" % 20_000_000,  # a partial dump every ~0.1-0.2 G instructions: budgets are checked while a call runs
    # the same counts, less to walk and write at each dump: a recursive function's blocks are not kept per depth,
    # and inlined frames are not told apart (25% less CPU per counted call when each call is dumped)
    "--separate-recs=1",
    "--read-inline-info=no",
)


def log_options(fd: int) -> list[str]:
    """Valgrind's log and every dump to ``fd``, the write end of the host's pipe."""
    return [f"--log-fd={fd}", f"--callgrind-out-file=/proc/self/fd/{fd}"]
ENV = {"PYTHONHASHSEED": "0", "LC_ALL": "C", "PATH": "/usr/bin:/bin"}
READY_TIMEOUT = 600.0  # valgrind start-up and the warm-up, on a busy machine
DUMP_GRACE = 10.0  # seconds to wait for a dump already written when the job has ended
LETTERS = {"k": "ok", "e": "error", "m": "memory", "r": "recursion"}
PERIODIC_TRIGGER = "desc: Trigger: --dump-every-bb"
_LOG_FIRST_BYTES = frozenset([b"=", b"d", b"a", b"t"])  # valgrind's messages, dump triggers, barriers, totals
BARRIER = "assay-barrier "
SETTLING_JOBS = 3
FORMAT = 2  # bumped when what a count means changes (part of every cache key)
MARSHAL_VERSION = 2
JOB_HEAD_FLOOR = 1024  # the server's BUFFER_FLOOR: a job's JSON object is padded to it


class CountingError(InfraError):
    """The counting server failed: not the candidate's fault, never cached."""


def supported() -> tuple[bool, str]:
    """Whether counting servers can run here, and why not."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return False, "counting servers need Linux on x86-64 (valgrind client requests are issued as x86-64 code)"
    if not shutil.which("valgrind"):
        return False, "valgrind is not installed (apt-get install valgrind)"
    return True, "callgrind, one warm server per worker"


@dataclass(frozen=True)
class Counted:
    """One job's counts: per call (``each``), or their sum, or why there is none.

    ``statuses``: one per input, ``ok`` or ``error``, ``memory``,
    ``recursion``, ``timeout``, ``crash``, ``over_budget``, ``not_run``; ``counts`` (each
    mode) has a count for every ``ok`` call and None elsewhere; ``total``
    (all mode) is set only when every call is ``ok``.
    """

    statuses: tuple[str, ...]
    counts: tuple[int | None, ...] | None = None
    total: int | None = None
    message: str = ""
    checked: str | None = None  # all mode: the digest of the verified results' forms

    @property
    def ok(self) -> bool:
        return all(s == "ok" for s in self.statuses)

    def to_json(self) -> str:
        return json.dumps({"statuses": list(self.statuses), "counts": None if self.counts is None else list(self.counts), "total": self.total, "message": self.message})

    @classmethod
    def from_json(cls, text: str) -> "Counted":
        data = json.loads(text)
        counts = data.get("counts")
        return cls(tuple(data["statuses"]), None if counts is None else tuple(counts), data.get("total"), data.get("message", ""))


@dataclass(frozen=True)
class RawJob:
    how: str  # ended | timeout | crash
    dumps: list[tuple[str, int]]  # (label after the nonce, collected instructions)


class CountingServer:
    """One warm valgrind process counting jobs, one at a time."""

    def __init__(self, python: str | None = None, *, isolate: bool | None = None) -> None:
        from assay.sandbox.isolation import isolated_command, plan, warn_missing

        self.python = python or os.path.realpath(sys.executable)
        isolation = plan()
        use_bwrap = isolation.bwrap is not None if isolate is None else isolate
        if use_bwrap and isolation.bwrap is None:
            raise CountingError("bubblewrap is not usable here; counting servers cannot be isolated")
        if not use_bwrap:
            warn_missing(isolation)
        self._scratch = tempfile.TemporaryDirectory(prefix="assay-counter-")
        script_dir = Path(self._scratch.name, "server")
        script_dir.mkdir()
        shutil.copy(SERVER_PATH, script_dir / "counting_server.py")
        shutil.copy(FORM_PATH, script_dir / "result_form.py")
        read_end, write_end = os.pipe()
        self._log_write = os.dup(write_end)  # the host's own way into the log stream: barriers
        inner = ["valgrind", *VALGRIND_OPTIONS, *log_options(write_end), self.python, "-S"]
        if use_bwrap:
            # the sandbox's pid namespace starts at pid 1: pass the small pids in a shell (the server checks again, at a fork each)
            past_small_pids = ["/bin/sh", "-c", 'i=0; while [ $i -lt 310 ]; do (:); i=$((i + 1)); done; exec "$@"', "sh"]
            argv = isolated_command(isolation.bwrap, past_small_pids + inner + [SERVER_INSIDE], binds={str(script_dir): os.path.dirname(SERVER_INSIDE)}, env=ENV)
            cwd, env = None, {}
        else:
            work = Path(self._scratch.name, "work")
            work.mkdir()
            argv, cwd, env = inner + [str(script_dir / "counting_server.py")], str(work), dict(ENV)
        try:  # from a thread that outlives the server: bwrap's --die-with-parent fires when the starting *thread* ends
            self._process = spawn(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd, env=env,
                pass_fds=(write_end,), start_new_session=True,
            )  # fmt: skip
        finally:
            os.close(write_end)
        self._server_pid: int | None = None  # the valgrind server's pid as this host sees it (found on the first kill)
        self._part = 0  # the periodic dumps' totals since the last labelled dump: the running call's count so far
        self._budget: int | None = None  # the running job's budget, raw (regions' overhead included)
        self._kill_sent = False
        self._stop_after: int | None = None  # the running job's calls wanted (each mode): the child is killed once they are dumped
        self._barriers: set[str] = set()
        self.periodic_dumps = 0  # partial dumps that carried a count (a call long enough to span them)
        self._dumps: dict[str, list[tuple[str, int]]] = {}
        self._log_tail: list[str] = []
        self._arrived = threading.Condition()
        self._reader = threading.Thread(target=self._read_log, args=(read_end,), name="assay-counter-log", daemon=True)
        self._reader.start()
        self._lock = threading.Lock()
        self._overheads: dict[tuple[int, int, bool], Counted] = {}
        self.jobs = 0
        line = self._read_line(READY_TIMEOUT)
        if line != "ready":
            self.close()
            raise CountingError("the counting server did not start (%r); valgrind said: %s" % (line, self.log_tail()))
        for _ in range(SETTLING_JOBS):  # the server's loop reaches its steady state (allocator, caches) before any count
            self.run("def f():\n    return None\n", "f", [()], timeout=60.0, each=False)
        self.jobs = 0

    # ------------------------------------------------------------ plumbing

    def _read_log(self, fd: int) -> None:
        """Valgrind's log and the dumps, as they come: (label, totals) per dump labelled ``assay <nonce> ...``.

        A dump lists the cost of every line a region ran (thousands of lines
        per call); only its trigger and its totals matter here, so the log is
        read in binary chunks and a line is decoded only when its first byte
        can start one of the lines looked at.
        """
        label: str | None = None
        prefix = "desc: Trigger: Client Request: assay "
        pending = b""
        with os.fdopen(fd, "rb", buffering=0) as stream:
            while True:
                chunk = stream.read(1 << 16)
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop() if chunk else b""
                for raw in lines:
                    if raw[:1] not in _LOG_FIRST_BYTES:
                        continue
                    line = raw.decode("utf-8", "replace")
                    if line.startswith("=="):
                        self._log_tail = (self._log_tail + [line.rstrip()])[-20:]
                    elif line.startswith(prefix):
                        label = line[len(prefix) :].strip()
                    elif line.startswith(PERIODIC_TRIGGER):
                        label = PERIODIC_TRIGGER
                    elif line.startswith(BARRIER):
                        with self._arrived:
                            self._barriers.add(line.strip())
                            self._arrived.notify_all()
                    elif line.startswith("totals: ") and label is not None:
                        self._dumped(label, line)
                        label = None
                if not chunk:
                    break
        with self._arrived:
            self._arrived.notify_all()

    def _dumped(self, label: str, line: str) -> None:
        """One dump's ``totals:`` line: a periodic part of a call's count (budgets are checked here) or a labelled dump."""
        try:
            total = int(line.split()[1])
        except (IndexError, ValueError):  # only valgrind writes here; a line it garbled counts as no dump
            return
        with self._arrived:
            if label is PERIODIC_TRIGGER:
                self._part += total
                self.periodic_dumps += total > 0
                if self._budget is not None and self._part > self._budget:
                    self._kill_once()
            else:
                nonce, _, rest = label.partition(" ")
                self._dumps.setdefault(nonce, []).append((rest, total + self._part))
                self._part = 0
                if self._stop_after is not None and len(self._dumps[nonce]) >= self._stop_after:
                    self._kill_once()  # the calls wanted are counted: the rest are not run
            self._arrived.notify_all()

    def _kill_once(self) -> None:
        """The running job's child killed, once however many dumps ask for it (called holding ``_arrived``)."""
        if not self._kill_sent:
            self._kill_sent = True
            self._kill()

    def _kill(self) -> None:
        """SIGKILL the running job's child (over its budget, or done with the calls wanted): the server's only child, found from outside the sandbox.

        Called with the job running (its budget set): the server forks the
        next job's child only after the host has sent that job.
        """
        if self._server_pid is None:
            self._server_pid = _find_server(self._process.pid)
        if self._server_pid is None:
            return  # the timeout will end it
        for child in _children(self._server_pid):
            try:
                os.kill(child, 9)
            except OSError:
                pass

    def _barrier(self, timeout: float = DUMP_GRACE) -> None:
        """Wait until the reader has seen everything written to the log so far (a killed child's last periodic dumps)."""
        token = BARRIER + secrets.token_hex(8)
        try:
            os.write(self._log_write, (token + "\n").encode())
        except OSError:
            return
        deadline = time.monotonic() + timeout
        with self._arrived:
            while token not in self._barriers and time.monotonic() < deadline and self._reader.is_alive():
                self._arrived.wait(0.05)
            self._barriers.discard(token)

    def log_tail(self) -> str:
        return " | ".join(self._log_tail[-5:]) or "(nothing)"

    def _read_line(self, timeout: float) -> str:
        assert self._process.stdout is not None
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self._process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            self.close()
            raise CountingError("the counting server did not answer within %.0f s" % timeout)
        return result[0].strip() if result else ""

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, 9)
            except OSError:
                self._process.kill()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self._process.stdin, self._process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            os.close(self._log_write)
        except OSError:
            pass
        self._log_write = -1
        self._scratch.cleanup()

    # ------------------------------------------------------------ jobs

    def run(self, program: str, function: str, inputs: Sequence[tuple], *, timeout: float, each: bool, verify: Sequence[int] = (), budget: int | None = None, stop: int | None = None) -> RawJob:
        """One job as the server saw it: how the child ended and the dumps it made.

        ``budget``: raw instructions (per call in each mode, for the job in
        all mode) past which the child is killed as soon as a periodic dump
        shows it ("killed"). ``stop`` (each mode): the child is killed once
        the first ``stop`` calls are dumped; the job, and so the heap those
        calls run in, is the whole job's (a job that holds fewer inputs counts
        its calls a few instructions differently).
        """
        stop = stop if each and stop is not None and stop < len(inputs) else None
        nonce = secrets.token_hex(12)
        blob = pickle.dumps([tuple(a) for a in inputs], protocol=4)
        # the same interpreter: compile here, marshal there
        code = (compiled(program) or b"") if self.python == os.path.realpath(sys.executable) else b""
        job = json.dumps({"nonce": nonce, "program": program, "function": function, "each": each, "verify": list(verify), "inputs": len(blob), "code": len(code)})
        job = job.ljust(JOB_HEAD_FLOOR).encode()  # see the server's BUFFER_FLOOR
        frame = b"%s %12.3f\n%016x" % (nonce.encode("ascii"), min(timeout, 99_999_999.0), len(job)) + job + blob + code
        with self._lock:
            if not self.alive:
                raise CountingError("the counting server is not running; valgrind said: %s" % self.log_tail())
            with self._arrived:
                self._part, self._budget, self._kill_sent, self._stop_after = 0, budget, False, stop
            try:
                assert self._process.stdin is not None
                self._process.stdin.buffer.write(frame)
                self._process.stdin.buffer.flush()
            except OSError as exc:
                raise CountingError(f"the counting server stopped reading: {exc}") from exc
            line = self._read_line(timeout + 60.0)
            parts = line.split()
            if len(parts) != 3 or parts[0] != "end" or parts[1] != nonce:
                raise CountingError("the counting server answered %r; valgrind said: %s" % (line, self.log_tail()))
            self.jobs += 1
            how = parts[2]
            with self._arrived:
                if self._kill_sent and how == "ended":
                    how = "killed"
            expected = 1 if not each else len(inputs) if stop is None else stop
            deadline = time.monotonic() + (DUMP_GRACE if how == "ended" else 0.5)
            with self._arrived:
                while len(self._dumps.get(nonce, [])) < expected and not self._loaded_failed(nonce) and time.monotonic() < deadline:
                    self._arrived.wait(0.05)
                dumps = self._dumps.pop(nonce, [])
            if not self._reader.is_alive():
                raise CountingError("the counting server's log pipe closed; valgrind said: %s" % self.log_tail())
            stopped = stop is not None and len(dumps) >= stop  # killed (or finished first) after its last wanted call
            if stopped:
                dumps, how = dumps[:stop], "ended"
            if (len(dumps) < expected and not _load_failed(dumps)) or stopped:  # the child died mid-call: its last periodic dumps must not count for the next job
                self._barrier()
            with self._arrived:
                self._part, self._budget, self._stop_after = 0, None, None
            return RawJob(how, dumps)

    def _loaded_failed(self, nonce: str) -> bool:
        return _load_failed(self._dumps.get(nonce, []))

    def count(self, program: str, function: str, inputs: Sequence[tuple], *, timeout: float, each: bool = False, expected: dict[int, Any] | None = None, budget: int | None = None,
              count_first: int | None = None) -> Counted:  # fmt: skip
        """Counts of ``function(*args)`` for each input, the regions' own cost removed.

        ``expected`` (all mode): call index -> the value the call must return
        under the meter (its form, :mod:`result_form`, must match); a program
        that computes something else while counted gets status ``wrong``.
        ``budget``: a call (each mode) or the job (all mode) counting more is
        ``over_budget``, stopped as soon as a periodic dump shows it, and the
        calls after it are ``not_run``. The same job and budget give the same
        answer whenever the kill lands: it follows from the counts alone.
        ``count_first`` (each mode): only the first N calls are counted, the
        rest ``not_run`` (the child is killed once the N are dumped); the job
        still holds every input, because a count moves by a few instructions
        with what the job holds (the heap its inputs leave), so the first N
        counts are those of the whole job.
        """
        inputs = [tuple(a) for a in inputs]
        if not inputs:
            return Counted((), () if each else None, None if each else 0)
        run = len(inputs) if count_first is None else max(0, min(int(count_first), len(inputs)))
        if run < len(inputs) and not each:
            raise ValueError("count_first counts some calls of a job: each mode only")
        if run == 0:
            return Counted((NOT_RUN,) * len(inputs), (None,) * len(inputs), None)
        return _not_run_after(self._count(program, function, inputs, timeout, each, expected, budget, run), len(inputs))

    def _count(self, program: str, function: str, inputs: list[tuple], timeout: float, each: bool, expected: dict[int, Any] | None, budget: int | None, run: int) -> Counted:
        """The job with every input, its first ``run`` calls run and counted."""
        raw_budget = None
        if budget is not None:
            overhead = self._overhead_of(inputs, each)
            region = max(c or 0 for c in overhead.counts) if each and overhead.counts else overhead.total or 0
            raw_budget = int(budget) + region
        verify = sorted(expected or {}) if not each else []
        raw = self.run(program, function, inputs, timeout=timeout, each=each, verify=verify, budget=raw_budget, stop=run)
        measured = interpret(raw, run, each)
        if verify and measured.ok and measured.checked != result_form.digest([expected[i] for i in verify]):  # type: ignore[index]
            return Counted(("wrong",) * len(inputs), message="the program returned something else while counted than its tests expect")
        if not any(s == "ok" for s in measured.statuses):
            return measured
        return over_budget(subtract(measured, self._overhead_of(inputs, each)), budget)

    def _overhead_of(self, inputs: list[tuple], each: bool) -> Counted:
        if len({len(a) for a in inputs}) == 1:
            return self.overhead(len(inputs[0]), len(inputs), each)
        return _mixed_overhead(self, inputs, each)  # mixed arities: an empty call per input

    def overhead(self, arity: int, calls: int, each: bool) -> Counted:
        """The counts of an empty function of this arity on ``calls`` inputs: what the regions cost by themselves."""
        key = (arity, calls, each)
        if key not in self._overheads:
            params = ", ".join("a%d" % i for i in range(arity))
            empty = "def empty(%s):\n    return None\n" % params
            counted = interpret(self.run(empty, "empty", [(None,) * arity] * calls, timeout=60.0 + calls, each=each), calls, each)
            if not counted.ok:
                raise CountingError("calibrating the counting server failed: %s %s" % (counted.statuses, counted.message))
            self._overheads[key] = counted
        return self._overheads[key]


def _mixed_overhead(server: CountingServer, inputs: list[tuple], each: bool) -> Counted:
    arities = [len(a) for a in inputs]
    per_call = [server.overhead(arity, 1, True).counts[0] for arity in arities]  # type: ignore[index]
    if each:
        return Counted(tuple("ok" for _ in inputs), tuple(per_call), None)
    return Counted(tuple("ok" for _ in inputs), None, sum(c or 0 for c in per_call))


def interpret(raw: RawJob, n: int, each: bool) -> Counted:
    """Statuses and raw counts from the dumps of a job of ``n`` calls."""
    labels = [label for label, _ in raw.dumps]
    if len(set(labels)) != len(labels):
        return Counted(("crash",) * n, message="a dump was repeated: something other than the server made one")
    for label, _ in raw.dumps:
        if label.startswith("load "):
            return Counted(("error",) * n, message="the program did not load, or has no such function")
    if not each:
        if len(raw.dumps) == 1 and raw.dumps[0][0].startswith("all "):
            parts = raw.dumps[0][0].split()
            statuses = tuple(LETTERS.get(c, "crash") for c in parts[1])
            if len(statuses) != n:
                return Counted(("crash",) * n, message="the dump does not cover every call")
            checked = parts[2] if len(parts) > 2 and parts[2] != "-" else None
            return Counted(statuses, None, raw.dumps[0][1] if all(s == "ok" for s in statuses) else None, checked=checked)
        if raw.dumps:
            return Counted(("crash",) * n, message="unexpected dumps %s" % labels)
        return Counted(_missing(raw.how, 0, n), message=_why(raw.how))
    by_index: dict[int, tuple[str, int]] = {}
    for label, total in raw.dumps:
        parts = label.split()
        if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) >= n:
            return Counted(("crash",) * n, message="unexpected dump %r" % label)
        by_index[int(parts[0])] = (LETTERS.get(parts[1], "crash"), total)
    done = 0
    while done in by_index:
        done += 1
    if len(by_index) != done:
        return Counted(("crash",) * n, message="dumps out of order")
    statuses = tuple(by_index[i][0] for i in range(done)) + _missing(raw.how, done, n)
    counts = tuple(by_index[i][1] if i < done and by_index[i][0] == "ok" else None for i in range(n))
    return Counted(statuses, counts, None, "" if done == n else _why(raw.how))


def _load_failed(dumps: list[tuple[str, int]]) -> bool:
    """The child said the program did not load (or has no such function): its only dump."""
    return any(label.startswith("load ") for label, _ in dumps)


def compiled(program: str) -> bytes | None:
    """The program's code for the server (marshal), None when it does not compile (the child says so).

    Marshal version 2 has no back-references: their placement follows this
    process's reference counts, so the same program would reach the server
    as other bytes depending on what the host holds, and load into a
    slightly different heap. No future features are inherited from here.
    """
    try:
        return marshal.dumps(compile(program, "<candidate>", "exec", dont_inherit=True), MARSHAL_VERSION)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return [int(p) for p in listing.read().split()]
    except (OSError, ValueError):
        return []


def _find_server(root: int) -> int | None:
    """The valgrind server below ``root`` (itself, or inside bubblewrap's processes): the first process that runs valgrind's tool."""
    todo = [root]
    while todo:
        pid = todo.pop(0)
        try:
            with open(f"/proc/{pid}/comm") as comm:
                if comm.read().startswith("callgrind"):
                    return pid
        except OSError:
            continue
        todo += _children(pid)
    return None


def _not_run_after(counted: Counted, n: int) -> Counted:
    """A count of a job's first calls, as one of all ``n``: the rest ``not_run``."""
    rest = n - len(counted.statuses)
    if rest <= 0:
        return counted
    counts = None if counted.counts is None else counted.counts + (None,) * rest
    return Counted(counted.statuses + (NOT_RUN,) * rest, counts, counted.total, counted.message, counted.checked)


def _missing(how: str, done: int, n: int) -> tuple[str, ...]:
    if done >= n:
        return ()
    first = {"timeout": "timeout", "killed": OVER_BUDGET}.get(how, "crash")
    return (first,) + ("not_run",) * (n - done - 1)


def _why(how: str) -> str:
    if how == "timeout":
        return "the measured process ran out of time"
    if how == "killed":
        return "the count went over its budget"
    return "the measured process ended without its count (it exited, was killed, or reached for the meter)"


def over_budget(counted: Counted, budget: int | None) -> Counted:
    """The budget rule (:func:`assay.measure.meters.first_over_budget`) on a job's counts; all mode: the job's total.

    Whether the host's kill landed in that call, in a later one, or not at
    all (the child finished first), the answer is the same.
    """
    if budget is None:
        return counted
    if counted.counts is None:
        if counted.total is not None and counted.total > budget:
            return Counted((OVER_BUDGET,) * len(counted.statuses), message=_why("killed"))
        return counted
    i = first_over_budget(counted.statuses, counted.counts, budget)
    if i is None:
        return counted
    rest = len(counted.statuses) - i - 1
    return Counted(counted.statuses[:i] + (OVER_BUDGET,) + ("not_run",) * rest, counted.counts[:i] + (None,) * (rest + 1), None, _why("killed"))


def subtract(measured: Counted, overhead: Counted) -> Counted:
    if measured.counts is not None and overhead.counts is not None:
        counts = tuple(None if c is None else max(0, c - (o or 0)) for c, o in zip(measured.counts, overhead.counts))
        return Counted(measured.statuses, counts, None, measured.message)
    total = None if measured.total is None or overhead.total is None else max(0, measured.total - overhead.total)
    return Counted(measured.statuses, None, total, measured.message, measured.checked)


# ---------------------------------------------------------------- pools


class CountingPool:
    """Up to ``size`` warm servers, each counting one job at a time; started as they are needed."""

    def __init__(self, size: int, python: str | None = None, *, isolate: bool | None = None) -> None:
        self.size = max(1, size)
        self.python = python or os.path.realpath(sys.executable)
        self.isolate = isolate
        self._idle: queue.Queue[CountingServer] = queue.Queue()
        self._started = 0
        self._guard = threading.Lock()
        self._all: list[CountingServer] = []
        self._closed = False

    def _lease(self) -> CountingServer:
        """An idle live server, or a new one; a server that died while idle is closed and replaced."""
        while True:
            with self._guard:
                if self._closed:
                    raise CountingError("the counting pool is closed")
                start = self._idle.empty() and self._started < self.size
                if start:
                    self._started += 1
            if start:
                try:
                    server = CountingServer(self.python, isolate=self.isolate)
                except BaseException:
                    with self._guard:
                        self._started -= 1
                    raise
                with self._guard:
                    self._all.append(server)
                return server
            server = self._idle.get()
            if server.alive:
                return server
            self._give_back(server)  # closes it and frees its place

    def _give_back(self, server: CountingServer) -> None:
        if server.alive and not self._closed:
            self._idle.put(server)
            return
        server.close()
        with self._guard:
            self._started -= 1
            if server in self._all:
                self._all.remove(server)

    def count(self, program: str, function: str, inputs: Sequence[tuple], *, timeout: float, each: bool = False, expected: dict[int, Any] | None = None, budget: int | None = None,
              count_first: int | None = None) -> Counted:  # fmt: skip
        """One job on a warm server; a server that died is replaced and the job tried once more."""
        for attempt in (1, 2):
            server = self._lease()
            try:
                return server.count(program, function, inputs, timeout=timeout, each=each, expected=expected, budget=budget, count_first=count_first)
            except CountingError:
                if attempt == 2 or server.alive:
                    raise
            finally:
                self._give_back(server)
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._guard:
            self._closed = True
            servers, self._all = list(self._all), []
        for server in servers:
            server.close()


_pools: dict[tuple[str, bool | None], CountingPool] = {}
_pools_guard = threading.Lock()


def shared_pool(size: int, python: str | None = None, *, isolate: bool | None = None) -> CountingPool:
    """The process's warm pool for this interpreter (grown to ``size`` servers if asked for more)."""
    key = (python or os.path.realpath(sys.executable), isolate)
    with _pools_guard:
        pool = _pools.get(key)
        if pool is None or pool._closed:
            pool = _pools[key] = CountingPool(size, key[0], isolate=isolate)
        pool.size = max(pool.size, size)
        return pool


@atexit.register
def close_shared_pools() -> None:
    with _pools_guard:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


# ---------------------------------------------------------------- the on-disk cache


def fingerprint(python: str) -> str:
    """Everything besides the job that can change a count: valgrind, the interpreter, the server, the options."""
    try:
        valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        valgrind = "?"
    real = os.path.realpath(python)
    try:
        stat = os.stat(real)
        binary = "%s:%d:%d" % (real, stat.st_size, int(stat.st_mtime))
    except OSError:
        binary = real
    digest = hashlib.sha256()
    for part in (valgrind, binary, SERVER_PATH.read_text(), FORM_PATH.read_text(), " ".join(VALGRIND_OPTIONS + tuple(log_options(0))), json.dumps(ENV, sort_keys=True), str(FORMAT)):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


class CountCache:
    """Counts on disk (SQLite), keyed by the fingerprint and the job; only answers that any rerun would give."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            from assay.paths import cache_root

            path = cache_root() / "counts.sqlite"
        self._table = DiskCache(path, "counts", "TEXT")
        self.path = self._table.path

    @classmethod
    def default(cls) -> "CountCache | bool":
        """The cache at ``$ASSAY_COUNT_CACHE`` (``off``: none, False), else ``<assay cache>/counts.sqlite``."""
        configured = os.environ.get("ASSAY_COUNT_CACHE", "")
        if configured.lower() in ("off", "0", "no", "none"):
            return False
        return cls(configured or None)

    @staticmethod
    def key(fingerprint: str, program: str, function: str, inputs: Sequence[tuple], each: bool, expected: dict[int, Any] | None = None, budget: int | None = None,
            count_first: int | None = None) -> str:  # fmt: skip
        digest = hashlib.sha256()
        checked = result_form.digest([expected[i] for i in sorted(expected)]) + repr(sorted(expected)) if expected else "-"
        first = "-" if count_first is None or count_first >= len(inputs) else str(int(count_first))
        for part in (fingerprint, program, function, repr([tuple(a) for a in inputs]), "each" if each else "all", checked, "-" if budget is None else str(int(budget)), first):
            digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
        return digest.hexdigest()

    def get(self, key: str) -> Counted | None:
        value = self._table.get(key)
        return Counted.from_json(value) if value is not None else None

    def put(self, key: str, counted: Counted) -> None:
        if any(s in ("timeout", "crash", "memory", "wrong") for s in counted.statuses) or ("not_run" in counted.statuses and OVER_BUDGET not in counted.statuses):
            return  # depends on the machine, not only on the job (calls not run after one over budget do not)
        self._table.put(key, counted.to_json())

