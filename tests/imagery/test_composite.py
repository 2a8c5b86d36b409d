"""composite_scenes on tiny Sentinel-2-like scenes with hand-set values and SCL masks."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine

from carbonsink.errors import InputError
from carbonsink.grid import Grid
from carbonsink.imagery.composite import composite_scenes, fill_composite_gaps
from carbonsink.imagery.scenes import Scene, read_scene

UTM49 = "EPSG:32649"
#: Upper-left corner of every file and of the grid: 4 rows x 5 cols of 10 m.
X0, Y0, RES = 400_000.0, 3_300_000.0, 10.0
ROWS, COLS = 4, 5
S2_BANDS = ("B02", "B03", "B04", "B08", "B11", "SCL")
SCL_VEGETATION, SCL_SHADOW, SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH = 4, 3, 8, 9


def make_grid(*, x0: float = X0, rows: int = ROWS) -> Grid:
    return Grid(crs=UTM49, transform=Affine(RES, 0.0, x0, 0.0, -RES, Y0), width=COLS, height=rows)


def write_s2(
    path: Path,
    *,
    blue: int = 1500,
    green: int = 1800,
    red: int = 1500,
    nir: int = 4000,
    swir1: int | np.ndarray = 2600,
    scl: dict[tuple[int, int], int] | None = None,
    fill_scl: int = SCL_VEGETATION,
    rows: int = ROWS,
) -> Path:
    """A 6-band uint16 Sentinel-2-like file (B02, B03, B04, B08, B11, SCL) on make_grid()."""
    shape = (rows, COLS)
    layers = [np.full(shape, v, dtype=np.uint16) for v in (blue, green, red, nir)]
    layers.append(np.broadcast_to(np.asarray(swir1, dtype=np.uint16), shape).copy())
    classes = np.full(shape, fill_scl, dtype=np.uint16)
    for (r, c), value in (scl or {}).items():
        classes[r, c] = value
    layers.append(classes)
    values = np.stack(layers)
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": COLS,
        "height": rows,
        "count": len(S2_BANDS),
        "dtype": "uint16",
        "crs": UTM49,
        "transform": Affine(RES, 0.0, X0, 0.0, -RES, Y0),
        "nodata": 0,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values)
        for i, text in enumerate(S2_BANDS, start=1):
            dst.set_band_description(i, text)
    return path


def _swir1(at_2_2: int) -> np.ndarray:
    values = np.full((ROWS, COLS), 2600, dtype=np.uint16)
    values[2, 2] = at_2_2
    return values


@pytest.fixture
def three_files(tmp_path: Path) -> list[Path]:
    """Three scenes of one epoch.

    red DN: 1500, 2500, 1900 → ρ = DN × 1e-4 − 0.1 = 0.05, 0.15, 0.09.
    SCL: (0, 0) cloud in all three; (0, 1) cloud in 2 and shadow in 3;
    (0, 2) medium-probability cloud in 3.
    swir1 DN at (2, 2): 1100, 3000, 1200 (0.01, 0.20, 0.02), elsewhere 2600 (0.16);
    green DN 1800 (0.08) everywhere.
    """
    return [
        write_s2(
            tmp_path / "s1.tif",
            red=1500,
            swir1=_swir1(1100),
            scl={(0, 0): SCL_CLOUD_HIGH},
        ),
        write_s2(
            tmp_path / "s2.tif",
            red=2500,
            swir1=_swir1(3000),
            scl={(0, 0): SCL_CLOUD_HIGH, (0, 1): SCL_CLOUD_HIGH},
        ),
        write_s2(
            tmp_path / "s3.tif",
            red=1900,
            swir1=_swir1(1200),
            scl={(0, 0): SCL_CLOUD_HIGH, (0, 1): SCL_SHADOW, (0, 2): SCL_CLOUD_MEDIUM},
        ),
    ]


def _read(files: list[Path], *, chunks: int | None = None) -> list[Scene]:
    dates = [dt.date(2023, 8, 5), dt.date(2023, 8, 15), None]
    return [
        read_scene(f, make_grid(), sensor="sentinel-2-l2a", chunks=chunks, date=d)
        for f, d in zip(files, dates, strict=True)
    ]


def test_median_and_valid_count_by_hand(three_files: list[Path]) -> None:
    result = composite_scenes(_read(three_files))
    red = result["reflectance"].sel(band="red").values
    count = result["valid_count"].values
    assert result["valid_count"].dtype == np.uint8
    # (0, 0): cloud in every scene → NaN in every band, 0 observations
    assert count[0, 0] == 0
    assert np.isnan(result["reflectance"].values[:, 0, 0]).all()
    # (0, 1): only scene 1 usable → 0.05
    assert count[0, 1] == 1
    assert red[0, 1] == pytest.approx(0.05, abs=1e-6)
    # (0, 2): scenes 1 and 2 → even count, mean of the middle two: (0.05 + 0.15)/2 = 0.10
    assert count[0, 2] == 2
    assert red[0, 2] == pytest.approx(0.10, abs=1e-6)
    # everywhere else: median{0.05, 0.15, 0.09} = 0.09
    expected_count = np.full((ROWS, COLS), 3)
    expected_count[0, :3] = [0, 1, 2]
    np.testing.assert_array_equal(count, expected_count)
    np.testing.assert_allclose(red[1:, :], 0.09, atol=1e-6)
    np.testing.assert_allclose(red[0, 3:], 0.09, atol=1e-6)
    # green is 0.08 in every scene, so its median is 0.08 wherever a scene is usable
    green = result["reflectance"].sel(band="green").values
    np.testing.assert_allclose(green[count > 0], 0.08, atol=1e-6)
    assert result["reflectance"].dtype == np.float32
    assert list(result["reflectance"]["band"].values) == ["blue", "green", "red", "nir", "swir1"]


def test_water_from_composite_mndwi(three_files: list[Path]) -> None:
    result = composite_scenes(_read(three_files))
    # (2, 2): median swir1 {0.01, 0.20, 0.02} = 0.02, green 0.08
    # → MNDWI (0.08 − 0.02)/(0.08 + 0.02) = 0.6 > 0: water (scene 2 alone would say land:
    # (0.08 − 0.20)/0.28 = −0.43). Elsewhere (0.08 − 0.16)/0.24 = −0.33; (0, 0) NaN → not water.
    swir1 = result["reflectance"].sel(band="swir1").values
    assert swir1[2, 2] == pytest.approx(0.02, abs=1e-6)
    water = result["water"].values
    expected = np.zeros((ROWS, COLS), dtype=bool)
    expected[2, 2] = True
    np.testing.assert_array_equal(water, expected)


def test_attributes_record_the_scenes(three_files: list[Path]) -> None:
    result = composite_scenes(_read(three_files))
    assert result.attrs["scenes"] == [str(f) for f in three_files]
    assert result.attrs["scene_dates"] == ["2023-08-05", "2023-08-15", ""]
    # unusable cells: scene 1 (0, 0); scene 2 (0, 0), (0, 1); scene 3 (0, 0)-(0, 2)
    # → 19/20, 18/20, 17/20
    np.testing.assert_allclose(result.attrs["usable_fraction"], [0.95, 0.90, 0.85])
    assert result.attrs["flagged_scenes"] == []
    assert result.attrs["unmasked_scenes"] == []  # every file has its SCL band
    assert result.attrs["sensor"] == "sentinel-2-l2a"


def test_a_scene_without_a_cloud_mask_is_recorded(three_files: list[Path]) -> None:
    # The third scene as read without a quality band: its masks say so, and the
    # composite names it (the ledger's clouds-unmasked warning reads this).
    scenes = _read(three_files)
    masks = scenes[2].masks.copy()
    masks.attrs = {**masks.attrs, "cloud_mask": "none: the scene has no quality band"}
    scenes[2] = dataclasses.replace(scenes[2], masks=masks)
    result = composite_scenes(scenes)
    assert result.attrs["unmasked_scenes"] == [str(three_files[2])]


def test_inputs_are_not_mutated(three_files: list[Path]) -> None:
    scenes = _read(three_files)
    before = [s.reflectance.copy(deep=True) for s in scenes]
    composite_scenes(scenes)
    for scene, copy in zip(scenes, before, strict=True):
        xr.testing.assert_identical(scene.reflectance, copy)


def test_min_usable_fraction_flags_a_partly_clouded_scene(three_files: list[Path]) -> None:
    # Usable fractions 0.95, 0.90, 0.85 (see above): 0.88 leaves out scene 3 only.
    result = composite_scenes(_read(three_files), min_usable_fraction=0.88)
    flagged = result.attrs["flagged_scenes"]
    assert len(flagged) == 1
    assert flagged[0].startswith(str(three_files[2]))
    assert "85.0% usable" in flagged[0]
    # Scenes 1 and 2 remain: (0, 1) only scene 1 (0.05); elsewhere (0.05 + 0.15)/2 = 0.10
    red = result["reflectance"].sel(band="red").values
    count = result["valid_count"].values
    assert (count[0, 0], count[0, 1], count[0, 2]) == (0, 1, 2)
    assert red[0, 1] == pytest.approx(0.05, abs=1e-6)
    np.testing.assert_allclose(red[1:, :], 0.10, atol=1e-6)
    np.testing.assert_array_equal(count[1:, :], 2)
    # The flagged scene still appears in the list of scenes and fractions.
    assert len(result.attrs["usable_fraction"]) == 3


def test_inside_mask_sets_the_fraction(three_files: list[Path]) -> None:
    scenes = _read(three_files)
    inside = xr.zeros_like(scenes[0].masks["cloud"])
    inside[1:, :] = True  # rows 1-3: clear in every scene
    result = composite_scenes(scenes, inside=inside, min_usable_fraction=0.99)
    assert result.attrs["usable_fraction"] == [1.0, 1.0, 1.0]
    assert result.attrs["flagged_scenes"] == []


def test_all_cloud_scene_is_flagged(tmp_path: Path) -> None:
    clear = read_scene(
        write_s2(tmp_path / "clear.tif", red=1700), make_grid(), sensor="sentinel-2-l2a"
    )
    cloudy_file = write_s2(tmp_path / "cloudy.tif", red=3000, fill_scl=SCL_CLOUD_HIGH)
    cloudy = read_scene(cloudy_file, make_grid(), sensor="sentinel-2-l2a")
    result = composite_scenes([clear, cloudy])
    # The median of one observation is that observation: the clear scene itself
    np.testing.assert_array_equal(result["reflectance"].values, clear.reflectance.values)
    np.testing.assert_array_equal(result["valid_count"].values, 1)
    assert result["reflectance"].sel(band="red").values[0, 0] == pytest.approx(0.07, abs=1e-6)
    flagged = result.attrs["flagged_scenes"]
    assert len(flagged) == 1
    assert str(cloudy_file) in flagged[0]
    assert "no usable pixel" in flagged[0]
    assert result.attrs["usable_fraction"] == [1.0, 0.0]

    with pytest.raises(InputError, match="no scene of this epoch has a usable pixel") as info:
        composite_scenes([cloudy, cloudy])
    assert str(cloudy_file) in str(info.value)


def test_no_scene_is_an_error() -> None:
    with pytest.raises(InputError, match="no scene to composite"):
        composite_scenes([])


def test_dask_path_equals_eager_path(three_files: list[Path]) -> None:
    eager = composite_scenes(_read(three_files))
    lazy = composite_scenes(_read(three_files, chunks=2))
    assert dask.is_dask_collection(lazy["reflectance"].data)
    assert dask.is_dask_collection(lazy["valid_count"].data)
    xr.testing.assert_identical(lazy.compute(), eager)


def test_scenes_on_different_grids(tmp_path: Path) -> None:
    a = read_scene(write_s2(tmp_path / "a.tif"), make_grid(), sensor="sentinel-2-l2a")
    short = make_grid(rows=ROWS - 1)
    b = read_scene(write_s2(tmp_path / "b.tif"), short, sensor="sentinel-2-l2a")
    with pytest.raises(InputError, match="grid"):
        composite_scenes([a, b])


def test_scenes_on_shifted_grids_of_the_same_shape(tmp_path: Path) -> None:
    """Same shape, different place: stacking them would mix different ground cells."""
    path = write_s2(tmp_path / "a.tif")
    a = read_scene(path, make_grid(), sensor="sentinel-2-l2a")
    b = read_scene(path, make_grid(x0=X0 + RES), sensor="sentinel-2-l2a")  # one cell east
    with pytest.raises(InputError, match="grid"):
        composite_scenes([a, b])


def test_fill_gaps_takes_the_nearest_observed_cell(three_files: list[Path]) -> None:
    composite = composite_scenes(_read(three_files))
    filled = fill_composite_gaps(composite)
    # (0, 0) had no usable observation; its nearest observed cells are (0, 1) and
    # (1, 0) at distance 1. (1, 0) holds the three-scene median 0.09 and (0, 1) the
    # single observation 0.05; the distance transform picks one of them.
    red = filled["reflectance"].sel(band="red").values
    assert red[0, 0] in (pytest.approx(0.05, abs=1e-6), pytest.approx(0.09, abs=1e-6))
    assert np.isfinite(filled["reflectance"].values).all()
    assert filled["gap_filled"].values.sum() == 1 and bool(filled["gap_filled"].values[0, 0])
    assert filled.attrs["gap_filled_cells"] == 1
    # Observed cells are untouched, and the input is not modified.
    np.testing.assert_array_equal(
        red[1:, :], composite["reflectance"].sel(band="red").values[1:, :]
    )
    assert np.isnan(composite["reflectance"].values[:, 0, 0]).all()
    # Outside the survey mask a gap stays a gap.
    outside = xr.zeros_like(composite["valid_count"], dtype=bool)
    kept = fill_composite_gaps(composite, inside=outside)
    assert np.isnan(kept["reflectance"].values[:, 0, 0]).all()
    assert kept.attrs["gap_filled_cells"] == 0
