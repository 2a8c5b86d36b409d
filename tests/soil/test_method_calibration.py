"""The lab-method bias measured on samples by both methods (eq. 3.3b), by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from carbonsink.errors import ConfigError, InputError, InputTableError
from carbonsink.schemas import MIN_METHOD_PAIRS
from carbonsink.soil.core_stocks import core_stocks
from carbonsink.soil.method_calibration import calibrate_methods

#: Ten samples at 2.00 % OC by CHN whose dichromate readings differ by 0, 2 or 4 %.
DIFFERENCES = (0.00, 0.02, 0.04, 0.00, 0.02, 0.04, 0.00, 0.02, 0.04, 0.02)


def _pairs(differences: tuple[float, ...] = DIFFERENCES, *, as_om: bool = False) -> pd.DataFrame:
    rows = []
    for i, d in enumerate(differences, start=1):
        rows.append({"sample_id": f"S{i}", "method": "CHN", "soc_pct": 2.0})
        later = 2.0 * (1.0 + d)
        rows.append(
            {"sample_id": f"S{i}", "method": "dichromate"}
            | ({"om_g_kg": later * 17.24} if as_om else {"soc_pct": later})
        )
    frame = pd.DataFrame(rows)
    frame.index = pd.RangeIndex(2, 2 + len(frame), name="line")  # line 1 is the header
    return frame


def test_the_bias_and_its_sd_by_hand() -> None:
    # d = 0, 2, 4 % three times and 2 % once: d̄ = 0.20 / 10 = 0.02; the deviations −2, 0,
    # +2 % three times and 0 give s_d² = 3 × 0.0008 / 9 = 2.6667e-4.
    # v = s_d² / N × (N − 1)/(N − 3) = 2.6667e-5 × 9/7 = 3.4286e-5, 1/v = 29,166.67;
    # prior σ_m = 2 %: 1/σ_m² = 2,500. 1/σ_N² = 31,666.67 → σ_N = 0.0056195;
    # b̂ = σ_N² d̄ / v = 0.02 × 29,166.67 / 31,666.67 = 0.02 × 35/38 = 0.0184211.
    found = calibrate_methods(_pairs(), reference="CHN", prior_sd=0.02, path="pairs.csv")
    assert (found.reference, found.method, found.pairs) == ("chn", "dichromate", 10)
    assert found.mean_difference == pytest.approx(0.02, rel=1e-12)
    assert found.sd_difference == pytest.approx(math.sqrt(0.0024 / 9), rel=1e-9)
    assert found.bias == pytest.approx(0.02 * 35 / 38, rel=1e-9)
    assert found.bias_sd == pytest.approx(1 / math.sqrt(31_666.666_667), rel=1e-9)
    assert found.factor == pytest.approx(1 / (1 + 0.02 * 35 / 38), rel=1e-12)
    record = found.to_dict()
    assert record["bias_pct"] == pytest.approx(100 * 0.02 * 35 / 38, rel=1e-9)
    assert record["pairs"] == 10 and record["file"] == "pairs.csv"


def test_organic_matter_readings_convert_like_the_cores() -> None:
    # 有机质 g/kg = OC % × 10 × 1.724: the dichromate conversion recovers the same OC.
    by_om = calibrate_methods(
        _pairs(as_om=True), reference="CHN", prior_sd=0.02, om_to_oc="dichromate", path="p"
    )
    assert by_om.bias == pytest.approx(0.02 * 35 / 38, rel=1e-9)


def test_a_wide_prior_leaves_the_samples_own_mean() -> None:
    # σ_m → ∞: b̂ → d̄ and σ_N → √v = √3.4286e-5 = 0.0058554.
    found = calibrate_methods(_pairs(), reference="CHN", prior_sd=10.0, path="p")
    assert found.bias == pytest.approx(0.02, rel=1e-5)
    assert found.bias_sd == pytest.approx(math.sqrt(0.0024 / 9 / 10 * 9 / 7), rel=1e-5)


def test_too_few_samples_and_a_zero_prior_are_refused() -> None:
    few = DIFFERENCES[: MIN_METHOD_PAIRS - 1]
    with pytest.raises(InputError, match="at least 10"):
        calibrate_methods(_pairs(few), reference="CHN", prior_sd=0.02, path="p")
    with pytest.raises(ConfigError, match="method_bias_sd_pct is 0"):
        calibrate_methods(_pairs(), reference="CHN", prior_sd=0.0, path="p")
    with pytest.raises(InputError, match="not by the first epoch's method 'loi'"):
        calibrate_methods(_pairs(), reference="LOI", prior_sd=0.02, path="p")


def test_readings_without_spread_are_refused_as_derived() -> None:
    # Every later reading exactly 3 % above its first (a converted column, not a second
    # lab's measurement): s_d ≈ 0 would make σ_N ≈ 0 and drop the method term.
    derived = _pairs((0.03,) * 10)
    with pytest.raises(InputError, match="look computed from the first, not measured"):
        calibrate_methods(derived, reference="CHN", prior_sd=0.02, path="p")


def test_table_problems_name_their_lines() -> None:
    lonely = _pairs().drop(index=[3])  # S1's dichromate row
    with pytest.raises(InputTableError, match=r"line 2: a sample has no row by the other method"):
        calibrate_methods(lonely, reference="CHN", prior_sd=0.02, path="p")
    twice = _pairs()
    twice.loc[3, "method"] = "CHN"  # S1 twice by CHN, and no dichromate row
    with pytest.raises(InputTableError, match="measured twice by the same method"):
        calibrate_methods(twice, reference="CHN", prior_sd=0.02, path="p")
    three = _pairs()
    three.loc[3, "method"] = "LOI"
    with pytest.raises(InputTableError, match="names 3 method"):
        calibrate_methods(three, reference="CHN", prior_sd=0.02, path="p")
    zero = _pairs()
    zero.loc[2, "soc_pct"] = 0.0
    with pytest.raises(InputError, match=r"no organic carbon by the reference method.*line 2"):
        calibrate_methods(zero, reference="CHN", prior_sd=0.02, path="p")


def test_the_correction_scales_only_the_calibrated_methods_layers() -> None:
    # One 0–30 cm layer per core, OC 2 %, BD 1.0: 2 × 1.0 × 30 = 60 Mg C/ha; the dichromate
    # core's OC × 1/1.02 gives 60 / 1.02 = 58.8235, and its SE (OC SE 0.1 % → 3 Mg/ha)
    # 3 / 1.02 = 2.9412.
    layers = pd.DataFrame(
        {
            "core_id": ["A", "B"],
            "x": [0.0, 10.0],
            "y": [0.0, 0.0],
            "depth_top_cm": [0.0, 0.0],
            "depth_bottom_cm": [30.0, 30.0],
            "bulk_density_g_cm3": [1.0, 1.0],
            "soc_pct": [2.0, 2.0],
            "soc_se_pct": [0.1, 0.1],
            "method": ["CHN", "Dichromate "],
        },
        index=pd.RangeIndex(2, 4, name="line"),
    )
    stocks = core_stocks(layers, depths_cm=(30,), oc_factors={"dichromate": 1 / 1.02})
    assert stocks.loc["A", "soc_0_30_mg_ha"] == pytest.approx(60.0)
    assert stocks.loc["B", "soc_0_30_mg_ha"] == pytest.approx(60.0 / 1.02)
    assert stocks.loc["A", "soc_0_30_se_mg_ha"] == pytest.approx(3.0)
    assert stocks.loc["B", "soc_0_30_se_mg_ha"] == pytest.approx(3.0 / 1.02)
    plain = core_stocks(layers, depths_cm=(30,))
    assert np.allclose(plain["soc_0_30_mg_ha"], 60.0)
