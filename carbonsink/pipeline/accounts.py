"""Wiring of the accounting: stage results of every epoch → ledger inputs → ledger files.

The per-epoch stages (:mod:`carbonsink.pipeline.stages`) give the cube, the
biomass maps and models, the core stocks and the SOC map. This module adds what
the ledger's Monte Carlo needs from them — the spatial-block bootstrap of the
AGB totals on the change strata, the block-kriging SE of the SOC total, the
area-adjusted class areas — and the warnings that matter to the claim, then
calls :func:`carbonsink.accounting.ledger.build_ledger` and writes the ledger.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from carbonsink.accounting.ledger import EpochInputs, Ledger, LedgerWarning, build_ledger
from carbonsink.accounting.non_co2 import ch4_sensitivity
from carbonsink.accounting.parameters import class_parameters, survey_class_flux
from carbonsink.accounting.profiles import MethodologyProfile, load_profile
from carbonsink.config import Epoch, Survey
from carbonsink.errors import InputError
from carbonsink.grid import Grid
from carbonsink.io.vectors import boundary_fingerprint
from carbonsink.io.writers import write_csv, write_json
from carbonsink.pipeline.stages import (
    EpochBiomass,
    EpochCube,
    ProgressCallback,
    epoch_biomass,
    epoch_core_stocks,
    epoch_cube,
    epoch_soc_map,
    survey_grid,
    survey_inside,
)

if TYPE_CHECKING:
    from carbonsink.biomass.bootstrap import AgbBootstrap
    from carbonsink.soil.block_variance import BlockChange, BlockEstimate
    from carbonsink.soil.kriging import VariogramModel

__all__ = [
    "EpochResults",
    "account_survey",
    "epoch_ledger_inputs",
    "epoch_results",
    "ledger_warnings",
    "soc_change",
    "survey_ledger",
    "survey_profile",
    "write_ledger",
]

logger = logging.getLogger(__name__)

#: Change strata × class at an epoch are coded as stratum × _KEY_BASE + class.
_KEY_BASE = 256


@dataclass(frozen=True)
class EpochResults:
    """Everything the stages computed for one epoch that the accounting uses.

    Attributes
    ----------
    epoch
        The survey's epoch.
    grid
        The analysis grid.
    cube, biomass
        The epoch cube and biomass stage.
    core_stocks
        Core stocks at every ``[soil] depths_cm`` (survey CRS x/y).
    soc_maps
        Depth (cm) → SOC map with variance (:func:`epoch_soc_map`).
    soc_blocks
        Depth (cm) → block-kriging estimate of the survey's SOC total.
    """

    epoch: Epoch
    grid: Grid
    cube: EpochCube
    biomass: EpochBiomass
    core_stocks: pd.DataFrame
    soc_maps: dict[float, xr.Dataset]
    soc_blocks: dict[float, BlockEstimate]


def survey_profile(survey: Survey) -> MethodologyProfile:
    """The survey's methodology profile with its ``[accounting]`` overrides."""
    section = survey.accounting
    relative_to = survey.source.parent if survey.source is not None else None
    return load_profile(section.profile, overrides=section, relative_to=relative_to)


def _soc_block(
    survey: Survey, grid: Grid, stocks: pd.DataFrame, soc_map: xr.Dataset, depth_cm: float
) -> BlockEstimate:
    from carbonsink.soil.block_variance import areal_mean_variance
    from carbonsink.soil.profiles import depth_label

    column = f"soc_0_{depth_label(depth_cm)}_mg_ha"
    variogram = _variogram(soc_map)
    return areal_mean_variance(
        stocks["x"].to_numpy(),
        stocks["y"].to_numpy(),
        stocks[column].to_numpy(),
        grid,
        variogram_model=variogram,
        mask=survey_inside(survey, grid).values,
        value_se=stocks[column.replace("_mg_ha", "_se_mg_ha")].to_numpy(),
    )


