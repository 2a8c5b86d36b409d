"""Wiring of the stages for a survey (DESIGN.md §1): the grid, the LiDAR products, ...

Only this module and :mod:`carbonsink.cli` combine the survey file with the
stages; the stages themselves never parse the survey.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from carbonsink.config import Epoch, Survey
from carbonsink.errors import ConfigError, InputError
from carbonsink.grid import Grid
from carbonsink.io.vectors import read_boundary
from carbonsink.io.writers import (
    write_csv,
    write_json,
    write_layer_cog,
    write_layer_cogs,
    write_netcdf,
)

if TYPE_CHECKING:
    from carbonsink.biomass.agb_map import BiomassPredictor, FittedBiomassModel
    from carbonsink.imagery.landcover import LandCover
    from carbonsink.imagery.scenes import Scene
    from carbonsink.lidar.processing import LidarResult

__all__ = [
    "IMAGERY_FEATURE_INDICES",
    "LIDAR_FEATURES",
    "EpochBiomass",
    "EpochCube",
    "epoch_biomass",
    "epoch_composite",
    "epoch_core_stocks",
    "epoch_cube",
    "epoch_landcover",
    "epoch_plots",
    "epoch_scenes",
    "epoch_soc_map",
    "find_epoch",
    "load_biomass_models",
    "local_executor",
    "map_biomass",
    "save_biomass_models",
    "survey_grid",
    "survey_inside",
    "write_biomass_products",
    "write_index_layers",
    "write_landcover_products",
    "write_lidar_products",
]

#: Progress callback: ``(what, done, total)``.
ProgressCallback = Callable[[str, int, int], None]

logger = logging.getLogger(__name__)


def survey_grid(survey: Survey) -> Grid:
    """The analysis grid of a survey: its boundary, in its CRS, at its resolution."""
    section = survey.survey
    boundary = read_boundary(section.boundary, target_crs=survey.crs, crs=section.boundary_crs)
    return Grid.from_boundary(boundary, crs=survey.crs, resolution=section.resolution)


def survey_inside(survey: Survey, grid: Grid) -> xr.DataArray:
    """Boolean ``(y, x)`` mask of the cells whose centre is inside the project boundary."""
    section = survey.survey
    boundary = read_boundary(section.boundary, target_crs=survey.crs, crs=section.boundary_crs)
    return grid.dataarray(
        grid.boundary_mask(boundary),
        name="inside_boundary",
        units="1",
        long_name="cell centre inside the project boundary",
    )


def find_epoch(survey: Survey, name: str | None) -> Epoch:
    """The epoch called ``name`` (the only one when ``name`` is ``None``)."""
    names = [e.name for e in survey.epochs]
    if name is None:
        if len(survey.epochs) == 1:
            return survey.epochs[0]
        raise ConfigError(
            f"the survey has {len(names)} epochs ({', '.join(names)})",
            fix="choose one with --epoch",
        )
    for epoch in survey.epochs:
        if epoch.name == name:
            return epoch
    raise ConfigError(f"no epoch {name!r} in the survey", fix=f"use one of {', '.join(names)}")


def epoch_scenes(
    epoch: Epoch, grid: Grid, *, chunks: int | None = None, bands: Sequence[str] | None = None
) -> list[Scene]:
    """Every image of an epoch read onto the grid (see :func:`~carbonsink.imagery.read_scene`)."""
    from carbonsink.imagery.scenes import read_scene

    if not epoch.imagery:
        raise ConfigError(
            f"epoch {epoch.name!r} lists no imagery",
            fix='add imagery = [{ path = "...", sensor = "sentinel-2-l2a" }] to the epoch',
        )
    return [
        read_scene(
            entry.path,
            grid,
            sensor=entry.sensor,
            band_map=entry.bands,
            bands=bands,
            mtl=entry.mtl,
            crs=entry.crs,
            date=entry.date,
            chunks=chunks,
        )
        for entry in epoch.imagery
    ]


def epoch_composite(
    survey: Survey, epoch: Epoch, grid: Grid, *, chunks: int | None = None
) -> xr.Dataset:
    """The epoch's median composite with its valid-observation count and water layer."""
    from carbonsink.imagery.composite import composite_scenes

    inside = survey_inside(survey, grid)
    return composite_scenes(epoch_scenes(epoch, grid, chunks=chunks), inside=inside)


