"""The efficiency reward's meters live in :mod:`assay.measure` (one registry for the reward and the evaluator).

* :mod:`assay.measure.meters`: the meter protocol, ``cpu-time`` and
  ``instructions``, and the registry (:func:`register_meter`, ``make_meter``,
  ``meter_names``);
* :mod:`assay.measure.problem_cost`: what the reward divides, a meter's cost
  of the candidate and of the (cached) reference on a problem's call tests.

This module only keeps ``assay.reward.register_meter`` working.
"""

from assay.measure.meters import register_meter

__all__ = ["register_meter"]
