"""The carbon-credit report: one self-contained HTML page (and a PDF when asked).

:func:`render_report` turns a :class:`~carbonsink.report.content.ReportContent`
into HTML with the Jinja2 template ``templates/report.html.j2``: every figure
is an inline ``data:image/png;base64`` URI and the CSS is inline, so the page
makes no request and can be archived or mailed as one file. Every string from
the inputs (survey name, class names, warnings, file paths) is escaped by the
template engine. :func:`write_report` writes it atomically (docs/design.md §5).

The report presents results only (docs/design.md §2); what it computes is for
display: colour limits, the width of the AGB interval (upper − lower), counts
of cores, number formats.
"""

from __future__ import annotations

import base64
import functools
import importlib
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import jinja2
import numpy as np
import pandas as pd
import xarray as xr

from carbonsink.accounting.ledger import LEDGER_SCHEMA
from carbonsink.errors import ConfigError
from carbonsink.io.writers import atomic_path
from carbonsink.report import figures
from carbonsink.report.content import EpochReport, ReportContent

__all__ = [
    "LEDGER_KEYS",
    "PDF_FIX",
    "REQUIRED_LAYERS",
    "TEMPLATE",
    "format_number",
    "format_percent",
    "load_weasyprint",
    "render_report",
    "write_report",
]

logger = logging.getLogger(__name__)

#: The template the report is rendered from (in ``carbonsink/report/templates``).
TEMPLATE: Final = "report.html.j2"
#: Layers every epoch must have (see :class:`~carbonsink.report.content.EpochReport`).
REQUIRED_LAYERS: Final = (
    "landcover",
    "agb_mg_ha",
    "agb_lower_mg_ha",
    "agb_upper_mg_ha",
    "soc_mg_ha",
    "soc_sd_mg_ha",
    "carbon_mg_ha",
    "inside_boundary",
)
#: Top-level keys of the ledger the report reads (docs/ledger.md).
LEDGER_KEYS: Final = (
    "schema",
    "single_epoch",
    "epochs",
    "crediting_period",
    "profile",
    "pools",
    "claim",
    "project",
    "strata",
    "vintages",
    "monte_carlo",
    "warnings",
    "notes",
    "polygon",
)
#: How to get the optional PDF renderer.
PDF_FIX: Final = 'pip install "carbonsink[pdf]"'
#: Units of the credit chain's rates.
_RATE_UNITS: Final = "t CO2e/yr"
_MISSING: Final = "—"


# ----------------------------------------------------------------- formatting
def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def format_number(value: Any, digits: int = 1) -> str:
    """``12345.67`` → ``"12,345.7"``: thousands separators, fixed decimals, ``—`` for none.

    ``None``, NaN and non-numbers give an em dash; a value that rounds to
    zero is shown without a minus sign.
    """
    number = _as_float(value)
    if number is None:
        return _MISSING
    text = f"{number:,.{digits}f}"
    if text.startswith("-") and not any(ch in "123456789" for ch in text):
        text = text[1:]
    return text


def format_percent(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.3265`` → ``"32.6 %"`` (``—`` for none)."""
    number = _as_float(value)
    if number is None:
        return _MISSING
    return f"{format_number(100.0 * number, digits)} %"


def _format_interval(pair: Any, digits: int = 1) -> str:
    if pair is None or len(pair) != 2:
        return _MISSING
    return f"{format_number(pair[0], digits)} – {format_number(pair[1], digits)}"


def _format_bytes(value: Any) -> str:
    number = _as_float(value)
    if number is None:
        return _MISSING
    if abs(number) < 1000.0:
        return f"{number:,.0f} B"
    for unit in ("kB", "MB"):
        number /= 1000.0
        if abs(number) < 1000.0:
            return f"{number:,.1f} {unit}"
    return f"{number / 1000.0:,.1f} GB"


def _short_hash(value: Any, length: int = 12) -> str:
    return _MISSING if not value else str(value)[:length]


@functools.cache
def _environment() -> jinja2.Environment:
    """The Jinja2 environment: package templates, autoescaping, strict undefined names."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("carbonsink.report", "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "html.j2", "css"), default=True, default_for_string=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        num=format_number,
        pct=format_percent,
        interval=_format_interval,
        bytesize=_format_bytes,
        short_hash=_short_hash,
    )
    return env


