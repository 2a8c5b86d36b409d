"""Tests of the synthetic survey generator (carbonsink.synthetic).

Expected values come from the generator's documented parameters
(carbonsink.synthetic.parameters, the module docstrings) and from hand
arithmetic written beside each assertion — never from the generator's output,
with one labelled exception: the regression guard that the dead-organic-matter
change left every other file of the generator byte-identical holds sha256
values (and the removals and net) of the files the generator wrote before that
change (``UNCHANGED_BY_DOM`` and the constants beside it). Since the soil learnt
sediment deposition (carbonsink.synthetic.sediment) the guard leaves out what
deposition legitimately changes — the 2025 soil table's BD, OM and accretion, the
2025 soil layers of the truth and the soil term of the removals — and checks the
rest against values of the generator before deposition.
"""

from __future__ import annotations

import json
from pathlib import Path

import laspy
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
import xarray as xr
from pyproj import CRS, Transformer

from carbonsink.errors import ConfigError
from carbonsink.grid import Grid
from carbonsink.synthetic import SurveySummary, generate_survey
from tests.synthetic.conftest import SEED, digests


def _read_lidar(root: Path, epoch: str) -> dict[str, np.ndarray]:
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("x", "y", "z", "ud", "cls", "rn", "nr")}
    for path in sorted((root / "lidar" / epoch).glob("*.laz")):
        las = laspy.read(path)
        parts["x"].append(np.asarray(las.x))
        parts["y"].append(np.asarray(las.y))
        parts["z"].append(np.asarray(las.z))
        parts["ud"].append(np.asarray(las.user_data))
        parts["cls"].append(np.asarray(las.classification))
        parts["rn"].append(np.asarray(las.return_number))
        parts["nr"].append(np.asarray(las.number_of_returns))
    return {k: np.concatenate(v) for k, v in parts.items()}


# --------------------------------------------------------------- determinism
@pytest.mark.slow
def test_same_seed_gives_identical_files_and_another_seed_does_not(
    root: Path, tmp_path: Path
) -> None:
    again = generate_survey(tmp_path / "again", seed=SEED)
    first, second = digests(root), digests(again.out_dir)
    assert first == second
    kinds = {Path(name).suffix for name in first}
    assert {".tif", ".laz", ".csv", ".nc", ".json", ".geojson", ".toml", ".md"} <= kinds

    other = digests(generate_survey(tmp_path / "other", seed=SEED + 1).out_dir)
    for name in (
        "imagery/s2_2020-09-10.tif",
        "plots_2020.csv",
        "soil_2025.csv",
        "truth/truth_2025.nc",
        "truth/totals.json",
        "boundary.geojson",
    ):
        assert other[name] != first[name], name
    laz_1 = {h for n, h in first.items() if n.endswith(".laz")}
    laz_2 = {h for n, h in other.items() if n.endswith(".laz")}
    assert not laz_1 & laz_2


def test_invalid_scale_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="scale"):
        generate_survey(tmp_path, scale="huge")  # type: ignore[arg-type]


