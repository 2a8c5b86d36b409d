"""Cross-validation of the SOC map procedure: leave-one-out or spatial blocks.

:func:`cross_validate_soc` scores :func:`~carbonsink.soil.soc_map.predict_soc`'s
procedure — the same :func:`~carbonsink.soil.soc_model.fit_soc_model`, refitted
without the held-out cores — by leave-one-out or by spatial-block folds
(docs/methodology.md §3, §6), and returns a :class:`SocCrossValidation`. Spatial
folds follow the one block/fold convention of :mod:`carbonsink.spatial.blocks`:
square blocks anchored at the origin of the CRS, whole blocks to folds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from carbonsink.errors import ConfigError, ModelError
from carbonsink.soil.regression import class_level_text, numeric_covariates
from carbonsink.soil.soc_model import (
    SocMethod,
    SocModel,
    check_core_stocks,
    check_soc_options,
    fit_soc_model,
    interval_z,
    measurement_variances,
)
from carbonsink.spatial.blocks import block_folds, block_ids
from carbonsink.spatial.variogram import VariogramModel, VariogramName

__all__ = ["SocCrossValidation", "cross_validate_soc"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SocCrossValidation:
    """Cross-validation scores of a SOC map procedure.

    Attributes
    ----------
    method, variogram_model
        The procedure scored.
    folds
        ``"loo"`` or ``"spatial-blocks"``.
    n_folds
        Number of folds.
    block_m
        Block size of spatial folds, m (``nan`` for leave-one-out).
    n
        Number of points predicted.
    rmse_mg_ha
        Root mean square error, Mg C/ha.
    mean_error_mg_ha
        Mean of predicted − observed, Mg C/ha.
    r2
        1 − SSE / SST about the observed mean.
    coverage
        Fraction of observations inside their central ``interval`` interval.
    interval
        Central probability of the intervals.
    predictions
        Per point: ``point, fold, x, y, observed, predicted, variance, lower,
        upper, covered``.
    """

    method: str
    variogram_model: str
    folds: str
    n_folds: int
    block_m: float
    n: int
    rmse_mg_ha: float
    mean_error_mg_ha: float
    r2: float
    coverage: float
    interval: float
    predictions: pd.DataFrame = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The scores (without the per-point table), with units in the key names."""
        return {
            "method": self.method,
            "variogram_model": self.variogram_model,
            "folds": self.folds,
            "n_folds": self.n_folds,
            "block_m": self.block_m,
            "n": self.n,
            "rmse_mg_ha": self.rmse_mg_ha,
            "mean_error_mg_ha": self.mean_error_mg_ha,
            "r2": self.r2,
            "coverage": self.coverage,
            "interval": self.interval,
        }


def _folds(
    xs: FloatArray,
    ys: FloatArray,
    folds: Literal["loo"] | int,
    block_m: float | None,
    seed: int,
    default_block_m: Callable[[], float],
) -> tuple[npt.NDArray[np.int64], float, int]:
    """The fold of each point, the block side (NaN for leave-one-out) and the number of folds."""
    if isinstance(folds, str):
        if folds != "loo":
            raise ConfigError(
                f"unknown folds {folds!r}; valid: 'loo' or a whole number of spatial folds ≥ 2",
                fix="use folds='loo' or e.g. folds=5",
            )
        return np.arange(xs.size, dtype=np.int64), math.nan, xs.size
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 2:
        raise ConfigError(
            f"folds {folds!r} is not 'loo' or a whole number ≥ 2",
            fix="use folds='loo' or e.g. folds=5",
        )
    size = default_block_m() if block_m is None else float(block_m)
    if not (math.isfinite(size) and size > 0):
        raise ConfigError(f"block_m {block_m!r} is not a positive distance", fix="give m > 0")
    block = block_ids(xs, ys, block_m=size)
    n_blocks = int(block.max()) + 1
    if n_blocks < folds:
        raise ConfigError(
            f"the points fall in {n_blocks} block(s) of {size:g} m, fewer than {folds} folds",
            fix="use smaller blocks (block_m) or fewer folds",
        )
    return block_folds(block, n_folds=int(folds), seed=seed), size, int(folds)


