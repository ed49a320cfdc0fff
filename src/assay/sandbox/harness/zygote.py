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

This module starts the zygote and runs its loop; the rest of the harness is
one module per role, imported from the same directory (which is on sys.path):
``hardening`` (capabilities, pid namespaces, strays), ``candidate`` (the
candidate process), ``template``, ``monitor``, ``scratch`` (the directories
candidates write to), and ``codec`` and ``protocol`` (shared with the
supervisor).
"""

from __future__ import annotations

import builtins
import gc
import linecache
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# The candidate's path (candidate, which imports hardening, then template) is
# imported before the monitor's: where each module's objects land in the heap
# decides how many pages every candidate copies (6 more when sorted by name).
import candidate  # noqa: E402
import codec  # noqa: E402
import protocol  # noqa: E402
import template  # noqa: E402
from candidate import CANDIDATE_FILE, describe_exception  # noqa: E402
from hardening import PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, drop_bounding_set, libc, probe_pid_namespace, sweep_strays  # noqa: E402
from monitor import Monitor  # noqa: E402
from scratch import Scratch  # noqa: E402

# Unsandboxed, the supervisor always passes --work-root; this is where a
# sandboxed zygote works, inside the sandbox's own /tmp.
DEFAULT_WORK_ROOT = "/tmp/assay-work"

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


class Options:
    """The zygote's command line (read-only): see ``parse_arguments``."""

    __slots__ = ("sandboxed", "work_root", "cpu")

    def __init__(self, sandboxed: bool, work_root: str, cpu: int | None) -> None:
        object.__setattr__(self, "sandboxed", sandboxed)
        object.__setattr__(self, "work_root", work_root)
        object.__setattr__(self, "cpu", cpu)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("the zygote's options are read-only")


def parse_arguments(argv: list[str]) -> Options:
    """``[--sandboxed] [--work-root DIR] [--cpu N]``; anything else is ignored.

    --sandboxed: inside bubblewrap, where /tmp and /dev/shm are the sandbox's
    own, and wiped between samples. --work-root DIR: unsandboxed (no bwrap),
    the private directory the supervisor passes; nothing outside it is ever
    touched. --cpu N: keep to CPU N (see ``keep_to_cpu``).

    Not argparse: it would add argparse and gettext to the image every
    candidate is forked from.
    """

    def after(flag: str) -> str | None:
        if flag not in argv:
            return None
        at = argv.index(flag) + 1
        return argv[at] if at < len(argv) else None

    work_root = after("--work-root")
    if work_root is None:
        if "--work-root" in argv:
            raise SystemExit("zygote: --work-root needs a directory")
        work_root = DEFAULT_WORK_ROOT
    cpu = after("--cpu")
    try:
        cpu_number = int(cpu) if cpu is not None else None
    except ValueError:
        cpu_number = None  # an unusable CPU number leaves the kernel to place us
    return Options("--sandboxed" in argv, work_root, cpu_number)


REQUESTS = protocol.Reader(0)  # the supervisor's messages


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


def keep_to_cpu(cpu: int | None) -> None:
    """``--cpu N``: this process, and so the template and every candidate, run on CPU N only."""
    if cpu is not None:
        try:
            os.sched_setaffinity(0, {cpu})
        except (ValueError, OSError):
            pass  # an unusable CPU number leaves the kernel to place us


def main() -> None:
    options = parse_arguments(sys.argv[1:])
    keep_to_cpu(options.cpu)
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
    in_sandbox = options.sandboxed
    scratch = Scratch(options.work_root, options.sandboxed)
    # Objects that exist now are never traversed by the collector in a child,
    # so forking does not copy every page of the heap.
    candidate.CANDIDATE_STREAMS = candidate.candidate_streams()
    gc.collect()
    gc.freeze()
    forker = template.Template(pidns_fd, os.path.join(options.work_root, "run"))
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
        monitor = Monitor(request, body, pidns_fd is not None, forker, REQUESTS, scratch)
        try:
            monitor.run()
        except protocol.ProtocolError:
            return  # the supervisor is gone
        except BaseException as exc:  # the monitor failing is an infrastructure error
            failure = "monitor failed: %r" % (exc,)
        strays = sweep_strays(forker.pid) if in_sandbox and pidns_fd is None else 0
        last = [monitor.final] if monitor.final is not None else []
        if failure:
            last.append({"status": "infra_error", "message": failure})
        protocol.write_message(1, *last, {"op": "done", "strays": strays})


if __name__ == "__main__":
    main()
