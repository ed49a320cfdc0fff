"""Which meters work on this machine (for ``assay doctor``): one line per registered meter."""

from __future__ import annotations

from dataclasses import dataclass

from assay.measure.meters import make_meter, meter_names, probe_meter


@dataclass(frozen=True)
class MeterProbe:
    name: str
    available: bool
    detail: str


def probe_meters() -> list[MeterProbe]:
    """Every registered meter (``cpu-time``, ``instructions``, plug-ins), by name, with its state."""
    probes = []
    for name in meter_names():
        try:
            available, detail = probe_meter(make_meter(name))
        except Exception as exc:  # noqa: BLE001 - a broken plug-in is reported, not fatal
            available, detail = False, "%s: %s" % (type(exc).__name__, exc)
        probes.append(MeterProbe(name, available, detail))
    return probes
