"""Tests of carbonsink.accounting.non_co2 (CH4/N2O per class, GWP sets, CH4 sensitivity)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from carbonsink.accounting.non_co2 import (
    GWP,
    GWP_SOURCES,
    N2O_FRESHWATER_DEFAULT_MG_M2_D,
    N2O_FRESHWATER_DEFAULT_T_HA_YR,
    ClassFlux,
    ch4_sensitivity,
    class_emissions,
    class_fluxes,
)
from carbonsink.config import VegetationClass, load_survey
from carbonsink.errors import ConfigError, InputError
from carbonsink.units import (
    M2_PER_MU,
    c_to_co2,
    flux_mg_m2_d_to_t_ha_yr,
    flux_mg_m2_h_to_t_ha_yr,
    ha_to_mu,
    mu_to_ha,
)


# ----------------------------------------------------------- unit conversions
def test_co2_per_c_is_44_over_12() -> None:
    # 12 t C hold 44 t CO2; 1.5 t C → 1.5 × 44/12 = 5.5 t CO2.
    assert c_to_co2(12.0) == pytest.approx(44.0)
    assert c_to_co2(1.5) == pytest.approx(5.5)


def test_flux_mg_m2_d_to_t_ha_yr_by_hand() -> None:
    # 1 mg m⁻² = 1e-9 t / 1e-4 ha = 1e-5 t ha⁻¹; a year has 365 d:
    # 6 mg m⁻² d⁻¹ → 6 × 365 × 1e-5 = 0.0219 t ha⁻¹ yr⁻¹.
    assert flux_mg_m2_d_to_t_ha_yr(6.0) == pytest.approx(0.0219)
    assert flux_mg_m2_d_to_t_ha_yr(1.0) == pytest.approx(3.65e-3)


def test_mu_and_ha_by_hand() -> None:
    # 15 mu = 1 ha; 1 mu = 10,000 / 15 = 666.67 m²; 2 ha = 30 mu.
    assert mu_to_ha(15.0) == pytest.approx(1.0)
    assert ha_to_mu(2.0) == pytest.approx(30.0)
    assert pytest.approx(666.67, abs=0.005) == M2_PER_MU


def test_ten_hectares_at_six_mg_ch4_by_hand() -> None:
    # 6 mg CH4 m⁻² d⁻¹ on 10 ha: 6 × 365 × 1e-5 × 10 = 0.219 t CH4/yr;
    # × GWP 28 (AR5) = 6.132 t CO2e/yr.
    table = class_emissions(
        {"sedge": 10.0}, {"sedge": ClassFlux(ch4_mg_m2_d=6.0, n2o_mg_m2_d=0.0)}, gwp="AR5"
    )
    row = table.loc["sedge"]
    assert row["ch4_t_yr"] == pytest.approx(0.219)
    assert row["ch4_t_co2e_yr"] == pytest.approx(6.132)
    assert row["total_t_co2e_yr"] == pytest.approx(6.132)


def test_poyang_carex_example_and_which_gwp_gives_13_7() -> None:
    # METHODOLOGY §4: 11.3 mg CH4 m⁻² h⁻¹ for six months ≈ 13.7 t CO2e ha⁻¹.
    # Half a year, 4380 h: 11.3 × 4380 × 1e-5 = 0.49494 t CH4/ha
    #   × 28 (AR5) = 13.858, × 27 (AR6) = 13.363, × 25 (AR4) = 12.374 t CO2e/ha.
    # Six 30-day months, 4320 h: 11.3 × 4320 × 1e-5 = 0.48816 t CH4/ha × 28 = 13.668.
    # So 13.7 is the AR5 GWP of 28 with 180 days; no GWP set gives 13.7 with 182.5 days
    # (it would need 13.7 / 0.49494 = 27.7).
    half_year = flux_mg_m2_h_to_t_ha_yr(11.3, hours_per_year=4380.0)
    assert half_year == pytest.approx(0.49494)
    assert half_year * GWP["AR5"]["CH4"] == pytest.approx(13.858, abs=5e-4)
    assert half_year * GWP["AR6"]["CH4"] == pytest.approx(13.363, abs=5e-4)
    assert half_year * GWP["AR4"]["CH4"] == pytest.approx(12.374, abs=5e-4)
    six_30_day_months = flux_mg_m2_h_to_t_ha_yr(11.3, hours_per_year=180 * 24.0)
    assert six_30_day_months * GWP["AR5"]["CH4"] == pytest.approx(13.668, abs=5e-4)
    assert round(six_30_day_months * GWP["AR5"]["CH4"], 1) == 13.7
    # the same through class_emissions: 11.3 mg h⁻¹ = 271.2 mg d⁻¹ as an annual mean
    # over 1 ha is 11.3 × 24 × 365 × 1e-5 = 0.98988 t CH4/yr; half of it over six months.
    table = class_emissions(
        {"carex": 1.0}, {"carex": ClassFlux(ch4_mg_m2_d=11.3 * 24 / 2, n2o_mg_m2_d=0.0)}
    )
    assert table.loc["carex", "ch4_t_co2e_yr"] == pytest.approx(13.858, abs=5e-4)


def test_n2o_freshwater_default_in_both_units() -> None:
    # VM0033: 0.000864 t N2O ha⁻¹ yr⁻¹ = 0.000864 / (365 × 1e-5) = 0.23671 mg m⁻² d⁻¹.
    assert N2O_FRESHWATER_DEFAULT_T_HA_YR == 0.000864
    assert pytest.approx(0.236712, abs=1e-6) == N2O_FRESHWATER_DEFAULT_MG_M2_D
    assert flux_mg_m2_d_to_t_ha_yr(N2O_FRESHWATER_DEFAULT_MG_M2_D) == pytest.approx(0.000864)


# ----------------------------------------------------------- GWP registry
def test_gwp_registry_values_and_sources() -> None:
    # METHODOLOGY §4 table.
    assert GWP["AR4"] == {"CH4": 25.0, "N2O": 298.0}
    assert GWP["AR5"] == {"CH4": 28.0, "N2O": 265.0}
    assert GWP["AR6"] == {"CH4": 27.0, "N2O": 273.0}
    assert "Table 2.14" in GWP_SOURCES["AR4"]
    assert "Table 8.7" in GWP_SOURCES["AR5"]
    assert "Table 7.15" in GWP_SOURCES["AR6"]


@pytest.mark.parametrize(("gwp", "ch4_co2e"), [("AR4", 5.475), ("AR5", 6.132), ("AR6", 5.913)])
def test_gwp_set_changes_co2e(gwp: str, ch4_co2e: float) -> None:
    # 0.219 t CH4/yr × 25 = 5.475, × 28 = 6.132, × 27 = 5.913.
    # N2O 0.5 mg m⁻² d⁻¹ on 10 ha: 0.5 × 365e-5 × 10 = 0.01825 t N2O/yr.
    n2o_gwp = {"AR4": 298.0, "AR5": 265.0, "AR6": 273.0}[gwp]
    table = class_emissions(
        {"sedge": 10.0},
        {"sedge": ClassFlux(ch4_mg_m2_d=6.0, n2o_mg_m2_d=0.5)},
        gwp=gwp,  # type: ignore[arg-type]
    )
    row = table.loc["sedge"]
    assert row["ch4_t_co2e_yr"] == pytest.approx(ch4_co2e)
    assert row["n2o_t_yr"] == pytest.approx(0.01825)
    assert row["n2o_t_co2e_yr"] == pytest.approx(0.01825 * n2o_gwp)
    assert row["total_t_co2e_yr"] == pytest.approx(ch4_co2e + 0.01825 * n2o_gwp)
    assert table.attrs["gwp"] == gwp
    assert table.attrs["gwp_ch4"] == GWP[gwp]["CH4"]


def test_unknown_gwp_set_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="AR3"):
        class_emissions({"a": 1.0}, {"a": ClassFlux(1.0, 0.0)}, gwp="AR3")  # type: ignore[arg-type]


# ----------------------------------------------------------- sources and missing fluxes
def test_flux_sources_are_labelled() -> None:
    fluxes = {
        "sedge": ClassFlux(ch4_mg_m2_d=6.0, n2o_mg_m2_d=0.2, ch4_measured=True),
        "reed": ClassFlux(ch4_mg_m2_d=3.0, n2o_default_mg_m2_d=0.1),
        "mudflat": ClassFlux(ch4_default_mg_m2_d=1.5, n2o_default_mg_m2_d=0.1),
    }
    table = class_emissions({"sedge": 1.0, "reed": 2.0, "mudflat": 4.0}, fluxes)
    assert table.loc["sedge", "ch4_flux_source"] == "measured"
    assert table.loc["sedge", "n2o_flux_source"] == "configured"
    assert table.loc["reed", "ch4_flux_source"] == "configured"
    assert table.loc["reed", "n2o_flux_source"] == "default factor"
    assert table.loc["mudflat", "ch4_flux_source"] == "default factor"
    assert table.loc["mudflat", "ch4_flux_mg_m2_d"] == 1.5
    # mudflat: 4 ha × 1.5 × 365e-5 = 0.0219 t CH4/yr.
    assert table.loc["mudflat", "ch4_t_yr"] == pytest.approx(0.0219)


def test_missing_ch4_flux_without_default_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"no CH4 flux") as error:
        class_emissions({"sedge": 10.0}, {"sedge": ClassFlux(n2o_mg_m2_d=0.0)})
    assert error.value.problem.where == "[vegetation.classes.sedge].ch4_flux_mg_m2_d"
    assert error.value.problem.fix


def test_missing_n2o_flux_without_default_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"no N2O flux"):
        class_emissions({"sedge": 10.0}, {"sedge": ClassFlux(ch4_mg_m2_d=6.0)})


def test_class_without_flux_entry_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'reed' has an area but no"):
        class_emissions({"sedge": 1.0, "reed": 1.0}, {"sedge": ClassFlux(6.0, 0.0)})


def test_explicit_zero_flux_is_allowed_and_labelled() -> None:
    table = class_emissions(
        {"poplar": 5.0, "sedge": 1.0},
        {"poplar": ClassFlux(ch4_mg_m2_d=0.0, n2o_mg_m2_d=0.1), "sedge": ClassFlux(6.0, 0.1)},
    )
    assert table.loc["poplar", "ch4_t_co2e_yr"] == 0.0
    assert "CH4 flux is exactly 0 (configured)" in str(table.loc["poplar", "note"])
    assert table.loc["sedge", "note"] == ""


def test_non_finite_flux_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="nan"):
        class_emissions({"a": 1.0}, {"a": ClassFlux(ch4_mg_m2_d=math.nan, n2o_mg_m2_d=0.0)})


@pytest.mark.parametrize("area", [-1.0, math.inf, math.nan])
def test_bad_area_is_an_input_error(area: float) -> None:
    with pytest.raises(InputError, match="'a' has an area"):
        class_emissions({"a": area}, {"a": ClassFlux(1.0, 0.0)})


def test_no_areas_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no class areas"):
        class_emissions({}, {"a": ClassFlux(1.0, 0.0)})


def test_inputs_are_not_mutated_and_extra_flux_classes_ignored() -> None:
    areas = {"sedge": 10.0}
    fluxes = {"sedge": ClassFlux(6.0, 0.0), "reed": ClassFlux(3.0, 0.0)}
    table = class_emissions(areas, fluxes)
    assert list(table.index) == ["sedge"]
    assert areas == {"sedge": 10.0}
    assert set(fluxes) == {"sedge", "reed"}


# ----------------------------------------------------------- fluxes from the survey's classes
def test_class_fluxes_precedence_measured_configured_default() -> None:
    classes = {
        "sedge": VegetationClass(code=3, ch4_flux_mg_m2_d=6.0),
        "reed": VegetationClass(code=4, ch4_flux_mg_m2_d=3.0),
        "mudflat": VegetationClass(code=2),
    }
    fluxes = class_fluxes(
        classes,
        ch4_default_mg_m2_d=1.0,
        n2o_default_mg_m2_d=N2O_FRESHWATER_DEFAULT_MG_M2_D,
        measured_ch4_mg_m2_d={"sedge": 9.0},
    )
    assert fluxes["sedge"].resolve("CH4", class_name="sedge") == (9.0, "measured")
    assert fluxes["reed"].resolve("CH4", class_name="reed") == (3.0, "configured")
    assert fluxes["mudflat"].resolve("CH4", class_name="mudflat") == (1.0, "default factor")
    assert fluxes["reed"].resolve("N2O", class_name="reed") == (
        N2O_FRESHWATER_DEFAULT_MG_M2_D,
        "default factor",
    )


def test_class_fluxes_without_default_leaves_the_gap_to_be_reported() -> None:
    fluxes = class_fluxes({"mudflat": VegetationClass(code=2)}, n2o_default_mg_m2_d=0.0)
    with pytest.raises(ConfigError, match="'mudflat' has no CH4 flux"):
        class_emissions({"mudflat": 3.0}, fluxes)


def test_class_fluxes_rejects_measured_flux_of_unknown_class() -> None:
    with pytest.raises(ConfigError, match="not in the legend: willow"):
        class_fluxes({"reed": VegetationClass(code=4)}, measured_ch4_mg_m2_d={"willow": 2.0})


def test_synthetic_survey_ch4_matches_its_truth(sample_survey: Path) -> None:
    # The synthetic truth: CH4 = Σ_class area_2025 × flux × 365e-5 × 28 (AR5), no N2O;
    # net = removals − CH4 (sample_data/junshan/truth/totals.json, "method").
    survey = load_survey(sample_survey)
    truth = json.loads((sample_survey.parent / "truth" / "totals.json").read_text())
    sink = truth["sink"]
    areas = {
        name: area
        for name, area in truth["epochs"][sink["to_epoch"]]["area_ha"].items()
        if name != "total"
    }
    fluxes = class_fluxes(survey.vegetation.classes, n2o_default_mg_m2_d=0.0)
    table = class_emissions(areas, fluxes, gwp="AR5")
    for name, expected in sink["ch4_by_class_t_co2e_yr"].items():
        assert table.loc[name, "ch4_t_co2e_yr"] == pytest.approx(expected, rel=1e-9)
    assert table["ch4_t_co2e_yr"].sum() == pytest.approx(sink["ch4_t_co2e_yr"], rel=1e-9)
    sensitivity = ch4_sensitivity(
        sink["removals_t_co2e_yr"], areas, fluxes, multipliers=(1.0,), gwp="AR5"
    )
    assert sensitivity.table.loc[0, "net_t_co2e_yr"] == pytest.approx(
        sink["net_t_co2e_yr"], rel=1e-9
    )


# ----------------------------------------------------------- CH4 sensitivity
def test_ch4_sensitivity_by_hand() -> None:
    # 10 ha at 6 mg CH4 m⁻² d⁻¹ = 6.132 t CO2e/yr (AR5); N2O 0.5 mg m⁻² d⁻¹ on 10 ha
    # = 0.01825 t × 265 = 4.83625 t CO2e/yr. Removals 10 t CO2e/yr:
    #   net(k) = 10 − 6.132 k − 4.83625: k=0 → 5.16375, 1 → −0.96825, 2 → −7.10025.
    #   break-even k* = (10 − 4.83625) / 6.132 = 0.842098; flux at k* = 0.842098 × 6 = 5.05259.
    result = ch4_sensitivity(
        10.0,
        {"sedge": 10.0},
        {"sedge": ClassFlux(6.0, 0.5)},
        multipliers=(0.0, 1.0, 2.0),
    )
    table = result.table
    assert list(table["ch4_multiplier"]) == [0.0, 1.0, 2.0]
    assert list(table["net_t_co2e_yr"]) == pytest.approx([5.16375, -0.96825, -7.10025])
    assert list(table["ch4_flux_area_weighted_mg_m2_d"]) == pytest.approx([0.0, 6.0, 12.0])
    assert result.break_even_multiplier == pytest.approx(0.842098, abs=1e-6)
    assert result.break_even_ch4_flux_mg_m2_d == pytest.approx(5.05259, abs=1e-5)
    as_dict = result.to_dict()
    assert as_dict["gwp"] == "AR5"
    assert as_dict["table"][1]["net_t_co2e_yr"] == pytest.approx(-0.96825)


def test_ch4_sensitivity_default_multipliers_and_area_weighted_flux() -> None:
    # sedge 10 ha at 6, reed 30 ha at 2 mg m⁻² d⁻¹: area-weighted flux (60 + 60) / 40 = 3.
    # CH4 = (10 × 6 + 30 × 2) × 365e-5 × 28 = 120 × 0.1022 = 12.264 t CO2e/yr.
    result = ch4_sensitivity(
        20.0,
        {"sedge": 10.0, "reed": 30.0},
        {"sedge": ClassFlux(6.0, 0.0), "reed": ClassFlux(2.0, 0.0)},
    )
    assert list(result.table["ch4_multiplier"]) == [0.0, 0.5, 1.0, 2.0, 4.0]
    assert result.table.loc[2, "ch4_flux_area_weighted_mg_m2_d"] == pytest.approx(3.0)
    assert result.table.loc[2, "ch4_t_co2e_yr"] == pytest.approx(12.264)
    # break-even 20 / 12.264 = 1.630789
    assert result.break_even_multiplier == pytest.approx(1.630789, abs=1e-6)


def test_ch4_sensitivity_with_zero_ch4_has_no_break_even() -> None:
    result = ch4_sensitivity(5.0, {"a": 1.0}, {"a": ClassFlux(0.0, 0.0)})
    assert math.isnan(result.break_even_multiplier)
    assert result.to_dict()["break_even_multiplier"] is None
    assert set(result.table["net_t_co2e_yr"]) == {5.0}


@pytest.mark.parametrize("multipliers", [(), (-1.0,), (math.nan,)])
def test_ch4_sensitivity_rejects_bad_multipliers(multipliers: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError, match="multipliers"):
        ch4_sensitivity(1.0, {"a": 1.0}, {"a": ClassFlux(1.0, 0.0)}, multipliers=multipliers)


def test_ch4_sensitivity_rejects_non_finite_removals() -> None:
    with pytest.raises(InputError, match="removals"):
        ch4_sensitivity(math.nan, {"a": 1.0}, {"a": ClassFlux(1.0, 0.0)})
