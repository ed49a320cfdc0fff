"""docs/benchmarks.md, one section per bench, each replaced on its own.

Every bench owns the text between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->``; writing one section leaves the others (and
anything a person wrote outside the markers) untouched. A section that is
not there yet is appended at the end.

    from report import replace_section
    replace_section("core", markdown_text)
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import os
import platform
import re
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"

HEADER = """# Benchmarks

How to run all of them (creates or reuses `.venv` first):

    make bench                         # = .venv/bin/python bench/run_all.py
    .venv/bin/python bench/run_all.py core        # one bench by name
    .venv/bin/python bench/run_all.py --list      # the benches there are

Each bench writes its own section below, between `<!-- bench:NAME -->`
markers, with the exact command it was run with and the date; rerunning a
bench replaces only its section. Numbers depend on the machine and on what
else runs on it, so each section also says what the machine was and how busy.
"""

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def markers(name: str) -> tuple[str, str]:
    if not _NAME.match(name):
        raise ValueError("a section name is letters, digits, '_', '.', '-': %r" % name)
    return "<!-- bench:%s -->" % name, "<!-- /bench:%s -->" % name


def replace_section(name: str, body: str, path: str | Path = DOC, header: str = HEADER) -> Path:
    """Put ``body`` between the markers of section ``name`` in ``path``."""
    path = Path(path)
    start, end = markers(name)
    block = "%s\n%s\n%s" % (start, body.strip("\n"), end)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):  # benches may finish at the same time
        text = path.read_text(encoding="utf-8") if path.exists() else header
        i = text.find(start)
        if i >= 0:
            j = text.find(end, i)
            if j < 0:
                raise ValueError("%s: section %r has a start marker but no end marker %r" % (path, name, end))
            text = text[:i] + block + text[j + len(end) :]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".benchmarks-", suffix=".md")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    return path


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock on a file in the temp dir named after ``path`` (not on ``path``: it is replaced)."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    lock = Path(tempfile.gettempdir()) / ("assay-bench-doc-%s.lock" % digest)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_section(name: str, path: str | Path = DOC) -> str | None:
    """The current body of section ``name``, or None."""
    path = Path(path)
    if not path.exists():
        return None
    start, end = markers(name)
    text = path.read_text(encoding="utf-8")
    i = text.find(start)
    j = text.find(end, i + 1) if i >= 0 else -1
    return text[i + len(start) : j].strip("\n") if i >= 0 and j >= 0 else None


def today() -> str:
    return _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def git_revision() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" + uncommitted changes" if dirty else "") if head else "unknown"


def machine() -> str:
    """One line: CPU model, cores, memory, kernel, Python."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            kb = int(handle.readline().split()[1])
            memory = ", %.0f GiB RAM" % (kb / 2**20)
    except (OSError, ValueError, IndexError):
        pass
    return "%s, %d cores%s, Linux %s, Python %s" % (model, os.cpu_count() or 1, memory, platform.release(), platform.python_version())


def run_header(command: str, info: dict) -> list[str]:
    """The lines every section starts with: command, date, revision, machine, load (``info`` from the bench's start)."""
    return [
        "Command: `%s`  " % command,
        "Date: %s  " % info["date"],
        "Revision: %s  " % info["git"],
        "Machine: %s  " % info["machine"],
        "Load average at the start: %s" % info["load"],
    ]


def table(headers: list[str], rows: list[list[object]], align: str | None = None) -> str:
    """A Markdown table; ``align`` is one of l/r per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |")
    return "\n".join(lines)
