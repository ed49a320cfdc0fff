"""The warm server inside the sandbox (standard library only).

Process tree, per worker::

    zygote   (the monitor: one sample at a time; relays requests, watches the candidate)
      └─ template   (forked once, when the harness is loaded; only forks candidates)
           └─ candidate   (forked per sample; PID 1 of a fresh pid namespace, no capabilities)

The monitor is trusted: it runs no candidate code, and the candidate cannot
see it (different pid namespace), signal it, or write to it except through
the reply pipe, whose messages are only ever *data* to be compared outside.
Candidates are forked from the template, not from the monitor, for two
reasons: nothing the monitor has seen (other samples' answers, expected
values) is ever in a candidate's memory, and the monitor's own work does not
copy pages it shares with a live candidate (fork marks every page
copy-on-write; the template touches almost none while a candidate runs).
The monitor measures CPU time (the kernel's per-process clock), peak memory
(VmHWM, reset before each call) and output size, and kills the candidate's
whole pid namespace when a limit is passed.

Requests arrive on fd 0, replies leave on fd 1, as length-prefixed JSON.
"""

from __future__ import annotations

import builtins
import ctypes
import gc
import io
import linecache
import os
import resource
import select
import shutil
import signal
import _signal
import socket
import struct
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import codec  # noqa: E402
import protocol  # noqa: E402

CLONE_NEWPID = 0x20000000
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_SET_CHILD_SUBREAPER = 38, 24, 47, 36
PR_SET_DUMPABLE = 4
CANDIDATE_FILE = "<candidate>"
# Inside bubblewrap /tmp and /dev/shm are the sandbox's own, and wiped between
# samples. Unsandboxed (no bwrap), the supervisor passes a private directory
# with --work-root and nothing outside it is ever touched.
SANDBOXED = "--sandboxed" in sys.argv
WORK_ROOT = sys.argv[sys.argv.index("--work-root") + 1] if "--work-root" in sys.argv else "/tmp/assay-work"
SCRATCH = ("/tmp", "/dev/shm") if SANDBOXED else (WORK_ROOT,)
POLL_MIN, POLL_MAX = 0.002, 0.05

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

# Modules most programs import, loaded once here and inherited by fork. Each
# module here costs every candidate its pages (copied at fork, unmapped at
# exit); one left out costs only the programs that import it their import
# (random ~0.7 ms, hashlib ~3 ms, statistics ~4 ms, dataclasses ~9 ms).
# Leaving those and decimal, fractions, datetime and unicodedata out saves
# each sample ~0.4 ms. Not threading (nor queue, which imports it): its
# after-fork hook alone costs every candidate ~0.4 ms.
PREWARM = "math cmath re collections itertools functools heapq bisect string typing operator copy struct numbers abc contextlib enum".split()


def prewarm() -> None:
    for name in PREWARM:
        try:
            __import__(name)
        except Exception:
            pass


# ---------------------------------------------------------------- kernel bits


def next_poll(interval: float, cpu_left_ns: int, wall_left_ns: int) -> float:
    """Seconds until the next look at a running candidate: backing off, but
    never sleeping past the moment a limit could be reached (CPU time grows
    at most as fast as wall time for one thread), so a limit is caught
    within about a millisecond rather than a back-off step."""
    return max(POLL_MIN / 2, min(POLL_MAX, interval * 2, cpu_left_ns / 1e9, wall_left_ns / 1e9))


def cpu_clock_ns(pid: int) -> int | None:
    """CPU time of process ``pid`` (all threads), from the kernel's clock."""
    clock_id = ((~pid) << 3) | 2  # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
    try:
        return time.clock_gettime_ns(clock_id)
    except OSError:
        return None


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return 63


LAST_CAP = last_capability()


def drop_bounding_set() -> None:
    """Empty the bounding set (inherited by every candidate): no exec can ever regain a capability.

    Done once in the zygote; its own effective capabilities stay, as it needs
    them for pid namespaces.
    """
    for cap in range(LAST_CAP + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)


# Built once in the zygote: a candidate only makes the three calls.
_prctl, _capset = libc.prctl, libc.capset
_NO_CAPS = (ctypes.byref(CapHeader(0x20080522, 0)), ctypes.byref((CapData * 2)()))


def drop_capabilities() -> None:
    """No capabilities, now or after any exec; no privilege gain via setuid files."""
    _prctl(PR_CAP_AMBIENT, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    _capset(*_NO_CAPS)
    _prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def probe_pid_namespace() -> bool:
    """Can this process give each run its own pid namespace?"""
    pid = os.fork()
    if pid == 0:
        ok = libc.unshare(CLONE_NEWPID) == 0
        if ok:
            inner = os.fork()
            if inner == 0:
                os._exit(0 if os.getpid() == 1 else 1)
            _, status = os.waitpid(inner, 0)
            ok = os.waitstatus_to_exitcode(status) == 0
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def sweep_strays() -> int:
    """Kill every process in this sandbox but ourselves and its init."""
    killed = 0
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, me, TEMPLATE.pid if TEMPLATE is not None else me):
            try:
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if killed:
                time.sleep(0.001)
                killed = 0
                continue
            break
    return killed


# ---------------------------------------------------------------- candidate side


