from __future__ import annotations

import os
from pathlib import Path

import pytest

from assay.problems import CallTest, Problem
from assay.sandbox.limits import Limits
from assay.sandbox.pool import Sandbox

# a workload read from the user's cache carries an earlier run's timings: tests build their own unless they ask for the cache
os.environ.setdefault("ASSAY_WORKLOAD_CACHE", "off")

FAST_LIMITS = Limits(cpu_seconds=0.5, wall_seconds=1.5, sample_cpu_seconds=5, memory_bytes=1024 << 20)


@pytest.fixture(scope="session")
def sandbox():
    with Sandbox(workers=2, limits=FAST_LIMITS, calibrate=False) as box:
        yield box


def probe_problem(function: str = "probe", expected=False, args: tuple = ()) -> Problem:
    """A problem whose only test passes when ``probe()`` returns ``expected``.

    Red-team tests write candidates whose ``probe`` reports whether an attack
    worked; the attack failed exactly when the verdict is a pass.
    """
    return Problem(task_id="redteam/" + function, prompt="", entry_point=function, tests=(CallTest("probe", args, expected),))


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc/%s/stat" % entry).read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


class SentMessages(list):
    """The messages the supervisor sent its sandbox workers, in order."""

    def of(self, op: str) -> list[dict]:
        return [m for m in self if m.get("op") == op]


@pytest.fixture
def sent(monkeypatch) -> SentMessages:
    """Every message sent to any sandbox worker while the test runs."""
    from assay.sandbox.worker import Worker

    messages = SentMessages()
    original = Worker.send

    def recording(self, *sent_together):
        messages.extend(sent_together)
        return original(self, *sent_together)

    monkeypatch.setattr(Worker, "send", recording)
    return messages


def only_zygotes_remain(sandbox, within: float = 10.0) -> bool:
    """bwrap's init, the zygote and its template, and nothing else, in every worker."""
    import time

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(len(descendants(w.process.pid)) <= 3 for w in sandbox._workers if w.process is not None):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray (2 CPUs) for one test module, started here unless one already runs, and shut down after the module."""
    ray = pytest.importorskip("ray")
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 1024 * 1024)
    yield ray
    if started_here:
        ray.shutdown()


class ReachAttempts(dict):
    """What a strategy tried to reach of the hidden tests (what -> "reached" or "refused: <error>")."""

    def attempt(self, what: str, action) -> None:
        from assay.sealing import SealedError

        try:
            action()
            self[what] = "reached"
        except (SealedError, PermissionError) as exc:
            self[what] = "refused: %s" % type(exc).__name__

    def all_refused(self) -> bool:
        return bool(self) and all(v.startswith("refused") for v in self.values())
