"""Three real Coastal Carbon Network studies as delivered (../shared/data/soil).

With the defaults a study with gaps stops with every problem listed; with
``bulk_density_gaps = "pedotransfer"`` and ``incomplete_cores = "exclude"``
all three give stocks, and cores that need no gap-filling give the hand sums.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carbonsink.errors import InputError
from carbonsink.io.ccn import read_ccn_cores
from carbonsink.io.soil_sheets import usable_layers
from carbonsink.soil.core_stocks import core_stocks
from carbonsink.soil.layer_gaps import fill_bulk_densities

GAPS = {"bulk_density_gaps": "pedotransfer", "incomplete_cores": "exclude"}


def test_snedden_needs_no_gap_filling_and_gives_the_hand_sums(shared_data: Path) -> None:
    table = read_ccn_cores(shared_data / "soil" / "ccn_snedden_2018")
    plain = core_stocks(table, depths_cm=(10, 30))
    gapped = core_stocks(table, depths_cm=(10, 30), **GAPS)
    assert len(plain) == 25
    columns = [c for c in plain.columns if c.startswith(("soc_", "mass_"))]
    assert np.array_equal(plain[columns].to_numpy(), gapped[columns].to_numpy())
    assert gapped[["replicate_layers", "bd_filled_layers", "dropped_layers"]].eq(0).all().all()
    assert gapped.attrs["excluded_cores"] == []
    # 0–10 cm = Σ fraction_carbon × 100 × dry_bulk_density × 2 cm over the first
    # five intervals (depthseries file, lines of each core):
    # 171_1: 4.631×0.32×2 + 4.715×0.40×2 + 3.336×0.42×2 + 3.270×0.47×2 + 2.446×0.54×2
    #      = 2.96384 + 3.77200 + 2.80224 + 3.07380 + 2.64168 = 15.25356 Mg C/ha
    # 172_1: 7.188×0.15×2 + 6.971×0.22×2 + 6.404×0.28×2 + 8.290×0.25×2 + 5.672×0.29×2
    #      = 2.15640 + 3.06724 + 3.58624 + 4.14500 + 3.28976 = 16.24464 Mg C/ha
    assert gapped.loc["171_1", "soc_0_10_mg_ha"] == pytest.approx(15.25356, rel=1e-9)
    assert gapped.loc["172_1", "soc_0_10_mg_ha"] == pytest.approx(16.24464, rel=1e-9)


def test_drexler_stops_with_every_problem_then_gives_stocks(shared_data: Path) -> None:
    table = read_ccn_cores(shared_data / "soil" / "ccn_drexler_2009")
    assert len(table) == 1027
    with pytest.raises(InputError) as caught:
        core_stocks(table, depths_cm=(30, 100), om_to_oc="van-bemmelen")
    text = str(caught.value)
    # Per core (BACHI, FW, TT): blank bulk densities, rows without carbon, and
    # intervals that overlap without being replicates (split ¹⁴C rows are merged).
    for core in ("BACHI", "FW", "TT"):
        assert f"core {core!r}: bulk_density_g_cm3 is empty" in text
        assert f"core {core!r}: no value in any of soc_pct, om_pct" in text
        assert f"core {core!r} has overlapping layers" in text
    assert "9 problem(s)" in text

    stocks = core_stocks(table, depths_cm=(30, 100), om_to_oc="van-bemmelen", **GAPS)
    assert sorted(stocks.index) == ["BACHI", "FW", "TT"]
    assert np.isfinite(stocks[["soc_0_30_mg_ha", "soc_0_100_mg_ha"]].to_numpy()).all()
    gaps = stocks.attrs["layer_gaps"]
    # Counted from the file independently: intervals (core, depth_min, depth_max)
    # given on several rows, and intervals where no row has organic matter.
    raw = pd.read_csv(next((shared_data / "soil" / "ccn_drexler_2009").glob("*_depthseries.csv")))
    intervals = raw.groupby(["core_id", "depth_min", "depth_max"])
    assert gaps["replicate_layers"] == int((intervals.size() > 1).sum())
    no_carbon = int((intervals["fraction_organic_matter"].count() == 0).sum())
    assert len(gaps["dropped"]) == int(stocks["dropped_layers"].sum()) == no_carbon
    assert gaps["bd_filled_layers"] == int(stocks["bd_filled_layers"].sum()) > 0
    # Peat: the layers do not reach the mineral end, so k1 is fitted and k2 is
    # Morris et al.'s.
    assert "k1 fitted, k2 of Morris et al. (2016)" in gaps["bulk_density_model"]

    filled = fill_bulk_densities(usable_layers(table, **GAPS))
    assert filled.model is not None and filled.model.fitted == "organic"
    rows = filled.layers.loc[list(filled.filled_lines)]
    om = rows["om_pct"].to_numpy(dtype=float) / 100.0
    model = filled.model
    k1, k2 = model.k_organic_g_cm3, model.k_mineral_g_cm3
    # Each filled bulk density is the lognormal mean of the curve's median
    # 1 / (f/k1 + (1 − f)/k2): median × exp(v/2), v = s² + g'Σg, with an SE > 0.
    median = 1.0 / (om / k1 + (1.0 - om) / k2)
    g = np.stack([om / k1, (1.0 - om) / k2], axis=1) * median[:, None]
    v = model.residual_sd_log**2 + np.einsum("ij,jk,ik->i", g, model.covariance_log, g)
    expected = median * np.exp(v / 2.0)
    assert rows["bulk_density_g_cm3"].to_numpy(dtype=float) == pytest.approx(expected)
    assert (rows["bulk_density_se_g_cm3"].to_numpy(dtype=float) > 0).all()


def test_costa_mixed_methods_and_representative_depths(shared_data: Path) -> None:
    folder = shared_data / "soil" / "ccn_costa_2023"
    measured = read_ccn_cores(folder)
    # method_id methods1/methods3 are EA (-> CHN); methods2 rows give LOI only.
    assert measured.loc[12, "method"] == "CHN"
    assert measured.loc[313, "method"] == "loi"
    assert measured["method"].value_counts().to_dict() == {"CHN": 405, "loi": 179}

    table = read_ccn_cores(folder, depths="representative")
    # Lines 12–14: three 2 cm slices of core Galapagos-Norte (N)-I-1 (0–2, 9–11,
    # 18–20 cm) stand for 0–20 cm.
    slices = table.loc[[12, 13, 14], ["depth_top_cm", "depth_bottom_cm"]]
    assert slices.drop_duplicates().to_numpy().tolist() == [[0.0, 20.0]]
    stocks = core_stocks(table, depths_cm=(20,), om_to_oc="van-bemmelen", **GAPS)
    assert len(stocks) == 145
    core = stocks.loc["Galapagos-Norte (N)-I-1"]
    assert core["replicate_layers"] == 1 and core["n_layers"] == 1
    # Means: OC (27.3804 + 22.8287 + 26.0173)/3 = 25.40880 %;
    # BD (0.031495 + 0.354645 + 0.374028)/3 = 0.2533893 g/cm³;
    # stock 0–20 = 25.40880 × 0.2533893 × 20 = 128.7664 Mg C/ha.
    oc = np.array([27.3804, 22.8287, 26.0173])
    bd = np.array([0.031495, 0.354645, 0.374028])
    assert core["soc_0_20_mg_ha"] == pytest.approx(oc.mean() * bd.mean() * 20.0, rel=1e-5)
    assert core["soc_0_20_mg_ha"] == pytest.approx(128.7664, rel=1e-5)
    # Their spread is the measurement error: SE = 20 × √(BD̄² SE(OC)² + OC̄² SE(BD)²).
    se_oc, se_bd = oc.std(ddof=1) / math.sqrt(3), bd.std(ddof=1) / math.sqrt(3)
    expected_se = 20.0 * math.hypot(bd.mean() * se_oc, oc.mean() * se_bd)
    assert core["soc_0_20_se_mg_ha"] == pytest.approx(expected_se, rel=1e-5)


def test_a_study_without_representative_depths_says_so(shared_data: Path) -> None:
    with pytest.raises(InputError, match="representative_depth_min"):
        read_ccn_cores(shared_data / "soil" / "ccn_snedden_2018", depths="representative")
