"""Fitting the biomass models and mapping AGB wall to wall, with partial LiDAR coverage.

Drone LiDAR usually covers only part of a survey. Two models are fitted
from the same plots, and each pixel is predicted by the first one that
applies to it:

1. the **LiDAR model** (imagery + LiDAR metrics), fitted on the plots inside
   the LiDAR coverage, for the cells LiDAR covers;
2. the **imagery model** (composite bands, indices, class probabilities),
   fitted on all plots, for every other cell.

"Applies" means that the cell has every feature of the model and lies in the
model's area of applicability (Meyer & Pebesma 2021): a covered cell outside
the LiDAR model's AOA falls back to the imagery model. A cell outside the
imagery model's AOA too is never extrapolated silently: it is flagged
(``agb_outside_aoa``) and counted, and either left unpredicted (NaN) or — in
the survey pipeline, so that totals are not biased low by the cells the
plots represent least (on the synthetic survey 12–15 % of the cells, mostly
high-biomass poplar) — predicted by the imagery model with the flag set, for
the accounting to treat conservatively. Each pixel's interval is that of the model that
predicted it, and the layer ``agb_model`` says which one it was. Open water
(the land-cover class named ``water``) carries no above-ground biomass and no
plot: it is set to 0 by rule, flagged as such.

Why not a two-stage (hierarchical) model — plots → LiDAR model → imagery model
trained on the LiDAR predictions (Saarela et al. 2016, Ann. For. Sci.
73:895–910)? On the synthetic survey its imagery stage, which learns only from
the ≈ 8 % LiDAR strip, mapped the 2025 AGB outside the strip at about half its
true total: a strip does not span the conditions of the whole survey (the
strip's cells are a narrow part of the imagery feature space), whereas the
plots, placed over all classes, do. The LiDAR information is used where it
exists, and each model is validated and bounded by its own AOA.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from carbonsink.biomass.aoa import AreaOfApplicability
from carbonsink.biomass.estimators import (
    IntervalRegressor,
    make_estimator,
    predict_with_interval,
)
from carbonsink.biomass.features import PlotFeatures, feature_matrix, plot_features
from carbonsink.biomass.validation import (
    DEFAULT_BLOCK_M,
    CrossValidation,
    default_block_size,
    spatial_cross_validate,
)
from carbonsink.errors import InputError
from carbonsink.spatial.blocks import block_ids

__all__ = [
    "AGB_SOURCES",
    "MODEL_SOURCE_CODES",
    "PLOT_BLOCK_M",
    "RANDOM_CV_FOLDS",
    "BiomassPredictor",
    "FittedBiomassModel",
    "fit_biomass_model",
    "map_agb",
]

logger = logging.getLogger(__name__)

#: Codes of the ``agb_model`` layer.
AGB_SOURCES: dict[int, str] = {
    0: "not predicted (outside the survey, or outside every model's area of applicability "
    "when those cells are masked)",
    1: "LiDAR model",
    2: "imagery model",
    3: "open water: 0 by rule",
}
#: ``agb_model`` code of the cells each model predicts (by model name).
#: (The dead-organic-matter model learns from the imagery features: code 2.)
MODEL_SOURCE_CODES = {"lidar": 1, "imagery": 2, "dom": 2}

#: Folds of the plot-wise (random) cross-validation whose residuals correct the map totals.
RANDOM_CV_FOLDS = 10

#: Block side of that cross-validation, m: every plot location is a block of its own.
PLOT_BLOCK_M = 1.0
_PREDICT_ROWS = 100_000


@dataclass(frozen=True)
class BiomassPredictor:
    """What mapping needs of a model: its role, features, estimator and AOA.

    A :class:`FittedBiomassModel` is one; a model loaded from disk
    (:func:`carbonsink.pipeline.stages.biomass.load_biomass_models`) is another.
    """

    name: str
    features: tuple[str, ...]
    estimator: IntervalRegressor
    aoa: AreaOfApplicability


@dataclass(frozen=True)
class FittedBiomassModel:
    """One fitted AGB model with its validation and its area of applicability.

    Attributes
    ----------
    name
        ``"lidar"`` or ``"imagery"``.
    estimator_name
        The registry name of the estimator (``[biomass].model``).
    estimator
        The fitted estimator (``predict``, ``predict_interval``).
    features
        Its feature names, in column order.
    plots
        The plot features it was fitted on, and the plots left out.
    cv
        Spatial block cross-validation.
    block_reason
        Why the CV block has its size.
    aoa
        Its area of applicability.
    random_cv
        Plot-wise (random) K-fold cross-validation, whose held-out residuals
        estimate the map's own error (docs/methodology.md §6.4); ``None``
        with fewer than 2 distinct plot locations.
    """

    name: str
    estimator_name: str
    estimator: IntervalRegressor
    features: tuple[str, ...]
    plots: PlotFeatures
    cv: CrossValidation
    block_reason: str
    aoa: AreaOfApplicability
    random_cv: CrossValidation | None = None


def fit_biomass_model(
    cube: xr.Dataset,
    plots: pd.DataFrame,
    *,
    name: str,
    features: Sequence[str],
    estimator_name: str = "random-forest",
    n_estimators: int = 300,
    cv_block_m: float | None = None,
    folds: int = 5,
    interval: float = 0.90,
    seed: int = 0,
    target: str = "agb_mg_ha",
    executor: Executor | None = None,
) -> FittedBiomassModel:
    """Fit one AGB model on the plots, cross-validate it in spatial blocks, and fit its AOA.

    Parameters
    ----------
    cube
        The epoch's per-pixel layers.
    plots
        Validated plots (see :func:`~carbonsink.biomass.features.validate_plots`)
        with ``x``/``y`` in the grid CRS.
    name
        ``"lidar"`` or ``"imagery"`` (see the module docstring).
    features
        Cube variables used as features.
    estimator_name, n_estimators, seed
        The estimator (see :func:`~carbonsink.biomass.estimators.make_estimator`).
    cv_block_m
        Side of the CV blocks, m; default: the range of the residual
        variogram of a preliminary 200 m block CV, else 200 m.
    folds, interval
        Cross-validation folds and nominal interval coverage.
    target
        The plots' column the model predicts (Mg DM/ha): ``agb_mg_ha``, or
        ``dom_mg_ha`` for dead organic matter modelled like live AGB.
    executor
        Fits the cross-validation folds in parallel (``None``: here); the
        results do not depend on it.

    Returns
    -------
    FittedBiomassModel

    Raises
    ------
    InputError
        No usable plot, or too few plots/blocks for the CV (the message says
        how many are needed).
    """
    used = plot_features(cube, plots, features=list(features), target=target)
    table = used.table
    X = table[list(features)].to_numpy(dtype=np.float64)
    agb = table[target].to_numpy(dtype=np.float64)
    px = table["x"].to_numpy(dtype=np.float64)
    py = table["y"].to_numpy(dtype=np.float64)

    # A partial of a module function pickles: the folds can run in worker processes.
    factory: Callable[[], IntervalRegressor] = partial(
        make_estimator, estimator_name, n_estimators=n_estimators, random_state=seed
    )

    preliminary = None
    if cv_block_m is None:
        preliminary = spatial_cross_validate(
            factory,
            X,
            agb,
            px,
            py,
            block_m=DEFAULT_BLOCK_M,
            folds=folds,
            interval=interval,
            seed=seed,
            executor=executor,
        )
        residuals = (
            preliminary.predictions["observed"] - preliminary.predictions["predicted"]
        ).to_numpy()
        block_m, reason = default_block_size(px, py, residuals, min_blocks=folds)
    else:
        block_m, reason = float(cv_block_m), "configured ([biomass].cv_block_m)"
    # Without a variogram range the block stays at 200 m: the preliminary CV is that CV.
    cv = (
        preliminary
        if preliminary is not None and block_m == DEFAULT_BLOCK_M
        else spatial_cross_validate(
            factory,
            X,
            agb,
            px,
            py,
            block_m=block_m,
            folds=folds,
            interval=interval,
            seed=seed,
            executor=executor,
        )
    )
    locations = np.unique(block_ids(px, py, block_m=PLOT_BLOCK_M)).size
    random_cv = (
        spatial_cross_validate(
            factory,
            X,
            agb,
            px,
            py,
            block_m=PLOT_BLOCK_M,
            folds=min(RANDOM_CV_FOLDS, locations),
            interval=interval,
            seed=seed,
            executor=executor,
        )
        if locations >= 2
        else None
    )
    estimator = factory().fit(X, agb)
    weights = getattr(estimator, "feature_importances_", None)
    aoa = AreaOfApplicability.fit(
        X,
        weights=weights,
        folds=cv.predictions["fold"].to_numpy(),
        feature_names=list(features),
    )
    logger.info(
        "%s model: %d plots, spatial CV (%.0f m blocks) R² %.3f, RMSE %.2f Mg DM/ha, coverage %.2f",
        name,
        len(table),
        block_m,
        cv.pooled["r2"],
        cv.pooled["rmse_mg_ha"],
        cv.pooled["coverage"],
    )
    return FittedBiomassModel(
        name=name,
        estimator_name=estimator_name,
        estimator=estimator,
        features=tuple(features),
        plots=used,
        cv=cv,
        block_reason=reason,
        aoa=aoa,
        random_cv=random_cv,
    )


def _predict_rows(
    model: BiomassPredictor | FittedBiomassModel, X: npt.NDArray[np.float64], interval: float
) -> tuple[npt.NDArray[np.float64], ...]:
    mean = np.empty(len(X))
    lower = np.empty(len(X))
    upper = np.empty(len(X))
    for start in range(0, len(X), _PREDICT_ROWS):
        part = slice(start, start + _PREDICT_ROWS)
        mean[part], lower[part], upper[part] = predict_with_interval(
            model.estimator, X[part], interval=interval
        )
    return mean, lower, upper


def _grid_mask(
    mask: npt.ArrayLike | None, shape: tuple[int, int], what: str, *, default: bool
) -> npt.NDArray[np.bool_]:
    """A ``(y, x)`` boolean mask as a flat array, checked against the grid's shape."""
    if mask is None:
        return np.full(shape[0] * shape[1], default, dtype=bool)
    values = np.asarray(mask, dtype=bool)
    if values.shape != shape:
        raise InputError(
            f"the {what} mask has shape {values.shape}, the cube {shape}",
            fix="give a (y, x) mask on the cube's grid",
        )
    return values.ravel()


