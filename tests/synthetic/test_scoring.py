"""The truth a ledger stratum is scored against, on a hand-made 2 × 2 truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from carbonsink.errors import InputError
from carbonsink.synthetic.scoring import dtm_scores, stratum_sink, stratum_stocks

LEGEND = {3: "sedge", 6: "poplar"}


def _truth(root: Path) -> Path:
    """Two epochs 5 years apart on a 2 × 2 grid, CF 0.5, one cell outside the boundary."""
    truth = root / "truth"
    truth.mkdir()
    layers = {
        "2020": {"agb": [[10.0, 20.0], [30.0, 40.0]], "bgb": [[5.0, 0.0], [1.0, 8.0]]},
        "2025": {"agb": [[12.0, 20.0], [45.0, 0.0]], "bgb": [[6.0, 0.0], [1.0, 9.0]]},
    }
    for epoch, values in layers.items():
        xr.Dataset(
            {
                "class": (("y", "x"), np.array([[3, 3], [6, 6]], dtype=np.int16)),
                "inside_boundary": (("y", "x"), np.array([[1, 1], [1, 0]], dtype=np.uint8)),
                "agb_mg_ha": (("y", "x"), np.array(values["agb"])),
                "bgb_mg_ha": (("y", "x"), np.array(values["bgb"])),
            },
            attrs={"carbon_fraction": 0.5},
        ).to_netcdf(truth / f"truth_{epoch}.nc")
    sink = {"from_epoch": "2020", "to_epoch": "2025", "years": 5.0}
    (truth / "totals.json").write_text(json.dumps({"sink": sink}), encoding="utf-8")
    return truth


def test_stocks_per_stratum_and_their_difference_is_the_sink(tmp_path: Path) -> None:
    truth = _truth(tmp_path)
    strata = np.array([[3, 3], [6, 6]])
    area = np.full((2, 2), 2.0)  # ha
    first = stratum_stocks(truth, "2020", strata, area, LEGEND, pools=["agb", "bgb"])
    last = stratum_stocks(truth, "2025", strata, area, LEGEND, pools=["agb", "bgb"])
    # sedge 2020 AGB: (10 + 20) Mg/ha × 2 ha × 0.5 = 30 t C; poplar: only the inside
    # cell, 30 × 2 × 0.5 = 30 t C (the 40 Mg/ha cell is outside the boundary).
    assert first["sedge"]["agb"] == pytest.approx(30.0)
    assert first["poplar"]["agb"] == pytest.approx(30.0)
    assert first["total"]["agb"] == pytest.approx(60.0)
    # poplar 2025 AGB: 45 × 2 × 0.5 = 45; sedge BGB 2025: (6 + 0) × 2 × 0.5 = 6.
    assert last["poplar"]["agb"] == pytest.approx(45.0)
    assert last["sedge"]["bgb"] == pytest.approx(6.0)
    # The sink of each stratum is its stock change over the 5 years: poplar AGB
    # (45 − 30) / 5 = 3 t C/yr, sedge (32 − 30) / 5 = 0.4.
    sink = stratum_sink(truth, strata, area, LEGEND, pools=["agb", "bgb"])
    for name in ("sedge", "poplar", "total"):
        for pool in ("agb", "bgb"):
            assert sink[name][pool] == pytest.approx((last[name][pool] - first[name][pool]) / 5)
    assert sink["poplar"]["agb"] == pytest.approx(3.0)
    assert sink["sedge"]["agb"] == pytest.approx(0.4)


def test_stocks_refuse_soil_pools_and_a_foreign_map(tmp_path: Path) -> None:
    truth = _truth(tmp_path)
    area = np.full((2, 2), 2.0)
    with pytest.raises(InputError, match="soc_0_100"):
        stratum_stocks(truth, "2020", np.ones((2, 2)), area, LEGEND, pools=["soc_0_100"])
    with pytest.raises(InputError, match="shape"):
        stratum_stocks(truth, "2020", np.ones((3, 2)), area, LEGEND, pools=["agb"])


def test_terrain_scores_before_and_after_the_correction() -> None:
    # 6 × 6 land cells, sedge (code 3) everywhere, true ground at 10 m, canopy 1 m. The
    # corrected DTM lies 0.02 m above the truth on half the cells and 0.02 m below on the
    # other half: bias 0, RMSE 0.02. The correction removed 0.15 m, so the raw DTM was
    # +0.15 ± 0.02: bias 0.15, RMSE √(0.15² + 0.02²) = 0.15133. h_p95 = 0.95 m on the
    # corrected terrain: gap −0.05; on the raw one 0.15 lower: −0.20.
    shape = (6, 6)
    offsets = np.where(np.arange(36).reshape(shape) % 2 == 0, 0.02, -0.02)
    cube = xr.Dataset(
        {
            "dtm_mean": (("y", "x"), 10.0 + offsets),
            "h_p95": (("y", "x"), np.full(shape, 0.95)),
            "landcover": (("y", "x"), np.full(shape, 3)),
        }
    )
    truth = xr.Dataset(
        {
            "elevation_m": (("y", "x"), np.full(shape, 10.0)),
            "canopy_height_m": (("y", "x"), np.full(shape, 1.0)),
            "class": (("y", "x"), np.full(shape, 3)),
            "water_mask": (("y", "x"), np.zeros(shape, dtype=np.uint8)),
        }
    )
    scores = dtm_scores(cube, truth, {3: "sedge", 4: "reed"}, {"sedge": 0.15})
    assert list(scores.index) == ["sedge"]  # no reed cell: no row
    row = scores.loc["sedge"]
    assert row["cells"] == 36
    assert row["bias_m"] == pytest.approx(0.0, abs=1e-12)
    assert row["rmse_m"] == pytest.approx(0.02)
    assert row["bias_raw_m"] == pytest.approx(0.15)
    assert row["rmse_raw_m"] == pytest.approx(np.hypot(0.15, 0.02))
    assert row["height_gap_m"] == pytest.approx(-0.05)
    assert row["height_gap_raw_m"] == pytest.approx(-0.20)
    # Fewer than 30 cells of a class (MIN_DTM_CELLS): no row.
    small = cube.assign(landcover=cube["landcover"].where(np.arange(6)[:, None] < 4, 4))
    assert dtm_scores(small, truth, {3: "sedge", 4: "reed"}, {}).empty
