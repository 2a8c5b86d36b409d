"""Tests of carbonsink.biomass.allometric: per-class log-log allometry with smearing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from carbonsink.biomass.allometric import AllometricRegressor
from carbonsink.errors import InputError, ModelError
from tests.biomass.simulation import N_TEST, N_TRAIN

# ---------------------------------------------------------------------------
# scikit-learn's estimator checks
# ---------------------------------------------------------------------------

CHECKED = [
    # The allometric model needs y > 0 and uses one column; it declares both through
    # its tags (target_tags.positive_only, regressor_tags.poor_score), so the checks
    # draw positive targets and skip the R² > 0.5 bar instead of being marked failed.
    AllometricRegressor(),
]


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


# ---------------------------------------------------------------------------
# Allometric model
# ---------------------------------------------------------------------------

#: Hand-set allometries: ln AGB = a_c + b_c ln h.
CLASS_COEFFICIENTS = {1: (1.2, 1.5), 2: (2.0, 0.8)}


def _allometric_table(
    rng: np.random.Generator, n_per_class: int, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    heights, classes, agb = [], [], []
    for code, (a, b) in CLASS_COEFFICIENTS.items():
        h = rng.uniform(0.3, 3.0, size=n_per_class)
        heights.append(h)
        classes.append(np.full(n_per_class, code))
        agb.append(np.exp(a + b * np.log(h) + rng.normal(0.0, sigma, size=n_per_class)))
    X = np.column_stack([np.concatenate(heights), np.concatenate(classes)])
    return X, np.concatenate(agb)


def test_allometric_recovers_hand_set_coefficients_on_noiseless_data() -> None:
    rng = np.random.default_rng(11)
    X, y = _allometric_table(rng, 20, sigma=0.0)
    model = AllometricRegressor(height_column=0, class_column=1).fit(X, y)
    np.testing.assert_array_equal(model.class_codes_, [1, 2])
    np.testing.assert_allclose(model.intercepts_, [1.2, 2.0], rtol=1e-10)
    np.testing.assert_allclose(model.slopes_, [1.5, 0.8], rtol=1e-10)
    # No residuals: smearing factor mean(exp(0)) = 1, zero residual SD.
    np.testing.assert_allclose(model.smearing_, [1.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(model.residual_sd_, [0.0, 0.0], atol=1e-10)
    # h = 2 in class 1: exp(1.2 + 1.5 ln 2) = e^1.2 * 2^1.5 = 3.3201 * 2.8284 = 9.3906
    # h = 2 in class 2: exp(2.0 + 0.8 ln 2) = e^2 * 2^0.8 = 7.3891 * 1.7411 = 12.865
    prediction = model.predict(np.array([[2.0, 1.0], [2.0, 2.0]]))
    np.testing.assert_allclose(
        prediction, [np.exp(1.2) * 2.0**1.5, np.exp(2.0) * 2.0**0.8], rtol=1e-10
    )
    lower, upper = model.predict_interval(np.array([[2.0, 1.0]]))
    np.testing.assert_allclose([lower[0], upper[0]], [prediction[0]] * 2, rtol=1e-8)


def test_allometric_small_and_unseen_classes_use_the_pooled_fit() -> None:
    rng = np.random.default_rng(12)
    X, y = _allometric_table(rng, 20, sigma=0.0)
    # Class 3 has only 2 samples (< 3), so it gets no fit of its own.
    X = np.vstack([X, [[1.0, 3.0], [2.0, 3.0]]])
    y = np.concatenate([y, [5.0, 7.0]])
    model = AllometricRegressor(height_column=0, class_column=1).fit(X, y)
    np.testing.assert_array_equal(model.class_codes_, [1, 2])
    # Independent pooled fit of all 42 samples: OLS of ln y on ln h (numpy's polyfit),
    # then the smearing factor mean(exp(residual)).
    slope, intercept = np.polyfit(np.log(X[:, 0]), np.log(y), 1)
    smearing = np.mean(np.exp(np.log(y) - (intercept + slope * np.log(X[:, 0]))))
    assert model.pooled_slope_ == pytest.approx(slope, rel=1e-9)
    assert model.pooled_intercept_ == pytest.approx(intercept, rel=1e-9)
    rows = np.array([[1.5, 3.0], [1.5, 9.0]])  # class 3 (too small) and 9 (unseen)
    expected = np.exp(intercept + slope * np.log(1.5)) * smearing
    np.testing.assert_allclose(model.predict(rows), [expected, expected], rtol=1e-9)


def test_allometric_smearing_matches_the_lognormal_mean() -> None:
    # ln y = a + b ln h + eps, eps ~ N(0, 0.5^2): E[y | h] = exp(a + b ln h + sigma^2 / 2);
    # the smearing factor estimates exp(0.125) = 1.1331. exp(eps) has SD
    # sqrt((e^0.25 - 1) e^0.25) = 0.604, so with n = 20000 the Monte Carlo SE of the
    # factor is 0.604 / sqrt(20000) = 0.0043; 0.017 is 4 SE.
    sigma, a, b = 0.5, 1.0, 1.2
    rng = np.random.default_rng(13)
    h = rng.uniform(0.2, 3.0, size=20000)
    y = np.exp(a + b * np.log(h) + rng.normal(0.0, sigma, size=h.size))
    model = AllometricRegressor().fit(h[:, None], y)
    lognormal_factor = np.exp(sigma**2 / 2.0)
    assert model.pooled_smearing_ == pytest.approx(lognormal_factor, abs=0.017)
    # The mean prediction at h = 1: exp(a) * exp(sigma^2/2) = 2.7183 * 1.1331 = 3.080;
    # 0.017 / 1.133 = 1.5 % plus the coefficients' error (SE of a about
    # 0.5 / sqrt(20000) = 0.0035) -> rel 0.02.
    assert model.predict(np.array([[1.0]]))[0] == pytest.approx(
        np.exp(a) * lognormal_factor, rel=0.02
    )
    # Back-transforming without smearing would give the median exp(a) = 2.718, 12 % low.
    assert model.predict(np.array([[1.0]]))[0] > 1.08 * np.exp(a)


def test_allometric_interval_coverage_on_lognormal_data() -> None:
    # Per-class lognormal data; the t-based interval is exact for normal log residuals,
    # so a 90 % interval covers 0.90 +- binomial noise (SD 0.0067 at n = 2000).
    rng = np.random.default_rng(14)
    X_train, y_train = _allometric_table(rng, N_TRAIN // 2, sigma=0.4)
    X_test, y_test = _allometric_table(rng, N_TEST // 2, sigma=0.4)
    model = AllometricRegressor(class_column=1).fit(X_train, y_train)
    lower, upper = model.predict_interval(X_test, interval=0.9)
    assert np.all((lower > 0) & (lower < upper))
    coverage = np.mean((y_test >= lower) & (y_test <= upper))
    assert 0.85 <= coverage <= 0.95


def test_allometric_clips_heights_below_min_height() -> None:
    rng = np.random.default_rng(15)
    X, y = _allometric_table(rng, 20, sigma=0.1)
    model = AllometricRegressor(class_column=1, min_height=0.05).fit(X, y)
    at_floor = model.predict(np.array([[0.05, 1.0]]))
    for height in (0.0, -0.3, 0.01):
        np.testing.assert_array_equal(model.predict(np.array([[height, 1.0]])), at_floor)


@pytest.mark.parametrize("bad_value", [0.0, -12.5])
def test_allometric_refuses_non_positive_biomass(bad_value: float) -> None:
    rng = np.random.default_rng(16)
    X, y = _allometric_table(rng, 10, sigma=0.1)
    y = y.copy()
    y[4] = bad_value
    with pytest.raises(InputError, match=r"row 4: .*needs AGB > 0") as info:
        AllometricRegressor().fit(X, y)
    assert isinstance(info.value, ValueError)  # what scikit-learn callers catch
    assert "fix:" in str(info.value)


def test_allometric_refuses_non_integer_class_codes() -> None:
    X = np.array([[1.0, 1.0], [2.0, 1.5], [3.0, 1.0], [1.5, 1.0]])
    with pytest.raises(InputError, match=r"row 1: class column 1 holds 1.5"):
        AllometricRegressor(class_column=1).fit(X, np.ones(4))


def test_allometric_refuses_columns_outside_x() -> None:
    with pytest.raises(ValueError, match="height_column=2 is not a column of X"):
        AllometricRegressor(height_column=2).fit(
            np.ones((5, 2)) + np.arange(5)[:, None], np.ones(5)
        )


def test_allometric_refuses_equal_heights() -> None:
    with pytest.raises(ModelError, match="all 4 heights are equal"):
        AllometricRegressor().fit(np.full((4, 1), 1.2), np.array([1.0, 2.0, 3.0, 4.0]))
