"""Measure one function call of a program, and nothing else.

Run as a script (standard library only, any Python >= 3.8, ``-S`` is fine):

    python -S call_harness.py MODE < frames

Jobs arrive as frames on stdin (see "jobs" below; a server can keep the
process and send more). For each job the harness forks a *job process* that
executes the program source once, then forks an *input process* per input,
so every measurement starts from the same state and no call sees another's
caches or mutations. Results are lines on the original stdout, each a Python literal (a dict); the
program's own stdout/stderr go to /dev/null.

Modes:

``valgrind-pair`` (the process runs under ``valgrind --tool=cachegrind``)
    Per input, the input process forks child A, which calls an empty function
    with the same arguments, waits for it, then forks child B, which calls the
    real function. Both leave immediately through ``os._exit`` after forking a
    grandchild that reports the result digest. Valgrind's counters are copied
    into forked children, so each child's final count is (job process count at
    fork) + (its own work): count(B) - count(A) is the cost of the call, minus
    the cost of an empty call, plus the input process's fixed work between the
    two forks, which a first pair of two empty calls measures
    (``calibration``, once per harness process: it is the same for every
    program and input). Interpreter start-up, imports, program loading and
    argument decoding are all before the forks and cancel out.
``interpreter-events`` (Python >= 3.12)
    Counts ``sys.monitoring`` INSTRUCTION events (bytecodes executed) during
    the call, in a forked child; an empty call is measured the same way.
``perf`` (hardware counters through perf_event_open, where the kernel has them)
    Counts user-space instructions retired during the call, in a forked child.
``rss`` / ``tracemalloc``
    Peak resident memory of the call (VmHWM after resetting it through
    /proc/self/clear_refs, minus VmRSS before the call), or the Python heap
    peak from tracemalloc, in a forked child.
"""

from __future__ import annotations

import gc
import os
import select
import sys
import time

# Imports are chosen for start-up cost under Valgrind (measured, instructions
# added to `python -S -c pass`): json +35 M, ast +45 M, signal +25 M,
# pickle.py +37 M, hashlib +12 M; _pickle +18 M, _sha256 +0.7 M. So: records
# are Python literals, not JSON; the C modules are used directly; ast is
# imported only for literal inputs.
try:
    import _pickle as pickle
except ImportError:  # pragma: no cover - other implementations
    import pickle
try:
    from _sha256 import sha256 as _sha256  # CPython <= 3.11
except ImportError:  # pragma: no cover - depends on the interpreter
    try:
        from _sha2 import sha256 as _sha256  # CPython >= 3.12
    except ImportError:
        from hashlib import sha256 as _sha256

SIGKILL = 9
# Every measured call starts from the same random state: a randomized
# algorithm (Miller-Rabin with random witnesses, say) would otherwise count
# differently in every run, since ``random`` reseeds from os.urandom after
# each fork. Done in both children of a pair, so the seeding cancels out.
RANDOM_SEED = 20240531

MODES = ("valgrind-pair", "interpreter-events", "perf", "rss", "tracemalloc")
MAX_MESSAGE = 300

_out_fd = -1  # the private result channel (a dup of the original stdout)


# ------------------------------------------------------------ plain digest


def plain(value, depth=0):
    """A deterministic, builtin-only rendering of a return value.

    Exact type checks, so a subclass with a forged ``__eq__``/``__repr__``
    renders as its type name only. Sets and dicts are sorted so the result
    does not depend on the hash seed.
    """
    if depth > 100:
        return ("<deep>",)
    kind = type(value)
    if value is None or kind in (bool, int, str, bytes):
        return value
    if kind is float:
        return ("float", repr(value))
    if kind is complex:
        return ("complex", repr(value))
    if kind is list or kind is tuple:
        return (kind.__name__, [plain(v, depth + 1) for v in value])
    if kind is set or kind is frozenset:
        return (kind.__name__, sorted((plain(v, depth + 1) for v in value), key=repr))
    if kind is dict:
        items = [(plain(k, depth + 1), plain(v, depth + 1)) for k, v in value.items()]
        return ("dict", sorted(items, key=repr))
    return ("<%s>" % kind.__name__,)


