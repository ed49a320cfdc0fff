"""cgroup v1 limits for a worker, where the controllers are writable.

These machines have no usable cgroup v2, but root may create child groups
below the ones the process already sits in for the v1 ``memory`` and ``pids``
controllers. Each worker gets its own group of each; its whole process tree
is confined to it from the moment the sandbox starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

V1_ROOT = Path("/sys/fs/cgroup")


def _own_path(controller: str) -> str | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    return None


def writable_parent(controller: str) -> Path | None:
    """The directory under which we may create groups for ``controller``."""
    own = _own_path(controller)
    if own is None:
        return None
    base = V1_ROOT / controller / own.lstrip("/")
    probe = base / ("assay-probe-" + os.urandom(4).hex())
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return None
    return base


@dataclass
class WorkerGroups:
    """The cgroups of one worker; ``procs_files`` is where its first pid goes."""

    directories: list[Path]

    @property
    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.directories]

    def memory_failures(self) -> int:
        for directory in self.directories:
            counter = directory / "memory.failcnt"
            if counter.exists():
                try:
                    return int(counter.read_text())
                except (OSError, ValueError):
                    return 0
        return 0

    def remove(self) -> None:
        for directory in self.directories:
            try:
                directory.rmdir()
            except OSError:
                pass


class CgroupLimiter:
    """Creates per-worker groups with memory and process-count limits."""

    def __init__(self) -> None:
        self.memory_parent = writable_parent("memory")
        self.pids_parent = writable_parent("pids")

    @property
    def available(self) -> dict[str, bool]:
        return {"memory": self.memory_parent is not None, "pids": self.pids_parent is not None}

    def create(self, name: str, memory_bytes: int, processes: int) -> WorkerGroups:
        directories = []
        if self.memory_parent is not None:
            group = self.memory_parent / name
            group.mkdir(exist_ok=True)
            _write(group / "memory.limit_in_bytes", str(memory_bytes))
            _write(group / "memory.memsw.limit_in_bytes", str(memory_bytes), optional=True)
            directories.append(group)
        if self.pids_parent is not None:
            group = self.pids_parent / name
            group.mkdir(exist_ok=True)
            _write(group / "pids.max", str(processes))
            directories.append(group)
        return WorkerGroups(directories)


def _write(path: Path, value: str, optional: bool = False) -> None:
    try:
        path.write_text(value)
    except OSError:
        if not optional:
            raise


def group_name(worker_index: int) -> str:
    return "assay-%d-w%d-%s" % (os.getpid(), worker_index, os.urandom(3).hex())
