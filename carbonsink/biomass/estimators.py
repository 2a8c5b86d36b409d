"""Biomass estimators with prediction intervals, and the registry the CLI and config reuse.

Every estimator follows the scikit-learn conventions (``__init__`` only stores
its arguments; ``fit`` validates, sets attributes ending in ``_`` and returns
``self``; ``predict`` checks that the model is fitted; randomness only through
``random_state``) and adds one method:

``predict(X)``
    The point prediction: the conditional **mean** of the target, which is what
    totals need (a sum of medians is not the median of a sum).
``predict_interval(X, *, interval=0.90)``
    ``(lower, upper)``: the central ``interval`` prediction interval of a new
    observation, i.e. its ``(1 − interval)/2`` and ``(1 + interval)/2``
    quantiles.

=====================  ===========================  ===========================================
registry name          class                        interval from
=====================  ===========================  ===========================================
``random-forest``      :class:`OOBIntervalForest`   quantiles of out-of-bag residuals
``quantile-forest``    :class:`QuantileForest`      quantile regression forest
``gradient-boosting``  :class:`QuantileBoosting`    two quantile-loss boosting models
``allometric``         :class:`AllometricRegressor` log-scale residual spread, back-transformed
=====================  ===========================  ===========================================

The target is whatever the caller fits (AGB in g m⁻² or Mg ha⁻¹); the
estimators are unit-agnostic. All of them run on one thread (``n_jobs=1``) so
that the pipeline, not the model, decides on parallelism (docs/design.md §6), and a
fixed ``random_state`` gives identical numbers on every run.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from quantile_forest import RandomForestQuantileRegressor
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from carbonsink.errors import ConfigError, InputError, ModelError

__all__ = [
    "ESTIMATORS",
    "AllometricRegressor",
    "IntervalRegressor",
    "OOBIntervalForest",
    "QuantileBoosting",
    "QuantileForest",
    "interval_quantiles",
    "make_estimator",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Fewest samples a class needs for its own allometric fit (two coefficients + one
#: degree of freedom for the residual variance); smaller classes use the pooled fit.
MIN_CLASS_SAMPLES = 3


@runtime_checkable
class IntervalRegressor(Protocol):
    """What every estimator in :data:`ESTIMATORS` provides."""

    def fit(self, X: Any, y: Any) -> IntervalRegressor: ...

    def predict(self, X: Any) -> FloatArray: ...

    def predict_interval(
        self, X: Any, *, interval: float = 0.90
    ) -> tuple[FloatArray, FloatArray]: ...

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...


def interval_quantiles(interval: float) -> tuple[float, float]:
    """The lower and upper quantile levels of a central prediction interval.

    Parameters
    ----------
    interval
        Nominal coverage, strictly between 0 and 1 (0.90 for a 90 % interval).

    Returns
    -------
    tuple of float
        ``((1 − interval)/2, (1 + interval)/2)``, e.g. ``(0.05, 0.95)`` for 0.90.

    Raises
    ------
    ConfigError
        When ``interval`` is not a number strictly between 0 and 1.
    """
    if (
        isinstance(interval, bool)
        or not isinstance(interval, int | float | np.floating)
        or not 0.0 < float(interval) < 1.0
    ):
        raise ConfigError(
            f"the prediction interval must be a number strictly between 0 and 1, got {interval!r}",
            where="[biomass].interval",
            fix="give the nominal coverage as a fraction, e.g. 0.90 for a 90 % interval",
        )
    level = float(interval)
    return (1.0 - level) / 2.0, (1.0 + level) / 2.0


def _as_float(values: Any) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


class OOBIntervalForest(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Random forest whose intervals come from its out-of-bag residuals (``"random-forest"``).

    Parameters
    ----------
    n_estimators
        Number of trees.
    max_features
        Features considered at each split (as in
        :class:`sklearn.ensemble.RandomForestRegressor`; 1.0 = all, Breiman's bagging
        of regression trees).
    min_samples_leaf
        Fewest samples in a leaf. Fully grown trees (1) fit the noise of
        small plot samples; the regression default of Breiman's forest in R
        (``nodesize = 5``, Liaw & Wiener 2002, R News 2(3):18–22) averages a
        rare class with its neighbours in feature space (on the synthetic
        survey, 8 mudflat plots at 0.5 Mg/ha with sedge at 13: mudflat mapped
        at ~4.6 Mg/ha). The default 3 is the smallest that kept the spatial-CV
        interval coverage in 0.85–0.95 there (leaf 3: R² 0.92/0.94, coverage
        0.91/0.93, mapped totals within 7 % inside and outside the LiDAR
        strip; leaf 2 overshot the 2025 LiDAR-strip total by 16 %).
    max_depth
        Maximum tree depth (``None`` = grown until the leaves are pure or minimal).
    random_state
        Seed of the bootstrap and of the feature sampling.
    n_jobs
        Threads for fitting and prediction.

    Attributes
    ----------
    forest_ : RandomForestRegressor
        The fitted forest (``oob_score=True``).
    oob_prediction_ : ndarray of shape (n_samples,)
        Out-of-bag prediction of each training sample (NaN where a sample was in
        the bag of every tree).
    oob_residuals_ : ndarray
        ``y − oob_prediction_`` for every sample that has an out-of-bag prediction.
    oob_score_ : float
        R² of the out-of-bag predictions.
    n_features_in_ : int
        Number of features seen in ``fit``.

    Notes
    -----
    Point prediction: the forest mean ŷ(x) (Breiman 2001, Machine Learning
    45:5–32). Interval: split-conformal on the out-of-bag errors (Johansson,
    Boström, Löfström & Linusson 2014, "Regression conformal prediction with
    random forests", Machine Learning 97:155–176; the out-of-bag form of
    Zhang, Zimmerman, Nettleton & Nordman 2020, The American Statistician
    74:392–406):

        [ŷ(x) − q,  ŷ(x) + q],   q = the ⌈(n + 1)·interval⌉-th smallest |D_i|,

    where D_i = y_i − ŷ_(−i)(x_i), ŷ_(−i) being the mean of the trees whose
    bootstrap sample left out observation i, and n the number of such
    errors. The out-of-bag errors behave like errors on new data, and the
    finite-sample rank gives at least the nominal marginal coverage for
    exchangeable data. A symmetric interval was chosen over the signed
    quantiles [ŷ + D_(α/2), ŷ + D_(1−α/2)] of Zhang et al.: on the synthetic
    survey's spatial block CV the signed form covered 0.87 and 0.83 of the
    held-out plots at 90 %, the symmetric conformal form 0.90 and 0.86. When
    every training target is ≥ 0 (biomass) the lower bound is clipped at 0,
    which changes no interval's coverage of a non-negative value. The
    out-of-bag predictions are computed here from ``estimators_samples_``; a
    sample that no tree left out is dropped rather than given a prediction
    of 0.
    """

    def __init__(
        self,
        n_estimators: int = 300,
        *,
        max_features: float | int | str | None = 1.0,
        min_samples_leaf: int | float = 3,
        max_depth: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.max_depth = max_depth
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any) -> OOBIntervalForest:
        """Fit the forest and collect its out-of-bag residuals.

        Parameters
        ----------
        X
            Features, shape (n_samples, n_features), finite.
        y
            Target, shape (n_samples,).

        Returns
        -------
        OOBIntervalForest
            ``self``.

        Raises
        ------
        ValueError
            When no sample has an out-of-bag prediction (a single sample, or too
            few trees): there is then no residual to build an interval from.
        """
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        forest = RandomForestRegressor(
            n_estimators=self.n_estimators,
            max_features=self.max_features,
            min_samples_leaf=self.min_samples_leaf,
            max_depth=self.max_depth,
            bootstrap=True,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        ).fit(X, y)
        n_samples = X.shape[0]
        total = np.zeros(n_samples)
        count = np.zeros(n_samples)
        for tree, in_bag in zip(forest.estimators_, forest.estimators_samples_, strict=True):
            out_of_bag = np.ones(n_samples, dtype=bool)
            out_of_bag[in_bag] = False
            if out_of_bag.any():
                total[out_of_bag] += tree.predict(X[out_of_bag])
                count[out_of_bag] += 1.0
        has_oob = count > 0
        if not has_oob.any():
            raise ValueError(
                f"no out-of-bag prediction with n_samples = {n_samples} and "
                f"{self.n_estimators} trees: every sample was in every bootstrap sample; "
                "fit on more samples or with more trees"
            )
        oob_prediction = np.full(n_samples, np.nan)
        oob_prediction[has_oob] = total[has_oob] / count[has_oob]
        residuals = y[has_oob] - oob_prediction[has_oob]
        self.nonnegative_ = bool(np.all(y >= 0))
        spread = float(np.sum((y[has_oob] - y[has_oob].mean()) ** 2))
        self.forest_ = forest
        self.oob_prediction_ = oob_prediction
        self.oob_residuals_ = residuals
        self.oob_score_ = 1.0 - float(np.sum(residuals**2)) / spread if spread > 0 else np.nan
        if not has_oob.all():
            logger.debug(
                "%d of %d samples have no out-of-bag prediction (%d trees); their residuals "
                "are left out of the interval",
                int(n_samples - has_oob.sum()),
                n_samples,
                self.n_estimators,
            )
        return self

    def predict(self, X: Any) -> FloatArray:
        """Conditional mean: the average of the trees' predictions."""
        check_is_fitted(self, "forest_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return _as_float(self.forest_.predict(X))

    @property
    def feature_importances_(self) -> FloatArray:
        """Impurity-based importance of each feature (of the fitted forest)."""
        check_is_fitted(self, "forest_")
        return _as_float(self.forest_.feature_importances_)

    def predict_interval(self, X: Any, *, interval: float = 0.90) -> tuple[FloatArray, FloatArray]:
        """Central prediction interval: prediction ± the conformal out-of-bag error quantile.

        Parameters
        ----------
        X
            Features, shape (n_samples, n_features).
        interval
            Nominal coverage, strictly between 0 and 1.

        Returns
        -------
        tuple of ndarray
            ``(lower, upper)``, each of shape (n_samples,).
        """
        interval_quantiles(interval)  # validates the value
        mean = self.predict(X)
        errors = np.sort(np.abs(self.oob_residuals_))
        rank = min(errors.size, math.ceil((errors.size + 1) * float(interval) - 1e-9))
        half_width = float(errors[rank - 1])
        lower = mean - half_width
        if self.nonnegative_:
            lower = np.maximum(lower, 0.0)
        return lower, mean + half_width


class QuantileForest(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Quantile regression forest (``"quantile-forest"``).

    A thin wrapper of :class:`quantile_forest.RandomForestQuantileRegressor` whose
    ``predict`` is the conditional mean and whose ``predict_interval`` gives the
    conditional quantiles of the interval's ends.

    Parameters
    ----------
    n_estimators
        Number of trees.
    max_features
        Features considered at each split (1.0 = all).
    min_samples_leaf
        Fewest samples in a leaf. The default 10 follows ``nodesize = 10`` of
        Meinshausen's quantregForest R package (0.2-2): fully grown trees give
        conditional distributions from too few samples and intervals that are too
        narrow (a 90 % interval covered 75 % of fresh points with leaves of 1 in
        this module's tests, 88 % with 10). With few plots and a rare
        high-biomass class it averages that class away (synthetic survey, 80
        plots of which 13 poplar: spatial-CV R² 0.47 and 0.36 against 0.88 and
        0.94 for ``"random-forest"``), which is why ``[biomass].model``
        defaults to ``"random-forest"``.
    max_depth
        Maximum tree depth.
    random_state
        Seed of the bootstrap and of the feature sampling.
    n_jobs
        Threads for fitting and prediction.

    Attributes
    ----------
    forest_ : RandomForestQuantileRegressor
        The fitted forest. Every training sample in a leaf is kept
        (``max_samples_leaf=None``), as in Meinshausen's definition, rather than
        a random subsample of one per leaf.
    n_features_in_ : int
        Number of features seen in ``fit``.

    Notes
    -----
    Meinshausen (2006, "Quantile regression forests", JMLR 7:983–999): each
    training observation i gets the weight

        w_i(x) = (1/k) Σ_t 1{X_i ∈ L_t(x)} / #{j : X_j ∈ L_t(x)}

    over the k trees t, L_t(x) being the leaf of tree t that x falls in. The
    conditional distribution is F̂(y | x) = Σ_i w_i(x) 1{Y_i ≤ y}; the
    interval's ends are its (1 − interval)/2 and (1 + interval)/2 quantiles and
    the point prediction is its mean Σ_i w_i(x) Y_i (``quantiles="mean"``).
    """

    def __init__(
        self,
        n_estimators: int = 300,
        *,
        max_features: float | int | str | None = 1.0,
        min_samples_leaf: int | float = 10,
        max_depth: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.max_depth = max_depth
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any) -> QuantileForest:
        """Fit the quantile regression forest.

        Parameters
        ----------
        X
            Features, shape (n_samples, n_features), finite.
        y
            Target, shape (n_samples,).

        Returns
        -------
        QuantileForest
            ``self``.
        """
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        self.forest_ = RandomForestQuantileRegressor(
            n_estimators=self.n_estimators,
            max_features=self.max_features,
            min_samples_leaf=self.min_samples_leaf,
            max_depth=self.max_depth,
            max_samples_leaf=None,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        ).fit(X, y)
        return self

    def predict(self, X: Any) -> FloatArray:
        """Conditional mean Σ_i w_i(x) Y_i."""
        check_is_fitted(self, "forest_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return _as_float(self.forest_.predict(X, quantiles="mean")).reshape(-1)

    @property
    def feature_importances_(self) -> FloatArray:
        """Impurity-based importance of each feature (of the fitted forest)."""
        check_is_fitted(self, "forest_")
        return _as_float(self.forest_.feature_importances_)

    def predict_interval(self, X: Any, *, interval: float = 0.90) -> tuple[FloatArray, FloatArray]:
        """Central prediction interval from the forest's conditional quantiles.

        Parameters
        ----------
        X
            Features, shape (n_samples, n_features).
        interval
            Nominal coverage, strictly between 0 and 1.

        Returns
        -------
        tuple of ndarray
            ``(lower, upper)``, each of shape (n_samples,).
        """
        low_q, high_q = interval_quantiles(interval)
        check_is_fitted(self, "forest_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        bounds = _as_float(self.forest_.predict(X, quantiles=[low_q, high_q])).reshape(-1, 2)
        return bounds[:, 0].copy(), bounds[:, 1].copy()


class QuantileBoosting(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Gradient boosting: a squared-error model for the mean, quantile models for the bounds.

    ``"gradient-boosting"`` in the registry. Unlike the forests, the bounds are
    fitted for one interval, chosen at construction, and then calibrated on
    out-of-fold data (conformalized quantile regression).

    Parameters
    ----------
    interval
        Nominal coverage of the interval the two quantile models are fitted for.
    max_iter
        Boosting iterations of each model (``make_estimator`` passes
        ``n_estimators`` here).
    learning_rate
        Shrinkage.
    max_leaf_nodes
        Leaves per tree.
    min_samples_leaf
        Fewest samples in a leaf.
    l2_regularization
        L2 penalty on the leaf values.
    calibration_folds
        Folds of the conformal calibration of the bounds (at least 2), or ``None``
        to use the raw quantile models.
    random_state
        Seed of the calibration folds and of the binning subsample of large inputs.

    Attributes
    ----------
    mean_model_, lower_model_, upper_model_ : HistGradientBoostingRegressor
        The squared-error model and the two quantile-loss models, fitted on all
        samples.
    quantiles_ : tuple of float
        The quantile levels of the lower and upper models.
    conformity_correction_ : float
        Q, the amount the bounds are widened by (narrowed if negative); 0 when
        ``calibration_folds`` is None.
    n_iter_ : int
        Boosting iterations of the mean model (``max_iter``, early stopping being off).
    n_features_in_ : int
        Number of features seen in ``fit``.

    Notes
    -----
    Gradient boosting (Friedman 2001, "Greedy function approximation: a
    gradient boosting machine", Annals of Statistics 29:1189–1232) with the
    histogram trees of :class:`sklearn.ensemble.HistGradientBoostingRegressor`.
    The mean model minimises Σ (y − f(x))²; the bound models minimise the
    pinball loss of Koenker & Bassett (1978, Econometrica 46:33–50),

        ρ_q(r) = r (q − 1{r < 0}),  r = y − f(x),

    at q_lo = (1 − interval)/2 and q_hi = (1 + interval)/2 (scikit-learn user
    guide, "Prediction intervals for gradient boosting regression").

    Quantile models fitted in-sample are too narrow on new data (90 % bounds
    covered about 80 % of fresh points in this module's tests). The bounds are
    therefore calibrated as in conformalized quantile regression (Romano,
    Patterson & Candès 2019, NeurIPS 32, "Conformalized quantile regression"),
    with K-fold out-of-fold scores instead of one held-out split so that no plot
    is left out of the final fit (the CV+ idea of Barber, Candès, Ramdas &
    Tibshirani 2021, Annals of Statistics 49:486–507):

        E_i = max(q̂_lo(x_i) − y_i, y_i − q̂_hi(x_i))    (q̂ fitted without i's fold),
        Q   = the ⌈interval · (n + 1)⌉-th smallest E_i,
        interval(x) = [q̂_lo(x) − Q, q̂_hi(x) + Q],

    q̂ here being the models fitted on all n samples. Using the all-sample
    models is an approximation of CV+ (whose guarantee needs the fold models),
    and random folds ignore spatial autocorrelation: spatial cross-validation
    (carbonsink.biomass.validation) is the test of the intervals. Separately
    fitted quantile models can cross; the bounds are sorted pointwise, which
    for two quantiles is the monotone rearrangement of Chernozhukov,
    Fernández-Val & Galichon (2010, Econometrica 78:1093–1125). Early stopping
    is off, so all samples are used and the fit is deterministic; the OpenMP
    trees run on one thread.
    """

    def __init__(
        self,
        interval: float = 0.90,
        *,
        max_iter: int = 300,
        learning_rate: float = 0.1,
        max_leaf_nodes: int | None = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        calibration_folds: int | None = 5,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.interval = interval
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.calibration_folds = calibration_folds
        self.random_state = random_state

    def _boosting(self, **loss: Any) -> HistGradientBoostingRegressor:
        return HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
            **loss,
        )

    def _bounds(
        self, X: FloatArray, y: FloatArray, low_q: float, high_q: float
    ) -> tuple[HistGradientBoostingRegressor, HistGradientBoostingRegressor]:
        lower = self._boosting(loss="quantile", quantile=low_q).fit(X, y)
        upper = self._boosting(loss="quantile", quantile=high_q).fit(X, y)
        return lower, upper

    def _conformity_correction(
        self, X: FloatArray, y: FloatArray, low_q: float, high_q: float
    ) -> float:
        folds = self.calibration_folds
        if folds is None:
            return 0.0
        if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 2:
            raise ValueError(f"calibration_folds must be None or an integer ≥ 2, got {folds!r}")
        n_samples = X.shape[0]
        if n_samples < folds:
            raise ValueError(
                f"calibrating the gradient-boosting interval with {folds} folds needs at least "
                f"{folds} samples, got n_samples = {n_samples}"
            )
        splitter = KFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        scores = np.empty(n_samples)
        for train, held_out in splitter.split(X):
            lower, upper = self._bounds(X[train], y[train], low_q, high_q)
            first = lower.predict(X[held_out])
            second = upper.predict(X[held_out])
            scores[held_out] = np.maximum(
                np.minimum(first, second) - y[held_out], y[held_out] - np.maximum(first, second)
            )
        rank = min(int(np.ceil((high_q - low_q) * (n_samples + 1))), n_samples)
        return float(np.sort(scores)[rank - 1])

    def fit(self, X: Any, y: Any) -> QuantileBoosting:
        """Fit the mean model and the two quantile models, and calibrate the bounds.

        Parameters
        ----------
        X
            Features, shape (n_samples, n_features), finite.
        y
            Target, shape (n_samples,).

        Returns
        -------
        QuantileBoosting
            ``self``.

        Raises
        ------
        ValueError
            With fewer samples than ``calibration_folds``.
        """
        low_q, high_q = interval_quantiles(self.interval)
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        with threadpool_limits(limits=1, user_api="openmp"):
            correction = self._conformity_correction(X, y, low_q, high_q)
            self.mean_model_ = self._boosting(loss="squared_error").fit(X, y)
            self.lower_model_, self.upper_model_ = self._bounds(X, y, low_q, high_q)
        self.quantiles_ = (low_q, high_q)
        self.conformity_correction_ = correction
        self.n_iter_ = int(self.mean_model_.n_iter_)
        return self

    def predict(self, X: Any) -> FloatArray:
        """Conditional mean from the squared-error model."""
        check_is_fitted(self, "mean_model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with threadpool_limits(limits=1, user_api="openmp"):
            return _as_float(self.mean_model_.predict(X))

    def predict_interval(self, X: Any, *, interval: float = 0.90) -> tuple[FloatArray, FloatArray]:
        """Calibrated central prediction interval, sorted pointwise.

        Parameters
        ----------
        X
            Features, shape (n_samples, n_features).
        interval
            Nominal coverage; must equal the ``interval`` the model was built with.

        Returns
        -------
        tuple of ndarray
            ``(lower, upper)`` with ``lower ≤ upper``, each of shape (n_samples,).

        Raises
        ------
        ModelError
            When ``interval`` differs from the one the quantile models were fitted for.
        """
        requested = interval_quantiles(interval)
        check_is_fitted(self, "mean_model_")
        if not np.allclose(requested, self.quantiles_):
            raise ModelError(
                f"the gradient-boosting bounds were fitted for a {self.interval:g} interval, "
                f"not {interval:g}",
                fix=f"build the model with QuantileBoosting(interval={interval:g}) and fit again",
            )
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with threadpool_limits(limits=1, user_api="openmp"):
            first = _as_float(self.lower_model_.predict(X)) - self.conformity_correction_
            second = _as_float(self.upper_model_.predict(X)) + self.conformity_correction_
        return np.minimum(first, second), np.maximum(first, second)


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


#: Registry: survey-file model name -> estimator class (``[biomass].model``).
ESTIMATORS: Mapping[str, Callable[..., IntervalRegressor]] = MappingProxyType(
    {
        "random-forest": OOBIntervalForest,
        "quantile-forest": QuantileForest,
        "gradient-boosting": QuantileBoosting,
        "allometric": AllometricRegressor,
    }
)

#: Where ``make_estimator`` puts ``n_estimators`` for each model (None: not used).
_SIZE_PARAMETER: Mapping[str, str | None] = MappingProxyType(
    {
        "random-forest": "n_estimators",
        "quantile-forest": "n_estimators",
        "gradient-boosting": "max_iter",
        "allometric": None,
    }
)


def make_estimator(
    name: str, *, n_estimators: int = 300, random_state: int | None = 0, **params: Any
) -> IntervalRegressor:
    """Build the estimator registered under ``name``.

    Parameters
    ----------
    name
        One of :data:`ESTIMATORS` (``[biomass].model`` of the survey file).
    n_estimators
        Trees of the forests, boosting iterations of ``"gradient-boosting"``;
        ignored by ``"allometric"``.
    random_state
        Seed of the forests and of the boosting; ignored by ``"allometric"``,
        which is deterministic.
    **params
        Further constructor arguments of the estimator class (e.g.
        ``min_samples_leaf=5``, ``interval=0.95`` for gradient boosting,
        ``class_column=3`` for the allometric model).

    Returns
    -------
    IntervalRegressor
        An unfitted estimator.

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the valid ones) or an argument
        the estimator does not take.
    """
    if name not in ESTIMATORS:
        valid = ", ".join(f'"{key}"' for key in ESTIMATORS)
        raise ConfigError(
            f"unknown biomass model {name!r}",
            where="[biomass].model",
            fix=f"choose one of {valid}",
        )
    factory = ESTIMATORS[name]
    arguments = dict(params)
    size_parameter = _SIZE_PARAMETER[name]
    if size_parameter is not None:
        arguments.setdefault(size_parameter, n_estimators)
        arguments.setdefault("random_state", random_state)
    accepted = set(factory._get_param_names())  # type: ignore[attr-defined]
    unknown = sorted(set(arguments) - accepted)
    if unknown:
        raise ConfigError(
            f"the {name!r} biomass model does not take {', '.join(unknown)}",
            where="[biomass]",
            fix=f"use only these settings for {name!r}: {', '.join(sorted(accepted))}",
        )
    return factory(**arguments)
