"""The SOC spatial model: an optional regression trend plus local ordinary kriging.

Both the SOC map (:func:`carbonsink.soil.soc_map.predict_soc`) and its
cross-validation (:func:`carbonsink.soil.soc_cross_validation.cross_validate_soc`)
fit the same model to core stocks (docs/methodology.md §3):

* :func:`fit_soc_model` fits the trend (regression kriging) and the variogram
  of what it leaves, and gives a :class:`SocModel` that predicts values and
  prediction variances anywhere;
* :func:`check_core_stocks` checks the cores, and :func:`check_soc_options`,
  :func:`check_choice`, :func:`interval_z` and :func:`measurement_variances`
  check and convert the options both share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm

from carbonsink.errors import ConfigError, InputError, ModelError
from carbonsink.soil.local_kriging import LocalOrdinaryKriging
from carbonsink.soil.regression import RegressionDesign, RegressionFit, fit_regression
from carbonsink.spatial.points import (
    point_values,
    positions_text,
    require_distinct_locations,
    require_non_negative,
)
from carbonsink.spatial.variogram import (
    MIN_POINTS_VARIOGRAM,
    EmpiricalVariogram,
    VariogramModel,
    VariogramName,
    check_variogram_name,
    empirical_variogram,
    fit_variogram,
)

__all__ = [
    "SOC_METHODS",
    "SOC_UNITS",
    "SOC_VARIANCE_UNITS",
    "SocMethod",
    "SocModel",
    "check_choice",
    "check_core_stocks",
    "check_soc_options",
    "fit_soc_model",
    "interval_z",
    "measurement_variances",
]

FloatArray = npt.NDArray[np.float64]

SocMethod = Literal["regression-kriging", "ordinary-kriging"]

#: The spatial prediction methods of the SOC map.
SOC_METHODS: Final[tuple[str, ...]] = get_args(SocMethod)
#: Units of a SOC stock density.
SOC_UNITS: Final = "Mg C/ha"
#: Units of the variance of a SOC stock density (and of semivariances).
SOC_VARIANCE_UNITS: Final = "(Mg C/ha)^2"


# ----------------------------------------------------------------- options
def check_choice(value: object, choices: Sequence[str], *, what: str) -> None:
    """Refuse an option that is not one of its valid choices.

    Parameters
    ----------
    value
        The option given.
    choices
        The valid values.
    what
        Name of the option in the message, e.g. ``"SOC prediction method"``.

    Raises
    ------
    ConfigError
        ``value`` is not one of ``choices``; the message lists them.
    """
    if not isinstance(value, str) or value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ConfigError(
            f"unknown {what} {value!r}; valid: {valid}",
            fix=f"set the {what} to one of {valid}",
        )


def check_soc_options(method: object, n_neighbours: object, variogram_model: object) -> None:
    """Check the options the SOC map and its cross-validation share.

    Parameters
    ----------
    method
        One of :data:`SOC_METHODS`.
    n_neighbours
        Nearest cores per kriged point, a whole number ≥ 1.
    variogram_model
        A :class:`~carbonsink.spatial.variogram.VariogramModel` or the name
        of a model to fit.

    Raises
    ------
    ConfigError
        An unknown method or variogram name, or a bad ``n_neighbours``.
    """
    check_choice(method, SOC_METHODS, what="SOC prediction method")
    if not isinstance(variogram_model, VariogramModel):
        check_variogram_name(variogram_model)
    if isinstance(n_neighbours, bool) or not (
        isinstance(n_neighbours, int | np.integer) and n_neighbours >= 1
    ):
        raise ConfigError(
            f"n_neighbours {n_neighbours!r} is not a whole number ≥ 1",
            fix="use e.g. 32 nearest cores per cell",
        )


def interval_z(interval: float) -> float:
    """The standard normal quantile z₁₋α/₂ of a central prediction interval.

    Parameters
    ----------
    interval
        Central probability 1 − α, in (0, 1), e.g. 0.90.

    Returns
    -------
    float
        Φ⁻¹(0.5 + interval / 2), e.g. 1.6449 for 0.90.

    Raises
    ------
    ConfigError
        ``interval`` is not a number strictly between 0 and 1.
    """
    if not (isinstance(interval, int | float) and 0 < interval < 1):
        raise ConfigError(
            f"interval {interval!r} is not a probability between 0 and 1",
            fix="give the central interval as a fraction, e.g. 0.90",
        )
    return float(norm.ppf(0.5 + interval / 2.0))


def check_core_stocks(
    x: npt.ArrayLike, y: npt.ArrayLike, values: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validated float64 copies of core coordinates and SOC stocks, as kriging needs them.

    Parameters
    ----------
    x, y
        Core coordinates in a projected CRS, m.
    values
        One SOC stock per core, Mg C/ha.

    Returns
    -------
    x, y, stocks
        1-D float64 arrays of equal length.

    Raises
    ------
    InputError
        Lengths differ; a coordinate or stock is missing or infinite; a
        stock is negative; two cores share a location (a kriging system is
        singular there). The message gives the positions.
    """
    xs, ys, zs = point_values(x, y, values, what="SOC stock", noun="core", units=SOC_UNITS)
    require_non_negative(zs, what="SOC stock", noun="core", units=SOC_UNITS)
    require_distinct_locations(xs, ys, noun="core")
    return xs, ys, zs


