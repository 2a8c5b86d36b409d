"""Report stage: gather a run's results into :class:`~carbonsink.report.content.ReportContent`.

Nothing here computes science: per-pixel carbon and change layers come from
:mod:`carbonsink.accounting.stocks`, the claim's totals from the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from carbonsink.accounting.ledger import Ledger
from carbonsink.config import VegetationClass
from carbonsink.i18n import Field, Message, deferred, joined
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.stages.epoch import EpochResults
from carbonsink.pipeline.stages.soil import soc_column
from carbonsink.report.content import EpochReport, MethodologyRow, ReportContent

__all__ = ["epoch_carbon_layers", "report_content"]


def epoch_carbon_layers(ctx: RunContext, result: EpochResults, ledger: Ledger) -> xr.Dataset:
    """Per-pixel carbon of the ledger's counted pools for one epoch (with SDs and SOC).

    See :func:`carbonsink.accounting.stocks.carbon_layers`.
    """
    from carbonsink.accounting.stocks import carbon_layers

    depth = float(ledger.profile.soil_depth_cm)
    return carbon_layers(
        result.layers(depth),
        pools=ledger.pools,
        inside=result.cube.cube["inside_boundary"].values,
        interval=ctx.survey.biomass.interval,
    )


def _epoch_report(result: EpochResults, layers: xr.Dataset, *, soil_depth_cm: float) -> EpochReport:
    bio = result.biomass.layers
    cube = result.cube.cube
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
    column = soc_column(soil_depth_cm)
    cores = stocks[["x", "y"]].copy()
    cores["soc_mg_ha"] = stocks[column]
    flag = column.replace("soc_", "extrapolated_").removesuffix("_mg_ha")
    cores["extrapolated"] = stocks[flag].astype(bool) if flag in stocks else False
    models = {m.name: m for m in result.biomass.candidates}
    cv = result.soc_cv[soil_depth_cm]
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
        soil_variogram=_soil_variogram(result.soc_maps[soil_depth_cm]),
        soil_cv=cv.to_dict(),
        soil_cv_predictions=cv.predictions[["observed", "predicted", "lower", "upper"]],
    )


def _soil_variogram(soc_map: xr.Dataset) -> dict[str, Any]:
    """The SOC map's variogram as its attributes record it, and its curve (for the report)."""
    from carbonsink.pipeline.stages.soil import soc_variogram

    attrs = soc_map.attrs
    model = soc_variogram(soc_map)
    lags = np.atleast_1d(attrs.get("variogram_lag_m", [])).astype(np.float64)
    far = max(1.5 * model.range_m, float(lags.max()) if lags.size else 0.0)
    curve = np.linspace(0.0, far, 200)
    return {
        "curve_m": curve.tolist(),
        "curve_semivariance": model.semivariance(curve).tolist(),
        "model": str(attrs["variogram_model"]),
        "nugget": float(attrs["variogram_nugget"]),
        "psill": float(attrs["variogram_partial_sill"]),
        "range_m": float(attrs["variogram_range_m"]),
        "units": str(attrs.get("variogram_units", "")),
        "of": str(attrs.get("variogram_of", "values")),
        "lag_m": [float(v) for v in np.atleast_1d(attrs.get("variogram_lag_m", []))],
        "semivariance": [float(v) for v in np.atleast_1d(attrs.get("variogram_semivariance", []))],
        "n_pairs": [int(v) for v in np.atleast_1d(attrs.get("variogram_n_pairs", []))],
    }


def _dom_row(result: EpochResults) -> MethodologyRow | None:
    dom = result.biomass.dom
    if dom is None:
        return None
    if dom.ratios is not None:
        groups: dict[str, list[str]] = {}
        for cls, group in dom.ratios.group_of.items():
            groups.setdefault(group, []).append(cls)
        members = {
            group: "" if classes == [group] else f" ({', '.join(classes)})"
            for group, classes in groups.items()
        }
        ratios = "; ".join(
            f"{group}{members.get(group, '')} {ratio:.3f} ± {se:.3f}"
            for group, (ratio, se) in dom.ratios.ratios.items()
        )
        value = deferred(
            "{n} plots; dead:live ratio per class, ± SE: {ratios}",
            n=dom.n_plots,
            ratios=ratios,
        )
    else:
        assert dom.model is not None
        pooled = dom.model.cv.pooled
        value = deferred(
            "{n} plots; modelled like AGB ({estimator}), spatial-CV R² {r2:.2f}, RMSE "
            "{rmse:.2f} Mg DM/ha",
            n=dom.n_plots,
            estimator=dom.model.estimator_name,
            r2=float(pooled["r2"]),
            rmse=float(pooled["rmse_mg_ha"]),
        )
    return MethodologyRow(
        deferred("dead organic matter {epoch}", epoch=result.epoch.name),
        value,
        deferred("plots' agb_dead_g_m2 (docs/methodology.md §2.3)"),
    )


