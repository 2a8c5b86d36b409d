"""Tests of carbonsink.soil.esm: every expected value is worked by hand in a comment.

Units: M = BD [g/cm³] × d [cm] × (1 − CF) × 100 → Mg soil/ha;
S = OC [%] × BD × d × (1 − CF) → Mg C/ha (docs/methodology.md §3).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from carbonsink.errors import InputError
from carbonsink.soil.esm import esm_change, esm_change_table
from carbonsink.soil.soil_core import SoilCore


def core(core_id: str, layers: list[tuple[float, float, float, float]]) -> SoilCore:
    """A core from (top, bottom, BD, OC%) tuples."""
    top, bottom, bd, oc = (np.array(v, dtype=float) for v in zip(*layers, strict=True))
    return SoilCore(core_id, top, bottom, bd, oc)


# Epoch 1: a uniform profile, BD 1.0, OC 2 %. Every 10 cm holds 1.0 × 10 × 100 =
# 1000 Mg soil and 2 × 1.0 × 10 = 20 Mg C; M(30) = 3000, S(30) = 60.
UNIFORM_T1 = [(0, 10, 1.0, 2.0), (10, 20, 1.0, 2.0), (20, 30, 1.0, 2.0), (30, 50, 1.0, 2.0)]
# Epoch 2 after deposition of 5 cm of loose (BD 0.6), carbon-rich (OC 4 %) sediment on
# the unchanged old soil: 0–5 cm holds 0.6 × 5 × 100 = 300 Mg soil, 4 × 0.6 × 5 = 12 Mg C;
# the old soil now starts at 5 cm. M(30) = 300 + 2500 = 2800, S(30) = 12 + 2 × 25 = 62.
DEPOSITED_T2 = [(0, 5, 0.6, 4.0), (5, 30, 1.0, 2.0), (30, 45, 1.0, 2.0)]
# Epoch 2 after compaction of the same soil (BD 1.0 → 1.25, OC unchanged):
# every 10 cm holds 1250 Mg soil and 25 Mg C; M(30) = 3750, S(30) = 75.
COMPACTED_T2 = [(0, 10, 1.25, 2.0), (10, 20, 1.25, 2.0), (20, 30, 1.25, 2.0), (30, 50, 1.25, 2.0)]


def test_deposition_fixed_depth_is_biased_esm_recovers_hand_value() -> None:
    # Fixed depth: S2(30) − S1(30) = 62 − 60 = +2.
    # ESM: M_ref = min(3000, 2800) = 2800. S1(2800) = 0.02 × 2800 = 56 (uniform profile, so
    # S is linear in M and PCHIP reproduces it); S2(2800) = 62 (a layer boundary).
    # ΔSOC_ESM = 62 − 56 = +6 = the carbon in the top 2800 Mg of soil at t2 (300 Mg at 4 %
    # = 12, 2500 Mg at 2 % = 50) minus that at t1 (2800 Mg at 2 % = 56). Fixed depth loses
    # 5 cm (500 Mg, 10 Mg C) of old soil below 30 cm and misses 4 of the 6 Mg C.
    change = esm_change(core("A", UNIFORM_T1), core("B", DEPOSITED_T2))
    assert change.reference_mass_mg_ha == pytest.approx(2800.0)
    assert change.soc_t1_esm_mg_ha == pytest.approx(56.0)
    assert change.soc_t2_esm_mg_ha == pytest.approx(62.0)
    assert change.delta_soc_esm_mg_ha == pytest.approx(6.0)
    assert change.delta_soc_fixed_mg_ha == pytest.approx(2.0)
    assert (change.core_id_t1, change.core_id_t2, change.extrapolated) == ("A", "B", False)


def test_compaction_fixed_depth_gains_esm_sees_none() -> None:
    # Fixed depth: 75 − 60 = +15 (spurious: the same soil, packed tighter).
    # ESM: M_ref = min(3000, 3750) = 3000; S1(3000) = 60; S2(3000) = 0.02 × 3000 = 60 → 0.
    change = esm_change(core("A", UNIFORM_T1), core("C", COMPACTED_T2))
    assert change.delta_soc_fixed_mg_ha == pytest.approx(15.0)
    assert change.reference_mass_mg_ha == pytest.approx(3000.0)
    assert change.delta_soc_esm_mg_ha == pytest.approx(0.0, abs=1e-9)


def test_esm_change_explicit_reference_mass_and_shallow_core() -> None:
    # M_ref = 4500 is beyond core B (total 300 + 2500 + 1500 = 4300 Mg).
    with pytest.raises(InputError, match="core 'B'"):
        esm_change(core("A", UNIFORM_T1), core("B", DEPOSITED_T2), reference_mass_mg_ha=4500.0)
    # Allowed: S2 = 12 + 50 + 30 + 0.02 × 200 = 96, S1(4500) = 0.02 × 4500 = 90 → +6.
    change = esm_change(
        core("A", UNIFORM_T1),
        core("B", DEPOSITED_T2),
        reference_mass_mg_ha=4500.0,
        allow_extrapolation=True,
    )
    assert change.delta_soc_esm_mg_ha == pytest.approx(6.0)
    assert change.extrapolated
    with pytest.raises(InputError, match=r"core 'B'.*reaches 45 cm, not the reference depth 48"):
        esm_change(core("A", UNIFORM_T1), core("B", DEPOSITED_T2), reference_depth_cm=48.0)


def layer_table(
    cores: dict[str, list[tuple[float, float, float, float]]], **extra: object
) -> pd.DataFrame:
    rows = [
        {
            "core_id": cid,
            "depth_top_cm": a,
            "depth_bottom_cm": b,
            "bulk_density_g_cm3": bd,
            "oc_pct": oc,
        }
        for cid, layers in cores.items()
        for a, b, bd, oc in layers
    ]
    frame = pd.DataFrame(rows)
    for name, per_core in extra.items():
        assert isinstance(per_core, dict)
        frame[name] = frame["core_id"].map(per_core)
    return frame


# Site S3: same soil mass, OC 2 → 2.5 %: S(30) = 60 → 2.5 × 30 = 75, Δ = +15 either way.
ENRICHED_T2 = [(0, 30, 1.0, 2.5), (30, 50, 1.0, 2.5)]


def test_esm_change_table_on_site_column() -> None:
    t1 = layer_table(
        {"a1": UNIFORM_T1, "a2": UNIFORM_T1, "a3": UNIFORM_T1, "a4": UNIFORM_T1},
        site_id={"a1": "S1", "a2": "S2", "a3": "S3", "a4": "S9"},
    )
    t2 = layer_table(
        {"b1": DEPOSITED_T2, "b2": COMPACTED_T2, "b3": ENRICHED_T2},
        site_id={"b1": "S1", "b2": "S2", "b3": "S3"},
    )
    t1_before = t1.copy()
    result = esm_change_table(t1, t2, pair_on="site_id")
    pd.testing.assert_frame_equal(t1, t1_before)  # input not mutated
    # Per site ΔESM = +6 (deposition), 0 (compaction), +15 (enrichment): mean 7;
    # deviations −1, −7, 8 → Σ² = 114, var = 57, SE = √(57/3) = √19 = 4.3589.
    # ΔFixed = +2, +15, +15: mean 32/3 = 10.667; deviations −26/3, 13/3, 13/3 →
    # Σ² = (676 + 169 + 169)/9 = 112.667, var = 56.333, SE = √(56.333/3) = 13/3 = 4.3333.
    assert result.n_pairs == 3
    assert list(result.pairs["core_id_t2"]) == ["b1", "b2", "b3"]
    np.testing.assert_allclose(result.pairs["delta_soc_esm_mg_ha"], [6.0, 0.0, 15.0], atol=1e-9)
    assert result.mean_delta_soc_esm_mg_ha == pytest.approx(7.0)
    assert result.se_delta_soc_esm_mg_ha == pytest.approx(math.sqrt(19.0))
    assert result.mean_delta_soc_fixed_mg_ha == pytest.approx(32.0 / 3.0)
    assert result.se_delta_soc_fixed_mg_ha == pytest.approx(13.0 / 3.0)
    assert result.unpaired_t1 == ("a4",)
    assert result.unpaired_t2 == ()


def test_esm_change_table_mapping_and_nearest() -> None:
    t1 = layer_table(
        {"A": UNIFORM_T1, "B": UNIFORM_T1}, x={"A": 0.0, "B": 30.0}, y={"A": 0.0, "B": 0.0}
    )
    t2 = layer_table(
        {"X": DEPOSITED_T2, "Z": COMPACTED_T2}, x={"X": 20.0, "Z": 1000.0}, y={"X": 0.0, "Z": 0.0}
    )
    mapped = esm_change_table(t1, t2, pair_on={"A": "Z"})
    assert mapped.pairs["delta_soc_esm_mg_ha"].iloc[0] == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(mapped.se_delta_soc_esm_mg_ha)  # one pair: no SE
    # Nearest within 50 m: B–X at 10 m beats A–X at 20 m (one to one, closest first);
    # Z is 970 m from B, too far. So B pairs with X (Δ = +6, deposition) and A is left.
    nearest = esm_change_table(t1, t2, pair_on="nearest", max_distance=50.0)
    assert list(nearest.pairs[["core_id_t1", "core_id_t2"]].itertuples(index=False, name=None)) == [
        ("B", "X")
    ]
    assert nearest.pairs["distance"].iloc[0] == pytest.approx(10.0)
    assert nearest.mean_delta_soc_esm_mg_ha == pytest.approx(6.0)
    assert (nearest.unpaired_t1, nearest.unpaired_t2) == (("A",), ("Z",))


def test_esm_change_table_errors() -> None:
    t1 = layer_table({"A": UNIFORM_T1}, site_id={"A": "S1"})
    t2 = layer_table({"X": DEPOSITED_T2, "Y": DEPOSITED_T2}, site_id={"X": "S1", "Y": "S1"})
    with pytest.raises(InputError, match=r"site_id 'S1' has several cores \(X, Y\)"):
        esm_change_table(t1, t2)
    with pytest.raises(InputError, match="not in the t2 table: W"):
        esm_change_table(t1, t2, pair_on={"A": "W"})
    with pytest.raises(InputError, match="needs max_distance"):
        esm_change_table(t1, t2, pair_on="nearest")
    with pytest.raises(InputError, match="no pairing column 'plot'"):
        esm_change_table(t1, t2, pair_on="plot")
    with pytest.raises(InputError, match=r"lacks column.*oc_pct"):
        esm_change_table(t1.drop(columns="oc_pct"), t2)
    bad = t2.astype({"bulk_density_g_cm3": object})
    bad.loc[bad["core_id"] == "Y", "bulk_density_g_cm3"] = "n/a"
    with pytest.raises(InputError, match=r"t2 layers, core 'Y'.*bulk_density_g_cm3 has missing"):
        esm_change_table(t1, bad, pair_on={"A": "X"})


def test_sample_survey_change_is_near_the_synthetic_truth(sample_survey: Path) -> None:
    # The committed synthetic survey: 40 cores per epoch at different places; pair each
    # 2020 core with the nearest 2025 core within 100 m (x/y in UTM 49N). 2020 reports
    # soc_pct (CHN); 2025 reports 有机质 om_g_kg, OC % = om_g_kg / 10 / 1.724 (METHODOLOGY §3).
    folder = sample_survey.parent
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    tables = []
    for name, carbon in (("soil_2020.csv", "soc_pct"), ("soil_2025.csv", "om_g_kg")):
        layers = pd.read_csv(folder / name)
        scale = 1.0 if carbon == "soc_pct" else 1.0 / 10.0 / 1.724
        layers["oc_pct"] = layers[carbon] * scale
        layers["x"], layers["y"] = to_utm.transform(
            layers["lon"].to_numpy(), layers["lat"].to_numpy()
        )
        tables.append(layers)
    result = esm_change_table(*tables, pair_on="nearest", max_distance=100.0)
    # Truth: area-mean change of the 0–30 cm stock = Δ total / area (truth/totals.json).
    totals = json.loads((folder / "truth" / "totals.json").read_text())["epochs"]
    true_change = (
        totals["2025"]["stocks_t_c"]["soc_0_30"] - totals["2020"]["stocks_t_c"]["soc_0_30"]
    ) / totals["2020"]["area_ha"]["total"]
    assert result.n_pairs >= 20
    # A paired-core mean is a sample estimate: it must lie within 3 SE of the truth.
    for mean, se in (
        (result.mean_delta_soc_esm_mg_ha, result.se_delta_soc_esm_mg_ha),
        (result.mean_delta_soc_fixed_mg_ha, result.se_delta_soc_fixed_mg_ha),
    ):
        assert abs(mean - true_change) < 3.0 * se
