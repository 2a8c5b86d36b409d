"""The third epoch sampled at the points of a design file (``sample-data --design``).

The fast tests sample a landscape built in memory
(:func:`~carbonsink.synthetic.landscape.build_landscape`, ≈ 1 s) at the
points of a design.gpkg written here with the layout of ``carbonsink
design`` (point layers ``cores`` and ``plots``); one survey is written twice
(≈ 15 s each), with and without a design, to check that the design changes
only the 2028 soil and plot tables. Expected values come from
carbonsink.synthetic.design_points (points exact for cores, to 1e-7°; plots
with the 2 m per axis GNSS error) and carbonsink.synthetic.fieldwork.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from pyproj import Transformer

from carbonsink.cli import main
from carbonsink.errors import ConfigError, CRSError, InputError, InputNotFoundError
from carbonsink.grid import Grid
from carbonsink.synthetic import generate_survey
from carbonsink.synthetic.design_points import (
    design_plots,
    design_soil_cores,
    placed_design,
    read_design,
)
from carbonsink.synthetic.landscape import Landscape, build_landscape
from carbonsink.synthetic.parameters import CLASS_BY_CODE, SCALES
from tests.synthetic.conftest import SEED, digests

WATER, POPLAR = 1, 6
UTM = "EPSG:32649"


@pytest.fixture(scope="module")
def landscape() -> Landscape:
    return build_landscape(SEED, SCALES["small"], epochs=3)


def _cells(landscape: Landscape, n: int, *, water: bool, seed: int) -> np.ndarray:
    """``n`` points (x, y in EPSG:32649) at random cells inside the boundary, 2028 water or land.

    Each point is 0.3 cell from its cell's centre, so it lies in that cell.
    """
    grid = landscape.grid
    classes = landscape.crop(landscape.epochs[-1].class_code)
    mask = grid.boundary_mask(landscape.boundary.buffer(-20.0)) & ((classes == WATER) == water)
    flat = np.random.default_rng(seed).choice(np.flatnonzero(mask), size=n, replace=False)
    rows, cols = np.divmod(flat, grid.width)
    x = grid.transform.c + (cols + 0.8) * grid.resolution
    y = grid.transform.f - (rows + 0.2) * grid.resolution
    return np.column_stack([x, y])


def _write_design(
    path: Path, layers: dict[str, np.ndarray], *, crs: str | None = "EPSG:4326"
) -> Path:
    """A design.gpkg of ``carbonsink design``'s layout, its points given in EPSG:32649."""
    for layer, xy in layers.items():
        columns = {
            "stratum": pd.array(["sedge"] * len(xy), dtype="string"),
            "priority": np.arange(1, len(xy) + 1),
            "revisit": np.zeros(len(xy), dtype=bool),
            "x": xy[:, 0],
            "y": xy[:, 1],
        }
        points = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=UTM)
        if crs is not None:
            points = points.to_crs(crs)
        frame = gpd.GeoDataFrame(columns, geometry=points.to_numpy(), crs=crs)
        with warnings.catch_warnings():  # pyogrio's "'crs' was not provided" for crs=None
            warnings.simplefilter("ignore", UserWarning)
            frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio", geometry_type="Point")
    return path


def _sites(table: pd.DataFrame, lonlat_crs: str) -> tuple[list[str], np.ndarray]:
    """Ids (first row of each) and positions in EPSG:32649 of a soil or plot table."""
    key = "core_id" if "core_id" in table.columns else "plot_id"
    first = table.groupby(key, sort=True).first()
    to_utm = Transformer.from_crs(lonlat_crs, UTM, always_xy=True)
    x, y = to_utm.transform(first["lon"].to_numpy(), first["lat"].to_numpy())
    return list(first.index), np.column_stack([x, y])


