"""What ``carbonsink design`` writes: the points, the path of designs and a page to read.

``design.gpkg`` (layers ``cores`` and ``plots``: the chosen design's sites
with ``stratum``, ``priority`` and ``revisit``), ``design.json`` (layout
``carbonsink-design/1``, docs/methodology.md §9.4) and ``design.html`` (the
U-against-effort curve, the allocation per stratum and the gain).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from carbonsink.design.allocation import Allocation
from carbonsink.design.expected import DEFAULT_PAIR_SD, DesignBasis, calibrated_sd
from carbonsink.i18n import gettext as _
from carbonsink.io.writers import atomic_path, make_folder, write_json

__all__ = ["DESIGN_SCHEMA", "design_record", "write_design"]

#: Identifier of the ``design.json`` layout.
DESIGN_SCHEMA = "carbonsink-design/1"


def design_record(
    basis: DesignBasis,
    allocation: Allocation,
    budget: Mapping[str, Any] | None = None,
    *,
    pair_sd: float = DEFAULT_PAIR_SD,
) -> dict[str, Any]:
    """The design as JSON-ready values (``design.json``), with the chosen design's ``budget``.

    ``budget`` is the chosen claim's uncertainty budget (its ledger's
    ``extra["u_budget"]``, eq. 6.14); ``u_budget`` is ``None`` without it.
    ``method_calibration`` (eq. 9.8) is ``None`` when the last epoch's SOC
    carries no lab-method bias.
    """
    ctx = basis.run.context
    current = allocation.steps[0]
    chosen = allocation.chosen
    price = ctx.survey.accounting.price_cny_per_t
    gain = chosen.expected.tradable_t_co2e - current.expected.tradable_t_co2e
    chain = {str(k): v for k, v in chosen.expected.ledger.strata.loc["total"].to_dict().items()}
    return {
        "schema": DESIGN_SCHEMA,
        "survey": ctx.survey.survey.name,
        "next_epoch": {
            "date": chosen.expected.ledger.epochs[-1][1].isoformat(),
            "years_after_last": basis.years,
        },
        "target_u": allocation.target_u,
        "reached": allocation.reached,
        "current": {"cost": current.cost, **current.expected.to_dict()},
        "chosen": {"kind": chosen.kind, "cost": chosen.cost, **chosen.expected.to_dict()},
        "gain_t_co2e": gain,
        "gain_value": None if price is None else gain * price,
        "currency": "CNY" if price is not None else None,
        "pool_u": {
            pool: None
            if not math.isfinite(float(chain[f"u_{pool}"]))
            else float(chain[f"u_{pool}"])
            for pool in chosen.expected.ledger.pools
            if f"u_{pool}" in chain
        },
        "u_budget": None if budget is None else dict(budget),
        "method_calibration": None
        if basis.method_sd is None
        else {
            "method_bias_sd_pct": 100.0 * basis.method_sd,
            "pair_sd_pct": 100.0 * pair_sd,
            "pairs": chosen.expected.pairs,
            "method_bias_sd_pct_after": 100.0
            * calibrated_sd(basis.method_sd, pair_sd, chosen.expected.pairs),
        },
        "path": [
            {
                "kind": step.kind,
                "cost": step.cost,
                "cores": sum(step.expected.cores.values()),
                "plots": sum(step.expected.plots.values()),
                "pairs": step.expected.pairs,
                "u": step.expected.u if math.isfinite(step.expected.u) else None,
                "tradable_t_co2e": step.expected.tradable_t_co2e,
            }
            for step in allocation.steps
        ],
    }


def _points(basis: DesignBasis, counts: Mapping[str, int], kind: str) -> gpd.GeoDataFrame:
    sites = basis.core_sites if kind == "cores" else basis.plot_sites
    rows = []
    for stratum, n in counts.items():
        if stratum not in sites:
            continue
        chosen = sites[stratum]
        for k in range(min(int(n), len(chosen.xy))):
            x, y = chosen.xy[k]
            rows.append(
                {
                    "stratum": stratum,
                    "priority": k + 1,
                    "revisit": bool(chosen.revisit[k]),
                    "x": float(x),
                    "y": float(y),
                }
            )
    frame = pd.DataFrame(rows, columns=["stratum", "priority", "revisit", "x", "y"])
    frame["stratum"] = frame["stratum"].astype("string")
    crs = basis.run.context.grid.crs
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["x"], frame["y"]), crs=crs)


def _curve_png(allocation: Allocation) -> bytes:
    from carbonsink.report.figures import new_figure, png_bytes

    fig = new_figure((6.5, 3.6), (0.12, 0.15, 0.97, 0.9))
    ax = fig.add_subplot()
    ax.set_title(_("Predicted U against the sampling effort"), fontsize=11)
    ax.set_xlabel(_("cost of the next epoch's cores, plots and samples by both methods"))
    ax.set_ylabel(_("U, % of the net"))
    for kind, colour in (
        ("current", "black"),
        ("cores", "#8c510a"),
        ("plots", "#01665e"),
        ("pairs", "#5e3c99"),
    ):
        if kind == "pairs" and not any(s.kind == kind for s in allocation.steps):
            continue
        steps = [s for s in allocation.steps if s.kind == kind]
        ax.scatter(
            [s.cost for s in steps],
            [100 * s.expected.u for s in steps],
            color=colour,
            label={
                "current": _("the last epoch's effort"),
                "cores": _("more cores"),
                "plots": _("more plots"),
                "pairs": _("more samples by both OC methods"),
            }[kind],
            zorder=3,
        )
    ax.axhline(100 * allocation.target_u, color="#c0392b", linestyle="--", label=_("target"))
    chosen = allocation.chosen
    ax.scatter(
        [chosen.cost],
        [100 * chosen.expected.u],
        s=160,
        facecolors="none",
        edgecolors="#c0392b",
        linewidths=1.5,
        label=_("chosen"),
        zorder=4,
    )
    ax.legend(fontsize=8)
    return png_bytes(fig)


def _page(record: Mapping[str, Any], allocation: Allocation, png: bytes) -> str:
    esc = html.escape
    chosen, current = record["chosen"], record["current"]
    strata = sorted(set(chosen["cores"]) | set(chosen["plots"]))
    rows = "".join(
        f"<tr><td>{esc(s)}</td><td class=num>{current['cores'].get(s, 0)}</td>"
        f"<td class=num>{chosen['cores'].get(s, 0)}</td><td class=num>{current['plots'].get(s, 0)}"
        f"</td><td class=num>{chosen['plots'].get(s, 0)}</td></tr>"
        for s in strata
    )
    verdict = (
        _("The target U = {target:.0%} is reached at a cost of {cost:,.0f}.")
        if allocation.reached
        else _(
            "The target U = {target:.0%} is not reached on the path: the lowest U found is "
            "{u:.1%}; what the next epoch's sampling cannot lower dominates (see what holds U)."
        )
    ).format(target=allocation.target_u, cost=chosen["cost"], u=chosen["u"] or math.inf)
    pools = "".join(
        f"<tr><td>{esc(p)}</td><td class=num>{'—' if u is None else f'{100 * u:,.1f} %'}</td></tr>"
        for p, u in record["pool_u"].items()
    )
    budget = _budget_table(record["u_budget"])
    calibration = record["method_calibration"]
    pairs = (
        ""
        if not calibration or not calibration["pairs"]
        else "<p>"
        + esc(
            _(
                "Measure {pairs} soil samples by both organic-carbon methods (the last "
                "epoch's archived samples or the next epoch's; beyond any already listed) and "
                "list them in [soil] method_pairs: the run corrects the new method's OC by "
                "their measured bias, whose SD falls from {before:.2f} % to about "
                "{after:.2f} % (eq. 9.8 with a planning SD of {pair_sd:.0f} % per sample; "
                "eq. 3.3b)."
            ).format(
                pairs=calibration["pairs"],
                after=calibration["method_bias_sd_pct_after"],
                before=calibration["method_bias_sd_pct"],
                pair_sd=calibration["pair_sd_pct"],
            )
        )
        + "</p>"
    )
    gain = _(
        "Expected tradable credits at the next epoch: {chosen:,.1f} t CO2e with this design, "
        "{current:,.1f} with the last epoch's effort repeated (gain {gain:,.1f} t CO2e{value})."
    ).format(
        chosen=chosen["tradable_t_co2e"],
        current=current["tradable_t_co2e"],
        gain=record["gain_t_co2e"],
        value="" if record["gain_value"] is None else f", {record['gain_value']:,.0f} CNY",
    )
    low, high = chosen["u_range90"]
    spread = _(
        "U is predicted at the net the trend forecasts ({net:,.0f} t CO2e since the first "
        "epoch); what the next epoch's net turns out to be puts it between {low} and {high} "
        "(90 %, eq. 9.6)."
    ).format(
        net=chosen["ner_t_co2e"],
        low="∞" if low is None else f"{low:.1%}",
        high="∞" if high is None else f"{high:.1%}",
    )
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    title = esc(_("Sampling design for the next monitoring epoch"))
    curve = esc(_("Predicted U against the sampling effort"))
    heads = "".join(
        f"<th>{esc(h)}</th>"
        for h in (_("stratum"), _("cores now"), _("cores"), _("plots now"), _("plots"))
    )
    style = (
        "body{font-family:sans-serif;max-width:56rem;margin:2rem auto} td,th{padding:.2rem .6rem}"
        " .num{text-align:right} table{border-collapse:collapse}"
    )
    where = _("Points: design.gpkg (layers cores and plots, by priority). Method: {doc}.").format(
        doc="docs/methodology.md §9"
    )
    next_epoch = esc(_("next epoch"))
    per_stratum = esc(_("Cores and plots per stratum"))
    pool_heading = esc(_("U of each pool's change (the chosen design)"))
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title><style>{style}</style></head><body>
<h1>{title}</h1>
<p>{esc(record["survey"])} — {next_epoch} {esc(record["next_epoch"]["date"])}</p>
<p><strong>{esc(verdict)}</strong> {esc(gain)}</p>
<p>{esc(spread)}</p>
<img src="{uri}" alt="{curve}">
<h2>{per_stratum}</h2>
<table><thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table>
{pairs}
<h2>{pool_heading}</h2>
<table><tbody>{pools}</tbody></table>
{budget}
<p>{esc(where)}</p>
</body></html>
"""