# -------------------------------------------------------------- survey file
def test_survey_toml_schema_and_paths(root: Path, toml: dict) -> None:
    assert toml["survey"] == {
        "name": "Junshan wetland demonstration (synthetic)",
        "crs": "EPSG:32649",
        "resolution": 10.0,
        "boundary": "boundary.geojson",
        "seed": SEED,
    }
    assert [e["name"] for e in toml["epochs"]] == ["2020", "2025"]
    assert [e["date"] for e in toml["epochs"]] == ["2020-09-15", "2025-09-18"]
    for epoch in toml["epochs"]:
        assert len(epoch["imagery"]) == 2
        for scene in epoch["imagery"]:
            assert scene["sensor"] == "sentinel-2-l2a"
            assert (root / scene["path"]).is_file()
        tiles = sorted(root.glob(epoch["lidar"][0]["path"]))
        assert 2 <= len(tiles) <= 4
        assert epoch["plots"]["crs"] == "EPSG:4490"
        assert epoch["soil"]["crs"] == "EPSG:4326"
        assert epoch["landcover_samples"]["crs"] == "EPSG:32649"
        for key in ("plots", "soil", "landcover_samples"):
            assert (root / epoch[key]["path"]).is_file()
    # 2020 headers carry no CRS, so the entry supplies it; 2025 headers have it.
    assert toml["epochs"][0]["lidar"][0]["crs"] == "EPSG:4547"
    assert "crs" not in toml["epochs"][1]["lidar"][0]
    # The 2025 lab's relative method bias is drawn from N(0, 0.02²), i.e. an SD of 2 %;
    # the deposited sediment's OC prior is the world's N(1.2, 0.1²) % (sediment traps).
    assert toml["soil"] == {
        "depths_cm": [30, 100],
        "om_to_oc": "dichromate",
        "method_bias_sd_pct": 2.0,
        "sediment_oc_pct": 1.2,
        "sediment_oc_sd_pct": 0.1,
    }


def test_vegetation_table_matches_the_brief(toml: dict) -> None:
    classes = toml["vegetation"]["classes"]
    assert list(classes) == ["water", "mudflat", "sedge", "reed", "miscanthus", "poplar"]
    assert [classes[c]["code"] for c in classes] == [1, 2, 3, 4, 5, 6]
    assert {c: v["carbon_fraction"] for c, v in classes.items()} == dict.fromkeys(classes, 0.47)
    # Root:shoot ratios of docs/methodology.md §2 (mudflat 1.0 and water 0 by the brief).
    assert {c: v["root_shoot"] for c, v in classes.items()} == {
        "water": 0.0,
        "mudflat": 1.0,
        "sedge": 1.5,
        "reed": 1.0,
        "miscanthus": 0.5,
        "poplar": 0.24,
    }
    flux = {c: v["ch4_flux_mg_m2_d"] for c, v in classes.items()}
    assert max(flux, key=flux.__getitem__) == "sedge"
    assert flux["water"] < flux["sedge"] and flux["mudflat"] < flux["sedge"]


# -------------------------------------------------------------------- truth
def test_truth_layers_have_units_and_legends(truth: dict[str, xr.Dataset]) -> None:
    for ds in truth.values():
        for name in (
            "class",
            "elevation_m",
            "canopy_height_m",
            "agb_mg_ha",
            "bgb_mg_ha",
            "veg_c_mg_ha",
            "dom_mg_ha",
            "soc_0_30_mg_ha",
            "soc_0_100_mg_ha",
            "water_mask",
            "inside_boundary",
            "lidar_coverage",
        ):
            assert "units" in ds[name].attrs and "long_name" in ds[name].attrs, name
        assert ds["dom_mg_ha"].attrs["units"] == "Mg ha-1"  # CF (UDUNITS) in the file
        assert ds["dom_mg_ha"].attrs["units_label"] == "Mg DM/ha"
        assert ds["class"].dtype.kind == "i"
        assert list(ds["class"].attrs["flag_values"]) == [1, 2, 3, 4, 5, 6]
        assert ds["class"].attrs["flag_meanings"] == "water mudflat sedge reed miscanthus poplar"
        assert Grid.from_xarray(ds).crs == CRS.from_epsg(32649)
        assert Grid.from_xarray(ds).resolution == 10.0


