"""A warm process that counts the instructions of calls, under callgrind: ``python -S counting_server.py``.

Not imported by assay: :mod:`assay.measure.counting` starts it (standard
library only, any CPython >= 3.8 on x86-64) inside the sandbox's isolation as

    valgrind --tool=callgrind --collect-atstart=no --log-fd=N
             --callgrind-out-file=/proc/self/fd/N --combine-dumps=yes ...
             python -S counting_server.py

and it lives as long as its meter. How a count is made:

* **Once per server** the process starts, imports what candidates commonly
  import, and runs a warm-up corpus of programs, so that valgrind has
  translated most of the interpreter paths a candidate will take (a fork
  inherits the translations; a path first taken in a child is translated
  there, at every measurement).
* **Once per job** (one program, one function, its inputs) it forks a child.
  Every child starts from the same state, so counts do not depend on the
  jobs before, the server's age, pids or load. The child locks itself down
  (see below), loads the program and makes each call inside a *collection
  region*: callgrind counts instructions only between a client request
  that switches collection on, right before the call, and one that switches
  it off, right after. Nothing else the process does is counted, so there
  is no baseline for a candidate to inflate. A fixed overhead (the
  requests themselves, measured once on an empty function) is subtracted.
* **The count leaves through valgrind**, never through the candidate's
  process: the child asks callgrind to dump its counters (``DUMP_STATS_AT``
  with a label naming the job's nonce, the call and its status), and the
  dump goes to fd N, which is valgrind's log pipe: valgrind refuses the
  client every system call on it, and the lockdown refuses opening it
  again through ``/proc``. The child then stops itself (SIGSTOP) and the
  server kills it (SIGKILL), so no exit handler runs and callgrind makes no
  final dump (valgrind turns a process's SIGKILL *of itself* into an orderly
  exit, final dump and all, which cost every job ~10 ms). The server
  answers on stdout only that the job ended.

The lockdown of a child, before the candidate is loaded:

* a seccomp filter refuses clone, fork and exec: callgrind collects per
  thread, so a thread's instructions would not be counted, nor a child
  process's;
* an audit hook (irremovable) refuses native code (ctypes, mmap, cffi), heap
  walks, profile and trace hooks, more audit hooks, signals to other
  processes, opening anything under ``/proc`` and ``/dev/fd``, and frames:
  ``sys._getframe`` and a traceback's, generator's or coroutine's frame
  raise an error that is both an AttributeError and a ValueError (the
  standard library's fallbacks for a missing ``_getframe`` catch it);
* the candidate's module becomes ``__main__``, and ``ctypes``, ``mmap`` and
  ``signal`` leave ``sys.modules`` (a signal handler is handed a frame).

So the candidate has no path to the server's functions that switch counting
on and off: no module, no frame, no heap walk leads there. What remains
possible (a guess at the address of the request stub, through a ctypes class
found by ``object.__subclasses__``) crashes the process on a wrong guess.

Protocol. stdin, per job: a fixed-size header "<nonce> <timeout>\\n" (24 hex
digits, wall seconds as %12.3f), read by the server, then a frame read by the
child: 16 hex digits giving the length of a JSON object {"nonce", "program",
"function", "each" (dump per call, else once), "verify" (indices of the calls
whose results' forms are digested, all mode), "inputs" (a byte count),
"code" (a byte count, 0 for none)} padded with spaces to BUFFER_FLOOR
bytes, the object, then that many bytes of
pickle (a list of argument tuples) and of marshal (version 2: the program
compiled by the host, when it runs this interpreter). The bulk is raw bytes
read into one buffer: decoding a JSON string or base64 costs valgrind's
slowdown on every byte (a 25 MB stress input cost more than its calls).
stdout: "ready" once, then "end <nonce> <how>" per job (how: ended, timeout,
crash, padded to 7). The host may SIGKILL a job's child itself (from outside
the sandbox: the server's only child) when the periodic dumps
(``--dump-every-bb``) show its count over the job's budget; the server sees
it end by SIGKILL, as always.
fd N: valgrind's log and every dump; a dump's label is
``assay <nonce> <index|all> <statuses> [<digest>]`` with one letter per
call (k ok, e error, m memory, r recursion); in all mode the digest of the
verified results' forms (``result_form.py``), or ``-``.
"""

import ctypes
import functools
import gc
import json
import marshal
import mmap
import os
import pickle
import random
import signal
import struct
import sys
from hashlib import sha256 as _sha256

