"""Tests of carbonsink.biomass.estimators: sklearn conventions, interval coverage, allometry."""

from __future__ import annotations

from typing import Any, get_args

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from carbonsink.biomass.estimators import (
    ESTIMATORS,
    AllometricRegressor,
    OOBIntervalForest,
    QuantileBoosting,
    QuantileForest,
    interval_quantiles,
    make_estimator,
)
from carbonsink.config import BiomassModelName
from carbonsink.errors import ConfigError, InputError, ModelError

# ---------------------------------------------------------------------------
# scikit-learn's estimator checks
# ---------------------------------------------------------------------------

CHECKED = [
    OOBIntervalForest(n_estimators=10, random_state=0),
    QuantileForest(n_estimators=10, random_state=0),
    QuantileBoosting(max_iter=10, calibration_folds=2, random_state=0),
    # The allometric model needs y > 0 and uses one column; it declares both through
    # its tags (target_tags.positive_only, regressor_tags.poor_score), so the checks
    # draw positive targets and skip the R² > 0.5 bar instead of being marked failed.
    AllometricRegressor(),
]


def _expected_failed_checks(estimator: Any) -> dict[str, str]:
    if isinstance(estimator, QuantileForest):
        return {
            # The check runs twice, with a plain pickle round trip (which passes, and
            # is reported XPASS) and with readonly_memmap=True (which fails).
            "check_estimators_pickle": (
                "quantile_forest's Cython QuantileForest.__cinit__ needs writable buffers, "
                "so unpickling from a read-only joblib memmap (mmap_mode='r') raises "
                "'buffer source array is read-only' (upstream limitation of quantile-forest "
                "1.4); carbonsink never memory-maps pickles: models are saved with skops "
                "(carbonsink.biomass.persistence), whose round trip is tested"
            )
        }
    return {}


@parametrize_with_checks(CHECKED, expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


# ---------------------------------------------------------------------------
# Registry and interval levels
# ---------------------------------------------------------------------------


def test_registry_names_match_the_survey_file_choices() -> None:
    assert set(ESTIMATORS) == set(get_args(BiomassModelName))


@pytest.mark.parametrize(
    ("name", "cls", "size_parameter"),
    [
        ("random-forest", OOBIntervalForest, "n_estimators"),
        ("quantile-forest", QuantileForest, "n_estimators"),
        ("gradient-boosting", QuantileBoosting, "max_iter"),
    ],
)
def test_make_estimator_passes_size_and_seed(name: str, cls: type, size_parameter: str) -> None:
    estimator = make_estimator(name, n_estimators=17, random_state=5, min_samples_leaf=3)
    assert type(estimator) is cls
    params = estimator.get_params()
    assert params[size_parameter] == 17
    assert params["random_state"] == 5
    assert params["min_samples_leaf"] == 3


def test_make_estimator_allometric_takes_its_own_settings() -> None:
    estimator = make_estimator("allometric", class_column=2)
    assert isinstance(estimator, AllometricRegressor)
    assert estimator.get_params() == {"height_column": 0, "class_column": 2, "min_height": 0.05}


def test_unknown_estimator_name_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="unknown biomass model 'svm'") as info:
        make_estimator("svm")
    for name in get_args(BiomassModelName):
        assert f'"{name}"' in str(info.value)


def test_unknown_estimator_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="does not take learning_rate"):
        make_estimator("random-forest", learning_rate=0.1)


def test_interval_quantiles() -> None:
    # (1 - 0.9)/2 = 0.05 and (1 + 0.9)/2 = 0.95; (1 - 0.5)/2 = 0.25, (1 + 0.5)/2 = 0.75
    assert interval_quantiles(0.9) == pytest.approx((0.05, 0.95))
    assert interval_quantiles(0.5) == pytest.approx((0.25, 0.75))


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -0.1, True, "0.9", float("nan")])
def test_interval_outside_zero_one_is_refused(bad: Any) -> None:
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        interval_quantiles(bad)


# ---------------------------------------------------------------------------
# Interval coverage on simulated data with known noise
# ---------------------------------------------------------------------------