def result_digest(value):
    """SHA-256 of ``repr(plain(value))``; the same on both sides of the sandbox."""
    return _sha256(repr(plain(value)).encode("utf-8", "backslashreplace")).hexdigest()


# ------------------------------------------------------------ I/O helpers


def _emit(record, fd=None):
    """Send a record (a dict of str, int, bool, None) as a Python literal line."""
    data = (repr(record) + "\n").encode()
    target = _out_fd if fd is None else fd
    while data:
        written = os.write(target, data)
        data = data[written:]


def _describe(exc):
    text = "%s: %s" % (type(exc).__name__, exc)
    return text[:MAX_MESSAGE]


def decode_args(payload):
    """Arguments from a Python literal (str) or a pickle (bytes): a tuple."""
    if isinstance(payload, (bytes, bytearray)):
        args = pickle.loads(payload)
    elif isinstance(payload, str):
        import ast

        args = ast.literal_eval(payload)
    else:
        args = payload
    if isinstance(args, list):
        args = tuple(args)
    if not isinstance(args, tuple):
        raise TypeError("arguments must decode to a tuple, got %s" % type(args).__name__)
    return args


_BASELINES = {}


def baseline_function(arity):
    """An empty function taking ``arity`` positional parameters.

    Subtracting a call to it removes the cost of the call itself (argument
    binding, frame set-up), which differs between ``f(*args)`` with a
    varargs function and one with plain parameters.
    """
    fn = _BASELINES.get(arity)
    if fn is None:
        params = ", ".join("a%d" % i for i in range(arity))
        namespace = {}
        exec("def baseline(%s):\n    return None\n" % params, namespace)
        fn = _BASELINES[arity] = namespace["baseline"]
    return fn


def _wait(pid, deadline):
    """Wait for ``pid`` until ``deadline``; kill its process group after that.

    Returns (status, detail): ("exited", code), ("signaled", signo) or
    ("timeout", None).
    """
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            if os.WIFSIGNALED(status):
                return "signaled", os.WTERMSIG(status)
            return "exited", os.WEXITSTATUS(status)
        if time.monotonic() >= deadline:
            for target in (-pid, pid):
                try:
                    os.kill(target, SIGKILL)
                except OSError:
                    pass
            os.waitpid(pid, 0)
            return "timeout", None
        time.sleep(0.002)


def _report(role, ok, count, text):
    """A child's report to its parent: one tab-separated line."""
    text = str(text).replace("\t", " ").replace("\n", " ")[:MAX_MESSAGE]
    return ("%s\t%d\t%s\t%s\n" % (role, 1 if ok else 0, "-" if count is None else count, text)).encode()


def _parse_report(line):
    parts = line.decode("utf-8", "replace").split("\t", 3)
    if len(parts) != 4:
        return None
    role, ok, count, text = parts
    record = {"role": role, "ok": ok == "1"}
    if count != "-":
        try:
            record["count"] = int(count)
        except ValueError:
            return None
    if record["ok"]:
        record["digest"] = text or None
    else:
        record["error"] = text
    return record


def _read_lines(fd, deadline):
    """Read report lines from ``fd`` until EOF or ``deadline``."""
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            break
        data = os.read(fd, 65536)
        if not data:
            break
        chunks.append(data)
    os.close(fd)
    records = []
    for line in b"".join(chunks).splitlines():
        record = _parse_report(line)
        if record is not None:
            records.append(record)
    return records


def _outcome(proc_status, detail, records, role):
    """Combine the child's exit with its grandchild's report."""
    if proc_status == "timeout":
        return {"status": "timeout"}
    if proc_status == "signaled":
        return {"status": "crash", "error": "killed by signal %d" % detail}
    mine = [r for r in records if r.get("role") == role]
    if len(mine) != 1:
        return {"status": "crash", "error": "no result from the measured call (exit code %s)" % detail}
    report = mine[0]
    if report.get("ok"):
        return {"status": "ok", "digest": report.get("digest")}  # None unless verified
    return {"status": "error", "error": report.get("error")}


# ------------------------------------------------------ valgrind-pair mode


_OK_LINES = {role: _report(role, True, None, "") for role in ("a", "b")}