def _variogram(soc_map: xr.Dataset) -> VariogramModel:
    from carbonsink.soil.kriging import VariogramModel

    attrs = soc_map.attrs
    return VariogramModel(
        model=attrs["variogram_model"],
        nugget=float(attrs["variogram_nugget"]),
        psill=float(attrs["variogram_partial_sill"]),
        range_m=float(attrs["variogram_range_m"]),
    )


def soc_change(
    survey: Survey, first: EpochResults, last: EpochResults, *, depth_cm: float
) -> BlockChange:
    """Block kriging of two epochs' SOC means with the correlation of their errors.

    See :func:`carbonsink.soil.block_variance.block_change`.
    """
    from carbonsink.soil.block_variance import block_change
    from carbonsink.soil.profiles import depth_label

    column = f"soc_0_{depth_label(depth_cm)}_mg_ha"

    def cores(result: EpochResults) -> tuple[Any, Any, Any, Any]:
        stocks = result.core_stocks
        return (
            stocks["x"].to_numpy(),
            stocks["y"].to_numpy(),
            stocks[column].to_numpy(),
            stocks[column.replace("_mg_ha", "_se_mg_ha")].to_numpy(),
        )

    grid = first.grid
    return block_change(
        cores(first),
        cores(last),
        grid,
        variograms=(_variogram(first.soc_maps[depth_cm]), _variogram(last.soc_maps[depth_cm])),
        mask=survey_inside(survey, grid).values,
    )


def epoch_results(
    survey: Survey,
    epoch: Epoch,
    grid: Grid,
    *,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
) -> EpochResults:
    """Run the per-epoch stages: cube, biomass, core stocks, SOC maps and their block totals.

    The SOC maps use ordinary kriging for the block total whatever the
    survey's ``[soil] prediction`` (block kriging is defined for it only);
    regression-kriged maps still give the per-pixel layers.
    """
    cube = epoch_cube(survey, epoch, grid, executor=executor, progress=progress)
    biomass = epoch_biomass(survey, epoch, cube)
    stocks = epoch_core_stocks(survey, epoch)
    covariates = cube.cube[["ndvi", "mndwi"]]
    soc_maps: dict[float, xr.Dataset] = {}
    soc_blocks: dict[float, BlockEstimate] = {}
    for depth in survey.soil.depths_cm:
        soc_maps[depth] = epoch_soc_map(survey, grid, stocks, depth_cm=depth, covariates=covariates)
        soc_blocks[depth] = _soc_block(survey, grid, stocks, soc_maps[depth], depth)
    return EpochResults(
        epoch=epoch,
        grid=grid,
        cube=cube,
        biomass=biomass,
        core_stocks=stocks,
        soc_maps=soc_maps,
        soc_blocks=soc_blocks,
    )


def _keys_layer(
    strata: npt.NDArray[np.integer], classes: npt.NDArray[np.integer]
) -> npt.NDArray[np.int64]:
    return strata.astype(np.int64) * _KEY_BASE + classes.astype(np.int64)


def _agb_bootstraps(
    survey: Survey,
    result: EpochResults,
    keys: npt.NDArray[np.int64],
    *,
    executor: Executor | None,
) -> list[AgbBootstrap]:
    from carbonsink.biomass.agb_map import MODEL_SOURCE_CODES
    from carbonsink.biomass.bootstrap import bootstrap_agb_totals

    cube = result.cube.cube
    source = result.biomass.layers["agb_model"].values
    inside = cube["inside_boundary"].values.astype(bool)
    out = []
    for model in result.biomass.models:
        cells = inside & (source == MODEL_SOURCE_CODES.get(model.name, 2))
        if not cells.any():
            continue
        out.append(
            bootstrap_agb_totals(
                cube,
                model.plots.table,
                features=model.features,
                estimator_name=model.estimator_name,
                n_estimators=survey.biomass.bootstrap_trees,
                block_m=model.cv.block_m,
                replicates=survey.biomass.bootstrap_replicates,
                seed=survey.survey.seed,
                strata=keys,
                cell_area_ha=cube["cell_area_ha"].values,
                cells=cells,
                executor=executor,
            )
        )
    return out