def describe_exception(exc: BaseException) -> dict:
    try:
        message = str(exc)
    except BaseException:
        message = "<unprintable message>"
    # Lines are looked up for the candidate's frames only (its source is in
    # linecache already): the harness's own files are never read from disk.
    walked = traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__), lookup_lines=False)
    frames = [f for f in walked if f.filename == CANDIDATE_FILE]
    lines = traceback.format_list(frames[-8:])
    try:
        head = traceback.format_exception_only(type(exc), exc)[-1].rstrip()
    except BaseException:
        head = type(exc).__name__
    tb = ("Traceback (candidate frames):\n" + "".join(lines) + head) if lines else head
    return {"type": type(exc).__name__, "message": (message or type(exc).__name__)[:2000], "traceback": tb[-4000:]}


def set_limits(limits: dict) -> None:
    def cap(kind: int, value: int | None) -> None:
        if value is None or value <= 0:
            return
        try:
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):
            pass

    cpu = max(1, int(limits.get("sample_cpu_seconds", 60) + 0.999))
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    except (ValueError, OSError):
        pass
    cap(resource.RLIMIT_AS, limits.get("memory_bytes"))
    cap(resource.RLIMIT_NPROC, limits.get("processes"))
    cap(resource.RLIMIT_NOFILE, limits.get("open_files"))
    cap(resource.RLIMIT_FSIZE, limits.get("file_bytes"))
    cap(resource.RLIMIT_CORE, 0)
    try:
        resource.setrlimit(resource.RLIMIT_STACK, (512 << 20, 512 << 20))
    except (ValueError, OSError):
        pass


def candidate_streams() -> tuple:
    """The candidate's sys.stdin/stdout/stderr, over fds 0-2 whatever they are then.

    Built once in the zygote (never used there), so that a candidate only
    assigns them.
    """
    return (
        io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8", errors="replace"),
        io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=False),
        io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace"),
    )


CANDIDATE_STREAMS: tuple = ()
# The zygote's own std streams, kept referenced so that a candidate replacing
# them does not deallocate (flush, close) them: ~0.25 ms of every start.
ZYGOTE_STREAMS = (sys.stdin, sys.stdout, sys.stderr, sys.__stdin__, sys.__stdout__, sys.__stderr__)
# As plain ints for _signal.signal: signal.signal's enum conversions cost a
# candidate ~0.15 ms of first-touch page copies.
CANDIDATE_SIGNALS = ((int(signal.SIGXFSZ), int(signal.SIG_IGN)), (int(signal.SIGPIPE), int(signal.SIG_DFL)))


def candidate_main(start: dict, requests: int, replies: int, stdio: tuple[int, int, int], own_pidns: bool) -> None:
    """Runs in the candidate process. Never returns."""
    # A process group of its own: kill(0, ...) and killpg reach only the
    # candidate. (Not setsid: a new session costs milliseconds in the scheduler.)
    os.setpgid(0, 0)
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        os.write(fd, b"1000")
        os.close(fd)
    except OSError:
        pass
    drop_capabilities()
    for number, handler in CANDIDATE_SIGNALS:
        _signal.signal(number, handler)
    for target, fd in enumerate(stdio):
        os.dup2(fd, target)
    low, high = sorted((requests, replies))
    os.closerange(3, low)
    os.closerange(low + 1, high)
    os.closerange(high + 1, 1 << 16)
    sys.stdin, sys.stdout, sys.stderr = CANDIDATE_STREAMS or candidate_streams()
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
    set_limits(start.get("limits", {}))
    if start.get("exec"):
        # a separate program (e.g. a measurement under valgrind) replaces the harness
        os.close(requests)
        argv = [str(a) for a in start["exec"]]
        try:
            os.execv(argv[0], argv)
        except OSError:
            os._exit(127)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))

    program = start["program"]
    as_main = bool(start.get("main"))
    namespace = {"__name__": "__main__" if as_main else "__candidate__", "__builtins__": builtins, "__file__": CANDIDATE_FILE}
    linecache.cache[CANDIDATE_FILE] = (len(program), None, program.splitlines(True), CANDIDATE_FILE)
    reply = run_guarded(lambda: exec(compile(program, CANDIDATE_FILE, "exec"), namespace), as_main)
    send(replies, reply)
    if reply["status"] == "ok" and start.get("stream"):
        # a streamed batch: every call in turn, each reply as soon as it is ready
        for request in start.get("calls") or ():
            send(replies, call(namespace, request))
    # Lock-step: each call arrives when the last one is answered, and the
    # later ones are not left in this process's memory for it to read ahead.
    start.pop("calls", None)
    window = (requests, replies) if start.get("windows") else None
    while True:
        try:
            request = protocol.read_message(requests)
        except protocol.ProtocolError:
            os._exit(0)
        if request.get("op") == "call":
            send(replies, call(namespace, request, window))
        elif request.get("op") == "calls":  # a further streamed batch
            for each in request.get("calls") or ():
                send(replies, call(namespace, each))
        else:
            os._exit(0)


def run_guarded(action, as_main: bool = False) -> dict:
    try:
        action()
        result = {"status": "ok"}
    except SystemExit as exc:
        code = exc.code
        if as_main and (code is None or code == 0):
            result = {"status": "ok"}
        else:
            result = {"status": "exception", "exc": describe_exception(exc)}
    except BaseException as exc:
        result = {"status": "exception", "exc": describe_exception(exc)}
    flush_output()
    result["marks"] = output_marks()
    return result


