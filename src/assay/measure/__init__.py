"""The meters that run: one home, one module per idea.

* ``meters``: the meter protocol (:class:`~assay.measure.meters.Meter`,
  ``call_costs``), the built-in ``cpu-time`` and ``instructions`` meters, and
  the registry (``register_meter``, ``make_meter``, ``meter_names``);
* ``cost``: the :class:`Cost` every measurement returns (value, unit, meter,
  spread, repeats); costs from different meters never compare;
* ``problem_cost``: a meter's cost of a problem's call tests, candidate and
  (cached) reference: what the efficiency reward divides;
* ``efficiency``: ENAMEL's per-sample efficiency on stress inputs
  (``EfficiencyConfig``, ``EfficiencyEvaluator``, ``evaluate_efficiency``);
* ``results``: what the evaluator reports (``LevelCost``, ``SampleEfficiency``,
  ``ReferenceProfile``);
* ``stress``: the CPU stress run (lock-step, each call timed in its window);
* ``valgrind``: instruction counts by cachegrind inside the sandbox, run by
  ``valgrind_driver.py`` over ``call_harness.py`` (stdlib-only scripts);
  ``harness_job``: the harness's command line, environment and job frames;
* ``probe``: which meters work here (``assay doctor``).
"""

from assay.measure.cost import Cost, MeterMismatch

__all__ = ["Cost", "MeterMismatch"]