def measurement_variances(value_se: npt.ArrayLike | None, n: int) -> FloatArray:
    """Measurement variances se² of n core stocks from their standard errors.

    Parameters
    ----------
    value_se
        Standard error of each core stock, Mg C/ha, or ``None`` for exact values.
    n
        Number of cores.

    Returns
    -------
    numpy.ndarray
        n float64 variances, (Mg C/ha)²; zeros when ``value_se`` is ``None``.

    Raises
    ------
    InputError
        ``value_se`` has another length than n, or a missing or negative entry.
    """
    if value_se is None:
        return np.zeros(n, dtype=np.float64)
    se = np.array(value_se, dtype=np.float64, ndmin=1).ravel()
    if se.size != n:
        raise InputError(
            f"value_se has {se.size} entries for {n} points",
            fix="give one standard error per core, or none",
        )
    bad = ~(np.isfinite(se) & (se >= 0))
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} standard error(s) in value_se are missing or negative",
            where=positions_text(np.flatnonzero(bad)),
            fix=f"give each core's stock standard error in {SOC_UNITS}, ≥ 0",
        )
    return se**2


# ------------------------------------------------------------------- model
@dataclass(frozen=True)
class SocModel:
    """A fitted SOC model: optional regression trend + local OK of the residuals.

    Attributes
    ----------
    method
        ``"regression-kriging"`` or ``"ordinary-kriging"``.
    variogram
        The variogram as fitted or given (its nugget includes the
        measurement variance of the cores).
    kriging
        Local ordinary kriging of the values (ordinary kriging) or of the
        regression residuals, with the process variogram.
    regression
        The trend, ``None`` for ordinary kriging.
    measurement_variance_mean
        Mean se² of the cores, (Mg C/ha)², taken out of the nugget.
    empirical
        The experimental variogram the model was fitted to (of the values, or
        of the regression residuals); ``None`` when the variogram was given.
    """

    method: SocMethod
    variogram: VariogramModel
    kriging: LocalOrdinaryKriging
    regression: RegressionFit | None
    measurement_variance_mean: float
    empirical: EmpiricalVariogram | None = None

    def predict(
        self,
        xq: FloatArray,
        yq: FloatArray,
        design_rows: FloatArray | None,
        *,
        point_support: bool,
    ) -> tuple[FloatArray, FloatArray]:
        """Predicted stock and prediction variance at query points.

        Parameters
        ----------
        xq, yq
            Query point coordinates, m.
        design_rows
            Regression design rows at the query points
            (:meth:`~carbonsink.soil.regression.RegressionDesign.matrix`);
            ``None`` for ordinary kriging.
        point_support
            Predict a point measurement (``True``) or a cell value
            (``False``); see :meth:`LocalOrdinaryKriging.predict
            <carbonsink.soil.local_kriging.LocalOrdinaryKriging.predict>`.

        Returns
        -------
        prediction, variance
            Trend + kriged residual and σ²_OK + σ̂² x₀ᵀ(XᵀX)⁻¹x₀ (regression
            kriging), or the kriged value and σ²_OK (ordinary kriging).
        """
        residual, variance = self.kriging.predict(xq, yq, point_support=point_support)
        if self.regression is None:
            return residual, variance
        assert design_rows is not None
        trend, trend_variance = self.regression.predict(design_rows)
        return trend + residual, variance + trend_variance


