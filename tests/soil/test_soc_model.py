"""Tests of carbonsink.soil.soc_model: the options, the core checks and the fitted SOC model.

Expected values are worked by hand in the comments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carbonsink.errors import ConfigError, InputError, ModelError
from carbonsink.soil.soc_model import (
    SOC_METHODS,
    check_choice,
    check_core_stocks,
    check_soc_options,
    fit_soc_model,
    interval_z,
    measurement_variances,
)
from carbonsink.spatial.variogram import VariogramModel

X0, Y0 = 700_000.0, 3_254_000.0


# ----------------------------------------------------------------- options
def test_check_choice_names_the_valid_choices() -> None:
    check_choice("point", ("cell", "point"), what="support")
    with pytest.raises(ConfigError) as info:
        check_choice("block", ("cell", "point"), what="support")
    assert info.value.problem.message == "unknown support 'block'; valid: 'cell', 'point'"
    with pytest.raises(ConfigError, match="unknown support 3"):
        check_choice(3, ("cell", "point"), what="support")


def test_check_soc_options() -> None:
    assert SOC_METHODS == ("regression-kriging", "ordinary-kriging")
    check_soc_options("ordinary-kriging", 8, "gaussian")
    check_soc_options("regression-kriging", 1, VariogramModel("spherical", 1.0, 2.0, 100.0))
    with pytest.raises(ConfigError, match="unknown SOC prediction method 'idw'"):
        check_soc_options("idw", 8, "spherical")
    with pytest.raises(ConfigError, match="unknown variogram model 'linear'"):
        check_soc_options("ordinary-kriging", 8, "linear")
    for bad in (0, True, 2.5):
        with pytest.raises(ConfigError, match="n_neighbours"):
            check_soc_options("ordinary-kriging", bad, "spherical")


def test_interval_z() -> None:
    # Φ⁻¹(0.5 + 0.90/2) = Φ⁻¹(0.95) = 1.6448536; Φ⁻¹(0.975) = 1.9599640.
    assert interval_z(0.90) == pytest.approx(1.6448536, abs=1e-7)
    assert interval_z(0.95) == pytest.approx(1.9599640, abs=1e-7)
    for bad in (0.0, 1.0, 90):
        with pytest.raises(ConfigError, match="not a probability"):
            interval_z(bad)


def test_measurement_variances() -> None:
    assert measurement_variances(None, 3).tolist() == [0.0, 0.0, 0.0]
    # se 1, 2, 0.5 → se² 1, 4, 0.25.
    assert measurement_variances([1.0, 2.0, 0.5], 3).tolist() == [1.0, 4.0, 0.25]
    with pytest.raises(InputError, match="value_se has 2 entries for 3 points"):
        measurement_variances([1.0, 2.0], 3)
    with pytest.raises(InputError, match="2 standard error") as info:
        measurement_variances([1.0, -2.0, np.nan], 3)
    assert info.value.problem.where == "point(s) at position 1, 2"


def test_check_core_stocks() -> None:
    xs, ys, zs = check_core_stocks([X0, X0 + 10], [Y0, Y0], [40, 50])
    assert [a.dtype for a in (xs, ys, zs)] == [np.float64] * 3
    assert zs.tolist() == [40.0, 50.0]
    with pytest.raises(InputError, match="1 core\\(s\\) have a missing \\(NaN\\)") as nan:
        check_core_stocks([X0, X0 + 10], [Y0, Y0], [40.0, np.nan])
    assert nan.value.problem.fix == "drop those cores or give their SOC stock in Mg C/ha"
    with pytest.raises(
        InputError, match="1 SOC stock\\(s\\) are negative \\(smallest -1 Mg C/ha\\)"
    ):
        check_core_stocks([X0, X0 + 10], [Y0, Y0], [40.0, -1.0])
    with pytest.raises(InputError, match="more than one point"):
        check_core_stocks([X0, X0], [Y0, Y0], [40.0, 41.0])


# ------------------------------------------------------------------- model
def test_measurement_variance_is_taken_out_of_the_nugget() -> None:
    # Nugget 5, se² 1 and 3 → mean 2; the process nugget is 5 − 2 = 3, the given
    # variogram is kept as it is.
    given = VariogramModel(model="spherical", nugget=5.0, psill=10.0, range_m=100.0)
    model = fit_soc_model(
        np.array([X0, X0 + 50.0]),
        np.array([Y0, Y0]),
        np.array([40.0, 60.0]),
        None,
        method="ordinary-kriging",
        categorical=(),
        variogram_model=given,
        n_neighbours=32,
        noise_var=np.array([1.0, 3.0]),
    )
    assert model.variogram is given
    assert model.measurement_variance_mean == pytest.approx(2.0)
    assert model.kriging.variogram.nugget == pytest.approx(3.0)
    assert model.kriging.k == 2  # 32 neighbours asked, 2 cores
    assert model.regression is None


def test_fit_soc_model_refuses_too_few_cores_and_a_sill_below_the_noise() -> None:
    xs = X0 + 10.0 * np.arange(5)
    kwargs = {"method": "ordinary-kriging", "categorical": (), "n_neighbours": 8}
    with pytest.raises(InputError, match="needs at least 10 points; 5 given"):
        fit_soc_model(
            xs,
            np.full(5, Y0),
            np.arange(5.0),
            None,
            variogram_model="spherical",
            noise_var=np.zeros(5),
            **kwargs,  # type: ignore[arg-type]
        )
    # Sill = nugget 1 + partial sill 0; the cores' se² are 4: the process nugget
    # max(1 − 4, 0) = 0 and its sill 0 + 0 leave nothing to krige.
    with pytest.raises(ModelError, match="no larger than the measurement variance"):
        fit_soc_model(
            xs,
            np.full(5, Y0),
            np.arange(5.0),
            None,
            variogram_model=VariogramModel("spherical", 1.0, 0.0, 100.0),
            noise_var=np.full(5, 4.0),
            **kwargs,  # type: ignore[arg-type]
        )


def test_regression_kriging_model_by_hand() -> None:
    # Cores with elevation e = 0, 1, 2, 3 and stocks 1, 3, 3, 5: the trend is
    # 1.2 + 1.2 e with σ̂² = 0.4 (see tests/soil/test_regression.py). The residuals
    # −0.2, 0.6, −0.6, 0.2 are kriged with a pure nugget 2 (c₁ = 0); for a cell
    # (no nugget in the target) C = 2 I, c₀ = 0, C(0) = 0 → λ = ¼ each,
    # μ = −2/4, σ²_OK = 0 − 0 + 0.5 = 0.5, kriged residual = mean residual = 0.
    # At e₀ = 1.5: ẑ = 3.0, σ² = 0.5 + 0.4 · 1/4 = 0.6.
    xs = X0 + 5.0 + 10.0 * np.arange(4)
    model = fit_soc_model(
        xs,
        np.full(4, Y0),
        np.array([1.0, 3.0, 3.0, 5.0]),
        pd.DataFrame({"elevation_m": [0.0, 1.0, 2.0, 3.0]}),
        method="regression-kriging",
        categorical=("class",),
        variogram_model=VariogramModel("spherical", 2.0, 0.0, 100.0),
        n_neighbours=32,
        noise_var=np.zeros(4),
    )
    assert model.regression is not None
    np.testing.assert_allclose(model.regression.coefficients, [1.2, 1.2])
    prediction, variance = model.predict(
        np.array([X0 + 45.0]), np.array([Y0]), np.array([[1.0, 1.5]]), point_support=False
    )
    assert prediction[0] == pytest.approx(3.0)
    assert variance[0] == pytest.approx(0.6)