def _methodology(
    ctx: RunContext, results: Sequence[EpochResults], ledger: Ledger
) -> list[MethodologyRow]:
    """The methodology as applied, each row said in the language the report is shown in."""
    from carbonsink.accounting.pools import pool_for_key

    survey = ctx.survey
    profile = ledger.profile
    model_fields = {
        "model": survey.biomass.model,
        "trees": survey.biomass.n_estimators,
        "replicates": survey.biomass.bootstrap_replicates,
    }
    rows = [
        MethodologyRow(
            deferred("methodology profile"), f"{profile.name}: {profile.title}", profile.source
        ),
        MethodologyRow(
            deferred("uncertainty rule"),
            deferred(
                "{rule}, allowable {allowed:g} % at {confidence:.0%}",
                rule=profile.uncertainty_rule,
                allowed=profile.allowable_uncertainty_pct,
                confidence=profile.confidence,
            ),
            "docs/methodology.md §5.3",
        ),
        MethodologyRow(deferred("GWP set"), profile.gwp, "IPCC (docs/methodology.md §4.4)"),
        MethodologyRow(
            deferred("buffer"),
            f"{profile.buffer_pct:g} %",
            deferred("VCS AFOLU Non-Permanence Risk Tool (docs/methodology.md §5.2)"),
        ),
        MethodologyRow(
            deferred("leakage"),
            f"{profile.leakage_pct:g} %",
            profile.leakage_note or deferred("profile"),
        ),
        MethodologyRow(
            deferred("pools"),
            joined(
                [
                    deferred("{key} ({label})", key=p, label=Message(pool_for_key(p).label))
                    for p in ledger.pools
                ]
            ),
            deferred(
                "profile; soil to {depth:g} cm (docs/methodology.md §2–§4)",
                depth=float(profile.soil_depth_cm),
            ),
        ),
        MethodologyRow(
            deferred("biomass model"),
            (
                deferred(
                    "{model}, {trees} trees, spatial block CV; residual correction per stratum, "
                    "bootstrap B = {replicates} of every stratum (for comparison)",
                    **model_fields,
                )
                if survey.biomass.bootstrap_comparison
                else deferred(
                    "{model}, {trees} trees, spatial block CV; residual correction per stratum, "
                    "bootstrap B = {replicates} of a stratum without one",
                    **model_fields,
                )
            ),
            "docs/methodology.md §2.5, §6.4",
        ),
        MethodologyRow(
            deferred("soil"),
            deferred(
                "{prediction}, OM → OC {conversion}, depths {depths} cm",
                prediction=survey.soil.prediction,
                conversion=survey.soil.om_to_oc,
                depths=", ".join(f"{d:g}" for d in survey.soil.depths_cm),
            ),
            "docs/methodology.md §3",
        ),
        MethodologyRow(
            deferred("Monte Carlo"),
            deferred(
                "{draws:,} draws, seed {seed}",
                draws=int(ledger.monte_carlo["n_draws"]),
                seed=int(ledger.monte_carlo["seed"]),
            ),
            deferred("IPCC 2006 Vol. 1 §3.2.3 (Approach 2); docs/methodology.md §6.2"),
        ),
    ]
    rows += [row for row in map(_dom_row, results) if row is not None]
    rows += [_class_row(name, params) for name, params in survey.vegetation.classes.items()]
    return rows


def _class_row(name: str, params: VegetationClass) -> MethodologyRow:
    """A vegetation class's parameters as the report's methodology shows them."""
    ch4: Field = (
        f"{params.ch4_flux_mg_m2_d:g}"
        if params.ch4_flux_mg_m2_d is not None
        else deferred("default")
    )
    root_shoot: Field = (
        f"{params.root_shoot:g}"
        if params.root_shoot_se is None
        else deferred("{r:g} ± {se:g} (measured)", r=params.root_shoot, se=params.root_shoot_se)
    )
    return MethodologyRow(
        deferred("class {name}", name=name),
        deferred(
            "CF {cf:g}, root:shoot {r}, CH4 {ch4} mg/m²/d",
            cf=params.carbon_fraction,
            r=root_shoot,
            ch4=ch4,
        ),
        deferred("survey file [vegetation.classes]"),
    )


def _with_crs(dataset: xr.Dataset, ctx: RunContext) -> xr.Dataset:
    """``dataset`` with the analysis grid's CRS written on it, in place (rioxarray)."""
    import rioxarray  # noqa: F401  (registers the .rio accessor)

    dataset.rio.write_crs(ctx.grid.crs, inplace=True)
    return dataset


def report_content(
    ctx: RunContext,
    results: Sequence[EpochResults],
    ledger: Ledger,
    layers: Mapping[str, xr.Dataset],
    change: xr.Dataset | None,
    manifest: Mapping[str, Any],
) -> ReportContent:
    """The :class:`~carbonsink.report.content.ReportContent` of a run.

    Parameters
    ----------
    ctx
        The run.
    results
        Each epoch's stage results, earliest first.
    ledger
        The run's ledger.
    layers
        Epoch name → :func:`epoch_carbon_layers`.
    change
        Per-pixel change layers (``None`` for one epoch).
    manifest
        The run manifest.
    """
    depth = float(ledger.profile.soil_depth_cm)
    epochs = [
        _epoch_report(result, layers[result.epoch.name], soil_depth_cm=depth) for result in results
    ]
    # The maps' captions name the CRS: every layer the report draws carries the grid's.
    for epoch in epochs:
        _with_crs(epoch.layers, ctx)
    net = ledger.draws.get("net")
    return ReportContent(
        title=ctx.survey.survey.name,
        ledger=ledger.to_dict(),
        manifest=dict(manifest),
        epochs=epochs,
        change=None if change is None else _with_crs(change.copy(deep=False), ctx),
        net_draws=None if net is None else np.asarray(net, dtype=np.float64),
        methodology=_methodology(ctx, results, ledger),
        language=ctx.survey.survey.language,
    )
