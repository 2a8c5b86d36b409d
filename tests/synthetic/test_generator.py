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

import hashlib
import json
import tomllib
from pathlib import Path

import laspy
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
import xarray as xr
from pyproj import CRS, Transformer
from shapely.geometry import shape

from carbonsink.errors import ConfigError
from carbonsink.grid import Grid
from carbonsink.synthetic import SurveySummary, generate_survey
from carbonsink.synthetic.fieldwork import CORE_LAYERS_CM
from carbonsink.synthetic.landscape import build_landscape
from carbonsink.synthetic.parameters import SCALES
from carbonsink.synthetic.scoring import stratum_sink

SEED = 20240830


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> SurveySummary:
    return generate_survey(tmp_path_factory.mktemp("junshan"), seed=SEED)


@pytest.fixture(scope="module")
def root(survey: SurveySummary) -> Path:
    return survey.out_dir


@pytest.fixture(scope="module")
def toml(root: Path) -> dict:
    return tomllib.loads((root / "survey.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def truth(root: Path) -> dict[str, xr.Dataset]:
    out = {}
    for epoch in ("2020", "2025"):
        with xr.open_dataset(root / "truth" / f"truth_{epoch}.nc") as ds:
            out[epoch] = ds.load()
    return out


@pytest.fixture(scope="module")
def boundary_utm(root: Path) -> shapely.Geometry:
    gj = json.loads((root / "boundary.geojson").read_text(encoding="utf-8"))
    lonlat = shape(gj["features"][0]["geometry"])
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    return shapely.transform(lonlat, to_utm.transform, interleaved=False)


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
    first, second = _digests(root), _digests(again.out_dir)
    assert first == second
    kinds = {Path(name).suffix for name in first}
    assert {".tif", ".laz", ".csv", ".nc", ".json", ".geojson", ".toml", ".md"} <= kinds

    other = _digests(generate_survey(tmp_path / "other", seed=SEED + 1).out_dir)
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
        assert ds["dom_mg_ha"].attrs["units"] == "Mg DM/ha"
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


# ------------------------------------------------------- dead organic matter
# The documented DOM parameters (carbonsink.synthetic.parameters): dead:live
# ratios r per class for 2020 and 2025, a persistent mean-one lognormal
# multiplier m with SD of log 0.25 and correlation length 40 m (4 cells of 10 m).
DOM_RATIO = {
    2: (0.10, 0.10),  # mudflat
    3: (0.25, 0.25),  # sedge
    4: (0.45, 0.54),  # reed: +20 % standing dead by 2025
    5: (0.40, 0.48),  # miscanthus: +20 %
    6: (0.12, 0.12),  # poplar
}
CLASS_CODE = {"mudflat": 2, "sedge": 3, "reed": 4, "miscanthus": 5, "poplar": 6}


def test_dom_is_zero_on_water_and_averages_the_class_ratio(
    truth: dict[str, xr.Dataset],
) -> None:
    # DOM = r × AGB × m, so DOM/AGB = r × m in every vegetated cell.
    # Tolerance of a class mean of m over N cells: SD(m) = sqrt(e^(0.25²) − 1) = 0.254;
    # a Gaussian random field of kernel SD ℓ = 4 cells has correlation exp(−h²/(4ℓ²)),
    # which sums to 4πℓ² ≈ 201 cells, so the mean of N cells has the SD of ≈ N / 201
    # independent draws (an upper bound for m, since e^(σ²ρ) − 1 ≤ ρ (e^(σ²) − 1)).
    # Allow 4 such SDs.
    sd_m = np.sqrt(np.exp(0.25**2) - 1.0)
    cells_per_draw = 4.0 * np.pi * 4.0**2
    logs = []
    for index, ds in enumerate(truth.values()):
        cls = ds["class"].values
        inside = ds["inside_boundary"].values == 1
        agb = ds["agb_mg_ha"].values.astype(float)
        dom = ds["dom_mg_ha"].values.astype(float)
        assert np.all(dom[cls == 1] == 0.0)  # no dead matter on open water
        assert np.all(dom >= 0.0)
        for code, ratios in DOM_RATIO.items():
            sel = inside & (cls == code) & (agb > 0)
            ratio = dom[sel] / agb[sel]
            tol = 4.0 * sd_m / np.sqrt(sel.sum() / cells_per_draw)
            assert ratio.mean() == pytest.approx(ratios[index], rel=tol), (index, code)
            logs.append(np.log(ratio / ratios[index]))
    # log m = 0.25 F − 0.25²/2: SD 0.25 over all vegetated cells (≈ 100 independent
    # draws: the SD is known to ≈ 0.25 / sqrt(200) ≈ 0.02; allow ±0.06).
    assert np.concatenate(logs).std() == pytest.approx(0.25, abs=0.06)


def test_dom_ratio_changes_between_epochs_as_configured(truth: dict[str, xr.Dataset]) -> None:
    # m is the same field in both epochs, so where a cell keeps its class
    # (DOM/AGB)_2025 / (DOM/AGB)_2020 = r_2025 / r_2020 exactly: 0.54/0.45 = 0.48/0.40
    # = 1.2 in reed and Miscanthus, 1 elsewhere (float32 layers: rtol 1e-5).
    a, b = truth["2020"], truth["2025"]
    cls = a["class"].values
    same = cls == b["class"].values
    for code, (r_2020, r_2025) in DOM_RATIO.items():
        sel = same & (cls == code) & (a["agb_mg_ha"].values > 0) & (b["agb_mg_ha"].values > 0)
        assert sel.sum() > 1000, code
        before = a["dom_mg_ha"].values[sel] / a["agb_mg_ha"].values[sel]
        after = b["dom_mg_ha"].values[sel] / b["agb_mg_ha"].values[sel]
        np.testing.assert_allclose(after / before, r_2025 / r_2020, rtol=1e-5)


def test_dead_matter_is_collected_on_a_third_of_the_plots(root: Path) -> None:
    # max(5, round(n/3)) of a class's n plots (all when fewer): the small survey's
    # 8 mudflat, 24 sedge, 18 reed, 18 miscanthus and 13 poplar plots give
    # 5 + 8 + 6 + 6 + 5 = 30 of 81 plots; the other 51 (63 %) are left empty.
    expected = {"mudflat": 5, "sedge": 8, "reed": 6, "miscanthus": 6, "poplar": 5}
    for epoch in ("2020", "2025"):
        plots = pd.read_csv(root / f"plots_{epoch}.csv")
        counts = plots["veg_class"].value_counts().to_dict()
        assert counts == {"mudflat": 8, "sedge": 24, "reed": 18, "miscanthus": 18, "poplar": 13}
        dead = plots["agb_dead_g_m2"]
        assert plots.loc[dead.notna(), "veg_class"].value_counts().to_dict() == expected
        assert 0.55 <= dead.isna().mean() <= 0.72
        assert (dead.dropna() >= 0).all()
        # Missing means an empty field in the CSV, never 0 or a "nan" string.
        lines = (root / f"plots_{epoch}.csv").read_text(encoding="utf-8").splitlines()[1:]
        fields = [line.split(",")[4] for line in lines]
        assert sum(f == "" for f in fields) == dead.isna().sum()
        assert not any(f.lower() in ("0", "0.0", "nan") for f in fields)


def test_plot_dead_matter_matches_the_truth(root: Path, truth: dict[str, xr.Dataset]) -> None:
    to_utm = Transformer.from_crs("EPSG:4490", "EPSG:32649", always_xy=True)
    to_truth, dead_to_live = [], []
    for epoch, ds in truth.items():
        grid = Grid.from_xarray(ds)
        plots = pd.read_csv(root / f"plots_{epoch}.csv").dropna(subset=["agb_dead_g_m2"])
        x, y = to_utm.transform(plots["lon"].to_numpy(), plots["lat"].to_numpy())
        row, col = grid.index(x, y)
        # The 2 m GNSS error can move a plot into a cell of another class; keep the
        # plots whose recorded cell has the plot's class (nearly all of them).
        same = ds["class"].values[row, col] == plots["veg_class"].map(CLASS_CODE).to_numpy()
        assert same.mean() >= 0.9
        dom = 100.0 * ds["dom_mg_ha"].values[row, col][same]  # Mg/ha → g/m²
        agb = 100.0 * ds["agb_mg_ha"].values[row, col][same]
        dead = plots["agb_dead_g_m2"].to_numpy()[same]
        live = plots["agb_g_m2"].to_numpy()[same]
        to_truth.append(dead / dom)
        dead_to_live.append((dead / live) / (dom / agb))
    ratio, shared = np.concatenate(to_truth), np.concatenate(dead_to_live)
    # dead = 100 × DOM × H × H_d × (1 + 0.03 Z): mean-one factors, SD of log
    # sqrt(0.3² + 0.2² + 0.03²) ≈ 0.36 (1 m² clips; less for poplar). Over ~60 plots
    # the mean is 1 ± 0.36/sqrt(60) ≈ 0.05; allow 0.2. No plot strays by more than
    # 4 SDs of log (|log| ≤ 1.45).
    assert ratio.mean() == pytest.approx(1.0, abs=0.2)
    assert np.abs(np.log(ratio)).max() <= 4 * 0.36
    # Dead and live of a plot share the heterogeneity H: dead/live ÷ (DOM/AGB)
    # leaves only H_d and two weighing errors, SD of log sqrt(0.2² + 2 × 0.03²) ≈ 0.20
    # (independent heterogeneities would give ≥ sqrt(0.2² + 0.3² + 0.3²) ≈ 0.47).
    assert np.log(shared).std() < 0.3


# Regression guard: sha256 of the files of the small survey (seed 20240830) that
# the dead-organic-matter pool must not change, computed with the ORIGINAL
# generator (commit 8b005b0, before DOM was added) — not derived from any model.
# A change here means a DOM random draw leaked into another stream.
UNCHANGED_BY_DOM = {
    "boundary.geojson": "431209b48979a1490370a80bcfbd9d3cafaef8538953da4d7fd3c880d9a088c2",
    "imagery/s2_2020-09-10.tif": "8609905af32bf1bcc543bab9dccfc93394787908e1f84659f711858336859a2d",
    "imagery/s2_2020-09-20.tif": "5b0757041528d6377c0f43b61db8a3146902c913f3f4d5b9e955c8b0192d0d55",
    "imagery/s2_2025-09-13.tif": "42dd46e559bc0d5800b7d970d873b1e5c45a35bd8badd2ba46d4875890eb9be4",
    "imagery/s2_2025-09-23.tif": "eca7d71456863729c89698aacdf5c776b2524d2db6019aa60a9afc1297b33364",
    "landcover_2020.csv": "fd3d4aaa01c1b24b1015101f79be7169cf62b70cfaae455297397800edb8fc42",
    "landcover_2025.csv": "d8f384b3537c40d84eacab6cd9b68f05e4998d357c8396c2f3d4741a3f5d1e24",
    "lidar/2020/junshan_2020_409160_3254200.laz": (
        "2b21db7eae9ee796be6899585e3f6e0791df5bb3dfddbfb7e9e434f5d60407f6"
    ),
    "lidar/2020/junshan_2020_409160_3254600.laz": (
        "5eabcfad271d520ba6fc70a18269c10ccc555b247e1e89b2cc2193e079f3f9cb"
    ),
    "lidar/2020/junshan_2020_409830_3254200.laz": (
        "1e703693295a67765dbd7923251f6c339c9b6ced5bf2afd6e672673667a3d798"
    ),
    "lidar/2020/junshan_2020_409830_3254600.laz": (
        "83616e99ce93dd3384b577835e273ff76fb8e070178fb9df1f1f1c1798ebd8d0"
    ),
    "lidar/2025/junshan_2025_409140_3254230.laz": (
        "f292695ed9d4d8a85a8bcf73e6e4475ad8ef0f1a37a58e3dc92ef16a44245b26"
    ),
    "lidar/2025/junshan_2025_409140_3254610.laz": (
        "89a09b7e8d9d9ad04753e13f68050955f5d4a6b172ebbe7a4e78346aee4e6e43"
    ),
    "lidar/2025/junshan_2025_409820_3254230.laz": (
        "8dcf20eb91d9cc5ba2e6cf5386d6cb4ce0f45f6a0a5d06aa25367fc87ed122ba"
    ),
    "lidar/2025/junshan_2025_409820_3254610.laz": (
        "752b4a11cbe4ae9c269658a1542d021252122731a4939b73fcc848f0b593f491"
    ),
    "soil_2020.csv": "aa8b9a84245ceddc3b1dde931262b9591b5fb66f76b9fd3ad9d4137fde362658",
    # soil_2025.csv without the columns sediment deposition legitimately changes (its
    # BD, OM and the new accretion_cm): the sites, layers, method and date of the
    # original generator's file.
    "soil_2025.csv": "1326ca6cf7714053e68cf46dd797f4bef6012a5c6bc3aec4c5f028447971a3a7",
    # survey.toml: the original generator's file with one comment changed since: its
    # citation of the team's internal reference now names the project's own
    # docs/methodology.md §2.
    "survey.toml": "bf71053437162cb38bb6946ac2889c3abf94bbdd965563efa893f62fbdd807d3",
    # The plot tables without their new agb_dead_g_m2 column.
    "plots_2020.csv": "38162b872bd02b9917eade37d98c4b17478b194814526ad17b28751890374934",
    "plots_2025.csv": "afce18d09282404d0a1e822f8a20be21042a3aca582cecee231f4856dc3c7644",
}
# Same guard for the truth layers other than dom_mg_ha: sha256 over the sorted
# variable names and their values' bytes, from the ORIGINAL generator's files —
# without the layers sediment deposition added (SEDIMENT_LAYERS) and, in 2025,
# without the soil layers it legitimately changed (the fixed-depth stocks and the
# surface OC, now the sediment's); for 2025 the digest of the original file's
# remaining layers (the generator before deposition, whose other 2025 layers were
# the original's byte for byte).
SEDIMENT_LAYERS = (
    "soc_gain_0_30_mg_ha",
    "soc_gain_0_100_mg_ha",
    "soc_allochthonous_mg_ha",
    "deposit_cm",
)
CHANGED_BY_DEPOSITION = {
    "2020": (),
    "2025": ("soc_0_30_mg_ha", "soc_0_100_mg_ha", "soc_surface_pct"),
}
TRUTH_LAYERS_BEFORE_DOM = {
    "2020": "74ab9ebd1b4e77bfff27c9edba229e36e52222f9abcca815e59ac306089c1be5",
    "2025": "9f8b5d949dad768f8b86c577bf6de5e76978d22878becf5641a17efa63980d87",
}
# ... and the original generator's removals and net (t CO2e/yr, truth/totals.json
# before DOM), which the DOM-free figures must reproduce once the soil term is
# replaced: removals counted the fixed-depth 0–100 cm change of the world without
# deposition, SOC_0_100_BEFORE_DEPOSITION t C/yr (that generator's totals.json).
REMOVALS_BEFORE_DOM = 875.3513970706684
NET_BEFORE_DOM = 808.9853882940498
SOC_0_100_BEFORE_DEPOSITION = 267.97198415214046


def test_dead_organic_matter_leaves_every_other_output_unchanged(root: Path) -> None:
    digests = _digests(root)
    for epoch in ("2020", "2025"):
        table = pd.read_csv(root / f"plots_{epoch}.csv").drop(columns="agb_dead_g_m2")
        text = table.to_csv(index=False, lineterminator="\n").encode("utf-8")
        digests[f"plots_{epoch}.csv"] = hashlib.sha256(text).hexdigest()
    sites = ["core_id", "lon", "lat", "depth_top_cm", "depth_bottom_cm", "method", "date"]
    table = pd.read_csv(root / "soil_2025.csv")[sites]
    text = table.to_csv(index=False, lineterminator="\n").encode("utf-8")
    digests["soil_2025.csv"] = hashlib.sha256(text).hexdigest()
    # The survey file since gained the legend's herbaceous flags and the synthetic world's
    # zero between-year and lab-method variability (issue 15); without those lines it is
    # the file from before the dead-organic-matter pool.
    lines = (root / "survey.toml").read_text(encoding="utf-8").splitlines(keepends=True)
    # Sediment deposition changed the method-bias line and added the sediment OC prior.
    added = (
        "herbaceous = false",
        "peak_biomass_cv = 0.0",
        "method_bias_sd_pct = ",
        "sediment_oc_pct = ",
        "sediment_oc_sd_pct = ",
    )
    kept = "".join(line for line in lines if not line.startswith(added)).encode("utf-8")
    digests["survey.toml"] = hashlib.sha256(kept).hexdigest()
    assert {name: digests[name] for name in UNCHANGED_BY_DOM} == UNCHANGED_BY_DOM
    for epoch, expected in TRUTH_LAYERS_BEFORE_DOM.items():
        with xr.open_dataset(root / "truth" / f"truth_{epoch}.nc") as ds:
            digest = hashlib.sha256()
            skip = ("dom_mg_ha", *SEDIMENT_LAYERS, *CHANGED_BY_DEPOSITION[epoch])
            for name in sorted(n for n in ds.data_vars if n not in skip):
                digest.update(str(name).encode("utf-8"))
                digest.update(ds[name].values.tobytes())
        assert digest.hexdigest() == expected, epoch
    sink = json.loads((root / "truth" / "totals.json").read_text(encoding="utf-8"))["sink"]
    # Vegetation part of the removals, 44/12 × (ΔC_agb + ΔC_bgb), unchanged; CH4 unchanged.
    soil = 44 / 12 * sink["delta_c_t_c_yr"]["soc_0_100"]
    vegetation = REMOVALS_BEFORE_DOM - 44 / 12 * SOC_0_100_BEFORE_DEPOSITION
    assert sink["removals_without_dom_t_co2e_yr"] - soil == pytest.approx(vegetation, abs=1e-9)
    assert sink["removals_without_dom_t_co2e_yr"] - sink["net_without_dom_t_co2e_yr"] == (
        pytest.approx(REMOVALS_BEFORE_DOM - NET_BEFORE_DOM, rel=1e-12)
    )


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
            assert ds[name].attrs["units"] == units and ds[name].attrs["long_name"], name
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


# --------------------------------------------------------------------- size
def test_small_survey_fits_in_25_mb(survey: SurveySummary, root: Path) -> None:
    on_disk = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert on_disk == survey.total_bytes
    assert on_disk <= 25 * 1024 * 1024
    laz = sum(p.stat().st_size for p in root.rglob("*.laz"))
    assert laz <= 18 * 1024 * 1024  # most of the budget, the rest is imagery and truth
    assert dict(survey.lidar_points)["2020"] > 1_000_000