def epoch_ledger_inputs(
    survey: Survey,
    result: EpochResults,
    strata_map: npt.NDArray[np.integer],
    *,
    soil_depth_cm: float,
    executor: Executor | None = None,
) -> EpochInputs:
    """One epoch's aggregates on the change strata, with the AGB bootstrap.

    Parameters
    ----------
    survey
        The survey (legend, bootstrap settings, seed).
    result
        The epoch's stage results.
    strata_map
        ``(y, x)`` class codes of the change strata (the last epoch's land cover).
    soil_depth_cm
        SOC depth the profile counts.
    executor
        Runs the bootstrap replicates in parallel (results do not depend on it).
    """
    legend = survey.vegetation.by_code()
    cube = result.cube.cube
    area = cube["cell_area_ha"].values.astype(np.float64)
    inside = cube["inside_boundary"].values.astype(bool)
    classes = cube["landcover"].values
    keys = _keys_layer(strata_map, classes)
    agb = result.biomass.layers["agb_mg_ha"].values.astype(np.float64)
    source = result.biomass.layers["agb_model"].values
    boots = _agb_bootstraps(survey, result, keys, executor=executor)
    modelled = inside & np.isin(source, (1, 2))
    codes = sorted({int(k) for k in np.unique(keys[modelled])})
    key_names = []
    for code in codes:
        stratum, cls = legend.get(code // _KEY_BASE), legend.get(code % _KEY_BASE)
        if stratum is None or cls is None:
            raise InputError(
                f"class code {code // _KEY_BASE} or {code % _KEY_BASE} is not in the legend",
                where=f"epoch {result.epoch.name!r} land cover",
                fix="give every class of the land-cover samples a [vegetation.classes] entry",
            )
        key_names.append((stratum, cls))
    point = np.array(
        [float((agb * area)[modelled & (keys == code)].sum()) for code in codes], dtype=np.float64
    )
    replicates = np.zeros((survey.biomass.bootstrap_replicates, len(codes)))
    for boot in boots:
        frame = boot.stratum_totals_t_dm
        for j, code in enumerate(codes):
            if code in frame.columns:
                replicates[:, j] += frame[code].to_numpy(dtype=np.float64)
    from carbonsink.soil.profiles import depth_label

    soc_layer = result.soc_maps[soil_depth_cm][f"soc_0_{depth_label(soil_depth_cm)}_mg_ha"].values
    block = result.soc_blocks[soil_depth_cm]
    strata_names = tuple(legend[c] for c in sorted(legend))
    soc_t_c = {}
    stratum_area = {}
    for code in sorted(legend):
        cells = inside & (strata_map == code)
        valid = cells & np.isfinite(soc_layer)
        soc_t_c[legend[code]] = float((soc_layer[valid] * area[valid]).sum())
        stratum_area[legend[code]] = float(area[cells].sum())
    # The map's total is the estimate; the block-kriging SE is scaled to it.
    table = result.cube.landcover.areas.table
    class_area = {
        str(name): (float(row["adjusted_area_ha"]), float(row["se_ha"]))
        for name, row in table.iterrows()
    }
    return EpochInputs(
        name=result.epoch.name,
        date=result.epoch.date,
        strata=strata_names,
        stratum_area_ha=stratum_area,
        agb_keys=tuple(key_names),
        agb_t_dm=point,
        agb_replicates_t_dm=replicates,
        soc_t_c=soc_t_c,
        soc_se_t_c=float(block.total_se_t_c),
        class_area_ha=class_area,
    )


def ledger_warnings(
    survey: Survey, results: Sequence[EpochResults], *, soil_depth_cm: float
) -> list[LedgerWarning]:
    """Warnings of the stages that matter to the claim (DESIGN.md §7).

    Cells outside every biomass model's area of applicability (predicted by
    the imagery model and counted), cells no model predicts, cores shallower
    than the counted soil depth (extrapolated), and a SOC change below the
    minimum detectable difference of the core sample (METHODOLOGY.md §3).
    """
    from carbonsink.soil.esm import check_detectable
    from carbonsink.soil.profiles import depth_label

    label = depth_label(soil_depth_cm)
    out: list[LedgerWarning] = []
    for result in results:
        name = result.epoch.name
        layers = result.biomass.layers
        cube = result.cube.cube
        inside = cube["inside_boundary"].values.astype(bool)
        area = cube["cell_area_ha"].values
        agb = np.nan_to_num(layers["agb_mg_ha"].values.astype(np.float64))
        outside = layers["agb_outside_aoa"].values.astype(bool) & inside
        if outside.any():
            share = float((agb * area)[outside].sum() / max((agb * area)[inside].sum(), 1e-12))
            out.append(
                LedgerWarning(
                    "outside-aoa",
                    f"{int(outside.sum()):,} cells ({float(area[outside].sum()):,.1f} ha, "
                    f"{share:.0%} of the mapped AGB) are outside the area of applicability of "
                    "every biomass model (Meyer & Pebesma 2021); the imagery model predicts "
                    "them and they are counted, flagged in agb_outside_aoa",
                    where=f"epoch {name}",
                )
            )
        unpredicted = inside & (layers["agb_model"].values == 0)
        if unpredicted.any():
            out.append(
                LedgerWarning(
                    "agb-unmapped",
                    f"{int(unpredicted.sum()):,} cells ({float(area[unpredicted].sum()):,.1f} ha) "
                    "inside the project have no AGB prediction and add nothing to the stocks",
                    where=f"epoch {name}",
                )
            )
        flag = f"extrapolated_0_{label}"
        if flag in result.core_stocks:
            extrapolated = result.core_stocks.index[result.core_stocks[flag].astype(bool)]
            if len(extrapolated):
                shown = ", ".join(map(str, extrapolated[:8])) + (
                    ", ..." if len(extrapolated) > 8 else ""
                )
                out.append(
                    LedgerWarning(
                        "extrapolated-cores",
                        f"{len(extrapolated)} of {len(result.core_stocks)} cores are shallower "
                        f"than {label} cm; their 0–{label} cm stock is extrapolated below the "
                        f"deepest layer ({shown})",
                        where=f"epoch {name} soil cores",
                    )
                )
    if len(results) >= 2:
        first, last = results[0], results[-1]
        column = f"soc_0_{label}_mg_ha"
        a = first.core_stocks[column].to_numpy(dtype=np.float64)
        b = last.core_stocks[column].to_numpy(dtype=np.float64)
        pooled_sd = float(np.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2.0))
        delta = (
            last.soc_blocks[soil_depth_cm].mean_mg_ha - first.soc_blocks[soil_depth_cm].mean_mg_ha
        )
        check = check_detectable(delta, pooled_sd, min(len(a), len(b)), alpha=0.10)
        if check.warning is not None:
            out.append(
                LedgerWarning(
                    "below-mdd",
                    check.warning + "; the SOC sink rests on the kriged totals, not on a "
                    "detectable difference of the core means",
                    where=f"SOC 0–{label} cm, {first.epoch.name} → {last.epoch.name}",
                )
            )
    return out


