"""A measured cost that knows which meter produced it.

Every number assay reports about efficiency is a :class:`Cost`: a value, its
unit, the meter that produced it, its spread and how many repeats went into
it. Two costs from different meters (or in different units) are never
compared: doing so raises :class:`MeterMismatch`, because "3.1e8
instructions" and "41 ms of CPU time" are not on one scale. Meter names:
:mod:`assay.measure.meters` (``cpu-time``, ``instructions``, plug-ins).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class MeterMismatch(ValueError):
    """Two costs from different meters or units were compared."""


@dataclass(frozen=True)
class Cost:
    """One measured cost.

    ``value``: the central estimate (a count, or a median / Hodges-Lehmann
    estimate of repeated timings), in ``unit``.
    ``meter``: which meter produced it (``cpu-time``, ``instructions``, ...).
    ``spread``: half-width of a distribution-free ~95% confidence interval for
    ``value``, in ``unit``; 0.0 for a deterministic meter (repeats agree).
    ``repeats``: how many runs went into ``value``.
    """

    value: float
    unit: str
    meter: str
    spread: float = 0.0
    repeats: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.meter, str) or not self.meter:
            raise ValueError("a Cost needs a meter name")
        if not isinstance(self.unit, str) or not self.unit:
            raise ValueError("a Cost needs a unit")
        if self.repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {self.repeats}")
        if math.isnan(self.value) or self.spread < 0 or math.isnan(self.spread):
            raise ValueError(f"invalid cost value={self.value!r} spread={self.spread!r}")

    @property
    def relative_spread(self) -> float:
        """``spread / value`` (0 for a zero cost with zero spread)."""
        if self.value == 0:
            return 0.0 if self.spread == 0 else math.inf
        return self.spread / abs(self.value)

    def check_comparable(self, other: Cost) -> None:
        """Raise :class:`MeterMismatch` unless ``other`` is on the same scale."""
        if not isinstance(other, Cost):
            raise TypeError(f"cannot compare Cost with {type(other).__name__}")
        if self.meter != other.meter:
            raise MeterMismatch(
                f"cannot compare a {self.meter!r} cost with a {other.meter!r} cost; "
                "measure both with the same meter"
            )
        if self.unit != other.unit:
            raise MeterMismatch(f"cannot compare {self.unit!r} with {other.unit!r}")

    def ratio_to(self, other: Cost) -> float:
        """``self.value / other.value`` (e.g. candidate / reference)."""
        self.check_comparable(other)
        if other.value == 0:
            return math.inf if self.value > 0 else 1.0
        return self.value / other.value

    def __lt__(self, other: Cost) -> bool:
        self.check_comparable(other)
        return self.value < other.value

    def __le__(self, other: Cost) -> bool:
        self.check_comparable(other)
        return self.value <= other.value

    def __gt__(self, other: Cost) -> bool:
        self.check_comparable(other)
        return self.value > other.value

    def __ge__(self, other: Cost) -> bool:
        self.check_comparable(other)
        return self.value >= other.value

    def to_dict(self) -> dict[str, float | int | str]:
        return {
            "value": self.value,
            "unit": self.unit,
            "meter": self.meter,
            "spread": self.spread,
            "repeats": self.repeats,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Cost:
        return cls(
            value=float(data["value"]),
            unit=str(data["unit"]),
            meter=str(data["meter"]),
            spread=float(data.get("spread", 0.0)),
            repeats=int(data.get("repeats", 1)),
        )


def same_meter(costs: list[Cost]) -> str:
    """The common meter of ``costs``; raises :class:`MeterMismatch` if mixed."""
    if not costs:
        raise ValueError("no costs")
    first = costs[0]
    for cost in costs[1:]:
        first.check_comparable(cost)
    return first.meter
