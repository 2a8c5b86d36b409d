"""VM0033 eq. 87–91 on hand-made draws (docs/methodology.md §5.3 worked examples)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from carbonsink.accounting.combined_uncertainty import combined_uncertainty
from carbonsink.accounting.credits import credit_chain
from carbonsink.accounting.profiles import load_profile
from carbonsink.errors import InputError

N = 10_001


def _term(mean: float, half_width: float) -> np.ndarray:
    """Evenly spaced draws whose 5–95 % half-width is ``half_width``.

    The 5th and 95th percentiles of linspace(m − r, m + r, 10001) are m ∓ 0.9 r, so
    r = half-width / 0.9.
    """
    r = half_width / 0.9
    return np.linspace(mean - r, mean + r, N)


def test_within_a_stratum_eq_5_12() -> None:
    # Soil 800 at U 10 % (h 80) and biomass 200 at U 40 % (h 80) in one stratum:
    # U = √(80² + 80²) / 1,000 = 113.137 / 1,000 = 11.31 %.
    terms = {"soc": _term(800.0, 80.0)[:, None], "agb": _term(200.0, 80.0)[:, None]}
    result = combined_uncertainty(terms, strata=["reed"], areas_ha={"reed": 10.0})
    assert result.terms["reed"]["soc"].relative == pytest.approx(0.10)
    assert result.terms["reed"]["agb"].relative == pytest.approx(0.40)
    assert result.strata["reed"] == pytest.approx(math.sqrt(80**2 + 80**2) / 1000.0)
    # One stratum: eq. 5.13 gives back its own U.
    assert result.project == pytest.approx(result.strata["reed"])


def test_across_strata_eq_5_13_and_a_gas_term() -> None:
    # Stratum a (300 ha): removals 1,100 (h 100) and CH4 −100 (h 0) → net 1,000, U 10 %.
    # Stratum b (100 ha): removals 100 (h 30) → U 30 %.
    # Project: √((0.10 × 300)² + (0.30 × 100)²) / 400 = √(900 + 900) / 400 = 10.61 %.
    removals = np.column_stack([_term(1100.0, 100.0), _term(100.0, 30.0)])
    ch4 = np.column_stack([np.full(N, -100.0), np.zeros(N)])
    result = combined_uncertainty(
        {"soc": removals, "ch4": ch4}, strata=["a", "b"], areas_ha={"a": 300.0, "b": 100.0}
    )
    assert result.strata["a"] == pytest.approx(0.10)
    assert result.strata["b"] == pytest.approx(0.30)
    assert result.project == pytest.approx(math.sqrt(1800.0) / 400.0)
    # CH4 of b is 0 with no spread: U 0, and it adds nothing.
    assert result.terms["b"]["ch4"].relative == 0.0
    record = result.to_dict()
    assert record["strata"]["a"]["terms"]["ch4"]["estimate"] == pytest.approx(-100.0)


def test_a_stratum_without_area_is_left_out_and_a_zero_net_is_infinite() -> None:
    # Draws at ±10 around 100 (half-width 10, U 10 %) and at ±5 around exactly 0.
    signs = np.tile([-1.0, 1.0], 5000)
    draws = np.column_stack([100.0 + 10.0 * signs, 5.0 * signs])
    result = combined_uncertainty({"soc": draws}, strata=["a", "b"], areas_ha={"a": 50.0, "b": 0.0})
    assert math.isinf(result.strata["b"])
    assert result.project == pytest.approx(0.10)
    assert result.to_dict()["strata"]["b"]["relative_half_width"] is None
    with pytest.raises(InputError, match="expected"):
        combined_uncertainty({"soc": draws}, strata=["a"], areas_ha={"a": 1.0})


def test_the_profile_chooses_the_u_of_the_deduction() -> None:
    # Net = removals − 100: mean 900, 5–95 % half-width 180 → Monte Carlo U = 20 %.
    removals = np.linspace(800.0, 1200.0, N)
    non_co2 = np.full(N, 100.0)
    vm = load_profile("vm0033")
    assert vm.uncertainty_source == "conservative"
    # Conservative: eq. 87–91 gives 30 % > 20 % → 900 × (1 − (0.30 − 0.20)) = 810.
    chain = credit_chain(removals, non_co2, profile=vm, combined_u=0.30)
    assert chain.uncertainty["monte_carlo"] == pytest.approx(0.20)
    assert chain.uncertainty["used"] == pytest.approx(0.30)
    assert chain.adjusted_t_co2e_yr == pytest.approx(810.0)
    # Conservative with eq. 87–91 at 5 %: the Monte Carlo's 20 % → no deduction.
    chain = credit_chain(removals, non_co2, profile=vm, combined_u=0.05)
    assert chain.adjusted_t_co2e_yr == pytest.approx(900.0)
    # The equations only: 5 % → no deduction either; the Monte Carlo only ignores 30 %.
    eq = vm.model_copy(update={"uncertainty_source": "vm0033-equations"})
    assert credit_chain(removals, non_co2, profile=eq, combined_u=0.30).adjusted_t_co2e_yr == (
        pytest.approx(810.0)
    )
    mc = vm.model_copy(update={"uncertainty_source": "monte-carlo"})
    chain = credit_chain(removals, non_co2, profile=mc, combined_u=0.30)
    assert chain.adjusted_t_co2e_yr == pytest.approx(900.0)
    assert chain.uncertainty["source"] == "monte-carlo"
    # AR-Tool14 on U = 30 % (used): DF 0.75 of the half-width 0.30 × 900 = 270 → 697.5.
    ar = load_profile("ar-tool14")
    chain = credit_chain(removals, non_co2, profile=ar, combined_u=0.30)
    assert chain.adjusted_t_co2e_yr == pytest.approx(900.0 - 0.75 * 270.0)
    # An infinite U leaves no credits under vm0033.
    assert credit_chain(removals, non_co2, profile=vm, combined_u=math.inf).tradable_t_co2e_yr == 0
