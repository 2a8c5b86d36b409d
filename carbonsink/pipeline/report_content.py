"""Gather a run's results for the report and the per-pixel carbon and change layers.

Per-pixel layers here only combine layers the stages computed (sums of pools,
an SD from a variance, the difference of two epochs); the totals of the claim
come from the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from carbonsink.accounting.ledger import Ledger, years_between
from carbonsink.config import Survey
from carbonsink.pipeline.accounts import EpochResults
from carbonsink.report.content import EpochReport, MethodologyRow, ReportContent
from carbonsink.soil.profiles import depth_label
from carbonsink.units import CO2_PER_C

__all__ = ["carbon_layers", "change_layers", "report_content"]

#: z of the two-sided 90 % normal interval, Φ⁻¹(0.95).
_Z90 = 1.6448536269514722


def _layer(values: npt.ArrayLike, like: xr.DataArray, units: str, long_name: str) -> xr.DataArray:
    return xr.DataArray(
        np.asarray(values, dtype=np.float32),
        dims=("y", "x"),
        coords={"y": like["y"], "x": like["x"]},
        attrs={"units": units, "long_name": long_name},
    )


def carbon_layers(
    survey: Survey,
    result: EpochResults,
    *,
    pools: Sequence[str],
    soil_depth_cm: float,
) -> xr.Dataset:
    """Per-pixel carbon of the counted pools and the SOC layer with its SD.

    Returns
    -------
    xarray.Dataset
        ``soc_mg_ha`` and ``soc_sd_mg_ha`` (to ``soil_depth_cm``, SD =
        √ kriging variance), ``carbon_mg_ha`` (Σ counted pools: AGB C, BGB C,
        SOC; Mg C/ha) and ``carbon_sd_mg_ha`` (vegetation SD from the AGB
        interval, (upper − lower) / (2 × 1.645) × the cell's carbon per AGB,
        and the SOC SD, independent).
    """
    label = depth_label(soil_depth_cm)
    soc_map = result.soc_maps[soil_depth_cm]
    name = f"soc_0_{label}_mg_ha"
    soc = soc_map[name].values.astype(np.float64)
    soc_sd = np.sqrt(np.maximum(soc_map[f"{name}_variance"].values.astype(np.float64), 0.0))
    bio = result.biomass.layers
    agb = bio["agb_mg_ha"].values.astype(np.float64)
    veg_parts = [p for p in pools if p in ("agb", "bgb")]
    veg = np.zeros_like(agb)
    for pool in veg_parts:
        veg = veg + np.nan_to_num(bio[f"{pool}_c_mg_ha"].values.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        carbon_per_agb = np.where(agb > 0, veg / agb, 0.0)
    agb_sd = (bio["agb_upper_mg_ha"].values - bio["agb_lower_mg_ha"].values) / (2.0 * _Z90)
    veg_sd = np.nan_to_num(agb_sd * carbon_per_agb)
    inside = result.cube.cube["inside_boundary"].values.astype(bool)
    carbon = np.where(inside, veg + soc, np.nan)
    carbon_sd = np.where(inside, np.sqrt(veg_sd**2 + soc_sd**2), np.nan)
    like = bio["agb_mg_ha"]
    counted = " + ".join([*(f"{p.upper()} C" for p in veg_parts), f"SOC 0–{label} cm"])
    return xr.Dataset(
        {
            "soc_mg_ha": _layer(soc, like, "Mg C/ha", f"SOC stock 0–{label} cm"),
            "soc_sd_mg_ha": _layer(soc_sd, like, "Mg C/ha", f"kriging SD of SOC 0–{label} cm"),
            "carbon_mg_ha": _layer(carbon, like, "Mg C/ha", f"carbon stock ({counted})"),
            "carbon_sd_mg_ha": _layer(carbon_sd, like, "Mg C/ha", "SD of the carbon stock"),
        }
    )


def change_layers(
    first: EpochResults,
    last: EpochResults,
    layers: Mapping[str, xr.Dataset],
    ledger: Ledger,
) -> xr.Dataset:
    """Per-pixel stock change and removals between the first and last epochs.

    Notes
    -----
    Removals [t CO2e/ha/yr] = 44/12 × (C_t2 − C_t1) / (t2 − t1) per cell
    (METHODOLOGY.md §4), with C the counted pools; SD = 44/12 ×
    √(σ²_t1 + σ²_t2) / (t2 − t1) from the cells' own SDs, treated as
    independent (a per-pixel guide: the project total's uncertainty is the
    ledger's Monte Carlo, which handles the shared errors).
    """
    years = years_between(first.epoch.date, last.epoch.date)
    a, b = layers[first.epoch.name], layers[last.epoch.name]
    like = b["carbon_mg_ha"]
    d_carbon = (b["carbon_mg_ha"].values - a["carbon_mg_ha"].values) / years
    sd = np.sqrt(a["carbon_sd_mg_ha"].values ** 2 + b["carbon_sd_mg_ha"].values ** 2) / years
    d_soc = (b["soc_mg_ha"].values - a["soc_mg_ha"].values) / years
    return xr.Dataset(
        {
            "d_carbon_mg_ha_yr": _layer(d_carbon, like, "Mg C/ha/yr", "change of the carbon stock"),
            "d_soc_mg_ha_yr": _layer(d_soc, like, "Mg C/ha/yr", "change of the SOC stock"),
            "removals_t_co2e_ha_yr": _layer(
                d_carbon * CO2_PER_C, like, "t CO2e/ha/yr", "removals (sink positive)"
            ),
            "removals_sd_t_co2e_ha_yr": _layer(
                sd * CO2_PER_C, like, "t CO2e/ha/yr", "SD of the removals (cells independent)"
            ),
        },
        attrs={"from_epoch": first.epoch.name, "to_epoch": last.epoch.name, "years": years},
    )


def _epoch_report(result: EpochResults, layers: xr.Dataset, *, soil_depth_cm: float) -> EpochReport:
    bio = result.biomass.layers
    cube = result.cube.cube
    label = depth_label(soil_depth_cm)
    report_layers = xr.Dataset(
        {
            "landcover": cube["landcover"],
            "agb_mg_ha": bio["agb_mg_ha"],
            "agb_lower_mg_ha": bio["agb_lower_mg_ha"],
            "agb_upper_mg_ha": bio["agb_upper_mg_ha"],
            "agb_outside_aoa": bio["agb_outside_aoa"],
            "soc_mg_ha": layers["soc_mg_ha"],
            "soc_sd_mg_ha": layers["soc_sd_mg_ha"],
            "carbon_mg_ha": layers["carbon_mg_ha"],
            "inside_boundary": cube["inside_boundary"].astype(bool),
        }
    ).drop_vars("spatial_ref", errors="ignore")
    stocks = result.core_stocks
    cores = stocks[["x", "y"]].copy()
    cores["soc_mg_ha"] = stocks[f"soc_0_{label}_mg_ha"]
    flag = f"extrapolated_0_{label}"
    cores["extrapolated"] = stocks[flag].astype(bool) if flag in stocks else False
    models = {m.name: m for m in result.biomass.candidates}
    return EpochReport(
        name=result.epoch.name,
        date=result.epoch.date.isoformat(),
        layers=report_layers,
        soil_depth_cm=soil_depth_cm,
        accuracy=result.cube.landcover.accuracy.to_dict(),
        areas=result.cube.landcover.areas.table,
        biomass_cv={name: m.cv.table for name, m in models.items()},
        biomass_predictions={
            name: m.cv.predictions[["observed", "predicted", "lower", "upper"]]
            for name, m in models.items()
        },
        biomass_models_used=tuple(m.name for m in result.biomass.models),
        lidar_decision=result.biomass.lidar_decision,
        cores=cores,
    )


def _methodology(survey: Survey, ledger: Ledger) -> list[MethodologyRow]:
    profile = ledger.profile
    rows = [
        MethodologyRow("methodology profile", f"{profile.name}: {profile.title}", profile.source),
        MethodologyRow(
            "uncertainty rule",
            f"{profile.uncertainty_rule}, allowable {profile.allowable_uncertainty_pct:g} % at "
            f"{profile.confidence:.0%}",
            "METHODOLOGY.md §5",
        ),
        MethodologyRow("GWP set", profile.gwp, "IPCC (METHODOLOGY.md §4)"),
        MethodologyRow("buffer", f"{profile.buffer_pct:g} %", "VCS AFOLU Non-Permanence Risk Tool"),
        MethodologyRow("leakage", f"{profile.leakage_pct:g} %", profile.leakage_note or "profile"),
        MethodologyRow(
            "pools", ", ".join(ledger.pools), f"profile; soil to {profile.soil_depth_cm} cm"
        ),
        MethodologyRow(
            "biomass model",
            f"{survey.biomass.model}, {survey.biomass.n_estimators} trees, spatial block CV; "
            f"bootstrap B = {survey.biomass.bootstrap_replicates}",
            "METHODOLOGY.md §2, §6",
        ),
        MethodologyRow(
            "soil",
            f"{survey.soil.prediction}, OM → OC {survey.soil.om_to_oc}, depths "
            f"{', '.join(f'{d:g}' for d in survey.soil.depths_cm)} cm",
            "METHODOLOGY.md §3",
        ),
        MethodologyRow(
            "Monte Carlo",
            f"{ledger.monte_carlo['n_draws']:,} draws, seed {ledger.monte_carlo['seed']}",
            "IPCC 2006 Vol. 1 §3.2.3 (Approach 2)",
        ),
    ]
    for name, params in survey.vegetation.classes.items():
        rows.append(
            MethodologyRow(
                f"class {name}",
                f"CF {params.carbon_fraction:g}, root:shoot {params.root_shoot:g}, CH4 "
                f"{params.ch4_flux_mg_m2_d if params.ch4_flux_mg_m2_d is not None else 'default'}"
                " mg/m²/d",
                "survey file [vegetation.classes]",
            )
        )
    return rows


def report_content(
    survey: Survey,
    results: Sequence[EpochResults],
    ledger: Ledger,
    change: xr.Dataset | None,
    manifest: Mapping[str, Any],
) -> ReportContent:
    """The :class:`~carbonsink.report.content.ReportContent` of a run."""
    depth = float(ledger.profile.soil_depth_cm)
    epochs = []
    for result in results:
        layers = carbon_layers(survey, result, pools=ledger.pools, soil_depth_cm=depth)
        epochs.append(_epoch_report(result, layers, soil_depth_cm=depth))
    net = ledger.draws.get("net")
    return ReportContent(
        title=survey.survey.name,
        ledger=ledger.to_dict(),
        manifest=dict(manifest),
        epochs=epochs,
        change=change,
        net_draws=None if net is None else np.asarray(net, dtype=np.float64),
        methodology=_methodology(survey, ledger),
    )