N_TRAIN = 2000
N_TEST = 2000
NOISE_SD = 1.0


def _signal(X: np.ndarray) -> np.ndarray:
    return 3.0 * np.sin(X[:, 0]) + X[:, 1] ** 2


def _simulate(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    X = rng.uniform(-2.0, 2.0, size=(n, 2))
    return X, _signal(X) + rng.normal(0.0, NOISE_SD, size=n)


@pytest.fixture(scope="module")
def gaussian_data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240830)
    X_train, y_train = _simulate(rng, N_TRAIN)
    X_test, y_test = _simulate(rng, N_TEST)
    return {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}


COVERAGE_MODELS = {
    "random-forest": {"n_estimators": 100},
    "quantile-forest": {"n_estimators": 100},
    # Small trees keep the 13 boosting fits (mean, two bounds, 5 x 2 calibration) fast.
    "gradient-boosting": {"n_estimators": 60, "learning_rate": 0.2, "max_leaf_nodes": 8},
}


@pytest.mark.parametrize("name", list(COVERAGE_MODELS))
def test_ninety_percent_interval_covers_85_to_95_percent(
    name: str, gaussian_data: dict[str, np.ndarray]
) -> None:
    # y = f(x) + N(0, 1). A correct 90 % interval covers a fresh point with probability
    # 0.90; over n = 2000 test points the binomial SD of the observed fraction is
    # sqrt(0.9 * 0.1 / 2000) = 0.0067, so 0.85-0.95 is 0.90 +- 7.5 SD: it allows for the
    # estimators' own bias (finite forests, smoothing of f) but fails a method whose
    # intervals are materially too narrow (e.g. raw quantile boosting, about 0.80) or
    # too wide.
    model = make_estimator(name, random_state=1, **COVERAGE_MODELS[name])
    model.fit(gaussian_data["X_train"], gaussian_data["y_train"])
    lower, upper = model.predict_interval(gaussian_data["X_test"], interval=0.90)
    y_test = gaussian_data["y_test"]
    assert lower.shape == upper.shape == y_test.shape
    assert np.all(lower <= upper)
    coverage = np.mean((y_test >= lower) & (y_test <= upper))
    assert 0.85 <= coverage <= 0.95, f"{name}: 90 % interval covered {coverage:.3f}"
    # The point prediction estimates f(x). f = 3 sin(x0) + x1^2 on U(-2, 2)^2 has variance
    # 9 * 0.5946 + (16/5 - (4/3)^2) = 5.351 + 1.422 = 6.773 (SD 2.60; E[sin^2] =
    # 1/2 - sin(4)/8 = 0.5946), so predicting the overall mean would give an RMSE of 2.60;
    # RMSE < 0.7 means the prediction explains > 1 - 0.49/6.77 = 93 % of f's variance.
    X_test = gaussian_data["X_test"]
    rmse = np.sqrt(np.mean((model.predict(X_test) - _signal(X_test)) ** 2))
    assert rmse < 0.7


def test_quantile_forest_predicts_the_mean_not_the_median() -> None:
    # y = f(x) + E with E ~ Exponential(1): E[y|x] = f(x) + 1, median = f(x) + ln 2
    # = f(x) + 0.693. The mean over 2000 test points of (prediction - f(x)) must be
    # near 1 (the Monte Carlo SE of that mean is about 1/sqrt(2000 x leaf size) < 0.03;
    # 0.15 leaves room for forest bias) and far from the median's 0.693.
    rng = np.random.default_rng(7)
    X_train = rng.uniform(-2.0, 2.0, size=(N_TRAIN, 2))
    y_train = _signal(X_train) + rng.exponential(1.0, size=N_TRAIN)
    X_test = rng.uniform(-2.0, 2.0, size=(N_TEST, 2))
    model = QuantileForest(n_estimators=100, random_state=0).fit(X_train, y_train)
    offset = np.mean(model.predict(X_test) - _signal(X_test))
    assert abs(offset - 1.0) < 0.15