def survey_ledger(
    survey: Survey,
    results: Sequence[EpochResults],
    *,
    seed: int | None = None,
    executor: Executor | None = None,
    inputs: Sequence[EpochInputs] | None = None,
) -> Ledger:
    """The survey's ledger from its epochs' stage results (earliest first).

    Parameters
    ----------
    survey
        The survey (legend, profile, price, baseline, draws).
    results
        :func:`epoch_results` of each epoch, in date order.
    seed
        Monte Carlo seed (default the survey's seed).
    executor
        Runs the AGB bootstrap replicates in parallel.
    inputs
        The epochs' :func:`epoch_ledger_inputs`, when already computed (e.g.
        from a run's cache); computed here otherwise.
    """
    profile = survey_profile(survey)
    depth = float(profile.soil_depth_cm)
    missing = [r.epoch.name for r in results if depth not in r.soc_maps]
    if missing:
        raise InputError(
            f"the {profile.name} profile counts soil to {depth:g} cm but epochs "
            f"{', '.join(missing)} have no SOC map at that depth",
            where="[soil].depths_cm",
            fix=f"add {depth:g} to [soil] depths_cm",
        )
    if inputs is None:
        strata_map = results[-1].cube.cube["landcover"].values
        inputs = [
            epoch_ledger_inputs(survey, r, strata_map, soil_depth_cm=depth, executor=executor)
            for r in results
        ]
    inputs = list(inputs)
    rho = 0.0
    if len(results) > 1:
        change = soc_change(survey, results[0], results[-1], depth_cm=depth)
        rho = change.error_correlation
        area = change.first.block_area_ha
        inputs[0] = dataclasses.replace(inputs[0], soc_se_t_c=change.first.se * area)
        inputs[-1] = dataclasses.replace(inputs[-1], soc_se_t_c=change.second.se * area)
    section = survey.survey
    polygon = boundary_fingerprint(section.boundary, crs=section.boundary_crs)
    inside = results[-1].cube.cube["inside_boundary"].values.astype(bool)
    polygon["area_ha"] = float(results[-1].cube.cube["cell_area_ha"].values[inside].sum())
    ledger = build_ledger(
        inputs,
        class_parameters(survey.vegetation.classes, profile),
        profile=profile,
        seed=survey.survey.seed if seed is None else seed,
        n_draws=survey.accounting.mc_draws,
        baseline_t_co2e_yr=survey.accounting.baseline_removals_t_co2e_yr,
        price_per_t=survey.accounting.price_cny_per_t,
        currency="CNY",
        warnings=ledger_warnings(survey, results, soil_depth_cm=depth),
        polygon=polygon,
        soc_error_correlation=rho,
    )
    if ledger.single_epoch:
        return ledger
    fluxes = {
        name: survey_class_flux(name, params, profile)
        for name, params in survey.vegetation.classes.items()
    }
    areas = {c: a for c, (a, _) in inputs[-1].class_area_ha.items() if c in fluxes}
    sensitivity = ch4_sensitivity(
        ledger.chains["total"].removals.mean, areas, fluxes, gwp=profile.gwp
    )
    return dataclasses.replace(
        ledger, extra={**ledger.extra, "ch4_sensitivity": sensitivity.to_dict()}
    )


