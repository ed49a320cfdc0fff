"""Running a problem's tests against one program, and deciding each verdict.

Everything here runs in the supervisor. The sandbox only ever receives a
program and call arguments; results come back as plain data and are
compared here. Script tests (HumanEval's ``check``) run here too, with the
candidate replaced by a proxy that forwards each call into the sandbox.
"""

from __future__ import annotations

import json
import linecache
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from assay.problems.model import CallTest, Problem, ScriptTest, StdioTest, Test
from assay.sandbox.compare import compare_output, short_repr, stdout_difference
from assay.sandbox.harness import codec
from assay.sandbox.limits import Limits
from assay.sandbox.memo import IdentityMemo
from assay.sandbox.script_replay import CallKey, ReplayMissed, ScriptCalls, call_key, script_builtins
from assay.sandbox.verdict import Measurement, SampleResult, Status, TestVerdict
from assay.sandbox.worker import InfraError, Reply, Session, Worker, encode_arguments

FATAL = {"timeout", "memory", "output_limit", "crash"}
REPLY_STATUS = {
    "timeout": Status.TIMEOUT,
    "memory": Status.MEMORY,
    "output_limit": Status.OUTPUT_LIMIT,
    "crash": Status.CRASH,
}
TEST_FILE = "<test %s>"
REPLAY_FIRST_CHUNK, REPLAY_GROWTH = 8, 3  # a replayed script's calls go out in chunks of 8, 24, 72, ...


@dataclass(frozen=True)
class RunPolicy:
    """How to go on after a test kills the candidate process, or fails.

    By default the remaining tests are skipped (the sample has failed). With
    ``continue_after_fatal`` the program is loaded afresh and the remaining
    tests still run, which partial-credit rewards need, up to ``max_fatal``
    fatal tests (so code that hangs on every test costs a bounded time).
    With ``stop_at_first_failure`` any failing test (a wrong answer or an
    exception too) ends the sample: the tests after it are skipped.
    """

    continue_after_fatal: bool = False
    max_fatal: int = 3  # with continue_after_fatal: after this many, the rest are skipped
    # After the first test that fails (any way), skip the rest: for pass/fail
    # verdicts, where what follows a failure cannot change the outcome.
    stop_at_first_failure: bool = False