def cross_validate_soc(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    covariates_at_points: pd.DataFrame | None = None,
    categorical: Sequence[str] = ("class",),
    method: SocMethod = "regression-kriging",
    variogram_model: VariogramName | VariogramModel = "spherical",
    n_neighbours: int = 32,
    folds: Literal["loo"] | int = "loo",
    block_m: float | None = None,
    interval: float = 0.90,
    value_se: npt.ArrayLike | None = None,
    seed: int = 0,
) -> SocCrossValidation:
    """Score the SOC map procedure by leave-one-out or spatial-block cross-validation.

    Parameters
    ----------
    x, y, values
        Core locations (m) and stocks (Mg C/ha).
    covariates_at_points
        Covariates at the cores, one row per core (e.g. from
        :func:`~carbonsink.soil.regression.sample_covariates`); required for
        regression kriging.
    categorical
        Columns of ``covariates_at_points`` holding class codes.
    method, variogram_model, n_neighbours, interval, value_se
        As :func:`~carbonsink.soil.soc_map.predict_soc`.
    folds
        ``"loo"`` (leave one out) or the number of spatial-block folds.
    block_m
        Side of the square blocks for spatial folds, m; default the range of
        the variogram fitted to all points (docs/methodology.md §6: blocks about
        the variogram range).
    seed
        Seed of the permutation of block labels that breaks ties when whole
        blocks are balanced over the folds; the same seed gives the same folds.

    Returns
    -------
    SocCrossValidation

    Raises
    ------
    ConfigError, InputError, ModelError
        As :func:`~carbonsink.soil.soc_map.predict_soc`; bad
        ``folds``/``block_m``; fewer blocks holding cores than folds.

    Notes
    -----
    Each fold refits everything learnt from data — the regression and, when a
    model name is given, the variogram — on the training points only, then
    predicts the held-out points. RMSE = √(mean (ẑ − z)²),
    R² = 1 − Σ(ẑ − z)² / Σ(z − z̄)², coverage = share of held-out z inside
    [max(ẑ − z₁₋α/₂ s, 0), ẑ + z₁₋α/₂ s] (docs/methodology.md §3). A held-out
    value is a measurement at a point, so s² is the point-support prediction
    variance (nugget included) plus its own se² when ``value_se`` is given.

    Spatial folds: the cores are grouped in square blocks of side ``block_m``
    anchored at the origin of the CRS
    (:func:`carbonsink.spatial.blocks.block_ids`), and whole blocks go to
    folds of about equal numbers of cores
    (:func:`carbonsink.spatial.blocks.block_folds` with ``seed``) — the
    convention of the land-cover and biomass cross-validations too.
    """
    check_soc_options(method, n_neighbours, variogram_model)
    z = interval_z(interval)
    xs, ys, zs = check_core_stocks(x, y, values)
    noise_var = measurement_variances(value_se, xs.size)
    frame: pd.DataFrame | None = None
    if method == "regression-kriging":
        if covariates_at_points is None:
            raise ConfigError(
                "regression kriging needs covariates_at_points",
                fix="pass covariates_at_points= (e.g. from sample_covariates) or "
                "method='ordinary-kriging'",
            )
        frame = numeric_covariates(covariates_at_points, xs.size)

    def fit(train: npt.NDArray[np.bool_]) -> SocModel:
        return fit_soc_model(
            xs[train],
            ys[train],
            zs[train],
            None if frame is None else frame[train].reset_index(drop=True),
            method=method,
            categorical=categorical,
            variogram_model=variogram_model,
            n_neighbours=n_neighbours,
            noise_var=noise_var[train],
        )

    def default_block() -> float:
        return fit(np.ones(xs.size, dtype=bool)).variogram.range_m

    fold, size, n_folds = _folds(xs, ys, folds, block_m, seed, default_block)
    predicted = np.empty(xs.size)
    variance = np.empty(xs.size)
    for f in range(n_folds):
        test = fold == f
        if not test.any():
            continue
        model = fit(~test)
        rows: FloatArray | None = None
        if model.regression is not None:
            assert frame is not None
            design = model.regression.design
            sub = frame[test].reset_index(drop=True)
            columns = {c: sub[c].to_numpy(dtype=np.float64) for c in sub.columns}
            unseen = design.unseen(columns)
            if unseen:
                name, levels = next(iter(unseen.items()))
                raise ModelError(
                    f"fold {f}: covariate {name!r} class(es) "
                    f"{', '.join(class_level_text(v) for v in levels)} are held out but no "
                    "training core samples them",
                    fix="merge rare classes, or use larger folds (fewer, or leave-one-out)",
                )
            rows = design.matrix(columns)
        p, v = model.predict(xs[test], ys[test], rows, point_support=True)
        predicted[test] = p
        variance[test] = v + noise_var[test]
    half = z * np.sqrt(variance)
    lower = np.maximum(predicted - half, 0.0)
    upper = predicted + half
    covered = (zs >= lower) & (zs <= upper)
    error = predicted - zs
    sst = float(((zs - zs.mean()) ** 2).sum())
    sse = float((error**2).sum())
    table = pd.DataFrame(
        {
            "point": np.arange(xs.size),
            "fold": fold,
            "x": xs,
            "y": ys,
            "observed": zs,
            "predicted": predicted,
            "variance": variance,
            "lower": lower,
            "upper": upper,
            "covered": covered,
        }
    )
    return SocCrossValidation(
        method=method,
        variogram_model=(
            variogram_model.model
            if isinstance(variogram_model, VariogramModel)
            else str(variogram_model)
        ),
        folds="loo" if isinstance(folds, str) else "spatial-blocks",
        n_folds=n_folds,
        block_m=size,
        n=xs.size,
        rmse_mg_ha=math.sqrt(sse / xs.size),
        mean_error_mg_ha=float(error.mean()),
        r2=1.0 - sse / sst if sst > 0 else math.nan,
        coverage=float(covered.mean()),
        interval=interval,
        predictions=table,
    )