def map_agb(
    cube: xr.Dataset,
    models: Sequence[BiomassPredictor | FittedBiomassModel],
    *,
    interval: float = 0.90,
    inside: npt.ArrayLike | None = None,
    water: npt.ArrayLike | None = None,
    outside: Literal["mask", "predict"] = "mask",
) -> xr.Dataset:
    """AGB per pixel with its interval, from the first model that applies to each cell.

    Parameters
    ----------
    cube
        The epoch's per-pixel layers.
    models
        Fitted models in order of preference (LiDAR model first).
    interval
        Central interval of the bounds.
    inside
        Boolean ``(y, x)`` survey mask; cells outside stay NaN.
    water
        Boolean ``(y, x)`` open-water mask: 0 Mg/ha by rule.
    outside
        Cells outside the AOA of every model: ``"mask"`` leaves them NaN;
        ``"predict"`` predicts them with the most general model (the last
        one) — either way ``agb_outside_aoa`` flags them and the attributes
        count them, so that accounting can treat them conservatively.

    Returns
    -------
    xarray.Dataset
        ``agb_mg_ha``, ``agb_lower_mg_ha``, ``agb_upper_mg_ha`` (Mg DM/ha,
        float32), ``agb_model`` (uint8, codes in :data:`AGB_SOURCES`),
        ``agb_outside_aoa`` (bool: inside the survey, not water, and in no
        model's AOA) and ``agb_di`` (dissimilarity index of the model whose
        AOA was last tested). Attributes count the cells of each source.

    Notes
    -----
    Module docstring: preference order, AOA fallback, water rule.
    """
    if not models:
        raise InputError("no biomass model to map with", fix="fit at least the imagery model")
    shape = (cube.sizes["y"], cube.sizes["x"])
    n = shape[0] * shape[1]
    area = _grid_mask(inside, shape, "inside", default=True)
    is_water = _grid_mask(water, shape, "water", default=False)
    todo = area & ~is_water
    mean = np.full(n, np.nan)
    lower = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    di = np.full(n, np.nan)
    source = np.zeros(n, dtype=np.uint8)
    tried = np.zeros(n, dtype=bool)
    for model in models:
        X, complete = feature_matrix(cube, model.features)
        candidates = np.flatnonzero(todo & complete)
        if not len(candidates):
            continue
        cell_di = model.aoa.di(X[candidates])
        di[candidates] = cell_di
        tried[candidates] = True
        ok = candidates[cell_di <= model.aoa.threshold]
        m, lo, hi = _predict_rows(model, X[ok], interval)
        mean[ok], lower[ok], upper[ok] = m, lo, hi
        source[ok] = MODEL_SOURCE_CODES.get(model.name, 2)
        todo[ok] = False
        del X  # before the next model's matrix is built
    outside_aoa = todo & tried
    if outside == "predict":
        # Cells outside every AOA: the last (most general) model with all its
        # features at the cell predicts them, and the flag stays set.
        for model in reversed(models):
            X, complete = feature_matrix(cube, model.features)
            rows = np.flatnonzero(outside_aoa & complete & np.isnan(mean))
            if len(rows):
                mean[rows], lower[rows], upper[rows] = _predict_rows(model, X[rows], interval)
                source[rows] = MODEL_SOURCE_CODES.get(model.name, 2)
            del X
    mean[is_water & area] = 0.0
    lower[is_water & area] = 0.0
    upper[is_water & area] = 0.0
    source[is_water & area] = 3
    no_features = area & ~is_water & ~tried & np.isnan(mean)
    if no_features.any():
        logger.warning(
            "%d cells inside the survey lack a feature of every biomass model and are not "
            "predicted",
            int(no_features.sum()),
        )
    counts = {AGB_SOURCES[code]: int((source == code)[area].sum()) for code in AGB_SOURCES}
    coords = {"y": cube["y"], "x": cube["x"]}

    def layer(values: npt.NDArray[Any], name: str, units: str, long_name: str) -> xr.DataArray:
        return xr.DataArray(
            values.reshape(shape),
            dims=("y", "x"),
            coords=coords,
            name=name,
            attrs={"units": units, "long_name": long_name},
        )

    bounds = f"{interval:.0%} prediction interval"
    out = xr.Dataset(
        {
            "agb_mg_ha": layer(
                mean.astype(np.float32), "agb_mg_ha", "Mg DM/ha", "above-ground biomass"
            ),
            "agb_lower_mg_ha": layer(
                lower.astype(np.float32),
                "agb_lower_mg_ha",
                "Mg DM/ha",
                f"AGB, lower bound of the {bounds}",
            ),
            "agb_upper_mg_ha": layer(
                upper.astype(np.float32),
                "agb_upper_mg_ha",
                "Mg DM/ha",
                f"AGB, upper bound of the {bounds}",
            ),
            "agb_model": layer(source, "agb_model", "1", "model that predicted the cell"),
            "agb_outside_aoa": layer(
                outside_aoa,
                "agb_outside_aoa",
                "1",
                "outside the area of applicability of every model",
            ),
            "agb_di": layer(
                di.astype(np.float32), "agb_di", "1", "dissimilarity index (Meyer & Pebesma 2021)"
            ),
        },
        attrs={
            "interval": interval,
            "outside_aoa_cells": int(outside_aoa.sum()),
            "cells_without_features": int(no_features.sum()),
            "outside_aoa_policy": outside,
            **{f"cells: {k}": v for k, v in counts.items()},
        },
    )
    out["agb_model"].attrs.update(
        flag_values=list(AGB_SOURCES),
        flag_meanings=" ".join(["none", "lidar_model", "imagery_model", "water_rule"]),
    )
    n_out = int(outside_aoa.sum())
    if n_out:
        logger.warning(
            "%d cells are outside the area of applicability of every biomass model (%s)",
            n_out,
            "predicted, flagged" if outside == "predict" else "not predicted",
        )
    return out
