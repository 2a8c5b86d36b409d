"""Tests of carbonsink.accounting.parameters (the ledger's per-class distributions).

z90 = Φ⁻¹(0.95) = 1.6448536 throughout; 2 × z90 = 3.2897073. Monte Carlo
checks use 200,000 seeded draws; the standard error of a sample quantile of a
normal variable is sqrt(p(1 − p)/n) / φ(z_p) × σ, which for p = 0.05 is
sqrt(0.0475/2e5) / 0.10314 × σ = 0.0047 σ, so the 5th–95th width (3.29 σ) is
known to ≈ 0.2 %; assertions allow 2 %.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from carbonsink.accounting.distributions import Fixed, LogNormal, Normal
from carbonsink.accounting.parameters import (
    class_parameters,
    flux_distribution,
    range_distribution,
)
from carbonsink.accounting.profiles import load_profile
from carbonsink.config import VegetationClass
from carbonsink.errors import ConfigError

Z90 = 1.6448536269514722
N = 200_000


# ------------------------------------------------------------ range_distribution
def test_range_distribution_mean_is_the_value_and_range_is_the_90_interval() -> None:
    spec = range_distribution(0.47, 0.44, 0.49, name="cf")
    assert isinstance(spec, LogNormal)
    assert spec.mean == 0.47
    # σ = ln(0.49 / 0.44) / (2 × 1.6448536) = 0.107631 / 3.289707 = 0.0327174
    assert spec.sigma_log == pytest.approx(0.0327174, abs=1e-6)
    assert spec.sigma_log == pytest.approx(math.log(0.49 / 0.44) / (2 * Z90), rel=1e-12)


def test_range_distribution_wide_range() -> None:
    # Root:shoot 1.5 in 0.8–4.0 (docs/methodology.md §2, Carex):
    # σ = ln(4.0 / 0.8) / 3.289707 = ln 5 / 3.289707 = 1.609438 / 3.289707 = 0.489234.
    spec = range_distribution(1.5, 0.8, 4.0, name="rs")
    assert isinstance(spec, LogNormal)
    assert spec.mean == 1.5
    assert spec.sigma_log == pytest.approx(0.489234, abs=1e-6)


def test_range_distribution_draws_span_the_range_in_log_terms() -> None:
    spec = range_distribution(1.5, 0.8, 4.0, name="rs")
    x = spec.draw(np.random.default_rng(20240601), N)
    p5, p95 = np.quantile(np.log(x), [0.05, 0.95])
    # 5th–95th percentile width of ln X = 2 × z90 × σ = ln(4.0 / 0.8) = ln 5 = 1.6094.
    assert p95 - p5 == pytest.approx(math.log(5.0), rel=0.02)
    # The mean is the value: SD = 1.5 × sqrt(e^{σ²} − 1) = 1.5 × sqrt(e^{0.23935} − 1)
    # = 1.5 × 0.5204 = 0.78; SE(mean) = 0.78 / √2e5 = 0.0017; allow 0.01.
    assert float(np.mean(x)) == pytest.approx(1.5, abs=0.01)


def test_range_distribution_with_low_zero_uses_the_upper_side() -> None:
    # low = 0: σ = ln(high / value) / z90 = ln(3.0 / 1.0) / 1.6448536 = 1.098612 / 1.644854
    # = 0.667909.
    spec = range_distribution(1.0, 0.0, 3.0, name="rs")
    assert isinstance(spec, LogNormal)
    assert spec.mean == 1.0
    assert spec.sigma_log == pytest.approx(0.667909, abs=1e-6)
    assert spec.sigma_log == pytest.approx(math.log(3.0) / Z90, rel=1e-12)


def test_range_distribution_zero_value_and_degenerate_range_are_fixed() -> None:
    # Open water has no roots: root:shoot 0 stays exactly 0.
    assert range_distribution(0.0, 0.0, 2.0, name="rs") == Fixed(0.0)
    assert range_distribution(0.0, 0.0, 0.0, name="rs") == Fixed(0.0)
    # A single-valued range is a known value.
    assert range_distribution(0.45, 0.45, 0.45, name="cf") == Fixed(0.45)


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        (0.50, 0.44, 0.49),  # above the range
        (0.40, 0.44, 0.49),  # below the range
        (0.47, 0.49, 0.44),  # reversed range
        (0.10, -0.10, 0.49),  # negative low
        (0.47, 0.44, math.inf),  # infinite high
        (math.nan, 0.44, 0.49),  # not a number
    ],
)
def test_range_distribution_rejects_a_value_outside_its_range(
    value: float, low: float, high: float
) -> None:
    with pytest.raises(ConfigError, match="carbon_fraction") as info:
        range_distribution(value, low, high, name="carbon_fraction")
    assert info.value.problem.fix


# ------------------------------------------------------------ flux_distribution
def test_flux_distribution_emission_default_sd() -> None:
    # No SD given: 50 % of the flux, 0.5 × 10 = 5.
    assert flux_distribution(10.0, None) == LogNormal(mean=10.0, sd=5.0)


def test_flux_distribution_emission_explicit_sd() -> None:
    assert flux_distribution(10.0, 2.0) == LogNormal(mean=10.0, sd=2.0)
    # SD 0: a log-normal with no spread (draws are the flux itself).
    spec = flux_distribution(4.0, 0.0)
    x = spec.draw(np.random.default_rng(1), 10)
    np.testing.assert_allclose(x, 4.0, rtol=1e-12)


def test_flux_distribution_uptake_is_normal() -> None:
    # Uptake −3 without SD: Normal(−3, 0.5 × |−3| = 1.5); with SD 0.4: Normal(−3, 0.4).
    assert flux_distribution(-3.0, None) == Normal(mean=-3.0, sd=1.5)
    assert flux_distribution(-3.0, 0.4) == Normal(mean=-3.0, sd=0.4)


def test_flux_distribution_zero() -> None:
    # A flux stated as 0 with no SD stays 0; with an SD it is a normal around 0.
    assert flux_distribution(0.0, None) == Fixed(0.0)
    assert flux_distribution(0.0, 0.5) == Normal(mean=0.0, sd=0.5)


# ------------------------------------------------------------ class_parameters
def test_class_parameters_configured_ch4_and_default_n2o() -> None:
    classes = {
        "sedge": VegetationClass(
            code=3,
            root_shoot=1.5,
            root_shoot_range=(0.8, 4.0),
            ch4_flux_mg_m2_d=5.0,
            ch4_flux_sd_mg_m2_d=2.0,
        )
    }
    params = class_parameters(classes, load_profile("vm0033"))["sedge"]
    assert params.ch4_source == "configured"
    assert params.ch4_flux_mg_m2_d == LogNormal(mean=5.0, sd=2.0)
    # vm0033 N2O default 0.000864 t N2O/ha/yr ÷ (365 × 1e-5) = 0.236712 mg N2O/m²/d,
    # with the default 50 % SD.
    assert params.n2o_source == "default factor"
    n2o = params.n2o_flux_mg_m2_d
    assert isinstance(n2o, LogNormal)
    assert n2o.mean == pytest.approx(0.236712, abs=1e-6)
    assert n2o.sd == pytest.approx(0.5 * 0.236712, abs=1e-6)
    # Root:shoot from its own range: σ = ln(4.0 / 0.8) / 3.289707 = 0.489234.
    rs = params.root_shoot
    assert isinstance(rs, LogNormal)
    assert rs.mean == 1.5
    assert rs.sigma_log == pytest.approx(0.489234, abs=1e-6)


def test_class_without_ch4_under_vm0033_is_an_error() -> None:
    # vm0033 has no freshwater CH4 default: CH4 is never silently zero.
    classes = {"reed": VegetationClass(code=4)}
    with pytest.raises(ConfigError, match="CH4") as info:
        class_parameters(classes, load_profile("vm0033"))
    assert "reed" in str(info.value)


def test_carbon_fraction_inside_the_ipcc_range_takes_that_range() -> None:
    classes = {"reed": VegetationClass(code=4, carbon_fraction=0.47, ch4_flux_mg_m2_d=1.0)}
    cf = class_parameters(classes, load_profile("vm0033"))["reed"].carbon_fraction
    assert isinstance(cf, LogNormal)
    assert cf.mean == 0.47
    # 0.44–0.49: σ = ln(0.49 / 0.44) / 3.289707 = 0.0327174.
    assert cf.sigma_log == pytest.approx(0.0327174, abs=1e-6)


def test_carbon_fraction_outside_the_ipcc_range_gets_five_percent() -> None:
    classes = {
        "low": VegetationClass(code=1, carbon_fraction=0.40, ch4_flux_mg_m2_d=1.0),
        "high": VegetationClass(code=2, carbon_fraction=0.98, ch4_flux_mg_m2_d=1.0),
    }
    params = class_parameters(classes, load_profile("vm0033"))
    low = params["low"].carbon_fraction
    assert isinstance(low, LogNormal)
    assert low.mean == 0.40
    # ±5 %: 0.38–0.42, σ = ln(0.42 / 0.38) / 3.289707 = 0.100083 / 3.289707 = 0.0304232.
    assert low.sigma_log == pytest.approx(0.0304232, abs=1e-6)
    high = params["high"].carbon_fraction
    assert isinstance(high, LogNormal)
    # 0.98 × 1.05 = 1.029 is capped at 1: 0.931–1.0, σ = ln(1 / 0.931) / 3.289707
    # = 0.071496 / 3.289707 = 0.0217332.
    assert high.sigma_log == pytest.approx(0.0217332, abs=1e-6)


def test_carbon_fraction_configured_range() -> None:
    classes = {
        "reed": VegetationClass(
            code=4, carbon_fraction=0.45, carbon_fraction_range=(0.40, 0.50), ch4_flux_mg_m2_d=1.0
        )
    }
    cf = class_parameters(classes, load_profile("vm0033"))["reed"].carbon_fraction
    assert isinstance(cf, LogNormal)
    # σ = ln(0.50 / 0.40) / 3.289707 = 0.223144 / 3.289707 = 0.0678311.
    assert cf.sigma_log == pytest.approx(0.0678311, abs=1e-6)


def test_root_shoot_default_range_is_half_to_twice() -> None:
    classes = {"mudflat": VegetationClass(code=2, root_shoot=1.0, ch4_flux_mg_m2_d=1.0)}
    rs = class_parameters(classes, load_profile("vm0033"))["mudflat"].root_shoot
    assert isinstance(rs, LogNormal)
    assert rs.mean == 1.0
    # R/2 to 2R = 0.5–2.0: σ = ln 4 / 3.289707 = 1.386294 / 3.289707 = 0.421404.
    assert rs.sigma_log == pytest.approx(0.421404, abs=1e-6)


def test_water_without_roots_and_configured_zero_fluxes() -> None:
    classes = {
        "water": VegetationClass(
            code=1, root_shoot=0.0, ch4_flux_mg_m2_d=0.0, n2o_flux_mg_m2_d=-0.1
        )
    }
    params = class_parameters(classes, load_profile("vm0033"))["water"]
    assert params.root_shoot == Fixed(0.0)
    # CH4 stated as 0 without SD stays 0; N2O uptake −0.1 gets Normal(−0.1, 0.05).
    assert params.ch4_flux_mg_m2_d == Fixed(0.0)
    assert params.ch4_source == "configured"
    assert params.n2o_flux_mg_m2_d == Normal(mean=-0.1, sd=0.05)
    assert params.n2o_source == "configured"


def test_configured_n2o_sd_is_used_only_with_a_configured_flux() -> None:
    classes = {
        # N2O uptake −0.1 with its own SD 0.02: Normal(−0.1, 0.02).
        "reed": VegetationClass(
            code=4, ch4_flux_mg_m2_d=1.0, n2o_flux_mg_m2_d=-0.1, n2o_flux_sd_mg_m2_d=0.02
        ),
        # An SD without a flux: the vm0033 default 0.236712 comes with its own 50 %
        # (0.118356), not with the SD meant for a configured flux.
        "sedge": VegetationClass(code=3, ch4_flux_mg_m2_d=1.0, n2o_flux_sd_mg_m2_d=0.02),
    }
    params = class_parameters(classes, load_profile("vm0033"))
    assert params["reed"].n2o_flux_mg_m2_d == Normal(mean=-0.1, sd=0.02)
    default = params["sedge"].n2o_flux_mg_m2_d
    assert params["sedge"].n2o_source == "default factor"
    assert isinstance(default, LogNormal)
    assert default.sd == pytest.approx(0.118356, abs=1e-6)


def test_between_year_variability_only_for_herbaceous_classes() -> None:
    classes = {
        "reed": VegetationClass(code=4, ch4_flux_mg_m2_d=3.0, peak_biomass_cv=0.3),
        "sedge": VegetationClass(code=3, ch4_flux_mg_m2_d=6.0),
        "poplar": VegetationClass(code=6, ch4_flux_mg_m2_d=0.3, herbaceous=False),
    }
    params = class_parameters(classes, load_profile("vm0033"))
    # reed its own 0.3, sedge the default 0.2 [U], poplar a tree: none.
    assert [params[c].peak_cv for c in ("reed", "sedge", "poplar")] == [0.3, 0.2, 0.0]


def test_a_measured_root_shoot_is_log_normal_with_its_standard_error() -> None:
    classes = {
        "reed": VegetationClass(code=4, root_shoot=1.12, root_shoot_se=0.08, ch4_flux_mg_m2_d=3.0)
    }
    rs = class_parameters(classes, load_profile("vm0033"))["reed"].root_shoot
    assert rs == LogNormal(mean=1.12, sd=0.08)
    # CV = 0.08 / 1.12 = 0.0714286; σ = √ln(1 + 0.0714286²) = √ln 1.00510204 = √0.00508907
    # = 0.0713377, against the default range's 0.421404 (R/2 to 2R).
    assert rs.sigma_log == pytest.approx(0.0713377, abs=1e-6)
