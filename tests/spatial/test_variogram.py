"""Tests of carbonsink.spatial.variogram: model structures, empirical and fitted variograms.

Expected values are worked by hand in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from carbonsink.errors import ConfigError, InputError, ModelError
from carbonsink.spatial.variogram import (
    MIN_POINTS_VARIOGRAM,
    VARIOGRAM_MODELS,
    EmpiricalVariogram,
    VariogramModel,
    check_variogram_name,
    empirical_variogram,
    exponential,
    fit_variogram,
    gaussian,
    spherical,
)

X0, Y0 = 700_000.0, 3_254_000.0


def test_variogram_models_hand_values() -> None:
    # nugget 1, partial sill 4, range 100 m.
    # spherical at h = 50: r = 0.5, f = 1.5·0.5 − 0.5·0.125 = 0.6875 → γ = 1 + 4·0.6875 = 3.75
    # beyond the range γ = sill = 5; at h = 0 γ = 0 (the nugget is a jump at 0⁺).
    sph = VariogramModel(model="spherical", nugget=1.0, psill=4.0, range_m=100.0)
    np.testing.assert_allclose(sph.semivariance([0.0, 50.0, 100.0, 250.0]), [0, 3.75, 5, 5])
    np.testing.assert_allclose(sph.covariance([0.0, 50.0]), [5.0, 1.25])
    assert sph.sill == 5.0
    # exponential and Gaussian reach 1 − e⁻³ = 0.950213 of the partial sill at the
    # practical range: γ(100) = 1 + 4·0.950213 = 4.800852.
    for name in ("exponential", "gaussian"):
        model = VariogramModel(model=name, nugget=1.0, psill=4.0, range_m=100.0)
        assert model.semivariance(100.0) == pytest.approx(1.0 + 4.0 * (1.0 - math.exp(-3.0)))
    # exponential at h = 50: 1 + 4(1 − e^{−1.5}) = 1 + 4·0.776870 = 4.107479;
    # Gaussian at h = 50: 1 + 4(1 − e^{−0.75}) = 1 + 4·0.5276334 = 3.1105336.
    exp_model = VariogramModel(model="exponential", nugget=1.0, psill=4.0, range_m=100.0)
    gau_model = VariogramModel(model="gaussian", nugget=1.0, psill=4.0, range_m=100.0)
    assert exp_model.semivariance(50.0) == pytest.approx(4.107479, abs=1e-6)
    assert gau_model.semivariance(50.0) == pytest.approx(3.1105336, abs=1e-6)
    assert sph.to_dict()["units"] == "(Mg C/ha)^2"
    assert sph.to_dict()["range_units"] == "m"


def test_empirical_variogram_alternating_line() -> None:
    # 10 points 10 m apart on a line with values 0, 1, 0, 1, ...: pairs d·10 m apart
    # number 10 − d; they differ by 1 when d is odd (γ = ½·1² = 0.5), not when even (0).
    # With 9 classes of 10 m up to 90 m, class j holds exactly the pairs at 10(j+1) m.
    x = X0 + 10.0 * np.arange(10)
    values = np.arange(10) % 2
    vario = empirical_variogram(x, np.full(10, Y0), values, n_lags=9, max_lag_m=90.0)
    np.testing.assert_allclose(vario.lag_m, 10.0 * np.arange(1, 10))
    np.testing.assert_array_equal(vario.n_pairs, 10 - np.arange(1, 10))
    np.testing.assert_allclose(vario.semivariance, [0.5, 0.0] * 4 + [0.5])
    assert list(vario.to_frame().columns) == ["lag_m", "semivariance", "n_pairs"]


def test_empirical_variogram_pairs_within_groups_only() -> None:
    # Two surveys of the same line, 10 points each 10 m apart, the second 1 m to the north
    # and shifted by +5 in value: within a survey the alternating line above; between
    # them every pair would differ by 5 ± 1 — grouping leaves those out, so the
    # semivariance is the line's and each class holds twice its pairs.
    x = X0 + 10.0 * np.concatenate([np.arange(10), np.arange(10)])
    y = np.concatenate([np.full(10, Y0), np.full(10, Y0 + 1.0)])
    values = np.concatenate([np.arange(10) % 2, 5.0 + np.arange(10) % 2])
    groups = np.repeat([2020, 2025], 10)
    vario = empirical_variogram(x, y, values, n_lags=9, max_lag_m=90.0, groups=groups)
    np.testing.assert_array_equal(vario.n_pairs, 2 * (10 - np.arange(1, 10)))
    np.testing.assert_allclose(vario.semivariance, [0.5, 0.0] * 4 + [0.5])
    with pytest.raises(InputError, match="group labels"):
        empirical_variogram(x, y, values, groups=groups[:5])


@pytest.mark.parametrize("name", ["spherical", "exponential", "gaussian"])
def test_fit_variogram_recovers_an_exact_model(name: str) -> None:
    # Semivariances computed from a known model: the fit must give that model back.
    truth = VariogramModel(model=name, nugget=2.0, psill=8.0, range_m=300.0)  # type: ignore[arg-type]
    lags = np.linspace(20.0, 600.0, 15)
    empirical = EmpiricalVariogram(
        lag_m=lags, semivariance=truth.semivariance(lags), n_pairs=np.full(15, 100, dtype=np.int64)
    )
    fitted = fit_variogram(empirical, model=name)  # type: ignore[arg-type]
    assert fitted.model == name
    assert fitted.nugget == pytest.approx(2.0, abs=2e-3)
    assert fitted.psill == pytest.approx(8.0, rel=1e-3)
    assert fitted.range_m == pytest.approx(300.0, rel=1e-3)


def test_fit_variogram_refuses_constant_values_and_unknown_models() -> None:
    flat = EmpiricalVariogram(
        lag_m=np.array([10.0, 20.0]), semivariance=np.zeros(2), n_pairs=np.array([5, 5])
    )
    with pytest.raises(ModelError, match="do not vary"):
        fit_variogram(flat)
    with pytest.raises(ConfigError, match=r"'matern'.*'spherical', 'exponential', 'gaussian'"):
        fit_variogram(flat, model="matern")  # type: ignore[arg-type]


def test_model_structures_by_hand() -> None:
    # spherical f(r) = 1.5 r − 0.5 r³ (r < 1), 1 beyond: f(0.5) = 0.75 − 0.0625 = 0.6875.
    np.testing.assert_allclose(spherical(np.array([0.0, 0.5, 1.0, 2.0])), [0, 0.6875, 1, 1])
    # exponential f(r) = 1 − e^(−3r): f(1/3) = 1 − e⁻¹ = 0.6321206, f(1) = 1 − e⁻³ = 0.9502129.
    np.testing.assert_allclose(
        exponential(np.array([0.0, 1.0 / 3.0, 1.0])), [0.0, 0.6321206, 0.9502129], atol=1e-7
    )
    # Gaussian f(r) = 1 − e^(−3r²): f(0.5) = 1 − e^(−0.75) = 0.5276334, f(1) = 0.9502129.
    np.testing.assert_allclose(
        gaussian(np.array([0.0, 0.5, 1.0])), [0.0, 0.5276334, 0.9502129], atol=1e-7
    )
    assert dict(VARIOGRAM_MODELS) == {
        "spherical": spherical,
        "exponential": exponential,
        "gaussian": gaussian,
    }


def test_check_variogram_name() -> None:
    for name in ("spherical", "exponential", "gaussian"):
        check_variogram_name(name)
    for bad in ("matern", 3, None):
        with pytest.raises(
            ConfigError, match=r"variogram model .*; valid: 'spherical', 'exponential', 'gaussian'"
        ):
            check_variogram_name(bad)


def test_empirical_variogram_needs_ten_points() -> None:
    x = X0 + 10.0 * np.arange(MIN_POINTS_VARIOGRAM - 1)
    with pytest.raises(InputError, match="at least 10 points; 9 given"):
        empirical_variogram(x, np.full(x.size, Y0), np.arange(x.size, dtype=float))
