"""Tests of carbonsink.biomass.estimators: the registry, and what every registered model shares."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest
from sklearn.base import clone

from carbonsink.biomass.allometric import AllometricRegressor
from carbonsink.biomass.boosting import QuantileBoosting
from carbonsink.biomass.estimators import ESTIMATORS, make_estimator, predict_with_interval
from carbonsink.biomass.forests import OOBIntervalForest, QuantileForest
from carbonsink.config import BiomassModelName
from carbonsink.errors import ConfigError
from tests.biomass.simulation import N_TEST, N_TRAIN, signal, simulate

# ---------------------------------------------------------------------------
# Registry
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


# ---------------------------------------------------------------------------
# Interval coverage on simulated data with known noise
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gaussian_data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240830)
    X_train, y_train = simulate(rng, N_TRAIN)
    X_test, y_test = simulate(rng, N_TEST)
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
    rmse = np.sqrt(np.mean((model.predict(X_test) - signal(X_test)) ** 2))
    assert rmse < 0.7


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_fixed_seed_gives_identical_results(name: str) -> None:
    rng = np.random.default_rng(8)
    X, y = simulate(rng, 120)
    X[:, 0] = np.abs(X[:, 0]) + 0.1  # a positive "height" for the allometric model
    y = np.exp(0.3 * y / np.abs(y).max())  # positive for the allometric model
    params = {} if name == "allometric" else {"n_estimators": 15}
    first = make_estimator(name, random_state=3, **params).fit(X, y)
    second = clone(first).fit(X, y)
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    for a, b in zip(first.predict_interval(X), second.predict_interval(X), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_predict_with_interval_gives_predict_and_predict_interval(name: str) -> None:
    # The out-of-bag forest answers both from one prediction (its own method); the
    # others are asked in turn. Either way the numbers are exactly those of the two
    # calls the map and the cross-validation made before.
    rng = np.random.default_rng(9)
    X, y = simulate(rng, 120)
    X[:, 0] = np.abs(X[:, 0]) + 0.1
    y = np.exp(0.3 * y / np.abs(y).max())
    params = {} if name == "allometric" else {"n_estimators": 15}
    model = make_estimator(name, random_state=3, **params).fit(X, y)
    mean, lower, upper = predict_with_interval(model, X, interval=0.9)
    np.testing.assert_array_equal(mean, model.predict(X))
    expected_lower, expected_upper = model.predict_interval(X, interval=0.9)
    np.testing.assert_array_equal(lower, expected_lower)
    np.testing.assert_array_equal(upper, expected_upper)


def test_predict_before_fit_is_refused() -> None:
    from sklearn.exceptions import NotFittedError

    for cls in ESTIMATORS.values():
        with pytest.raises(NotFittedError):
            cls().predict(np.ones((2, 2)))
