"""Core stocks at equivalent soil mass: hand-computed cases (docs/methodology.md §3.4)."""

from __future__ import annotations

import numpy as np
import pytest

from carbonsink.errors import InputError
from carbonsink.soil.core_stocks import core_stocks
from tests.soil.layers import core_layers


@pytest.mark.parametrize("interpolation", ["spline", "linear"])
def test_compaction_alone_is_no_change_at_equivalent_mass(interpolation: str) -> None:
    # docs/methodology.md §3.4 example: epoch 1, 0–30 cm at BD 1.0, OC 2 %:
    # M = 30 × 1.0 × 100 = 3,000 Mg/ha, S = 2 × 1.0 × 30 = 60 Mg C/ha.
    # Epoch 2 compacted to BD 1.2: fixed 0–30 cm S = 2 × 1.2 × 30 = 72 (+12).
    # At M_ref = 3,000: z* = 3,000 / 120 = 25 cm, S = 2 × 1.2 × 25 = 60 (change 0).
    first = core_stocks(
        core_layers([("A", 0, 40, 2.0, 1.0)]),
        depths_cm=(30,),
        interpolation=interpolation,
        reference_mass_mg_ha={30.0: 3_000.0},
    )
    second = core_stocks(
        core_layers([("B", 0, 40, 2.0, 1.2)]),
        depths_cm=(30,),
        interpolation=interpolation,
        reference_mass_mg_ha={30.0: 3_000.0},
    )
    assert first.loc["A", "mass_0_30_mg_ha"] == pytest.approx(3_000.0, rel=1e-12)
    assert first.loc["A", "esm_0_30_mg_ha"] == pytest.approx(60.0, rel=1e-9)
    assert second.loc["B", "soc_0_30_mg_ha"] == pytest.approx(72.0, rel=1e-12)
    assert second.loc["B", "esm_depth_0_30_cm"] == pytest.approx(25.0, rel=1e-6)
    assert second.loc["B", "esm_0_30_mg_ha"] == pytest.approx(60.0, rel=1e-6)
    assert not second.loc["B", "esm_extrapolated_0_30"]


@pytest.mark.parametrize(
    ("column", "value", "years"), [("accretion_cm", 2.0, 5.0), ("accretion_cm_yr", 0.4, 5.0)]
)
def test_sediment_on_top_extends_the_window_by_its_mass(
    column: str, value: float, years: float | None
) -> None:
    # 2 cm of sediment (BD 0.85, OC 1.2 %) on the old soil (BD 1.0, OC 2 %):
    # accreted mass = 2 × 0.85 × 100 = 170 Mg/ha; target 3,000 + 170 = 3,170
    # → z* = 2 + 3,000 / 100 = 32 cm; S = 1.2 × 0.85 × 2 + 2 × 1.0 × 30
    # = 2.04 + 60 = 62.04 Mg C/ha (the sediment's 2.04 is allochthonous).
    # Fixed depth 0–30: 2.04 + 2 × 28 = 58.04.
    layers = core_layers(
        [("S", 0, 2, 1.2, 0.85), ("S", 2, 50, 2.0, 1.0)], **{column: [value, value]}
    )
    stocks = core_stocks(
        layers,
        depths_cm=(30,),
        interpolation="linear",
        reference_mass_mg_ha={30.0: 3_000.0},
        years_since_first=years,
    )
    row = stocks.loc["S"]
    assert row["accretion_cm"] == pytest.approx(2.0, rel=1e-12)
    assert row["accreted_mass_mg_ha"] == pytest.approx(170.0, rel=1e-12)
    assert row["esm_depth_0_30_cm"] == pytest.approx(32.0, rel=1e-6)
    assert row["esm_0_30_mg_ha"] == pytest.approx(62.04, rel=1e-6)
    assert row["soc_0_30_mg_ha"] == pytest.approx(58.04, rel=1e-12)
    assert row["accreted_soc_mg_ha"] == pytest.approx(2.04, rel=1e-12)
    # As the first survey (nothing deposited since): the target is M_ref alone,
    # z* = 2 + (3,000 − 170) / 100 = 30.3 cm, S = 2.04 + 2 × 28.3 = 58.64.
    first = core_stocks(
        layers, depths_cm=(30,), interpolation="linear", reference_mass_mg_ha={30.0: 3_000.0}
    )
    assert first.loc["S", "esm_0_30_mg_ha"] == pytest.approx(58.64, rel=1e-6)


def test_a_core_without_accretion_takes_the_mean_accreted_mass() -> None:
    # P: 1 cm × 1.0 × 100 = 100 Mg/ha accreted, Q: 3 cm → 300; R: blank → mean 200.
    # R is one layer at BD 1.0, OC 1 %: z* = (1,000 + 200) / 100 = 12 cm, S = 12.
    layers = core_layers(
        [("P", 0, 30, 1.0, 1.0), ("Q", 0, 30, 1.0, 1.0), ("R", 0, 30, 1.0, 1.0)],
        accretion_cm=[1.0, 3.0, None],
    )
    stocks = core_stocks(
        layers,
        depths_cm=(10,),
        interpolation="linear",
        reference_mass_mg_ha={10.0: 1_000.0},
        years_since_first=5.0,
    )
    assert np.isnan(stocks["accretion_cm"].to_numpy(dtype=np.float64)[2])  # R
    assert stocks.loc["R", "esm_depth_0_10_cm"] == pytest.approx(12.0, rel=1e-6)
    assert stocks.loc["R", "esm_0_10_mg_ha"] == pytest.approx(12.0, rel=1e-6)
    assert stocks.loc["Q", "esm_0_10_mg_ha"] == pytest.approx(13.0, rel=1e-6)


def test_reference_mass_below_the_core_is_extrapolated_and_flagged() -> None:
    # One layer 0–30 cm at BD 1.0, OC 2 %, M_ref 3,500: z* = 35 cm below the
    # deepest layer, filled with its density (linear rule): S = 2 × 35 = 70.
    stocks = core_stocks(
        core_layers([("D", 0, 30, 2.0, 1.0)]),
        depths_cm=(30,),
        interpolation="linear",
        reference_mass_mg_ha={30.0: 3_500.0},
    )
    assert stocks.loc["D", "esm_0_30_mg_ha"] == pytest.approx(70.0, rel=1e-6)
    assert stocks.loc["D", "esm_extrapolated_0_30"]


def test_esm_standard_error_propagates_the_layer_error_at_the_equivalent_depth() -> None:
    # OC 2 ± 0.1 %, BD 1.0, M_ref 2,500 → z* = 25 cm; SE = 0.1 × 1.0 × 25 = 2.5.
    stocks = core_stocks(
        core_layers([("E", 0, 30, 2.0, 1.0)], soc_se_pct=[0.1]),
        depths_cm=(30,),
        interpolation="linear",
        reference_mass_mg_ha={30.0: 2_500.0},
    )
    assert stocks.loc["E", "esm_0_30_se_mg_ha"] == pytest.approx(2.5, rel=1e-6)


def test_two_accretion_values_in_one_core_are_refused() -> None:
    layers = core_layers([("F", 0, 10, 1.0, 1.0), ("F", 10, 30, 1.0, 1.0)], accretion_cm=[1.0, 2.0])
    with pytest.raises(InputError, match=r"core 'F' gives 2 different accretion_cm"):
        core_stocks(layers, depths_cm=(30,), reference_mass_mg_ha={30.0: 1_000.0})
