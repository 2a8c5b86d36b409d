"""Which AGB models map an epoch: the imagery model always, the LiDAR model where it wins.

Drone LiDAR covers part of a survey. The imagery model is fitted on every
plot; a LiDAR model (imagery and LiDAR features) is fitted on the plots under
the LiDAR coverage when at least :data:`MIN_LIDAR_PLOTS` of them lie there,
and it maps the covered cells only if its spatial-CV RMSE on those plots
beats the imagery model's on the same plots (docs/methodology.md §2). Each
decision is stated in words, for the model card, the report and the run log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from carbonsink.biomass.agb_map import FittedBiomassModel, fit_biomass_model
from carbonsink.errors import InputError
from carbonsink.i18n import N_, Message, deferred

__all__ = ["MIN_LIDAR_PLOTS", "AgbModels", "fit_agb_models", "lidar_decision"]

logger = logging.getLogger(__name__)

#: Fewest plots inside the LiDAR coverage for a LiDAR model to be fitted.
MIN_LIDAR_PLOTS = 15


@dataclass(frozen=True)
class AgbModels:
    """The AGB models of an epoch.

    Attributes
    ----------
    models
        The models that map AGB, in order of preference (LiDAR first).
    candidates
        Every model fitted (a LiDAR model that lost to the imagery model on
        the LiDAR plots is here but not in ``models``).
    lidar_decision
        Why the LiDAR model is or is not used.
    """

    models: tuple[FittedBiomassModel, ...]
    candidates: tuple[FittedBiomassModel, ...]
    lidar_decision: Message


def lidar_decision(lidar: FittedBiomassModel, imagery: FittedBiomassModel) -> tuple[bool, Message]:
    """Use the LiDAR model only if it beats the imagery model on the same (LiDAR) plots.

    Returns
    -------
    (bool, Message)
        Whether the LiDAR model is used, and the sentence that says why.

    Notes
    -----
    RMSE = √(mean (ŷ − y)²) of the spatial-CV predictions of each model on the
    plots both models predicted (the plots under LiDAR): the pooled CV tables
    of the two models cover different plots and cannot be compared.
    """
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
    template = (
        N_(
            "LiDAR model used: on the {n} plots under LiDAR (only those, so not the pooled "
            "figures of the CV tables) its spatial-CV RMSE is {lidar:.2f} Mg DM/ha against "
            "{imagery:.2f} for the imagery model"
        )
        if used
        else N_(
            "LiDAR model not used: on the {n} plots under LiDAR (only those, so not the pooled "
            "figures of the CV tables) its spatial-CV RMSE is {lidar:.2f} Mg DM/ha against "
            "{imagery:.2f} for the imagery model"
        )
    )
    return used, deferred(template, n=len(common), lidar=rmse_lidar, imagery=rmse_imagery)


def _plots_covered(cube: xr.Dataset, plots: pd.DataFrame, coverage: str) -> int:
    has_lidar = cube[coverage].notnull() & (cube[coverage] > 0)
    return int(
        has_lidar.sel(
            x=xr.DataArray(plots["x"].to_numpy(), dims="plot"),
            y=xr.DataArray(plots["y"].to_numpy(), dims="plot"),
            method="nearest",
        ).sum()
    )


def fit_agb_models(
    cube: xr.Dataset,
    plots: pd.DataFrame,
    *,
    imagery_features: Sequence[str],
    lidar_features: Sequence[str] = (),
    coverage: str = "lidar_coverage",
    estimator_name: str = "random-forest",
    n_estimators: int = 300,
    cv_block_m: float | None = None,
    interval: float = 0.90,
    seed: int = 0,
    executor: Executor | None = None,
) -> AgbModels:
    """Fit the imagery model and, with enough plots under LiDAR, the LiDAR model.

    Parameters
    ----------
    cube
        The epoch's per-pixel layers.
    plots
        Validated plots (``x``/``y`` in the grid CRS, ``agb_mg_ha``).
    imagery_features
        Cube variables of the imagery model.
    lidar_features
        Cube variables of the LiDAR model (empty: no LiDAR in the epoch).
    coverage
        Cube layer that is > 0 where LiDAR covers a cell.
    estimator_name, n_estimators, cv_block_m, interval, seed, executor
        As :func:`~carbonsink.biomass.agb_map.fit_biomass_model`.

    Returns
    -------
    AgbModels

    Raises
    ------
    InputError
        The imagery model cannot be fitted (too few plots or blocks). A
        LiDAR model that cannot be fitted on its subset is left out, and the
        decision says why.
    """

    def fit(name: str, features: Sequence[str]) -> FittedBiomassModel:
        return fit_biomass_model(
            cube,
            plots,
            name=name,
            features=features,
            estimator_name=estimator_name,
            n_estimators=n_estimators,
            cv_block_m=cv_block_m,
            interval=interval,
            seed=seed,
            executor=executor,
        )

    imagery = fit("imagery", imagery_features)
    candidates = [imagery]
    models = [imagery]
    decision = deferred("no LiDAR in this epoch")
    if lidar_features:
        n_covered = _plots_covered(cube, plots, coverage)
        if n_covered < MIN_LIDAR_PLOTS:
            decision = deferred(
                "LiDAR model not fitted: {n} plots lie in the LiDAR coverage, {needed} are needed",
                n=n_covered,
                needed=MIN_LIDAR_PLOTS,
            )
        else:
            try:
                lidar = fit("lidar", lidar_features)
            except InputError as exc:
                # The imagery model was fitted on the same plot table, so what fails
                # here is specific to the LiDAR subset (e.g. its plots fall in too
                # few cross-validation blocks): map with the imagery model alone.
                decision = deferred(
                    "LiDAR model not fitted: {problem}", problem=exc.problem.message
                )
                logger.warning(decision)
            else:
                candidates.insert(0, lidar)
                used, decision = lidar_decision(lidar, imagery)
                if used:
                    models.insert(0, lidar)
    return AgbModels(models=tuple(models), candidates=tuple(candidates), lidar_decision=decision)