def test_oob_interval_is_the_prediction_plus_the_conformal_error_quantile() -> None:
    rng = np.random.default_rng(3)
    X, y = _simulate(rng, 300)
    model = OOBIntervalForest(n_estimators=50, random_state=0).fit(X, y)
    lower, upper = model.predict_interval(X[:20], interval=0.8)
    mean = model.predict(X[:20])
    # Split-conformal on the out-of-bag errors: half-width = the ⌈(n + 1)·0.8⌉-th
    # smallest |D_i|, the same for every row (n = number of out-of-bag errors).
    errors = np.sort(np.abs(model.oob_residuals_))
    rank = int(np.ceil((errors.size + 1) * 0.8))
    np.testing.assert_allclose(upper, mean + errors[rank - 1])
    # y here takes negative values, so the lower bound is not clipped at 0.
    assert not model.nonnegative_
    np.testing.assert_allclose(lower, mean - errors[rank - 1])
    # Each out-of-bag residual is y minus the mean of trees that did not see the sample.
    assert model.oob_residuals_.shape == (np.isfinite(model.oob_prediction_).sum(),)
    assert 0.0 < model.oob_score_ < 1.0


def test_oob_interval_lower_bound_is_clipped_for_nonnegative_targets() -> None:
    # Targets ≥ 0 (biomass): a symmetric interval around a small prediction would go
    # below 0; it is clipped there (no non-negative value leaves the interval).
    rng = np.random.default_rng(5)
    X = rng.uniform(0, 1, size=(200, 2))
    y = np.abs(5 * X[:, 0] + rng.normal(0, 2, 200))
    model = OOBIntervalForest(n_estimators=40, random_state=0).fit(X, y)
    assert model.nonnegative_
    lower, _ = model.predict_interval(X, interval=0.9)
    assert lower.min() == 0.0


@pytest.mark.parametrize("cls", [OOBIntervalForest, QuantileForest])
def test_forest_intervals_nest(cls: type) -> None:
    rng = np.random.default_rng(4)
    X, y = _simulate(rng, 300)
    model = cls(n_estimators=30, random_state=0).fit(X, y)
    low50, high50 = model.predict_interval(X, interval=0.5)
    low90, high90 = model.predict_interval(X, interval=0.9)
    assert np.all(low90 <= low50 + 1e-12)
    assert np.all(high50 <= high90 + 1e-12)


def test_boosting_bounds_are_sorted_and_tied_to_their_interval() -> None:
    rng = np.random.default_rng(5)
    X, y = _simulate(rng, 200)
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
    X, y = _simulate(rng, 400)
    raw = QuantileBoosting(max_iter=30, calibration_folds=None, random_state=0).fit(X, y)
    calibrated = QuantileBoosting(max_iter=30, random_state=0).fit(X, y)
    assert raw.conformity_correction_ == 0.0
    raw_lower, raw_upper = raw.predict_interval(X[:50])
    lower, upper = calibrated.predict_interval(X[:50])
    correction = calibrated.conformity_correction_
    np.testing.assert_allclose(lower, np.minimum(raw_lower - correction, raw_upper + correction))
    np.testing.assert_allclose(upper, np.maximum(raw_lower - correction, raw_upper + correction))


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_fixed_seed_gives_identical_results(name: str) -> None:
    rng = np.random.default_rng(8)
    X, y = _simulate(rng, 120)
    X[:, 0] = np.abs(X[:, 0]) + 0.1  # a positive "height" for the allometric model
    y = np.exp(0.3 * y / np.abs(y).max())  # positive for the allometric model
    params = {} if name == "allometric" else {"n_estimators": 15}
    first = make_estimator(name, random_state=3, **params).fit(X, y)
    second = clone(first).fit(X, y)
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    for a, b in zip(first.predict_interval(X), second.predict_interval(X), strict=True):
        np.testing.assert_array_equal(a, b)


def test_predict_before_fit_is_refused() -> None:
    from sklearn.exceptions import NotFittedError

    for cls in ESTIMATORS.values():
        with pytest.raises(NotFittedError):
            cls().predict(np.ones((2, 2)))


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
