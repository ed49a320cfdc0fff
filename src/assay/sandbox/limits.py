"""Resource limits for one run of a candidate."""

from __future__ import annotations

from dataclasses import dataclass, replace

MiB = 1024 * 1024


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

    def scaled_to(self, reference_cpu_seconds: float, factor: float = 10.0, floor: float = 1.0) -> "Limits":
        """Limits derived from a reference solution's measured CPU time."""
        cpu = max(floor, reference_cpu_seconds * factor)
        return replace(self, cpu_seconds=cpu, wall_seconds=max(self.wall_seconds, 3 * cpu + 1))