# ----------------------------------------------------------------- checks
def _check_content(content: ReportContent) -> None:
    """Refuse a content object that breaks the contract, naming everything missing.

    A malformed :class:`ReportContent` is a fault of the code that built it,
    not of the survey, hence ``ValueError`` (an internal error for the CLI).
    """
    problems = []
    missing_keys = [key for key in LEDGER_KEYS if key not in content.ledger]
    if missing_keys:
        problems.append(f"the ledger lacks the key(s) {missing_keys}")
    elif content.ledger["schema"] != LEDGER_SCHEMA:
        problems.append(
            f"the ledger's layout is {content.ledger['schema']!r}; the report reads "
            f"{LEDGER_SCHEMA!r}"
        )
    if not content.epochs:
        problems.append("there are no epochs")
    for epoch in content.epochs:
        absent = [name for name in REQUIRED_LAYERS if name not in epoch.layers]
        if absent:
            problems.append(f"epoch {epoch.name!r} lacks the layer(s) {absent}")
    if not missing_keys and not content.ledger["single_epoch"]:
        if content.change is None:
            problems.append("the ledger has two epochs but there is no change dataset")
        else:
            absent = [
                name
                for name in ("removals_t_co2e_ha_yr", "removals_sd_t_co2e_ha_yr")
                if name not in content.change
            ]
            if absent:
                problems.append(f"the change dataset lacks the layer(s) {absent}")
        if content.net_draws is None:
            problems.append("the ledger has two epochs but there are no net_draws")
    if problems:
        raise ValueError(
            "cannot build the report: "
            + "; ".join(problems)
            + " (fill ReportContent as documented in carbonsink/report/content.py)"
        )


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