# ------------------------------------------------------------ in memory
def test_cores_and_plots_are_taken_at_the_design_points(
    landscape: Landscape, tmp_path: Path
) -> None:
    cores, plot_points = (
        _cells(landscape, 30, water=False, seed=1),
        _cells(landscape, 45, water=False, seed=2),
    )
    path = _write_design(tmp_path / "design.gpkg", {"cores": cores, "plots": plot_points})
    epoch = landscape.epochs[-1]
    design = placed_design(landscape, epoch, read_design(path))
    assert design.skipped == ()
    # Cores: exactly at the points (EPSG:4326 in the file, to 1e-7° ≈ 1 cm in the table),
    # C2028-01 at the layer's first point, and so on.
    soil = design_soil_cores(landscape, epoch, design)
    ids, at = _sites(soil, "EPSG:4326")
    assert ids == [f"C2028-{i:02d}" for i in range(1, 31)]
    assert np.abs(at - cores).max() < 0.05
    assert (soil["method"] == "dichromate").all() and (soil["date"] == "2028-09-20").all()
    assert soil.groupby("core_id").size().isin([4, 5, 6]).all()  # 0–50, 0–70 or 0–100 cm
    # accretion_cm: the true deposit × (1 + 0.1 Z) → the total within 6 % (SE ≈ 0.1/√30 ≈ 1.8 %)
    grid = landscape.grid
    rows, cols = grid.index(cores[:, 0], cores[:, 1])
    deposit = landscape.crop(np.asarray(epoch.deposit_cm))[rows, cols]
    accretion = soil.groupby("core_id", sort=True)["accretion_cm"].first().to_numpy()
    assert accretion.sum() / deposit.sum() == pytest.approx(1.0, abs=0.06)
    # Plots: at the points with the 2 m (per axis) GNSS error: every one within 10 m
    # (5 SDs), and the per-axis RMS error ≈ 2 m (90 values: within 1.5–2.6 m).
    table = design_plots(landscape, epoch, design)
    ids, at = _sites(table, "EPSG:4490")
    assert ids == [f"P2028-{i:03d}" for i in range(1, 46)]
    error = at - plot_points
    assert np.hypot(error[:, 0], error[:, 1]).max() < 10.0
    assert 1.5 < np.sqrt(np.mean(error**2)) < 2.6
    # class and size: the true 2028 class of the point's cell (poplar: 400 m² plots)
    codes = landscape.crop(epoch.class_code)[grid.index(plot_points[:, 0], plot_points[:, 1])]
    assert table["veg_class"].tolist() == [CLASS_BY_CODE[int(c)].name for c in codes]
    assert (table["size_m2"] == np.where(codes == POPLAR, 400.0, 1.0)).all()
    # dead matter on about a third of each class's plots (at least 5, all when fewer)
    assert 0 < table["agb_dead_g_m2"].notna().sum() < len(table)


def test_design_sampling_is_deterministic(landscape: Landscape, tmp_path: Path) -> None:
    xy = _cells(landscape, 12, water=False, seed=3)
    path = _write_design(tmp_path / "d.gpkg", {"cores": xy, "plots": xy}, crs=UTM)
    epoch = landscape.epochs[-1]
    first = placed_design(landscape, epoch, read_design(path))
    again = placed_design(landscape, epoch, read_design(path))
    pd.testing.assert_frame_equal(
        design_soil_cores(landscape, epoch, first), design_soil_cores(landscape, epoch, again)
    )
    pd.testing.assert_frame_equal(
        design_plots(landscape, epoch, first), design_plots(landscape, epoch, again)
    )


def test_points_in_open_water_are_skipped_with_a_warning(
    landscape: Landscape, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    land = _cells(landscape, 10, water=False, seed=4)
    wet = _cells(landscape, 2, water=True, seed=5)
    cores = np.vstack([land[:5], wet[:1], land[5:]])
    path = _write_design(tmp_path / "d.gpkg", {"cores": cores, "plots": np.vstack([wet, land])})
    with caplog.at_level(logging.WARNING, logger="carbonsink"):
        design = placed_design(landscape, landscape.epochs[-1], read_design(path))
    assert len(design.cores) == 10 and len(design.plots) == 10
    np.testing.assert_allclose(design.cores, np.vstack([land[:5], land[5:]]), atol=1e-6)
    assert len(design.skipped) == 3
    # named by file, layer and feature (GeoPackage fids start at 1)
    assert "layer cores: feature 6, stratum sedge, priority 6" in design.skipped[0]
    assert "lies in open water in 2028" in design.skipped[0]
    assert all(str(path) in text for text in design.skipped)
    assert len([r for r in caplog.records if "open water" in r.getMessage()]) == 3


def test_a_point_outside_the_boundary_is_refused(landscape: Landscape, tmp_path: Path) -> None:
    land = _cells(landscape, 5, water=False, seed=6)
    far = land + np.array([5000.0, 0.0])  # 5 km east: past the 2 km wide area
    path = _write_design(
        tmp_path / "d.gpkg", {"cores": land, "plots": np.vstack([land[:2], far[:1]])}
    )
    with pytest.raises(InputError, match="1 of the 3 points lie outside") as info:
        placed_design(landscape, landscape.epochs[-1], read_design(path))
    problem = info.value.problem
    assert problem.path == str(path) and problem.where == "layer plots"
    assert "feature 3, stratum sedge, priority 3 at (" in problem.message
    assert problem.fix and "CRS" in problem.fix


@pytest.mark.parametrize(
    ("make", "error", "match", "where"),
    [
        ("missing", InputNotFoundError, "does not exist", None),
        ("not a file", InputError, "cannot be read as a vector file", None),
        ("no plots layer", InputError, "has no layer 'plots'", None),
        ("no crs", CRSError, "has no CRS", "layer cores"),
        ("empty", InputError, "has no points", "layer plots"),
        ("lines", InputError, "are not points", "layer cores"),
    ],
)
def test_a_bad_design_file_is_a_clear_error(
    landscape: Landscape,
    tmp_path: Path,
    make: str,
    error: type[Exception],
    match: str,
    where: str | None,
) -> None:
    path = tmp_path / "design.gpkg"
    xy = _cells(landscape, 4, water=False, seed=7)
    if make == "not a file":
        path.write_text("cores,plots\n1,2\n", encoding="utf-8")
    elif make == "no plots layer":
        _write_design(path, {"cores": xy})
    elif make == "no crs":
        _write_design(path, {"cores": xy, "plots": xy}, crs=None)
    elif make == "empty":
        _write_design(path, {"cores": xy, "plots": np.zeros((0, 2))})
    elif make == "lines":
        _write_design(path, {"plots": xy})
        line = gpd.GeoDataFrame(geometry=[shapely.LineString(xy[:2])], crs=UTM)
        line.to_file(path, layer="cores", driver="GPKG", engine="pyogrio")
    with pytest.raises(error, match=match) as info:
        read_design(path)
    problem = info.value.problem  # type: ignore[attr-defined]
    assert problem.path == str(path) and problem.where == where and problem.fix


def test_a_design_needs_the_third_epoch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="no third epoch") as info:
        generate_survey(tmp_path / "s", design=tmp_path / "design.gpkg")
    assert info.value.problem.fix == "add epochs=3, or leave out design"
    with pytest.raises(SystemExit) as stop:
        main(["sample-data", str(tmp_path / "s"), "--design", str(tmp_path / "design.gpkg")])
    captured = capsys.readouterr()
    text = " ".join((captured.out + captured.err).split())
    assert stop.value.code == 2, text
    assert "add --epochs 3, or leave out --design" in text and "Traceback" not in text
    assert not (tmp_path / "s").exists()


