"""What the interval estimators share: the quantile levels of an interval, float outputs.

Every estimator of :data:`carbonsink.biomass.estimators.ESTIMATORS` turns the
nominal coverage of a central prediction interval into its two quantile levels
with :func:`interval_quantiles` (which also validates it), and returns its
predictions as float64 arrays (:func:`as_float`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from carbonsink.errors import ConfigError

__all__ = ["as_float", "interval_quantiles"]

FloatArray = npt.NDArray[np.float64]


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


def as_float(values: Any) -> FloatArray:
    """Values (e.g. a wrapped scikit-learn model's predictions) as a float64 array.

    Parameters
    ----------
    values
        Anything :func:`numpy.asarray` takes.

    Returns
    -------
    ndarray of float64
        The values, not copied when they already are a float64 array.
    """
    return np.asarray(values, dtype=np.float64)
