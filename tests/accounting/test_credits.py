"""The credit chain on hand-made draws (arithmetic in the comments)."""

from __future__ import annotations

import numpy as np
import pytest

from carbonsink.accounting.credits import credit_chain, vm0033_issuance
from carbonsink.accounting.profiles import load_profile
from carbonsink.errors import InputError

# Evenly spaced draws: np.quantile(linspace(a, b, 10001), q) = a + q (b − a) exactly
# (linear interpolation between points 0.04 apart at index q × 10000).
N = 10_001


def test_vm0033_within_the_allowed_uncertainty() -> None:
    removals = np.linspace(800.0, 1200.0, N)
    non_co2 = np.full(N, 100.0)
    chain = credit_chain(removals, non_co2, profile=load_profile("vm0033"))
    # gross = net (no leakage in vm0033): mean 900, 5–95 % = 720–1080, half-width 180,
    # U = 180 / 900 = 20 % ≤ 20 % allowed → adjusted = 900.
    assert chain.net.mean == pytest.approx(900.0)
    assert chain.applied_rule.rule == "vm0033"
    assert chain.adjusted_t_co2e_yr == pytest.approx(900.0)
    # buffer 15 % of NER_stock (the removals, mean 1000; eq. 94) = 150; tradable 750.
    assert chain.ner_stock.mean == pytest.approx(1000.0)
    assert chain.buffer_base == "stock-change"
    assert chain.buffer_base_t_co2e_yr == pytest.approx(1000.0)
    assert chain.buffer_t_co2e_yr == pytest.approx(150.0)
    assert chain.tradable_t_co2e_yr == pytest.approx(750.0)
    assert [r.rule for r in chain.rules] == ["vm0033", "ar-tool14", "lower-bound"]


def test_vm0033_deducts_the_excess_uncertainty() -> None:
    removals = np.linspace(700.0, 1300.0, N)
    chain = credit_chain(removals, np.full(N, 100.0), profile=load_profile("vm0033"))
    # net mean 900, 5–95 % = 630–1170, half-width 270, U = 30 % → adjusted =
    # 900 × (1 − (0.30 − 0.20)) = 810; buffer 15 % of NER_stock 1000 = 150; tradable 660.
    assert chain.adjusted_t_co2e_yr == pytest.approx(810.0)
    assert chain.buffer_t_co2e_yr == pytest.approx(150.0)
    assert chain.tradable_t_co2e_yr == pytest.approx(660.0)
    # The ar-tool14 result is reported but not applied: U = 30 % is in the 20–30 %
    # band (edges inclusive) → 75 % of the half-width: 900 − 0.75 × 270 = 697.5.
    ar = next(r for r in chain.rules if r.rule == "ar-tool14")
    assert not ar.applied
    assert ar.adjusted == pytest.approx(697.5)


def test_lower_bound_with_leakage_buffer_and_price() -> None:
    removals = np.linspace(800.0, 1200.0, N)
    chain = credit_chain(
        removals, np.full(N, 100.0), profile=load_profile("lower-bound"), price_per_t=30.0
    )
    # gross 700–1100; leakage 5 % of each positive draw → net = 0.95 × gross, mean 855,
    # mean leakage 45; the 5th percentile of the net = 0.95 × 720 = 684 is credited;
    # the lower-bound profile takes its buffer of the adjusted net: 20 % → 136.8;
    # tradable 547.2; value 547.2 × 30 = 16,416 per year.
    assert chain.buffer_base == "adjusted-net"
    assert chain.leakage_t_co2e_yr == pytest.approx(45.0)
    assert chain.net.mean == pytest.approx(855.0)
    assert chain.adjusted_t_co2e_yr == pytest.approx(684.0)
    assert chain.buffer_t_co2e_yr == pytest.approx(136.8)
    assert chain.tradable_t_co2e_yr == pytest.approx(547.2)
    assert chain.value == pytest.approx(16_416.0)


def test_baseline_is_out_of_the_buffer_base() -> None:
    removals = np.linspace(800.0, 1200.0, N)
    chain = credit_chain(
        removals, np.zeros(N), profile=load_profile("vm0033"), baseline_t_co2e_yr=100.0
    )
    # gross = NER_stock = removals − 100: mean 900, U = 20 % → adjusted 900; buffer
    # 15 % of 900 = 135; tradable 765.
    assert chain.gross.mean == pytest.approx(900.0)
    assert chain.ner_stock.mean == pytest.approx(900.0)
    assert chain.buffer_t_co2e_yr == pytest.approx(135.0)
    assert chain.tradable_t_co2e_yr == pytest.approx(765.0)


def test_vm0033_worked_example_of_issue_15() -> None:
    # Stock-based removals 10,000 and CH4 4,000 t CO2e/yr, U = 46 %, buffer 15 %.
    # Removals evenly spread so that the 5–95 % half-width of the net is 46 % of 6,000
    # = 2,760: a linspace of half-range h has 5–95 % half-width 0.9 h → h = 3,066.67.
    h = 2760.0 / 0.9
    removals = np.linspace(10_000.0 - h, 10_000.0 + h, N)
    chain = credit_chain(removals, np.full(N, 4000.0), profile=load_profile("vm0033"))
    assert chain.net.mean == pytest.approx(6000.0)
    assert chain.applied_rule.relative_half_width == pytest.approx(0.46)
    # Adjusted = 6,000 × (1 − 0.46 + 0.20) = 4,440; Buffer = 0.15 × 10,000 = 1,500 (not
    # 0.15 × 4,440 = 666); Tradable = 4,440 − 1,500 = 2,940.
    assert chain.adjusted_t_co2e_yr == pytest.approx(4440.0)
    assert chain.buffer_t_co2e_yr == pytest.approx(1500.0)
    assert chain.tradable_t_co2e_yr == pytest.approx(2940.0)
    issued = vm0033_issuance((0.0, 4440.0), (0.0, 10_000.0), buffer_pct=15.0)
    assert (issued.buffer, issued.vcu, issued.reversal) == (1500.0, 2940.0, False)


