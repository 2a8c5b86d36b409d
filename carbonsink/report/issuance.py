"""The issuance schedule: what each monitoring period issues, as a table and a chart.

Reads the ledger's ``periods`` (docs/ledger.md; docs/methodology.md eq.
5.16–5.20): per period its net (ΔNER, with its 90 % interval), the
cumulative U, ΔAdjusted, the buffer contribution, the VCUs, what was issued
and what a loss cancelled from the buffer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from carbonsink.i18n import gettext as _
from carbonsink.report.figures import new_figure, png_bytes

__all__ = ["issuance_figure", "issuance_rows"]

_GAIN, _LOSS, _NER = "#2e7d32", "#c0392b", "#9dbad5"


def issuance_rows(periods: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One table row per monitoring period (t CO2e; U as a fraction)."""
    return [
        {
            "period": p["period"],
            "epochs": f"{p['start_epoch']} → {p['end_epoch']}",
            "years": p["years"],
            "ner": p["ner"]["mean"],
            "ner_ci90": p["ner"]["ci90"],
            "u": p["cumulative"]["u"],
            "delta_adjusted": p["delta_adjusted"],
            "buffer": p["buffer"],
            "vcu": p["vcu"],
            "issued": p["issued"],
            "cancelled": p["buffer_cancelled"],
            "reversal": p["reversal"],
        }
        for p in periods
    ]


def issuance_figure(periods: Sequence[Mapping[str, Any]]) -> bytes:
    """Bars of each period's net (with its 90 % interval) and VCUs; the issued total as a line.

    Parameters
    ----------
    periods
        The ledger's ``periods`` records, in order.

    Returns
    -------
    bytes
        The PNG file.
    """
    fig = new_figure((7.0, 3.8), (0.11, 0.2, 0.98, 0.9))
    ax = fig.add_subplot()
    ax.set_title(_("Issuance by monitoring period"), fontsize=11)
    ax.set_ylabel(_("t CO2e"))
    x = np.arange(len(periods), dtype=np.float64)
    ner = np.array([p["ner"]["mean"] for p in periods], dtype=np.float64)
    low = np.array([p["ner"]["ci90"][0] for p in periods], dtype=np.float64)
    high = np.array([p["ner"]["ci90"][1] for p in periods], dtype=np.float64)
    vcu = np.array([p["vcu"] for p in periods], dtype=np.float64)
    issued = np.cumsum([p["issued"] for p in periods])
    ax.bar(x - 0.2, ner, width=0.38, color=_NER, label=_("net (ΔNER), 90 % interval"))
    ax.errorbar(
        x - 0.2,
        ner,
        yerr=np.vstack([ner - low, high - ner]),
        fmt="none",
        ecolor="#1f4e79",
        capsize=3,
        linewidth=1,
    )
    ax.bar(
        x + 0.2,
        vcu,
        width=0.38,
        color=[_GAIN if v >= 0 else _LOSS for v in vcu],
        label=_("VCUs (red: a loss)"),
    )
    ax.plot(
        x + 0.2, issued, color="black", marker="o", linewidth=1.2, label=_("issued, cumulative")
    )
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(
        x, [f"{p['period']}\n{p['start_epoch']}→{p['end_epoch']}" for p in periods], fontsize=8
    )
    ax.legend(loc="best", fontsize=8)
    return png_bytes(fig)
