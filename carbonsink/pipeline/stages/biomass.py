"""Biomass stage: the epoch's plots → AGB models → AGB, BGB and vegetation carbon maps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from carbonsink.config import Epoch
from carbonsink.errors import ConfigError, InputError
from carbonsink.i18n import Message
from carbonsink.io.writers import write_csv
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.outputs import OutputFolder
from carbonsink.pipeline.stages.cube import EpochCube

if TYPE_CHECKING:
    from carbonsink.biomass.agb_map import BiomassPredictor, FittedBiomassModel
    from carbonsink.biomass.dom import DomEstimate
    from carbonsink.biomass.model_choice import AgbModels

__all__ = [
    "PREDICTED_LAYERS",
    "EpochBiomass",
    "epoch_biomass",
    "epoch_plots",
    "load_biomass_models",
    "map_biomass",
    "save_biomass_models",
    "write_biomass_layers",
    "write_biomass_products",
]

#: The layers of an AGB map that ``carbonsink biomass predict`` writes.
PREDICTED_LAYERS = (
    "agb_mg_ha",
    "agb_lower_mg_ha",
    "agb_upper_mg_ha",
    "agb_model",
    "agb_outside_aoa",
    "bgb_mg_ha",
    "veg_c_mg_ha",
    "veg_c_lower_mg_ha",
    "veg_c_upper_mg_ha",
)


def epoch_plots(ctx: RunContext, epoch: Epoch) -> pd.DataFrame:
    """The epoch's biomass plots, validated, with ``x``/``y`` in the survey CRS."""
    from carbonsink.biomass.features import validate_plots

    if epoch.plots is None:
        raise ConfigError(
            f"epoch {epoch.name!r} has no biomass plots",
            fix='add plots = { path = "plots.csv", crs = "EPSG:4490" } to the epoch',
        )
    return validate_plots(ctx.points(epoch.plots), path=str(epoch.plots.path))


@dataclass(frozen=True)
class EpochBiomass:
    """The biomass stage of one epoch.

    Attributes
    ----------
    fitted
        The AGB models (used and candidates) and the LiDAR decision.
    layers
        ``agb_*`` layers of :func:`~carbonsink.biomass.agb_map.map_agb`, the
        vegetation carbon of the mean and of both bounds, and the ``dom_*``
        layers when the plots carry dead organic matter.
    dom
        The dead-organic-matter estimate; ``None`` when no plot carries
        ``agb_dead_g_m2`` (the pool is not measured).
    """

    fitted: AgbModels
    layers: xr.Dataset
    dom: DomEstimate | None = None

    @property
    def models(self) -> tuple[FittedBiomassModel, ...]:
        """The models that map AGB, LiDAR first."""
        return self.fitted.models

    @property
    def candidates(self) -> tuple[FittedBiomassModel, ...]:
        """Every model fitted."""
        return self.fitted.candidates

    @property
    def lidar_decision(self) -> Message:
        """Why the LiDAR model is or is not used."""
        return self.fitted.lidar_decision


def epoch_biomass(ctx: RunContext, epoch: Epoch, cube: EpochCube) -> EpochBiomass:
    """Fit the biomass models of an epoch and map AGB, BGB and vegetation carbon."""
    from carbonsink.biomass.dom import estimate_dom
    from carbonsink.biomass.model_choice import fit_agb_models

    section = ctx.survey.biomass
    plots = epoch_plots(ctx, epoch)
    fitted = fit_agb_models(
        cube.cube,
        plots,
        imagery_features=cube.imagery_features,
        lidar_features=cube.lidar_features,
        estimator_name=section.model,
        n_estimators=section.n_estimators,
        cv_block_m=section.cv_block_m,
        interval=section.interval,
        seed=ctx.seed,
        executor=ctx.executor,
    )
    layers = map_biomass(ctx, cube, fitted.models)
    classes = ctx.survey.vegetation.classes
    route, _ = ctx.dom_choice
    dom = None
    if route != "none":
        dom = estimate_dom(
            cube.cube,
            plots,
            layers,
            legend=ctx.survey.vegetation.by_code(),
            carbon_fraction={c.code: c.carbon_fraction for c in classes.values()},
            features=cube.imagery_features,
            method=route,
            water=_water(ctx, cube),
            estimator_name=section.model,
            n_estimators=section.n_estimators,
            cv_block_m=section.cv_block_m,
            interval=section.interval,
            seed=ctx.seed,
            executor=ctx.executor,
        )
    if dom is not None:
        layers = layers.merge(dom.layers)
    return EpochBiomass(fitted=fitted, layers=layers, dom=dom)


def _water(ctx: RunContext, cube: EpochCube) -> npt.NDArray[np.bool_]:
    """Open water (the legend's class named ``water``): no biomass by rule."""
    classes = ctx.survey.vegetation.classes
    water_codes = [c.code for name, c in classes.items() if name == "water"]
    return np.isin(cube.cube["landcover"].values, water_codes)


