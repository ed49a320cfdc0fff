"""Kernel bits that harden the sandbox: capabilities, no_new_privs, pid namespaces, strays.

The zygote drops the bounding set and probes for pid namespaces once; every
candidate drops its own capabilities at start (``drop_capabilities``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import time

CLONE_NEWPID = 0x20000000
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_SET_CHILD_SUBREAPER = 38, 24, 47, 36
PR_SET_DUMPABLE = 4

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return 63


LAST_CAP = last_capability()


def drop_bounding_set() -> None:
    """Empty the bounding set (inherited by every candidate): no exec can ever regain a capability.

    Done once in the zygote; its own effective capabilities stay, as it needs
    them for pid namespaces.
    """
    for cap in range(LAST_CAP + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)


# Built once in the zygote: a candidate only makes the three calls.
_prctl, _capset = libc.prctl, libc.capset
_NO_CAPS = (ctypes.byref(CapHeader(0x20080522, 0)), ctypes.byref((CapData * 2)()))


def drop_capabilities() -> None:
    """No capabilities, now or after any exec; no privilege gain via setuid files."""
    _prctl(PR_CAP_AMBIENT, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    _capset(*_NO_CAPS)
    _prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def probe_pid_namespace() -> bool:
    """Can this process give each run its own pid namespace?"""
    pid = os.fork()
    if pid == 0:
        ok = libc.unshare(CLONE_NEWPID) == 0
        if ok:
            inner = os.fork()
            if inner == 0:
                os._exit(0 if os.getpid() == 1 else 1)
            _, status = os.waitpid(inner, 0)
            ok = os.waitstatus_to_exitcode(status) == 0
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def sweep_strays(template_pid: int) -> int:
    """Kill every process in this sandbox but ourselves, its init and the template (``template_pid``)."""
    killed = 0
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, me, template_pid):
            try:
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if killed:
                time.sleep(0.001)
                killed = 0
                continue
            break
    return killed
