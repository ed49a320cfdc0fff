"""A batch of calls for one program: what callers outside the judge send the sandbox.

The judge runs a problem's tests; meters, reference runs and oracles need
something plainer: load this program once, make these calls, give back each
reply. :meth:`assay.sandbox.pool.Sandbox.run_calls` takes :class:`Call`
objects and answers with a :class:`CallBatch`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Sequence

from assay.sandbox.limits import Limits, wall_for_cpu
from assay.sandbox.worker import Reply, Session


class Mode(str, Enum):
    """How the candidate runs a batch.

    ``streamed``: back to back, each call timed from the previous reply to its
    own (fast; what judging uses). ``lockstep``: one call at a time, the CPU
    of the call's own window measured apart from decoding its arguments and
    encoding its result (``Measurement.cpu_before_ns``/``cpu_after_ns``) and
    its peak memory its own; about 0.5 ms more per call, for cost meters.
    """

    STREAMED = "streamed"
    LOCKSTEP = "lockstep"


@dataclass(frozen=True)
class Call:
    """One call of a function of the loaded program.

    ``cpu_seconds`` defaults to the batch's limits; ``wall_seconds`` to the
    backstop of the call's CPU limit (:func:`~assay.sandbox.limits.wall_for_cpu`).
    """

    function: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float | None = None
    wall_seconds: float | None = None

    def message(self, session: Session, limits: Limits) -> dict:
        cpu = self.cpu_seconds if self.cpu_seconds is not None else limits.cpu_seconds
        wall = self.wall_seconds if self.wall_seconds is not None else wall_for_cpu(cpu)
        return session.call_message(self.function, tuple(self.args), self.kwargs, cpu, wall)


@dataclass(frozen=True)
class CallBatch:
    """The load's reply and one reply per call made (fewer when a call ended the candidate)."""

    load: Reply
    replies: list[Reply]
    requested: int

    @property
    def loaded(self) -> bool:
        return self.load.status == "ok"

    @property
    def complete(self) -> bool:
        """Loaded, and every call answered normally."""
        return self.loaded and len(self.replies) == self.requested and all(r.status == "ok" for r in self.replies)


def run_batch(session: Session, calls: Sequence[Call], mode: Mode | str) -> CallBatch:
    """One exchange with the session's worker: load, every call, end."""
    mode = Mode(mode)
    messages = [call.message(session, session.limits) for call in calls]
    load, replies = session.run_batch(messages, stream=mode is Mode.STREAMED)
    return CallBatch(load, replies, len(calls))