def call(namespace: dict, request: dict, window: tuple[int, int] | None = None) -> dict:
    """One call. With ``window`` (request and reply fds), the monitor is told
    when the function starts and returns, and reads the CPU clock then, so
    that decoding the arguments and encoding the result are not the call's cost."""
    holder = {}

    def invoke() -> None:
        function = namespace.get(request["fn"])
        if function is None:
            raise NameError("the program does not define %r" % request["fn"])
        args = codec.decode(request.get("args", []))
        kwargs = codec.decode(request.get("kwargs", {"$dict": []}))
        if window is not None:
            mark(window, "start")
        value = function(*args, **kwargs)
        if window is not None:
            mark(window, "end")
        try:
            holder["value"] = codec.encode(value)
        except codec.Unencodable as exc:
            holder["unencodable"] = str(exc)
        except BaseException as exc:
            holder["unencodable"] = "converting the result raised %s" % type(exc).__name__

    result = run_guarded(invoke)
    if result["status"] == "ok":
        if "unencodable" in holder:
            result = {"status": "unencodable", "message": holder["unencodable"]}
        else:
            result["value"] = holder.get("value")
    return result


def flush_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def mark(window: tuple[int, int], name: str) -> None:
    """Tell the monitor where the call is, and wait until it has read the clock."""
    requests, replies = window
    send(replies, {"mark": name})
    try:
        protocol.read_message(requests)
    except protocol.ProtocolError:
        os._exit(0)


def output_marks() -> list | None:
    """How far stdout and stderr reach now: where this step's output ends.

    Streamed, the monitor may see a reply only after the next call has
    printed; these marks tell it which output belongs to which call. (A
    candidate that lies only moves its own output between its own tests.)
    """
    try:
        return [os.fstat(1).st_size, os.fstat(2).st_size]
    except BaseException:
        return None


def send(fd: int, message: dict) -> None:
    try:
        protocol.write_message(fd, message)
    except BaseException:
        os._exit(70)


# ---------------------------------------------------------------- template

SPAWN = struct.Struct("=IB")  # start message size, 1 = in a pid namespace of its own
RECORD = struct.Struct("=Biiqqq")  # kind, pid, status (spawned: pid namespace used), utime us, stime us, maxrss KiB
SPAWNED, EXITED = 1, 2


class Usage:
    """The parts of a candidate's rusage the monitor uses (the template reaps it)."""

    __slots__ = ("ru_utime", "ru_stime", "ru_maxrss")

    def __init__(self, utime_us: int, stime_us: int, maxrss_kib: int) -> None:
        self.ru_utime, self.ru_stime, self.ru_maxrss = utime_us / 1e6, stime_us / 1e6, maxrss_kib


def template_main(channel: socket.socket, pidns_fd: int | None) -> None:
    """Fork a candidate for each start message; tell the monitor its pid, then its end. Never returns."""
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    live: dict[int, int] = {}  # pidfd -> pid
    workdir = os.path.join(WORK_ROOT, "run")
    while True:
        ready, _, _ = select.select([channel, *live], [], [])
        for fd in ready:
            if fd is channel:
                header, fds, _, _ = socket.recv_fds(channel, SPAWN.size, 8)
                if len(header) != SPAWN.size or len(fds) != 5:
                    os._exit(0)  # the monitor is gone
                size, want_pidns = SPAWN.unpack(header)
                # one buffer, wiped once the candidate has its copy: no later
                # candidate finds an earlier one's program in this memory
                body = bytearray(size)
                view = memoryview(body)
                done = 0
                while done < size:
                    got = channel.recv_into(view[done:])
                    if not got:
                        os._exit(0)
                    done += got
                own = bool(want_pidns) and pidns_fd is not None and libc.setns(pidns_fd, CLONE_NEWPID) == 0 and libc.unshare(CLONE_NEWPID) == 0
                os.chdir(workdir)
                pid = os.fork()
                if pid == 0:
                    try:
                        channel.close()
                        view.release()
                        start = protocol.parse_body(body)
                        del view, body
                        candidate_main(start, fds[0], fds[1], (fds[2], fds[3], fds[4]), own)
                    finally:
                        os._exit(71)
                view[:] = bytes(size)
                view.release()
                del view, body
                for each in fds:
                    os.close(each)
                watch = os.pidfd_open(pid)
                live[watch] = pid
                # the monitor receives its own copy of the descriptor
                socket.send_fds(channel, [RECORD.pack(SPAWNED, pid, int(own), 0, 0, 0)], [watch])
            else:
                pid = live.pop(fd)
                os.close(fd)
                _, status, usage = os.wait4(pid, 0)
                channel.sendall(RECORD.pack(EXITED, pid, status, int(usage.ru_utime * 1e6), int(usage.ru_stime * 1e6), usage.ru_maxrss))


