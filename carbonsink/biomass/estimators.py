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

The classes live in :mod:`carbonsink.biomass.forests`,
:mod:`carbonsink.biomass.boosting` and :mod:`carbonsink.biomass.allometric`;
what they share (the quantile levels of an interval) in
:mod:`carbonsink.biomass.intervals`. This module holds the interface
(:class:`IntervalRegressor`) and the registry (:data:`ESTIMATORS`,
:func:`make_estimator`).

The target is whatever the caller fits (AGB in g m⁻² or Mg ha⁻¹); the
estimators are unit-agnostic. All of them run on one thread (``n_jobs=1``) so
that the pipeline, not the model, decides on parallelism (docs/design.md §6), and a
fixed ``random_state`` gives identical numbers on every run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from carbonsink.biomass.allometric import AllometricRegressor
from carbonsink.biomass.boosting import QuantileBoosting
from carbonsink.biomass.forests import OOBIntervalForest, QuantileForest
from carbonsink.errors import ConfigError

__all__ = ["ESTIMATORS", "IntervalRegressor", "make_estimator", "predict_with_interval"]

FloatArray = npt.NDArray[np.float64]


@runtime_checkable
class IntervalRegressor(Protocol):
    """What every estimator in :data:`ESTIMATORS` provides."""

    def fit(self, X: Any, y: Any) -> IntervalRegressor: ...

    def predict(self, X: Any) -> FloatArray: ...

    def predict_interval(
        self, X: Any, *, interval: float = 0.90
    ) -> tuple[FloatArray, FloatArray]: ...

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...


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


def predict_with_interval(
    estimator: Any, X: Any, *, interval: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(mean, lower, upper)`` of an estimator at ``X``.

    Parameters
    ----------
    estimator
        A fitted estimator with ``predict`` and ``predict_interval``
        (:class:`IntervalRegressor`, or the cross-validation's estimators).
    X
        Features, shape (n_samples, n_features).
    interval
        Nominal coverage of the interval, in (0, 1).

    Returns
    -------
    tuple of ndarray
        The mean prediction and the interval's lower and upper ends, each of
        shape (n_samples,): exactly those of ``predict`` and
        ``predict_interval``. An estimator whose interval is built around
        its mean (the out-of-bag forest) gives all three from one prediction
        through its own ``predict_with_interval``; any other is asked for
        each in turn.
    """
    both = getattr(estimator, "predict_with_interval", None)
    if both is not None:
        mean, lower, upper = both(X, interval=interval)
        return mean, lower, upper
    mean = estimator.predict(X)
    lower, upper = estimator.predict_interval(X, interval=interval)
    return mean, lower, upper
