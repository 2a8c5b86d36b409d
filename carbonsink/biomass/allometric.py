"""Allometric biomass estimator: per-class log-log fit on height, with Duan smearing.

``"allometric"`` in the registry (:mod:`carbonsink.biomass.estimators`):
:class:`AllometricRegressor` fits ln(AGB) on ln(height) per vegetation class,
back-transforms the mean with Duan's smearing factor and the interval from
the log scale. It is deterministic and uses only the height (and class) column.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from carbonsink.biomass.intervals import interval_quantiles
from carbonsink.errors import InputError, ModelError

__all__ = ["MIN_CLASS_SAMPLES", "AllometricRegressor"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Fewest samples a class needs for its own allometric fit (two coefficients + one
#: degree of freedom for the residual variance); smaller classes use the pooled fit.
MIN_CLASS_SAMPLES = 3


class AllometricRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Per-class log-log allometry of biomass on a height metric (``"allometric"``).

    Parameters
    ----------
    height_column
        Index of the column of ``X`` holding the height metric (e.g. the plot's
        mean LiDAR canopy height in m). The other columns are ignored.
    class_column
        Index of the column holding integer vegetation-class codes, or ``None``
        for one pooled model.
    min_height
        Heights below this are raised to it before the logarithm (a LiDAR height
        of 0 or a small negative one over bare mud must not give log 0).

    Attributes
    ----------
    class_codes_ : ndarray of int
        Classes with their own fit (at least 3 samples and a spread of heights).
    intercepts_, slopes_ : ndarray
        a_c and b_c of those classes.
    smearing_ : ndarray
        Duan's smearing factor of each class.
    residual_sd_ : ndarray
        Residual standard deviation s_c on the log scale (n_c − 2 degrees of freedom).
    n_class_samples_ : ndarray of int
        Samples of each class.
    log_height_mean_, log_height_sxx_ : ndarray
        Mean of ln h and Σ (ln h − mean)² of each class (for the interval's leverage term).
    pooled_intercept_, pooled_slope_, pooled_smearing_, pooled_residual_sd_ : float
        The same for the fit on all samples, used for classes with fewer than 3
        samples, classes without a spread of heights, and classes unseen in ``fit``.
    pooled_n_samples_ : int
    pooled_log_height_mean_, pooled_log_height_sxx_ : float
    n_features_in_ : int
        Number of features seen in ``fit``.

    Notes
    -----
    Model, per class c (ordinary least squares on the log scale):

        ln(AGB) = a_c + b_c ln(h) + ε,   Var ε = σ_c².

    Log-log (power-law) allometry is the standard form for biomass: for trees
    AGB = 0.0673 (ρ D² H)^0.976 (Chave et al. 2014, Global Change Biology
    20:3177–3190, fitted as a linear model on logs); for emergent marsh grasses
    biomass is predicted from shoot height with power-law allometry (Morris &
    Haskin 1990, Ecology 71:2209–2217, Spartina alterniflora), and plot-level
    LiDAR canopy height plays the same role for reed and Miscanthus stands.

    Back-transforming exp(â + b̂ ln h) gives the conditional median, which
    underestimates the mean (Baskerville 1972, Can. J. For. Res. 2:49–53). The
    mean is estimated with Duan's smearing estimator (Duan 1983, JASA
    78:605–610), which does not assume normal residuals:

        Ê[AGB | h] = exp(â_c + b̂_c ln h) · (1/n_c) Σ_i exp(e_i),

    e_i being the log-scale residuals of class c. For normal residuals the
    smearing factor tends to exp(σ²/2), the lognormal mean correction.

    Interval: the classical prediction interval of simple linear regression
    on the log scale, back-transformed (quantiles are preserved by exp):

        exp( â_c + b̂_c x ± t_(1−α/2, n_c−2) · s_c · √(1 + 1/n_c + (x − x̄_c)² / S_xx,c) ),

    with x = ln h, α = 1 − interval (e.g. Draper & Smith 1998, Applied
    Regression Analysis, 3rd ed., §3.1).
    """

    def __init__(
        self,
        height_column: int = 0,
        class_column: int | None = None,
        min_height: float = 0.05,
    ) -> None:
        self.height_column = height_column
        self.class_column = class_column
        self.min_height = min_height

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # The model needs AGB > 0 (a logarithm is taken).
        tags.target_tags.positive_only = True
        # It uses one column of X only, so on the generic multi-feature data of the
        # scikit-learn checks its R² is low by design.
        tags.regressor_tags.poor_score = True
        return tags

    def _check_columns(self, n_features: int) -> None:
        for label, column in (
            ("height_column", self.height_column),
            ("class_column", self.class_column),
        ):
            if column is None and label == "class_column":
                continue
            if (
                isinstance(column, bool)
                or not isinstance(column, int | np.integer)
                or not 0 <= column < n_features
            ):
                raise ValueError(
                    f"{label}={column!r} is not a column of X, which has {n_features} column(s); "
                    f"give a column index from 0 to {n_features - 1}"
                )
        if self.class_column is not None and self.class_column == self.height_column:
            raise ValueError(
                f"height_column and class_column are both {self.height_column}; "
                "they must name different columns"
            )
        if not np.isfinite(self.min_height) or self.min_height <= 0:
            raise ValueError(f"min_height must be a positive number, got {self.min_height!r}")

    def _log_height(self, X: FloatArray) -> FloatArray:
        return np.log(np.maximum(X[:, self.height_column], self.min_height))

    def _class_codes(self, X: FloatArray) -> npt.NDArray[np.int64] | None:
        if self.class_column is None:
            return None
        codes = X[:, self.class_column]
        not_integer = codes != np.round(codes)
        if not_integer.any():
            row = int(np.flatnonzero(not_integer)[0])
            raise InputError(
                f"class column {self.class_column} holds {float(codes[row]):g}, "
                "not an integer class code",
                where=f"row {row}",
                fix="give the vegetation class as an integer code, or set class_column=None",
            )
        return codes.astype(np.int64)

    def fit(self, X: Any, y: Any) -> AllometricRegressor:
        """Fit ln(AGB) on ln(height) per class (and pooled), with smearing factors.

        Parameters
        ----------
        X
            Features, shape (n_samples, n_features); the height and class columns
            are used.
        y
            Biomass, shape (n_samples,), every value > 0.

        Returns
        -------
        AllometricRegressor
            ``self``.

        Raises
        ------
        InputError
            When a biomass value is ≤ 0 (no logarithm), or a class code is not an
            integer. InputError is a ValueError, as scikit-learn expects.
        ValueError
            With fewer than 3 samples, or a column index outside X.
        ModelError
            When all heights are equal (after clipping to ``min_height``): no slope
            can be fitted.
        """
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        n_samples = X.shape[0]
        if n_samples < MIN_CLASS_SAMPLES:
            raise ValueError(
                f"the allometric model needs at least {MIN_CLASS_SAMPLES} samples, "
                f"got n_samples = {n_samples}"
            )
        self._check_columns(X.shape[1])
        not_positive = ~(y > 0)
        if not_positive.any():
            rows = np.flatnonzero(not_positive)
            raise InputError(
                f"the allometric model takes log(AGB) and needs AGB > 0, but {rows.size} "
                f"value(s) are ≤ 0 (first: {float(y[rows[0]]):g})",
                where=f"row {int(rows[0])}",
                fix="drop or correct plots with zero or negative biomass, or choose a "
                "biomass model that accepts them (e.g. quantile-forest)",
            )
        log_height = self._log_height(X)
        log_agb = np.log(y)
        pooled = _log_linear_fit(log_height, log_agb)
        if pooled is None:
            raise ModelError(
                f"all {n_samples} heights are equal (after raising them to min_height="
                f"{self.min_height}), so no allometric slope can be fitted",
                fix="check the height column, or use a model that does not need a height gradient",
            )
        (
            self.pooled_intercept_,
            self.pooled_slope_,
            self.pooled_smearing_,
            self.pooled_residual_sd_,
            self.pooled_log_height_mean_,
            self.pooled_log_height_sxx_,
        ) = pooled
        self.pooled_n_samples_ = n_samples

        codes = self._class_codes(X)
        fits: list[tuple[int, int, tuple[float, ...]]] = []
        if codes is not None:
            for code in np.unique(codes):
                members = codes == code
                n_members = int(members.sum())
                fit = (
                    _log_linear_fit(log_height[members], log_agb[members])
                    if n_members >= MIN_CLASS_SAMPLES
                    else None
                )
                if fit is None:
                    logger.info(
                        "allometric class %d (%d sample(s)) uses the pooled fit: it needs at "
                        "least %d samples with a spread of heights",
                        code,
                        n_members,
                        MIN_CLASS_SAMPLES,
                    )
                    continue
                fits.append((int(code), n_members, fit))
        self.class_codes_ = np.array([code for code, _, _ in fits], dtype=np.int64)
        self.n_class_samples_ = np.array([n for _, n, _ in fits], dtype=np.int64)
        columns = np.array([fit for _, _, fit in fits], dtype=np.float64).reshape(-1, 6)
        (
            self.intercepts_,
            self.slopes_,
            self.smearing_,
            self.residual_sd_,
            self.log_height_mean_,
            self.log_height_sxx_,
        ) = (columns[:, i].copy() for i in range(6))
        return self

    def _coefficients(self, X: FloatArray) -> dict[str, FloatArray]:
        """Per-row coefficients: the row's class fit, or the pooled fit."""
        n_rows = X.shape[0]
        own = np.full(n_rows, -1, dtype=np.int64)
        codes = self._class_codes(X)
        if codes is not None and self.class_codes_.size:
            position = np.searchsorted(self.class_codes_, codes)
            position = np.clip(position, 0, self.class_codes_.size - 1)
            known = self.class_codes_[position] == codes
            own[known] = position[known]
        use_class = own >= 0
        index = np.where(use_class, own, 0)

        def pick(per_class: npt.NDArray[Any], pooled: float) -> FloatArray:
            if not per_class.size:
                return np.full(n_rows, float(pooled))
            return np.where(use_class, per_class[index].astype(np.float64), float(pooled))

        return {
            "intercept": pick(self.intercepts_, self.pooled_intercept_),
            "slope": pick(self.slopes_, self.pooled_slope_),
            "smearing": pick(self.smearing_, self.pooled_smearing_),
            "residual_sd": pick(self.residual_sd_, self.pooled_residual_sd_),
            "n": pick(self.n_class_samples_, self.pooled_n_samples_),
            "mean": pick(self.log_height_mean_, self.pooled_log_height_mean_),
            "sxx": pick(self.log_height_sxx_, self.pooled_log_height_sxx_),
        }

    def predict(self, X: Any) -> FloatArray:
        """Mean biomass on the original scale: exp(a_c + b_c ln h) × smearing factor."""
        check_is_fitted(self, "pooled_slope_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        coef = self._coefficients(X)
        log_median = coef["intercept"] + coef["slope"] * self._log_height(X)
        return np.exp(log_median) * coef["smearing"]

    def predict_interval(self, X: Any, *, interval: float = 0.90) -> tuple[FloatArray, FloatArray]:
        """Back-transformed log-scale prediction interval (see the class Notes).

        Parameters
        ----------
        X
            Features, shape (n_samples, n_features).
        interval
            Nominal coverage, strictly between 0 and 1.

        Returns
        -------
        tuple of ndarray
            ``(lower, upper)``, each of shape (n_samples,), both > 0.
        """
        _, high_q = interval_quantiles(interval)
        check_is_fitted(self, "pooled_slope_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        coef = self._coefficients(X)
        log_height = self._log_height(X)
        centre = coef["intercept"] + coef["slope"] * log_height
        leverage = 1.0 / coef["n"] + (log_height - coef["mean"]) ** 2 / coef["sxx"]
        t_value = stats.t.ppf(high_q, coef["n"] - 2.0)
        half_width = t_value * coef["residual_sd"] * np.sqrt(1.0 + leverage)
        return np.exp(centre - half_width), np.exp(centre + half_width)


def _log_linear_fit(
    log_height: FloatArray, log_agb: FloatArray
) -> tuple[float, float, float, float, float, float] | None:
    """OLS of ln AGB on ln h: (a, b, smearing factor, s, mean ln h, S_xx); None without spread."""
    n = log_height.size
    mean_x = float(log_height.mean())
    centred = log_height - mean_x
    sxx = float(np.sum(centred**2))
    if n < MIN_CLASS_SAMPLES or sxx <= 1e-12 * max(1.0, mean_x**2) * n:
        return None
    slope = float(np.sum(centred * (log_agb - log_agb.mean())) / sxx)
    intercept = float(log_agb.mean() - slope * mean_x)
    residuals = log_agb - (intercept + slope * log_height)
    smearing = float(np.mean(np.exp(residuals)))
    residual_sd = float(np.sqrt(np.sum(residuals**2) / (n - 2)))
    return intercept, slope, smearing, residual_sd, mean_x, sxx
