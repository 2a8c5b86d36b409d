"""The report's sections: figures embedded as data URIs, per-epoch sections, the template context.

:func:`report_context` gathers everything the template ``report.html.j2``
reads from a :class:`~carbonsink.report.content.ReportContent`: the maps and
charts of :mod:`carbonsink.report.figures` as inline ``data:image/png;base64``
URIs, the land-cover, model-skill and soil sections of each epoch, and the
tables of :mod:`carbonsink.report.tables`. What it computes is for display:
colour limits, the width of the AGB interval (upper − lower), counts of cores.
"""

from __future__ import annotations

import base64
import string
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
import xarray as xr

from carbonsink import i18n
from carbonsink.i18n import gettext as _
from carbonsink.report import figures
from carbonsink.report.content import EpochReport, ReportContent
from carbonsink.report.formatting import format_number
from carbonsink.report.issuance import issuance_figure, issuance_rows
from carbonsink.report.model_figures import variogram_figure
from carbonsink.report.tables import (
    biomass_correction_rows,
    chain_rows,
    input_rows,
    profile_rows,
    soil_change_rows,
    stage_rows,
    stock_table,
    strata_rows,
    term,
    uncertainty_rows,
)

__all__ = ["page_counter_css", "report_context"]


# ----------------------------------------------------------------- figures
def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _figure(title: str, png: bytes, caption: str = "") -> dict[str, str]:
    return {"title": title, "uri": _data_uri(png), "caption": caption}


def _agb_interval_width(epoch: EpochReport) -> xr.DataArray:
    """Display layer: width of the AGB prediction interval, upper − lower."""
    upper = epoch.layers["agb_upper_mg_ha"]
    width = upper - epoch.layers["agb_lower_mg_ha"]
    return width.rename("agb_interval_width_mg_ha").assign_attrs(
        units=upper.attrs.get("units", epoch.layers["agb_mg_ha"].attrs.get("units", "")),
        long_name="AGB interval width",
    )


def _layer_label(heading: str) -> str | None:
    """A map's colour-bar label: the layer's long name in English, else the translated heading.

    Long names are data attributes (written in English, with the pools they sum);
    in another language the map's heading, which the catalog translates, stands for it.
    """
    return None if i18n.active_language() == i18n.DEFAULT_LANGUAGE else heading


def _stock_maps(epochs: Sequence[EpochReport]) -> list[dict[str, Any]]:
    """One row per variable, one map per epoch, on a colour scale shared by the epochs."""
    # (layer, heading, colour map, whether the scale starts at 0: uncertainties do)
    variables: list[tuple[str, str, str, bool]] = [
        ("carbon_mg_ha", _("Carbon stock of the counted pools"), "viridis", False),
        ("agb_mg_ha", _("Above-ground biomass"), "YlGn", False),
        (
            "agb_interval_width_mg_ha",
            _("AGB prediction-interval width (upper − lower)"),
            "plasma",
            True,
        ),
        ("soc_mg_ha", _("Soil organic carbon stock"), "YlOrBr", False),
        ("soc_sd_mg_ha", _("SOC kriging standard deviation"), "plasma", True),
    ]
    rows = []
    for name, heading, cmap, from_zero in variables:
        layers = [
            _agb_interval_width(e) if name == "agb_interval_width_mg_ha" else e.layers[name]
            for e in epochs
        ]
        vmin, vmax = figures.colour_limits(layers)
        if from_zero and vmax > 0:
            vmin = 0.0
        maps = []
        for epoch, layer in zip(epochs, layers, strict=True):
            title = _("{heading} — {epoch}").format(heading=heading, epoch=epoch.name)
            if name.startswith("soc"):
                title = _("{heading}, 0–{depth} cm — {epoch}").format(
                    heading=heading, depth=f"{epoch.soil_depth_cm:g}", epoch=epoch.name
                )
            png = figures.map_figure(
                layer,
                title=title,
                label=_layer_label(heading),
                cmap=cmap,
                vmin=vmin,
                vmax=vmax,
                inside=epoch.layers["inside_boundary"],
            )
            maps.append(_figure(title, png))
        rows.append({"heading": heading, "maps": maps})
    return rows


def _sink_maps(content: ReportContent) -> list[dict[str, str]]:
    if content.ledger["single_epoch"] or content.change is None:
        return []
    inside = content.epochs[-1].layers["inside_boundary"]
    removals = content.change["removals_t_co2e_ha_yr"]
    sd = content.change["removals_sd_t_co2e_ha_yr"]
    title = _("Removals (sink positive, source negative)")
    sd_title = _("Standard deviation of the removals")
    return [
        _figure(
            title,
            figures.map_figure(
                removals, title=title, label=_("removals"), cmap="BrBG", centre=0.0, inside=inside
            ),
            _(
                "Diverging colours centred on 0: green-blue cells gained carbon, brown cells "
                "lost it."
            ),
        ),
        _figure(
            sd_title,
            figures.map_figure(
                sd, title=sd_title, label=_("SD"), cmap="plasma", vmin=0.0, inside=inside
            ),
        ),
    ]