class CandidateStopped(Exception):
    """A call into the sandbox did not return normally."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.message)
        self.reply = reply


def reply_status(reply: Reply) -> Status:
    if reply.status in REPLY_STATUS:
        return REPLY_STATUS[reply.status]
    if reply.status == "exception":
        return Status.MEMORY if reply.exception_type == "MemoryError" else Status.ERROR
    if reply.status == "unencodable":
        return Status.FAIL
    return Status.CRASH


def verdict_from_reply(name: str, kind: str, reply: Reply, status: Status | None = None) -> TestVerdict:
    status = status or reply_status(reply)
    message = reply.message
    if reply.status == "unencodable":
        message = "the return value has no plain-data form: %s" % reply.message
    return TestVerdict(
        name=name,
        kind=kind,
        status=status,
        exception_type=reply.exception_type,
        message=message,
        traceback=reply.traceback,
        stdout=reply.stdout,
        stderr=reply.stderr,
        measurement=reply.measurement,
    )


class SampleRun:
    """The tests of one problem against one program, on one worker."""

    def __init__(
        self,
        worker: Worker,
        problem: Problem,
        program: str,
        limits: Limits,
        policy: RunPolicy,
        release: Callable[[], None] | None = None,
        script_calls: ScriptCalls | None = None,
    ) -> None:
        self.worker = worker
        # Called once the worker is no longer needed (before the judging that
        # happens here only), so the next sample can start on it meanwhile.
        self.release = release or (lambda: None)
        self.problem = problem
        self.program = program
        self.limits = limits
        self.policy = policy
        self.session: Session | None = None
        self.cpu_spent_ns = 0
        # calls of script tests recorded in earlier runs (shared by a Sandbox's samples)
        self.script_calls = script_calls

    # ---------------------------------------------------------------- sessions

    def _open(self) -> TestVerdict | None:
        """Load the program in a fresh candidate process; a verdict if that failed."""
        self._close()
        self.session = Session(self.worker, self.program, self.limits)
        reply = self.session.load()
        self.cpu_spent_ns += reply.measurement.cpu_ns
        if reply.status == "ok":
            return None
        return verdict_from_reply("load", "load", reply)

    def _close(self) -> None:
        if self.session is not None:
            session, self.session = self.session, None
            session.end()

    # ---------------------------------------------------------------- running

    def run(self) -> SampleResult:
        if self.problem.tests and all(isinstance(t, CallTest) for t in self.problem.tests):
            return self._run_batched(list(self.problem.tests))
        verdicts: list[TestVerdict] = []
        load: TestVerdict | None = None
        stop_status: Status | None = None
        stop_reason = "ended the candidate"
        try:
            for test in self.problem.tests:
                if stop_status is not None:
                    verdicts.append(TestVerdict(test.name, Status.SKIPPED, kind=test.kind, message="not run: an earlier test %s (%s)" % (stop_reason, stop_status.value)))
                    continue
                if self.cpu_spent_ns > self.limits.sample_cpu_seconds * 1e9:
                    verdicts.append(TestVerdict(test.name, Status.SKIPPED, kind=test.kind, message="not run: the sample's CPU budget is spent"))
                    continue
                if isinstance(test, StdioTest):
                    verdict = self._run_stdio(test)
                elif isinstance(test, ScriptTest) and self.session is None and (replayed := self._replay_script(test)) is not None:
                    verdict, failure = replayed
                    if failure is not None:
                        load = failure
                        stop_status = failure.status
                else:
                    if self.session is None or not self.session.alive:
                        failure = self._open()
                        if failure is not None:
                            load = failure
                            verdicts.append(self._load_failed(test, failure))
                            stop_status = failure.status
                            continue
                    verdict = self._run_call(test) if isinstance(test, CallTest) else self._run_script(test)
                verdicts.append(verdict)
                fatal = sum(v.status.value in FATAL for v in verdicts)
                if verdict.status.value in FATAL and (not self.policy.continue_after_fatal or fatal >= self.policy.max_fatal):
                    stop_status = verdict.status
                elif verdict.status is not Status.PASS and self.policy.stop_at_first_failure:
                    stop_status, stop_reason = verdict.status, "failed"
        finally:
            self._close()
        return SampleResult(task_id=self.problem.task_id, tests=verdicts, load=load)

    def _load_failed(self, test: Test, failure: TestVerdict) -> TestVerdict:
        return TestVerdict(
            test.name,
            failure.status,
            kind=test.kind,
            exception_type=failure.exception_type,
            message="the program failed to load: %s" % (failure.message or failure.status.value),
            traceback=failure.traceback,
        )

    def _remote(self, function: str, args: tuple, kwargs: dict, cpu_seconds: float) -> Reply:
        assert self.session is not None
        reply = self.session.call(function, args, kwargs, cpu_seconds=cpu_seconds, wall_seconds=self._wall_for(cpu_seconds))
        self.cpu_spent_ns += reply.measurement.cpu_ns
        return reply

    def _wall_for(self, cpu_seconds: float) -> float:
        return self.limits.per_call_wall(cpu_seconds)

    # ---------------------------------------------------------------- call tests

    def _run_batched(self, tests: list[CallTest]) -> SampleResult:
        """All call tests in one exchange per candidate process; judged once the worker is free."""
        verdicts: list[TestVerdict | tuple[CallTest, Reply]] = []
        load: TestVerdict | None = None
        remaining = tests
        while remaining:
            if self.cpu_spent_ns > self.limits.sample_cpu_seconds * 1e9:
                verdicts += [TestVerdict(t.name, Status.SKIPPED, kind="call", message="not run: the sample's CPU budget is spent") for t in remaining]
                break
            session = Session(self.worker, self.program, self.limits)
            cpu = self.limits.cpu_seconds
            calls = [session.encoded_call_message(t.function or self.problem.entry_point, _plain(t).arguments, cpu, self._wall_for(cpu)) for t in remaining]
            load_reply, replies = session.run_batch(calls, expect=_expectations(remaining) if self.policy.stop_at_first_failure else None)
            self.cpu_spent_ns += load_reply.measurement.cpu_ns
            if load_reply.status != "ok":
                load = verdict_from_reply("load", "load", load_reply)
                verdicts.append(self._load_failed(remaining[0], load))
                verdicts += [TestVerdict(t.name, Status.SKIPPED, kind="call", message="not run: the program failed to load") for t in remaining[1:]]
                break
            for test, reply in zip(remaining, replies):
                self.cpu_spent_ns += reply.measurement.cpu_ns
                verdicts.append((test, reply))  # compared below, after the worker is released
            remaining = remaining[len(replies) :]
            if remaining and not replies:
                raise InfraError("the sandbox answered a batch with no replies")
            if remaining and session.stopped_at is not None:
                # stopped at a suspect answer: judged now, the rest run only if it was right after all
                verdicts = [self._call_verdict(*v) if isinstance(v, tuple) else v for v in verdicts]
                failed = next((v for v in verdicts if v.status is not Status.PASS), None)
                if failed is not None:
                    verdicts += [TestVerdict(t.name, Status.SKIPPED, kind="call", message="not run: an earlier test failed (%s)" % failed.status.value) for t in remaining]
                    break
                continue
            fatal = sum(_status_of(v).value in FATAL for v in verdicts)
            if remaining and (not self.policy.continue_after_fatal or fatal >= self.policy.max_fatal):
                stop = _status_of(verdicts[-1])
                verdicts += [TestVerdict(t.name, Status.SKIPPED, kind="call", message="not run: an earlier test ended the candidate (%s)" % stop.value) for t in remaining]
                break
        self.release()
        judged = [self._call_verdict(*v) if isinstance(v, tuple) else v for v in verdicts]
        return SampleResult(task_id=self.problem.task_id, tests=judged, load=load)

    def _run_call(self, test: CallTest) -> TestVerdict:
        function = test.function or self.problem.entry_point
        reply = self._remote(function, test.args, test.kwargs, self.limits.cpu_seconds)
        return self._call_verdict(test, reply)

    def _call_verdict(self, test: CallTest, reply: Reply) -> TestVerdict:
        function = test.function or self.problem.entry_point
        if reply.status != "ok":
            return verdict_from_reply(test.name, "call", reply)
        passed, difference = compare_output(self.problem, test, reply.value)
        verdict = verdict_from_reply(test.name, "call", reply, Status.PASS if passed else Status.FAIL)
        if not passed:
            verdict.first_difference = difference
            verdict.message = "%s(%s) returned a wrong answer" % (function, _call_text(test.args, test.kwargs))
        return verdict

    # ---------------------------------------------------------------- script tests

    def _run_script(self, test: ScriptTest) -> TestVerdict:
        """The script live: each of its calls a round trip to the open candidate."""
        made: list[CallKey] = []

        def send(function: str, args: tuple, kwargs: dict, cpu_budget_ns: float) -> Reply:
            if self.session is None or not self.session.alive:
                raise CandidateStopped(Reply(status="crash", message="the candidate process is gone", alive=False))
            made.append(call_key(function, args, kwargs))
            return self._remote(function, args, kwargs, max(cpu_budget_ns, 0) / 1e9)

        verdict = self._script_verdict(test, send)
        if self.script_calls is not None:
            self.script_calls.record(self._script_key(test), made)
        return verdict

    def _replay_script(self, test: ScriptTest) -> tuple[TestVerdict, TestVerdict | None] | None:
        """The script against streamed batches of the calls it made last time.

        The calls go to one candidate in chunks that grow threefold
        (8, 24, 72, ...), each sent when the script has used up the last: a
        correct program needs a few exchanges, and one that fails an early
        check is not made to run all the rest. Returns the verdict and the
        load failure if any, or None when the script asked for a call that
        was not recorded (the caller then runs it live on a fresh candidate;
        the batches' work is not charged).
        """
        if self.script_calls is None:
            return None
        key = self._script_key(test)
        recorded = self.script_calls.recorded(key)
        if recorded is None:
            return None
        cpu = self.limits.cpu_seconds
        calls = [{"op": "call", "fn": function, "args": json.loads(args), "kwargs": json.loads(kwargs), "cpu_seconds": cpu, "wall_seconds": self._wall_for(cpu)} for function, args, kwargs in recorded]
        session = Session(self.worker, self.program, self.limits)
        sent = chunk = min(REPLAY_FIRST_CHUNK, len(calls))
        try:
            load_reply, replies = session.run_batch(calls[:sent], keep_open=True)
            if load_reply.status != "ok":
                self.cpu_spent_ns += load_reply.measurement.cpu_ns
                failure = verdict_from_reply("load", "load", load_reply)
                return self._load_failed(test, failure), failure
            position = [0]
            spent = [load_reply.measurement.cpu_ns]
            missed = [False]

            def send(function: str, args: tuple, kwargs: dict, cpu_budget_ns: float) -> Reply:
                nonlocal sent, chunk
                index = position[0]
                if missed[0] or index >= len(calls) or recorded[index] != call_key(function, args, kwargs):
                    missed[0] = True
                    raise ReplayMissed()
                if index >= len(replies) and session.alive:
                    chunk *= REPLAY_GROWTH
                    more = calls[sent : sent + chunk]
                    sent += len(more)
                    replies.extend(session.stream(more))
                if index >= len(replies):  # it ended after answering its last call, as live
                    raise CandidateStopped(Reply(status="crash", message="the candidate process is gone", alive=False))
                position[0] += 1
                reply = replies[index]
                spent[0] += reply.measurement.cpu_ns
                if reply.measurement.cpu_ns > cpu_budget_ns and reply.status in ("ok", "exception", "unencodable"):
                    # live, this call would have had only what was left of the test's budget
                    return Reply(status="timeout", message="the test's CPU time (%.2f s) ran out in this call" % cpu, alive=False, stdout=reply.stdout, stderr=reply.stderr, measurement=reply.measurement)
                return reply

            try:
                verdict = self._script_verdict(test, send)
            except ReplayMissed:
                missed[0] = True
        finally:
            session.end()
        if missed[0]:
            self.script_calls.outcome(key, hit=False)
            return None
        self.script_calls.outcome(key, hit=True)
        self.cpu_spent_ns += spent[0]
        return verdict, None

    def _script_key(self, test: ScriptTest) -> tuple[str, str, str]:
        return ScriptCalls.key(self.problem.task_id, test.name, test.setup + "\0" + self.problem.setup + "\0" + test.source)

    def _script_verdict(self, test: ScriptTest, send: Callable[[str, tuple, dict, float], Reply]) -> TestVerdict:
        """Run the trusted script with the candidate replaced by a proxy whose
        calls ``send`` answers (live or from a replayed batch)."""
        budget = [self.limits.cpu_seconds * 1e9]
        totals = Measurement()
        outputs: list[Reply] = []
        last_call: list[tuple] = []

        def remote(function: str):
            def proxy(*args: Any, **kwargs: Any) -> Any:
                reply = send(function, args, kwargs, budget[0])
                budget[0] -= reply.measurement.cpu_ns
                totals.cpu_ns += reply.measurement.cpu_ns
                totals.wall_ns += reply.measurement.wall_ns
                totals.peak_rss_bytes = max(totals.peak_rss_bytes, reply.measurement.peak_rss_bytes)
                outputs.append(reply)
                if reply.status != "ok":
                    raise CandidateStopped(reply)
                last_call[:] = [(function, args, kwargs, reply.value)]  # described only if the check fails
                return reply.value

            proxy.__name__ = function
            return proxy

        filename = TEST_FILE % test.name
        linecache.cache[filename] = (len(test.source), None, test.source.splitlines(True), filename)
        namespace: dict[str, Any] = {"__name__": "__assay_test__", "__builtins__": script_builtins(self.problem.task_id, test.name)}
        try:
            if test.setup or self.problem.setup:
                exec(compile(test.setup or self.problem.setup, "<setup>", "exec"), namespace)
            candidate = remote(self.problem.entry_point)
            namespace[self.problem.entry_point] = candidate
            exec(compile(test.source, filename, "exec"), namespace)
            namespace[test.entry](candidate)
            status, message, difference = Status.PASS, None, None
        except CandidateStopped as stopped:
            verdict = verdict_from_reply(test.name, "script", stopped.reply)
            verdict.measurement = totals
            verdict.stdout, verdict.stderr = _joined(outputs)
            return verdict
        except ReplayMissed:
            raise
        except AssertionError as exc:
            status, message, difference = Status.FAIL, _assertion_text(exc, filename), _last_call_text(last_call)
        except Exception as exc:  # the check choked on what the candidate returned
            status = Status.FAIL
            message = "the test raised %s: %s" % (type(exc).__name__, exc)
            difference = _last_call_text(last_call)
        verdict = TestVerdict(test.name, status, kind="script", message=message, first_difference=difference, measurement=totals)
        verdict.stdout, verdict.stderr = _joined(outputs)
        return verdict

    # ---------------------------------------------------------------- stdio tests

    def _run_stdio(self, test: StdioTest) -> TestVerdict:
        self._close()
        session = Session(self.worker, self.program, self.limits, as_main=True, stdin=test.stdin)
        try:
            reply = session.load()
        finally:
            session.end()
        self.cpu_spent_ns += reply.measurement.cpu_ns
        if reply.status != "ok":
            return verdict_from_reply(test.name, "stdio", reply)
        difference = stdout_difference(reply.stdout, test.expected_stdout)
        verdict = verdict_from_reply(test.name, "stdio", reply, Status.PASS if difference is None else Status.FAIL)
        verdict.first_difference = difference
        return verdict


_UNENCODABLE = object()


@dataclass(frozen=True)
class PlainTest:
    """A call test as plain data: its arguments (``encode_arguments``) and expected value (or _UNENCODABLE)."""

    arguments: tuple[Any, Any]
    expected: Any


def _encode_test(test: CallTest) -> PlainTest:
    try:
        expected = codec.encode(test.expected)
    except codec.Unencodable:
        expected = _UNENCODABLE
    return PlainTest(encode_arguments(test.args, test.kwargs), expected)


# once per test object: tests are shared by all of a problem's samples
_plain: IdentityMemo[CallTest, PlainTest] = IdentityMemo(_encode_test, size=65536)


def _expectations(tests: list[CallTest]) -> dict[int, Any]:
    """The plain data each exactly-compared test expects, by position (see ``Session.run_batch``)."""
    expected: dict[int, Any] = {}
    for index, test in enumerate(tests):
        if test.comparison == "exact" and (plain := _plain(test).expected) is not _UNENCODABLE:
            expected[index] = plain
    return expected


def _status_of(entry: TestVerdict | tuple[CallTest, Reply]) -> Status:
    """A verdict's status, or a reply's as far as it is known before comparing (ok counts as a pass)."""
    if isinstance(entry, tuple):
        reply = entry[1]
        return Status.PASS if reply.status == "ok" else reply_status(reply)
    return entry.status


def _last_call_text(last_call: list) -> str | None:
    if not last_call:
        return None
    function, args, kwargs, value = last_call[0]
    return "%s(%s) returned %s" % (function, _call_text(args, kwargs), short_repr(value))


def _call_text(args: tuple, kwargs: dict) -> str:
    parts = [short_repr(a, 60) for a in args] + ["%s=%s" % (k, short_repr(v, 60)) for k, v in kwargs.items()]
    return ", ".join(parts)


def _assertion_text(exc: AssertionError, filename: str) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    line = frames[-1].line if frames else None
    detail = str(exc)
    text = "assertion failed"
    if line:
        text += ": %s" % line.strip()
    if detail:
        text += " (%s)" % detail[:300]
    return text


def _joined(replies: list[Reply]) -> tuple[str, str]:
    return "".join(r.stdout for r in replies)[-8192:], "".join(r.stderr for r in replies)[-8192:]
