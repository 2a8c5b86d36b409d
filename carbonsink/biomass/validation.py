"""Spatial block cross-validation of a biomass model, its metrics and its figure.

Plots close to each other share their residual errors, so a random k-fold
cross-validation that puts neighbours on both sides of a fold reports a skill
the map does not have (Roberts et al. 2017, *Ecography* 40:913). Here whole
square blocks of plots are held out together (docs/methodology.md §2, §6): the
block side defaults to the practical range of the residual variogram, so that
held-out plots are about uncorrelated with the training plots, or to 200 m
when no range can be fitted.

* :func:`residual_variogram_range` and :func:`default_block_size` choose the
  block side;
* :func:`spatial_cross_validate` scores an estimator factory on folds of
  whole blocks (:mod:`carbonsink.spatial.blocks`) and returns a
  :class:`CrossValidation` (per-fold and pooled R², RMSE, relative RMSE, bias,
  interval coverage; every held-out prediction);
* :func:`plot_predicted_vs_observed` draws the predicted-vs-observed figure.
"""

from __future__ import annotations

import io
import logging
import math
import os
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from carbonsink.biomass.estimators import predict_with_interval
from carbonsink.errors import ConfigError, InputError, ModelError
from carbonsink.io.writers import atomic_path
from carbonsink.spatial.blocks import block_folds, block_ids
from carbonsink.spatial.points import point_values
from carbonsink.spatial.variogram import (
    MIN_POINTS_VARIOGRAM,
    empirical_variogram,
    fit_variogram,
)

