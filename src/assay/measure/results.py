"""What the ENAMEL evaluator reports: per-level costs, a sample's score, a reference's profile.

Every cost carries its meter's name (``cpu-time``, ``instructions``, or a
registered meter's) and unit; see :mod:`assay.measure.efficiency`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from assay.measure.meters import ReferenceUnavailable


@dataclass(frozen=True)
class LevelCost:
    """A sample's result at one size level, on one meter."""

    level: int
    size: int
    weight: float
    status: str  # LevelStatus value: ok | censored | wrong | not_run
    value: float | None
    unit: str
    meter: str
    reference: float | None = None  # the reference's cost at this level, same meter

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "size": self.size,
            "weight": self.weight,
            "status": self.status,
            "value": self.value,
            "unit": self.unit,
            "meter": self.meter,
            "reference": self.reference,
        }


@dataclass(frozen=True)
class SampleEfficiency:
    """ENAMEL's efficiency of one sample: score in [0, 1], per-level costs, speedup."""

    task_id: str
    meter: str
    unit: str
    passed: bool  # ENAMEL's pass: no wrong answer and level 0 completed
    score: float
    levels: tuple[LevelCost, ...] = ()
    budget: float | None = None
    speedup: float | None = None
    censored_at: int | None = None
    failed_at: int | None = None
    note: str | None = None  # why there is no measurement (no workload, infra error, ...)
    seconds: float = 0.0  # wall time spent measuring this sample

    @property
    def measured(self) -> bool:
        """False when there is no score (no workload for the problem, or an infrastructure error)."""
        return not math.isnan(self.score)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "meter": self.meter,
            "unit": self.unit,
            "passed": self.passed,
            "score": self.score,
            "budget": self.budget,
            "speedup": self.speedup,
            "censored_at": self.censored_at,
            "failed_at": self.failed_at,
            "levels": [level.to_dict() for level in self.levels],
            "seconds": round(self.seconds, 3),
        }
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class ReferenceProfile:
    """The reference's level costs on one meter (max over each level's tests)."""

    task_id: str
    meter: str
    levels: tuple[float, ...]
    test_costs: tuple[tuple[float, ...], ...]
    overheads: tuple[tuple[float, float], ...] = ()  # CPU meter: seconds decoding and encoding, per test in order


class EfficiencyUnavailable(ReferenceUnavailable):
    """No efficiency measurement is possible for this problem (the message says why)."""