def test_a_bad_design_exits_2_before_writing(
    landscape: Landscape, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    land = _cells(landscape, 3, water=False, seed=8)
    path = _write_design(tmp_path / "d.gpkg", {"cores": land, "plots": land + 9000.0})
    with pytest.raises(SystemExit) as stop:
        main(["sample-data", str(tmp_path / "s"), "--epochs", "3", "--design", str(path)])
    captured = capsys.readouterr()
    text = " ".join((captured.out + captured.err).split())
    assert stop.value.code == 2, text
    assert "d.gpkg" in text and "layer plots" in text and "3 of the 3 points lie outside" in text
    assert not (tmp_path / "s").exists()


# ------------------------------------------------------------ written surveys
@pytest.fixture(scope="module")
def written(
    landscape: Landscape, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """The same three-epoch survey without and with a design (cores and plots + 1 wet each)."""
    folder = tmp_path_factory.mktemp("design")
    cores = _cells(landscape, 25, water=False, seed=11)
    plot_points = _cells(landscape, 50, water=False, seed=12)
    wet = _cells(landscape, 2, water=True, seed=13)
    path = _write_design(
        folder / "design.gpkg",
        {"cores": np.vstack([cores, wet[:1]]), "plots": np.vstack([wet[1:], plot_points])},
        crs="EPSG:4490",
    )
    plain = generate_survey(folder / "plain", seed=SEED, epochs=3).out_dir
    with pytest.raises(SystemExit) as stop:
        main(["-q", "sample-data", str(folder / "at"), "--epochs", "3", "--design", str(path)])
    assert stop.value.code == 0
    return plain, folder / "at", cores, plot_points


def test_a_design_changes_only_the_2028_samples(
    written: tuple[Path, Path, np.ndarray, np.ndarray],
) -> None:
    plain, at, _, _ = written
    before, after = digests(plain), digests(at)
    assert set(before) == set(after)
    changed = sorted(name for name in before if before[name] != after[name])
    assert changed == ["README.md", "plots_2028.csv", "soil_2028.csv"]
    assert [n for n in before if n.startswith("truth/")] == [
        "truth/totals.json",
        "truth/truth_2020.nc",
        "truth/truth_2025.nc",
        "truth/truth_2028.nc",
    ]
    readme = (at / "README.md").read_text(encoding="utf-8")
    assert "**Sampling design** (`--design design.gpkg`)" in readme
    assert "25 points of its `cores` layer" in readme
    assert "2 points were skipped, in open water in 2028" in readme


def test_the_written_2028_tables_are_at_the_design_points(
    written: tuple[Path, Path, np.ndarray, np.ndarray],
) -> None:
    _, at, cores, plot_points = written
    soil = pd.read_csv(at / "soil_2028.csv")
    _, sites = _sites(soil, "EPSG:4326")
    assert sites.shape == cores.shape and np.abs(sites - cores).max() < 0.05
    plots = pd.read_csv(at / "plots_2028.csv")
    _, recorded = _sites(plots, "EPSG:4490")
    assert recorded.shape == plot_points.shape
    assert np.hypot(*(recorded - plot_points).T).max() < 10.0
    # The truth of the written survey is the in-memory landscape's: the accretion of the
    # cores against the written deposit (the same check as the generator's own cores).
    with xr.open_dataset(at / "truth" / "truth_2028.nc") as ds:
        deposit = ds["deposit_cm"].values.astype(float)
        grid = Grid.from_xarray(ds)
    row, col = grid.index(cores[:, 0], cores[:, 1])
    accretion = soil.groupby("core_id", sort=True)["accretion_cm"].first().to_numpy()
    assert accretion.sum() / deposit[row, col].sum() == pytest.approx(1.0, abs=0.06)
