"""The monitor: runs one sample in the zygote, relays requests, enforces limits.

It measures CPU time (the kernel's per-process clock), peak memory (VmHWM,
reset before each call) and output size, and kills the candidate's whole pid
namespace when a limit is passed.
"""

from __future__ import annotations

import os
import select
import signal
import time
from typing import TYPE_CHECKING

import protocol

if TYPE_CHECKING:
    from scratch import Scratch
    from template import Template

POLL_MIN, POLL_MAX = 0.002, 0.05


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


class Monitor:
    """Runs one sample: starts the candidate, relays requests, enforces limits.

    It runs in the zygote itself (no extra fork); the template forks the
    candidate into a fresh pid namespace, so it cannot see or signal either.
    """

    def __init__(self, start: dict, body: bytes, own_pidns: bool, template: Template, requests: protocol.Reader, scratch: Scratch) -> None:
        self.start = start
        self.template = template  # forks the candidate, and reports its end
        self.requests = requests  # the supervisor's messages
        self.scratch = scratch  # where the candidate runs, wiped before it if the last one left anything
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
        workdir = os.path.join(self.scratch.work_root, "run")
        io_dir = os.path.join(self.scratch.work_root, "io")
        if self.scratch.dirty():
            self.scratch.clean()
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
        try:
            pid, self.pidfd, self.own_pidns = self.template.spawn(self.body, [req_r, rep_w, stdin_fd, stdout_fd, stderr_fd], self.own_pidns)
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
            request = self.requests.message()
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
        message = self.requests.message()
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
        ended = self.template.exit_of(self.candidate, 5.0)
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
