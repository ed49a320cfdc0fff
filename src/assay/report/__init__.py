"""Reports: what is in the run store, made visible (``assay runs``, ``assay report``).

Reports read only the store. The pieces, one idea each:

- :mod:`assay.report.data`: runs read back into typed objects;
- :mod:`assay.report.summary`: pass@k, eff@k, cost, meter, machine of a run;
- :mod:`assay.report.page`: escaping and the one self-contained HTML page;
- :mod:`assay.report.plots`: matplotlib figures as embedded SVG;
- :mod:`assay.report.sections`: the sections, registered through
  ``register_report_sections`` (:mod:`assay.report.plugin`);
- :mod:`assay.report.export`: JSONL / CSV for other tools;
- :mod:`assay.report.commands`: the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.report.build import build_report, write_report

__all__ = ["build_report", "write_report"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from assay.report import build

        return getattr(build, name)
    raise AttributeError(name)
