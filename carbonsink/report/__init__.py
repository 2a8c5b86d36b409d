"""The carbon-credit report: a self-contained HTML page (and PDF) of the run's results.

The pipeline gathers the computed results in a :class:`ReportContent`;
:func:`render_report` turns it into HTML and :func:`write_report` writes it.
The report presents results only; it computes no science (docs/design.md §2).
"""

from __future__ import annotations

from carbonsink.report.content import EpochReport, MethodologyRow, ReportContent
from carbonsink.report.html import render_report, write_report

__all__ = [
    "EpochReport",
    "MethodologyRow",
    "ReportContent",
    "render_report",
    "write_report",
]