from result_form import form as _form  # copied next to this file

# ---------------------------------------------------------------- client requests

# long request(unsigned long *args): valgrind's client-request sequence on x86-64
# (rdi rotated by 3, 13, 61, 51 then xchg rbx,rbx; rax points at the six words,
# rdx carries the answer); a no-op returning 0 when not under valgrind.
_STUB = bytes.fromhex("4889f8" "31d2" "48c1c703" "48c1c70d" "48c1c73d" "48c1c733" "4887db" "4889d0" "c3")
_CALLGRIND = (ord("C") << 24) | (ord("T") << 16)
DUMP_STATS_AT, TOGGLE_COLLECT = _CALLGRIND + 3, _CALLGRIND + 2
LABEL_BYTES = 240

# The stub sits on a page drawn at random among STUB_PAGES, so that its address cannot be guessed
# from one server to the next (untouched pages cost no memory).
STUB_PAGES = 4096
_page = mmap.mmap(-1, STUB_PAGES * mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
_offset = int.from_bytes(os.urandom(4), "little") % STUB_PAGES * mmap.PAGESIZE
_page.seek(_offset)
_page.write(_STUB)
_request = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_ulong)(ctypes.addressof(ctypes.c_char.from_buffer(_page)) + _offset)
STUB_ADDRESS = ctypes.cast(_request, ctypes.c_void_p).value
_label = ctypes.create_string_buffer(LABEL_BYTES)


def _words(code, arg=0):
    words = (ctypes.c_ulong * 6)(code, arg, 0, 0, 0, 0)
    return words, ctypes.addressof(words)


# one block of words per kind of request, so the audit hook tells them apart by address
_ON, TOGGLE_ON_ADDRESS = _words(TOGGLE_COLLECT)
_OFF, TOGGLE_OFF_ADDRESS = _words(TOGGLE_COLLECT)
_DUMP, DUMP_ADDRESS = _words(DUMP_STATS_AT, ctypes.addressof(_label))


def region_on():
    _request(TOGGLE_ON_ADDRESS)


def region_off():
    _request(TOGGLE_OFF_ADDRESS)


def dump(text):
    _label.value = text.encode("ascii", "replace")[: LABEL_BYTES - 1]
    _request(DUMP_ADDRESS)


# ---------------------------------------------------------------- the lockdown

AUDIT_DENIED = frozenset(
    [
        "mmap.__new__",
        "os.fork",
        "os.forkpty",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
        "subprocess.Popen",
        "pty.spawn",
        "sys.setprofile",
        "sys.settrace",
        "sys.addaudithook",
        "sys._current_frames",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "signal.pthread_kill",
        "os.killpg",
        "socket.__new__",
        "cpython.PyInterpreterState_Clear",
        "cpython.run_command",
    ]
)
# Modules a measured program cannot have: native code, processes, and signals (a handler is given a
# frame, and from any frame f_back leads to the server's own). Gone from sys.modules, refused on import.
UNAVAILABLE_MODULES = frozenset(["ctypes", "_ctypes", "mmap", "cffi", "_cffi_backend", "_posixsubprocess", "_xxsubinterpreters", "faulthandler", "signal", "_signal"])
SIGKILL, SIGSTOP = int(signal.SIGKILL), int(signal.SIGSTOP)
PRIVATE_PATHS = ("/proc", "/dev/fd", os.path.dirname(os.path.abspath(__file__)))

SECCOMP_SET_MODE_FILTER, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 1, 38, 22
AUDIT_ARCH_X86_64 = 0xC000003E
NR_CLONE, NR_FORK, NR_VFORK, NR_EXECVE, NR_EXECVEAT, NR_CLONE3 = 56, 57, 58, 59, 322, 435
EPERM, ENOSYS = 1, 38