def _fixed_random_state():
    # imported here if the program has not (it may import it inside the call,
    # which would then seed it from urandom)
    module = sys.modules.get("random")
    if module is None:
        import random as module
    try:
        module.seed(RANDOM_SEED)
    except Exception:  # noqa: BLE001 - the candidate may have replaced it; its count, its loss
        pass


def _pair_child(fn, args, wfd, role, verify):
    """Runs in A or B: call, report, leave at once (the count stops here).

    With ``verify``, a forked reporter sends the result's digest, so the
    digest's own cost is not counted; without, a successful call reports one
    fixed line, the same in A and B.
    """
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    _fixed_random_state()
    try:
        result = fn(*args)
        ok = True
    except BaseException as exc:  # noqa: BLE001 - everything is the candidate's
        result = exc
        ok = False
    if not verify:
        if ok:
            os.write(wfd, _OK_LINES[role])
        else:
            os.write(wfd, _report(role, False, None, _describe(result)))
        os._exit(0)
    reporter = os.fork()
    if reporter == 0:
        try:
            if ok:
                os.write(wfd, _report(role, True, None, result_digest(result)))
            else:
                os.write(wfd, _report(role, False, None, _describe(result)))
        finally:
            os._exit(0)
    os._exit(0)


def _measure_pair(fa, fb, args, timeout, verify=True):
    rfd, wfd = os.pipe()
    pa = os.fork()
    if pa == 0:
        os.close(rfd)
        _pair_child(fa, args, wfd, "a", verify)
    os.waitpid(pa, 0)
    pb = os.fork()
    if pb == 0:
        os.close(rfd)
        _pair_child(fb, args, wfd, "b", verify)
    os.close(wfd)
    deadline = time.monotonic() + timeout
    proc_status, detail = _wait(pb, deadline)
    records = _read_lines(rfd, max(deadline, time.monotonic() + 5.0))
    result = {"a": pa, "b": pb}
    result.update(_outcome(proc_status, detail, records, "b"))
    return result


def _run_valgrind_pair(fn, args, timeout, verify):
    """In an input process: measure the call against an empty one."""
    return _measure_pair(baseline_function(len(args)), fn, args, timeout, verify)


def _calibration_process(timeout):
    """A pair of empty calls: the input process's own work between the forks."""
    gc.collect()
    base = baseline_function(0)
    _emit({"calibration": _measure_pair(base, base, (), timeout)})


# ------------------------------------------------ in-child counting modes


def _count_events(fn, args):
    monitoring = sys.monitoring  # Python >= 3.12
    tool = monitoring.PROFILER_ID
    if monitoring.get_tool(tool) is not None:
        monitoring.free_tool_id(tool)
    monitoring.use_tool_id(tool, "assay")
    counter = [0]

    def on_instruction(code, offset):
        counter[0] += 1

    monitoring.register_callback(tool, monitoring.events.INSTRUCTION, on_instruction)
    events = monitoring.events.INSTRUCTION
    monitoring.set_events(tool, events)
    try:
        result = fn(*args)
    finally:
        still_on = monitoring.get_events(tool) == events
        monitoring.set_events(tool, 0)
    if not still_on:
        raise RuntimeError("the measured code changed the interpreter's monitoring state")
    return counter[0], result


class PerfCounter:
    """User-space instructions retired, through perf_event_open (ctypes)."""

    _SYSCALL = {"x86_64": 298, "aarch64": 241}
    _ENABLE, _DISABLE, _RESET = 0x2400, 0x2401, 0x2403

    def __init__(self):
        import ctypes
        import platform
        import struct

        self._struct = struct
        number = self._SYSCALL.get(platform.machine())
        if number is None:
            raise OSError("perf_event_open: unknown syscall number on %s" % platform.machine())
        libc = ctypes.CDLL(None, use_errno=True)
        # struct perf_event_attr, PERF_ATTR_SIZE_VER0 (64 bytes):
        # type, size, config, sample_period, sample_type, read_format, flags,
        # wakeup_events, bp_type, config1
        flags = (1 << 0) | (1 << 5) | (1 << 6)  # disabled, exclude_kernel, exclude_hv
        attr = struct.pack("=IIQQQQQIIQ", 0, 64, 1, 0, 0, 0, flags, 0, 0, 0)  # HARDWARE, INSTRUCTIONS
        buf = ctypes.create_string_buffer(attr, 64)
        libc.syscall.restype = ctypes.c_long
        fd = libc.syscall(number, buf, 0, -1, -1, 8)  # this thread, any cpu, no group, CLOEXEC
        if fd < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, "perf_event_open: " + os.strerror(errno))
        self.fd = fd
        self._ioctl = libc.ioctl

    def start(self):
        self._ioctl(self.fd, self._RESET, 0)
        self._ioctl(self.fd, self._ENABLE, 0)

    def stop(self):
        self._ioctl(self.fd, self._DISABLE, 0)
        return self._struct.unpack("=Q", os.read(self.fd, 8))[0]


