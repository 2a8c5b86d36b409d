"""Tests of carbonsink.soil.detectability: the MDD against a printed t table."""

from __future__ import annotations

import math

import pytest

from carbonsink.errors import InputError
from carbonsink.soil.detectability import check_detectable, minimum_detectable_difference


def test_minimum_detectable_difference_against_t_table() -> None:
    # s = 10 Mg C/ha, n = 10 cores per epoch: √(2 s²/n) = √20 = 4.47214.
    # Default ν = 2(n − 1) = 18: t_{0.975,18} = 2.101 (standard t table) → 9.396.
    assert minimum_detectable_difference(10.0, 10) == pytest.approx(2.101 * math.sqrt(20), rel=5e-4)
    # ν = n − 1 = 9: t_{0.975,9} = 2.262 → 10.116.
    assert minimum_detectable_difference(10.0, 10, df=9) == pytest.approx(
        2.262 * math.sqrt(20), rel=5e-4
    )
    # One-sided, ν = 18: t_{0.95,18} = 1.734 → 7.755.
    one_sided = minimum_detectable_difference(10.0, 10, two_sided=False)
    assert one_sided == pytest.approx(1.734 * math.sqrt(20), rel=5e-4)
    with pytest.raises(InputError, match="n=1"):
        minimum_detectable_difference(10.0, 1)
    with pytest.raises(InputError, match="standard deviation"):
        minimum_detectable_difference(-1.0, 10)


def test_check_detectable_flag_and_warning() -> None:
    # MDD = 2.101 × √20 = 9.40 (above): 5 is below it, −12 is not (the size counts).
    low = check_detectable(5.0, 10.0, 10)
    assert not low.detectable
    assert low.warning is not None
    assert low.warning.startswith(
        "ΔSOC 5.00 Mg C/ha is below the minimum detectable difference 9.40 Mg C/ha (10 cores"
    )
    high = check_detectable(-12.0, 10.0, 10)
    assert high.detectable
    assert high.warning is None
    assert high.mdd == pytest.approx(low.mdd)
