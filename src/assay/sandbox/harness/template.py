"""The template: the process every candidate is forked from, and the monitor's handle on it.

It is forked from the zygote once, when the harness is loaded, and only forks
candidates: nothing the monitor sees later (other samples' answers, expected
values) is ever in its memory, so never in a candidate's either.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time

import protocol
from candidate import candidate_main
from hardening import CLONE_NEWPID, libc

SPAWN = struct.Struct("=IB")  # start message size, 1 = in a pid namespace of its own
RECORD = struct.Struct("=Biiqqq")  # kind, pid, status (spawned: pid namespace used), utime us, stime us, maxrss KiB
SPAWNED, EXITED = 1, 2


class Usage:
    """The parts of a candidate's rusage the monitor uses (the template reaps it)."""

    __slots__ = ("ru_utime", "ru_stime", "ru_maxrss")

    def __init__(self, utime_us: int, stime_us: int, maxrss_kib: int) -> None:
        self.ru_utime, self.ru_stime, self.ru_maxrss = utime_us / 1e6, stime_us / 1e6, maxrss_kib


def template_main(channel: socket.socket, pidns_fd: int | None, workdir: str) -> None:
    """Fork a candidate for each start message (in ``workdir``); tell the monitor its pid, then its end. Never returns."""
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    live: dict[int, int] = {}  # pidfd -> pid
    while True:
        ready, _, _ = select.select([channel, *live], [], [])
        for fd in ready:
            if fd is channel:
                header, fds, _, _ = socket.recv_fds(channel, SPAWN.size, 8)
                if len(header) != SPAWN.size or len(fds) != 5:
                    os._exit(0)  # the monitor is gone
                size, want_pidns = SPAWN.unpack(header)
                # one buffer, wiped once the candidate has its copy: no later
                # candidate finds an earlier one's program in this memory
                body = bytearray(size)
                view = memoryview(body)
                done = 0
                while done < size:
                    got = channel.recv_into(view[done:])
                    if not got:
                        os._exit(0)
                    done += got
                own = bool(want_pidns) and pidns_fd is not None and libc.setns(pidns_fd, CLONE_NEWPID) == 0 and libc.unshare(CLONE_NEWPID) == 0
                os.chdir(workdir)
                pid = os.fork()
                if pid == 0:
                    try:
                        channel.close()
                        view.release()
                        start = protocol.parse_body(body)
                        del view, body
                        candidate_main(start, fds[0], fds[1], (fds[2], fds[3], fds[4]), own)
                    finally:
                        os._exit(71)
                view[:] = bytes(size)
                view.release()
                del view, body
                for each in fds:
                    os.close(each)
                watch = os.pidfd_open(pid)
                live[watch] = pid
                # the monitor receives its own copy of the descriptor
                socket.send_fds(channel, [RECORD.pack(SPAWNED, pid, int(own), 0, 0, 0)], [watch])
            else:
                pid = live.pop(fd)
                os.close(fd)
                _, status, usage = os.wait4(pid, 0)
                channel.sendall(RECORD.pack(EXITED, pid, status, int(usage.ru_utime * 1e6), int(usage.ru_stime * 1e6), usage.ru_maxrss))


class Template:
    """The monitor's side of the template: spawn a candidate, learn how it ended."""

    def __init__(self, pidns_fd: int | None, workdir: str) -> None:
        self.channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.pid = os.fork()
        if self.pid == 0:
            try:
                self.channel.close()
                template_main(theirs, pidns_fd, workdir)
            finally:
                os._exit(72)
        theirs.close()
        self.exits: dict[int, tuple[int, Usage]] = {}
        self.awaited = 0

    def spawn(self, body: bytes, fds: list[int], own_pidns: bool) -> tuple[int, int, bool]:
        """(pid, pidfd, in a pid namespace of its own) of a new candidate running ``body``."""
        socket.send_fds(self.channel, [SPAWN.pack(len(body), int(own_pidns))], fds)
        self.channel.sendall(body)
        while True:
            kind, pid, status, utime, stime, maxrss, pidfd = self._record(30.0)
            if kind == SPAWNED:
                if pidfd is None:
                    raise RuntimeError("the template sent no pidfd")
                self.awaited = pid
                self.exits.clear()
                return pid, pidfd, bool(status)

    def exit_of(self, pid: int, timeout: float = 0.0) -> tuple[int, Usage] | None:
        """The exit status and usage of candidate ``pid``, if the template has reaped it (waiting up to ``timeout``)."""
        deadline = time.monotonic() + timeout
        while pid not in self.exits:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.channel], [], [], max(0.0, left))
            if not ready:
                return None
            self._record(1.0)
        return self.exits[pid]

    def _record(self, timeout: float) -> tuple:
        data, fds = b"", []
        deadline = time.monotonic() + timeout
        while len(data) < RECORD.size:
            ready, _, _ = select.select([self.channel], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise RuntimeError("the template did not answer")
            chunk, more, _, _ = socket.recv_fds(self.channel, RECORD.size - len(data), 1)
            if not chunk:
                raise RuntimeError("the template is gone")
            data += chunk
            fds += more
        kind, pid, status, utime, stime, maxrss = RECORD.unpack(data)
        if kind == EXITED and pid == self.awaited:
            self.exits[pid] = (status, Usage(utime, stime, maxrss))
        return kind, pid, status, utime, stime, maxrss, (fds[0] if fds else None)
