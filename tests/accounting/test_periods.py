"""Tests of carbonsink.accounting.periods: monitoring periods by VM0033 v2.1 eq. 93–94.

The three-epoch example used below (vm0033 profile: pools agb, bgb, soc to 100 cm;
AR5 GWP CH4 28, N2O 265; no leakage; buffer 15 %; U allowed 20 %), on the strata of
tests/accounting/test_ledger.py:

- epochs t0 = 2020-01-01, t1 = 2022-01-01, t2 = 2024-01-01: y1 = 731 / 365.25 (2020 is a
  leap year) and y2 = 730 / 365.25 years;
- stratum ``sedge`` (CF 0.5, R 1.0, CH4 1 mg m⁻² d⁻¹): AGB 100 → 120 → AGB₂ t DM, SOC
  1000 → 1010 → SOC₂ t C; stratum ``water`` (R 0, CH4 2, N2O 0.1): SOC 200 throughout;
- non-CO2 = 1.022 + 1.022 + 0.483625 = 2.527625 t CO2e/yr in every period (areas fixed).

Period 1 (exact): ΔC = 10 (AGB C) + 10 (BGB C) + 10 (SOC) = 30 t C → removals
44/12 × 30 = 110 t CO2e; NER(t1) = 110 − 2.527625 × y1 = 104.941 t CO2e; U = 0, so
Adjusted(t1) = NER(t1); Buffer₁ = 0.15 × 110 = 16.5; VCU₁ = 104.941 − 16.5 = 88.441.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import numpy.typing as npt
import pytest

from carbonsink.accounting.ledger import Ledger, build_ledger
from carbonsink.accounting.montecarlo import MonteCarlo
from carbonsink.accounting.non_co2 import GWP
from carbonsink.accounting.periods import issued_by_period, period_issuance
from carbonsink.accounting.pools import POOLS, KeyedTotals, StratumTotals
from carbonsink.accounting.profiles import MethodologyProfile, load_profile
from carbonsink.accounting.simulation import EpochInputs, simulate_terms
from tests.accounting.test_ledger import CLASSES

T0, T1, T2 = dt.date(2020, 1, 1), dt.date(2022, 1, 1), dt.date(2024, 1, 1)
Y1, Y2 = 731 / 365.25, 730 / 365.25
NON_CO2 = 10.0 * 1.0 * 365e-5 * 28 + 5.0 * 2.0 * 365e-5 * 28 + 5.0 * 0.1 * 365e-5 * 265
CO2 = 44.0 / 12.0
NER_1 = CO2 * 30.0 - NON_CO2 * Y1  # 110 − 5.05872 = 104.94128
VCU_1 = NER_1 - 0.15 * CO2 * 30.0  # 104.94128 − 16.5 = 88.44128


@pytest.fixture(scope="module")
def vm0033() -> MethodologyProfile:
    return load_profile("vm0033")


def _epoch(name: str, date: dt.date, agb: float, soc: float, soc_sd: float = 0.0) -> EpochInputs:
    return EpochInputs(
        name=name,
        date=date,
        strata=("sedge", "water"),
        stratum_area_ha={"sedge": 10.0, "water": 5.0},
        quantities={
            "agb_t_dm": KeyedTotals(
                keys=(("sedge", "sedge"),), totals=np.array([agb]), replicates=np.full((4, 1), agb)
            ),
            "soc_t_c": StratumTotals(
                totals={"sedge": soc, "water": 200.0},
                covariance=np.diag([soc_sd**2, 0.0]),
            ),
        },
        class_area_ha={"sedge": (10.0, 0.0), "water": (5.0, 0.0)},
    )


# --------------------------------------------------------------- the issuance rules
def test_issuance_of_the_methodology_example() -> None:
    # docs/methodology.md §5.2: period 1 Adjusted 0 → 4,440, NER_stock 0 → 10,000;
    # buffer 0.15 × 10,000 = 1,500 and VCU 4,440 − 1,500 = 2,940. Period 2 Adjusted
    # 4,440 → 14,400, NER_stock 10,000 → 25,000: buffer 0.15 × 15,000 = 2,250 and
    # VCU (14,400 − 4,440) − 2,250 = 7,710.
    first = period_issuance((0.0, 4440.0), (0.0, 10000.0), buffer_pct=15.0, base="stock-change")
    second = period_issuance(
        (4440.0, 14400.0), (10000.0, 25000.0), buffer_pct=15.0, base="stock-change"
    )
    assert first == pytest.approx((1500.0, 2940.0, False))
    assert second == pytest.approx((2250.0, 7710.0, False))
    # Base "adjusted-net": 0.15 × ΔAdjusted = 0.15 × 9,960 = 1,494; VCU 9,960 − 1,494 = 8,466.
    other = period_issuance(
        (4440.0, 14400.0), (10000.0, 25000.0), buffer_pct=15.0, base="adjusted-net"
    )
    assert other == pytest.approx((1494.0, 8466.0, False))
    # Stocks fell (25,000 → 20,000), Adjusted 14,400 → 11,000: no buffer, VCU −3,400.
    loss = period_issuance(
        (14400.0, 11000.0), (25000.0, 20000.0), buffer_pct=15.0, base="stock-change"
    )
    assert loss == pytest.approx((0.0, -3400.0, True))
    # The buffer is withheld from what the period earns: ΔAdjusted 100 (the deduction took
    # most of the net) against 0.15 × 1,000 = 150 of stock change → buffer 100, VCU 0; a
    # period whose adjusted net stays 0 puts nothing in the buffer and issues nothing.
    small = period_issuance((0.0, 100.0), (0.0, 1000.0), buffer_pct=15.0, base="stock-change")
    assert small == pytest.approx((100.0, 0.0, False))
    nothing = period_issuance((0.0, 0.0), (0.0, 3667.7), buffer_pct=15.0, base="stock-change")
    assert nothing == pytest.approx((0.0, 0.0, False))


@pytest.mark.parametrize(
    ("vcus", "expected"),
    [
        # Cumulative 100, 70, 120; peaks 100, 100, 120: issued 100, 0, 20; the loss of
        # 30 cancels 30 of the 100 issued.
        ([100.0, -30.0, 50.0], [(100.0, 0.0), (0.0, 30.0), (20.0, 0.0)]),
        # A first period that is a source issues nothing and cancels nothing (nothing was
        # issued); the second makes good the 50 first: cumulative 30, issued 30.
        ([-50.0, 80.0], [(0.0, 0.0), (30.0, 0.0)]),
        # A loss larger than what was issued cancels only what was issued (40).
        ([40.0, -100.0, 200.0], [(40.0, 0.0), (0.0, 40.0), (100.0, 0.0)]),
    ],
)
def test_issued_by_period(vcus: list[float], expected: list[tuple[float, float]]) -> None:
    np.testing.assert_allclose(np.array(issued_by_period(vcus)), np.array(expected), atol=1e-12)


# --------------------------------------------------------------- the ledger's periods
@pytest.fixture(scope="module")
def loss_ledger(vm0033: MethodologyProfile) -> Ledger:
    # Period 2 loses stocks: AGB 120 → 100 t DM, SOC 1010 → 1005 t C.
    epochs = [
        _epoch("t0", T0, 100.0, 1000.0),
        _epoch("t1", T1, 120.0, 1010.0),
        _epoch("t2", T2, 100.0, 1005.0),
    ]
    return build_ledger(epochs, CLASSES, profile=vm0033, seed=3, n_draws=2000)


def test_a_planted_loss_is_a_reversal(loss_ledger: Ledger) -> None:
    first, second = loss_ledger.periods["total"]
    assert first.ner.mean == pytest.approx(NER_1, rel=1e-12)
    assert first.buffer == pytest.approx(16.5, rel=1e-12)
    assert first.vcu == pytest.approx(VCU_1, rel=1e-12)
    assert (first.issued, first.reversal) == (pytest.approx(VCU_1, rel=1e-12), False)
    # Period 2: ΔC = −10 − 10 − 5 = −25 t C → ΔNER_stock = −91.6667 t CO2e;
    # ΔNER = −91.6667 − 2.527625 × y2 = −96.7180; U = 0, so ΔAdjusted = ΔNER; no buffer;
    # VCU₂ = −96.7180, a loss larger than the 88.4413 issued: all of it is cancelled.
    loss = -CO2 * 25.0 - NON_CO2 * Y2
    assert second.ner_stock == pytest.approx(-CO2 * 25.0, rel=1e-12)
    assert second.reversal
    assert second.buffer == 0.0
    assert second.vcu == pytest.approx(loss, rel=1e-12)
    assert second.issued == 0.0
    assert second.cancelled == pytest.approx(VCU_1, rel=1e-12)
    # The cumulative chain at t2: NER 44/12 × 5 − 2.527625 × (y1 + y2) = 8.2233, tradable
    # 8.2233 − 0.15 × 18.3333 = 5.4733; issued stays at the 88.4413 of period 1.
    claim = loss_ledger.to_dict()["claim"]
    assert claim["tradable_t_co2e"] == pytest.approx(
        CO2 * 5 - NON_CO2 * (Y1 + Y2) - 0.15 * CO2 * 5, rel=1e-9
    )
    assert claim["issued_t_co2e"] == pytest.approx(VCU_1, rel=1e-12)
    assert claim["reversals"] == [2]
    codes = [w.code for w in loss_ledger.warnings]
    assert codes.count("reversal") == 1


def test_periods_split_into_vintages(loss_ledger: Ledger) -> None:
    rows = loss_ledger.vintages[loss_ledger.vintages["stratum"] == "total"]
    # Period 1 issues VCU₁ over 2020 (366 d) and 2021 (365 d); period 2 issues nothing.
    assert rows["period"].tolist() == [1, 1, 2, 2]
    assert rows["vintage"].tolist() == [2020, 2021, 2022, 2023]
    assert rows["days"].tolist() == [366, 365, 365, 365]
    assert rows["tradable_t_co2e"].tolist() == pytest.approx(
        [VCU_1 * 366 / 731, VCU_1 * 365 / 731, 0.0, 0.0], rel=1e-12
    )


def test_the_json_periods(loss_ledger: Ledger) -> None:
    out = loss_ledger.to_dict()
    assert [p["end_epoch"] for p in out["periods"]] == ["t1", "t2"]
    assert out["periods"][1]["buffer_cancelled"] == pytest.approx(VCU_1, rel=1e-12)
    assert [p["period"] for p in out["stratum_periods"]["sedge"]] == [1, 2]
    # The water stratum stores nothing: its NER is its emissions, −(1.022 + 0.483625) × y.
    water = out["stratum_periods"]["water"][0]
    assert water["ner"] == pytest.approx(-(1.022 + 0.483625) * Y1, rel=1e-12)
    assert water["issued"] == 0.0


def test_two_period_vm0033_example_with_an_uncertainty_deduction(
    vm0033: MethodologyProfile,
) -> None:
    # Period 2 gains: AGB 120 → 130 t DM (AGB C +5, BGB C +5), SOC 1010 → 1100 t C, the
    # t2 SOC of sedge known to SD 25 t C (every other input exact).
    epochs = [
        _epoch("t0", T0, 100.0, 1000.0),
        _epoch("t1", T1, 120.0, 1010.0),
        _epoch("t2", T2, 130.0, 1100.0, soc_sd=25.0),
    ]
    ledger = build_ledger(epochs, CLASSES, profile=vm0033, seed=11, n_draws=20_000)
    first, second = ledger.periods["total"]
    # Cumulative at t2: ΔC = 20 + 10 + 100 = 130 t C → NER_stock 476.667 t CO2e;
    # NER(t2) = 476.667 − 2.527625 × (y1 + y2) = 466.560; SD 44/12 × 25 = 91.667, so the 90 %
    # half-width is 1.645 × 91.667 = 150.78 and U(t2) = 150.78 / 466.560 = 32.3 %.
    ner_2 = CO2 * 130 - NON_CO2 * (Y1 + Y2)
    u_2 = 1.6448536 * CO2 * 25.0 / ner_2
    cumulative = second.cumulative
    assert cumulative["ner"].mean == pytest.approx(ner_2, rel=0.005)
    assert cumulative["u"] == pytest.approx(u_2, abs=0.01)
    # Adjusted(t2) = NER(t2) × (1 − (U − 0.20)) = 466.560 × 0.877 = 409.2 (eq. 5.9), here on
    # the Monte Carlo's own NER and U:
    adjusted_2 = cumulative["ner"].mean * (1.0 - (cumulative["u"] - 0.20))
    assert cumulative["adjusted"] == pytest.approx(adjusted_2, rel=1e-9)
    assert adjusted_2 == pytest.approx(ner_2 * (1.0 - (u_2 - 0.20)), rel=0.02)
    # Period 1 is exact (U = 0): Adjusted(t1) = NER(t1) = 104.941, VCU₁ = 88.441.
    assert first.vcu == pytest.approx(VCU_1, rel=1e-9)
    # Eq. 94: Buffer₂ = (NER_stock(t2) − NER_stock(t1)) × 15 % = (476.667 − 110) × 0.15 = 55.0.
    assert second.buffer == pytest.approx(0.15 * (cumulative["ner_stock"] - CO2 * 30), rel=1e-9)
    assert second.buffer == pytest.approx(55.0, rel=0.01)
    # Eq. 93: VCU₂ = (409.2 − 104.941) − 55.0 = 249.3.
    assert second.vcu == pytest.approx(adjusted_2 - NER_1 - second.buffer, rel=1e-9)
    assert second.vcu == pytest.approx(ner_2 * (1 - (u_2 - 0.2)) - NER_1 - 55.0, rel=0.03)
    assert not second.reversal
    # No loss: the issued VCUs add up to the cumulative tradable of the claim.
    claim = ledger.to_dict()["claim"]
    assert claim["issued_t_co2e"] == pytest.approx(claim["tradable_t_co2e"], rel=1e-9)


def test_the_middle_epoch_enters_the_periods_not_the_cumulative_change(
    vm0033: MethodologyProfile,
) -> None:
    # A middle epoch with odd stocks changes the periods, not the first → last sink.
    odd = [_epoch("t0", T0, 100.0, 1000.0), _epoch("t1", T1, 500.0, 5000.0)]
    epochs = [*odd, _epoch("t2", T2, 120.0, 1010.0)]
    ledger = build_ledger(epochs, CLASSES, profile=vm0033, seed=7, n_draws=2000)
    # 44/12 × 30 t C over y1 + y2 = 1461 / 365.25 = 4.0 years.
    assert ledger.strata.loc["total", "removals_t_co2e_yr"] == pytest.approx(
        CO2 * 30 / (1461 / 365.25), rel=1e-12
    )
    first, second = ledger.periods["total"]
    # Period 1: AGB +400 t DM (AGB C and BGB C +200 each), SOC +4,000: 44/12 × 4,400.
    assert first.removals == pytest.approx(CO2 * 4400, rel=1e-12)
    assert first.removals + second.removals == pytest.approx(CO2 * 30, rel=1e-9)


def _correlated_epochs() -> tuple[list[EpochInputs], npt.NDArray[np.float64]]:
    """Three epochs whose sedge SOC has SDs 20, 30, 25 t C and correlations 0.3 (t0, t1),
    0.6 (t0, t2), 0.5 (t1, t2): the joint covariance of the three, the form the soil stage
    gives (water's SOC is known)."""
    epochs = [
        _epoch("t0", T0, 100.0, 1000.0, soc_sd=20.0),
        _epoch("t1", T1, 120.0, 1010.0, soc_sd=30.0),
        _epoch("t2", T2, 130.0, 1100.0, soc_sd=25.0),
    ]
    joint = np.zeros((6, 6))
    for a, sd_a in enumerate((20.0, 30.0, 25.0)):
        for b, sd_b in enumerate((20.0, 30.0, 25.0)):
            rho = 1.0 if a == b else {(0, 1): 0.3, (0, 2): 0.6, (1, 2): 0.5}[min(a, b), max(a, b)]
            joint[2 * a, 2 * b] = rho * sd_a * sd_b
    return epochs, joint


def test_the_ledger_records_the_first_and_last_epochs_soc_error_correlation(
    vm0033: MethodologyProfile,
) -> None:
    # From the joint covariance of three epochs, the record is that of t0 and t2's totals:
    # 0.6 × 20 × 25 / (20 × 25) = 0.6 (summing every block gave (20² + 30² + 25² + 2 ×
    # (0.3 × 600 + 0.6 × 500 + 0.5 × 750)) / 500 = 3,635 / 500 = 7.27, clipped to 1).
    epochs, joint = _correlated_epochs()
    ledger = build_ledger(
        epochs, CLASSES, profile=vm0033, seed=7, n_draws=2000, error_covariance={"soc_t_c": joint}
    )
    assert ledger.monte_carlo["soc_error_correlation"] == pytest.approx(0.6, rel=1e-12)


def test_periods_add_up_to_the_cumulative_figures_in_every_draw() -> None:
    # Every epoch's SOC uncertain, t0 and t2 sharing errors: per draw, the cumulative
    # removals at t2 are the claim's rate × years, and those at t1 are 44/12 × the
    # stocks' change.
    epochs, joint = _correlated_epochs()
    pools = [("agb", POOLS["agb"]), ("bgb", POOLS["bgb"]), ("soc_0_100", POOLS["soc"])]
    draws = simulate_terms(
        MonteCarlo(5, 40_000),
        epochs,
        CLASSES,
        strata=("sedge", "water"),
        pools=pools,
        gwp=GWP["AR5"],
        error_covariance={"soc_t_c": joint},
    )
    years = (1461) / 365.25
    last, middle = draws.cumulative["t2"], draws.cumulative["t1"]
    np.testing.assert_allclose(last.removals, draws.removals * years, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(last.non_co2, draws.non_co2 * years, rtol=1e-12, atol=1e-12)
    change = sum(draws.stocks["t1"][p] - draws.stocks["t0"][p] for p, _ in pools)
    np.testing.assert_allclose(middle.removals, CO2 * change, rtol=1e-12, atol=1e-9)
    assert middle.years == pytest.approx(Y1, rel=1e-15)
    # The SOC errors keep the joint covariance: corr(t0, t2) = 0.6 and
    # SD(t2 − t1) = √(25² + 30² − 2 × 0.5 × 25 × 30) = 27.84 t C.
    soc = {e: draws.stocks[e]["soc_0_100"][:, 0] for e in ("t0", "t1", "t2")}
    assert np.corrcoef(soc["t0"], soc["t2"])[0, 1] == pytest.approx(0.6, abs=0.01)
    assert np.std(soc["t2"] - soc["t1"], ddof=1) == pytest.approx(
        math.sqrt(25**2 + 30**2 - 2 * 0.5 * 25 * 30), rel=0.03
    )


# --------------------------------------------------------------- the 100-year cap
def test_the_100_year_cap_holds_the_soil_claim(vm0033: MethodologyProfile) -> None:
    # vm0033 caps the soil pool (eq. 5.21) at a stated benefit of 100 t CO2e. Cumulative soil
    # gains: 10 t C = 36.667 t CO2e at t1 (below the cap), 100 t C = 366.667 t CO2e at t2
    # (held to 100). Biomass: AGB C +15 and BGB C +15 by t2 = 30 t C = 110 t CO2e (no cap).
    epochs = [
        _epoch("t0", T0, 100.0, 1000.0),
        _epoch("t1", T1, 120.0, 1010.0),
        _epoch("t2", T2, 130.0, 1100.0),
    ]
    ledger = build_ledger(
        epochs,
        CLASSES,
        profile=vm0033,
        seed=3,
        n_draws=2000,
        benefit_100yr_t_co2e={"soil": 100.0},
    )
    first, second = ledger.periods["total"]
    # Period 1: 44/12 × 30 = 110 t CO2e; at t2: 110 + 100 = 210, so period 2 removes 100.
    assert first.removals == pytest.approx(CO2 * 30.0, rel=1e-12)
    assert first.removals + second.removals == pytest.approx(CO2 * 30.0 + 100.0, rel=1e-12)
    # The claim's rate: 210 t CO2e over y1 + y2 = 4.0 years; the sedge soil's change is held
    # to 100 / (44/12) = 27.27 t C over the 4 years.
    assert ledger.strata.loc["total", "removals_t_co2e_yr"] == pytest.approx(
        210.0 / (1461 / 365.25), rel=1e-12
    )
    assert ledger.extra["cap_100yr"] == {
        "groups": ["soil"],
        "benefit_t_co2e": {"soil": 100.0},
        "binding_share": {"soil": 1.0},
    }
    assert [w.code for w in ledger.warnings if w.code.startswith("cap-")] == ["cap-100yr-binding"]


def test_an_unstated_cap_is_warned_and_not_applied(vm0033: MethodologyProfile) -> None:
    epochs = [_epoch("t0", T0, 100.0, 1000.0), _epoch("t1", T1, 120.0, 1010.0)]
    ledger = build_ledger(epochs, CLASSES, profile=vm0033, seed=3, n_draws=2000)
    assert [w.code for w in ledger.warnings] == ["cap-100yr-not-stated"]
    # No cap: 44/12 × 30 t C over y1, as without one.
    assert ledger.strata.loc["total", "removals_t_co2e_yr"] == pytest.approx(
        CO2 * 30.0 / Y1, rel=1e-12
    )
    assert ledger.extra["cap_100yr"]["benefit_t_co2e"] == {"soil": None}
