"""Tests of carbonsink.biomass.boosting: calibrated quantile bounds of gradient boosting."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from carbonsink.biomass.boosting import QuantileBoosting
from carbonsink.errors import ModelError
from tests.biomass.simulation import simulate

# ---------------------------------------------------------------------------
# scikit-learn's estimator checks
# ---------------------------------------------------------------------------


@parametrize_with_checks([QuantileBoosting(max_iter=10, calibration_folds=2, random_state=0)])
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


# ---------------------------------------------------------------------------
# Bounds
# ---------------------------------------------------------------------------


def test_boosting_bounds_are_sorted_and_tied_to_their_interval() -> None:
    rng = np.random.default_rng(5)
    X, y = simulate(rng, 200)
    model = QuantileBoosting(interval=0.8, max_iter=20, random_state=0).fit(X, y)
    assert model.quantiles_ == pytest.approx((0.1, 0.9))
    lower, upper = model.predict_interval(X, interval=0.8)
    assert np.all(lower <= upper)
    with pytest.raises(ModelError, match=r"fitted for a 0\.8 interval, not 0\.9"):
        model.predict_interval(X, interval=0.9)


def test_boosting_calibration_widens_narrow_bounds() -> None:
    # With calibration off the bounds are the raw quantile models; the conformal
    # correction Q is then 0 and the calibrated interval is [lo - Q, hi + Q].
    rng = np.random.default_rng(6)
    X, y = simulate(rng, 400)
    raw = QuantileBoosting(max_iter=30, calibration_folds=None, random_state=0).fit(X, y)
    calibrated = QuantileBoosting(max_iter=30, random_state=0).fit(X, y)
    assert raw.conformity_correction_ == 0.0
    raw_lower, raw_upper = raw.predict_interval(X[:50])
    lower, upper = calibrated.predict_interval(X[:50])
    correction = calibrated.conformity_correction_
    np.testing.assert_allclose(lower, np.minimum(raw_lower - correction, raw_upper + correction))
    np.testing.assert_allclose(upper, np.maximum(raw_lower - correction, raw_upper + correction))
