"""What ``call_harness.py`` reads: its command line, its environment, and the job frames.

A job is one program, one function and its inputs, framed for the harness's
stdin (:meth:`HarnessJob.encode`); the harness answers one Python-literal dict
per line on stdout. :func:`assay.measure.valgrind.instruction_counts` runs it
under valgrind in the sandbox. (A host-side client that keeps a harness
process warm is bench code: ``bench/meterlab/harness_process.py``.)
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from assay.measure.call_harness import decode_args, encode_frame, encode_input

HARNESS_PATH = Path(__file__).with_name("call_harness.py")

# Arguments of one call: a Python literal of the argument tuple (str), a
# pickle of it (bytes), or the tuple itself (pickled for the trip).
Payload = Union[str, bytes, tuple]

# Environment of the measured interpreter. PYTHONHASHSEED=0 makes str/bytes
# hashing, hence set and dict iteration orders, the same in every run. Do not
# add -E or -I to the command: both make Python ignore PYTHONHASHSEED. The
# environment is built from scratch instead, so nothing else leaks in.
MEASURE_ENV = {"PYTHONHASHSEED": "0", "LC_ALL": "C", "PATH": "/usr/bin:/bin"}


class HarnessError(RuntimeError):
    """The harness itself failed (our fault, not the candidate's)."""


@dataclass(frozen=True)
class HarnessJob:
    """One program, one function, several inputs."""

    source: str
    function: str
    inputs: tuple[Payload, ...]
    timeout: float = 60.0  # wall seconds per measured call (under the meter)
    verify: bool = True  # report a digest of each result (two more forks per input)

    def encode(self) -> bytes:
        """The frames for the harness's stdin: a header, then one per input."""
        header = pickle.dumps(
            {
                "source": self.source,
                "function": self.function,
                "timeout": self.timeout,
                "n": len(self.inputs),
                "verify": self.verify,
            },
            protocol=4,
        )
        frames = [encode_frame(header)]
        frames += [encode_frame(encode_input(canonical_payload(payload))) for payload in self.inputs]
        return b"".join(frames)


def canonical_payload(payload: Payload) -> bytes:
    """Every input travels as a pickle of its argument tuple.

    How an input is decoded leaves traces in the heap (a literal goes through
    the parser, a pickle does not) and those shift counts by a few hundred
    instructions; decoding literals here makes the measured process see the
    same bytes for the same value, whatever form the caller used.
    """
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    args = decode_args(payload) if isinstance(payload, str) else tuple(payload)
    return pickle.dumps(args, protocol=4)


def harness_command(mode: str, python: str, *, no_site: bool = True) -> list[str]:
    """``python [-S] call_harness.py MODE``; -S skips site (and its .pth files)."""
    command = [python]
    if no_site:
        command.append("-S")
    command += [str(HARNESS_PATH), mode]
    return command