def page_counter_css() -> str:
    """The CSS ``content`` of the PDF pages' "page k of n", in the active language.

    The translation of ``"page {page} of {pages}"`` is cut at its two fields into CSS
    strings around ``counter(page)`` and ``counter(pages)``.

    Returns
    -------
    str
        CSS strings and counters, e.g. ``"page " counter(page) " of " counter(pages)``.

    Examples
    --------
    >>> page_counter_css()
    '"page " counter(page) " of " counter(pages)'
    """
    parts = []
    for literal, name, _spec, _conversion in string.Formatter().parse(_("page {page} of {pages}")):
        if literal:
            escaped = literal.replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'"{escaped}"')
        if name in ("page", "pages"):
            parts.append(f"counter({name})")
    return " ".join(parts)


# ----------------------------------------------------------------- sections
def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _land_cover(epoch: EpochReport) -> dict[str, Any]:
    accuracy = epoch.accuracy
    users = accuracy.get("users_accuracy", {})
    producers = accuracy.get("producers_accuracy", {})
    classes = accuracy.get("classes") or sorted(set(users) | set(producers))
    areas = epoch.areas
    confidence = float(areas.attrs.get("confidence", 0.95))
    area_rows = [
        {
            "class": str(cls),
            "mapped": row.get("mapped_area_ha"),
            "adjusted": row.get("adjusted_area_ha"),
            "se": row.get("se_ha"),
            "ci": (row.get("ci_low_ha"), row.get("ci_high_ha")),
        }
        for cls, row in areas.iterrows()
    ]
    title = _("Land cover — {epoch}").format(epoch=epoch.name)
    png = figures.class_map_figure(
        epoch.layers["landcover"], title=title, inside=epoch.layers["inside_boundary"]
    )
    return {
        "name": epoch.name,
        "figure": _figure(title, png),
        "overall_accuracy": accuracy.get("overall_accuracy"),
        "kappa": accuracy.get("kappa"),
        "n": accuracy.get("n"),
        "classes": [
            {"class": str(c), "users": users.get(str(c)), "producers": producers.get(str(c))}
            for c in classes
        ],
        "areas": area_rows,
        "confidence": confidence,
    }


_CV_COLUMNS: Final = (
    "fold",
    "n",
    "n_blocks",
    "r2",
    "rmse_mg_ha",
    "relative_rmse",
    "bias_mg_ha",
    "coverage",
)


def _model_skill(epoch: EpochReport) -> dict[str, Any]:
    models = []
    for model, table in epoch.biomass_cv.items():
        rows = [
            {
                **{c: row.get(c) for c in _CV_COLUMNS},
                "pooled": str(row.get("fold")) == "pooled",
                "fold": _("pooled") if str(row.get("fold")) == "pooled" else row.get("fold"),
            }
            for row in _records(table)
        ]
        figure = None
        predictions = epoch.biomass_predictions.get(model)
        if predictions is not None:
            title = _("AGB, {model} model, held-out plots — {epoch}").format(
                model=model, epoch=epoch.name
            )
            png = figures.predicted_observed_figure(predictions, title=title, point=_("plot"))
            figure = _figure(title, png)
        models.append({"name": model, "rows": rows, "figure": figure})
    return {
        "name": epoch.name,
        "models": models,
        "models_used": list(epoch.biomass_models_used),
        "lidar_decision": i18n.shown(epoch.lidar_decision),
    }


def _soil(epoch: EpochReport) -> dict[str, Any]:
    cores = epoch.cores
    extrapolated = int(np.asarray(cores["extrapolated"], dtype=bool).sum())
    depth = f"{epoch.soil_depth_cm:g}"
    title = _("Soil cores on the SOC map, 0–{depth} cm — {epoch}").format(
        depth=depth, epoch=epoch.name
    )
    soc = epoch.layers["soc_mg_ha"]
    png = figures.cores_over_map_figure(
        soc,
        cores,
        title=title,
        label=_layer_label(_("SOC stock, 0–{depth} cm").format(depth=depth)),
        inside=epoch.layers["inside_boundary"],
    )
    model_figures = []
    shown: dict[str, Any] = {}
    if epoch.soil_variogram is not None:
        vtitle = _("SOC variogram, 0–{depth} cm — {epoch}").format(depth=depth, epoch=epoch.name)
        shown = {
            **epoch.soil_variogram,
            "model": term(str(epoch.soil_variogram["model"])),
            "of": term(str(epoch.soil_variogram.get("of", "values"))),
        }
        model_figures.append(_figure(vtitle, variogram_figure(shown, title=vtitle)))
    if epoch.soil_cv_predictions is not None:
        ctitle = _("SOC, leave-one-out cores, 0–{depth} cm — {epoch}").format(
            depth=depth, epoch=epoch.name
        )
        png_cv = figures.predicted_observed_figure(
            epoch.soil_cv_predictions,
            title=ctitle,
            units="Mg C/ha",
            quantity="SOC",
            point=_("core"),
        )
        model_figures.append(_figure(ctitle, png_cv))
    return {
        "name": epoch.name,
        "figure": _figure(title, png),
        "n_cores": len(cores),
        "n_extrapolated": extrapolated,
        "depth_cm": epoch.soil_depth_cm,
        "cv": epoch.soil_cv,
        "method": term(
            str(epoch.soil_cv["method"] if epoch.soil_cv else "kriging").replace("-", " ")
        ),
        "variogram": None
        if epoch.soil_variogram is None
        else {**shown, "units": str(epoch.soil_variogram["units"]).replace("^2", "²")},
        "model_figures": model_figures,
    }


