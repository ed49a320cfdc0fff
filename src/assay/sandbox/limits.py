"""Resource limits for one run of a candidate, and the one rule for wall-clock backstops."""

from __future__ import annotations

from dataclasses import dataclass, replace

MiB = 1024 * 1024


def wall_for_cpu(cpu_seconds: float) -> float:
    """The wall-clock backstop for a CPU limit: catches code that sleeps or blocks."""
    return 1.5 * cpu_seconds + 0.25


@dataclass(frozen=True)
class Limits:
    """Per-test and per-sample limits.

    ``cpu_seconds`` bounds each test's CPU time; ``wall_seconds`` is a backstop
    for code that sleeps or blocks. ``sample_cpu_seconds`` bounds the whole
    sample (the kernel enforces it with RLIMIT_CPU). Memory is the address
    space of the candidate process.
    """

    cpu_seconds: float = 4.0
    wall_seconds: float = 12.0
    sample_cpu_seconds: float = 60.0
    memory_bytes: int = 2048 * MiB
    output_bytes: int = 1 * MiB
    processes: int = 64
    open_files: int = 256
    file_bytes: int = 16 * MiB

    @classmethod
    def for_cpu(cls, cpu_seconds: float, **other: float | int) -> "Limits":
        """Limits with this per-test CPU time and its wall-clock backstop (``wall_for_cpu``)."""
        return cls(cpu_seconds=cpu_seconds, wall_seconds=wall_for_cpu(cpu_seconds), **other)  # type: ignore[arg-type]

    def with_cpu(self, cpu_seconds: float) -> "Limits":
        """These limits with another per-test CPU time and its wall-clock backstop."""
        return replace(self, cpu_seconds=cpu_seconds, wall_seconds=wall_for_cpu(cpu_seconds))

    def per_call_wall(self, cpu_seconds: float) -> float:
        """A call's wall backstop: its CPU time's, never above the sample's wall limit."""
        return min(self.wall_seconds, wall_for_cpu(cpu_seconds))