def epoch_landcover(survey: Survey, epoch: Epoch, grid: Grid, composite: xr.Dataset) -> LandCover:
    """Classify the epoch's composite with its land-cover samples (see ``classify_landcover``)."""
    from carbonsink.imagery.landcover import classify_landcover, landcover_features
    from carbonsink.io.tables import read_point_table

    if epoch.landcover_samples is None:
        raise ConfigError(
            f"epoch {epoch.name!r} has no land-cover samples",
            fix='add landcover_samples = { path = "...csv", crs = "EPSG:..." } to the epoch',
        )
    samples = read_point_table(
        epoch.landcover_samples.path, target_crs=survey.crs, crs=epoch.landcover_samples.crs
    )
    classes = {name: c.code for name, c in survey.vegetation.classes.items()}
    return classify_landcover(
        landcover_features(composite["reflectance"]),
        samples.geometry.x.to_numpy(),
        samples.geometry.y.to_numpy(),
        samples["class"].astype(str).to_numpy(),
        classes=classes,
        cell_area_ha=grid.dataarray(
            grid.cell_area_ha, name="cell_area_ha", units="ha", long_name="true cell area"
        ),
        inside=survey_inside(survey, grid),
        sample_ids=[f"{epoch.landcover_samples.path.name} line {i}" for i in samples.index],
        seed=survey.survey.seed,
    )


def epoch_core_stocks(survey: Survey, epoch: Epoch) -> pd.DataFrame:
    """Core stocks of the epoch's soil table, with x/y in the survey CRS.

    The survey's ``[soil]`` section sets the depths, the OM -> OC conversion
    and the depth harmonisation (see :func:`carbonsink.soil.core_stocks`).
    """
    from carbonsink.io.tables import read_point_table
    from carbonsink.soil.profiles import core_stocks

    if epoch.soil is None:
        raise ConfigError(
            f"epoch {epoch.name!r} has no soil table",
            fix='add soil = { path = "soil.csv", crs = "EPSG:4326" } to the epoch',
        )
    table = read_point_table(epoch.soil.path, target_crs=survey.crs, crs=epoch.soil.crs)
    layers = pd.DataFrame(table.drop(columns=["geometry", "lon", "lat"], errors="ignore"))
    layers["x"] = table.geometry.x.to_numpy()
    layers["y"] = table.geometry.y.to_numpy()
    section = survey.soil
    return core_stocks(
        layers,
        depths_cm=tuple(section.depths_cm),
        om_to_oc=section.om_to_oc,
        interpolation=section.interpolation,
        spline_lambda=section.spline_lambda,
        path=str(epoch.soil.path),
    )