def _budget_table(budget: Mapping[str, Any] | None) -> str:
    """The chosen design's uncertainty budget as an HTML section ("" without one)."""
    if not budget:
        return ""
    esc = html.escape
    heading = esc(_("What holds U: each group of inputs known exactly in turn"))
    intro = esc(
        _(
            "The net's 90 % half-width at the next epoch is {width:,.1f} t CO2e/yr; the share of "
            "its variance each group carries, and the half-width if that group were known "
            "exactly (eq. 6.14)."
        ).format(width=budget["half_width90"])
    )
    heads = "".join(
        f"<th>{esc(h)}</th>"
        for h in (_("inputs"), _("share of the variance"), _("half-width if known, t CO2e/yr"))
    )
    rows = "".join(
        f"<tr><td>{esc(g['group'])}</td><td class=num>{100 * g['variance_share']:,.1f} %</td>"
        f"<td class=num>{g['half_width90']:,.1f}</td></tr>"
        for g in budget["groups"]
    )
    return (
        f"<h2>{heading}</h2>\n<p>{intro}</p>\n"
        f"<table><thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table>"
    )


def write_design(
    basis: DesignBasis,
    allocation: Allocation,
    out: Path,
    *,
    budget: Mapping[str, Any] | None = None,
    pair_sd: float = DEFAULT_PAIR_SD,
) -> list[Path]:
    """Write design.gpkg, design.json and design.html into ``out`` (created).

    ``budget`` and ``pair_sd``: as for :func:`design_record`.
    """
    folder = make_folder(out)
    record = design_record(basis, allocation, budget, pair_sd=pair_sd)
    written = [write_json(record, folder / "design.json")]
    gpkg = folder / "design.gpkg"
    with atomic_path(gpkg) as tmp:
        for kind, counts in (
            ("cores", allocation.chosen.expected.cores),
            ("plots", allocation.chosen.expected.plots),
        ):
            _points(basis, counts, kind).to_file(
                tmp, layer=kind, driver="GPKG", engine="pyogrio", VERSION="1.2"
            )
    written.append(gpkg)
    page = folder / "design.html"
    with atomic_path(page) as tmp:
        tmp.write_text(_page(record, allocation, _curve_png(allocation)), encoding="utf-8")
    written.append(page)
    return written