def map_biomass(
    ctx: RunContext,
    cube: EpochCube,
    models: Sequence[BiomassPredictor | FittedBiomassModel],
) -> xr.Dataset:
    """AGB (with interval, source and AOA flags), BGB and vegetation carbon of an epoch."""
    from carbonsink.biomass.agb_map import map_agb
    from carbonsink.biomass.carbon import ClassCarbonParameters, vegetation_carbon

    classes = ctx.survey.vegetation.classes
    landcover = cube.cube["landcover"]
    agb = map_agb(
        cube.cube,
        models,
        interval=ctx.survey.biomass.interval,
        inside=cube.cube["inside_boundary"].values,
        water=_water(ctx, cube),
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


def save_biomass_models(result: EpochBiomass, folder: OutputFolder, *, epoch: str) -> list[Path]:
    """Each fitted model as ``models/<epoch>/<name>.skops`` with its JSON card."""
    from carbonsink.biomass.persistence import save_biomass_model

    used = {m.name for m in result.models}
    written: list[Path] = []
    for model in result.candidates:
        written += save_biomass_model(
            model,
            folder.path("model", epoch=epoch, model=model.name),
            used_for_map=model.name in used,
            lidar_decision=str(result.lidar_decision),
        )
    return written


def load_biomass_models(folder: Path) -> list[BiomassPredictor]:
    """The models of :func:`save_biomass_models` in ``folder`` that map AGB, LiDAR first.

    Raises
    ------
    InputError
        The folder holds no model, or a model or its card is damaged.
    """
    from carbonsink.biomass.persistence import load_biomass_model

    found = sorted(Path(folder).glob("*.skops"))
    if not found:
        raise InputError(
            "no biomass model (*.skops) in the folder",
            path=folder,
            fix="run `carbonsink biomass fit` first and give its models folder",
        )
    models = []
    for path in found:
        predictor, used = load_biomass_model(path)
        if used:
            models.append(predictor)
    models.sort(key=lambda m: m.name != "lidar")
    return models


def write_biomass_products(result: EpochBiomass, folder: OutputFolder, *, epoch: str) -> list[Path]:
    """Models, CV tables, predicted-vs-observed plots and the excluded plots of a fit."""
    from carbonsink.biomass.validation import plot_predicted_vs_observed

    written = save_biomass_models(result, folder, epoch=epoch)
    for model in result.candidates:
        names = {"epoch": epoch, "model": model.name}
        written += [
            write_csv(
                model.cv.table, folder.path("table_biomass_cv", **names), float_format="%.6g"
            ),
            write_csv(
                model.cv.predictions.set_axis(model.plots.table.index[model.cv.predictions.index]),
                folder.path("table_biomass_cv_predictions", **names),
                index=True,
                float_format="%.6g",
            ),
            plot_predicted_vs_observed(model.cv, folder.path("plot_biomass_cv", **names)),
            write_csv(model.plots.excluded, folder.path("table_plots_excluded", **names)),
        ]
        if model.random_cv is not None:
            predictions = model.random_cv.predictions
            written.append(
                write_csv(
                    predictions.set_axis(model.plots.table.index[predictions.index]),
                    folder.path("table_biomass_random_cv_predictions", **names),
                    index=True,
                    float_format="%.6g",
                )
            )
    return written


def write_biomass_layers(
    ctx: RunContext, layers: xr.Dataset, folder: OutputFolder
) -> tuple[list[Path], dict[str, float]]:
    """The AGB map's layers (:data:`PREDICTED_LAYERS`) as COGs, and its totals.

    Returns
    -------
    (list of Path, dict)
        The files, and ``agb_t_dm`` (t DM) and ``veg_c_t_c`` (t C) over the
        cells inside the project (true cell areas).
    """
    from carbonsink.accounting.stocks import map_total
    from carbonsink.io.writers import write_layer_cogs

    arrays = [
        ctx.grid.dataarray(
            layers[name].values,
            name=name,
            units=layers[name].attrs["units"],
            long_name=layers[name].attrs["long_name"],
            attrs={k: v for k, v in layers[name].attrs.items() if k.startswith("flag_")},
        )
        for name in PREDICTED_LAYERS
    ]
    paths = [folder.path("layer", layer=name) for name in PREDICTED_LAYERS]
    area, inside = ctx.cell_area_ha.values, ctx.inside.values
    totals = {
        "agb_t_dm": map_total(layers["agb_mg_ha"].values, area, inside=inside),
        "veg_c_t_c": map_total(layers["veg_c_mg_ha"].values, area, inside=inside),
    }
    return write_layer_cogs(arrays, paths), totals