def test_truth_values_in_methodology_ranges(truth: dict[str, xr.Dataset]) -> None:
    ds = truth["2020"]
    inside = ds["inside_boundary"].values == 1
    cls = ds["class"].values
    agb = ds["agb_mg_ha"].values
    height = ds["canopy_height_m"].values

    def mean_in(values: np.ndarray, code: int) -> float:
        return float(values[inside & (cls == code)].mean())

    # Class means (docs/methodology.md §2): Carex 1.28 kg/m² = 12.8 Mg/ha, Miscanthus
    # 13.9 Mg/ha, reed 1–2 kg/m² = 10–20 Mg/ha; ±30 % for the boundary subset.
    assert 0.7 * 12.8 <= mean_in(agb, 3) <= 1.3 * 12.8
    assert 10.0 <= mean_in(agb, 4) <= 20.0
    assert 0.7 * 13.9 <= mean_in(agb, 5) <= 1.3 * 13.9
    assert 60.0 <= mean_in(agb, 6) <= 120.0  # poplar stands of the brief
    assert mean_in(agb, 2) <= 1.0  # mudflat ~0–1
    assert np.all(agb[cls == 1] == 0.0)  # water
    # Heights inside each class range of the brief (documented height_range_m).
    for code, (low, high) in {3: (0.3, 0.8), 4: (2.0, 4.0), 5: (2.0, 4.0), 6: (12.0, 20.0)}.items():
        h = height[cls == code]
        assert h.min() >= low - 1e-4 and h.max() <= high + 1e-4, code
    # Vegetation carbon = AGB × 0.47 × (1 + R): reed (R = 1) gives 0.94 × AGB.
    reed = cls == 4
    np.testing.assert_allclose(ds["veg_c_mg_ha"].values[reed], 0.94 * agb[reed], rtol=1e-5)
    # Surface SOC 0.8–4 %; 0–30 cm stock between 0.8 % × 0.8 g/cm³ × 30 cm = 19.2
    # and 4 % × 1.5 × 30 = 180 Mg C/ha (docs/methodology.md §3 layer formula).
    soc = ds["soc_surface_pct"].values
    assert soc.min() >= 0.8 - 1e-5 and soc.max() <= 4.0 + 1e-5
    soc30 = ds["soc_0_30_mg_ha"].values
    assert soc30.min() >= 19.2 and soc30.max() <= 180.0
    assert np.all(ds["soc_0_100_mg_ha"].values > soc30)


def test_soil_accumulates_and_poplar_is_cleared(truth: dict[str, xr.Dataset]) -> None:
    a, b = truth["2020"], truth["2025"]
    years = 1829 / 365.25  # 2020-09-15 → 2025-09-18
    # The autochthonous gain of the reference material (2020's 0–30 cm plus the
    # deposit); the fixed-depth difference also holds the sediment and the compaction.
    assert np.all(a["soc_gain_0_30_mg_ha"].values == 0.0)
    gain = (b["soc_gain_0_30_mg_ha"].values - a["soc_gain_0_30_mg_ha"].values) / years
    cls = b["class"].values
    same = cls == a["class"].values
    water, sedge, mudflat = (same & (cls == 1), same & (cls == 3), same & (cls == 2))
    # Documented 0–30 cm rates: water 0, mudflat 0.3, sedge 1.6 Mg C/ha/yr
    # (× a mean-one lognormal field).
    np.testing.assert_allclose(gain[water], 0.0, atol=1e-4)
    assert 0.5 <= gain[sedge].mean() <= 2.0
    assert gain[mudflat].mean() < gain[sedge].mean()
    poplar_2020 = (a["class"].values == 6).sum()
    poplar_2025 = (cls == 6).sum()
    assert 0 < poplar_2025 < poplar_2020


