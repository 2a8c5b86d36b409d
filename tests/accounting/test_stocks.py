"""Stocks per stratum and the sink by stock difference, by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from carbonsink.accounting.stocks import (
    adjust_to_areas,
    carbon_layers,
    change_layers,
    stock_change,
    stratum_stocks,
)
from carbonsink.errors import InputError

LEGEND = {"sedge": 3, "reed": 4}
# 2 × 2 grid: row 0 sedge, row 1 reed; cells of 0.01 ha except (1, 1) of 0.02 ha.
CLASSES = np.array([[3, 3], [4, 4]])
AREA = np.array([[0.01, 0.01], [0.01, 0.02]])


def _layers(agb: list[list[float]], soc: list[list[float]]) -> xr.Dataset:
    return xr.Dataset(
        {
            "agb_c_mg_ha": (("y", "x"), np.array(agb, dtype=float)),
            "soc_0_30_mg_ha": (("y", "x"), np.array(soc, dtype=float)),
        },
        coords={"y": [15.0, 5.0], "x": [5.0, 15.0]},
    )


T1 = _layers([[5.0, 7.0], [8.0, 10.0]], [[50.0, 60.0], [40.0, 40.0]])
T2 = _layers([[6.0, 7.0], [9.0, np.nan]], [[55.0, 62.0], [41.0, 45.0]])


def test_stratum_stocks_by_hand() -> None:
    table = stratum_stocks(T1, CLASSES, AREA, LEGEND, pools=["agb", "soc_0_30"])
    # sedge: AGB C = (5 + 7) × 0.01 = 0.12 t; SOC = (50 + 60) × 0.01 = 1.1 t; 0.02 ha.
    assert table.loc["sedge", "area_ha"] == pytest.approx(0.02)
    assert table.loc["sedge", "agb_t_c"] == pytest.approx(0.12)
    assert table.loc["sedge", "soc_0_30_t_c"] == pytest.approx(1.1)
    assert table.loc["sedge", "agb_mg_ha"] == pytest.approx(6.0)
    # reed: AGB C = 8 × 0.01 + 10 × 0.02 = 0.28 t over 0.03 ha → 9.333 Mg C/ha.
    assert table.loc["reed", "agb_t_c"] == pytest.approx(0.28)
    assert table.loc["reed", "agb_mg_ha"] == pytest.approx(0.28 / 0.03)
    # total: 0.40 t AGB C, 0.05 ha.
    assert table.loc["total", "agb_t_c"] == pytest.approx(0.40)
    assert table.loc["total", "area_ha"] == pytest.approx(0.05)


def test_missing_values_are_reported_not_filled() -> None:
    table = stratum_stocks(T2, CLASSES, AREA, LEGEND, pools=["agb"])
    # reed's (1, 1) has no AGB: 9 × 0.01 = 0.09 t counted, 0.02 ha unmapped.
    assert table.loc["reed", "agb_t_c"] == pytest.approx(0.09)
    assert table.loc["reed", "unmapped_ha"] == pytest.approx(0.02)
    assert table.loc["sedge", "unmapped_ha"] == 0.0


def test_adjusted_areas_scale_mean_densities() -> None:
    table = stratum_stocks(T1, CLASSES, AREA, LEGEND, pools=["agb"])
    adjusted = adjust_to_areas(table, {"sedge": 0.03, "reed": 0.02})
    # sedge: 6 Mg C/ha × 0.03 ha = 0.18 t; reed: 9.333 × 0.02 = 0.18667 t.
    assert adjusted.loc["sedge", "agb_t_c"] == pytest.approx(0.18)
    assert adjusted.loc["reed", "agb_t_c"] == pytest.approx(0.28 / 0.03 * 0.02)
    assert adjusted.loc["total", "area_ha"] == pytest.approx(0.05)
    with pytest.raises(InputError, match="no adjusted area for stratum"):
        adjust_to_areas(table, {"sedge": 0.03})


def test_stock_change_by_hand() -> None:
    table, pixel = stock_change(T1, T2, CLASSES, AREA, LEGEND, years=5.0, pools=["agb", "soc_0_30"])
    # sedge AGB: ((6 − 5) + (7 − 7)) × 0.01 / 5 = 0.002 t C/yr;
    # sedge SOC: ((55 − 50) + (62 − 60)) × 0.01 / 5 = 0.014 t C/yr;
    # removals = 44/12 × 0.016 = 0.058667 t CO2e/yr.
    assert table.loc["sedge", "d_agb_t_c_yr"] == pytest.approx(0.002)
    assert table.loc["sedge", "d_soc_0_30_t_c_yr"] == pytest.approx(0.014)
    assert table.loc["sedge", "removals_t_co2e_yr"] == pytest.approx(44 / 12 * 0.016)
    # reed SOC: (1 × 0.01 + 5 × 0.02) / 5 = 0.022; AGB only (1, 0): 1 × 0.01 / 5 = 0.002,
    # with (1, 1) (0.02 ha) unmapped.
    assert table.loc["reed", "d_soc_0_30_t_c_yr"] == pytest.approx(0.022)
    assert table.loc["reed", "d_agb_t_c_yr"] == pytest.approx(0.002)
    assert table.loc["reed", "unmapped_ha"] == pytest.approx(0.02)
    # The strata add up to the total.
    assert table.loc["total", "d_soc_0_30_t_c_yr"] == pytest.approx(0.014 + 0.022)
    # Per pixel: sedge (0, 0) SOC (55 − 50)/5 = 1 Mg C/ha/yr; removals (0.2 + 1) × 44/12.
    assert pixel["d_soc_0_30_mg_ha_yr"].values[0, 0] == pytest.approx(1.0)
    assert pixel["removals_t_co2e_ha_yr"].values[0, 0] == pytest.approx(1.2 * 44 / 12, rel=1e-6)
    assert pixel["removals_t_co2e_ha_yr"].attrs["units"] == "t CO2e/ha/yr"


def test_bad_inputs() -> None:
    with pytest.raises(InputError, match="years apart"):
        stock_change(T1, T2, CLASSES, AREA, LEGEND, years=0.0, pools=["agb"])
    with pytest.raises(InputError, match="'dom_c_mg_ha' is not in"):
        stratum_stocks(T1, CLASSES, AREA, LEGEND, pools=["dom"])
    with pytest.raises(InputError, match="unknown pool"):
        stratum_stocks(T1, CLASSES, AREA, LEGEND, pools=["litter"])


def test_truth_layers_reproduce_the_true_sink(sample_survey: Path) -> None:
    # The synthetic survey's truth: removals = 44/12 × (ΔAGB C + ΔBGB C + ΔDOM C +
    # ΔSOC 0–100) = 899.16 t CO2e/yr over 5.0075 years (truth/totals.json), from the same
    # float32 layers; AGB C = AGB × 0.47, BGB C = BGB × 0.47, DOM C = DOM × 0.47, and the
    # soil's change is the autochthonous gain soc_gain_0_100 (0 in 2020); the fixed-depth
    # stocks give totals.json's soc_0_100_fixed_depth instead.
    import json

    from carbonsink.config import load_survey
    from carbonsink.pipeline import RunContext

    truth_dir = sample_survey.parent / "truth"
    totals = json.loads((truth_dir / "totals.json").read_text(encoding="utf-8"))["sink"]
    layers = []
    for epoch in ("2020", "2025"):
        with xr.open_dataset(truth_dir / f"truth_{epoch}.nc") as truth:
            layers.append(
                xr.Dataset(
                    {
                        "agb_c_mg_ha": truth["agb_mg_ha"].astype(np.float64) * 0.47,
                        "bgb_c_mg_ha": truth["bgb_mg_ha"].astype(np.float64) * 0.47,
                        "dom_c_mg_ha": truth["dom_mg_ha"].astype(np.float64) * 0.47,
                        "soc_0_100_mg_ha": truth["soc_gain_0_100_mg_ha"].astype(np.float64),
                        "fixed_mg_ha": truth["soc_0_100_mg_ha"].astype(np.float64),
                    }
                ).load()
            )
            classes = truth["class"].values
            inside = truth["inside_boundary"].values.astype(bool)
    survey = load_survey(sample_survey)
    legend = {name: c.code for name, c in survey.vegetation.classes.items()}
    area = RunContext.build(survey).grid.cell_area_ha

    def change(pools: list[str], soil: str) -> pd.DataFrame:
        name = "soc_0_100_mg_ha"
        first, last = (
            x if soil == name else x.drop_vars(name).rename({soil: name}) for x in layers
        )
        table, _ = stock_change(
            first, last, classes, area, legend, years=totals["years"], pools=pools, inside=inside
        )
        return table

    table = change(["agb", "bgb", "dom", "soc_0_100"], "soc_0_100_mg_ha")
    assert table.loc["total", "removals_t_co2e_yr"] == pytest.approx(
        totals["removals_t_co2e_yr"], rel=1e-4
    )
    fixed = change(["soc_0_100"], "fixed_mg_ha")
    assert fixed.loc["total", "d_soc_0_100_t_c_yr"] == pytest.approx(
        totals["delta_c_t_c_yr"]["soc_0_100_fixed_depth"], rel=1e-4
    )
    assert table.loc["total", "d_soc_0_100_t_c_yr"] == pytest.approx(
        totals["delta_c_t_c_yr"]["soc_0_100"], rel=1e-4
    )


def _epoch_layers(agb: float, dom: float, soc: float) -> xr.Dataset:
    """One 1 × 2 epoch: cell 0 inside the project, cell 1 outside.

    AGB with a 90 % interval of half-width 1.645 × 2 (SD 2 Mg DM/ha), CF 0.5 and R 1,
    so AGB C = BGB C = 0.5 × AGB; DOM with SD 0.6 Mg DM/ha, DOM C = 0.5 × DOM; SOC 0–100
    with kriging variance 9 (SD 3 Mg C/ha).
    """
    from scipy.stats import norm

    z = float(norm.ppf(0.95))
    values = {
        "agb_mg_ha": agb,
        "agb_lower_mg_ha": agb - 2.0 * z,
        "agb_upper_mg_ha": agb + 2.0 * z,
        "agb_c_mg_ha": 0.5 * agb,
        "bgb_c_mg_ha": 0.5 * agb,
        "dom_mg_ha": dom,
        "dom_lower_mg_ha": dom - 0.6 * z,
        "dom_upper_mg_ha": dom + 0.6 * z,
        "dom_c_mg_ha": 0.5 * dom,
        "soc_0_100_mg_ha": soc,
        "soc_0_100_mg_ha_variance": 9.0,
    }
    return xr.Dataset(
        {k: (("y", "x"), np.full((1, 2), v)) for k, v in values.items()},
        coords={"y": [5.0], "x": [5.0, 15.0]},
    )


def test_carbon_layers_sum_the_counted_pools_with_their_sd() -> None:
    # AGB 10, DOM 2, SOC 50: carbon = 5 + 5 + 1 + 50 = 61 Mg C/ha.
    # Vegetation SD, pools added (shared biomass): AGB C 2 × 5/10 = 1, BGB C 1,
    # DOM C 0.6 × 1/2 = 0.3 → 2.3; with the soil: √(2.3² + 3²) = √14.29 = 3.78021.
    layers = carbon_layers(
        _epoch_layers(10.0, 2.0, 50.0),
        pools=["agb", "bgb", "dom", "soc_0_100"],
        inside=[[True, False]],
    )
    assert layers["carbon_mg_ha"].values[0, 0] == pytest.approx(61.0)
    assert layers["carbon_sd_mg_ha"].values[0, 0] == pytest.approx(math.sqrt(14.29), rel=1e-6)
    assert np.isnan(layers["carbon_mg_ha"].values[0, 1])
    assert layers["soc_sd_mg_ha"].values[0, 0] == pytest.approx(3.0)
    assert layers["carbon_mg_ha"].attrs["long_name"] == (
        "carbon stock (AGB C + BGB C + DOM C + SOC 0–100 cm)"
    )
    # Without DOM: 60 Mg C/ha, SD √(2² + 3²) = √13.
    without = carbon_layers(
        _epoch_layers(10.0, 2.0, 50.0), pools=["agb", "bgb", "soc_0_100"], inside=[[True, True]]
    )
    assert without["carbon_sd_mg_ha"].values[0, 0] == pytest.approx(math.sqrt(13.0), rel=1e-6)
    with pytest.raises(InputError, match="0 soil pools"):
        carbon_layers(_epoch_layers(1.0, 1.0, 1.0), pools=["agb"], inside=[[True, True]])


def test_change_layers_per_cell() -> None:
    # Carbon 61 → 71 Mg C/ha over 2 years: 5 Mg C/ha/yr, removals 5 × 44/12 = 18.3333;
    # SD = 44/12 × √(3.78021² + 3.78021²) / 2 = 44/12 × 2.67300 = 9.80100 t CO2e/ha/yr.
    pools = ["agb", "bgb", "dom", "soc_0_100"]
    first = carbon_layers(_epoch_layers(10.0, 2.0, 50.0), pools=pools, inside=[[True, True]])
    last = carbon_layers(_epoch_layers(10.0, 2.0, 60.0), pools=pools, inside=[[True, True]])
    change = change_layers(first, last, years=2.0, epochs=("a", "b"))
    assert change["d_carbon_mg_ha_yr"].values[0, 0] == pytest.approx(5.0)
    assert change["d_soc_mg_ha_yr"].values[0, 0] == pytest.approx(5.0)
    assert change["removals_t_co2e_ha_yr"].values[0, 0] == pytest.approx(5.0 * 44 / 12, rel=1e-6)
    expected_sd = 44 / 12 * math.sqrt(2 * 14.29) / 2
    assert change["removals_sd_t_co2e_ha_yr"].values[0, 0] == pytest.approx(expected_sd, rel=1e-6)
    assert change.attrs == {"from_epoch": "a", "to_epoch": "b", "years": 2.0}
    with pytest.raises(InputError, match="years apart"):
        change_layers(first, last, years=0.0, epochs=("a", "b"))
