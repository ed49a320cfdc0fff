"""A warm call harness in a host subprocess: send jobs, collect records (lab code, not used by assay).

assay runs the harness in the sandbox (:mod:`assay.measure.valgrind`); the lab
meters keep one harness process warm and feed it many jobs.
"""

from __future__ import annotations

import ast
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from assay.measure.harness_job import MEASURE_ENV, HarnessError, HarnessJob


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