__all__ = [
    "AGB_UNITS",
    "DEFAULT_BLOCK_M",
    "MAX_NUGGET_RATIO",
    "CrossValidation",
    "default_block_size",
    "plot_predicted_vs_observed",
    "residual_variogram_range",
    "spatial_cross_validate",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Units of above-ground biomass densities (observed, predicted, RMSE, bias).
AGB_UNITS: Final = "Mg DM/ha"
#: Block side used when the residual variogram gives no range, m.
DEFAULT_BLOCK_M: Final = 200.0
#: Largest nugget-to-sill ratio of a residual variogram that still counts as
#: spatially structured; above it the dependence is "weak" (Cambardella et al.
#: 1994, *Soil Sci. Soc. Am. J.* 58:1501) and the range is not used.
MAX_NUGGET_RATIO: Final = 0.75

#: Metric columns of :attr:`CrossValidation.table` besides ``fold``.
_METRIC_COLUMNS: Final = (
    "n",
    "n_blocks",
    "r2",
    "rmse_mg_ha",
    "relative_rmse",
    "bias_mg_ha",
    "coverage",
)

#: Reasons :func:`default_block_size` gives for its choice.
_REASON_RANGE: Final = "residual variogram range"
_REASON_DEFAULT: Final = "default 200 m"


class _IntervalEstimator(Protocol):
    """What :func:`spatial_cross_validate` needs of an estimator (scikit-learn style).

    Every estimator of :mod:`carbonsink.biomass.estimators` has this interface.
    """

    def fit(self, X: Any, y: Any) -> Any:
        """Fit to features ``X`` (n × p) and AGB ``y`` (n), return self."""

    def predict(self, X: Any) -> Any:
        """Mean prediction for each row of ``X``."""

    def predict_interval(self, X: Any, *, interval: float = 0.9) -> tuple[Any, Any]:
        """Lower and upper bounds of the central ``interval`` prediction interval."""


# ----------------------------------------------------------- block size
def residual_variogram_range(
    x: npt.ArrayLike, y: npt.ArrayLike, residuals: npt.ArrayLike
) -> float | None:
    """Practical range (m) of a spherical variogram fitted to model residuals.

    Parameters
    ----------
    x, y
        Plot coordinates in a projected CRS, m.
    residuals
        One residual per plot (e.g. observed − predicted AGB, Mg DM/ha).

    Returns
    -------
    float or None
        The range in m, or None when no range can be fitted: fewer than
        :data:`~carbonsink.spatial.variogram.MIN_POINTS_VARIOGRAM` plots, fewer than
        two distance classes, residuals that do not vary, or a fit that shows
        no spatial structure (see Notes).

    Raises
    ------
    InputError
        Lengths differ, or a coordinate or residual is missing or infinite.

    Notes
    -----
    The empirical variogram γ̂(h) = 1/(2N(h)) Σ (rᵢ − rⱼ)² and the weighted
    least-squares spherical fit are those of
    :func:`carbonsink.spatial.variogram.empirical_variogram` and
    :func:`carbonsink.spatial.variogram.fit_variogram` (Matheron 1962; Cressie 1985),
    with their defaults (12 classes up to half the largest distance). The
    fit is read as "pure nugget" — no range — when

    * the nugget-to-sill ratio c₀/(c₀ + c₁) exceeds :data:`MAX_NUGGET_RATIO`
      (0.75, "weak spatial dependence", Cambardella et al. 1994), or
    * the range is no longer than the first distance class (the model is at
      its sill at every observed lag, indistinguishable from a nugget), or
    * the range sits at the fit's upper bound, twice the largest lag (no sill
      within the sampled distances: a trend, not a range).
    """
    xs, ys, rs = point_values(x, y, residuals, what="residual", noun="plot")
    if xs.size < MIN_POINTS_VARIOGRAM:
        logger.info(
            "residual variogram: %d plots, fewer than %d; no range", xs.size, MIN_POINTS_VARIOGRAM
        )
        return None
    try:
        empirical = empirical_variogram(xs, ys, rs)
        model = fit_variogram(empirical, model="spherical")
    except (InputError, ModelError) as exc:
        logger.info("residual variogram cannot be fitted (%s); no range", exc)
        return None
    nugget_ratio = model.nugget / model.sill
    first_lag = float(empirical.lag_m.min())
    upper_bound = 2.0 * float(empirical.lag_m.max())
    if nugget_ratio > MAX_NUGGET_RATIO:
        reason = f"nugget/sill {nugget_ratio:.2f} > {MAX_NUGGET_RATIO}"
    elif model.range_m <= first_lag:
        reason = f"range {model.range_m:.1f} m within the first lag ({first_lag:.1f} m)"
    elif model.range_m >= 0.99 * upper_bound:
        reason = f"range {model.range_m:.1f} m at the fit's upper bound (no sill)"
    else:
        return float(model.range_m)
    logger.info("residual variogram shows no spatial structure: %s", reason)
    return None


def default_block_size(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    residuals: npt.ArrayLike,
    *,
    fallback_m: float = DEFAULT_BLOCK_M,
    min_blocks: int = 1,
) -> tuple[float, str]:
    """Side of the cross-validation blocks: the residual variogram range, else a default.

    Parameters
    ----------
    x, y
        Plot coordinates, m.
    residuals
        Residuals of a model fitted to all plots (observed − predicted).
    fallback_m
        Block side when :func:`residual_variogram_range` gives None, m.
    min_blocks
        Fewest blocks that must hold plots (the CV's folds): a range so long
        that fewer blocks hold plots is shortened until that many do.

    Returns
    -------
    (float, str)
        The block side in m and why: ``"residual variogram range"``,
        ``"default 200 m"`` (the fallback, whatever its value, as
        ``"default <fallback_m> m"``), or the range shortened so that
        ``min_blocks`` blocks hold plots (the reason gives both sides).

    Raises
    ------
    ConfigError
        ``fallback_m`` is not a positive number.
    InputError
        As :func:`residual_variogram_range`.

    Notes
    -----
    Blocks about as large as the residual autocorrelation range make held-out
    plots nearly independent of the training plots (Roberts et al. 2017,
    *Ecography* 40:913–929; Valavi et al. 2019, *Methods Ecol. Evol.*
    10:225); docs/methodology.md §2.6 asks for block size ≈ variogram range.
    A range longer than the plots' spread would leave fewer blocks than
    folds and no CV at all: the side is then cut by steps of 5 % until
    ``min_blocks`` blocks hold plots (held-out plots are then somewhat less
    independent of the training plots, which the reason says).
    """
    if not (math.isfinite(fallback_m) and fallback_m > 0):
        raise ConfigError(
            f"fallback block size {fallback_m!r} m is not a positive distance",
            fix="give the block side in metres, e.g. 200",
        )
    range_m = residual_variogram_range(x, y, residuals)
    if range_m is None:
        reason = _REASON_DEFAULT if fallback_m == DEFAULT_BLOCK_M else f"default {fallback_m:g} m"
        return float(fallback_m), reason
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    side = float(range_m)
    for _ in range(200):
        if int(block_ids(xs, ys, block_m=side).max()) + 1 >= min_blocks:
            break
        side *= 0.95
    if side == range_m:
        return range_m, _REASON_RANGE
    return side, (
        f"{_REASON_RANGE} {range_m:.0f} m, shortened to {side:.0f} m so that at least "
        f"{min_blocks} blocks hold plots"
    )


# ------------------------------------------------------- cross-validation
@dataclass(frozen=True)
class CrossValidation:
    """The result of :func:`spatial_cross_validate`.

    Attributes
    ----------
    table
        One row per fold and a last ``"pooled"`` row (all held-out plots
        together): ``fold`` (str), ``n``, ``n_blocks``, ``r2``, ``rmse_mg_ha``,
        ``relative_rmse``, ``bias_mg_ha``, ``coverage``. NaN where a metric is
        undefined (R² of a fold whose observations do not vary; relative RMSE
        when the mean observation is ≤ 0).
    predictions
        One row per plot, index ``sample`` (the rows of ``X``, or ``X``'s index
        when it is a DataFrame): ``x``, ``y``, ``observed``, ``predicted``,
        ``lower``, ``upper``, ``covered``, ``fold``, ``block``.
    block_m
        Side of the square blocks, m.
    n_blocks
        Number of blocks that hold plots.
    folds
        Number of folds.
    interval
        Nominal coverage of the prediction intervals (e.g. 0.9).
    seed
        Seed of the assignment of blocks to folds.
    units
        Units of AGB, RMSE and bias.
    """

    table: pd.DataFrame
    predictions: pd.DataFrame
    block_m: float
    n_blocks: int
    folds: int
    interval: float
    seed: int
    units: str = AGB_UNITS

    @property
    def pooled(self) -> dict[str, float]:
        """The pooled metrics (last row of :attr:`table`) as a dict."""
        row = self.table.iloc[-1]
        return {name: float(row[name]) for name in _METRIC_COLUMNS}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record for the ledger (NaN written as null).

        Returns
        -------
        dict
            ``method``, ``units``, ``block_m``, ``n_blocks``, ``folds``,
            ``interval``, ``seed``, ``pooled`` (metrics) and ``per_fold`` (list
            of metrics with the fold label).
        """

        def row_dict(row: pd.Series) -> dict[str, Any]:
            out: dict[str, Any] = {"fold": str(row["fold"])}
            for name in ("n", "n_blocks"):
                out[name] = int(row[name])
            for name in ("r2", "rmse_mg_ha", "relative_rmse", "bias_mg_ha", "coverage"):
                value = float(row[name])
                out[name] = value if math.isfinite(value) else None
            return out

        rows = [row_dict(row) for _, row in self.table.iterrows()]
        return {
            "method": "spatial block cross-validation (GroupKFold on square blocks)",
            "units": self.units,
            "block_m": self.block_m,
            "n_blocks": self.n_blocks,
            "folds": self.folds,
            "interval": self.interval,
            "seed": self.seed,
            "pooled": rows[-1],
            "per_fold": rows[:-1],
        }


def _metrics(
    observed: FloatArray, predicted: FloatArray, lower: FloatArray, upper: FloatArray
) -> dict[str, float]:
    error = predicted - observed
    n = observed.size
    sse = float((error**2).sum())
    sst = float(((observed - observed.mean()) ** 2).sum())
    rmse = math.sqrt(sse / n)
    mean_observed = float(observed.mean())
    return {
        "n": float(n),
        "r2": 1.0 - sse / sst if sst > 0 else math.nan,
        "rmse_mg_ha": rmse,
        "relative_rmse": rmse / mean_observed if mean_observed > 0 else math.nan,
        "bias_mg_ha": float(error.mean()),
        "coverage": float(((observed >= lower) & (observed <= upper)).mean()),
    }


def _take(X: Any, rows: npt.NDArray[np.intp]) -> Any:
    if isinstance(X, pd.DataFrame):
        return X.iloc[rows]
    return np.asarray(X)[rows]


def _held_out(
    estimator_factory: Callable[[], _IntervalEstimator],
    X_train: Any,
    y_train: FloatArray,
    X_test: Any,
    *,
    interval: float,
) -> tuple[Any, Any, Any]:
    """One fold: a new estimator fitted on the training plots, its mean and interval on the rest."""
    estimator = estimator_factory()
    estimator.fit(X_train, y_train)
    return predict_with_interval(estimator, X_test, interval=interval)


def _prediction(values: Any, n: int, what: str, fold: int) -> FloatArray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size != n:
        raise ModelError(
            f"fold {fold}: the estimator's {what} has {array.size} values for {n} plots",
            fix="check the estimator's predict/predict_interval",
        )
    if not np.isfinite(array).all():
        raise ModelError(
            f"fold {fold}: the estimator's {what} has missing or infinite values",
            fix="check the held-out plots' features (NaN?) and the estimator",
        )
    return array


def spatial_cross_validate(
    estimator_factory: Callable[[], _IntervalEstimator],
    X: npt.ArrayLike | pd.DataFrame,
    y: npt.ArrayLike,
    x: npt.ArrayLike,
    y_coord: npt.ArrayLike,
    *,
    block_m: float,
    folds: int = 5,
    interval: float = 0.9,
    seed: int = 0,
    executor: Executor | None = None,
) -> CrossValidation:
    """Spatial block cross-validation of an AGB estimator with prediction intervals.

    Parameters
    ----------
    estimator_factory
        Called once per fold; returns a fresh, unfitted estimator with
        ``fit(X, y)``, ``predict(X)`` and ``predict_interval(X, interval=)``.
    X
        Features at the plots, n × p (array or DataFrame; a DataFrame is
        passed to the estimator as a DataFrame).
    y
        Observed AGB at the plots, Mg DM/ha.
    x, y_coord
        Plot coordinates in the (projected) analysis CRS, m.
    block_m
        Side of the square blocks (see :func:`default_block_size`), m.
    folds
        Number of folds (≥ 2).
    interval
        Nominal coverage of the prediction intervals, in (0, 1).
    seed
        Seed of the permutation of block labels that breaks ties when
        blocks are balanced over folds; the same seed gives the same folds.
    executor
        Fits the folds in parallel (a process pool or a Dask client's
        ``get_executor()``; ``estimator_factory`` must then pickle, e.g. a
        ``functools.partial`` of :func:`~carbonsink.biomass.estimators.make_estimator`).
        ``None`` fits them here. The results do not depend on it.

    Returns
    -------
    CrossValidation

    Raises
    ------
    ConfigError
        ``folds`` < 2, ``interval`` outside (0, 1), or ``block_m`` ≤ 0.
    InputError
        Lengths differ; missing AGB or coordinates; fewer plots or blocks
        with plots than folds (the message says how many are needed).
    ModelError
        An estimator returns missing values or inverted intervals.

    Notes
    -----
    Plots are grouped in square blocks of side ``block_m`` anchored at the
    CRS origin (:func:`carbonsink.spatial.blocks.block_ids`); the block
    labels are permuted with ``numpy.random.default_rng(seed)`` and whole
    blocks are put into folds of balanced size, as scikit-learn's
    ``GroupKFold`` (no shuffling) does
    (:func:`carbonsink.spatial.blocks.block_folds`). Each fold is predicted
    by a model fitted to the other folds. With ê = ŷ − y over the n held-out
    plots of a fold (or of all folds, "pooled"):

    * R² = 1 − Σ ê² / Σ (y − ȳ)²;
    * RMSE = √(Σ ê² / n); relative RMSE = RMSE / ȳ;
    * bias = Σ ê / n (mean predicted − observed);
    * coverage = share of plots with lower ≤ y ≤ upper, to compare with the
      nominal ``interval``.

    (Roberts et al. 2017, *Ecography* 40:913; Meyer & Pebesma 2021,
    *Methods Ecol. Evol.* 12:1620; docs/methodology.md §2.) The pooled R² is
    computed from all held-out predictions, not averaged over folds.
    """
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 2:
        raise ConfigError(
            f"folds {folds!r} is not a whole number ≥ 2",
            fix="use e.g. folds=5 (--cv-folds)",
        )
    if not (isinstance(interval, float | int) and 0.0 < float(interval) < 1.0):
        raise ConfigError(
            f"interval {interval!r} is not a probability in (0, 1)",
            fix="use e.g. interval=0.9 for 90 % prediction intervals",
        )
    if not (math.isfinite(block_m) and block_m > 0):
        raise ConfigError(
            f"block size {block_m!r} m is not a positive distance",
            fix="give the block side in metres, e.g. 200 (--cv-block-m)",
        )
    folds = int(folds)
    xs, ys, observed = point_values(x, y_coord, y, what="AGB", noun="plot")
    n = observed.size
    features = X if isinstance(X, pd.DataFrame) else np.asarray(X)
    if features.ndim != 2 or features.shape[0] != n:
        raise InputError(
            f"the features have shape {features.shape}; expected ({n}, p) — one row per plot",
            fix="give one feature row per plot, in the same order as the AGB values",
        )
    if n < folds:
        raise InputError(
            f"spatial CV with {folds} folds needs at least {folds} plots; {n} given",
            fix="add plots or use fewer folds (--cv-folds)",
        )
    block = block_ids(xs, ys, block_m=block_m)
    n_blocks = int(block.max()) + 1
    if n_blocks < folds:
        raise InputError(
            f"spatial CV with {folds} folds needs at least {folds} blocks with plots; "
            f"the {n} plots fall in {n_blocks} block(s) of {block_m:g} m",
            fix="use --cv-block-m smaller or fewer folds (--cv-folds)",
        )
    fold = block_folds(block, n_folds=folds, seed=seed)
    predicted = np.empty(n)
    lower = np.empty(n)
    upper = np.empty(n)
    splits = [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(folds)]
    tasks = [
        (estimator_factory, _take(features, train), observed[train], _take(features, test))
        for train, test in splits
    ]
    if executor is None:
        outputs = [_held_out(*task, interval=float(interval)) for task in tasks]
    else:
        futures = [executor.submit(_held_out, *task, interval=float(interval)) for task in tasks]
        outputs = [future.result() for future in futures]
    for f, ((train, test), (mean, low, high)) in enumerate(zip(splits, outputs, strict=True)):
        predicted[test] = _prediction(mean, test.size, "prediction", f)
        lower[test] = _prediction(low, test.size, "lower bound", f)
        upper[test] = _prediction(high, test.size, "upper bound", f)
        if (lower[test] > upper[test]).any():
            raise ModelError(
                f"fold {f}: the estimator's interval has lower > upper",
                fix="check the estimator's predict_interval",
            )
        logger.debug("fold %d: %d training plots, %d held out", f, train.size, test.size)

    rows = []
    for f in range(folds):
        member = fold == f
        metrics = _metrics(observed[member], predicted[member], lower[member], upper[member])
        rows.append({"fold": str(f), "n_blocks": int(np.unique(block[member]).size), **metrics})
    pooled = _metrics(observed, predicted, lower, upper)
    rows.append({"fold": "pooled", "n_blocks": n_blocks, **pooled})
    table = pd.DataFrame(rows)
    table["n"] = table["n"].astype(np.int64)
    table = table[["fold", *_METRIC_COLUMNS]]
    index = (
        pd.Index(X.index, name="sample")
        if isinstance(X, pd.DataFrame)
        else pd.RangeIndex(n, name="sample")
    )
    predictions = pd.DataFrame(
        {
            "x": xs,
            "y": ys,
            "observed": observed,
            "predicted": predicted,
            "lower": lower,
            "upper": upper,
            "covered": (observed >= lower) & (observed <= upper),
            "fold": fold,
            "block": block,
        },
        index=index,
    )
    logger.info(
        "spatial CV (%d folds, %d blocks of %g m, %d plots): R² %.3f, RMSE %.3g %s, "
        "bias %.3g, %.0f %% interval coverage %.2f",
        folds,
        n_blocks,
        block_m,
        n,
        pooled["r2"],
        pooled["rmse_mg_ha"],
        AGB_UNITS,
        pooled["bias_mg_ha"],
        100 * interval,
        pooled["coverage"],
    )
    return CrossValidation(
        table=table,
        predictions=predictions,
        block_m=float(block_m),
        n_blocks=n_blocks,
        folds=folds,
        interval=float(interval),
        seed=int(seed),
    )


# ------------------------------------------------------------------ figure
def plot_predicted_vs_observed(cv: CrossValidation, path: str | os.PathLike[str]) -> Path:
    """Write the predicted-vs-observed figure of a cross-validation as a PNG.

    Parameters
    ----------
    cv
        From :func:`spatial_cross_validate`.
    path
        Output PNG; written atomically (rendered in memory, then renamed).

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    Held-out predictions against observations with their prediction
    intervals as vertical bars and the 1:1 line; the title gives the pooled
    R² and RMSE (see :func:`spatial_cross_validate`). Drawn on a
    :class:`matplotlib.figure.Figure` with the Agg canvas, never through
    ``pyplot``, so no global figure state is touched.
    """
    frame = cv.predictions
    observed = frame["observed"].to_numpy(dtype=np.float64)
    predicted = frame["predicted"].to_numpy(dtype=np.float64)
    lower = frame["lower"].to_numpy(dtype=np.float64)
    upper = frame["upper"].to_numpy(dtype=np.float64)
    pooled = cv.pooled
    figure = Figure(figsize=(5.5, 5.0), dpi=120, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.errorbar(
        observed,
        predicted,
        yerr=np.vstack([predicted - lower, upper - predicted]),
        fmt="o",
        markersize=3.5,
        color="#1f6f4a",
        ecolor="#8fbfa6",
        elinewidth=0.8,
        capsize=0,
        label=f"held-out plots, {100 * cv.interval:.0f} % interval",
    )
    top = float(max(upper.max(), observed.max(), predicted.max()))
    bottom = float(min(lower.min(), observed.min(), predicted.min(), 0.0))
    axes.plot([bottom, top], [bottom, top], color="0.3", linestyle="--", linewidth=1, label="1:1")
    axes.set_xlim(bottom, top * 1.02)
    axes.set_ylim(bottom, top * 1.02)
    axes.set_aspect("equal")
    axes.set_xlabel(f"Observed AGB ({cv.units})")
    axes.set_ylabel(f"Predicted AGB ({cv.units})")
    r2_text = f"{pooled['r2']:.2f}" if math.isfinite(pooled["r2"]) else "n/a"
    axes.set_title(
        f"Spatial block CV ({cv.folds} folds, {cv.block_m:g} m blocks)\n"
        f"R² = {r2_text}, RMSE = {pooled['rmse_mg_ha']:.3g} {cv.units}, n = {int(pooled['n'])}",
        fontsize=10,
    )
    axes.legend(loc="upper left", fontsize=8, frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return Path(path)