# ------------------------------------------------------------------ imagery
def test_imagery_is_utm_sentinel2_l2a(root: Path, truth: dict[str, xr.Dataset]) -> None:
    grid = Grid.from_xarray(truth["2020"])
    for path in sorted((root / "imagery").glob("*.tif")):
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 32649
            assert src.res == (10.0, 10.0)
            assert src.count == 11 and src.dtypes[0] == "uint16" and src.nodata == 0
            assert src.descriptions == (
                "B02",
                "B03",
                "B04",
                "B05",
                "B06",
                "B07",
                "B08",
                "B8A",
                "B11",
                "B12",
                "SCL",
            )
            tags = src.tags()
            assert tags["PROCESSING_BASELINE"] == "05.09"
            assert tags["BOA_ADD_OFFSET"] == "-1000"
            assert tags["QUANTIFICATION_VALUE"] == "10000"
            assert tags["SENSING_DATE"] in path.name
            # Slightly larger than the analysis grid, aligned to 10 m.
            b, g = src.bounds, grid.bounds
            assert b.left < g[0] and b.bottom < g[1] and b.right > g[2] and b.top > g[3]
            assert b.left % 10 == 0 and b.top % 10 == 0
            scl = src.read(11)
            assert {3, 4, 6, 8, 9} <= set(np.unique(scl).tolist())


def test_mndwi_separates_water_and_ndvi_saturates(root: Path) -> None:
    with rasterio.open(root / "imagery" / "s2_2020-09-10.tif") as src:
        dn = src.read().astype(float)
    refl = dn[:10] / 10000.0 - 0.1  # DN = (ρ + 0.1) × 10000
    scl = dn[10]
    green, red, nir, swir = refl[1], refl[2], refl[6], refl[8]
    mndwi = (green - swir) / (green + swir)
    ndvi = (nir - red) / (nir + red)
    water, veg = scl == 6, scl == 4
    assert np.median(mndwi[water]) > 0.5
    assert np.quantile(mndwi[veg], 0.99) < 0.0
    assert np.median(ndvi[veg]) > 0.5
    # Clouds are bright, shadows dark (in the blue band).
    assert refl[0][scl == 9].mean() > 0.3 > refl[0][veg].mean()
    assert refl[6][scl == 3].mean() < refl[6][veg].mean()


# -------------------------------------------------------------------- lidar
def test_lidar_headers_and_crs(root: Path) -> None:
    for path in sorted((root / "lidar" / "2020").glob("*.laz")):
        with laspy.open(path) as reader:
            h = reader.header
            assert str(h.version) == "1.2" and h.point_format.id == 3
            assert h.parse_crs() is None
            # The only VLR is LASzip's own: no GeoTIFF keys, no WKT.
            assert [type(v).__name__ for v in h.vlrs] == ["LasZipVlr"]
            assert str(h.creation_date) == "2020-09-15"
    for path in sorted((root / "lidar" / "2025").glob("*.laz")):
        with laspy.open(path) as reader:
            h = reader.header
            assert str(h.version) == "1.4" and h.point_format.id == 6
            assert h.parse_crs() is not None and h.parse_crs().to_epsg() == 4547
            assert str(h.creation_date) == "2025-09-18"
            # Coordinates are Gauss-Kruger CM 114E metres: ~1.1° west of the
            # central meridian at 29.4°N is ≈ 107 km, easting ≈ 500 km − 107 km.
            assert 380_000 < h.mins[0] < 420_000 and 3_240_000 < h.mins[1] < 3_270_000