class Template:
    """The monitor's side of the template: spawn a candidate, learn how it ended."""

    def __init__(self, pidns_fd: int | None) -> None:
        self.channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.pid = os.fork()
        if self.pid == 0:
            try:
                self.channel.close()
                template_main(theirs, pidns_fd)
            finally:
                os._exit(72)
        theirs.close()
        self.exits: dict[int, tuple[int, Usage]] = {}
        self.awaited = 0

    def spawn(self, body: bytes, fds: list[int], own_pidns: bool) -> tuple[int, int, bool]:
        """(pid, pidfd, in a pid namespace of its own) of a new candidate running ``body``."""
        socket.send_fds(self.channel, [SPAWN.pack(len(body), int(own_pidns))], fds)
        self.channel.sendall(body)
        while True:
            kind, pid, status, utime, stime, maxrss, pidfd = self._record(30.0)
            if kind == SPAWNED:
                if pidfd is None:
                    raise RuntimeError("the template sent no pidfd")
                self.awaited = pid
                self.exits.clear()
                return pid, pidfd, bool(status)

    def exit_of(self, pid: int, timeout: float = 0.0) -> tuple[int, Usage] | None:
        """The exit status and usage of candidate ``pid``, if the template has reaped it (waiting up to ``timeout``)."""
        deadline = time.monotonic() + timeout
        while pid not in self.exits:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.channel], [], [], max(0.0, left))
            if not ready:
                return None
            self._record(1.0)
        return self.exits[pid]

    def _record(self, timeout: float) -> tuple:
        data, fds = b"", []
        deadline = time.monotonic() + timeout
        while len(data) < RECORD.size:
            ready, _, _ = select.select([self.channel], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise RuntimeError("the template did not answer")
            chunk, more, _, _ = socket.recv_fds(self.channel, RECORD.size - len(data), 1)
            if not chunk:
                raise RuntimeError("the template is gone")
            data += chunk
            fds += more
        kind, pid, status, utime, stime, maxrss = RECORD.unpack(data)
        if kind == EXITED and pid == self.awaited:
            self.exits[pid] = (status, Usage(utime, stime, maxrss))
        return kind, pid, status, utime, stime, maxrss, (fds[0] if fds else None)


TEMPLATE: Template | None = None
REQUESTS = protocol.Reader(0)  # the supervisor's messages


# ---------------------------------------------------------------- monitor side


class Monitor:
    """Runs one sample: starts the candidate, relays requests, enforces limits.

    It runs in the zygote itself (no extra fork); the template forks the
    candidate into a fresh pid namespace, so it cannot see or signal either.
    """

    def __init__(self, start: dict, body: bytes, own_pidns: bool) -> None:
        self.start = start
        self.body = body  # the start message as it came, for the candidate to parse
        self.limits = start.get("limits", {})
        self.own_pidns = own_pidns  # asked for; the template says whether it got one
        self.buffer = protocol.MessageBuffer()
        self.read_offsets = {"stdout": 0, "stderr": 0}
        self.candidate = 0
        self.pidfd = -1
        self.exit_status: int | None = None
        self.rusage = None
        self.fds: list[int] = []
        self.rss_seen: int | None = None  # peak memory as of the last read from the reply pipe
        # the run's last answer, sent with "done" once the candidate is cleared away (one wake-up for the supervisor)
        self.final: dict | None = None
        # lock-step batches of cost measurements: each call's CPU time is its own window
        self.windows = bool(start.get("windows")) and not start.get("stream")

    def run(self) -> None:
        workdir = os.path.join(WORK_ROOT, "run")
        io_dir = os.path.join(WORK_ROOT, "io")
        if dirty():
            clean_workdir()
        os.makedirs(workdir, exist_ok=True)
        os.makedirs(io_dir, exist_ok=True)
        for name, content in (self.start.get("files") or {}).items():
            if os.path.basename(name) != name or name in ("", ".", ".."):
                raise ValueError("file names must be plain names, got %r" % name)
            with open(os.path.join(workdir, name), "w", encoding="utf-8") as handle:
                handle.write(content)
        stdin_path = os.path.join(io_dir, "stdin")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        stdin_fd = os.open(stdin_path, flags, 0o600)
        os.write(stdin_fd, (self.start.get("stdin") or "").encode("utf-8", "surrogateescape"))
        os.close(stdin_fd)
        stdin_fd = os.open(stdin_path, os.O_RDONLY)
        stdout_fd = os.open(os.path.join(io_dir, "stdout"), flags, 0o600)
        stderr_fd = os.open(os.path.join(io_dir, "stderr"), flags, 0o600)
        self.out_fds = {
            "stdout": os.open(os.path.join(io_dir, "stdout"), os.O_RDONLY),
            "stderr": os.open(os.path.join(io_dir, "stderr"), os.O_RDONLY),
        }
        self.fds += list(self.out_fds.values())
        req_r, self.req_w = os.pipe()
        self.rep_r, rep_w = os.pipe()
        self.fds += [self.req_w, self.rep_r]
        assert TEMPLATE is not None
        try:
            pid, self.pidfd, self.own_pidns = TEMPLATE.spawn(self.body, [req_r, rep_w, stdin_fd, stdout_fd, stderr_fd], self.own_pidns)
        finally:
            for fd in (req_r, rep_w, stdin_fd, stdout_fd, stderr_fd):
                os.close(fd)
        self.fds.append(self.pidfd)
        self.candidate = pid
        try:
            self.status_fd = os.open("/proc/%d/status" % pid, os.O_RDONLY)
            self.fds.append(self.status_fd)
        except OSError:
            self.status_fd = None
        try:
            self.clear_refs_fd = os.open("/proc/%d/clear_refs" % pid, os.O_WRONLY)
            self.fds.append(self.clear_refs_fd)
        except OSError:
            self.clear_refs_fd = None
        os.set_blocking(self.rep_r, False)
        try:
            if self.start.get("exec"):
                self.relay_exec(workdir)
            else:
                self.relay_calls()
        finally:
            self.kill()
            for fd in self.fds:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def relay_exec(self, workdir: str) -> None:
        reply = self.await_exit(self.limits.get("cpu_seconds", 4.0), self.limits.get("wall_seconds", 12.0))
        reply["files"] = self.collect(workdir, self.start.get("collect") or [])
        self.final = reply

    def relay_calls(self) -> None:
        # Read only now that the candidate exists; it was forked from the template, which never sees them.
        expect = self.read_expectations() if self.start.get("expect") else None
        load = self.await_reply(self.limits.get("cpu_seconds", 4.0), self.limits.get("wall_seconds", 12.0))
        if "calls" in self.start and self.start.get("stream"):
            loaded = load.get("status") == "ok" and load.get("alive")
            replies = self.collect_stream(self.start["calls"], expect=expect) if loaded else []
            answer = {"load": load, "calls": replies}
            if expect is not None and replies and replies[-1].get("stopped"):
                answer["stopped"] = len(replies) - 1
            if not self.start.get("open"):
                self.final = answer
                return
            protocol.write_message(1, answer)
            self.relay_requests()  # the supervisor may stream more calls to this candidate
            return
        if "calls" in self.start:
            # batch: every call in one request, every reply in one answer
            replies = []
            for request in self.start["calls"]:
                if self.exit_status is not None or load.get("status") != "ok":
                    break
                replies.append(self.call(request))
                if not replies[-1]["alive"]:
                    break
            self.final = {"load": load, "calls": replies}
            return
        protocol.write_message(1, load)
        self.relay_requests()

    def relay_requests(self) -> None:
        """Lock-step: one call at a time, or a further streamed batch ("calls")."""
        while self.exit_status is None:
            request = REQUESTS.message()
            op = request.get("op")
            if op == "call":
                protocol.write_message(1, self.call(request))
            elif op == "calls" and isinstance(request.get("calls"), list):
                cpu_start, started = cpu_clock_ns(self.candidate), time.monotonic_ns()
                try:
                    protocol.write_message(self.req_w, {"op": "calls", "calls": request["calls"]})
                except OSError:
                    pass  # the candidate is gone; await_reply reports how
                protocol.write_message(1, {"calls": self.collect_stream(request["calls"], cpu_start, started)})
            else:
                break

    def read_expectations(self) -> dict:
        """{call index: expected plain-data value}: the calls to stop at if they answer otherwise."""
        message = REQUESTS.message()
        if not isinstance(message, dict) or message.get("op") != "expect" or not isinstance(message.get("values"), list):
            raise protocol.ProtocolError("expected the calls' expected values")
        return {pair[0]: pair[1] for pair in message["values"] if isinstance(pair, list) and len(pair) == 2 and type(pair[0]) is int}

    def collect_stream(self, calls: list, cpu_start: int | None = None, started: int | None = None, expect: dict | None = None) -> list:
        """Replies of a streamed batch: the candidate runs the calls back to back.

        Each call's CPU time and wall time run from the moment the previous
        reply was seen (the first: from ``cpu_start``/``started`` if given) to
        the moment its own is; peak memory is the process's peak so far (the
        candidate does not wait between calls, so there is no moment to reset it).

        With ``expect`` (stop at the first failure), the candidate is stopped
        at the first call that raises, or whose plain-data answer differs from
        the expected one given for it; that reply is marked ``stopped``. This
        only decides where to stop: the supervisor judges every reply, and
        runs the rest on a fresh candidate if the answer was right after all
        (the same value written differently, e.g. a set in another order).
        """
        replies: list = []
        for index, request in enumerate(calls):
            cpu = request.get("cpu_seconds", self.limits.get("cpu_seconds", 4.0))
            wall = request.get("wall_seconds", self.limits.get("wall_seconds", 12.0))
            reply = self.await_reply(cpu, wall, cpu_start, started)
            replies.append(reply)
            cpu_start = started = None
            if not reply["alive"]:
                break
            if expect is not None and index + 1 < len(calls) and self.answered_otherwise(reply, index, expect):
                self.kill()
                reply["stopped"] = True
                reply["alive"] = False
                break
        return replies

    @staticmethod
    def answered_otherwise(reply: dict, index: int, expect: dict) -> bool:
        if reply.get("status") != "ok":
            return True  # an exception or an unencodable value fails under every comparison
        if index not in expect:
            return False  # compared another way (tolerance, checker): judged outside only
        try:
            return bool(reply.get("value") != expect[index])
        except Exception:  # e.g. nesting too deep to compare here: let the supervisor judge
            return False

    def await_exit(self, cpu_limit: float, wall_limit: float) -> dict:
        """Wait for an exec'd program to finish, within its limits."""
        pid = self.candidate
        started = time.monotonic_ns()
        deadline = started + int(wall_limit * 1e9)
        cpu_budget = int(cpu_limit * 1e9)
        output_cap = int(self.limits.get("output_bytes", 1 << 20))
        interval = POLL_MIN
        verdict = None
        exit_fd = self.pidfd
        while not self.poll_exit():
            cpu = cpu_clock_ns(pid)
            if cpu is not None and cpu > cpu_budget:
                verdict = {"status": "timeout", "message": "CPU time limit of %.3gs exceeded" % cpu_limit}
            elif time.monotonic_ns() > deadline:
                verdict = {"status": "timeout", "message": "wall-clock limit of %.3gs exceeded" % wall_limit}
            elif self.output_size() > output_cap:
                verdict = {"status": "output_limit", "message": "printed more than %d bytes" % output_cap}
            if verdict is not None:
                self.kill()
                break
            # the reply pipe closed at exec: wait on the process itself
            if exit_fd is not None:
                select.select([exit_fd], [], [], interval)
            else:
                time.sleep(interval)
            interval = min(POLL_MAX, interval * 2)
        wall_used = time.monotonic_ns() - started
        if verdict is None:
            status = self.exit_status
            if os.WIFEXITED(status):
                verdict = {"status": "exited", "exit_code": os.WEXITSTATUS(status)}
            else:
                verdict = self.classify_exit()
        usage = self.rusage
        verdict["cpu_ns"] = int((usage.ru_utime + usage.ru_stime) * 1e9) if usage is not None else 0
        verdict["wall_ns"] = wall_used
        verdict["peak_rss"] = usage.ru_maxrss * 1024 if usage is not None else 0
        verdict["stdout"], verdict["stdout_truncated"] = self.read_new("stdout")
        verdict["stderr"], verdict["stderr_truncated"] = self.read_new("stderr")
        verdict["alive"] = False
        return verdict

    def collect(self, workdir: str, names: list) -> dict:
        files = {}
        for name in names:
            path = os.path.join(workdir, os.path.basename(str(name)))
            try:
                with open(path, "rb") as handle:
                    files[str(name)] = handle.read(4 << 20).decode("utf-8", "replace")
            except OSError:
                files[str(name)] = None
        return files

    def call(self, request: dict) -> dict:
        self.reset_peak_rss()
        # the clock starts before the request leaves: a short call may finish
        # before we would otherwise have read it
        cpu_start = cpu_clock_ns(self.candidate)
        started = time.monotonic_ns()
        try:
            protocol.write_message(self.req_w, request)
        except OSError:
            pass  # the candidate is gone; await_reply reports how
        cpu = request.get("cpu_seconds", self.limits.get("cpu_seconds", 4.0))
        wall = request.get("wall_seconds", self.limits.get("wall_seconds", 12.0))
        return self.await_reply(cpu, wall, cpu_start, started)

    def reset_peak_rss(self) -> None:
        self.rss_seen = None
        if self.clear_refs_fd is not None:
            try:
                os.write(self.clear_refs_fd, b"5")
            except OSError:
                pass

    def peak_rss(self) -> int:
        if self.status_fd is None:
            return 0
        try:
            text = os.pread(self.status_fd, 4096, 0)
        except OSError:
            return 0
        start = text.find(b"VmHWM:")
        if start < 0:
            return 0
        try:
            return int(text[start + 6 : text.index(b"kB", start)].strip()) * 1024
        except ValueError:
            return 0

    def kill(self) -> None:
        """Kill the candidate's whole tree. Reaped later, without waiting here."""
        if self.exit_status is not None:
            return
        try:
            if self.own_pidns:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)  # PID 1 of its namespace: all die
            else:
                os.killpg(self.candidate, signal.SIGKILL)
        except OSError:
            pass
        self.exit_status = -1

    def poll_exit(self, timeout: float = 0.0) -> bool:
        """Has the candidate ended? Once it has, the template's record of it is awaited."""
        if self.exit_status is not None:
            return True
        ready, _, _ = select.select([self.pidfd], [], [], timeout)
        if not ready:
            return False
        ended = TEMPLATE.exit_of(self.candidate, 5.0) if TEMPLATE is not None else None
        if ended is None:
            raise RuntimeError("the template did not report candidate %d's end" % self.candidate)
        self.exit_status, self.rusage = ended
        return True

    def await_reply(self, cpu_limit: float, wall_limit: float, cpu_start: int | None = None, started: int | None = None) -> dict:
        pid = self.candidate
        started = started if started is not None else time.monotonic_ns()
        if cpu_start is None:
            cpu_start = cpu_clock_ns(pid)
        cpu_start = cpu_start or 0
        cpu_used = 0
        deadline = started + int(wall_limit * 1e9)
        cpu_budget = int(cpu_limit * 1e9)
        output_cap = int(self.limits.get("output_bytes", 1 << 20))
        interval = POLL_MIN
        verdict = None
        message = None
        window: dict[str, int] = {}
        try:
            message = self.buffer.pop()  # a streamed reply may be here already
        except protocol.ProtocolError as exc:
            verdict = {"status": "crash", "message": "candidate corrupted its reply channel: %s" % exc}
        while message is None and verdict is None:
            readable, _, _ = select.select([self.rep_r], [], [], interval)
            if readable:
                try:
                    chunk = os.read(self.rep_r, 65536)
                except BlockingIOError:
                    chunk = b""
                except OSError:
                    chunk = b""
                if chunk:
                    self.buffer.feed(chunk)
                    self.rss_seen = None
                    try:
                        message = self.buffer.pop()
                        while self.windows and isinstance(message, dict) and message.get("mark") in ("start", "end") and len(message) == 1:
                            self.window_mark(window, message["mark"])
                            message = self.buffer.pop()
                    except protocol.ProtocolError as exc:
                        verdict = {"status": "crash", "message": "candidate corrupted its reply channel: %s" % exc}
                    if message is not None or verdict is not None:
                        break
                    continue
                if self.poll_exit() or not chunk:
                    # EOF: the candidate closed its end or died
                    self.poll_exit(0.001) or self.kill()
                    verdict = self.classify_exit()
                    break
            now_cpu = cpu_clock_ns(pid)
            if now_cpu is not None:
                cpu_used = now_cpu - cpu_start
            if self.poll_exit():
                verdict = self.classify_exit()
                break
            if cpu_used > cpu_budget:
                verdict = {"status": "timeout", "message": "CPU time limit of %.3gs exceeded" % cpu_limit}
                break
            if time.monotonic_ns() > deadline:
                verdict = {"status": "timeout", "message": "wall-clock limit of %.3gs exceeded (CPU used %.3gs)" % (wall_limit, cpu_used / 1e9)}
                break
            if self.output_size() > output_cap:
                verdict = {"status": "output_limit", "message": "printed more than %d bytes" % output_cap}
                break
            interval = next_poll(interval, cpu_budget - cpu_used, deadline - time.monotonic_ns())
        now_cpu = cpu_clock_ns(pid)
        if now_cpu is not None:
            cpu_used = now_cpu - cpu_start
        wall_used = time.monotonic_ns() - started
        if self.rss_seen is None or verdict is not None:
            # replies that came in one read share one look at the peak (streamed, it is the peak so far)
            self.rss_seen = self.peak_rss()
        rss = self.rss_seen
        sizes = self.output_sizes()
        if verdict is None and sum(sizes) > output_cap:
            verdict = {"status": "output_limit", "message": "printed more than %d bytes" % output_cap}
        marks = None
        if verdict is not None:
            self.kill()
            reply = verdict
        elif not isinstance(message, dict) or message.get("status") not in ("ok", "exception", "unencodable"):
            reply = {"status": "crash", "message": "candidate forged its reply channel"}
        else:
            reply = {key: message[key] for key in ("status", "value", "exc", "message") if key in message}
            marks = message.get("marks")
        if not (isinstance(marks, list) and len(marks) == 2 and all(type(m) is int for m in marks)):
            marks = (None, None)
        reply["cpu_ns"] = cpu_used
        if "start" in window:
            # the call alone: from the function's start to its return (or to the reply, if it raised)
            end = window.get("end", cpu_start + cpu_used)
            reply["cpu_ns"] = max(0, end - window["start"])
            reply["cpu_before_ns"] = max(0, window["start"] - cpu_start)  # decoding the arguments
            reply["cpu_after_ns"] = max(0, cpu_start + cpu_used - end)  # encoding the result
        reply["wall_ns"] = wall_used
        reply["peak_rss"] = rss
        reply["stdout"], reply["stdout_truncated"] = self.read_new("stdout", marks[0], sizes[0])
        reply["stderr"], reply["stderr_truncated"] = self.read_new("stderr", marks[1], sizes[1])
        reply["alive"] = self.exit_status is None
        return reply

    def window_mark(self, window: dict, name: str) -> None:
        """A call's start or end: read the clock, then let the candidate go on."""
        if name not in window and (name == "start" or "start" in window):
            window[name] = cpu_clock_ns(self.candidate) or 0
        try:
            protocol.write_message(self.req_w, {"op": "go"})
        except OSError:
            pass

    def classify_exit(self) -> dict:
        status = self.exit_status
        if status is None:
            return {"status": "crash", "message": "candidate closed its reply channel"}
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and self.sample_cpu_spent()):
                return {"status": "timeout", "message": "sample CPU budget exhausted"}
            if sig == signal.SIGKILL and self.output_size() > int(self.limits.get("output_bytes", 1 << 20)):
                return {"status": "output_limit", "message": "printed too much"}
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            if sig == signal.SIGKILL:
                return {"status": "memory", "message": "killed by SIGKILL (most likely the out-of-memory killer)"}
            return {"status": "crash", "message": "killed by signal %s" % name}
        code = os.WEXITSTATUS(status)
        return {"status": "crash", "message": "the program exited with code %d before the test finished" % code}

    def sample_cpu_spent(self) -> bool:
        if self.rusage is None:
            return False
        return self.rusage.ru_utime + self.rusage.ru_stime >= float(self.limits.get("sample_cpu_seconds", 60)) - 0.05

    def output_size(self) -> int:
        return sum(self.output_sizes())

    def output_sizes(self) -> tuple[int, int]:
        return os.fstat(self.out_fds["stdout"]).st_size, os.fstat(self.out_fds["stderr"]).st_size

    def read_new(self, stream: str, upto: int | None = None, size: int | None = None) -> tuple[str, bool]:
        """Output written since the last read (up to ``upto`` bytes into the file, if given;
        ``size``: the file's size, if just looked up)."""
        cap = int(self.limits.get("report_output_bytes", 8192))
        fd = self.out_fds[stream]
        offset = self.read_offsets[stream]
        if size is None:
            size = os.fstat(fd).st_size
        if upto is not None:
            size = min(size, max(upto, offset))
        if size <= offset:
            return "", False
        data = os.pread(fd, min(cap, size - offset), offset)
        self.read_offsets[stream] = size
        return data.decode("utf-8", "replace"), size - offset > cap


