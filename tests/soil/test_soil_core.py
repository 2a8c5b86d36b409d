"""Tests of carbonsink.soil.soil_core: every expected value is worked by hand in a comment.

Units: M = BD [g/cm³] × d [cm] × (1 − CF) × 100 → Mg soil/ha;
S = OC [%] × BD × d × (1 − CF) → Mg C/ha (docs/methodology.md §3).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonsink.errors import InputError
from carbonsink.soil.soil_core import SoilCore, cumulative_mass_carbon, esm_soc


def test_cumulative_mass_carbon_by_hand() -> None:
    # METHODOLOGY check: 1.5 % × 1.2 g/cm³ × 30 cm = 54 Mg C/ha; M = 1.2 × 30 × 100 = 3600.
    # 0–10 cm: M = 1.2 × 10 × 100 = 1200, S = 1.5 × 1.2 × 10 = 18.
    mass, soc = cumulative_mass_carbon([0, 10], [10, 30], [1.2, 1.2], [1.5, 1.5])
    np.testing.assert_allclose(mass, [0.0, 1200.0, 3600.0])
    np.testing.assert_allclose(soc, [0.0, 18.0, 54.0])


def test_cumulative_mass_carbon_coarse_fraction_and_order() -> None:
    # Layers given deepest first. 0–10: BD 1.0, CF 0.2 → M = 1.0 × 10 × 0.8 × 100 = 800,
    # S = 2 × 1.0 × 10 × 0.8 = 16. 10–20: BD 1.5, CF 0 → M = 1500, S = 1 × 1.5 × 10 = 15.
    top = np.array([10.0, 0.0])
    before = top.copy()
    mass, soc = cumulative_mass_carbon(top, [20, 10], [1.5, 1.0], [1.0, 2.0], [0.0, 0.2])
    np.testing.assert_allclose(mass, [0.0, 800.0, 2300.0])
    np.testing.assert_allclose(soc, [0.0, 16.0, 31.0])
    np.testing.assert_array_equal(top, before)  # input not mutated


def test_esm_soc_is_pchip_not_linear() -> None:
    # Knots (M, S): (0, 0), (1000, 20), (2000, 30) from 0–10 cm OC 2 % and 10–20 cm OC 1 %
    # (BD 1). Secant slopes δ0 = 0.02, δ1 = 0.01 (Mg C per Mg soil), h = 1000.
    # Fritsch–Carlson/PCHIP slopes (Moler, Numerical Computing with MATLAB §3.4):
    #   interior d1 = 2 / (1/δ0 + 1/δ1) = 2 / 150 = 0.013333 (equal spacing),
    #   end d0 = ((2h + h) δ0 − h δ1) / (2h) = (0.06 − 0.01) / 2 = 0.025.
    # Hermite at t = 0.5: h00 = h01 = 0.5, h10 = 0.125, h11 = −0.125:
    #   S = 0.5·0 + 0.125·1000·0.025 + 0.5·20 − 0.125·1000·0.013333 = 3.125 + 10 − 1.6667
    #     = 11.4583 (a linear interpolation would give 10).
    result = esm_soc([0, 10], [10, 20], [1, 1], [2, 1], reference_mass_mg_ha=500.0)
    assert result.soc_mg_ha == pytest.approx(11.458333, rel=1e-6)
    assert not result.extrapolated
    # At a knot the interpolant is exact: S(2000) = 30, S(0) = 0.
    at_bottom = esm_soc([0, 10], [10, 20], [1, 1], [2, 1], reference_mass_mg_ha=2000.0)
    assert at_bottom.soc_mg_ha == pytest.approx(30.0)
    assert esm_soc([0], [10], [1], [2], reference_mass_mg_ha=0.0).soc_mg_ha == 0.0


def test_esm_soc_beyond_core_mass_errors_or_is_flagged() -> None:
    # One layer 0–10 cm, BD 1, OC 2 %: M = 1000, S = 20. M_ref = 1500 is beyond the core.
    with pytest.raises(InputError, match=r"core 'K7'.*exceeds the core's total mass 1000\.0"):
        esm_soc([0], [10], [1], [2], reference_mass_mg_ha=1500.0, core_id="K7")
    # Allowed: deepest layer continues at 2 %: S = 20 + 0.02 × 500 = 30, flagged.
    result = esm_soc(
        [0], [10], [1], [2], reference_mass_mg_ha=1500.0, core_id="K7", allow_extrapolation=True
    )
    assert result.soc_mg_ha == pytest.approx(30.0)
    assert result.extrapolated


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (([5, 10], [10, 20], [1, 1], [2, 2]), "starts at 5 cm"),
        (([0, 12], [10, 20], [1, 1], [2, 2]), r"not contiguous \(10 cm then 12 cm\)"),
        (([0, 5], [10, 20], [1, 1], [2, 2]), "not contiguous"),
        (([0, 10], [10, 20], [1, 0], [2, 2]), "bulk_density_g_cm3 ≤ 0"),
        (([0, 10], [10, 20], [1, 1], [2, -1]), "oc_pct < 0"),
        (([0, 10], [10, 20], [1, 1], [2, np.nan]), "oc_pct has missing"),
        (([0, 10], [10, 20], [1, 1], [2]), "equal length"),
    ],
)
def test_bad_layers_name_the_core(arrays: tuple[list[float], ...], message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        cumulative_mass_carbon(*arrays, core_id="JS-12")
    assert "core 'JS-12'" in str(info.value)
    assert info.value.problem.fix


def test_coarse_fraction_of_one_is_rejected() -> None:
    with pytest.raises(InputError, match=r"core 'Q'.*coarse_frac outside \[0, 1\)"):
        SoilCore("Q", np.array([0.0]), np.array([10.0]), np.ones(1), np.ones(1), np.ones(1))


layer_strategy = st.lists(
    st.tuples(
        st.floats(1.0, 30.0),  # thickness, cm
        st.floats(0.1, 2.0),  # bulk density, g/cm³
        st.floats(0.0, 40.0),  # OC, %
        st.floats(0.0, 0.9),  # coarse fraction
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(layer_strategy)
def test_esm_soc_is_monotone_and_passes_through_knots(
    layers: list[tuple[float, float, float, float]],
) -> None:
    thickness, bd, oc, cf = (np.array(v) for v in zip(*layers, strict=True))
    bottom = np.cumsum(thickness)
    top = bottom - thickness
    top[1:] = bottom[:-1]  # exactly contiguous
    mass, soc = cumulative_mass_carbon(top, bottom, bd, oc, cf)
    grid = np.unique(np.concatenate([np.linspace(0.0, mass[-1], 40), mass[1:-1]]))
    values = np.array(
        [esm_soc(top, bottom, bd, oc, cf, reference_mass_mg_ha=m).soc_mg_ha for m in grid]
    )
    assert (np.diff(values) >= -1e-9 * max(1.0, soc[-1])).all()
    knots = np.array(
        [esm_soc(top, bottom, bd, oc, cf, reference_mass_mg_ha=m).soc_mg_ha for m in mass]
    )
    np.testing.assert_allclose(knots, soc, rtol=1e-9, atol=1e-9)
