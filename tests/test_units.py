"""Tests for carbonsink.units: every conversion checked against hand arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from carbonsink import units as u


# ----------------------------------------------------------------- constants
def test_co2_per_c_is_44_over_12() -> None:
    # Molar masses rounded as IPCC does: CO2 = 44, C = 12 -> 44/12 = 3.6667.
    assert pytest.approx(3.666_666_667, rel=1e-9) == u.CO2_PER_C
    assert round(u.CO2_PER_C, 4) == 3.6667  # docs/methodology.md §1


def test_area_constants() -> None:
    # 1 ha = 100 m x 100 m = 10,000 m².
    assert u.M2_PER_HA == 10_000.0
    # 1 mu = 10,000/15 m² = 666.666... m² ≈ 666.67 m² = 1/15 ha.
    assert pytest.approx(666.67, abs=0.005) == u.M2_PER_MU
    assert pytest.approx(1 / 15, rel=1e-12) == u.HA_PER_MU
    assert pytest.approx(u.HA_PER_MU, rel=1e-12) == u.M2_PER_MU / u.M2_PER_HA


def test_density_constants() -> None:
    # 1 g/m² = 1e-6 Mg / 1e-4 ha = 0.01 Mg/ha; its inverse is 100 g/m² per Mg/ha.
    assert pytest.approx(1e-6 / 1e-4) == u.MG_HA_PER_G_M2
    assert pytest.approx(1.0) == u.G_M2_PER_MG_HA * u.MG_HA_PER_G_M2
    # 1 kg/m² = 1e-3 Mg / 1e-4 ha = 10 Mg/ha.
    assert pytest.approx(1e-3 / 1e-4) == u.MG_HA_PER_KG_M2


def test_flux_constant() -> None:
    # 1 mg/m² = 1e-9 t / 1e-4 ha = 1e-5 t/ha; x 365 d = 3.65e-3 t ha⁻¹ yr⁻¹.
    assert pytest.approx(3.65e-3, rel=1e-12) == u.T_HA_YR_PER_MG_M2_D


def test_feet_constants() -> None:
    # International foot: exactly 0.3048 m; US survey foot: exactly 1200/3937 m
    # = 0.30480060960... m (NIST Handbook 44).
    assert u.FOOT_M == 0.3048
    assert pytest.approx(0.304_800_609_6, rel=1e-10) == u.US_SURVEY_FOOT_M


# ---------------------------------------------------------------- conversions
def test_mu_and_hectares() -> None:
    # 15 mu = 1 ha; 1 mu = 1/15 ha = 0.0666... ha; 1 ha = 15 mu.
    assert u.mu_to_ha(15.0) == pytest.approx(1.0, rel=1e-12)
    assert u.mu_to_ha(1.0) == pytest.approx(0.066_666_667, rel=1e-8)
    assert u.ha_to_mu(1.0) == pytest.approx(15.0, rel=1e-12)
    # 2,400 mu (a typical pond block) = 2400 / 15 = 160 ha.
    assert u.mu_to_ha(2400.0) == pytest.approx(160.0, rel=1e-12)


def test_m2_to_ha() -> None:
    # 666.67 m² (one mu) = 0.066667 ha; 10 m x 10 m cell = 100 m² = 0.01 ha.
    assert u.m2_to_ha(100.0) == pytest.approx(0.01)
    assert u.m2_to_ha(10_000.0 / 15.0) == pytest.approx(1 / 15)


def test_g_m2_to_mg_ha() -> None:
    # 1 g/m² = 0.01 Mg/ha; 1280 g/m² = 12.8 Mg/ha; 1 kg/m² = 1000 g/m² = 10 Mg/ha.
    assert u.g_m2_to_mg_ha(1.0) == pytest.approx(0.01)
    assert u.g_m2_to_mg_ha(1280.0) == pytest.approx(12.8)
    assert u.g_m2_to_mg_ha(1000.0) == pytest.approx(10.0)
    assert pytest.approx(10.0) == 1.0 * u.MG_HA_PER_KG_M2
    # Inverse: 12.8 Mg/ha = 1280 g/m².
    assert u.mg_ha_to_g_m2(12.8) == pytest.approx(1280.0)


def test_c_and_co2() -> None:
    # 12 t C = 44 t CO2; 3 t C = 11 t CO2; and back.
    assert u.c_to_co2(12.0) == pytest.approx(44.0)
    assert u.c_to_co2(3.0) == pytest.approx(11.0)
    assert u.co2_to_c(44.0) == pytest.approx(12.0)
    assert u.co2_to_c(u.c_to_co2(7.25)) == pytest.approx(7.25)


def test_daily_flux() -> None:
    # 10 mg CH4 m⁻² d⁻¹ x 365 d x 1e-5 = 0.0365 t CH4 ha⁻¹ yr⁻¹.
    assert u.flux_mg_m2_d_to_t_ha_yr(10.0) == pytest.approx(0.0365)
    # 100 mg m⁻² d⁻¹ -> 0.365 t ha⁻¹ yr⁻¹.
    assert u.flux_mg_m2_d_to_t_ha_yr(100.0) == pytest.approx(0.365)


def test_hourly_flux_over_a_season() -> None:
    # 11.3 mg CH4 m⁻² h⁻¹ for six months = 4380 h:
    #   11.3 x 4380 = 49,494 mg/m² = 49,494 x 1e-5 t/ha = 0.49494 t CH4/ha.
    ch4 = u.flux_mg_m2_h_to_t_ha_yr(11.3, hours_per_year=4380.0)
    assert ch4 == pytest.approx(0.49494, rel=1e-9)
    # At GWP100 = 28: 0.49494 x 28 = 13.858 t CO2e/ha. docs/methodology.md rounds the
    # same example to "≈ 13.7"; the exact product is 13.858 (noted in the report).
    assert ch4 * 28.0 == pytest.approx(13.858_32, rel=1e-6)
    # Default: a full year of 8760 h. 1 mg m⁻² h⁻¹ = 8760 x 1e-5 = 0.0876 t ha⁻¹ yr⁻¹,
    # the same as 24 mg m⁻² d⁻¹ x 365 x 1e-5.
    assert u.flux_mg_m2_h_to_t_ha_yr(1.0) == pytest.approx(0.0876)
    assert u.flux_mg_m2_h_to_t_ha_yr(1.0) == pytest.approx(u.flux_mg_m2_d_to_t_ha_yr(24.0))


def test_feet_to_metres() -> None:
    # 1 ft = 0.3048 m; 100 ft = 30.48 m; 3937 US survey ft = 1200 m exactly.
    assert u.feet_to_metres(1.0) == 0.3048
    assert u.feet_to_metres(100.0) == pytest.approx(30.48)
    assert u.us_survey_feet_to_metres(3937.0) == pytest.approx(1200.0, rel=1e-12)
    # The two feet differ by 2 ppm: over 1,000,000 ft that is ~0.61 m.
    diff = u.us_survey_feet_to_metres(1e6) - u.feet_to_metres(1e6)
    assert diff == pytest.approx(1e6 * (1200 / 3937 - 0.3048), rel=1e-9)
    assert diff == pytest.approx(0.6096, abs=1e-4)


def test_conversions_on_arrays() -> None:
    g_m2 = np.array([0.0, 1.0, 1280.0, 1000.0])
    np.testing.assert_allclose(u.g_m2_to_mg_ha(g_m2), [0.0, 0.01, 12.8, 10.0])
    np.testing.assert_allclose(u.mu_to_ha(np.array([15.0, 30.0, 1.5])), [1.0, 2.0, 0.1])
    np.testing.assert_allclose(u.ha_to_mu(np.array([1.0, 0.1])), [15.0, 1.5])
    np.testing.assert_allclose(u.c_to_co2(np.array([12.0, 6.0])), [44.0, 22.0])
    np.testing.assert_allclose(u.co2_to_c(np.array([44.0, 11.0])), [12.0, 3.0])
    np.testing.assert_allclose(u.m2_to_ha(np.array([100.0, 1e4])), [0.01, 1.0])
    np.testing.assert_allclose(u.flux_mg_m2_d_to_t_ha_yr(np.array([10.0, 0.0])), [0.0365, 0.0])
    np.testing.assert_allclose(
        u.flux_mg_m2_h_to_t_ha_yr(np.array([11.3, 1.0]), hours_per_year=4380.0),
        [0.49494, 0.0438],
    )
    np.testing.assert_allclose(u.feet_to_metres(np.array([1.0, 10.0])), [0.3048, 3.048])
    np.testing.assert_allclose(u.us_survey_feet_to_metres(np.array([3937.0])), [1200.0])
    # NaN propagates (missing stays missing), the input is not modified.
    src = np.array([np.nan, 2.0])
    out = u.mg_ha_to_g_m2(src)
    assert np.isnan(out[0]) and out[1] == pytest.approx(200.0)
    assert np.isnan(src[0]) and src[1] == 2.0
