"""Soil stage: an epoch's cores → stocks at the survey's depths → SOC map and block totals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from carbonsink.accounting.ledger import LedgerWarning
from carbonsink.config import Epoch
from carbonsink.errors import ConfigError, InputError
from carbonsink.i18n import gettext as _
from carbonsink.io.writers import write_csv, write_layer_cog
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.outputs import OutputFolder

if TYPE_CHECKING:
    from carbonsink.soil.block_variance import BlockEstimate
    from carbonsink.soil.method_calibration import MethodCalibration
    from carbonsink.soil.soc_cross_validation import SocCrossValidation
    from carbonsink.soil.stratum_blocks import StratumBlocks
    from carbonsink.spatial.variogram import VariogramModel

__all__ = [
    "SoilMap",
    "epoch_core_stocks",
    "epoch_soc_map",
    "epoch_soil_map",
    "method_calibration",
    "soc_block",
    "soc_column",
    "soc_strata",
    "soil_gap_warnings",
    "write_core_stocks",
    "write_soil_map",
]


def soc_column(depth_cm: float) -> str:
    """The core-stock and map column of a depth: ``soc_0_30_mg_ha``."""
    from carbonsink.soil.core_stocks import depth_label

    return f"soc_0_{depth_label(depth_cm)}_mg_ha"


def method_calibration(ctx: RunContext) -> MethodCalibration | None:
    """The lab-method bias measured on ``[soil] method_pairs`` (eq. 3.3b); ``None`` without.

    The reference method is the first epoch's (its soil table's ``method``
    column, one method); the prior SD is ``[soil] method_bias_sd_pct``.

    Raises
    ------
    InputError
        The first epoch's soil table names no single method, or the pairs
        table's problems (:func:`~carbonsink.soil.method_calibration.calibrate_methods`).
    """
    from carbonsink.io.tables import read_table
    from carbonsink.schemas import TABLE_SCHEMAS
    from carbonsink.soil.method_calibration import calibrate_methods

    section = ctx.survey.soil
    entry = section.method_pairs
    if entry is None:
        return None
    first = ctx.epochs[0]
    table = ctx.points(first.soil) if first.soil is not None else None
    methods = (
        sorted({str(m).strip().lower() for m in table["method"].dropna()})
        if table is not None and "method" in table
        else []
    )
    if len(methods) != 1:
        raise InputError(
            f"[soil] method_pairs calibrates a lab method against the first epoch's, but epoch "
            f"{first.name!r}'s soil table names {len(methods)} method(s)"
            + (f" ({', '.join(methods)})" if methods else ""),
            path=str(first.soil.path) if first.soil is not None else None,
            fix="give the first epoch's soil table a method column with its one organic-carbon "
            "method (e.g. CHN)",
        )
    pairs = read_table(
        entry.path,
        text_columns=TABLE_SCHEMAS["method_pairs"].text_columns(),
        kind="method_pairs",
        **entry.read_options(),
    )
    return calibrate_methods(
        pairs,
        reference=methods[0],
        prior_sd=section.method_bias_sd_pct / 100.0,
        om_to_oc=section.om_to_oc,
        path=(
            entry.path.relative_to(ctx.survey.root).as_posix()
            if entry.path.is_relative_to(ctx.survey.root)
            else str(entry.path)
        ),
    )


def epoch_core_stocks(
    ctx: RunContext,
    epoch: Epoch,
    *,
    reference_mass_mg_ha: Mapping[float, float] | None = None,
    years_since_first: float | None = None,
) -> pd.DataFrame:
    """Core stocks of the epoch's soil table, with x/y in the survey CRS.

    The survey's ``[soil]`` section sets the depths, the OM -> OC conversion
    and the depth harmonisation; with reference masses, the stocks at
    equivalent soil mass too (see :func:`carbonsink.soil.core_stocks`). With
    ``[soil] method_pairs``, the OC of the layers measured by the calibrated
    method is corrected by its measured bias (:func:`method_calibration`).
    """
    from carbonsink.soil.core_stocks import core_stocks

    if epoch.soil is None:
        raise ConfigError(
            f"epoch {epoch.name!r} has no soil table",
            fix='add soil = { path = "soil.csv", crs = "EPSG:4326" } to the epoch',
        )
    layers = ctx.points(epoch.soil)
    section = ctx.survey.soil
    calibration = method_calibration(ctx)
    return core_stocks(
        layers,
        depths_cm=tuple(section.depths_cm),
        om_to_oc=section.om_to_oc,
        interpolation=section.interpolation,
        spline_lambda=section.spline_lambda,
        path=str(epoch.soil.path),
        reference_mass_mg_ha=reference_mass_mg_ha,
        years_since_first=years_since_first,
        bulk_density_gaps=section.bulk_density_gaps,
        incomplete_cores=section.incomplete_cores,
        oc_factors=None if calibration is None else {calibration.method: calibration.factor},
    )


def write_core_stocks(stocks: pd.DataFrame, folder: OutputFolder, *, epoch: str) -> Path:
    """The core-stocks table of an epoch (CSV, 10 significant digits).

    Cores the survey's ``[soil] incomplete_cores = "exclude"`` left out follow
    the counted ones, with blank stocks and the reason in ``excluded``.
    """
    table = stocks.copy()
    excluded = pd.DataFrame(stocks.attrs.get("excluded_cores", []))
    if not excluded.empty:
        table["excluded"] = ""
        rows = excluded.set_index("core_id")
        left_out = pd.DataFrame(
            {"excluded": [f"{r.reason} ({r.lines})" for r in rows.itertuples(index=False)]},
            index=rows.index,
        )
        table = pd.concat([table, left_out])
        table.index.name = "core_id"
    return write_csv(
        table, folder.path("table_core_stocks", epoch=epoch), index=True, float_format="%.10g"
    )


def _listed(items: Sequence[str], limit: int = 6) -> str:
    more = _("; and {n} more").format(n=len(items) - limit) if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


def soil_gap_warnings(stocks: pd.DataFrame, *, epoch: str, path: str) -> list[LedgerWarning]:
    """Ledger warnings for the repairs of an epoch's soil table (docs/methodology.md §3.1a).

    ``soil-bd-estimated``: bulk densities estimated from organic matter (how
    many, the model and its error); ``soil-rows-dropped``: rows without depth
    or carbon value left out; ``soil-cores-excluded``: cores left out, each
    with its reason; ``soil-replicates``: intervals averaged from several rows.
    """
    gaps = stocks.attrs.get("layer_gaps", {})
    where = _("epoch {epoch} soil table {path}").format(epoch=epoch, path=path)
    out = []
    filled = int(gaps.get("bd_filled_layers", 0))
    if filled:
        cores = stocks.index[stocks["bd_filled_layers"].to_numpy() > 0]
        out.append(
            LedgerWarning(
                "soil-bd-estimated",
                _(
                    "{n} layer(s) of {cores} core(s) have no measured bulk density; it is "
                    "estimated from their organic matter ({model}) and its error enters the "
                    "cores' stock SE; the cores carry bd_filled_layers"
                ).format(n=filled, cores=len(cores), model=gaps["bulk_density_model"]),
                where=where,
            )
        )
    dropped = pd.DataFrame(gaps.get("dropped", []), columns=["core_id", "line", "reason"])
    if not dropped.empty:
        reasons = [
            _("{reason}: {rows} row(s) of {cores} core(s)").format(
                reason=_(str(reason)), rows=len(group), cores=group["core_id"].nunique()
            )
            for reason, group in dropped.groupby("reason", sort=True)
        ]
        out.append(
            LedgerWarning(
                "soil-rows-dropped",
                _(
                    "{n} row(s) are left out ({reasons}); the depths they covered are filled "
                    "like any gap between layers (has_gap)"
                ).format(n=len(dropped), reasons="; ".join(reasons)),
                where=where,
            )
        )
    excluded = stocks.attrs.get("excluded_cores", [])
    if excluded:
        out.append(
            LedgerWarning(
                "soil-cores-excluded",
                _("{n} core(s) are left out of the soil stocks: {cores}").format(
                    n=len(excluded),
                    cores=_listed([f"{e['core_id']} — {_(e['reason'])}" for e in excluded]),
                ),
                where=where,
            )
        )
    merged = int(gaps.get("replicate_layers", 0))
    if merged:
        out.append(
            LedgerWarning(
                "soil-replicates",
                _(
                    "{n} interval(s) are given on several rows ({rows} rows): averaged, the "
                    "standard error of their mean taken as the interval's measurement error"
                ).format(n=merged, rows=gaps["replicate_rows"]),
                where=where,
            )
        )
    return out


def _cores(stocks: pd.DataFrame, depth_cm: float) -> tuple[Any, Any, Any, Any]:
    column = soc_column(depth_cm)
    return (
        stocks["x"].to_numpy(),
        stocks["y"].to_numpy(),
        stocks[column].to_numpy(),
        stocks[column.replace("_mg_ha", "_se_mg_ha")].to_numpy(),
    )


def epoch_soc_map(
    ctx: RunContext,
    stocks: pd.DataFrame,
    *,
    depth_cm: float,
    covariates: xr.Dataset | None = None,
) -> xr.Dataset:
    """SOC stock map (0–``depth_cm``) with its variance and interval from core stocks.

    Regression kriging on ``covariates`` (e.g. the composite's NDVI and MNDWI)
    or ordinary kriging, as the survey's ``[soil] prediction`` says; cells
    outside the project boundary are NaN.
    """
    from carbonsink.soil.soc_map import predict_soc

    x, y, values, se = _cores(stocks, depth_cm)
    method = ctx.survey.soil.prediction
    return predict_soc(
        x,
        y,
        values,
        ctx.grid,
        covariates=covariates if method == "regression-kriging" else None,
        method=method,
        mask=ctx.inside.values,
        name=soc_column(depth_cm),
        value_se=se,
        executor=ctx.executor,
    )


def soc_variogram(soc_map: xr.Dataset) -> VariogramModel:
    """The variogram an SOC map was made with (its attributes)."""
    from carbonsink.spatial.variogram import VariogramModel

    attrs = soc_map.attrs
    return VariogramModel(
        model=attrs["variogram_model"],
        nugget=float(attrs["variogram_nugget"]),
        psill=float(attrs["variogram_partial_sill"]),
        range_m=float(attrs["variogram_range_m"]),
    )


def soc_block(
    ctx: RunContext, stocks: pd.DataFrame, soc_map: xr.Dataset, *, depth_cm: float
) -> BlockEstimate:
    """Block kriging of the survey's mean SOC stock and total, with the map's variogram."""
    from carbonsink.soil.block_variance import areal_mean_variance

    x, y, values, se = _cores(stocks, depth_cm)
    return areal_mean_variance(
        x,
        y,
        values,
        ctx.grid,
        variogram_model=soc_variogram(soc_map),
        mask=ctx.inside.values,
        value_se=se,
    )


def soc_strata(
    ctx: RunContext,
    epochs: Sequence[tuple[pd.DataFrame, xr.Dataset]],
    strata_map: npt.NDArray[np.integer],
    *,
    depth_cm: float,
) -> StratumBlocks:
    """Each stratum's mean SOC at each epoch from its own cores, with the joint covariance.

    Parameters
    ----------
    ctx
        The run (grid, boundary, legend).
    epochs
        Core stocks and SOC map (its variogram is the fallback) of each epoch.
    strata_map
        ``(y, x)`` stratum codes (the last epoch's land cover).
    depth_cm
        Soil depth.

    See :func:`carbonsink.soil.stratum_blocks.stratum_blocks`.
    """
    from carbonsink.soil.stratum_blocks import CoreSet, stratum_blocks

    legend = ctx.survey.vegetation.by_code()
    cores = []
    for stocks, _map in epochs:
        x, y, values, se = _cores(stocks, depth_cm)
        cores.append(CoreSet(x=x, y=y, values=values, se=se))
    return stratum_blocks(
        cores,
        ctx.grid,
        strata_map,
        {legend[c]: c for c in sorted(legend)},
        variograms=[soc_variogram(layers) for _, layers in epochs],
        mask=ctx.inside.values.astype(bool),
        stratum_scales=True,
    )


@dataclass(frozen=True)
class SoilMap:
    """The SOC map of one epoch and depth, with its leave-one-out validation.

    Attributes
    ----------
    stocks
        The epoch's core stocks.
    layers
        The map, its variance and interval (:func:`epoch_soc_map`).
    cv
        Leave-one-out CV of the same procedure at the cores.
    total_t_c
        The map's total over the project, t C (true cell areas).
    """

    stocks: pd.DataFrame
    layers: xr.Dataset
    cv: SocCrossValidation
    total_t_c: float


def epoch_soil_map(ctx: RunContext, epoch: Epoch, *, depth_cm: float) -> SoilMap:
    """Core stocks, SOC map and its leave-one-out CV of an epoch at one depth.

    Regression kriging takes the epoch composite's NDVI and MNDWI as covariates.

    Raises
    ------
    ConfigError
        ``depth_cm`` is not one of the survey's ``[soil] depths_cm``.
    """
    from carbonsink.accounting.stocks import map_total
    from carbonsink.imagery.indices import compute_index
    from carbonsink.pipeline.stages.imagery import epoch_composite

    if depth_cm not in ctx.survey.soil.depths_cm:
        raise ConfigError(
            f"depth {depth_cm:g} cm is not one of the survey's depths_cm "
            f"{ctx.survey.soil.depths_cm}",
            where="[soil].depths_cm",
            fix=f"use one of {ctx.survey.soil.depths_cm} or add {depth_cm:g} to depths_cm",
        )
    ctx.report("core stocks", 0, 4)
    stocks = epoch_core_stocks(ctx, epoch)
    covariates = None
    if ctx.survey.soil.prediction == "regression-kriging":
        ctx.report("composite covariates", 1, 4)
        reflectance = epoch_composite(ctx, epoch).compute()["reflectance"]
        covariates = xr.Dataset(
            {name: compute_index(name, reflectance) for name in ("ndvi", "mndwi")}
        )
    ctx.report("kriging", 2, 4)
    layers = epoch_soc_map(ctx, stocks, depth_cm=depth_cm, covariates=covariates)
    ctx.report("cross-validation", 3, 4)
    cv = soc_map_cv(ctx, stocks, layers, depth_cm=depth_cm, covariates=covariates)
    ctx.report("SOC map made", 4, 4)
    total = map_total(layers[soc_column(depth_cm)].values, ctx.cell_area_ha.values)
    return SoilMap(stocks=stocks, layers=layers, cv=cv, total_t_c=total)


def soc_map_cv(
    ctx: RunContext,
    stocks: pd.DataFrame,
    soc_map: xr.Dataset,
    *,
    depth_cm: float,
    covariates: xr.Dataset | None = None,
) -> SocCrossValidation:
    """Leave-one-out cross-validation of an SOC map at one depth.

    Each core is predicted from the others with the map's procedure (the
    survey's ``[soil] prediction``; regression kriging takes ``covariates`` at
    the cores and refits its trend in each fold) and the map's variogram held
    fixed, as gstat's ``krige.cv`` does, and each core's standard error as the
    map takes it: the CV scores the map as made, and 80 cores take 0.3 s instead
    of 4 s of variogram refits.
    """
    from carbonsink.soil.regression import sample_covariates
    from carbonsink.soil.soc_cross_validation import cross_validate_soc

    method = ctx.survey.soil.prediction
    at_points = (
        sample_covariates(covariates, ctx.grid, stocks["x"], stocks["y"])
        if covariates is not None and method == "regression-kriging"
        else None
    )
    x, y, values, se = _cores(stocks, depth_cm)
    return cross_validate_soc(
        x,
        y,
        values,
        covariates_at_points=at_points,
        method=method,
        variogram_model=soc_variogram(soc_map),
        value_se=se,  # each core's standard error, as the map takes it
    )


def write_soil_map(result: SoilMap, folder: OutputFolder, *, epoch: str) -> list[Path]:
    """The SOC map layers (COGs) and the CV predictions table."""
    written = [
        write_layer_cog(result.layers[name], folder.path("layer", layer=str(name)))
        for name in result.layers.data_vars
    ]
    written.append(
        write_csv(result.cv.predictions, folder.path("table_soc_cv", epoch=epoch), index=True)
    )
    return written