def _count_perf(fn, args):
    counter = PerfCounter()
    counter.start()
    try:
        result = fn(*args)
    finally:
        count = counter.stop()
    return count, result


def _read_status_kb(field, fd=None):
    """A field of /proc/self/status in kB (reads through ``fd`` if given)."""
    if fd is None:
        with open("/proc/self/status", "rb") as status:
            data = status.read()
    else:
        data = os.pread(fd, 8192, 0)
    key = field.encode() + b":"
    for line in data.splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    raise OSError("no %s in /proc/self/status" % field)


def _count_rss(fn, args):
    """Peak RSS added by the call: VmHWM (reset just before) minus VmRSS then.

    The status file is opened and read once before the reset, so reading it
    afterwards touches no new memory.
    """
    status_fd = os.open("/proc/self/status", os.O_RDONLY)
    clear_fd = os.open("/proc/self/clear_refs", os.O_WRONLY)
    try:
        _read_status_kb("VmHWM", status_fd)
        os.write(clear_fd, b"5")
        before = _read_status_kb("VmRSS", status_fd)
        result = fn(*args)
        peak = _read_status_kb("VmHWM", status_fd)
    finally:
        os.close(status_fd)
        os.close(clear_fd)
    return max(0, peak - before) * 1024, result


def _count_tracemalloc(fn, args):
    import tracemalloc

    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        result = fn(*args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return max(0, peak - base), result


_COUNTERS = {
    "interpreter-events": _count_events,
    "perf": _count_perf,
    "rss": _count_rss,
    "tracemalloc": _count_tracemalloc,
}


def _in_child(counter, fn, args, timeout):
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            try:
                os.setpgid(0, 0)
            except OSError:
                pass
            try:
                count, result = counter(fn, args)
                line = _report("x", True, count, result_digest(result))
            except BaseException as exc:  # noqa: BLE001
                line = _report("x", False, None, _describe(exc))
            os.write(wfd, line)
        finally:
            os._exit(0)
    os.close(wfd)
    deadline = time.monotonic() + timeout
    proc_status, detail = _wait(pid, deadline)
    records = _read_lines(rfd, max(deadline, time.monotonic() + 5.0))
    outcome = _outcome(proc_status, detail, records, "x")
    if outcome["status"] == "ok":
        outcome["count"] = [r for r in records if r.get("role") == "x"][0]["count"]
    return outcome


def _run_counting(mode, fn, args, timeout):
    """In an input process: the call and an empty call, each in its own child."""
    counter = _COUNTERS[mode]
    record = _in_child(counter, fn, args, timeout)
    if record.get("status") == "ok":
        base = _in_child(counter, baseline_function(len(args)), args, timeout)
        record["baseline"] = base.get("count")
    return record


# ------------------------------------------------------------------ jobs
#
# The wire format on stdin is a stream of frames (8-byte big-endian length,
# then the body). A job is a header frame (a pickled dict: source, function,
# timeout, n) followed by n input frames (b"S" + a Python literal of the
# argument tuple in UTF-8, or b"P" + a pickle of it).
#
# Canonical state: a count must depend only on (harness, program, input), not
# on which jobs or inputs a server handled before. So the server process never
# reads a job: it forks a job process, which reads the header and loads the
# program, and the job process never reads an input: it forks one input
# process per input, which reads its own frame. Each process reads exactly its
# frames (no read-ahead) into a preallocated buffer, and runs a warm-up cycle
# of its fork/wait loop first, so the first job and the thousandth start from
# the same heap and the same interpreter caches.


class _EndOfJobs(Exception):
    pass


def _read_exact(fd, size):
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = os.readv(fd, [view[got:]])
        if n == 0:
            raise _EndOfJobs()
        got += n
    view.release()
    return buf


def _read_frame(fd):
    size = int.from_bytes(_read_exact(fd, 8), "big")
    return _read_exact(fd, size)


def encode_frame(body):
    """A frame for the harness's stdin."""
    return len(body).to_bytes(8, "big") + body


def encode_input(payload):
    """The body of an input frame for a literal (str), pickle (bytes) or tuple."""
    if isinstance(payload, str):
        return b"S" + payload.encode("utf-8")
    if isinstance(payload, (bytes, bytearray)):
        return b"P" + bytes(payload)
    return b"P" + pickle.dumps(tuple(payload), protocol=4)


def _decode_input(body):
    kind, data = bytes(body[:1]), bytes(body[1:])
    if kind == b"S":
        return decode_args(data.decode("utf-8"))
    if kind == b"P":
        return decode_args(data)
    raise ValueError("unknown input frame kind %r" % kind)


_EXIT_NO_MORE_JOBS = 3
_STATUS_LINE = b"{'end': True, 'job_status': %6d}\n"


def _cycle(child, status_fd):
    """One fork/wait/report cycle; the same code runs for warm-up and for real."""
    pid = os.fork()
    if pid == 0:
        try:
            child()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    line = _STATUS_LINE % (status & 0xFFFF)
    os.write(status_fd, line)
    return status


def _noop():
    pass


def _input_process(mode, fn, timeout, index, verify):
    try:
        args = _decode_input(_read_frame(0))
    except _EndOfJobs:
        os._exit(0)
    except Exception as exc:  # noqa: BLE001
        _emit({"index": index, "status": "infra_error", "error": "bad input: " + _describe(exc)})
        return
    gc.collect()
    if mode == "valgrind-pair":
        record = _run_valgrind_pair(fn, args, timeout, verify)
    else:
        record = _run_counting(mode, fn, args, timeout)
    record["index"] = index
    _emit(record)


def _job_process(mode, devnull):
    """Read a job header, load the program, fork an input process per input."""
    try:
        header = pickle.loads(_read_frame(0))
    except _EndOfJobs:
        os._exit(_EXIT_NO_MORE_JOBS)
    n_inputs = int(header["n"])
    namespace = {"__name__": "__candidate__", "__builtins__": __builtins__}
    try:
        code = compile(header["source"], "<candidate>", "exec")
        exec(code, namespace)
        fn = namespace[header["function"]]
        if not callable(fn):
            raise TypeError("%s is not callable" % header["function"])
    except BaseException as exc:  # noqa: BLE001
        for _ in range(n_inputs):  # keep the stream in step
            _read_frame(0)
        _emit({"load_error": _describe(exc)})
        return
    timeout = float(header.get("timeout", 60.0))
    verify = bool(header.get("verify", True))
    _cycle(_noop, devnull)  # warm-up: the first input starts like the others
    for index in range(n_inputs):
        _cycle(lambda: _input_process(mode, fn, timeout, index, verify), devnull)


def main(argv):
    global _out_fd
    if len(argv) != 2 or argv[1] not in MODES:
        sys.stderr.write("usage: call_harness.py {%s} < frames\n" % ",".join(MODES))
        return 2
    mode = argv[1]
    _out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    _emit({"hello": os.getpid(), "mode": mode, "python": list(sys.version_info[:3])})
    if mode == "valgrind-pair":
        # the input process's own instructions between forking A and B are
        # the same for every program and input; measure them once
        _cycle(lambda: (_cycle(_noop, devnull), _cycle(lambda: _calibration_process(60.0), devnull)), devnull)
    _emit({"ready": True})
    for _ in range(2):
        _cycle(_noop, devnull)
    while True:
        status = _cycle(lambda: _job_process(mode, devnull), _out_fd)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == _EXIT_NO_MORE_JOBS:
            return 0
        if status != 0:
            # the job process died without finishing its frames: the stream
            # is out of step, so stop; the client starts a new harness
            return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