def epoch_soc_map(
    survey: Survey,
    grid: Grid,
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
    from carbonsink.soil.kriging import predict_soc
    from carbonsink.soil.profiles import depth_label

    column = f"soc_0_{depth_label(depth_cm)}_mg_ha"
    method = survey.soil.prediction
    return predict_soc(
        stocks["x"].to_numpy(),
        stocks["y"].to_numpy(),
        stocks[column].to_numpy(),
        grid,
        covariates=covariates if method == "regression-kriging" else None,
        method=method,
        mask=survey_inside(survey, grid).values,
        name=column,
        value_se=stocks[column.replace("_mg_ha", "_se_mg_ha")].to_numpy(),
    )


#: Spectral indices put in the cube (and offered to the biomass model).
IMAGERY_FEATURE_INDICES: tuple[str, ...] = ("ndvi", "evi", "savi", "ndwi", "mndwi", "ndre", "lswi")
#: LiDAR metrics offered to the biomass model where LiDAR covers a cell.
LIDAR_FEATURES: tuple[str, ...] = (
    "h_max",
    "h_mean",
    "h_sd",
    "h_p50",
    "h_p90",
    "h_p95",
    "cover_0p3m",
    "cover_2m",
)


@dataclass(frozen=True)
class EpochCube:
    """The per-pixel layers of one epoch (DESIGN.md §4) and the stage results behind them.

    Attributes
    ----------
    cube
        ``(y, x)`` layers: composite reflectance ``rho_<band>``, spectral
        indices, ``valid_count`` and ``gap_filled``, ``water`` (MNDWI),
        ``landcover`` with ``p_<class>`` probabilities, the LiDAR metrics
        (NaN where LiDAR does not cover a cell), ``inside_boundary`` and
        ``cell_area_ha``.
    landcover
        The land-cover result (accuracy, areas).
    lidar
        The LiDAR result, ``None`` when the epoch has no LiDAR.
    imagery_features, lidar_features
        The cube variables the biomass model may use without and with LiDAR.
    """

    cube: xr.Dataset
    landcover: LandCover
    lidar: LidarResult | None
    imagery_features: tuple[str, ...]
    lidar_features: tuple[str, ...]


def _fill_probabilities(landcover: LandCover, composite: xr.Dataset) -> xr.DataArray:
    """Class probabilities, with the gap-filled cells predicted from their filled spectra."""
    from carbonsink.imagery.landcover import landcover_features

    probabilities = landcover.probabilities.copy()
    gaps = np.asarray(composite["gap_filled"].values, dtype=bool)
    if not gaps.any():
        return probabilities
    features = landcover_features(composite["reflectance"]).transpose("y", "x", "feature")
    rows = np.asarray(features.values)[gaps]
    complete = np.isfinite(rows).all(axis=1)
    model = landcover.model
    order = [list(model.classes_).index(str(c)) for c in probabilities["class"].values]
    values = probabilities.values
    filled = np.full((int(gaps.sum()), len(order)), np.nan, dtype=np.float32)
    if complete.any():
        filled[complete] = model.predict_proba(rows[complete])[:, order]
    values[:, gaps] = filled.T
    return probabilities.copy(data=values)


def epoch_cube(
    survey: Survey,
    epoch: Epoch,
    grid: Grid,
    *,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
) -> EpochCube:
    """Imagery (composite, gap-filled; indices; land cover) and LiDAR layers of an epoch."""
    settings = {(str(entry.crs), entry.ground) for entry in epoch.lidar}
    if len(settings) > 1:
        raise ConfigError(
            f"epoch {epoch.name!r} has LiDAR entries with different crs or ground settings "
            f"({', '.join(f'crs {c}, ground {g}' for c, g in sorted(settings))}); one run of "
            "the LiDAR chain takes one of each",
            where=f"[[epochs]] {epoch.name} lidar",
            fix="give the same crs and ground to every LiDAR entry of the epoch (or merge them)",
        )
    from carbonsink.imagery.composite import fill_composite_gaps
    from carbonsink.imagery.indices import compute_index
    from carbonsink.lidar.processing import LidarOptions, process_lidar

    def step(what: str, done: int) -> None:
        if progress is not None:
            progress(what, done, 4)

    inside = survey_inside(survey, grid)
    step(f"{epoch.name}: composite", 0)
    observed = epoch_composite(survey, epoch, grid).compute()
    step(f"{epoch.name}: land cover", 1)
    # The classifier sees only observed cells (it fills its own gaps, flagged);
    # the gap-filled composite feeds the indices and the biomass features.
    landcover = epoch_landcover(survey, epoch, grid, observed)
    composite = fill_composite_gaps(observed, inside=inside)
    layers: dict[str, xr.DataArray] = {}
    reflectance = composite["reflectance"]
    for band in reflectance["band"].values:
        layers[f"rho_{band}"] = reflectance.sel(band=band, drop=True)
    for name in IMAGERY_FEATURE_INDICES:
        layers[name] = compute_index(name, reflectance)
    for name in ("valid_count", "gap_filled", "water"):
        layers[name] = composite[name]
    layers["landcover"] = landcover.class_map
    probabilities = _fill_probabilities(landcover, composite)
    for name in probabilities["class"].values:
        layers[f"p_{name}"] = probabilities.sel({"class": name}, drop=True)
    imagery_features = tuple(
        [f"rho_{b}" for b in reflectance["band"].values]
        + list(IMAGERY_FEATURE_INDICES)
        + [f"p_{n}" for n in landcover.probabilities["class"].values]
    )
    step(f"{epoch.name}: LiDAR", 2)
    lidar = None
    lidar_features: tuple[str, ...] = ()
    files = [f for entry in epoch.lidar for f in entry.files()]
    if files:
        crs = epoch.lidar[0].crs
        options = LidarOptions(ground=epoch.lidar[0].ground)
        lidar = process_lidar(files, grid, crs=crs, options=options, executor=executor)
        for metric in lidar.metrics.data_vars:
            layers[str(metric)] = lidar.metrics[metric]
        present = [f for f in LIDAR_FEATURES if f in lidar.metrics]
        lidar_features = imagery_features + tuple(present)
    layers["inside_boundary"] = inside
    layers["cell_area_ha"] = grid.dataarray(
        grid.cell_area_ha, name="cell_area_ha", units="ha", long_name="true cell area"
    )
    cube = xr.Dataset(
        {
            name: (("y", "x"), np.asarray(layer.values), dict(layer.attrs))
            for name, layer in layers.items()
        },
        coords=grid.coords(),
        attrs={"epoch": epoch.name, "date": epoch.date.isoformat()},
    )
    step(f"{epoch.name}: cube", 4)
    return EpochCube(
        cube=cube,
        landcover=landcover,
        lidar=lidar,
        imagery_features=imagery_features,
        lidar_features=lidar_features,
    )


#: Fewest plots inside the LiDAR coverage for a LiDAR model to be fitted.
MIN_LIDAR_PLOTS = 15


def epoch_plots(survey: Survey, epoch: Epoch) -> pd.DataFrame:
    """The epoch's biomass plots, validated, with ``x``/``y`` in the survey CRS."""
    from carbonsink.biomass.features import validate_plots
    from carbonsink.io.tables import read_point_table

    if epoch.plots is None:
        raise ConfigError(
            f"epoch {epoch.name!r} has no biomass plots",
            fix='add plots = { path = "plots.csv", crs = "EPSG:4490" } to the epoch',
        )
    table = read_point_table(epoch.plots.path, target_crs=survey.crs, crs=epoch.plots.crs)
    plots = pd.DataFrame(table.drop(columns=["geometry", "lon", "lat"], errors="ignore"))
    plots["x"] = table.geometry.x.to_numpy()
    plots["y"] = table.geometry.y.to_numpy()
    return validate_plots(plots, path=str(epoch.plots.path))


@dataclass(frozen=True)
class EpochBiomass:
    """The biomass stage of one epoch.

    Attributes
    ----------
    models
        The models used for the map, in order of preference.
    candidates
        Every model fitted (a LiDAR model that lost to the imagery model on
        the LiDAR plots is here but not in ``models``).
    lidar_decision
        Why the LiDAR model is or is not used.
    layers
        ``agb_*`` layers of :func:`~carbonsink.biomass.agb_map.map_agb` and
        the vegetation carbon of the mean and of both bounds.
    """

    models: tuple[FittedBiomassModel, ...]
    candidates: tuple[FittedBiomassModel, ...]
    lidar_decision: str
    layers: xr.Dataset


def _lidar_decision(lidar: FittedBiomassModel, imagery: FittedBiomassModel) -> tuple[bool, str]:
    """Use the LiDAR model only if it beats the imagery model on the same (LiDAR) plots."""
    lidar_pred = lidar.cv.predictions.set_axis(lidar.plots.table.index[lidar.cv.predictions.index])
    imagery_pred = imagery.cv.predictions.set_axis(
        imagery.plots.table.index[imagery.cv.predictions.index]
    )
    common = lidar_pred.index.intersection(imagery_pred.index)

    def rmse(frame: pd.DataFrame) -> float:
        rows = frame.loc[common]
        return float(np.sqrt(np.mean((rows["predicted"] - rows["observed"]) ** 2)))

    rmse_lidar, rmse_imagery = rmse(lidar_pred), rmse(imagery_pred)
    used = rmse_lidar < rmse_imagery
    verdict = "used" if used else "not used"
    return used, (
        f"LiDAR model {verdict}: on the {len(common)} plots under LiDAR (only those, so not "
        f"the pooled figures of the CV tables) its spatial-CV RMSE is "
        f"{rmse_lidar:.2f} Mg DM/ha against {rmse_imagery:.2f} for the imagery model"
    )


def epoch_biomass(survey: Survey, epoch: Epoch, cube: EpochCube) -> EpochBiomass:
    """Fit the biomass models of an epoch and map AGB, BGB and vegetation carbon."""
    from carbonsink.biomass.agb_map import fit_biomass_model

    section = survey.biomass
    plots = epoch_plots(survey, epoch)
    fit = partial(
        fit_biomass_model,
        cube.cube,
        plots,
        estimator_name=section.model,
        n_estimators=section.n_estimators,
        cv_block_m=section.cv_block_m,
        interval=section.interval,
        seed=survey.survey.seed,
    )
    imagery = fit(name="imagery", features=cube.imagery_features)
    candidates = [imagery]
    models = [imagery]
    decision = "no LiDAR in this epoch"
    if cube.lidar_features:
        covered = plots.copy()
        has_lidar = cube.cube["lidar_coverage"].notnull() & (cube.cube["lidar_coverage"] > 0)
        n_covered = int(
            has_lidar.sel(
                x=xr.DataArray(covered["x"].to_numpy(), dims="plot"),
                y=xr.DataArray(covered["y"].to_numpy(), dims="plot"),
                method="nearest",
            ).sum()
        )
        if n_covered < MIN_LIDAR_PLOTS:
            decision = (
                f"LiDAR model not fitted: {n_covered} plots lie in the LiDAR coverage, "
                f"{MIN_LIDAR_PLOTS} are needed"
            )
        else:
            try:
                lidar = fit(name="lidar", features=cube.lidar_features)
            except InputError as exc:
                # The imagery model was fitted on the same plot table, so what fails
                # here is specific to the LiDAR subset (e.g. its plots fall in too
                # few cross-validation blocks): map with the imagery model alone.
                decision = f"LiDAR model not fitted: {exc.problem.message}"
                logger.warning(decision)
            else:
                candidates.insert(0, lidar)
                used, decision = _lidar_decision(lidar, imagery)
                if used:
                    models.insert(0, lidar)
    layers = map_biomass(survey, cube, models)
    return EpochBiomass(
        models=tuple(models),
        candidates=tuple(candidates),
        lidar_decision=decision,
        layers=layers,
    )


def map_biomass(
    survey: Survey,
    cube: EpochCube,
    models: Sequence[BiomassPredictor | FittedBiomassModel],
) -> xr.Dataset:
    """AGB (with interval, source and AOA flags), BGB and vegetation carbon of an epoch."""
    from carbonsink.biomass.agb_map import map_agb
    from carbonsink.biomass.carbon import ClassCarbonParameters, vegetation_carbon

    classes = survey.vegetation.classes
    water_codes = [c.code for name, c in classes.items() if name == "water"]
    landcover = cube.cube["landcover"]
    agb = map_agb(
        cube.cube,
        models,
        interval=survey.biomass.interval,
        inside=cube.cube["inside_boundary"].values,
        water=np.isin(landcover.values, water_codes),
        outside="predict",
    )
    parameters = {
        c.code: ClassCarbonParameters(root_shoot=c.root_shoot, carbon_fraction=c.carbon_fraction)
        for c in classes.values()
    }
    layers = agb.copy()
    bounds = (("", "agb_mg_ha"), ("_lower", "agb_lower_mg_ha"), ("_upper", "agb_upper_mg_ha"))
    for suffix, source in bounds:
        carbon = vegetation_carbon(agb[source], landcover, parameters)
        for name in carbon.data_vars:
            label = str(name).replace("_mg_ha", f"{suffix}_mg_ha")
            layer = carbon[name]
            if suffix:
                layer.attrs["long_name"] += f" ({suffix.strip('_')} bound)"
            layers[label] = layer
    return layers


def save_biomass_models(result: EpochBiomass, folder: Path) -> list[Path]:
    """Each fitted model as ``<name>.skops`` with a JSON card holding what predicting needs.

    The card records the training table (plot features and AGB) and the CV
    folds, so the area of applicability can be rebuilt exactly, and whether
    the model is used for the map.
    """
    from carbonsink.biomass.persistence import save_model, training_table_sha256

    written: list[Path] = []
    used = {m.name for m in result.models}
    for model in result.candidates:
        training = model.plots.table.reset_index()
        card = {
            "feature_names": list(model.features),
            "training_data_sha256": training_table_sha256(training),
            "cv_metrics": model.cv.to_dict(),
            "role": model.name,
            "used_for_map": model.name in used,
            "lidar_decision": result.lidar_decision,
            "block_reason": model.block_reason,
            "aoa": model.aoa.to_dict(),
            "aoa_weights": [float(w) for w in model.aoa.weights],
            "cv_folds": [int(f) for f in model.cv.predictions["fold"]],
            "training": {
                "columns": [str(c) for c in training.columns],
                # Python floats round-trip exactly through JSON (shortest repr).
                "data": [
                    [v.item() if isinstance(v, np.generic) else v for v in row]
                    for row in training.itertuples(index=False)
                ],
            },
        }
        written += list(save_model(model.estimator, folder / f"{model.name}.skops", card=card))
    return written


def load_biomass_models(folder: Path) -> list[BiomassPredictor]:
    """The models of :func:`save_biomass_models` that are used for the map, LiDAR first."""
    from carbonsink.biomass.agb_map import BiomassPredictor
    from carbonsink.biomass.aoa import AreaOfApplicability
    from carbonsink.biomass.persistence import load_model, training_table_sha256

    found = sorted(folder.glob("*.skops"))
    if not found:
        raise InputError(
            "no biomass model (*.skops) in the folder",
            path=folder,
            fix="run `carbonsink biomass fit` first and give its models folder",
        )
    models: list[BiomassPredictor] = []
    for path in found:
        estimator, card = load_model(path)
        if not card.get("used_for_map", False):
            continue
        training = pd.DataFrame(**card["training"])
        if training_table_sha256(training) != card["training_data_sha256"]:
            raise InputError(
                "the training table in the model card does not match its hash",
                path=path,
                fix="refit the model with `carbonsink biomass fit`",
            )
        features = tuple(card["feature_names"])
        aoa = AreaOfApplicability.fit(
            training[list(features)].to_numpy(dtype=np.float64),
            weights=card["aoa_weights"],
            folds=card["cv_folds"],
            feature_names=list(features),
        )
        models.append(
            BiomassPredictor(name=card["role"], features=features, estimator=estimator, aoa=aoa)
        )
    models.sort(key=lambda m: m.name != "lidar")
    return models


def write_biomass_products(result: EpochBiomass, out_dir: Path, *, stem: str) -> list[Path]:
    """Models, CV tables, predicted-vs-observed plots and the excluded plots of a fit."""
    from carbonsink.biomass.validation import plot_predicted_vs_observed

    written = save_biomass_models(result, out_dir / "models" / stem)
    tables = out_dir / "tables"
    for model in result.candidates:
        name = f"{stem}_{model.name}"
        written += [
            write_csv(model.cv.table, tables / f"biomass_cv_{name}.csv", float_format="%.6g"),
            write_csv(
                model.cv.predictions.set_axis(model.plots.table.index[model.cv.predictions.index]),
                tables / f"biomass_cv_predictions_{name}.csv",
                index=True,
                float_format="%.6g",
            ),
            plot_predicted_vs_observed(model.cv, out_dir / f"biomass_cv_{name}.png"),
            write_csv(model.plots.excluded, tables / f"plots_excluded_{name}.csv"),
        ]
    return written


def write_index_layers(
    composite: xr.Dataset,
    names: Sequence[str],
    out_dir: Path,
    *,
    progress: ProgressCallback | None = None,
) -> list[Path]:
    """Write spectral indices of a composite (and its observation count) as COGs."""
    from carbonsink.imagery.indices import compute_index

    layers = [compute_index(name, composite["reflectance"]) for name in names]
    layers.append(composite["valid_count"])

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress("indices", done, total)

    return write_layer_cogs(
        layers, [out_dir / f"{layer.name}.tif" for layer in layers], on_block=report
    )


def write_landcover_products(
    result: LandCover, grid: Grid, out_dir: Path, *, stem: str = "landcover"
) -> list[Path]:
    """Class map, probabilities (COGs) and the accuracy, area, CV and sample tables."""
    from carbonsink.imagery.landcover import CLASS_FILL

    class_map = grid.dataarray(
        result.class_map.values,
        name=stem,
        units="1",
        long_name="land-cover class",
        attrs={k: v for k, v in result.class_map.attrs.items() if k.startswith("flag_")},
    )
    written = [write_layer_cog(class_map, out_dir / f"{stem}.tif", nodata=CLASS_FILL)]
    for name in result.probabilities["class"].values:
        layer = grid.dataarray(
            result.probabilities.sel({"class": name}).values,
            name=f"p_{name}",
            units="1",
            long_name=f"probability of class {name}",
        )
        written.append(write_layer_cog(layer, out_dir / f"{stem}_p_{name}.tif"))
    tables = out_dir / "tables"
    written += [
        write_csv(result.accuracy.confusion, tables / f"{stem}_confusion.csv", index=True),
        write_csv(
            result.areas.table, tables / f"{stem}_areas.csv", index=True, float_format="%.6g"
        ),
        write_csv(result.cv, tables / f"{stem}_cv.csv", float_format="%.6g"),
        write_csv(result.samples, tables / f"{stem}_samples.csv"),
        write_json(
            {"accuracy": result.accuracy.to_dict(), "areas": result.areas.to_dict()},
            out_dir / f"{stem}_accuracy.json",
        ),
    ]
    return written


@contextmanager
def local_executor(workers: int | None) -> Iterator[Executor | None]:
    """A process pool of ``workers`` processes (``None``/1: run serially)."""
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n <= 1:
        yield None
        return
    with ProcessPoolExecutor(max_workers=n) as pool:
        yield pool


def write_lidar_products(result: LidarResult, out_dir: Path, *, stem: str = "lidar") -> list[Path]:
    """Write the metrics cube (NetCDF) and the per-tile QA table (CSV)."""
    written = [
        write_netcdf(result.metrics, out_dir / f"{stem}_metrics.nc"),
        write_csv(result.qa, out_dir / f"{stem}_tiles_qa.csv", float_format="%.6g"),
    ]
    for path in (result.dtm_path, result.chm_path):
        if path is not None:
            written.append(path)
    return written
