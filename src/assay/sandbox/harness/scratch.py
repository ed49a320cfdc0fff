"""The scratch directories candidates write to, and wiping them between samples.

Inside bubblewrap /tmp and /dev/shm are the sandbox's own, and wiped between
samples. Unsandboxed (no bwrap), the supervisor passes a private directory
with --work-root and nothing outside it is ever touched.
"""

from __future__ import annotations

import os
import shutil


def tmp_skeleton(sandboxed: bool) -> tuple[dict[str, frozenset], tuple[str, ...]]:
    """What /tmp holds before any candidate ran: the directories bubblewrap made
    for read-only binds of a Python or checkout living under /tmp (each with
    its entries), and those bind mounts. Empty unless such binds exist."""
    directories: dict[str, frozenset] = {}
    mounts: list[str] = []
    if sandboxed:
        pending = ["/tmp"]
        while pending:
            directory = pending.pop()
            entries = frozenset(os.listdir(directory)) - ({"assay-work"} if directory == "/tmp" else set())
            directories[directory] = entries
            for entry in entries:
                path = os.path.join(directory, entry)
                if os.path.ismount(path):
                    mounts.append(path)
                elif os.path.isdir(path) and not os.path.islink(path):
                    pending.append(path)
    return directories, tuple(mounts)


class Scratch:
    """The zygote's writable directories: ``work_root`` (the candidate runs in
    its ``run``, its std streams are files in its ``io``) and, sandboxed, all
    of /tmp and /dev/shm. Made when no candidate has run yet, so that it
    notes what /tmp holds before any (``tmp_skeleton``)."""

    def __init__(self, work_root: str, sandboxed: bool) -> None:
        self.work_root = work_root
        self.sandboxed = sandboxed
        self.directories = ("/tmp", "/dev/shm") if sandboxed else (work_root,)
        self.skeleton, self.mounts = tmp_skeleton(sandboxed)

    def dirty(self) -> bool:
        """Did the last candidate leave anything where the next one could see it?"""
        try:
            if os.listdir(os.path.join(self.work_root, "run")):
                return True
            if not self.sandboxed:
                return False
            for directory, entries in (self.skeleton or {"/tmp": frozenset()}).items():
                found = set(os.listdir(directory))
                if directory == "/tmp":
                    found.discard("assay-work")
                if found != entries:
                    return True
            if not all(os.path.ismount(mount) for mount in self.mounts):
                return True
            return os.path.isdir("/dev/shm") and bool(os.listdir("/dev/shm"))
        except OSError:
            return True

    def clean(self) -> None:
        def force(function, path, _exc):
            try:
                os.chmod(os.path.dirname(path), 0o700)
                os.chmod(path, 0o700)
                function(path)
            except OSError:
                pass

        kept = self.skeleton if self.sandboxed else {}
        if kept and not (all(os.path.isdir(d) for d in kept) and all(os.path.ismount(m) for m in self.mounts)):
            # a bind's directory was moved: this sandbox cannot be made clean again
            raise RuntimeError("a candidate moved the read-only binds under /tmp")
        for directory in kept:
            if directory != "/tmp":
                try:
                    os.chmod(directory, 0o755)  # a candidate may have closed it
                except OSError:
                    pass
        for scratch in self.directories + tuple(d for d in kept if d not in self.directories):
            try:
                entries = os.listdir(scratch)
            except OSError:
                continue
            for entry in entries:
                path = os.path.join(scratch, entry)
                if entry in kept.get(scratch, ()) or os.path.ismount(path):
                    continue
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, onerror=force)
                else:
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