def test_lidar_returns(root: Path, truth: dict[str, xr.Dataset]) -> None:
    ds = truth["2025"]
    grid = Grid.from_xarray(ds)
    pts = _read_lidar(root, "2025")
    assert np.all(pts["cls"] == 1)  # nothing pre-classified
    assert set(np.unique(pts["ud"]).tolist()) == {0, 1, 2}
    assert np.all((pts["rn"] >= 1) & (pts["rn"] <= pts["nr"]))

    to_utm = Transformer.from_crs("EPSG:4547", "EPSG:32649", always_xy=True)
    x, y = to_utm.transform(pts["x"], pts["y"])
    row, col = grid.index(x, y)
    ok = grid.contains(x, y)
    row, col = row[ok], col[ok]
    ud = pts["ud"][ok]

    # Only part of the area: the strip covers 8 % of the boundary (SCALES["small"]
    # .lidar_cover_fraction); the cells holding points inside the boundary agree.
    inside = ds["inside_boundary"].values == 1
    hit = np.zeros(grid.shape, dtype=bool)
    hit[row, col] = True
    share = (hit & inside).sum() / inside.sum()
    assert 0.06 <= share <= 0.11

    # Water returns are flat at the 2025 lake level (24.9 m, 8 mm noise).
    water_z = pts["z"][pts["ud"] == 2]
    assert abs(np.median(water_z) - 24.9) < 0.01 and water_z.std() < 0.02

    # Ground hidden by dense grass: ground returns per cell in reed (LAI ≈ 4)
    # are far fewer than on mudflat (LAI ≈ 0.2): by the documented model the
    # ground probability per pulse is ≈ 0.14 + 0.86 × 0.3 × e^-2 ≈ 0.17 vs ≈ 0.96.
    cls = ds["class"].values
    ground = np.zeros(grid.shape)
    np.add.at(ground, (row[ud == 0], col[ud == 0]), 1)
    reed = hit & (cls == 4)
    mud = hit & (cls == 2)
    ratio = ground[reed].mean() / ground[mud].mean()
    assert ratio < 0.4


# ------------------------------------------------------------------- tables
def test_tables_are_in_their_crs(root: Path, boundary_utm: shapely.Geometry) -> None:
    minx, miny, maxx, maxy = boundary_utm.bounds
    for epoch in ("2020", "2025"):
        plots = pd.read_csv(root / f"plots_{epoch}.csv")
        assert list(plots.columns) == [
            "plot_id",
            "lon",
            "lat",
            "agb_g_m2",
            "agb_dead_g_m2",
            "size_m2",
            "veg_class",
            "date",
        ]
        assert plots["plot_id"].is_unique and 70 <= len(plots) <= 90
        # Junshan is at ≈ 113.07°E 29.41°N.
        assert plots["lon"].between(112.9, 113.2).all() and plots["lat"].between(29.3, 29.5).all()
        assert (plots["agb_g_m2"] >= 0).all()
        assert "water" not in set(plots["veg_class"])
        assert set(plots.loc[plots["veg_class"] != "poplar", "size_m2"]) == {1.0}

        soil = pd.read_csv(root / f"soil_{epoch}.csv")
        assert soil["lon"].between(112.9, 113.2).all() and soil["lat"].between(29.3, 29.5).all()
        assert soil["bulk_density_g_cm3"].between(0.05, 2.65).all()
        assert 35 <= soil["core_id"].nunique() <= 45
        bottoms = soil.groupby("core_id")["depth_bottom_cm"].max()
        assert set(bottoms) <= {50, 70, 100} and (bottoms < 100).mean() < 0.35
        if epoch == "2020":
            assert (soil["method"] == "CHN").all()
            oc = soil["soc_pct"]
        else:
            assert (soil["method"] == "dichromate").all()
            oc = soil["om_g_kg"] / 10.0 / 1.724  # g/kg → %, OM = 1.724 × OC
        assert oc.between(0.0, 60.0).all() and 0.3 <= oc.median() <= 4.0

        samples = pd.read_csv(root / f"landcover_{epoch}.csv")
        assert list(samples.columns) == ["x", "y", "class"]
        assert samples["x"].between(minx, maxx).all() and samples["y"].between(miny, maxy).all()
        assert set(samples["class"]) == {
            "water",
            "mudflat",
            "sedge",
            "reed",
            "miscanthus",
            "poplar",
        }
        assert 380 <= len(samples) <= 420


