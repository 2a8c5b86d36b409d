"""The synthetic survey's sediment: accretion and lab bias in the cores, autochthonous totals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from pyproj import Transformer

from carbonsink.grid import Grid
from carbonsink.synthetic.fieldwork import CORE_LAYERS_CM
from carbonsink.synthetic.landscape import build_landscape
from carbonsink.synthetic.parameters import SCALES
from carbonsink.synthetic.scoring import stratum_sink
from tests.synthetic.conftest import SEED

# ------------------------------------------------------ sediment deposition
SEDIMENT_LAYERS_UNITS = {
    "soc_gain_0_30_mg_ha": "Mg C ha-1",
    "soc_gain_0_100_mg_ha": "Mg C ha-1",
    "soc_allochthonous_mg_ha": "Mg C ha-1",
    "deposit_cm": "cm",
}


def _core_cells(table: pd.DataFrame, grid: Grid) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """One row per core (its first layer) and the analysis-grid cell of each core."""
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    first = table.groupby("core_id", sort=True).first()
    x, y = to_utm.transform(first["lon"].to_numpy(), first["lat"].to_numpy())
    row, col = grid.index(x, y)
    return first, row, col


def test_soil_cores_record_the_accretion_and_the_lab_bias(
    root: Path, truth: dict[str, xr.Dataset]
) -> None:
    totals = json.loads((root / "truth" / "totals.json").read_text(encoding="utf-8"))
    bias = totals["soil_world"]["lab_method_bias"]
    assert totals["soil_world"]["lab_method_bias_epoch"] == "2025"
    grid = Grid.from_xarray(truth["2025"])
    # The truth this test compares with: the landscape rebuilt in memory (its
    # first-epoch soil is what truth_2020.nc holds, checked here on the stocks).
    landscape = build_landscape(SEED, SCALES["small"])
    np.testing.assert_array_equal(
        landscape.crop(landscape.epochs[0].soc_0_30_mg_ha).astype(np.float32),
        truth["2020"]["soc_0_30_mg_ha"].values,
    )
    offsets = {}
    for index, epoch in enumerate(("2020", "2025")):
        table = pd.read_csv(root / f"soil_{epoch}.csv")
        cores, row, col = _core_cells(table, grid)
        # Cores are taken on land only, never in a water cell.
        assert np.all(truth[epoch]["class"].values[row, col] != 1), epoch
        profile = landscape.epochs[index].soil.at(
            row + landscape.window[0], col + landscape.window[1]
        )
        if epoch == "2020":
            assert "accretion_cm" not in table.columns
            measured = table["soc_pct"]
        else:
            measured = table["om_g_kg"] / 10.0 / 1.724
            # Accretion above the 2020 marker = d × (1 + 0.1 Z), to 0.1 cm: the relative
            # error of the cores' total is < 5 % (SE ≈ 0.1 / sqrt(40) ≈ 1.6 %); so is the
            # mean relative error of the cores with d ≥ 0.5 cm (where the 0.05 cm
            # rounding is ≤ 10 %; on thinner deposits it dominates), and no core
            # strays by more than 4 SDs plus the rounding.
            deposit = truth["2025"]["deposit_cm"].values[row, col].astype(float)
            accretion = cores["accretion_cm"].to_numpy()
            assert (table.groupby("core_id")["accretion_cm"].nunique() == 1).all()
            assert accretion.sum() / deposit.sum() == pytest.approx(1.0, abs=0.05)
            thick = deposit >= 0.5
            assert thick.sum() >= 10
            relative = (accretion[thick] - deposit[thick]) / deposit[thick]
            assert relative.mean() == pytest.approx(0.0, abs=0.05)
            assert np.all(np.abs(accretion - deposit) <= 0.05 + 4 * 0.1 * deposit)
        logs = np.zeros(len(cores))
        counts = np.zeros(len(cores))
        position = {core: i for i, core in enumerate(cores.index)}
        for top, bottom in CORE_LAYERS_CM:
            truth_oc = profile.layer_means(float(top), float(bottom))[0]
            rows = table["depth_top_cm"] == top
            i = table.loc[rows, "core_id"].map(position).to_numpy()
            logs[i] += np.log(measured[rows].to_numpy() / truth_oc[i])
            counts[i] += 1
        per_core = logs / counts
        offsets[epoch] = (per_core.mean(), per_core.std(ddof=1) / np.sqrt(per_core.size))
    # measured / true OC = micro-site factor (SD of log 0.08, one per core) × lab error
    # (3 % CHN, 6 % dichromate) × (1 + b) in 2025 only: the cores' mean log ratio is
    # log(1 + b) within 3 standard errors in 2025, 0 in 2020.
    mean, se = offsets["2025"]
    assert abs(mean - np.log1p(bias)) <= 3 * se
    mean, se = offsets["2020"]
    assert abs(mean) <= 3 * se


def test_sink_counts_the_autochthonous_soil_change(
    root: Path, truth: dict[str, xr.Dataset], tmp_path: Path
) -> None:
    totals = json.loads((root / "truth" / "totals.json").read_text(encoding="utf-8"))
    sink = totals["sink"]
    years = 1829 / 365.25
    a, b = truth["2020"], truth["2025"]
    grid = Grid.from_xarray(a)
    inside = a["inside_boundary"].values == 1
    area = np.where(inside, grid.cell_area_ha, 0.0)
    for ds in (a, b):
        for name, units in SEDIMENT_LAYERS_UNITS.items():
            # The file's units are CF's (UDUNITS); our label is kept beside them.
            label = ds[name].attrs.get("units_label", ds[name].attrs["units"])
            assert label == units and ds[name].attrs["long_name"], name
    for name in SEDIMENT_LAYERS_UNITS:  # nothing deposited or gained by the first epoch
        assert np.all(a[name].values == 0.0), name

    def change(layer: str) -> float:
        diff = b[layer].values.astype(float) - a[layer].values.astype(float)
        return float((diff * area).sum()) / years

    delta = sink["delta_c_t_c_yr"]
    for depth in ("0_30", "0_100"):
        # The soil pool is the autochthonous change Σ A × Δsoc_gain / years ...
        assert delta[f"soc_{depth}"] == pytest.approx(change(f"soc_gain_{depth}_mg_ha"), rel=1e-9)
        # ... and the fixed-depth change, reported beside it, is not: it holds the
        # sediment's carbon and the compaction (more than 5 % apart).
        fixed = change(f"soc_{depth}_mg_ha")
        assert delta[f"soc_{depth}_fixed_depth"] == pytest.approx(fixed, rel=1e-9)
        assert abs(fixed - delta[f"soc_{depth}"]) > 0.05 * abs(delta[f"soc_{depth}"])
    assert delta["soc_allochthonous"] == pytest.approx(change("soc_allochthonous_mg_ha"), rel=1e-9)
    # Removals count the autochthonous 0–100 cm change.
    pools = ("agb_c", "bgb_c", "soc_0_100", "dom_c")
    assert sink["removals_t_co2e_yr"] == pytest.approx(44 / 12 * sum(delta[p] for p in pools))
    # The world's soil parameters.
    world = totals["soil_world"]
    land = inside & (b["class"].values != 1)
    weights = np.where(land, grid.cell_area_ha, 0.0)
    mean_deposit = float((b["deposit_cm"].values * weights).sum() / weights.sum())
    assert world["mean_deposit_cm"] == pytest.approx(mean_deposit, rel=1e-6)
    assert 0.2 * years <= world["mean_deposit_cm"] <= 0.6 * years
    assert world["sediment_bd_g_cm3"] == 0.85
    assert 0.02 <= world["compaction"] <= 0.08
    assert abs(world["sediment_oc_pct_mean"] - 1.2) <= 5 * 0.1
    assert abs(world["lab_method_bias"]) <= 5 * 0.02
    # Allochthonous carbon = d × 0.85 × OC_sed with OC_sed = μ_sed × exp(0.1 F − 0.005):
    # its area mean over deposited cells is μ_sed within 12 % (a 150 m field over
    # ~2 km²: ≈ 8 independent draws, SD ≈ 0.1 / sqrt(8) ≈ 3.5 %).
    deposited = inside & (b["deposit_cm"].values > 0.01)
    oc_sed = b["soc_allochthonous_mg_ha"].values[deposited] / (
        0.85 * b["deposit_cm"].values[deposited]
    )
    assert oc_sed.mean() == pytest.approx(world["sediment_oc_pct_mean"], rel=0.12)

    # The per-stratum scoring uses the autochthonous layers too: its total is the sink's.
    legend = {1: "water", 2: "mudflat", 3: "sedge", 4: "reed", 5: "miscanthus", 6: "poplar"}
    strata = b["class"].values
    scored = stratum_sink(
        root / "truth", strata, grid.cell_area_ha, legend, pools=["soc_0_100", "soc_0_30"]
    )
    assert scored["total"]["soc_0_100"] == pytest.approx(delta["soc_0_100"], rel=1e-6)
    assert scored["total"]["soc_0_30"] == pytest.approx(delta["soc_0_30"], rel=1e-6)
    assert sum(scored[n]["soc_0_100"] for n in legend.values()) == pytest.approx(
        delta["soc_0_100"], rel=1e-6
    )
    # Truth written before deposition has no gain layers: there the fixed-depth
    # difference is the autochthonous change, and it is used.
    old = tmp_path / "truth"
    old.mkdir()
    (old / "totals.json").write_text(json.dumps(totals), encoding="utf-8")
    for epoch, ds in truth.items():
        ds.drop_vars(list(SEDIMENT_LAYERS_UNITS)).to_netcdf(old / f"truth_{epoch}.nc")
    fallback = stratum_sink(old, strata, grid.cell_area_ha, legend, pools=["soc_0_100"])
    assert fallback["total"]["soc_0_100"] == pytest.approx(delta["soc_0_100_fixed_depth"], rel=1e-6)


def test_readme_describes_the_deposition(root: Path) -> None:
    text = (root / "README.md").read_text(encoding="utf-8")
    totals = json.loads((root / "truth" / "totals.json").read_text(encoding="utf-8"))
    for phrase in (
        "accretion_cm",
        "allochthonous",
        "compacted",
        "reference",
        "soc_gain_0_100_mg_ha",
        "soc_allochthonous_mg_ha",
        "deposit_cm",
        "soc_0_100_fixed_depth",
        f"b = {totals['soil_world']['lab_method_bias']:+.4f}",
    ):
        assert phrase in text, phrase