def _needed_points(method: SocMethod, n_terms: int, fitting: bool) -> int:
    kriging = MIN_POINTS_VARIOGRAM if fitting else 1
    return (n_terms + kriging) if method == "regression-kriging" else max(kriging, 1)


def fit_soc_model(
    xs: FloatArray,
    ys: FloatArray,
    zs: FloatArray,
    covariates: pd.DataFrame | None,
    *,
    method: SocMethod,
    categorical: Sequence[str],
    variogram_model: VariogramName | VariogramModel,
    n_neighbours: int,
    noise_var: FloatArray,
) -> SocModel:
    """Fit the SOC model to validated core stocks.

    Parameters
    ----------
    xs, ys, zs
        Core coordinates (m, distinct) and stocks (Mg C/ha), validated
        (:func:`carbonsink.spatial.points.point_values`).
    covariates
        Numeric covariates at the cores
        (:func:`~carbonsink.soil.regression.numeric_covariates`); required
        for regression kriging, ignored by ordinary kriging.
    method
        ``"regression-kriging"`` or ``"ordinary-kriging"``.
    categorical
        Covariate columns holding class codes (one-hot encoded).
    variogram_model
        A model name to fit to the values or residuals, or a fixed
        :class:`~carbonsink.spatial.variogram.VariogramModel`.
    n_neighbours
        Nearest cores used for each kriged point.
    noise_var
        Measurement variance se² of each core (:func:`measurement_variances`).

    Returns
    -------
    SocModel

    Raises
    ------
    InputError
        Too few cores: p + 10 for regression kriging with p terms and a
        fitted variogram (p + 1 with a fixed one), 10 for ordinary kriging
        with a fitted variogram (1 with a fixed one).
    ModelError
        Collinear covariates, a variogram that cannot be fitted, or a sill
        no larger than the mean measurement variance.

    Notes
    -----
    The measurement variance is taken out of the nugget: the process
    variogram has nugget max(c₀ − mean se², 0), and each core's se² is added
    to the diagonal of its kriging systems (see
    :func:`carbonsink.soil.soc_map.predict_soc`).
    """
    fitting = not isinstance(variogram_model, VariogramModel)
    regression: RegressionFit | None = None
    residuals = zs
    if method == "regression-kriging":
        assert covariates is not None
        design = RegressionDesign.from_points(covariates, categorical)
        needed = _needed_points(method, len(design.terms), fitting)
        if xs.size < needed:
            raise InputError(
                f"regression kriging with {len(design.terms)} regression terms "
                f"({', '.join(design.terms)}) needs at least {needed} points; {xs.size} given",
                fix="sample more cores, use fewer covariates, or method='ordinary-kriging'",
            )
        columns = {c: covariates[c].to_numpy(dtype=np.float64) for c in covariates.columns}
        x = design.matrix(columns)
        regression = fit_regression(design, x, zs)
        residuals = zs - x @ regression.coefficients
    else:
        needed = _needed_points(method, 0, fitting)
        if xs.size < needed:
            raise InputError(
                f"ordinary kriging with a fitted variogram needs at least {needed} points; "
                f"{xs.size} given",
                fix="sample more cores, or give a fixed VariogramModel",
            )
    empirical = None
    if isinstance(variogram_model, VariogramModel):
        variogram = variogram_model
    else:
        check_variogram_name(variogram_model)
        empirical = empirical_variogram(xs, ys, residuals)
        variogram = fit_variogram(empirical, model=variogram_model)
    measurement = float(noise_var.mean()) if noise_var.size else 0.0
    process_nugget = max(variogram.nugget - measurement, 0.0)
    if process_nugget + variogram.psill <= 0:
        raise ModelError(
            "the variogram's sill is no larger than the measurement variance of the cores",
            fix="check value_se: it should be the standard error of each core stock",
        )
    process = VariogramModel(
        model=variogram.model,
        nugget=process_nugget,
        psill=variogram.psill,
        range_m=variogram.range_m,
        units=variogram.units,
    )
    kriging = LocalOrdinaryKriging(
        xs, ys, residuals, process, noise_var=noise_var, n_neighbours=n_neighbours
    )
    return SocModel(method, variogram, kriging, regression, measurement, empirical)
