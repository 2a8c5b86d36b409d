"""OM -> OC conversions, the site regression and per-layer organic carbon."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carbonsink.config import OM_TO_OC_METHODS
from carbonsink.errors import ConfigError, InputError
from carbonsink.soil.conversion import (
    OM_TO_OC,
    SiteRegression,
    dichromate,
    fit_site_regression,
    organic_carbon_pct,
    pribyl,
    van_bemmelen,
    vm0033,
)


def _layers(**columns: list[object]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base: dict[str, list[object]] = {"core_id": [f"K{i}" for i in range(n)]}
    base.update(columns)
    return pd.DataFrame(base, index=pd.Index(range(2, n + 2), name="line"))


def test_registry_names_match_the_survey_options() -> None:
    assert set(OM_TO_OC) == set(OM_TO_OC_METHODS)


def test_published_conversions_by_hand() -> None:
    # dichromate: 17.24 / 1.724 = 10; van Bemmelen 0.58 × 10 = 5.8; Pribyl 0.5 × 10 = 5;
    # VM0033 (Craft 1991): 0.40 × 20 + 0.0025 × 20² = 8 + 1 = 9.
    assert dichromate(np.array([17.24]))[0] == pytest.approx(10.0, rel=1e-12)
    assert van_bemmelen(np.array([10.0]))[0] == pytest.approx(5.8, rel=1e-12)
    assert pribyl(np.array([10.0]))[0] == pytest.approx(5.0, rel=1e-12)
    assert vm0033(np.array([20.0]))[0] == pytest.approx(9.0, rel=1e-12)


def test_registry_derivatives_match_finite_differences() -> None:
    om = np.array([1.0, 10.0, 40.0])
    for conversion in OM_TO_OC.values():
        if conversion.function is None or conversion.derivative is None:
            continue
        h = 1e-4
        numeric = (conversion.function(om + h) - conversion.function(om - h)) / (2 * h)
        np.testing.assert_allclose(conversion.derivative(om), numeric, rtol=1e-7)


def test_vm0033_agrees_with_measured_carbon_of_tidal_marsh_cores(shared_data: Path) -> None:
    # Snedden (2018) reports LOI and OC on the same 539 Louisiana marsh samples.
    # Craft et al. (1991) calibrated the equation on other Atlantic/Gulf marshes:
    # agreement within a third in the median is what a transferred calibration
    # gives; with a linear coefficient of 0.04 (a misprint some transcriptions carry) the
    # median ratio would be about 0.29.
    table = pd.read_csv(shared_data / "soil/ccn_snedden_2018/Snedden_2018_depthseries.csv")
    om = table["fraction_organic_matter"].to_numpy() * 100
    oc = table["fraction_carbon"].to_numpy() * 100
    ratio = float(np.median(vm0033(om) / oc))
    assert 0.75 < ratio < 1.33


def test_site_regression_recovers_exact_line_and_standard_errors() -> None:
    # OM = 1..40, OC = 0.5 + 0.45 OM + e with e = +0.1, −0.1, −0.1, +0.1 repeated:
    # Σe = 0 and Σ e·OM = 0.1 (1 − 2 − 3 + 4) per block = 0, so OLS gives a = 0.5,
    # b = 0.45 exactly; s² = 40 × 0.01 / 38; Sxx = n(n² − 1)/12 = 40 × 1599 / 12 = 5330.
    om = np.arange(1.0, 41.0)
    e = np.tile([0.1, -0.1, -0.1, 0.1], 10)
    fit = fit_site_regression(om, 0.5 + 0.45 * om + e)
    s2 = 0.4 / 38
    assert fit.n == 40
    assert fit.intercept == pytest.approx(0.5, abs=1e-12)
    assert fit.slope == pytest.approx(0.45, abs=1e-12)
    assert fit.residual_se == pytest.approx(math.sqrt(s2), rel=1e-12)
    assert fit.slope_se == pytest.approx(math.sqrt(s2 / 5330), rel=1e-12)
    assert fit.intercept_se == pytest.approx(math.sqrt(s2 * (1 / 40 + 20.5**2 / 5330)), rel=1e-12)
    # At the mean OM (20.5) the coefficient term is s²/n: SE = s sqrt(1 + 1/40).
    oc, se = fit.predict([20.5])
    assert oc[0] == pytest.approx(0.5 + 0.45 * 20.5, rel=1e-12)
    assert se[0] == pytest.approx(math.sqrt(s2 * 1.025), rel=1e-12)


def test_site_regression_needs_thirty_pairs() -> None:
    om = np.arange(1.0, 30.0)
    with pytest.raises(InputError, match=r"at least 30 .* got 29 \(1 more needed\)"):
        fit_site_regression(om, 0.5 * om)


def test_site_regression_rejects_bad_pairs() -> None:
    with pytest.raises(InputError, match="paired"):
        fit_site_regression(np.arange(40.0), np.arange(39.0))
    om = np.arange(40.0)
    om[3] = np.nan
    with pytest.raises(InputError, match="missing"):
        fit_site_regression(om, np.arange(40.0))
    with pytest.raises(InputError, match="equal"):
        fit_site_regression(np.full(40, 5.0), np.arange(40.0))


def test_site_regression_on_real_pairs_is_unbiased_on_average(shared_data: Path) -> None:
    # OLS residuals sum to zero: the mean prediction equals the mean measured OC.
    table = pd.read_csv(shared_data / "soil/ccn_snedden_2018/Snedden_2018_depthseries.csv")
    om = table["fraction_organic_matter"].to_numpy() * 100
    oc = table["fraction_carbon"].to_numpy() * 100
    fit = fit_site_regression(om, oc)
    predicted, se = fit.predict(om)
    assert predicted.mean() == pytest.approx(oc.mean(), rel=1e-9)
    assert (se >= fit.residual_se).all()


def test_organic_carbon_from_each_column() -> None:
    # line 2: measured 2.5 %; line 3: om_pct 3.448 / 1.724 = 2.0 %;
    # line 4: om_g_kg 34.48 g/kg = 3.448 % -> 2.0 %.
    layers = _layers(
        soc_pct=[2.5, np.nan, np.nan],
        om_pct=[np.nan, 3.448, np.nan],
        om_g_kg=[np.nan, np.nan, 34.48],
    )
    result = organic_carbon_pct(layers)
    np.testing.assert_allclose(result["oc_pct"], [2.5, 2.0, 2.0], rtol=1e-12)
    np.testing.assert_array_equal(result["oc_se_pct"], [0.0, 0.0, 0.0])
    assert list(result["oc_source"]) == ["measured", "dichromate", "dichromate"]
    assert list(result.index) == [2, 3, 4]


def test_measured_oc_wins_over_organic_matter() -> None:
    layers = _layers(soc_pct=[1.0], om_pct=[5.0], method=["CHN"])
    assert organic_carbon_pct(layers, om_to_oc="pribyl")["oc_pct"].iloc[0] == 1.0


def test_standard_errors_are_carried_through_the_conversion() -> None:
    # OM SE 1.724 % with OC = OM / 1.724 -> OC SE 1.0 %; om_se_g_kg 17.24 g/kg = 1.724 %.
    layers = _layers(
        soc_pct=[2.0, np.nan, np.nan],
        soc_se_pct=[0.3, np.nan, np.nan],
        om_pct=[np.nan, 5.0, np.nan],
        om_se_pct=[np.nan, 1.724, np.nan],
        om_g_kg=[np.nan, np.nan, 50.0],
        om_se_g_kg=[np.nan, np.nan, 17.24],
    )
    result = organic_carbon_pct(layers)
    np.testing.assert_allclose(result["oc_se_pct"], [0.3, 1.0, 1.0], rtol=1e-12)


def test_site_regression_conversion_gives_prediction_se() -> None:
    regression = SiteRegression(
        intercept=0.0,
        slope=0.5,
        intercept_se=0.1,
        slope_se=0.01,
        covariance=((0.01, 0.0), (0.0, 0.0001)),
        residual_se=0.2,
        n=40,
        om_range_pct=(0.0, 50.0),
    )
    # OM 4 % -> OC 2 %; SE² = 0.2² + 0.01 + 4² × 0.0001 = 0.04 + 0.01 + 0.0016 = 0.0516.
    result = organic_carbon_pct(
        _layers(om_pct=[4.0]), om_to_oc="site-regression", site_regression=regression
    )
    assert result["oc_pct"].iloc[0] == pytest.approx(2.0, rel=1e-12)
    assert result["oc_se_pct"].iloc[0] == pytest.approx(math.sqrt(0.0516), rel=1e-12)
    with pytest.raises(ConfigError, match="no site regression"):
        organic_carbon_pct(_layers(om_pct=[4.0]), om_to_oc="site-regression")


def test_unknown_conversion_lists_the_valid_names() -> None:
    with pytest.raises(ConfigError, match="dichromate, van-bemmelen, pribyl, vm0033"):
        organic_carbon_pct(_layers(om_pct=[4.0]), om_to_oc="walkley")


def test_oc_above_sixty_percent_names_core_and_line() -> None:
    layers = _layers(soc_pct=[2.0, 75.0])
    with pytest.raises(InputError, match=r"above 60 %.*core 'K1' line 3"):
        organic_carbon_pct(layers)


def test_rows_without_carbon_or_with_bad_se_name_core_and_line() -> None:
    with pytest.raises(InputError, match=r"no organic carbon value.*core 'K1' line 3"):
        organic_carbon_pct(_layers(soc_pct=[2.0, np.nan]))
    with pytest.raises(InputError, match=r"soc_se_pct is not a number ≥ 0.*core 'K0' line 2"):
        organic_carbon_pct(_layers(soc_pct=[2.0], soc_se_pct=[-0.1]))


def test_input_is_not_modified() -> None:
    layers = _layers(om_g_kg=[34.48, 20.0])
    before = layers.copy()
    organic_carbon_pct(layers)
    pd.testing.assert_frame_equal(layers, before)