def _histogram(content: ReportContent) -> dict[str, str] | None:
    ledger = content.ledger
    if ledger["single_epoch"] or content.net_draws is None:
        return None
    claim = ledger["claim"]
    project = ledger["project"]
    low, high = claim["net_ci90_t_co2e_yr"]
    png = figures.net_histogram_figure(
        content.net_draws,
        ci90=(float(low), float(high)),
        estimate=float(claim["net_t_co2e_yr"]),
        adjusted=float(project["adjusted"]),
        rule=str(claim["rule_applied"]),
    )
    n = int(np.asarray(content.net_draws).size)
    return _figure(
        _("Monte Carlo distribution of the net removals"),
        png,
        _("{n} draws; dashed lines: the 90 % interval; red: the net after rule {rule}.").format(
            n=format_number(n, 0), rule=claim["rule_applied"]
        ),
    )


def _issuance(ledger: dict[str, Any]) -> dict[str, Any] | None:
    """The issuance schedule's rows, and its chart when there are two periods or more."""
    periods = ledger.get("periods") or []
    if not periods:
        return None
    figure = None
    if len(periods) > 1:
        figure = _figure(
            _("Issuance by monitoring period"),
            issuance_figure(periods),
            _(
                "Blue: each period's net with its 90 % interval; green or red: its VCUs; "
                "line: the VCUs issued so far."
            ),
        )
    return {"rows": issuance_rows(periods), "figure": figure}


def report_context(content: ReportContent) -> dict[str, Any]:
    """Everything the template reads, by name: sections, tables, figures and provenance.

    Parameters
    ----------
    content
        The results to present, already checked against their contract.

    Returns
    -------
    dict
        The template's variables.
    """
    ledger = content.ledger
    manifest = content.manifest
    single = bool(ledger["single_epoch"])
    claim = ledger["claim"]
    versions = manifest.get("versions") or {}
    monte_carlo = ledger["monte_carlo"]
    project = ledger["project"]
    applied_rules = [
        rule for rule in (project or {}).get("uncertainty_rules", []) if rule.get("applied")
    ]
    context: dict[str, Any] = {
        "title": content.title,
        "single_epoch": single,
        "epochs": [{"name": e.name, "date": e.date} for e in content.epochs],
        "ledger_epochs": ledger["epochs"],
        "period": ledger["crediting_period"],
        "profile": ledger["profile"],
        "seed": manifest.get("seed", monte_carlo.get("seed")),
        "version": versions.get("carbonsink") or manifest.get("carbonsink"),
        "claim": claim,
        "claim_value": claim.get("value"),
        "currency": claim.get("currency") or "",
        "applied_rule": applied_rules[0] if applied_rules else None,
        "warnings": ledger["warnings"],
        "notes": ledger["notes"],
        "stock_maps": _stock_maps(content.epochs),
        "sink_maps": _sink_maps(content),
        "land_cover": [_land_cover(e) for e in content.epochs],
        "model_skill": [_model_skill(e) for e in content.epochs],
        "dtm_checks": {
            name: block.get("dtm_check") for name, block in (ledger.get("lidar") or {}).items()
        },
        "lidar_water": dict(ledger.get("lidar") or {}),
        "soil": [_soil(e) for e in content.epochs],
        "stocks": stock_table(ledger),
        "chain": [] if single else chain_rows(ledger),
        "project": project,
        "strata": [] if single else strata_rows(ledger),
        "uncertainty": None if single else uncertainty_rows(ledger),
        "soil_change": None if single else soil_change_rows(ledger),
        "agb_corrections": biomass_correction_rows(ledger),
        "vintages": [v for v in ledger["vintages"] if v.get("stratum") == "total"],
        "issuance": _issuance(ledger),
        "histogram": _histogram(content),
        "ch4_sensitivity": ledger.get("ch4_sensitivity"),
        "u_budget": ledger.get("u_budget"),
        "methodology": [
            {name: i18n.shown(getattr(row, name)) for name in ("parameter", "value", "source")}
            for row in content.methodology
        ],
        "profile_rows": profile_rows(ledger["profile"]),
        "inputs": input_rows(manifest),
        "survey_sha256": manifest.get("survey_sha256"),
        "run_sha256": (ledger.get("run") or {}).get("run_sha256"),
        "survey_file": manifest.get("survey"),
        "wall_seconds": manifest.get("wall_seconds"),
        "versions": sorted((str(k), str(v)) for k, v in versions.items()),
        "stages": stage_rows(manifest),
        "monte_carlo": monte_carlo,
        "convergence": monte_carlo.get("convergence") or {},
        "polygon": ledger["polygon"],
        "page_counter": page_counter_css(),
    }
    return context
