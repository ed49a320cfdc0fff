"""Instruction counts of calls, by cachegrind inside the sandbox (the ``instructions`` meter's engine).

``valgrind --tool=cachegrind --cache-sim=no`` runs the call harness
(``call_harness.py valgrind-pair``) in one of the sandbox's workers, exec
mode, driven by ``valgrind_driver.py``. Only the call is counted: per input
the harness forks a child calling an empty function of the same arity and a
child calling the real one; valgrind's counters are inherited through fork,
so the difference of their final counts, less the calibrated gap between
the two forks, is the call. Start-up, imports, loading the program and
decoding the inputs cancel out. Exactly repeatable with ``PYTHONHASHSEED=0``.

:func:`valgrind_command` is the one place where the command line is built;
:func:`read_summaries` reads (and checks) the per-process logs.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from assay import pyast
from assay.measure.harness_job import HARNESS_PATH, HarnessError, HarnessJob, harness_command
from assay.sandbox.pool import Sandbox
from assay.sandbox.worker import InfraError

GiB = 1 << 30
DRIVER_PATH = Path(__file__).with_name("valgrind_driver.py")

# Options that matter for speed: no cache or branch simulation, output file
# discarded (the summary goes to the per-process log).
CACHEGRIND_OPTIONS = (
    "--tool=cachegrind",
    "--cache-sim=no",
    "--branch-sim=no",
    "--cachegrind-out-file=/dev/null",
)

_SUMMARY = re.compile(r"^==(\d+)==\s+I\s+refs:\s+([\d,]+)\s*$", re.MULTILINE)


def find_valgrind() -> str | None:
    return shutil.which("valgrind")


def valgrind_command(
    log_dir: str | os.PathLike[str],
    *,
    python: str,
    valgrind: str = "valgrind",
    no_site: bool = True,
    extra_valgrind_args: Sequence[str] = (),
) -> list[str]:
    """The command that runs the harness under cachegrind.

    Every process (the harness, each forked child) writes its summary to
    ``log_dir/vg.<pid>.log``. Run it with ``MEASURE_ENV`` (PYTHONHASHSEED=0,
    no -E/-I). ``python`` is the interpreter binary itself (valgrind
    follows no venv launcher).
    """
    return [
        valgrind,
        *CACHEGRIND_OPTIONS,
        f"--log-file={os.fspath(log_dir)}/vg.%p.log",
        *extra_valgrind_args,
        *harness_command("valgrind-pair", python, no_site=no_site),
    ]


def read_summaries(log_dir: str | os.PathLike[str], pids: Sequence[int] | None = None) -> dict[int, int]:
    """pid -> instruction count from the per-process cachegrind logs.

    A log with no summary (the process was killed) is skipped; a log with
    more than one summary, or one for another pid, is rejected: something
    wrote into it.
    """
    counts: dict[int, int] = {}
    directory = Path(log_dir)
    wanted = None if pids is None else set(pids)
    for path in directory.glob("vg.*.log"):
        try:
            pid = int(path.name.split(".")[1])
        except (IndexError, ValueError):
            continue
        if wanted is not None and pid not in wanted:
            continue
        text = path.read_text(errors="replace")
        found = _SUMMARY.findall(text)
        if not found:
            continue
        if len(found) != 1 or int(found[0][0]) != pid:
            raise HarnessError(f"tampered or corrupt valgrind log {path.name}")
        counts[pid] = int(found[0][1].replace(",", ""))
    return counts


def calibration_gap(calibration: dict | None, counts: dict[int, int]) -> int:
    """Instructions the input process runs between forking A and B."""
    if not calibration or calibration.get("status") != "ok":
        raise HarnessError(f"the calibration pair failed: {calibration}")
    try:
        return counts[calibration["b"]] - counts[calibration["a"]]
    except KeyError as exc:
        raise HarnessError("no valgrind summary for the calibration pair") from exc


def instruction_counts(sandbox: Sandbox, python: str, jobs: Sequence[tuple[str, str, Sequence[tuple]]], per_call_timeout: float) -> list[list[tuple[str, float | None]]]:
    """(status, count) per input of each job (program, function, inputs), counted by valgrind in the sandbox.

    All jobs share one valgrind process (its start-up, ~4 s here, is paid
    once); each job is loaded in a fresh forked process, each input counted
    in its own. Counts of a job depend (by a few hundred instructions) on
    the pids it gets, hence on the jobs before it: for repeatable numbers
    give one job per call (it is then the first in a fresh pid namespace).
    status is "ok" or the harness's status ("error", "timeout", "crash",
    ...). ``per_call_timeout``: wall seconds per call under valgrind.
    Raises :class:`InfraError` when the measurement failed.
    """
    argv = valgrind_command(".", python=python)
    argv = [("harness.py" if a == str(HARNESS_PATH) else a) for a in argv]
    frames = b"".join(HarnessJob(program, function, tuple(tuple(args) for args in inputs), per_call_timeout, verify=False).encode() for program, function, inputs in jobs)
    files = {
        "driver.py": DRIVER_PATH.read_text(),
        "harness.py": HARNESS_PATH.read_text(),
        "argv.txt": "\n".join(argv),
        "job.b64": base64.b64encode(frames).decode("ascii"),
    }
    n_inputs = sum(len(inputs) for _, _, inputs in jobs)
    budget = 60.0 + 2 * (n_inputs + 2 * len(jobs)) * (per_call_timeout + 5.0)
    base = sandbox.limits
    limits = replace(base.with_cpu(budget), memory_bytes=16 * GiB, sample_cpu_seconds=budget, processes=max(base.processes, 256), file_bytes=256 << 20)
    reply = sandbox.run_exec([python, "-S", "driver.py"], files=files, collect=["records.txt", "logs.txt"], limits=limits)
    if reply.status != "exited" or reply.exit_code != 0:
        raise InfraError("valgrind driver ended with %s %s: %s" % (reply.status, reply.exit_code, (reply.stderr or reply.message or "")[-500:]))
    try:
        records = [pyast.literal_eval(line) for line in (reply.files.get("records.txt") or "").splitlines() if line.strip()]
    except (ValueError, SyntaxError) as exc:
        raise InfraError("unreadable harness records: %s" % exc) from exc
    counts = _parse_logs(reply.files.get("logs.txt") or "")
    calibration = next((r["calibration"] for r in records if "calibration" in r), None)
    try:
        gap = calibration_gap(calibration, counts)
    except HarnessError as exc:
        raise InfraError("valgrind calibration failed: %s" % exc) from exc
    per_job: list[list[dict]] = [[]]
    for record in records:
        if record.get("end"):
            per_job.append([])
        elif "load_error" in record or "index" in record:
            per_job[-1].append(record)
    out: list[list[tuple[str, float | None]]] = []
    for (_, _, inputs), job_records in zip(jobs, per_job + [[]] * len(jobs)):
        if any("load_error" in r for r in job_records):
            out.append([("error", None)] * len(inputs))
            continue
        by_index = {int(r["index"]): r for r in job_records}
        row: list[tuple[str, float | None]] = []
        for index in range(len(inputs)):
            record = by_index.get(index)
            if record is None:
                row.append(("crash", None))
            elif record.get("status") != "ok":
                row.append((str(record.get("status")), None))
            elif record.get("a") not in counts or record.get("b") not in counts:
                raise InfraError("no valgrind summary for input %d" % index)
            else:
                row.append(("ok", float(max(0, counts[record["b"]] - counts[record["a"]] - gap))))
        out.append(row)
    return out


def _parse_logs(text: str) -> dict[int, int]:
    """pid -> count from the driver's concatenation of cachegrind logs (checked by read_summaries)."""
    with tempfile.TemporaryDirectory(prefix="assay-eff-vg-") as tmp:
        name, chunk = None, []
        for line in text.splitlines(keepends=True):
            if line.startswith("@@ vg.") and line.rstrip().endswith(".log"):
                if name:
                    Path(tmp, name).write_text("".join(chunk))
                name, chunk = os.path.basename(line[3:].strip()), []
            else:
                chunk.append(line)
        if name:
            Path(tmp, name).write_text("".join(chunk))
        try:
            return read_summaries(tmp)
        except HarnessError as exc:
            raise InfraError(str(exc)) from exc