# ---------------------------------------------------------------- zygote


def tmp_skeleton() -> tuple[dict[str, frozenset], tuple[str, ...]]:
    """What /tmp holds before any candidate ran: the directories bubblewrap made
    for read-only binds of a Python or checkout living under /tmp (each with
    its entries), and those bind mounts. Empty unless such binds exist."""
    directories: dict[str, frozenset] = {}
    mounts: list[str] = []
    if SANDBOXED:
        pending = ["/tmp"]
        while pending:
            directory = pending.pop()
            entries = frozenset(os.listdir(directory)) - ({"assay-work"} if directory == "/tmp" else set())
            directories[directory] = entries
            for entry in entries:
                path = os.path.join(directory, entry)
                if os.path.ismount(path):
                    mounts.append(path)
                elif os.path.isdir(path) and not os.path.islink(path):
                    pending.append(path)
    return directories, tuple(mounts)


TMP_SKELETON: dict[str, frozenset] = {}
TMP_MOUNTS: tuple[str, ...] = ()


def dirty() -> bool:
    """Did the last candidate leave anything where the next one could see it?"""
    try:
        if os.listdir(os.path.join(WORK_ROOT, "run")):
            return True
        if not SANDBOXED:
            return False
        for directory, entries in (TMP_SKELETON or {"/tmp": frozenset()}).items():
            found = set(os.listdir(directory))
            if directory == "/tmp":
                found.discard("assay-work")
            if found != entries:
                return True
        if not all(os.path.ismount(mount) for mount in TMP_MOUNTS):
            return True
        return os.path.isdir("/dev/shm") and bool(os.listdir("/dev/shm"))
    except OSError:
        return True


