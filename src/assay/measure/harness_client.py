"""Drive ``call_harness.py`` in a subprocess: send jobs, collect records.

The harness command is built by the caller (plain ``python -S harness MODE``,
or wrapped in ``valgrind``, or later in the sandbox); this module only talks
the protocol: framed jobs on stdin, one Python-literal dict per line on stdout.
"""

from __future__ import annotations

import ast
import os
import pickle
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, Union

from assay.measure.call_harness import decode_args, encode_frame, encode_input

HARNESS_PATH = Path(__file__).with_name("call_harness.py")

# Arguments of one call: a Python literal of the argument tuple (str), a
# pickle of it (bytes), or the tuple itself (pickled for the trip).
Payload = Union[str, bytes, tuple]

# Environment of the measured interpreter. PYTHONHASHSEED=0 makes str/bytes
# hashing, hence set and dict iteration orders, the same in every run. Do not
# add -E or -I to the command: both make Python ignore PYTHONHASHSEED. The
# environment is built from scratch instead, so nothing else leaks in.
MEASURE_ENV = {"PYTHONHASHSEED": "0", "LC_ALL": "C", "PATH": "/usr/bin:/bin"}


class HarnessError(RuntimeError):
    """The harness itself failed (our fault, not the candidate's)."""


@dataclass(frozen=True)
class HarnessJob:
    """One program, one function, several inputs."""

    source: str
    function: str
    inputs: tuple[Payload, ...]
    timeout: float = 60.0  # wall seconds per measured call (under the meter)
    verify: bool = True  # report a digest of each result (two more forks per input)

    def encode(self) -> bytes:
        """The frames for the harness's stdin: a header, then one per input."""
        header = pickle.dumps(
            {
                "source": self.source,
                "function": self.function,
                "timeout": self.timeout,
                "n": len(self.inputs),
                "verify": self.verify,
            },
            protocol=4,
        )
        frames = [encode_frame(header)]
        frames += [encode_frame(encode_input(canonical_payload(payload))) for payload in self.inputs]
        return b"".join(frames)


def canonical_payload(payload: Payload) -> bytes:
    """Every input travels as a pickle of its argument tuple.

    How an input is decoded leaves traces in the heap (a literal goes through
    the parser, a pickle does not) and those shift counts by a few hundred
    instructions; decoding literals here makes the measured process see the
    same bytes for the same value, whatever form the caller used.
    """
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    args = decode_args(payload) if isinstance(payload, str) else tuple(payload)
    return pickle.dumps(args, protocol=4)


@dataclass
class JobRecords:
    """Everything the harness said about one job."""

    n_inputs: int
    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    load_error: str | None = None
    job_status: int | None = None

    @property
    def complete(self) -> bool:
        """The job process exited normally (it may still report errors)."""
        return self.job_status == 0

    def result(self, index: int) -> dict[str, Any]:
        """The record for input ``index``; a crash record if there is none."""
        record = self.results.get(index)
        if record is None:
            return {"index": index, "status": "crash", "error": "the program's process died before this input"}
        return record


def harness_command(mode: str, python: str, *, no_site: bool = True) -> list[str]:
    """``python [-S] call_harness.py MODE``; -S skips site (and its .pth files)."""
    command = [python]
    if no_site:
        command.append("-S")
    command += [str(HARNESS_PATH), mode]
    return command


class HarnessProcess:
    """A running harness; jobs are sent one at a time (it can serve many)."""

    def __init__(self, command: Sequence[str], *, env: dict[str, str] | None = None, startup_timeout: float = 120.0):
        self.command = list(command)
        self._proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(MEASURE_ENV if env is None else env),
            start_new_session=True,
        )
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        assert self._proc.stdout is not None
        os.set_blocking(self._proc.stdout.fileno(), False)
        self._selector.register(self._proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + startup_timeout
        hello = self._read_record(deadline)
        if "hello" not in hello:
            raise HarnessError(f"unexpected first record from the harness: {hello}")
        self.pid_inside: int = int(hello["hello"])  # pid as the harness sees it
        self.python_version: tuple[int, ...] = tuple(hello.get("python", ()))
        self.calibration: dict[str, Any] | None = None
        while True:
            record = self._read_record(deadline)
            if record.get("ready"):
                break
            if "calibration" in record:
                self.calibration = record["calibration"]

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _stderr_tail(self) -> str:
        if self._proc.poll() is None or self._proc.stderr is None:
            return ""
        try:
            return self._proc.stderr.read()[-2000:].decode(errors="replace")
        except (OSError, ValueError):
            return ""

    def _read_record(self, deadline: float) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise HarnessError("the harness did not answer in time")
            if not self._selector.select(timeout=min(remaining, 1.0)):
                if self._proc.poll() is not None and not self._selector.select(timeout=0):
                    raise HarnessError(f"the harness exited ({self._proc.returncode}): {self._stderr_tail()}")
                continue
            assert self._proc.stdout is not None
            chunk = self._proc.stdout.read()
            if chunk == b"":
                self._proc.wait(timeout=5)
                raise HarnessError(f"the harness exited ({self._proc.returncode}): {self._stderr_tail()}")
            if chunk:
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            record = ast.literal_eval(line.decode("utf-8", "replace"))
            if not isinstance(record, dict):
                raise ValueError("not a dict")
            return record
        except (ValueError, SyntaxError) as exc:
            raise HarnessError(f"bad record from the harness: {line[:200]!r}") from exc

    def run(self, job: HarnessJob, *, extra_seconds: float = 60.0) -> JobRecords:
        """Send one job and collect its records."""
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(job.encode())
            self._proc.stdin.flush()
        except BrokenPipeError as exc:
            raise HarnessError(f"the harness is gone: {self._stderr_tail()}") from exc
        deadline = time.monotonic() + extra_seconds + 2 * (len(job.inputs) + 2) * (job.timeout + 5.0)
        records = JobRecords(len(job.inputs))
        while True:
            record = self._read_record(deadline)
            if "end" in record:
                records.job_status = record.get("job_status")
                if not records.complete:
                    # the harness stops when a job process dies mid-job
                    self.close()
                return records
            if "load_error" in record:
                records.load_error = record["load_error"]
            elif "index" in record:
                records.results[int(record["index"])] = record

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
                self._proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        self._selector.close()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()

    def kill(self) -> None:
        if self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except OSError:
                self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> HarnessProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
