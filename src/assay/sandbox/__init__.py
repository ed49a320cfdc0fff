"""The sandbox: run untrusted programs against tests, and say what happened.

The public face, for everything outside this package::

    from assay.sandbox import Sandbox, Call, Limits

    with Sandbox(workers=2) as box:
        result = box.run(problem, program)                 # judge one program on a problem's tests
        for position, result in box.run_many(pairs): ...   # many (problem, program) pairs
        batch = box.run_calls(program, [Call("f", (1,))], mode="lockstep")  # plain calls, for meters
        reply = box.run_exec(argv, files={...})            # a separate program, in the same sandbox
        with box.lease() as worker: ...                    # a worker of one's own, for a Session

Nothing outside ``assay.sandbox`` touches a Sandbox's private parts. The
verdicts (:class:`Status`, :class:`TestVerdict`, :class:`SampleResult`) are
plain dataclasses; :func:`compare_output` decides whether an output passes a
call test, through the comparisons registered in :mod:`assay.plugins`.
"""

from assay.sandbox.calls import Call, CallBatch, Mode
from assay.sandbox.compare import compare_output
from assay.sandbox.judge import RunPolicy
from assay.sandbox.limits import Limits, wall_for_cpu
from assay.sandbox.pool import Sandbox
from assay.sandbox.verdict import Measurement, SampleResult, Status, TestVerdict
from assay.sandbox.worker import InfraError, Reply, Session, Worker

__all__ = [
    "Call",
    "CallBatch",
    "InfraError",
    "Limits",
    "Measurement",
    "Mode",
    "Reply",
    "RunPolicy",
    "SampleResult",
    "Sandbox",
    "Session",
    "Status",
    "TestVerdict",
    "Worker",
    "compare_output",
    "wall_for_cpu",
]
