"""Meters and statistics for the cost of a call.

* ``cost``: the :class:`Cost` every measurement returns (value, unit, meter,
  spread, repeats); costs from different meters never compare.
* ``instructions``: deterministic instruction counts (perf counters where the
  kernel has them, else Valgrind), counting only the call.
* ``interpreter_events``: bytecodes executed (sys.monitoring, Python >= 3.12),
  a labelled secondary meter.
* ``memory``: peak resident memory of a call, and tracemalloc's heap peak.
* ``stats``: median, Hodges-Lehmann, distribution-free intervals, and the
  interleaving controller for CPU-time repeats.
* ``call_harness``: the standalone script the meters run (stdlib only).
* ``overhead``: ``python -m assay.measure.overhead`` measures the meters here.
"""

from assay.measure.cost import Cost, MeterMismatch

__all__ = ["Cost", "MeterMismatch"]