def write_ledger(ledger: Ledger, out_dir: Path) -> list[Path]:
    """Write ``ledger.json`` and ``tables/ledger_strata.csv``, ``tables/ledger_vintages.csv``."""
    out_dir = Path(out_dir)
    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    paths = [write_json(ledger.to_dict(), out_dir / "ledger.json")]
    paths.append(write_csv(ledger.strata.reset_index(), out_dir / "tables" / "ledger_strata.csv"))
    if not ledger.vintages.empty:
        paths.append(write_csv(ledger.vintages, out_dir / "tables" / "ledger_vintages.csv"))
    sensitivity = ledger.extra.get("ch4_sensitivity")
    if sensitivity is not None:
        paths.append(
            write_csv(
                pd.DataFrame(sensitivity["table"]), out_dir / "tables" / "ch4_sensitivity.csv"
            )
        )
    return paths


def account_survey(
    survey: Survey,
    *,
    seed: int | None = None,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[list[EpochResults], Ledger]:
    """Run every epoch's stages and the accounting of a survey.

    Returns
    -------
    (list of EpochResults, Ledger)
    """
    grid = survey_grid(survey)
    epochs = sorted(survey.epochs, key=lambda e: e.date)
    results = []
    for i, epoch in enumerate(epochs):
        if progress is not None:
            progress(f"epoch {epoch.name}", i, len(epochs))
        results.append(epoch_results(survey, epoch, grid, executor=executor, progress=progress))
    if progress is not None:
        progress("accounting", len(epochs), len(epochs))
    return results, survey_ledger(survey, results, seed=seed, executor=executor)