def test_plots_match_truth_and_a_third_are_under_lidar(
    root: Path, truth: dict[str, xr.Dataset], boundary_utm: shapely.Geometry
) -> None:
    ds = truth["2020"]
    grid = Grid.from_xarray(ds)
    plots = pd.read_csv(root / "plots_2020.csv")
    to_utm = Transformer.from_crs("EPSG:4490", "EPSG:32649", always_xy=True)
    x, y = to_utm.transform(plots["lon"].to_numpy(), plots["lat"].to_numpy())
    row, col = grid.index(x, y)
    # Plots are laid out ≥ 10 m inside the boundary (5 × the 2 m GNSS SD).
    assert shapely.contains_xy(boundary_utm, x, y).all()
    covered = ds["lidar_coverage"].values[row, col] == 1
    assert 0.2 <= covered.mean() <= 0.45  # a third by design, ±GNSS error at the edges
    # Clip AGB = 100 × cell AGB × mean-one noise: the plot mean per class is
    # within 25 % of 100 × the truth at the plots (SD of log 0.3 over ~20 plots).
    truth_g_m2 = 100.0 * ds["agb_mg_ha"].values[row, col]
    for name in ("sedge", "reed", "miscanthus"):
        sel = (plots["veg_class"] == name).to_numpy()
        ratio = plots["agb_g_m2"].to_numpy()[sel].mean() / truth_g_m2[sel].mean()
        assert 0.75 <= ratio <= 1.25, name


