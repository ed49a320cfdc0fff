"""The candidate side: what runs in a candidate process, forked from the template.

A candidate drops its capabilities, takes its pipes and std streams, sets its
limits, runs the program, then answers calls until the monitor stops it.
Everything here that a candidate would otherwise build at start (streams,
signal numbers, capability structs) is built once in the zygote instead.
"""

from __future__ import annotations

import _signal
import builtins
import io
import linecache
import os
import resource
import signal
import sys
import traceback

import codec
import protocol
from hardening import drop_capabilities

CANDIDATE_FILE = "<candidate>"


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
