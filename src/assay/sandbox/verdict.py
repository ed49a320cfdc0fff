"""What the sandbox says about a run: a status per test, with evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    """Outcome of one test, and of a sample (its worst test): the one status vocabulary.

    ``INFRA_ERROR`` is ours, never the candidate's. Two statuses are a
    sample's only, never a test's: ``TOO_SLOW`` (correct on its tests, but
    ENAMEL's rules censored it on the stress inputs, so it does not pass an
    efficiency run) and ``BAD_INPUT`` (the input line could not become a
    sample: malformed JSON, an unknown task, ...). Results, the store, the
    summary and reports all use these values.
    """

    PASS = "pass"
    FAIL = "fail"  # ran, returned a wrong answer
    ERROR = "error"  # raised an exception (or the program did not load)
    TIMEOUT = "timeout"  # exceeded its CPU or wall-clock limit
    MEMORY = "memory"  # exceeded its memory limit
    OUTPUT_LIMIT = "output_limit"  # printed more than allowed
    CRASH = "crash"  # the process died (signal, early exit, killed its parent)
    SKIPPED = "skipped"  # not run: the sample's budget was spent first, or an earlier test decided it
    INFRA_ERROR = "infra_error"  # the sandbox itself failed
    TOO_SLOW = "too_slow"  # sample only: correct on its tests, censored by ENAMEL's budget at the first stress level
    BAD_INPUT = "bad_input"  # sample only: the input line was rejected before anything ran

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


# Worst last. INFRA_ERROR outranks everything so a sample touched by one is
# never scored as the candidate's failure.
_SEVERITY = {
    Status.PASS: 0,
    Status.SKIPPED: 1,
    Status.TOO_SLOW: 2,
    Status.FAIL: 3,
    Status.ERROR: 4,
    Status.OUTPUT_LIMIT: 5,
    Status.MEMORY: 6,
    Status.TIMEOUT: 7,
    Status.CRASH: 8,
    Status.BAD_INPUT: 9,
    Status.INFRA_ERROR: 10,
}


def worst(statuses: list[Status]) -> Status:
    return max(statuses, key=lambda s: s.severity, default=Status.PASS)


@dataclass
class Measurement:
    """Kernel-read cost of one test's execution in the sandbox."""

    cpu_ns: int = 0  # CPU time of the candidate process (all threads)
    cpu_before_ns: int = 0  # cost measurements only: CPU before the call's window (decoding its arguments)
    cpu_after_ns: int = 0  # ... and after it (encoding the result)
    wall_ns: int = 0
    peak_rss_bytes: int = 0  # peak resident memory during the test


@dataclass
class TestVerdict:
    name: str
    status: Status
    kind: str = "call"
    exception_type: str | None = None
    message: str | None = None
    traceback: str | None = None  # candidate frames only
    first_difference: str | None = None
    stdout: str = ""
    stderr: str = ""
    measurement: Measurement = field(default_factory=Measurement)

    @property
    def passed(self) -> bool:
        return self.status is Status.PASS

    def to_dict(self) -> dict[str, Any]:
        """As ``dataclasses.asdict`` gives it (status as its value, empty fields left out), built directly: it is on every result's path."""
        data = {name: getattr(self, name) for name in _VERDICT_FIELDS}
        data["status"] = self.status.value
        data["measurement"] = {name: getattr(self.measurement, name) for name in _MEASUREMENT_FIELDS}
        return {k: v for k, v in data.items() if v is not None and v != ""}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TestVerdict":
        known = {f for f in cls.__dataclass_fields__ if f not in ("status", "measurement")}
        measurement = Measurement(**{k: int(v) for k, v in (data.get("measurement") or {}).items() if k in Measurement.__dataclass_fields__})
        return cls(status=Status(data["status"]), measurement=measurement, **{k: v for k, v in data.items() if k in known})


_VERDICT_FIELDS = tuple(TestVerdict.__dataclass_fields__)
_MEASUREMENT_FIELDS = tuple(Measurement.__dataclass_fields__)


@dataclass
class SampleResult:
    """All verdicts for one program on one problem."""

    task_id: str
    tests: list[TestVerdict]
    load: TestVerdict | None = None  # set when the program failed to load
    infra_message: str | None = None

    @property
    def status(self) -> Status:
        statuses = [t.status for t in self.tests]
        if self.load is not None:
            statuses.append(self.load.status)
        return worst(statuses)

    @property
    def passed(self) -> bool:
        return self.load is None and bool(self.tests) and all(t.passed for t in self.tests)

    @property
    def fraction_passed(self) -> float:
        return sum(t.passed for t in self.tests) / len(self.tests) if self.tests else 0.0

    @property
    def is_infra_error(self) -> bool:
        return self.status is Status.INFRA_ERROR

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "task_id": self.task_id,
            "passed": self.passed,
            "status": self.status.value,
            "tests": [t.to_dict() for t in self.tests],
        }
        if self.load is not None:
            data["load"] = self.load.to_dict()
        if self.infra_message:
            data["infra_message"] = self.infra_message
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SampleResult":
        """The result :meth:`to_dict` wrote (e.g. read back from the store)."""
        load = data.get("load")
        return cls(
            task_id=str(data.get("task_id", "")),
            tests=[TestVerdict.from_dict(t) for t in data.get("tests") or ()],
            load=TestVerdict.from_dict(load) if load else None,
            infra_message=data.get("infra_message"),
        )
