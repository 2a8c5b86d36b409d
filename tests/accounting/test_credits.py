"""The credit chain on hand-made draws (arithmetic in the comments)."""

from __future__ import annotations

import numpy as np
import pytest

from carbonsink.accounting.credits import credit_chain
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
    # buffer 15 % of the stock part (all of it) = 135; tradable 765.
    assert chain.buffer_t_co2e_yr == pytest.approx(135.0)
    assert chain.tradable_t_co2e_yr == pytest.approx(765.0)
    assert [r.rule for r in chain.rules] == ["vm0033", "ar-tool14", "lower-bound"]


def test_vm0033_deducts_the_excess_uncertainty() -> None:
    removals = np.linspace(700.0, 1300.0, N)
    chain = credit_chain(removals, np.full(N, 100.0), profile=load_profile("vm0033"))
    # net mean 900, 5–95 % = 630–1170, half-width 270, U = 30 % → adjusted =
    # 900 × (1 − (0.30 − 0.20)) = 810; buffer 15 % = 121.5; tradable 688.5.
    assert chain.adjusted_t_co2e_yr == pytest.approx(810.0)
    assert chain.tradable_t_co2e_yr == pytest.approx(688.5)
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
    # buffer 20 % → 136.8; tradable 547.2; value 547.2 × 30 = 16,416 per year.
    assert chain.leakage_t_co2e_yr == pytest.approx(45.0)
    assert chain.net.mean == pytest.approx(855.0)
    assert chain.adjusted_t_co2e_yr == pytest.approx(684.0)
    assert chain.buffer_t_co2e_yr == pytest.approx(136.8)
    assert chain.tradable_t_co2e_yr == pytest.approx(547.2)
    assert chain.value == pytest.approx(16_416.0)


def test_baseline_and_stock_share() -> None:
    removals = np.linspace(800.0, 1200.0, N)
    chain = credit_chain(
        removals,
        np.zeros(N),
        profile=load_profile("vm0033"),
        baseline_t_co2e_yr=100.0,
        stock_share=0.5,
    )
    # gross = removals − 100: mean 900, U = 20 % → adjusted 900; the buffer applies to
    # half of it: 900 × 0.5 × 0.15 = 67.5; tradable 832.5.
    assert chain.gross.mean == pytest.approx(900.0)
    assert chain.buffer_t_co2e_yr == pytest.approx(67.5)
    assert chain.tradable_t_co2e_yr == pytest.approx(832.5)


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
    with pytest.raises(InputError, match="stock_share"):
        credit_chain(np.ones(5), np.ones(5), profile=load_profile("vm0033"), stock_share=1.5)


def test_tradable_interval_carries_the_applied_deduction() -> None:
    # vm0033 case above: net 5–95 % = 630–1170, U = 30 % → kept fraction 0.9, buffer 15 %:
    # T(630) = 630 × 0.9 × 0.85 = 481.95 and T(1170) = 1170 × 0.9 × 0.85 = 895.05.
    removals = np.linspace(700.0, 1300.0, N)
    chain = credit_chain(removals, np.full(N, 100.0), profile=load_profile("vm0033"))
    assert chain.tradable_ci90 == pytest.approx((481.95, 895.05))
    assert chain.tradable_at(chain.net.mean) == pytest.approx(chain.tradable_t_co2e_yr)
    # lower-bound case: the deduction is the fixed 855 − 684 = 171, buffer 20 %:
    # T(855 + 100) = (955 − 171) × 0.8 = 627.2; a net below 171 earns nothing.
    lower = credit_chain(
        np.linspace(800.0, 1200.0, N), np.full(N, 100.0), profile=load_profile("lower-bound")
    )
    assert lower.tradable_at(955.0) == pytest.approx(627.2)
    assert lower.tradable_at(150.0) == 0.0