def _stock_maps(epochs: Sequence[EpochReport]) -> list[dict[str, Any]]:
    """One row per variable, one map per epoch, on a colour scale shared by the epochs."""
    # (layer, heading, colour map, whether the scale starts at 0: uncertainties do)
    variables: list[tuple[str, str, str, bool]] = [
        ("carbon_mg_ha", "Carbon stock of the counted pools", "viridis", False),
        ("agb_mg_ha", "Above-ground biomass", "YlGn", False),
        (
            "agb_interval_width_mg_ha",
            "AGB prediction-interval width (upper − lower)",
            "plasma",
            True,
        ),
        ("soc_mg_ha", "Soil organic carbon stock", "YlOrBr", False),
        ("soc_sd_mg_ha", "SOC kriging standard deviation", "plasma", True),
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
            title = f"{heading} — {epoch.name}"
            if name.startswith("soc"):
                title = f"{heading}, 0–{epoch.soil_depth_cm:g} cm — {epoch.name}"
            png = figures.map_figure(
                layer,
                title=title,
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
    title = "Removals (sink positive, source negative)"
    sd_title = "Standard deviation of the removals"
    return [
        _figure(
            title,
            figures.map_figure(
                removals, title=title, label="removals", cmap="BrBG", centre=0.0, inside=inside
            ),
            "Diverging colours centred on 0: green-blue cells gained carbon, brown cells lost it.",
        ),
        _figure(
            sd_title,
            figures.map_figure(
                sd, title=sd_title, label="SD", cmap="plasma", vmin=0.0, inside=inside
            ),
        ),
    ]


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
    title = f"Land cover — {epoch.name}"
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
            {**{c: row.get(c) for c in _CV_COLUMNS}, "pooled": str(row.get("fold")) == "pooled"}
            for row in _records(table)
        ]
        figure = None
        predictions = epoch.biomass_predictions.get(model)
        if predictions is not None:
            title = f"AGB, {model} model, held-out plots — {epoch.name}"
            figure = _figure(title, figures.predicted_observed_figure(predictions, title=title))
        models.append({"name": model, "rows": rows, "figure": figure})
    return {
        "name": epoch.name,
        "models": models,
        "models_used": list(epoch.biomass_models_used),
        "lidar_decision": epoch.lidar_decision,
    }


def _soil(epoch: EpochReport) -> dict[str, Any]:
    cores = epoch.cores
    extrapolated = int(np.asarray(cores["extrapolated"], dtype=bool).sum())
    title = f"Soil cores on the SOC map, 0–{epoch.soil_depth_cm:g} cm — {epoch.name}"
    png = figures.cores_over_map_figure(
        epoch.layers["soc_mg_ha"], cores, title=title, inside=epoch.layers["inside_boundary"]
    )
    return {
        "name": epoch.name,
        "figure": _figure(title, png),
        "n_cores": len(cores),
        "n_extrapolated": extrapolated,
        "depth_cm": epoch.soil_depth_cm,
    }


def _summary(term: Mapping[str, Any]) -> tuple[Any, Any]:
    return term.get("mean"), term.get("ci90")


def _chain_rows(ledger: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The project's credit chain, one row per step (docs/ledger.md, ``project``)."""
    project = ledger["project"]
    profile = ledger["profile"]
    claim = ledger["claim"]
    removals, removals_ci = _summary(project["removals"])
    non_co2, non_co2_ci = _summary(project["non_co2_emissions"])
    gross, gross_ci = _summary(project["gross"])
    net, net_ci = _summary(project["net"])
    rows: list[dict[str, Any]] = [
        {
            "step": "Removals",
            "sign": "",
            "value": removals,
            "ci": removals_ci,
            "note": "44/12 × Σ pools (C₂ − C₁) / years",
            "kind": "term",
        },
        {
            "step": "Non-CO2 emissions (CH4, N2O)",
            "sign": "−",
            "value": non_co2,
            "ci": non_co2_ci,
            "note": f"in CO2e with the {profile.get('gwp', '')} GWP set",
            "kind": "term",
        },
        {
            "step": "Baseline removals",
            "sign": "−",
            "value": project.get("baseline_removals"),
            "ci": None,
            "note": "",
            "kind": "term",
        },
        {
            "step": "Gross removals",
            "sign": "=",
            "value": gross,
            "ci": gross_ci,
            "note": "",
            "kind": "subtotal",
        },
        {
            "step": "Leakage",
            "sign": "−",
            "value": project.get("leakage"),
            "ci": None,
            "note": f"{format_number(profile.get('leakage_pct'), 1)} % of gross",
            "kind": "term",
        },
        {
            "step": "Net removals",
            "sign": "=",
            "value": net,
            "ci": net_ci,
            "note": f"U = {format_percent(project['net'].get('relative_half_width_90'))} "
            "(90 % half-width / mean)",
            "kind": "subtotal",
        },
    ]
    for rule in project.get("uncertainty_rules", []):
        applied = bool(rule.get("applied"))
        rows.append(
            {
                "step": f"Uncertainty deduction, rule {rule.get('rule')}"
                + (" (applied)" if applied else " (not applied)"),
                "sign": "−" if applied else "",
                "value": rule.get("deduction"),
                "ci": None,
                "note": str(rule.get("explanation", "")),
                "kind": "rule-applied" if applied else "rule",
            }
        )
    rows += [
        {
            "step": "Adjusted net",
            "sign": "=",
            "value": project.get("adjusted"),
            "ci": None,
            "note": f"after rule {claim.get('rule_applied')}",
            "kind": "subtotal",
        },
        {
            "step": "Buffer (non-permanence)",
            "sign": "−",
            "value": project.get("buffer"),
            "ci": None,
            "note": f"{format_number(profile.get('buffer_pct'), 1)} % of the stock share "
            f"({format_percent(project.get('stock_share'))}) of the adjusted net",
            "kind": "term",
        },
        {
            "step": "Tradable per year",
            "sign": "=",
            "value": project.get("tradable"),
            "ci": None,
            "note": "",
            "kind": "result",
        },
    ]
    return rows


def _strata_rows(ledger: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for record in ledger["strata"]:
        rows.append(
            {
                "stratum": str(record.get("stratum")),
                "area": record.get("area_ha"),
                "adjusted_area": record.get("adjusted_area_ha"),
                "removals": record.get("removals_t_co2e_yr"),
                "removals_ci": (
                    record.get("removals_p5_t_co2e_yr"),
                    record.get("removals_p95_t_co2e_yr"),
                ),
                "non_co2": record.get("non_co2_t_co2e_yr"),
                "net": record.get("net_t_co2e_yr"),
                "net_ci": (record.get("net_p5_t_co2e_yr"), record.get("net_p95_t_co2e_yr")),
                "tradable": record.get("tradable_t_co2e_yr"),
                "total": record.get("stratum") == "total",
            }
        )
    return rows


def _stock_table(ledger: Mapping[str, Any]) -> dict[str, Any]:
    """Mean stock per pool, stratum and epoch with the 90 % interval of the stratum's stock."""
    epochs = [str(e["name"]) for e in ledger["epochs"]]
    pools = [str(p) for p in ledger["pools"]]
    rows = []
    for record in ledger["strata"]:
        rows.append(
            {
                "stratum": str(record.get("stratum")),
                "area": record.get("area_ha"),
                "epochs": [
                    {
                        "pools": [record.get(f"{pool}_{epoch}_t_c") for pool in pools],
                        "ci": (
                            record.get(f"stock_{epoch}_p5_t_c"),
                            record.get(f"stock_{epoch}_p95_t_c"),
                        ),
                    }
                    for epoch in epochs
                ],
                "total": record.get("stratum") == "total",
            }
        )
    return {"epochs": epochs, "pools": pools, "rows": rows}


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
        "Monte Carlo distribution of the net removals",
        png,
        f"{format_number(n, 0)} draws; dashed lines: the 90 % interval; red: the net after "
        f"rule {claim['rule_applied']}.",
    )


def _inputs(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``manifest["inputs"]``: a list of ``{path, size, sha256}``."""
    return [
        {
            "path": str(item.get("path", "")),
            "size": item.get("size"),
            "sha256": item.get("sha256") or "",
        }
        for item in manifest.get("inputs") or []
    ]


def _stages(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``manifest["stages"]``: a list of ``{name, seconds, cached}``."""
    return [
        {
            "name": str(item.get("name", "")),
            "seconds": item.get("seconds"),
            "cached": item.get("cached"),
        }
        for item in manifest.get("stages") or []
    ]


def _profile_rows(profile: Mapping[str, Any]) -> list[tuple[str, str]]:
    pools = profile.get("pools")
    leakage = f"{format_number(profile.get('leakage_pct'), 1)} %"
    return [
        ("Profile", f"{profile.get('name', '')} — {profile.get('title', '')}"),
        ("Uncertainty rule", str(profile.get("uncertainty_rule", _MISSING))),
        ("Allowable uncertainty", f"{format_number(profile.get('allowable_uncertainty_pct'))} %"),
        ("Confidence", format_percent(profile.get("confidence"), 0)),
        ("GWP set", str(profile.get("gwp", _MISSING))),
        ("Buffer", f"{format_number(profile.get('buffer_pct'), 1)} %"),
        ("Leakage", leakage),
        ("Leakage note", str(profile.get("leakage_note") or _MISSING)),
        ("Pools", ", ".join(map(str, pools)) if pools else _MISSING),
        ("Soil depth", f"{format_number(profile.get('soil_depth_cm'), 0)} cm"),
        ("Source", str(profile.get("source") or _MISSING)),
        ("Origin", str(profile.get("origin") or _MISSING)),
        ("Profile file SHA-256", str(profile.get("sha256") or _MISSING)),
        ("Survey overrides", ", ".join(map(str, profile.get("overrides") or [])) or "none"),
    ]


def _context(content: ReportContent) -> dict[str, Any]:
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
        "soil": [_soil(e) for e in content.epochs],
        "stocks": _stock_table(ledger),
        "chain": [] if single else _chain_rows(ledger),
        "project": project,
        "strata": [] if single else _strata_rows(ledger),
        "vintages": [v for v in ledger["vintages"] if v.get("stratum") == "total"],
        "histogram": _histogram(content),
        "ch4_sensitivity": ledger.get("ch4_sensitivity"),
        "methodology": content.methodology,
        "profile_rows": _profile_rows(ledger["profile"]),
        "inputs": _inputs(manifest),
        "survey_sha256": manifest.get("survey_sha256"),
        "survey_file": manifest.get("survey"),
        "wall_seconds": manifest.get("wall_seconds"),
        "versions": sorted((str(k), str(v)) for k, v in versions.items()),
        "stages": _stages(manifest),
        "monte_carlo": monte_carlo,
        "convergence": monte_carlo.get("convergence") or {},
        "polygon": ledger["polygon"],
    }
    return context


# ----------------------------------------------------------------- public API
def render_report(content: ReportContent) -> str:
    """The report as one self-contained HTML page.

    Parameters
    ----------
    content
        The results to present (filled by the pipeline).

    Returns
    -------
    str
        HTML with inline CSS and inline PNG figures (``data:`` URIs); no
        script and no external request.

    Raises
    ------
    ValueError
        ``content`` does not follow its contract (a ledger key, a layer or the
        change dataset is missing): a fault of the code that built it.
    """
    _check_content(content)
    html = _environment().get_template(TEMPLATE).render(**_context(content))
    logger.debug("rendered the report of %r: %d characters", content.title, len(html))
    return html


def load_weasyprint() -> ModuleType:
    """Import WeasyPrint (the optional PDF renderer) or say how to install it (ConfigError)."""
    try:
        return importlib.import_module("weasyprint")
    except ImportError as exc:
        raise ConfigError(
            "a PDF report needs WeasyPrint, which is not installed",
            fix=PDF_FIX,
        ) from exc
    except OSError as exc:  # WeasyPrint raises OSError when Pango is missing
        raise ConfigError(
            f"a PDF report needs WeasyPrint, which cannot load its system libraries ({exc})",
            fix=f"{PDF_FIX} and install Pango (see WeasyPrint's installation guide)",
        ) from exc


def write_report(content: ReportContent, path: Path, *, pdf_path: Path | None = None) -> list[Path]:
    """Write the report as HTML, and as PDF when asked, atomically.

    Parameters
    ----------
    content
        The results to present.
    path
        The HTML file to write, e.g. ``OUT/report.html``.
    pdf_path
        Also render a PDF there with WeasyPrint (the optional extra ``pdf``).

    Returns
    -------
    list of Path
        The files written: the HTML, then the PDF.

    Raises
    ------
    ConfigError
        A PDF is asked but WeasyPrint cannot be imported; checked before
        anything is written.
    ValueError
        ``content`` does not follow its contract (see :func:`render_report`).
    OutputError
        A file cannot be written.

    Notes
    -----
    Both documents are rendered in memory before either is written, so a
    failure leaves no new file; each file is published by renaming a
    temporary file beside it (:func:`carbonsink.io.writers.atomic_path`).
    """
    html_path = Path(path)
    weasyprint = load_weasyprint() if pdf_path is not None else None
    html = render_report(content)
    pdf_bytes: bytes | None = None
    if weasyprint is not None:
        pdf_bytes = bytes(weasyprint.HTML(string=html).write_pdf())
    written = [html_path]
    with atomic_path(html_path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    if pdf_bytes is not None and pdf_path is not None:
        with atomic_path(pdf_path) as tmp:
            tmp.write_bytes(pdf_bytes)
        written.append(pdf_path)
    logger.info("wrote %s", ", ".join(str(p) for p in written))
    return written
