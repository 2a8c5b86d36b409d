"""Tests of the uncertainty deduction rules, on hand-worked examples (docs/methodology.md §5)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from carbonsink.accounting.profiles import MethodologyProfile, load_profile
from carbonsink.accounting.uncertainty_rules import (
    UNCERTAINTY_RULES,
    all_rules,
    apply_rule,
    ar_tool14_deduction,
    ar_tool14_discount_factor,
    combine_across_strata,
    combine_within_stratum,
    half_width,
    lower_bound_deduction,
    relative_half_width,
    vm0033_deduction,
)
from carbonsink.errors import InputError


@pytest.fixture(scope="module")
def vm0033() -> MethodologyProfile:
    # allowable 20 % at 90 %, lower-bound percentile 5 (the built-in file).
    return load_profile("vm0033")


# ------------------------------------------------------------------- helpers
def test_half_width_and_relative_half_width() -> None:
    # (110 − 90) / 2 = 10; 10 / 100 = 0.10
    assert half_width(90.0, 110.0) == pytest.approx(10.0)
    assert relative_half_width(100.0, 90.0, 110.0) == pytest.approx(0.10)
    # asymmetric: (130 − 80) / 2 = 25; 25 / |−50| = 0.5 (the absolute mean)
    assert relative_half_width(-50.0, -80.0, -30.0) == pytest.approx(0.5)
    # zero mean with a width: infinite; zero mean, zero width: 0
    assert math.isinf(relative_half_width(0.0, -1.0, 1.0))
    assert relative_half_width(0.0, 0.0, 0.0) == 0.0


@pytest.mark.parametrize(
    ("lower", "upper"), [(110.0, 90.0), (float("nan"), 1.0), (0.0, float("inf"))]
)
def test_bad_interval_is_an_error(lower: float, upper: float) -> None:
    with pytest.raises(InputError, match=r"lower|upper"):
        relative_half_width(100.0, lower, upper)


def test_combine_within_stratum_by_hand() -> None:
    # E = 60, 40; U = 5 %, 10 %: U·E = 3, 4 → sqrt(9 + 16) = 5; Σ E = 100 → U = 0.05
    assert combine_within_stratum([60.0, 40.0], [0.05, 0.10]) == pytest.approx(0.05)
    # a source term: E = 100, −40; U = 3 %, 10 %: U·E = 3, −4 → 5; |Σ E| = 60 → 0.08333
    assert combine_within_stratum([100.0, -40.0], [0.03, 0.10]) == pytest.approx(5.0 / 60.0)
    # terms that cancel: Σ E = 0 with errors → infinite relative uncertainty
    assert math.isinf(combine_within_stratum([10.0, -10.0], [0.1, 0.1]))


def test_combine_across_strata_by_hand() -> None:
    # U = 10 %, 20 %; A = 30, 20 ha: U·A = 3, 4 → sqrt(25) = 5; Σ A = 50 → U = 0.10
    assert combine_across_strata([0.10, 0.20], [30.0, 20.0]) == pytest.approx(0.10)
    # one stratum: U unchanged (0.25 × 7 / 7)
    assert combine_across_strata([0.25], [7.0]) == pytest.approx(0.25)


def test_combination_input_errors() -> None:
    with pytest.raises(InputError, match="relative_half_widths has 1"):
        combine_within_stratum([1.0, 2.0], [0.1])
    with pytest.raises(InputError, match="negative"):
        combine_within_stratum([1.0], [-0.1])
    with pytest.raises(InputError, match="positive"):
        combine_across_strata([0.1, 0.1], [10.0, 0.0])
    with pytest.raises(InputError, match="non-empty"):
        combine_across_strata([], [])
    with pytest.raises(InputError, match="NaN"):
        combine_within_stratum([1.0, float("nan")], [0.1, 0.1])


# ------------------------------------------------------------------ VM0033
def test_vm0033_issue_example() -> None:
    # U 25 %, allowed 20 % → Net × (1 − (0.25 − 0.20)) = 1000 × 0.95 = 950
    assert vm0033_deduction(1000.0, 0.25, allowable=0.20) == pytest.approx(950.0)


@pytest.mark.parametrize(
    ("u", "expected"),
    [
        (0.15, 1000.0),  # below the threshold: no deduction
        (0.20, 1000.0),  # exactly at it: no deduction (U ≤ allowed)
        (0.50, 700.0),  # 1000 × (1 − 0.30)
        (1.50, 0.0),  # excess 130 % → factor 1 − 1.3 < 0, floored at 0
    ],
)
def test_vm0033_threshold_and_floor(u: float, expected: float) -> None:
    assert vm0033_deduction(1000.0, u) == pytest.approx(expected)


def test_vm0033_allowable_at_95_percent() -> None:
    # 30 % at 95 %: U 40 % → 500 × (1 − 0.10) = 450
    assert vm0033_deduction(500.0, 0.40, allowable=0.30) == pytest.approx(450.0)


def test_vm0033_negative_net_unchanged() -> None:
    # a source: −500 × (1 − 0.3) = −350 would shrink the emission; min(−500, −350) = −500
    assert vm0033_deduction(-500.0, 0.50) == pytest.approx(-500.0)


def test_vm0033_bad_values() -> None:
    with pytest.raises(InputError):
        vm0033_deduction(100.0, -0.1)
    with pytest.raises(InputError, match="allowable"):
        vm0033_deduction(100.0, 0.3, allowable=20.0)  # percent given instead of fraction


# --------------------------------------------------------------- AR-Tool14
def test_ar_tool14_issue_example() -> None:
    # estimate 1000, half-width 170 → U = 17 % → DF 50 % → 1000 − 0.5 × 170 = 915
    assert ar_tool14_deduction(1000.0, 170.0) == pytest.approx(915.0)


@pytest.mark.parametrize(
    ("width", "expected"),
    [
        (50.0, 1000.0),  # U 5 %: DF 0
        (100.0, 1000.0),  # U exactly 10 %: band "≤ 10 %", DF 0
        (100.1, 1000.0 - 0.25 * 100.1),  # U 10.01 %: DF 25 % → 974.975
        (150.0, 1000.0 - 0.25 * 150.0),  # U exactly 15 %: DF 25 % → 962.5
        (200.0, 1000.0 - 0.50 * 200.0),  # U exactly 20 %: DF 50 % → 900
        (250.0, 1000.0 - 0.75 * 250.0),  # U 25 %: DF 75 % → 812.5
        (300.0, 1000.0 - 0.75 * 300.0),  # U exactly 30 %: DF 75 % → 775
        (301.0, 1000.0 - 301.0),  # U 30.1 %: DF 100 %, the lower bound → 699
    ],
)
def test_ar_tool14_band_edges(width: float, expected: float) -> None:
    assert ar_tool14_deduction(1000.0, width) == pytest.approx(expected)


def test_ar_tool14_edges_tolerate_float_noise() -> None:
    # 0.1 computed with a rounding error stays in the "≤ 10 %" band; a real excess does not
    assert ar_tool14_discount_factor(0.1 * (1.0 + 1e-12)) == 0.0
    assert ar_tool14_discount_factor(0.1 * (1.0 + 1e-6)) == 0.25
    assert ar_tool14_discount_factor(0.0) == 0.0
    assert ar_tool14_discount_factor(math.inf) == 1.0


def test_ar_tool14_negative_estimate_gets_more_negative() -> None:
    # −1000, half-width 170: U = 17 % → −1000 − 0.5 × 170 = −1085
    assert ar_tool14_deduction(-1000.0, 170.0) == pytest.approx(-1085.0)


def test_ar_tool14_bad_values() -> None:
    with pytest.raises(InputError, match="negative"):
        ar_tool14_deduction(100.0, -1.0)
    with pytest.raises(InputError):
        ar_tool14_discount_factor(float("nan"))


# ------------------------------------------------------------- lower bound
def test_lower_bound_percentile_by_hand() -> None:
    draws = np.arange(1.0, 102.0)  # 1, 2, ..., 101
    # linear interpolation: position 0.05 × (101 − 1) = 5 → the 6th value, 6
    assert lower_bound_deduction(draws) == pytest.approx(6.0)
    # position 0.10 × 100 = 10 → 11; median position 50 → 51
    assert lower_bound_deduction(draws, percentile=10.0) == pytest.approx(11.0)
    assert lower_bound_deduction(draws, percentile=50.0) == pytest.approx(51.0)


def test_lower_bound_does_not_mutate_and_checks_input() -> None:
    draws = np.array([3.0, 1.0, 2.0])
    lower_bound_deduction(draws)
    np.testing.assert_array_equal(draws, [3.0, 1.0, 2.0])
    with pytest.raises(InputError, match="percentile"):
        lower_bound_deduction(draws, percentile=0.0)
    with pytest.raises(InputError, match="NaN"):
        lower_bound_deduction(np.array([1.0, np.nan]))
    with pytest.raises(InputError, match="1-D"):
        lower_bound_deduction(np.ones((2, 2)))


# ------------------------------------------------------------- dispatching
def test_apply_rule_each_family(vm0033: MethodologyProfile) -> None:
    # estimate 1000, 90 % interval 750–1250: half-width 250, U = 25 %
    vm = apply_rule("vm0033", estimate=1000.0, lower=750.0, upper=1250.0, profile=vm0033)
    # VM0033: 1000 × (1 − (0.25 − 0.20)) = 950, deduction 50
    assert vm.adjusted == pytest.approx(950.0)
    assert vm.deduction == pytest.approx(50.0)
    assert vm.relative_half_width == pytest.approx(0.25)
    assert vm.applied  # the vm0033 profile applies vm0033
    assert "exceeds the allowable 20%" in vm.explanation
    assert vm.explanation.endswith("→ adjusted 950.00 t CO2e/yr.")  # the chain's net is per year
    ar = apply_rule("ar-tool14", estimate=1000.0, lower=750.0, upper=1250.0, profile=vm0033)
    # AR-Tool14: U 25 % → DF 75 %: 1000 − 0.75 × 250 = 812.5
    assert ar.adjusted == pytest.approx(812.5)
    assert not ar.applied
    lb = apply_rule("lower-bound", estimate=1000.0, lower=750.0, upper=1250.0, profile=vm0033)
    # no draws, 90 % interval: P5 is its lower end, 750
    assert lb.adjusted == pytest.approx(750.0)
    assert lb.deduction == pytest.approx(250.0)


def test_apply_rule_lower_bound_uses_draws(vm0033: MethodologyProfile) -> None:
    draws = np.arange(1.0, 102.0)  # P5 = 6 (see test_lower_bound_percentile_by_hand)
    result = apply_rule(
        "lower-bound", estimate=51.0, lower=6.0, upper=96.0, draws=draws, profile=vm0033
    )
    assert result.adjusted == pytest.approx(6.0)
    assert "101 Monte Carlo draws" in result.explanation


def test_apply_rule_caps_a_percentile_above_the_estimate(vm0033: MethodologyProfile) -> None:
    # P5 of draws all at 120 is 120, above the estimate 100: credited at most 100
    result = apply_rule(
        "lower-bound",
        estimate=100.0,
        lower=50.0,
        upper=150.0,
        draws=np.full(10, 120.0),
        profile=vm0033,
    )
    assert result.adjusted == pytest.approx(100.0)
    assert result.deduction == 0.0
    assert "capped" in result.explanation


def test_lower_bound_without_draws_needs_matching_interval(vm0033: MethodologyProfile) -> None:
    at_95 = MethodologyProfile.model_validate({**vm0033.model_dump(), "confidence": 0.95})
    # a 95 % interval's lower end is P2.5, not the P5 the rule credits
    with pytest.raises(InputError, match="draws"):
        apply_rule("lower-bound", estimate=100.0, lower=60.0, upper=140.0, profile=at_95)


def test_negative_net_earns_nothing_under_any_rule(vm0033: MethodologyProfile) -> None:
    # net −200 (a source), 90 % interval −300 to −100: half-width 100, U = 50 %
    results = {
        r.rule: r for r in all_rules(estimate=-200.0, lower=-300.0, upper=-100.0, profile=vm0033)
    }
    # VM0033: −200 × (1 − 0.3) = −140 would shrink the emission → min(−200, −140) = −200
    assert results["vm0033"].adjusted == pytest.approx(-200.0)
    # AR-Tool14: DF 100 % → −200 − 100 = −300
    assert results["ar-tool14"].adjusted == pytest.approx(-300.0)
    # lower bound: the interval's lower end, −300
    assert results["lower-bound"].adjusted == pytest.approx(-300.0)
    for result in results.values():
        assert result.adjusted <= result.estimate
        assert result.deduction >= 0.0
        assert "source" in result.explanation


def test_zero_estimate(vm0033: MethodologyProfile) -> None:
    # 0 with an interval −10..10: U infinite; VM0033 keeps 0; AR-Tool14 DF 1 → −10
    vm, ar, _ = all_rules(estimate=0.0, lower=-10.0, upper=10.0, profile=vm0033)
    assert math.isinf(vm.relative_half_width)
    assert vm.adjusted == 0.0
    assert ar.adjusted == pytest.approx(-10.0)


def test_all_rules_marks_the_profile_rule() -> None:
    for name in ("vm0033", "ar-tool14", "lower-bound", "local-voluntary"):
        profile = load_profile(name)
        results = all_rules(estimate=1000.0, lower=880.0, upper=1120.0, profile=profile)
        assert [r.rule for r in results] == list(UNCERTAINTY_RULES)
        assert [r.rule for r in results if r.applied] == [profile.uncertainty_rule]


def test_unknown_rule(vm0033: MethodologyProfile) -> None:
    with pytest.raises(InputError, match="unknown uncertainty rule"):
        apply_rule(
            "vcs",  # type: ignore[arg-type]
            estimate=1.0,
            lower=0.0,
            upper=2.0,
            profile=vm0033,
        )


def test_a_deduction_of_the_whole_net_says_why(vm0033: MethodologyProfile) -> None:
    # Estimate 100, interval −30 to 230: half-width 130, U = 130 %; the factor
    # 1 − (1.30 − 0.20) = −0.10 is floored at 0: adjusted 0, and the sentence says so.
    vm = apply_rule("vm0033", estimate=100.0, lower=-30.0, upper=230.0, profile=vm0033)
    assert vm.adjusted == 0.0 and vm.deduction == pytest.approx(100.0)
    assert "× 0.0000 — U ≥ 20% + 100 points = 120%, so the factor" in vm.explanation
    assert "nothing is credited" in vm.explanation
    # Just under that, the factor is positive and no such sentence is added: U = 110 %
    # (interval −10 to 210) gives 1 − (1.10 − 0.20) = 0.10, adjusted 10.
    some = apply_rule("vm0033", estimate=100.0, lower=-10.0, upper=210.0, profile=vm0033)
    assert some.adjusted == pytest.approx(10.0) and "nothing is credited" not in some.explanation
    # A source gains nothing from a narrower interval: no such sentence either.
    source = apply_rule("vm0033", estimate=-100.0, lower=-400.0, upper=200.0, profile=vm0033)
    assert "nothing is credited until" not in source.explanation
    assert "the net is a source" in source.explanation


def test_the_explanation_is_written_in_the_active_language_with_the_same_numbers() -> None:
    # Net 100, 90 % interval 10–190: U = 90 / 100 = 90 % > 20 %, factor 1 − (0.90 − 0.20)
    # = 0.3000, adjusted 30.00. In Chinese the sentence is the catalog's, the numbers alike.
    from carbonsink import i18n

    profile = load_profile("vm0033")
    kwargs = {"estimate": 100.0, "lower": 10.0, "upper": 190.0, "units": "t CO2e/yr"}
    english = apply_rule("vm0033", profile=profile, **kwargs).explanation
    with i18n.language("zh-CN"):
        chinese = apply_rule("vm0033", profile=profile, **kwargs).explanation
    assert english == (
        "vm0033: U = 90.0% at 90% exceeds the allowable 20%: Net × (1 − (90.0% − 20%)) "
        "= 100.00 × 0.3000 → adjusted 30.00 t CO2e/yr."
    )
    catalog = i18n.translations("zh-CN")
    adjusted = catalog.gettext("{rule}: {detail} → adjusted {adjusted} {units}.")
    assert chinese.endswith(adjusted.split("{units}")[-1])  # the catalog's sentence end
    assert chinese != english
    for number in ("90.0%", "20%", "100.00", "0.3000", "30.00 t CO2e/yr"):
        assert number in chinese
    assert "exceeds" not in chinese and "adjusted" not in chinese