def clean_workdir() -> None:
    def force(function, path, _exc):
        try:
            os.chmod(os.path.dirname(path), 0o700)
            os.chmod(path, 0o700)
            function(path)
        except OSError:
            pass

    kept = TMP_SKELETON if SANDBOXED else {}
    if kept and not (all(os.path.isdir(d) for d in kept) and all(os.path.ismount(m) for m in TMP_MOUNTS)):
        # a bind's directory was moved: this sandbox cannot be made clean again
        raise RuntimeError("a candidate moved the read-only binds under /tmp")
    for directory in kept:
        if directory != "/tmp":
            try:
                os.chmod(directory, 0o755)  # a candidate may have closed it
            except OSError:
                pass
    for scratch in SCRATCH + tuple(d for d in kept if d not in SCRATCH):
        try:
            entries = os.listdir(scratch)
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(scratch, entry)
            if entry in kept.get(scratch, ()) or os.path.ismount(path):
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, onerror=force)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass


def reap() -> None:
    """Collect what was reparented to us (we are a subreaper): a candidate's
    children when it had no pid namespace of its own, or a dead template.
    Candidates themselves are the template's children, and it reaps them."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def warm_candidate_path() -> None:
    """Run once here what candidates run, so that what Python builds on first
    use (compile() sets up the AST node types, ~1.3 ms) is built in the image
    candidates are forked from, not again in each of them."""
    source = "def warm(x):\n    return [x][1]\n"
    namespace = {"__name__": "__warm__", "__builtins__": builtins}
    linecache.cache[CANDIDATE_FILE] = (len(source), None, source.splitlines(True), CANDIDATE_FILE)
    exec(compile(source, CANDIDATE_FILE, "exec"), namespace)
    try:
        namespace["warm"](codec.decode(codec.encode(1)))
    except IndexError as exc:
        describe_exception(exc)
    linecache.cache.pop(CANDIDATE_FILE, None)


def keep_to_cpu() -> None:
    """``--cpu N``: this process, and so the template and every candidate, run on CPU N only."""
    if "--cpu" in sys.argv:
        try:
            os.sched_setaffinity(0, {int(sys.argv[sys.argv.index("--cpu") + 1])})
        except (ValueError, IndexError, OSError):
            pass  # an unusable CPU number leaves the kernel to place us


def main() -> None:
    keep_to_cpu()
    prewarm()
    warm_candidate_path()
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # Not dumpable: without ptrace rights (which the candidate has dropped) no
    # process can open our /proc entries (mem, fd/, environ), even with our uid.
    # Candidates inherit the flag, so their own entries are closed the same way.
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY) if probe_pid_namespace() else None
    drop_bounding_set()
    # Sweeping is only safe inside a pid namespace of our own.
    in_sandbox = SANDBOXED
    global TMP_SKELETON, TMP_MOUNTS
    TMP_SKELETON, TMP_MOUNTS = tmp_skeleton()
    # Objects that exist now are never traversed by the collector in a child,
    # so forking does not copy every page of the heap.
    global CANDIDATE_STREAMS
    CANDIDATE_STREAMS = candidate_streams()
    gc.collect()
    gc.freeze()
    global TEMPLATE
    TEMPLATE = Template(pidns_fd)
    protocol.write_message(1, {"op": "hello", "pid_namespace_per_run": pidns_fd is not None, "sandbox_pid": os.getpid(), "python": sys.version.split()[0]})
    while True:
        try:
            body = REQUESTS.body()
            request = protocol.parse_body(body)
        except protocol.ProtocolError:
            return
        if request.get("op") == "exit":
            return
        if request.get("op") != "start":
            continue  # e.g. an "end" for a sample whose candidate already died
        reap()
        failure = None
        monitor = Monitor(request, body, pidns_fd is not None)
        try:
            monitor.run()
        except protocol.ProtocolError:
            return  # the supervisor is gone
        except BaseException as exc:  # the monitor failing is an infrastructure error
            failure = "monitor failed: %r" % (exc,)
        strays = sweep_strays() if in_sandbox and pidns_fd is None else 0
        last = [monitor.final] if monitor.final is not None else []
        if failure:
            last.append({"status": "infra_error", "message": failure})
        protocol.write_message(1, *last, {"op": "done", "strays": strays})


if __name__ == "__main__":
    main()