# ------------------------------------------------------------------- totals
def test_totals_match_the_truth_rasters(
    root: Path, truth: dict[str, xr.Dataset], toml: dict, boundary_utm: shapely.Geometry
) -> None:
    totals = json.loads((root / "truth" / "totals.json").read_text(encoding="utf-8"))
    classes = toml["vegetation"]["classes"]
    stocks = {}
    for epoch, ds in truth.items():
        grid = Grid.from_xarray(ds)
        inside = grid.boundary_mask(boundary_utm)
        np.testing.assert_array_equal(inside, ds["inside_boundary"].values == 1)
        area = np.where(inside, grid.cell_area_ha, 0.0)
        cls = ds["class"].values
        t = totals["epochs"][epoch]

        def tot(name: str, ds: xr.Dataset = ds, area: np.ndarray = area) -> float:
            return float((ds[name].values.astype(float) * area).sum())

        stocks[epoch] = {
            "agb_c": 0.47 * tot("agb_mg_ha"),
            "bgb_c": 0.47 * tot("bgb_mg_ha"),
            "soc_0_30": tot("soc_0_30_mg_ha"),
            "soc_0_100": tot("soc_0_100_mg_ha"),
            "dom_c": 0.47 * tot("dom_mg_ha"),
            "soc_gain_0_30": tot("soc_gain_0_30_mg_ha"),
            "soc_gain_0_100": tot("soc_gain_0_100_mg_ha"),
            "soc_allochthonous": tot("soc_allochthonous_mg_ha"),
        }
        for pool, value in stocks[epoch].items():
            assert t["stocks_t_c"][pool] == pytest.approx(value, rel=1e-9), pool
        assert t["stocks_t_c"]["veg_c"] == pytest.approx(
            stocks[epoch]["agb_c"] + stocks[epoch]["bgb_c"], rel=1e-5
        )
        for name, params in classes.items():
            assert t["area_ha"][name] == pytest.approx(area[cls == params["code"]].sum(), rel=1e-9)
        # The boundary is ~2.2 km², i.e. ~220 ha; true areas differ from the
        # nominal 0.01 ha/cell by the UTM areal scale (< 0.2 %).
        assert t["area_ha"]["total"] == pytest.approx(inside.sum() * 0.01, rel=2e-3)
        covered = ds["lidar_coverage"].values == 1
        assert t["agb_t_dm"]["inside_lidar"] == pytest.approx(
            float((ds["agb_mg_ha"].values * np.where(covered, area, 0.0)).sum()), rel=1e-6
        )
        assert t["agb_t_dm"]["inside_lidar"] + t["agb_t_dm"]["outside_lidar"] == pytest.approx(
            t["agb_t_dm"]["total"], rel=1e-9
        )

    sink = totals["sink"]
    years = 1829 / 365.25
    assert sink["years"] == pytest.approx(years)
    delta = {p: (stocks["2025"][p] - stocks["2020"][p]) / years for p in stocks["2020"]}
    assert sink["delta_c_t_c_yr"]["dom_c"] == pytest.approx(delta["dom_c"], rel=1e-9)
    # The soil pools are the autochthonous change (Σ area × Δsoc_gain / years); the
    # fixed-depth change and the allochthonous carbon are reported beside them.
    for depth in ("0_30", "0_100"):
        assert sink["delta_c_t_c_yr"][f"soc_{depth}"] == pytest.approx(
            delta[f"soc_gain_{depth}"], rel=1e-9
        )
        assert sink["delta_c_t_c_yr"][f"soc_{depth}_fixed_depth"] == pytest.approx(
            delta[f"soc_{depth}"], rel=1e-9
        )
        delta[f"soc_{depth}"] = delta[f"soc_gain_{depth}"]
    assert sink["delta_c_t_c_yr"]["soc_allochthonous"] == pytest.approx(
        delta["soc_allochthonous"], rel=1e-9
    )
    assert sink["removal_pools"] == ["agb_c", "bgb_c", "soc_0_100", "dom_c"]
    without_dom = 44 / 12 * (delta["agb_c"] + delta["bgb_c"] + delta["soc_0_100"])
    removals = without_dom + 44 / 12 * delta["dom_c"]
    assert sink["removals_t_co2e_yr"] == pytest.approx(removals, rel=1e-6)
    assert sink["removals_without_dom_t_co2e_yr"] == pytest.approx(without_dom, rel=1e-6)
    # The DOM pool adds exactly 44/12 × ΔC_dom to the removals.
    assert sink["removals_t_co2e_yr"] - sink["removals_without_dom_t_co2e_yr"] == pytest.approx(
        44 / 12 * delta["dom_c"], rel=1e-6
    )
    areas_2025 = totals["epochs"]["2025"]["area_ha"]
    ch4 = sum(areas_2025[n] * c["ch4_flux_mg_m2_d"] * 365e-5 * 28 for n, c in classes.items())
    assert sink["ch4_t_co2e_yr"] == pytest.approx(ch4, rel=1e-9)
    assert sink["net_t_co2e_yr"] == pytest.approx(removals - ch4, rel=1e-6)
    assert sink["net_without_dom_t_co2e_yr"] == pytest.approx(without_dom - ch4, rel=1e-6)
    for key in (
        "removals_t_co2e_yr",
        "removals_without_dom_t_co2e_yr",
        "net_without_dom_t_co2e_yr",
    ):
        assert key in totals["method"], key
    assert "dom_c" in totals["method"]["removals_t_co2e_yr"]
    # Soil gains of 0.3–1.6 Mg C/ha/yr over ~200 ha dominate: a net sink.
    assert sink["net_t_co2e_yr"] > 0


# --------------------------------------------------------------------- size
def test_small_survey_fits_in_25_mb(survey: SurveySummary, root: Path) -> None:
    on_disk = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert on_disk == survey.total_bytes
    assert on_disk <= 25 * 1024 * 1024
    laz = sum(p.stat().st_size for p in root.rglob("*.laz"))
    assert laz <= 18 * 1024 * 1024  # most of the budget, the rest is imagery and truth
    assert dict(survey.lidar_points)["2020"] > 1_000_000


def test_the_committed_sample_is_what_the_generator_writes(root: Path) -> None:
    # sample_data/junshan is `carbonsink sample-data` at the sample's seed and the small
    # scale: every file, README and survey.toml included, must be byte-identical to a fresh
    # generation, so that a change of the generator cannot leave the sample stale.
    from tests.conftest import PROJECT_ROOT
    from tests.synthetic.conftest import digests

    assert digests(root) == digests(PROJECT_ROOT / "sample_data" / "junshan")
