"""One warm worker: a zygote process inside its own sandbox, seen from outside."""

from __future__ import annotations

import os
import queue
import select
import shlex
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from assay.sandbox.cgroups import CgroupLimiter, WorkerGroups, group_name
from assay.sandbox.harness import codec, protocol
from assay.sandbox.isolation import SANDBOX_ENV, IsolationPlan, bwrap_command, unsandboxed_command
from assay.sandbox.limits import Limits
from assay.sandbox.verdict import Measurement

STARTUP_TIMEOUT = 60.0
REPLY_MARGIN = 10.0  # seconds beyond the limits before the monitor counts as hung


class InfraError(Exception):
    """The sandbox machinery failed; the candidate is not to blame."""


@dataclass
class Reply:
    """What the monitor reported for one load or call."""

    status: str  # ok | exception | unencodable | timeout | memory | output_limit | crash | infra_error
    value: Any = None
    exception_type: str | None = None
    message: str | None = None
    traceback: str | None = None
    stdout: str = ""
    stderr: str = ""
    alive: bool = True
    measurement: Measurement = field(default_factory=Measurement)
    exit_code: int | None = None
    files: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_message(cls, data: dict) -> "Reply":
        exc = data.get("exc") or {}
        status = str(data.get("status", "crash"))
        value = None
        if status == "ok" and "value" in data:
            try:
                value = codec.decode(data["value"])
            except (ValueError, TypeError, KeyError, IndexError) as error:
                status, data = "crash", {**data, "message": "unreadable return value: %s" % error}
        return cls(
            status=status,
            value=value,
            exception_type=exc.get("type"),
            message=exc.get("message", data.get("message")),
            traceback=exc.get("traceback"),
            stdout=str(data.get("stdout", "")),
            stderr=str(data.get("stderr", "")),
            alive=bool(data.get("alive", False)),
            exit_code=data.get("exit_code") if isinstance(data.get("exit_code"), int) else None,
            files={str(k): (v if isinstance(v, str) else None) for k, v in (data.get("files") or {}).items()},
            measurement=Measurement(
                cpu_ns=int(data.get("cpu_ns", 0)),
                cpu_before_ns=int(data.get("cpu_before_ns", 0)),
                cpu_after_ns=int(data.get("cpu_after_ns", 0)),
                wall_ns=int(data.get("wall_ns", 0)),
                peak_rss_bytes=int(data.get("peak_rss", 0)),
            ),
        )


