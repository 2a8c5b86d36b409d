"""Tests of carbonsink.accounting.ledger (stocks → removals → credits, per stratum and vintage).

The worked example used throughout (vm0033 profile: pools agb, bgb, soc to
100 cm; dom not measured; AR5 GWP CH4 28, N2O 265; no leakage; buffer 15 %):

- epochs t1 = 2020-01-01 and t2 = 2022-01-01: 366 + 365 = 731 days,
  years = 731 / 365.25 = 2.0013689;
- stratum ``sedge`` (class sedge: CF 0.5, R 1.0): AGB 100 → 120 t DM, so AGB C
  50 → 60 and BGB C 50 → 60 t C; SOC 1000 → 1010 t C; adjusted area 10 ha,
  CH4 1 mg m⁻² d⁻¹, N2O 0;
- stratum ``water`` (class water: no AGB cells, R 0): SOC 200 → 200 t C;
  adjusted area 5 ha, CH4 2 mg m⁻² d⁻¹, N2O 0.1 mg m⁻² d⁻¹.

Removals, sedge = 44/12 × (10 + 10 + 10) / years = 110 / 2.0013689 = 54.962380 t CO2e/yr;
CH4, sedge = 10 ha × 1 × 365e-5 t CH4/ha/yr × 28 = 0.0365 × 28 = 1.022 t CO2e/yr;
CH4, water = 5 × 2 × 365e-5 × 28 = 1.022; N2O, water = 5 × 0.1 × 365e-5 × 265 = 0.483625.
Every distribution is Fixed and every spread zero, so the Monte Carlo is exact.

Monte Carlo tolerances: with n draws the sample SD of a normal output has a
relative standard error 1/√(2n) (0.5 % at n = 20,000); SD assertions allow 3 %.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Mapping

import numpy as np
import pytest

from carbonsink.accounting.distributions import Fixed
from carbonsink.accounting.ledger import (
    LEDGER_SCHEMA,
    Ledger,
    LedgerWarning,
    build_ledger,
    vintage_fractions,
)
from carbonsink.accounting.parameters import ClassParameters
from carbonsink.accounting.pools import KeyedTotals, RatioTotals, StratumTotals
from carbonsink.accounting.profiles import MethodologyProfile, load_profile
from carbonsink.accounting.simulation import EpochInputs, years_between
from carbonsink.accounting.stocks import SINGLE_EPOCH_NOTE
from carbonsink.errors import InputError

T1 = dt.date(2020, 1, 1)
T2 = dt.date(2022, 1, 1)
# 2020 is a leap year: 366 + 365 = 731 days.
YEARS = 731 / 365.25
STRATA = ("sedge", "water")
# The worked example's hand results (module docstring).
REMOVALS_SEDGE = 110.0 / YEARS  # 44/12 × 30 t C / 2.0013689 yr = 54.962380
CH4_SEDGE = 10.0 * 1.0 * 365e-5 * 28.0  # 1.022
CH4_WATER = 5.0 * 2.0 * 365e-5 * 28.0  # 1.022
N2O_WATER = 5.0 * 0.1 * 365e-5 * 265.0  # 0.483625
NON_CO2 = CH4_SEDGE + CH4_WATER + N2O_WATER  # 2.527625
#: A stated 100-year soil benefit no example reaches (vm0033 caps the soil pool, eq. 5.21).
NO_CAP = {"soil": 1e9}


@pytest.fixture(scope="module")
def vm0033() -> MethodologyProfile:
    return load_profile("vm0033")


def _fixed_class(cf: float, rs: float, ch4: float, n2o: float) -> ClassParameters:
    return ClassParameters(
        carbon_fraction=Fixed(cf),
        root_shoot=Fixed(rs),
        ch4_flux_mg_m2_d=Fixed(ch4),
        n2o_flux_mg_m2_d=Fixed(n2o),
        ch4_source="configured",
        n2o_source="configured",
    )


CLASSES: Mapping[str, ClassParameters] = {
    "sedge": _fixed_class(0.5, 1.0, 1.0, 0.0),
    "water": _fixed_class(0.5, 0.0, 2.0, 0.1),
}


def _epoch(
    name: str,
    date: dt.date,
    *,
    agb: float,
    soc_sedge: float,
    replicates: np.ndarray | None = None,
    soc_se: float = 0.0,
    strata: tuple[str, ...] = STRATA,
) -> EpochInputs:
    """One epoch of the worked example; replicates default to 4 copies of the map (no spread)."""
    reps = np.full((4, 1), agb) if replicates is None else replicates
    return EpochInputs(
        name=name,
        date=date,
        strata=strata,
        stratum_area_ha={"sedge": 10.0, "water": 5.0},
        quantities={
            "agb_t_dm": KeyedTotals(
                keys=(("sedge", "sedge"),), totals=np.array([agb]), replicates=reps
            ),
            "soc_t_c": StratumTotals.from_total_se({"sedge": soc_sedge, "water": 200.0}, soc_se),
        },
        class_area_ha={"sedge": (10.0, 0.0), "water": (5.0, 0.0)},
    )


def _exact_epochs() -> list[EpochInputs]:
    return [
        _epoch("t1", T1, agb=100.0, soc_sedge=1000.0),
        _epoch("t2", T2, agb=120.0, soc_sedge=1010.0),
    ]


@pytest.fixture(scope="module")
def exact_ledger(vm0033: MethodologyProfile) -> Ledger:
    # A 100-year soil benefit far above the example's gain: the cap (eq. 5.21) is stated
    # and does not bind.
    return build_ledger(
        _exact_epochs(),
        CLASSES,
        profile=vm0033,
        seed=7,
        n_draws=2000,
        benefit_100yr_t_co2e=NO_CAP,
    )


# --------------------------------------------------------------- periods and vintages
def test_years_between() -> None:
    # 2020-09-15 → 2025-09-18: 5 × 365 + 1 (29 Feb 2024) + 3 = 1829 days.
    assert years_between(dt.date(2020, 9, 15), dt.date(2025, 9, 18)) == pytest.approx(
        1829 / 365.25, rel=1e-15
    )
    assert years_between(T1, T2) == pytest.approx(YEARS, rel=1e-15)


def test_vintage_fractions() -> None:
    start, end = dt.date(2020, 9, 15), dt.date(2025, 9, 18)
    vintages = vintage_fractions(start, end)
    # 2020: 15 Sep → 1 Jan = 16 (Sep 15–30) + 31 + 30 + 31 = 108 days;
    # 2021–2023: 365 each; 2024 leap: 366; 2025: 1 Jan → 18 Sep = 243 (Jan–Aug) + 17 = 260.
    # 108 + 3 × 365 + 366 + 260 = 1829, the days of years_between.
    assert [(v, d) for v, d, _ in vintages] == [
        (2020, 108),
        (2021, 365),
        (2022, 365),
        (2023, 365),
        (2024, 366),
        (2025, 260),
    ]
    for _, days, years in vintages:
        assert years == pytest.approx(days / 365.25, rel=1e-15)
    assert sum(y for _, _, y in vintages) == pytest.approx(years_between(start, end), rel=1e-12)


def test_vintage_fractions_end_on_new_year_has_no_empty_vintage() -> None:
    # 2020-01-01 → 2022-01-01: 366 days in 2020, 365 in 2021, nothing in 2022.
    assert [(v, d) for v, d, _ in vintage_fractions(T1, T2)] == [(2020, 366), (2021, 365)]


@pytest.mark.parametrize("end", [dt.date(2020, 9, 15), dt.date(2020, 9, 14)])
def test_vintage_fractions_empty_period(end: dt.date) -> None:
    with pytest.raises(InputError, match="empty"):
        vintage_fractions(dt.date(2020, 9, 15), end)


# --------------------------------------------------------------- exact worked example
def test_exact_stratum_terms(exact_ledger: Ledger) -> None:
    strata = exact_ledger.strata
    assert list(strata.index) == ["sedge", "water", "total"]
    assert exact_ledger.pools == ("agb", "bgb", "soc_0_100")
    sedge, water, total = strata.loc["sedge"], strata.loc["water"], strata.loc["total"]
    # Stocks: AGB C = 100 × 0.5 = 50 → 60; BGB = AGB C × R = 50 → 60; SOC 1000 → 1010.
    assert sedge["agb_t1_t_c"] == pytest.approx(50.0, rel=1e-12)
    assert sedge["agb_t2_t_c"] == pytest.approx(60.0, rel=1e-12)
    assert sedge["bgb_t1_t_c"] == pytest.approx(50.0, rel=1e-12)
    assert sedge["bgb_t2_t_c"] == pytest.approx(60.0, rel=1e-12)
    assert sedge["soc_0_100_t1_t_c"] == pytest.approx(1000.0, rel=1e-12)
    assert sedge["soc_0_100_t2_t_c"] == pytest.approx(1010.0, rel=1e-12)
    # Changes: 10 t C / 2.0013689 yr = 4.996579 t C/yr per pool.
    for pool in ("agb", "bgb", "soc_0_100"):
        assert sedge[f"d_{pool}_t_c_yr"] == pytest.approx(10.0 / YEARS, rel=1e-12)
        assert water[f"d_{pool}_t_c_yr"] == pytest.approx(0.0, abs=1e-12)
    assert sedge["removals_t_co2e_yr"] == pytest.approx(REMOVALS_SEDGE, rel=1e-12)
    assert sedge["ch4_t_co2e_yr"] == pytest.approx(1.022, rel=1e-12)
    assert sedge["n2o_t_co2e_yr"] == pytest.approx(0.0, abs=1e-15)
    # Net, sedge = 54.962380 − 1.022 = 53.940380; vm0033 U = 0 → no deduction;
    # buffer 15 % of NER_stock (the removals, eq. 94) = 0.15 × 54.962380 = 8.244357;
    # tradable 53.940380 − 8.244357 = 45.696023.
    assert sedge["net_t_co2e_yr"] == pytest.approx(REMOVALS_SEDGE - 1.022, rel=1e-12)
    assert sedge["ner_stock_t_co2e_yr"] == pytest.approx(REMOVALS_SEDGE, rel=1e-12)
    assert sedge["buffer_base_t_co2e_yr"] == pytest.approx(REMOVALS_SEDGE, rel=1e-12)
    assert sedge["buffer_t_co2e_yr"] == pytest.approx(0.15 * REMOVALS_SEDGE, rel=1e-12)
    assert sedge["tradable_t_co2e_yr"] == pytest.approx(45.696023, abs=1e-6)
    # Water: removals 0, non-CO2 = 1.022 + 0.483625 = 1.505625 → a source: nothing to sell.
    assert water["removals_t_co2e_yr"] == pytest.approx(0.0, abs=1e-12)
    assert water["ch4_t_co2e_yr"] == pytest.approx(1.022, rel=1e-12)
    assert water["n2o_t_co2e_yr"] == pytest.approx(0.483625, rel=1e-12)
    assert water["net_t_co2e_yr"] == pytest.approx(-1.505625, rel=1e-12)
    assert water["buffer_t_co2e_yr"] == 0.0
    assert water["tradable_t_co2e_yr"] == 0.0
    # Areas: mapped 10 + 5 = 15 ha; adjusted 10 + 5 = 15 ha.
    assert total["area_ha"] == pytest.approx(15.0)
    assert total["adjusted_area_ha"] == pytest.approx(15.0)
    assert total["ch4_t_co2e_yr"] == pytest.approx(CH4_SEDGE + CH4_WATER, rel=1e-12)


def test_exact_project_chain(exact_ledger: Ledger) -> None:
    chain = exact_ledger.chains["total"]
    # Project: removals 54.962380; non-CO2 2.527625; net 52.434755 (no leakage, no baseline);
    # no spread → U = 0 ≤ 20 %: adjusted = net; buffer 15 % of NER_stock 54.962380
    # = 8.244357; tradable 52.434755 − 8.244357 = 44.190398.
    net = REMOVALS_SEDGE - NON_CO2
    assert chain.removals.mean == pytest.approx(REMOVALS_SEDGE, rel=1e-12)
    assert chain.non_co2.mean == pytest.approx(NON_CO2, rel=1e-12)
    assert chain.net.mean == pytest.approx(net, rel=1e-12)
    assert chain.applied_rule.rule == "vm0033"
    assert chain.adjusted_t_co2e_yr == pytest.approx(net, rel=1e-12)
    assert chain.buffer_t_co2e_yr == pytest.approx(0.15 * REMOVALS_SEDGE, rel=1e-12)
    assert chain.tradable_t_co2e_yr == pytest.approx(net - 0.15 * REMOVALS_SEDGE, rel=1e-12)
    assert chain.tradable_t_co2e_yr == pytest.approx(44.190398, abs=1e-6)
    # No spread anywhere: the 90 % interval collapses onto the mean.
    assert chain.removals.p5 == chain.removals.p95
    assert chain.net.p5 == chain.net.p95
    row = exact_ledger.strata.loc["total"]
    assert row["removals_p5_t_co2e_yr"] == row["removals_p95_t_co2e_yr"]
    assert row["tradable_t_co2e_yr"] == pytest.approx(net - 0.15 * REMOVALS_SEDGE, rel=1e-12)
    # Credits of the period: 44.190398 × 2.0013689 = 88.441290 t CO2e.
    assert exact_ledger.tradable_t_co2e == pytest.approx(88.441290, abs=1e-6)
    assert exact_ledger.years == pytest.approx(YEARS, rel=1e-15)
    # Fixed inputs converge at the first number of draws; no sink warning is raised.
    assert exact_ledger.monte_carlo["n_draws"] == 2000
    assert exact_ledger.monte_carlo["convergence"]["converged"] is True
    assert exact_ledger.warnings == ()
    # The vm0033 dom pool is not measured: said in a note.
    assert any("dom" in note for note in exact_ledger.notes)


def test_exact_vintages(exact_ledger: Ledger) -> None:
    vintages = exact_ledger.vintages
    # Two vintages (2020: 366 d, 2021: 365 d) × (sedge, water, total).
    assert len(vintages) == 6
    assert sorted(set(vintages["stratum"])) == ["sedge", "total", "water"]
    total = vintages[vintages["stratum"] == "total"].set_index("vintage")
    assert list(total.index) == [2020, 2021]
    assert list(total["days"]) == [366, 365]
    tradable_yr = exact_ledger.chains["total"].tradable_t_co2e_yr
    # 2020: 44.569542 × 366 / 365.25 = 44.661060; the vintages add up to tradable × years.
    assert total.loc[2020, "tradable_t_co2e"] == pytest.approx(tradable_yr * 366 / 365.25)
    assert total["tradable_t_co2e"].sum() == pytest.approx(tradable_yr * YEARS, rel=1e-12)
    assert total["tradable_t_co2e"].sum() == pytest.approx(exact_ledger.tradable_t_co2e)
    water = vintages[vintages["stratum"] == "water"]
    assert (water["tradable_t_co2e"] == 0.0).all()
    assert vintages["value"].isna().all()  # no price given


def test_class_at_each_epoch_sets_cf_and_root_shoot(vm0033: MethodologyProfile) -> None:
    # The sedge stratum was mudflat at t1 (CF 0.4, R 0.5): AGB 100 t DM → AGB C 40,
    # BGB 20; at t2 it is sedge (CF 0.5, R 1.0): 100 t DM → 50, 50.
    # ΔAGB = 10, ΔBGB = 30, ΔSOC = 0 t C → removals = 44/12 × 40 / 2.0013689 = 73.283174.
    classes = {**CLASSES, "mudflat": _fixed_class(0.4, 0.5, 3.0, 0.0)}
    first = EpochInputs(
        name="t1",
        date=T1,
        strata=STRATA,
        stratum_area_ha={"sedge": 10.0, "water": 5.0},
        quantities={
            "agb_t_dm": KeyedTotals(
                keys=(("sedge", "mudflat"),),
                totals=np.array([100.0]),
                replicates=np.full((3, 1), 100.0),
            ),
            "soc_t_c": StratumTotals.from_total_se({"sedge": 1000.0, "water": 200.0}, 0.0),
        },
        class_area_ha={"mudflat": (10.0, 0.0), "water": (5.0, 0.0)},
    )
    second = _epoch("t2", T2, agb=100.0, soc_sedge=1000.0)
    ledger = build_ledger([first, second], classes, profile=vm0033, seed=1, n_draws=2000)
    sedge = ledger.strata.loc["sedge"]
    assert sedge["agb_t1_t_c"] == pytest.approx(40.0, rel=1e-12)
    assert sedge["bgb_t1_t_c"] == pytest.approx(20.0, rel=1e-12)
    assert sedge["d_agb_t_c_yr"] == pytest.approx(10.0 / YEARS, rel=1e-12)
    assert sedge["d_bgb_t_c_yr"] == pytest.approx(30.0 / YEARS, rel=1e-12)
    assert sedge["removals_t_co2e_yr"] == pytest.approx(44.0 / 12.0 * 40.0 / YEARS, rel=1e-12)
    # Non-CO2 uses the later epoch's class (sedge, 1 mg/m²/d), not mudflat's 3: 1.022.
    assert sedge["ch4_t_co2e_yr"] == pytest.approx(1.022, rel=1e-12)


def test_baseline_and_price(vm0033: MethodologyProfile) -> None:
    ledger = build_ledger(
        _exact_epochs(),
        CLASSES,
        profile=vm0033,
        seed=7,
        n_draws=2000,
        baseline_t_co2e_yr=5.0,
        price_per_t=50.0,
        currency="EUR",
    )
    # Project net = 54.962380 − 5 − 2.527625 = 47.434755; NER_stock = 54.962380 − 5
    # = 49.962380, buffer 15 % = 7.494357; tradable 47.434755 − 7.494357 = 39.940398;
    # value 39.940398 × 50 = 1997.02 per year.
    net = REMOVALS_SEDGE - 5.0 - NON_CO2
    tradable = net - 0.15 * (REMOVALS_SEDGE - 5.0)
    total = ledger.strata.loc["total"]
    assert total["baseline_t_co2e_yr"] == 5.0
    assert total["net_t_co2e_yr"] == pytest.approx(net, rel=1e-12)
    assert total["tradable_t_co2e_yr"] == pytest.approx(39.940398, abs=1e-6)
    assert total["tradable_t_co2e_yr"] == pytest.approx(tradable, rel=1e-12)
    assert total["value_per_yr"] == pytest.approx(tradable * 50.0, rel=1e-12)
    # The baseline is a project figure: the sedge row keeps 54.962380 − 1.022.
    assert ledger.strata.loc["sedge", "baseline_t_co2e_yr"] == 0.0
    assert ledger.strata.loc["sedge", "net_t_co2e_yr"] == pytest.approx(
        REMOVALS_SEDGE - 1.022, rel=1e-12
    )
    claim = ledger.to_dict()["claim"]
    assert claim["value"] == pytest.approx(tradable * 50.0 * YEARS, rel=1e-12)
    assert claim["currency"] == "EUR"
    vintages = ledger.vintages
    np.testing.assert_allclose(vintages["value"], vintages["tradable_t_co2e"] * 50.0, rtol=1e-12)


# --------------------------------------------------------------- uncertainty propagation
def _cross(epochs: list[EpochInputs], rho: float) -> np.ndarray:
    """Cross-covariance of two epochs whose strata share one error of the total each.

    ε_e = SE_e × w_e × z_e with w_e the strata's shares of the total and corr(z_1, z_2) = ρ:
    Cov(ε_1, ε_2) = ρ SE_1 SE_2 w_1 w_2ᵀ, so the totals' errors correlate by ρ.
    """
    shares = []
    for epoch in epochs:
        soc = epoch.quantities["soc_t_c"]
        assert isinstance(soc, StratumTotals)
        values = np.array(list(soc.totals.values()))
        shares.append(soc.se * values / values.sum())
    return rho * np.outer(shares[0], shares[1])


@pytest.mark.parametrize("rho", [0.0, 0.75, -1.0])
def test_correlated_soc_errors(vm0033: MethodologyProfile, rho: float) -> None:
    epochs = [
        _epoch("t1", T1, agb=100.0, soc_sedge=1000.0, soc_se=100.0),
        _epoch("t2", T2, agb=120.0, soc_sedge=1010.0, soc_se=100.0),
    ]
    ledger = build_ledger(
        epochs,
        CLASSES,
        profile=vm0033,
        seed=11,
        n_draws=20_000,
        error_covariance={"soc_t_c": _cross(epochs, rho)},
    )
    # SD of the SOC-total change = sqrt(SE1² + SE2² − 2ρ SE1 SE2) = sqrt(2 × 100² × (1 − ρ)) t C;
    # removals SD = 44/12 × that / years:
    #   ρ = 0:    44/12 × 141.421 / 2.0013689 = 259.095 t CO2e/yr;
    #   ρ = 0.75: 44/12 × 70.711 / 2.0013689 = 129.548;
    #   ρ = −1:   44/12 × 200 / 2.0013689 = 366.416.
    expected = 44.0 / 12.0 * math.sqrt(2.0 * 100.0**2 * (1.0 - rho)) / YEARS
    removals = ledger.chains["total"].removals
    assert removals.sd == pytest.approx(expected, rel=0.03)
    # Centred on the map: mean 54.962 with SE = 366 / √20000 = 2.6 at most; allow 12.
    assert removals.mean == pytest.approx(REMOVALS_SEDGE, abs=12.0)
    assert ledger.monte_carlo["soc_error_correlation"] == pytest.approx(rho, abs=1e-12)


def test_fully_correlated_soc_errors_cancel(vm0033: MethodologyProfile) -> None:
    # ρ = 1: ε2 = ε1, so the SOC-total change is exactly 1210 − 1200 = 10 t C in every draw.
    epochs = [
        _epoch("t1", T1, agb=100.0, soc_sedge=1000.0, soc_se=100.0),
        _epoch("t2", T2, agb=120.0, soc_sedge=1010.0, soc_se=100.0),
    ]
    ledger = build_ledger(
        epochs,
        CLASSES,
        profile=vm0033,
        seed=11,
        n_draws=2000,
        error_covariance={"soc_t_c": _cross(epochs, 1.0)},
    )
    removals = ledger.chains["total"].removals
    # (rounding of the singular joint covariance's square root leaves ~1e-6 t CO2e/yr)
    assert removals.sd < 1e-4
    assert removals.mean == pytest.approx(REMOVALS_SEDGE, rel=1e-9)
    # The stocks themselves still carry the SE: SD of the t1 SOC total ≈ 100 t C
    # (SE of a sample SD at n = 2000: 100 / √4000 = 1.6; allow 8).
    assert ledger.stock_summaries["t1"]["soc_0_100"]["total"].sd == pytest.approx(100.0, abs=8.0)


def test_agb_bootstrap_spread_centred_on_the_map(vm0033: MethodologyProfile) -> None:
    # t1 replicates 70, 80, 90, 110 (mean 87.5) around a map total of 100: centred draws
    # 82.5, 92.5, 102.5, 122.5 with equal probability; population variance
    # (17.5² + 7.5² + 2.5² + 22.5²) / 4 = (306.25 + 56.25 + 6.25 + 506.25) / 4 = 218.75,
    # SD 14.7902 t DM. t2 has no spread. Each t DM is CF × (1 + R) = 0.5 × 2 = 1 t C, so
    # removals SD = 44/12 × 14.7902 / 2.0013689 = 27.0968 t CO2e/yr.
    reps = np.array([[70.0], [80.0], [90.0], [110.0]])
    epochs = [
        _epoch("t1", T1, agb=100.0, soc_sedge=1000.0, replicates=reps),
        _epoch("t2", T2, agb=120.0, soc_sedge=1010.0),
    ]
    ledger = build_ledger(epochs, CLASSES, profile=vm0033, seed=3, n_draws=20_000)
    removals = ledger.chains["total"].removals
    assert removals.sd == pytest.approx(44.0 / 12.0 * math.sqrt(218.75) / YEARS, rel=0.02)
    # Mean = the map's 54.962 (SE 27.1 / √20000 = 0.19; allow 0.8). Centring on the
    # replicates' mean 87.5 instead would give 44/12 × (2 × 32.5 + 10) / 2.0013689 = 137.4.
    assert removals.mean == pytest.approx(REMOVALS_SEDGE, abs=0.8)
    agb_t1 = ledger.stock_summaries["t1"]["agb"]["sedge"]
    # AGB C at t1: mean 0.5 × 100 = 50 (SE 0.5 × 14.79 / √20000 = 0.05; allow 0.25).
    assert agb_t1.mean == pytest.approx(50.0, abs=0.25)


def test_agb_bootstrap_rows_are_resampled_whole(vm0033: MethodologyProfile) -> None:
    # Two keys of the sedge stratum whose replicates move in opposite directions
    # (90/110 and 110/90): every replicate row totals 200, so a row-wise draw has no
    # spread in the stratum total; drawing the columns independently would give an SD
    # of √2 × 10 t DM.
    classes = {**CLASSES, "reed": _fixed_class(0.5, 1.0, 1.0, 0.0)}
    first = EpochInputs(
        name="t1",
        date=T1,
        strata=STRATA,
        stratum_area_ha={"sedge": 10.0, "water": 5.0},
        quantities={
            "agb_t_dm": KeyedTotals(
                keys=(("sedge", "sedge"), ("sedge", "reed")),
                totals=np.array([100.0, 100.0]),
                replicates=np.array([[90.0, 110.0], [110.0, 90.0]]),
            ),
            "soc_t_c": StratumTotals.from_total_se({"sedge": 1000.0, "water": 200.0}, 0.0),
        },
        class_area_ha={"sedge": (10.0, 0.0), "water": (5.0, 0.0)},
    )
    second = _epoch("t2", T2, agb=220.0, soc_sedge=1000.0)
    ledger = build_ledger([first, second], classes, profile=vm0033, seed=5, n_draws=2000)
    removals = ledger.chains["total"].removals
    # ΔC = (220 − 200) × 0.5 × 2 = 20 t C → 44/12 × 20 / 2.0013689 = 36.641587, no spread.
    assert removals.sd < 1e-9
    assert removals.mean == pytest.approx(44.0 / 12.0 * 20.0 / YEARS, rel=1e-12)
    # The t1 AGB C of the stratum is 0.5 × 200 = 100 t C in every draw.
    assert ledger.stock_summaries["t1"]["agb"]["sedge"].sd < 1e-9


def _spread_epochs() -> list[EpochInputs]:
    reps = np.array([[70.0], [80.0], [90.0], [110.0]])
    return [
        _epoch("t1", T1, agb=100.0, soc_sedge=1000.0, replicates=reps, soc_se=20.0),
        _epoch("t2", T2, agb=120.0, soc_sedge=1010.0, soc_se=20.0),
    ]


def test_same_seed_same_ledger(vm0033: MethodologyProfile) -> None:
    first = build_ledger(_spread_epochs(), CLASSES, profile=vm0033, seed=42, n_draws=2000)
    second = build_ledger(_spread_epochs(), CLASSES, profile=vm0033, seed=42, n_draws=2000)
    assert first.to_dict() == second.to_dict()
    assert json.dumps(first.to_dict(), allow_nan=False) == json.dumps(
        second.to_dict(), allow_nan=False
    )


def test_different_seed_different_draws_same_answer(vm0033: MethodologyProfile) -> None:
    a = build_ledger(_spread_epochs(), CLASSES, profile=vm0033, seed=1, n_draws=2000)
    b = build_ledger(_spread_epochs(), CLASSES, profile=vm0033, seed=2, n_draws=2000)
    assert a.to_dict() != b.to_dict()
    net_a, net_b = a.chains["total"].net, b.chains["total"].net
    assert net_a.mean != net_b.mean
    # Both estimate the same mean, 52.434755 (hand result, spreads centred on it): the
    # difference of two means has SE sd × sqrt(1/n_a + 1/n_b); allow 4 SE.
    se = net_a.sd * math.sqrt(1.0 / net_a.n_draws + 1.0 / net_b.n_draws)
    assert abs(net_a.mean - net_b.mean) < 4.0 * se
    assert net_a.ci90[0] < net_b.mean < net_a.ci90[1]
    assert net_a.mean == pytest.approx(
        REMOVALS_SEDGE - NON_CO2, abs=4.0 * net_a.sd / math.sqrt(net_a.n_draws)
    )
    assert a.monte_carlo["seed"] == 1
    assert b.monte_carlo["seed"] == 2


# --------------------------------------------------------------- single epoch
def test_single_epoch(vm0033: MethodologyProfile) -> None:
    ledger = build_ledger(
        [_epoch("t1", T1, agb=100.0, soc_sedge=1000.0)],
        CLASSES,
        profile=vm0033,
        seed=7,
        n_draws=2000,
    )
    assert ledger.single_epoch
    assert ledger.years is None
    assert ledger.tradable_t_co2e == 0.0
    assert SINGLE_EPOCH_NOTE in ledger.notes
    assert ledger.vintages.empty
    assert ledger.chains == {}
    assert "removals_t_co2e_yr" not in ledger.strata.columns
    out = ledger.to_dict()
    assert out["claim"] == {"tradable_t_co2e": 0.0, "statement": SINGLE_EPOCH_NOTE}
    assert out["project"] is None
    assert out["vintages"] == []
    assert out["crediting_period"] is None
    # Stocks: AGB C 50, BGB 50, SOC 1000 + 200 = 1200 t C; total 1300 t C.
    stocks = out["stocks"]["t1"]
    assert stocks["agb"]["sedge"]["mean"] == pytest.approx(50.0, rel=1e-12)
    assert stocks["bgb"]["total"]["mean"] == pytest.approx(50.0, rel=1e-12)
    assert stocks["soc_0_100"]["total"]["mean"] == pytest.approx(1200.0, rel=1e-12)
    total = ledger.strata.loc["total"]
    assert total["stock_t1_p5_t_c"] == pytest.approx(1300.0, rel=1e-12)
    assert total["stock_t1_p95_t_c"] == pytest.approx(1300.0, rel=1e-12)
    json.dumps(out, allow_nan=False)


# --------------------------------------------------------------- errors
def test_epochs_out_of_order(vm0033: MethodologyProfile) -> None:
    first, second = _exact_epochs()
    with pytest.raises(InputError, match="not increasing"):
        build_ledger([second, first], CLASSES, profile=vm0033, seed=1, n_draws=2000)
    same_day = _epoch("t2", T1, agb=120.0, soc_sedge=1010.0)
    with pytest.raises(InputError, match="not increasing"):
        build_ledger([first, same_day], CLASSES, profile=vm0033, seed=1, n_draws=2000)


def test_no_epochs(vm0033: MethodologyProfile) -> None:
    with pytest.raises(InputError, match="no epochs"):
        build_ledger([], CLASSES, profile=vm0033, seed=1, n_draws=2000)


def test_epochs_on_different_strata(vm0033: MethodologyProfile) -> None:
    # t1 totalled on "sedge" only (water dropped), t2 on the change strata (sedge, water).
    first = _epoch("t1", T1, agb=100.0, soc_sedge=1000.0, strata=("sedge",))
    second = _epoch("t2", T2, agb=120.0, soc_sedge=1010.0)
    with pytest.raises(InputError, match="strata") as info:
        build_ledger([first, second], CLASSES, profile=vm0033, seed=1, n_draws=2000)
    assert "t1" in str(info.value)


def test_soc_cross_covariance_of_the_wrong_shape(vm0033: MethodologyProfile) -> None:
    with pytest.raises(InputError, match="between the epochs has shape"):
        build_ledger(
            _exact_epochs(),
            CLASSES,
            profile=vm0033,
            seed=1,
            n_draws=2000,
            error_covariance={"soc_t_c": np.zeros((3, 3))},
        )


def test_agb_class_not_in_legend(vm0033: MethodologyProfile) -> None:
    classes = {"water": CLASSES["water"]}
    with pytest.raises(InputError, match="'sedge'"):
        build_ledger(_exact_epochs(), classes, profile=vm0033, seed=1, n_draws=2000)


def _inputs(
    *,
    keys: tuple[tuple[str, str], ...] = (("sedge", "sedge"),),
    totals: object = (100.0,),
    replicates: object = ((100.0,),) * 4,
    soc: dict[str, float] | None = None,
    soc_cov: object = None,
) -> EpochInputs:
    totals_soc = soc if soc is not None else {"sedge": 1000.0, "water": 200.0}
    cov = np.zeros((len(totals_soc),) * 2) if soc_cov is None else soc_cov
    return EpochInputs(
        name="t1",
        date=T1,
        strata=STRATA,
        stratum_area_ha={"sedge": 10.0, "water": 5.0},
        quantities={
            "agb_t_dm": KeyedTotals(keys=keys, totals=totals, replicates=replicates),  # type: ignore[arg-type]
            "soc_t_c": StratumTotals(totals=totals_soc, covariance=cov),  # type: ignore[arg-type]
        },
        class_area_ha={"sedge": (10.0, 0.0)},
    )


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"replicates": np.full((4, 2), 100.0)}, "replicates have shape"),
        ({"replicates": np.full(4, 100.0)}, "replicates have shape"),
        ({"replicates": np.full((1, 1), 100.0)}, "replicates have shape"),
        ({"totals": np.array([100.0, 5.0])}, "agb_t_dm keys but"),
        ({"replicates": np.array([[100.0], [np.nan]])}, "not finite"),
        ({"keys": (("reed", "sedge"),)}, "unknown strata"),
        ({"soc": {"sedge": 1000.0}}, "lack soc_t_c"),
        ({"soc_cov": [[-1.0, 0.0], [0.0, 1.0]]}, "variances ≥ 0"),
        ({"soc_cov": [[1.0, 0.5], [0.0, 1.0]]}, "not symmetric"),
        ({"soc_cov": [[math.inf, 0.0], [0.0, 1.0]]}, "finite"),
        ({"soc_cov": [[1.0]]}, r"shape \(1, 1\)"),
    ],
)
def test_epoch_inputs_validation(changes: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match) as info:
        _inputs(**changes)  # type: ignore[arg-type]
    assert "t1" in str(info.value)
    assert info.value.problem.fix


def test_epoch_inputs_coerces_lists_to_float_arrays() -> None:
    # Plain lists become float arrays (the ledger indexes them as arrays); SOC total 1000 + 200.
    epoch = _inputs(totals=[100], replicates=[[100], [100]])
    agb = epoch.quantities["agb_t_dm"]
    soc = epoch.quantities["soc_t_c"]
    assert isinstance(agb, KeyedTotals) and isinstance(soc, StratumTotals)
    assert isinstance(agb.totals, np.ndarray)
    assert agb.totals.dtype == np.float64
    assert agb.replicates.shape == (2, 1)
    assert soc.total == 1200.0


# --------------------------------------------------------------- JSON layout
def test_to_dict_is_json_and_has_the_layout(exact_ledger: Ledger) -> None:
    out = exact_ledger.to_dict()
    text = json.dumps(out, allow_nan=False)
    back = json.loads(text)
    assert back["schema"] == LEDGER_SCHEMA == "carbonsink-ledger/1"
    for key in (
        "claim",
        "project",
        "strata",
        "vintages",
        "stocks",
        "monte_carlo",
        "warnings",
        "notes",
        "polygon",
    ):
        assert key in back, key
    assert back["monte_carlo"]["seed"] == 7
    assert back["monte_carlo"]["n_draws"] == 2000
    assert "carbon_fraction/sedge" in back["monte_carlo"]["parameters"]
    assert back["crediting_period"] == {
        "start": "2020-01-01",
        "end": "2022-01-01",
        "years": pytest.approx(YEARS, rel=1e-15),
    }
    assert [row["stratum"] for row in back["strata"]] == ["sedge", "water", "total"]
    assert len(back["vintages"]) == 6
    claim = back["claim"]
    # (net − 15 % of NER_stock) × years = (52.434755 − 8.244357) × 2.0013689.
    tradable = REMOVALS_SEDGE - NON_CO2 - 0.15 * REMOVALS_SEDGE
    assert claim["tradable_t_co2e"] == pytest.approx(tradable * YEARS)
    assert claim["rule_applied"] == "vm0033"
    assert claim["relative_half_width"] == 0.0
    assert back["project"]["tradable"] == pytest.approx(tradable)
    assert back["polygon"] == {}
    assert back["warnings"] == []


def test_stage_warnings_and_polygon_are_recorded(vm0033: MethodologyProfile) -> None:
    warning = LedgerWarning("below-mdd", "the SOC change is below the MDD", where="soc")
    ledger = build_ledger(
        _exact_epochs(),
        CLASSES,
        profile=vm0033,
        seed=7,
        n_draws=2000,
        warnings=[warning],
        polygon={"sha256": "abc", "area_ha": 15.0},
        benefit_100yr_t_co2e=NO_CAP,
    )
    out = json.loads(json.dumps(ledger.to_dict(), allow_nan=False))
    assert out["warnings"] == [
        {"code": "below-mdd", "message": "the SOC change is below the MDD", "where": "soc"}
    ]
    assert out["polygon"] == {"sha256": "abc", "area_ha": 15.0}


def test_a_sink_not_distinguishable_from_zero_is_warned(vm0033: MethodologyProfile) -> None:
    # SOC SE 100 t C on each epoch, independent: removals 54.96 ± 259.1 t CO2e/yr (see
    # test_correlated_soc_errors), so the 90 % interval of the net and of the SOC change
    # reach zero.
    epochs = [
        _epoch("t1", T1, agb=100.0, soc_sedge=1000.0, soc_se=100.0),
        _epoch("t2", T2, agb=120.0, soc_sedge=1010.0, soc_se=100.0),
    ]
    ledger = build_ledger(epochs, CLASSES, profile=vm0033, seed=11, n_draws=2000)
    codes = {(w.code, w.where) for w in ledger.warnings}
    assert ("net-not-significant", "project") in codes
    assert ("change-not-detectable", "pool soc_0_100") in codes
    # AGB and BGB have no spread: their changes are not flagged.
    assert ("change-not-detectable", "pool agb") not in codes


def test_a_quantity_of_some_epochs_only_is_neither_drawn_nor_counted(
    vm0033: MethodologyProfile,
) -> None:
    # Dead organic matter measured in the second epoch only: the dom pool cannot be
    # counted (its change needs both), is not drawn, not recorded in the inputs, and the
    # note says why; the rest of the ledger is the worked example's.
    first, second = _exact_epochs()
    dom = RatioTotals(base="agb_t_dm", ratios={"sedge": (0.3, 0.0)}, group_of={"sedge": "sedge"})
    second = dataclasses.replace(second, quantities={**second.quantities, "dom_t_dm": dom})
    ledger = build_ledger([first, second], CLASSES, profile=vm0033, seed=7, n_draws=2000)
    assert ledger.pools == ("agb", "bgb", "soc_0_100")
    out = ledger.to_dict()
    assert "dom_t_dm" not in out["inputs"]["t2"]
    assert not [p for p in out["monte_carlo"]["parameters"] if p.startswith("dom_")]
    assert ledger.notes[0].endswith("(dead organic matter is measured in some epochs only)")
    assert ledger.chains["total"].removals.mean == pytest.approx(REMOVALS_SEDGE)


def test_dom_counted_when_every_epoch_gives_it(vm0033: MethodologyProfile) -> None:
    # Ratios 0.3 → 0.4 of AGB 100 → 120 t DM (sedge, CF 0.5): DOM C 15 → 24 t C, so the
    # removals grow by 44/12 × 9 / 2.0013689 = 16.487 t CO2e/yr over the worked example.
    first, second = _exact_epochs()
    epochs = [
        dataclasses.replace(
            epoch,
            quantities={
                **epoch.quantities,
                "dom_t_dm": RatioTotals(
                    base="agb_t_dm", ratios={"sedge": (r, 0.0)}, group_of={"sedge": "sedge"}
                ),
            },
        )
        for epoch, r in ((first, 0.3), (second, 0.4))
    ]
    ledger = build_ledger(epochs, CLASSES, profile=vm0033, seed=7, n_draws=2000)
    assert ledger.pools == ("agb", "bgb", "dom", "soc_0_100")
    assert ledger.strata.loc["sedge", "dom_t1_t_c"] == pytest.approx(15.0)
    assert ledger.strata.loc["sedge", "dom_t2_t_c"] == pytest.approx(24.0)
    assert ledger.chains["total"].removals.mean == pytest.approx(
        REMOVALS_SEDGE + 44 / 12 * 9.0 / YEARS
    )
    assert ledger.to_dict()["inputs"]["t1"]["dom_t_dm"]["ratios"] == {
        "sedge": {"ratio": 0.3, "se": 0.0}
    }
    assert not [n for n in ledger.notes if "not measured" in n]


def test_the_uncertainty_budget_of_the_worked_example(vm0033: MethodologyProfile) -> None:
    # _spread_epochs: every term Fixed but three. The project's SOC total has an SE of
    # 20 t C in each epoch, independently (StratumTotals.from_total_se): 400 t C² each,
    # 800 for the two. The t1 AGB is drawn from the bootstrap rows 70, 80, 90, 110 t DM,
    # centred: deviations −17.5, −7.5, 2.5, 22.5, variance (306.25 + 56.25 + 6.25 +
    # 506.25) / 4 = 218.75 t DM², and with CF 0.5 and R 1.0 every t DM is 0.5 + 0.5 = 1 t C:
    # 218.75 t C². The net is linear in all three (× 44/12 / years), so the shares are
    # 800 / 1018.75 = 0.78528 for the SOC totals and 218.75 / 1018.75 = 0.21472 for the
    # AGB bootstrap; the Fixed streams and the t2 bootstrap (four equal rows) carry none.
    ledger = build_ledger(
        _spread_epochs(), CLASSES, profile=vm0033, seed=11, n_draws=20_000, budget=True
    )
    budget = ledger.extra["u_budget"]
    shares = {g["group"]: g["variance_share"] for g in budget["groups"]}
    assert set(shares) == {"soc_total", "agb_bootstrap"}
    assert shares["soc_total"] == pytest.approx(800.0 / 1018.75, abs=0.02)
    assert shares["agb_bootstrap"] == pytest.approx(218.75 / 1018.75, abs=0.02)
    # The budget's half-width is the claim's: the net's 90 % interval halved.
    low, high = ledger.chains["total"].net.ci90
    assert budget["half_width90"] == pytest.approx((high - low) / 2.0, rel=1e-9)
    assert (
        "u_budget"
        not in build_ledger(_spread_epochs(), CLASSES, profile=vm0033, seed=11, n_draws=2000).extra
    )