def _bpf(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def _seccomp_program():
    """clone/fork/vfork/execve(at) fail with EPERM, clone3 with ENOSYS; another ABI is killed."""
    ld_w_abs, jeq_k, ret_k = 0x20, 0x15, 0x06
    allow, errno = 0x7FFF0000, 0x00050000
    program = [
        _bpf(ld_w_abs, 0, 0, 4),  # arch
        _bpf(jeq_k, 1, 0, AUDIT_ARCH_X86_64),
        _bpf(ret_k, 0, 0, 0x80000000),
        _bpf(ld_w_abs, 0, 0, 0),  # syscall number
        _bpf(jeq_k, 0, 1, NR_CLONE3),
        _bpf(ret_k, 0, 0, errno | ENOSYS),
    ]
    for nr in (NR_CLONE, NR_FORK, NR_VFORK, NR_EXECVE, NR_EXECVEAT):
        program += [_bpf(jeq_k, 0, 1, nr), _bpf(ret_k, 0, 0, errno | EPERM)]
    program.append(_bpf(ret_k, 0, 0, allow))
    filters = ctypes.create_string_buffer(b"".join(program))
    header = ctypes.create_string_buffer(struct.pack("HxxxxxxQ", len(program), ctypes.addressof(filters)))
    return filters, header


_SECCOMP = _seccomp_program()  # built once in the server, installed by every child
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def seccomp_no_processes():
    """No thread, process or exec from here on (a thread's or child's instructions would escape the count)."""
    if _prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if _prctl(PR_SET_SECCOMP, 2, ctypes.addressof(_SECCOMP[1]), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


class Refused(AttributeError, ValueError):
    """What a measured program gets for reaching for a frame: the standard library's own fallbacks catch it."""


FRAME_ATTRIBUTES = frozenset(["tb_frame", "gi_frame", "cr_frame", "ag_frame"])


def make_hook(own_pid):
    """The audit hook of a child: what a measured program may not do.

    No frame objects at all (``sys._getframe``, a traceback's, a
    generator's or coroutine's frame): from any frame, ``f_back`` leads to
    the server's own and to the requests that switch counting on and off.
    No native code, no heap walks, no processes, no signals to others, no
    more hooks, nothing under ``/proc``.
    """

    def hook(event, args):
        if type(event) is not str:
            raise PermissionError("unexpected audit event")
        if event == "object.__getattr__":
            if args[1] in FRAME_ATTRIBUTES:
                raise Refused("frames are not available to a measured program")
            return
        if event in ("sys._getframe", "sys._current_frames"):
            raise Refused("frames are not available to a measured program")
        if event.startswith("ctypes."):
            raise PermissionError("ctypes is not allowed in a measured program")
        if event in AUDIT_DENIED:
            raise PermissionError("%s is not allowed in a measured program" % event)
        if event == "import":
            if type(args[0]) is not str or args[0].split(".")[0] in UNAVAILABLE_MODULES:
                raise PermissionError("importing %r is not allowed in a measured program" % (args[0],))
        elif event == "open":
            path = args[0]
            if type(path) is bytes:
                path = path.decode("utf-8", "surrogateescape")
            if type(path) is int:
                return
            if type(path) is not str:
                raise PermissionError("open takes a plain path in a measured program")
            path = os.path.normpath(os.path.join(_CWD, path))
            if any(path == p or path.startswith(p + "/") for p in PRIVATE_PATHS):
                raise PermissionError("%s is not readable by a measured program" % path)
        elif event == "os.kill":
            if args[0] != own_pid or args[1] not in (SIGKILL, SIGSTOP):
                raise PermissionError("signals are not allowed in a measured program")

    return hook


def hide_the_server(namespace):
    """The candidate's module is ``__main__``; the unavailable modules are gone from ``sys.modules``."""
    module = type(sys)("__main__")
    module.__dict__.update(namespace)
    namespace.clear()
    namespace.update(module.__dict__)
    sys.modules["__main__"] = module
    for name in list(sys.modules):
        if name.split(".")[0] in UNAVAILABLE_MODULES:
            del sys.modules[name]
    return module.__dict__


# ---------------------------------------------------------------- one job, in a forked child

# Every call starts from the same random state: random reseeds from os.urandom
# in every forked child, and a randomized algorithm (Miller-Rabin with random
# witnesses) would otherwise count differently in every run.
RANDOM_SEED = 20240531
_seed = random.seed


def _letter(exc):
    if isinstance(exc, MemoryError):
        return "m"
    if isinstance(exc, RecursionError):
        return "r"
    return "e"


def run_job():
    """In the child: read the job, lock down, load, measure each call in its region, dump, die. Never returns."""
    job, inputs, code = _read_job(0)
    nonce, each = job["nonce"], bool(job.get("each"))
    verify = frozenset(job.get("verify") or ())
    forms = []
    namespace = hide_the_server({"__name__": "__main__", "__builtins__": __builtins__})
    for fd in (0, 1, 2):
        os.dup2(_devnull, fd)
    seccomp_no_processes()
    sys.addaudithook(make_hook(os.getpid()))
    try:
        exec(marshal.loads(code) if code is not None else compile(job["program"], "<candidate>", "exec"), namespace)
        function = namespace.get(job["function"])
        if type(function) is not type(run_job) or function.__code__ in SERVER_CODES:
            raise TypeError("%s is not a function of the program" % job["function"])
        calls = [functools.partial(function, *args) for args in inputs]
    except BaseException:
        dump("assay %s load e" % nonce)
        _die()
    statuses = []  # the counters start at zero: the server's last dump zeroed them, and it collects nothing since
    for index, call in enumerate(calls):
        result = None
        _seed(RANDOM_SEED)
        region_on()
        try:
            result = call()
        except BaseException as exc:  # the candidate's exception ends its call
            region_off()
            statuses.append(_letter(exc))
        else:
            region_off()
            statuses.append("k")
            if index in verify:  # outside the region; exact builtin types only, so no candidate code runs
                forms.append(_form(result))
        if each:
            dump("assay %s %d %s" % (nonce, index, statuses[-1]))  # a dump zeroes the counters
        del result
    if not each:
        checked = _sha256(repr(forms).encode("utf-8", "backslashreplace")).hexdigest()[:16] if verify else "-"
        dump("assay %s all %s %s" % (nonce, "".join(statuses) or "-", checked))
    _die()


def _die():
    """Stop, for the server to kill: no exit handler, no final dump."""
    os.kill(os.getpid(), SIGSTOP)
    os.kill(os.getpid(), SIGKILL)  # continued by someone else: end anyway


# ---------------------------------------------------------------- the server

WARM_UP = [
    # (program, function, inputs): common shapes of benchmark programs, so their interpreter paths are translated once
    ("def f(xs, t):\n    s = sorted(xs)\n    return any(b - a < t for a, b in zip(s, s[1:]))\n", "f", [([1.0, 2.5, 3.9, 2.2], 0.3)]),
    ("def f(s):\n    out, depth, cur = [], 0, ''\n    for c in s.replace(' ', ''):\n        depth += 1 if c == '(' else -1\n        cur += c\n"
     "        if depth == 0:\n            out.append(cur)\n            cur = ''\n    return out\n", "f", [("(()) ()((()))",)]),
    ("import math\nfrom collections import Counter, defaultdict, deque\nimport itertools, functools, heapq, bisect, re, string\n"
     "def f(n):\n    c = Counter(str(i % 7) for i in range(n))\n    d = defaultdict(list)\n    for k, v in c.items():\n        d[v].append(k)\n"
     "    q = deque(range(n))\n    q.rotate(3)\n    h = list(range(n, 0, -1))\n    heapq.heapify(h)\n    words = re.findall(r'[a-z]+', 'ab cd, ef!')\n"
     "    return (math.gcd(n, 12), math.isqrt(n), sorted(d), bisect.bisect_left(sorted(h), 3), heapq.heappop(h), words,\n"
     "            list(itertools.accumulate(range(5))), functools.reduce(lambda a, b: a * b, range(1, 6)), ''.join(string.ascii_lowercase[:3]).upper())\n",
     "f", [(40,)]),  # fmt: skip
    ("def f(text, k):\n    words = text.split()\n    res = {w.lower(): len(w) for w in words if w.isalpha()}\n    s = set(res) | {'x'}\n"
     "    t = tuple(sorted(s, key=lambda w: (-res.get(w, 0), w)))\n    return '%s-%d' % (t[:k], sum(res.values())) + str([x ** 2 for x in range(k)])[::-1]\n",
     "f", [("The quick brown Fox jumps over 3 lazy dogs", 3)]),  # fmt: skip
    ("def f(n):\n    memo = {}\n    def g(i):\n        if i < 2:\n            return i\n        if i not in memo:\n            memo[i] = g(i - 1) + g(i - 2)\n        return memo[i]\n"
     "    try:\n        raise ValueError(n)\n    except ValueError:\n        pass\n    return [g(i) for i in range(n)], divmod(n, 3), abs(-n), min(n, 4), max([n, 2]), round(n / 7, 2), int('12') + float('1.5'), bin(n), hex(n), chr(65 + n % 26), ord('a')\n",
     "f", [(30,)]),  # fmt: skip
]


# Imported once by the server, so that a candidate's import is a lookup in sys.modules (importing typing
# alone costs a child ~0.3 s of translation and work under callgrind).
PRELOADED = (
    "typing", "math", "cmath", "collections", "collections.abc", "itertools", "functools", "heapq", "bisect", "re",
    "string", "operator", "copy", "fractions", "decimal", "statistics", "random", "hashlib", "datetime", "array",
    "numbers", "enum", "dataclasses", "struct", "textwrap", "unicodedata", "json", "calendar", "time",
)  # fmt: skip

# Annotations like these are evaluated when a candidate's functions are defined; typing caches them.
ANNOTATIONS = (
    "List[int]", "List[str]", "List[float]", "List[bool]", "List[Any]", "List[List[int]]", "List[List[str]]", "List[Tuple[int, int]]",
    "List[Union[int, float]]", "List[Optional[int]]", "Tuple[int, int]", "Tuple[int, ...]", "Tuple[str, str]", "Tuple[float, float]",
    "Tuple[int, int, int]", "Tuple[str, int]", "Optional[int]", "Optional[str]", "Optional[float]", "Dict[str, int]", "Dict[int, int]",
    "Dict[str, str]", "Dict[str, List[int]]", "Dict[Any, Any]", "Set[int]", "Set[str]", "Union[int, float]", "Union[int, str]",
    "Union[int, float, str]", "Callable[[int], int]", "Iterable[int]", "Sequence[int]", "Any",
)  # fmt: skip


def _preload():
    for name in PRELOADED:
        try:
            __import__(name)
        except ImportError:
            pass
    namespace = {}
    exec("from typing import *", namespace)
    for annotation in ANNOTATIONS:
        try:
            eval(annotation, namespace)
        except Exception:  # noqa: BLE001 - an older typing without one of them
            pass


def _warm_up():
    _preload()
    for program, function, inputs in WARM_UP:
        namespace = {"__name__": "__candidate__"}
        exec(compile(program, "<warm-up>", "exec"), namespace)
        for args in inputs:
            for _ in range(3):
                namespace[function](*args)
    # What a child does that the server can do without harm, done here so that valgrind translates it
    # once: a path first taken in a child is translated in that child, at every job (decoding a job,
    # the requests, the audit hook's checks, partial calls, dup2).
    hook = make_hook(os.getpid())
    for program, function, inputs in WARM_UP:
        namespace = {"__name__": "__candidate__"}
        blobs = [pickle.dumps(inputs, protocol=4), marshal.dumps(compile(program, "<warm-up>", "exec"), 2)]
        head = json.dumps({"nonce": "0" * NONCE_BYTES, "program": program, "function": function, "each": False, "verify": [0], "inputs": len(blobs[0]), "code": len(blobs[1])})
        head = head.ljust(BUFFER_FLOOR).encode()
        read_end, write_end = os.pipe()
        os.write(write_end, b"%016x" % len(head) + head + blobs[0] + blobs[1])
        # _read_job's steps, written out: each result freed before the next read, the order that leaves the
        # server's pools where the empty-function calibration holds exactly (calling _read_job here shifts it by 4)
        job = json.loads(bytes(_read_into_buffer(read_end, int(bytes(_read_into_buffer(read_end, FRAME_LENGTH_BYTES)), 16))))
        pickle.loads(_read_into_buffer(read_end, job["inputs"]))
        marshal.loads(_read_into_buffer(read_end, job["code"]))
        os.close(read_end)
        os.close(write_end)
        _form(inputs)
        exec(compile(program, "<warm-up>", "exec"), namespace)
        for call in [functools.partial(namespace[function], *args) for args in inputs]:
            region_on()
            call()
            region_off()
        for event, args in (("open", ("/tmp/x", "r", 0)), ("import", ("math", None, [], None, None)), ("exec", (None,)), ("compile", (b"", "<x>")),
                            ("os.kill", (os.getpid(), 0)), ("object.__getattr__", (None, "__code__"))):  # fmt: skip
            try:
                hook(event, args)
            except PermissionError:
                pass
    spare = os.dup(_devnull)
    os.dup2(_devnull, spare)
    os.close(spare)
    dump("assay warm-up server -")  # and zero: children start from zero counters (a ZERO_STATS per job would
    # write every cost centre the server ever touched, a copy-on-write fault per page, in every child)


# The server handles nothing of variable size: the host sends a fixed-size header (nonce, timeout), the
# server forks, and the child reads the job itself. Allocating a job's program text in the server would
# leave the allocator in another state for the next job, and counts would depend on the jobs before.
NONCE_BYTES = 24
HEADER_BYTES = NONCE_BYTES + 1 + 12 + 1  # "<nonce> <timeout, %12.3f>\n"
ENDINGS = {"ended": b"ended  ", "timeout": b"timeout", "crash": b"crash  "}


FRAME_LENGTH_BYTES = 16  # a job's frame starts with its JSON object's length, %016x
# Buffers at least this large come from malloc, not from the interpreter's small-object pools: a job's
# variable-size reads then leave the pools as every other job leaves them (the host pads the JSON object
# to this length too), and the empty-function calibration stays exact.
BUFFER_FLOOR = 1024


def _read_exact(fd, size):
    """The first ``size`` bytes of ``fd``; empty at end of input."""
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def _read_job(fd):
    """A job's frame from ``fd``: its JSON object, its inputs (unpickled), and its code (marshal bytes from the host, or None)."""
    job = json.loads(bytes(_read_into_buffer(fd, int(bytes(_read_into_buffer(fd, FRAME_LENGTH_BYTES)), 16))))
    inputs = pickle.loads(_read_into_buffer(fd, job["inputs"]))
    code = _read_into_buffer(fd, job["code"]) if job["code"] else None  # compiled by the host when it runs the same interpreter
    return job, inputs, code


def _read_into_buffer(fd, size):
    """The next ``size`` bytes of ``fd``, read into one buffer (a pipe gives 64 KiB at a time: no copy per chunk), as a memoryview."""
    view = memoryview(bytearray(max(size, BUFFER_FLOOR)))[:size]
    done = 0
    while done < size:
        got = os.readv(fd, [view[done:]])
        if not got:
            raise EOFError("the job's frame ended early")
        done += got
    return view


class _Deadline(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Deadline


def _fork_job(timeout):
    """Fork a child for the job waiting on stdin and wait for it, at most ``timeout`` wall seconds; how it ended.

    The same calls in the same order for every job, whatever the timing: what
    the server allocates between two forks is the state the next child starts
    from. A child that stopped itself (its work done) is killed here; one the
    host killed (over its budget) ended by SIGKILL as well.
    """
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            run_job()
        finally:
            _die()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        _, status = os.waitpid(pid, os.WUNTRACED)
        if os.WIFSTOPPED(status):
            os.kill(pid, SIGKILL)
            _, status = os.waitpid(pid, 0)
    except _Deadline:
        os.kill(pid, SIGKILL)
        os.waitpid(pid, 0)
        return "timeout"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == SIGKILL:
        return "ended"
    return "crash"


def serve():
    while True:
        header = _read_exact(0, HEADER_BYTES)
        if not header:
            return
        how = _fork_job(float(header[NONCE_BYTES + 1 : NONCE_BYTES + 13]))
        os.write(1, b"end " + header[:NONCE_BYTES] + b" " + ENDINGS[how] + b"\n")


# Pids above this are never small-int objects (CPython caches -5..256): once every pid the server and its
# children see is above it, a pid costs the same allocation in every job. Within a pid namespace pids start
# at 1 and, after wrapping, resume at 300 (the kernel's RESERVED_PIDS), so crossing it once is for good.
SMALL_PIDS = 300


def _leave_the_small_pids():
    """Fork throwaway children until pids pass SMALL_PIDS.

    In the sandbox's fresh pid namespace the first jobs' children got pids
    below 257, cached int objects, and later ones allocated ints: the
    server's and the child's heaps then differed by a block, and counts
    moved by hundreds of instructions once a server had run about 250 jobs.
    """
    while True:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        if pid > SMALL_PIDS:
            return


def main():
    signal.signal(signal.SIGALRM, _on_alarm)
    _leave_the_small_pids()
    _warm_up()
    gc.collect()
    gc.freeze()  # the server's objects leave the collector's view: a full collection inside a region costs the candidate's heap, not the server's
    os.write(1, b"ready\n")
    serve()


_devnull = os.open(os.devnull, os.O_RDWR)
_CWD = os.getcwd()
SERVER_CODES = frozenset(f.__code__ for f in (run_job, _fork_job, _on_alarm, _warm_up, _leave_the_small_pids, serve, main, region_on, region_off, dump, _die)) | {sys._getframe().f_code}

if __name__ == "__main__":
    main()