class _Spawner:
    """Starts worker processes from a thread that lives as long as this process.

    bwrap's ``--die-with-parent`` (PR_SET_PDEATHSIG) kills a process when the
    *thread* that started it ends, not the process. A worker (re)started on a
    short-lived thread, such as one of ``Sandbox.run_many``'s, would die when
    that thread does, and be started again at its next use, every time. The
    main thread and this one thread outlive every worker.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen:
        if threading.current_thread() is threading.main_thread():
            return subprocess.Popen(*args, **kwargs)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="assay-worker-spawner", daemon=True)
                self._thread.start()
        done: Future = Future()
        self._requests.put((done, args, kwargs))
        return done.result()

    def _serve(self) -> None:
        while True:
            done, args, kwargs = self._requests.get()
            try:
                done.set_result(subprocess.Popen(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - raised in the requesting thread
                done.set_exception(exc)


spawn = _Spawner().popen


class Worker:
    """A zygote in a sandbox. Not thread-safe: one sample at a time."""

    def __init__(self, index: int, isolation: IsolationPlan, limits: Limits, cgroups: CgroupLimiter | None = None, cpu: int | None = None) -> None:
        self.index = index
        self.cpu = cpu  # the CPU its processes keep to, if pinned
        self.isolation = isolation
        self.limits = limits
        self.cgroups = cgroups
        self.groups: WorkerGroups | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.hello: dict[str, Any] = {}
        self._starting = False  # launched, its hello not read yet
        self.samples_run = 0
        self.lock = threading.Lock()
        self._log = tempfile.TemporaryFile()
        self._pending = protocol.MessageBuffer()  # read from the worker, not yet taken
        self._work_root: tempfile.TemporaryDirectory | None = None

    # -------------------------------------------------------------- lifecycle

    def command(self) -> list[str]:
        if self.isolation.bwrap:
            inner = bwrap_command(self.isolation.bwrap, self.cpu)
        else:
            if self._work_root is None:
                self._work_root = tempfile.TemporaryDirectory(prefix="assay-worker-")
            inner = unsandboxed_command(os.path.join(self._work_root.name, "work"), self.cpu)
        prelude = ["ulimit -s unlimited 2>/dev/null"]
        if self.groups is not None:
            prelude += ["echo $$ > %s" % shlex.quote(str(path)) for path in self.groups.procs_files]
        return ["/bin/sh", "-c", "; ".join(prelude) + '; exec "$@"', "assay-worker", *inner]

    def start(self) -> None:
        self.launch()
        self.await_hello()

    def launch(self) -> None:
        """Start the worker's process without waiting for it to be ready (:meth:`await_hello`, or the first use, waits)."""
        if self.cgroups is not None and self.groups is None:
            # room for the zygote and monitor on top of the candidate's own limits
            self.groups = self.cgroups.create(group_name(self.index), self.limits.memory_bytes + (512 << 20), self.limits.processes + 16)
        env = dict(SANDBOX_ENV) if not self.isolation.bwrap else {"PATH": SANDBOX_ENV["PATH"]}
        self._pending = protocol.MessageBuffer()
        try:
            self.process = spawn(
                self.command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                env=env,
                cwd=tempfile.gettempdir(),
                start_new_session=True,
            )
        except OSError as exc:
            raise InfraError("could not start a sandbox worker: %s" % exc) from exc
        self._starting = True

    def await_hello(self) -> None:
        """Wait for a launched worker to say it is ready."""
        if not self._starting:
            return
        self._starting = False
        message = self._read(STARTUP_TIMEOUT)
        if message.get("op") != "hello":
            raise InfraError("sandbox worker did not start: %s" % self.diagnostics())
        self.hello = message

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_started(self) -> None:
        if not self.alive:
            self.stop()
            self.start()
        elif self._starting:
            self.await_hello()

    def ask_to_exit(self) -> None:
        """Tell the worker to exit, without waiting (a pool closing all its workers waits for them together)."""
        process = self.process
        if process is not None and process.poll() is None:
            try:
                protocol.write_message(process.stdin.fileno(), {"op": "exit"})
            except (OSError, ValueError):
                pass

    def stop(self) -> None:
        process, self.process = self.process, None
        self._starting = False
        if process is not None:
            try:
                if process.poll() is None:
                    try:
                        protocol.write_message(process.stdin.fileno(), {"op": "exit"})
                    except OSError:
                        pass
                    try:
                        process.wait(timeout=2)
                    except subprocess.TimeoutExpired:
                        os.killpg(process.pid, 9)
                        process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
            for stream in (process.stdin, process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass

    def close(self) -> None:
        self.stop()
        if self.groups is not None:
            self.groups.remove()
            self.groups = None
        self._log.close()
        if self._work_root is not None:
            self._work_root.cleanup()
            self._work_root = None

    def diagnostics(self) -> str:
        try:
            self._log.seek(0)
            text = self._log.read()[-2000:].decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            text = ""
        code = self.process.poll() if self.process else None
        return "exit code %s; stderr: %s" % (code, text or "(empty)")

    # -------------------------------------------------------------- messages

    def send(self, *messages: dict) -> None:
        if not self.alive:
            raise InfraError("sandbox worker is not running (%s)" % self.diagnostics())
        try:
            protocol.write_message(self.process.stdin.fileno(), *messages)
        except (OSError, ValueError) as exc:
            raise InfraError("sandbox worker stopped accepting requests: %s" % exc) from exc

    def _read(self, timeout: float) -> dict:
        if self.process is None:
            raise InfraError("sandbox worker is not running")
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            try:
                body = self._pending.pop_body()
            except protocol.ProtocolError as exc:
                raise InfraError("sandbox worker sent an oversized message") from exc
            if body is not None:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise InfraError("sandbox worker did not answer in time")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            # whatever is there: an answer and the "done" after it come in one read
            if not self._pending.fill(fd):
                raise InfraError("sandbox worker died (%s)" % self.diagnostics())
        try:
            message = protocol.parse_body(body)
        except protocol.ProtocolError as exc:
            raise InfraError(str(exc)) from exc
        if not isinstance(message, dict):
            raise InfraError("sandbox worker sent a malformed message")
        return message

    def receive(self, timeout: float) -> dict:
        return self._read(timeout)


def encode_arguments(args: tuple, kwargs: dict | None = None) -> tuple[Any, Any]:
    """A call's positional and keyword arguments as the plain data a call message carries."""
    return codec.encode(list(args)), codec.encode(dict(kwargs or {}))


class Session:
    """One program loaded in a worker: load once, call many times, then end."""

    def __init__(self, worker: Worker, program: str, limits: Limits, as_main: bool = False, stdin: str | None = None) -> None:
        self.worker = worker
        self.program = program
        self.limits = limits
        self.as_main = as_main
        self.stdin = stdin
        self.alive = False
        self.ended = False
        self.stopped_at: int | None = None  # run_batch with expect: where the monitor stopped the batch

    def _limits_message(self) -> dict:
        limits = self.limits
        return {
            "cpu_seconds": limits.cpu_seconds,
            "wall_seconds": limits.wall_seconds,
            "sample_cpu_seconds": limits.sample_cpu_seconds,
            "memory_bytes": limits.memory_bytes,
            "output_bytes": limits.output_bytes,
            "processes": limits.processes,
            "open_files": limits.open_files,
            "file_bytes": limits.file_bytes,
        }

    def load(self) -> Reply:
        self.worker.ensure_started()
        self.worker.send({"op": "start", "program": self.program, "main": self.as_main, "stdin": self.stdin, "limits": self._limits_message()})
        reply = self._reply(self.limits.wall_seconds)
        self.alive = reply.alive
        return reply

    def call_message(self, function: str, args: tuple, kwargs: dict | None = None, cpu_seconds: float | None = None, wall_seconds: float | None = None) -> dict:
        return self.encoded_call_message(function, encode_arguments(args, kwargs), cpu_seconds, wall_seconds)

    def encoded_call_message(self, function: str, arguments: tuple[Any, Any], cpu_seconds: float | None = None, wall_seconds: float | None = None) -> dict:
        """A call whose ``arguments`` are already ``encode_arguments``' plain data."""
        return {
            "op": "call",
            "fn": function,
            "args": arguments[0],
            "kwargs": arguments[1],
            "cpu_seconds": cpu_seconds if cpu_seconds is not None else self.limits.cpu_seconds,
            "wall_seconds": wall_seconds if wall_seconds is not None else self.limits.wall_seconds,
        }

    def call(self, function: str, args: tuple, kwargs: dict | None = None, cpu_seconds: float | None = None, wall_seconds: float | None = None) -> Reply:
        if not self.alive:
            raise InfraError("call on a session whose candidate is gone")
        message = self.call_message(function, args, kwargs, cpu_seconds, wall_seconds)
        self.worker.send(message)
        reply = self._reply(message["wall_seconds"])
        self.alive = reply.alive
        return reply

    def run_exec(self, argv: list[str], files: dict[str, str] | None = None, collect: list[str] | None = None) -> Reply:
        """Run a separate program in the sandbox (the candidate's process image replaced).

        ``files`` are written into the working directory first; ``collect``
        names files to read back after it exits. The reply's status is
        ``exited`` (with ``exit_code``) or a limit/crash status.
        """
        self.worker.ensure_started()
        self.worker.send({"op": "start", "program": self.program, "exec": list(argv), "files": files or {}, "collect": collect or [], "limits": self._limits_message()})
        message = self.worker.receive(self.limits.wall_seconds + REPLY_MARGIN)
        if message.get("status") == "infra_error":
            raise InfraError(str(message.get("message")))
        self.ended = True
        done = self.worker.receive(REPLY_MARGIN + 10)
        if done.get("op") != "done":
            raise InfraError("sandbox worker out of step: expected the end of a run")
        self.worker.samples_run += 1
        return Reply.from_message(message)

    def run_batch(self, calls: list[dict], stream: bool = True, keep_open: bool = False, expect: dict[int, Any] | None = None) -> tuple[Reply, list[Reply]]:
        """Load, make every call, and end, in one exchange with the worker.

        Stops at the first call that ends the candidate; the replies list is
        then shorter than ``calls``. Streamed (the default), the candidate
        runs the calls back to back and the monitor times each from the
        previous reply to its own. ``stream=False`` is for cost
        measurements: one call at a time, the candidate tells the monitor
        when the function starts and returns, and each call's CPU time is
        that window alone (decoding the arguments and encoding the result
        excluded; ``Measurement.cpu_before_ns`` and ``cpu_after_ns`` hold them), its peak
        memory its own; it costs about 0.5 ms more per call.
        With ``keep_open`` (streamed only) the session stays open while the
        candidate lives: more calls may follow (``stream``), and ``end`` ends it.

        With ``expect`` (streamed, not kept open), the batch stops at the
        first call that raises, or whose answer's plain data (``codec.encode``)
        differs from ``expect[index]``; ``stopped_at`` is then that call's
        index. The monitor reads the expected values only after the
        candidate exists, and candidates are forked from the template,
        which never receives them: they are never in a candidate's memory.
        """
        self.worker.ensure_started()
        keep_open = keep_open and stream
        checked = expect is not None and stream and not keep_open
        start = {"op": "start", "program": self.program, "main": False, "stdin": None, "limits": self._limits_message(), "calls": calls, "stream": stream, "windows": not stream, "open": keep_open, "expect": checked}
        if checked:
            # one write; the monitor reads the values only once the template has forked the candidate
            self.worker.send(start, {"op": "expect", "values": [[index, value] for index, value in expect.items()]})
        else:
            self.worker.send(start)
        budget = self.limits.wall_seconds + sum(c["wall_seconds"] for c in calls) + REPLY_MARGIN
        message = self.worker.receive(budget)
        if message.get("status") == "infra_error":
            raise InfraError(str(message.get("message")))
        if "load" not in message or not isinstance(message.get("calls"), list):
            raise InfraError("sandbox worker out of step: expected a batch answer")
        load, replies = Reply.from_message(message["load"]), [Reply.from_message(m) for m in message["calls"] if isinstance(m, dict)]
        self.stopped_at = message.get("stopped") if checked and type(message.get("stopped")) is int else None
        if keep_open:
            self.alive = (replies[-1] if replies else load).alive
            return load, replies
        self.ended = True
        done = self.worker.receive(REPLY_MARGIN + 10)
        if done.get("op") != "done":
            raise InfraError("sandbox worker out of step: expected the end of a run")
        self.worker.samples_run += 1
        return load, replies

    def stream(self, calls: list[dict]) -> list[Reply]:
        """More calls, run back to back by the open candidate (see ``run_batch``)."""
        if not self.alive:
            raise InfraError("calls on a session whose candidate is gone")
        self.worker.send({"op": "calls", "calls": calls})
        message = self.worker.receive(sum(c["wall_seconds"] for c in calls) + REPLY_MARGIN)
        if message.get("status") == "infra_error":
            raise InfraError(str(message.get("message")))
        if not isinstance(message.get("calls"), list) or "load" in message:
            raise InfraError("sandbox worker out of step: expected the answer to a stream of calls")
        replies = [Reply.from_message(m) for m in message["calls"] if isinstance(m, dict)]
        if replies:
            self.alive = replies[-1].alive
        return replies

    def _reply(self, wall: float) -> Reply:
        message = self.worker.receive(wall + REPLY_MARGIN)
        if message.get("status") == "infra_error":
            raise InfraError(str(message.get("message")))
        if message.get("op") == "done":
            raise InfraError("sandbox monitor ended without answering (exit %s)" % message.get("monitor_exit"))
        return Reply.from_message(message)

    def end(self) -> None:
        if self.ended:
            return
        self.ended = True
        if self.alive:
            self.worker.send({"op": "end"})
        done = self.worker.receive(REPLY_MARGIN + 10)
        if done.get("op") != "done":
            raise InfraError("sandbox worker out of step: expected the end of a run")
        self.worker.samples_run += 1