def test_vm0033_two_monitoring_periods() -> None:
    # Period 1 as above: cumulative adjusted NER 4,440, NER_stock 10,000 → VCU 2,940.
    # Period 2: cumulative NER_stock 25,000, cumulative CH4 9,000 → NER 16,000, U = 30 %
    # → adjusted 16,000 × (1 − 0.10) = 14,400. Eq. 94: buffer = (25,000 − 10,000) × 0.15
    # = 2,250; eq. 93: VCU = (14,400 − 4,440) − 2,250 = 7,710. Issued in all
    # 2,940 + 7,710 = 10,650 = 14,400 − 0.15 × 25,000.
    second = vm0033_issuance((4440.0, 14_400.0), (10_000.0, 25_000.0), buffer_pct=15.0)
    assert second.delta_adjusted == pytest.approx(9960.0)
    assert second.buffer == pytest.approx(2250.0)
    assert second.vcu == pytest.approx(7710.0)
    assert 2940.0 + second.vcu == pytest.approx(14_400.0 - 0.15 * 25_000.0)
    # A third period in which the stocks fell from 25,000 to 22,000 and the adjusted NER
    # from 14,400 to 12,000: no buffer contribution, VCU = −2,400, a reversal.
    third = vm0033_issuance((14_400.0, 12_000.0), (25_000.0, 22_000.0), buffer_pct=15.0)
    assert third.reversal and third.buffer == 0.0 and third.vcu == pytest.approx(-2400.0)


def test_buffer_larger_than_the_adjusted_net_leaves_nothing() -> None:
    # NER_stock 1,000, CH4 900 → net 100 (U = 0); buffer 15 % × 1,000 = 150 > 100:
    # tradable 0, and a note says why.
    chain = credit_chain(np.full(N, 1000.0), np.full(N, 900.0), profile=load_profile("vm0033"))
    assert chain.adjusted_t_co2e_yr == pytest.approx(100.0)
    assert chain.buffer_t_co2e_yr == pytest.approx(150.0)
    assert chain.tradable_t_co2e_yr == 0.0
    assert any("not smaller than the adjusted net" in n for n in chain.notes)


def test_a_source_earns_nothing() -> None:
    removals = np.linspace(-200.0, 0.0, N)
    chain = credit_chain(removals, np.full(N, 50.0), profile=load_profile("vm0033"))
    # net = removals − 50 runs from −250 to −50 (mean −100 − 50 = −150): an emission;
    # no credits, no buffer, and it is said.
    assert chain.net.mean == pytest.approx(-150.0)
    assert chain.tradable_t_co2e_yr == 0.0
    assert chain.buffer_t_co2e_yr == 0.0
    assert any("no credits" in n for n in chain.notes)
    record = chain.to_dict()
    assert record["tradable"] == 0.0 and record["units"] == "t CO2e/yr"


def test_bad_inputs() -> None:
    with pytest.raises(InputError, match="same Monte Carlo draws"):
        credit_chain(np.ones(5), np.ones(4), profile=load_profile("vm0033"))
    with pytest.raises(InputError, match="buffer"):
        vm0033_issuance((0.0, 1.0), (0.0, 1.0), buffer_pct=120.0)


def test_tradable_interval_carries_the_applied_deduction() -> None:
    # vm0033 case above: net = removals − 100, removals 700–1300, U = 30 % → kept fraction
    # 0.9; buffer 15 % of each draw's NER_stock (its removals R): T = 0.9 (R − 100) − 0.15 R
    # = 0.75 R − 90, linear in R, so its 5–95 % = T(730) … T(1270) = 457.5 … 862.5.
    removals = np.linspace(700.0, 1300.0, N)
    chain = credit_chain(removals, np.full(N, 100.0), profile=load_profile("vm0033"))
    assert chain.tradable_ci90 == pytest.approx((457.5, 862.5))
    assert chain.tradable_at(chain.net.mean) == pytest.approx(chain.tradable_t_co2e_yr)
    # A true net of 500 with its stock part 600: 0.9 × 500 − 0.15 × 600 = 360.
    assert chain.tradable_at(500.0, 600.0) == pytest.approx(360.0)
    # lower-bound case: the deduction is the fixed 855 − 684 = 171, buffer 20 % of the
    # adjusted net: T(855 + 100) = (955 − 171) × 0.8 = 627.2; a net below 171 earns nothing.
    lower = credit_chain(
        np.linspace(800.0, 1200.0, N), np.full(N, 100.0), profile=load_profile("lower-bound")
    )
    assert lower.tradable_at(955.0) == pytest.approx(627.2)
    assert lower.tradable_at(150.0) == 0.0
