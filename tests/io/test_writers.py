"""Tests for carbonsink.io.writers: atomic writes, COG, NetCDF, JSON, CSV."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

from carbonsink.errors import OutputError
from carbonsink.grid import Grid
from carbonsink.io.writers import (
    WRITE_CHUNK_CACHE_BYTES,
    atomic_path,
    write_cog,
    write_csv,
    write_json,
    write_netcdf,
)

X0, Y0 = 684_000.0, 3_254_000.0  # UTM 49N, ~112.9°E 29.4°N


def _grid(width: int, height: int, res: float = 10.0) -> Grid:
    return Grid.from_bounds(
        (X0, Y0, X0 + width * res, Y0 + height * res), crs="EPSG:32649", resolution=res
    )


@pytest.fixture
def big_layer() -> xr.DataArray:
    """600 x 520 float32 layer (> one 256-px block, so the COG gets overviews), some NaN."""
    g = _grid(600, 520)
    values = (np.arange(520 * 600, dtype=np.float32) % 97).reshape(520, 600)
    values[0, 0] = np.nan
    values[100:110, 200:230] = np.nan
    return g.dataarray(values, name="agb", units="Mg DM/ha", long_name="Aboveground biomass")


@pytest.fixture
def small_dataset() -> xr.Dataset:
    g = _grid(7, 5)
    ds = g.dataset(attrs={"epoch": "2024"})
    soc = np.linspace(10.0, 44.0, 35).reshape(5, 7)
    soc[2, 3] = np.nan
    ds["soc"] = g.dataarray(soc, name="soc", units="Mg C/ha", long_name="Soil organic carbon")
    cls = (np.arange(35) % 3).astype(np.uint8).reshape(5, 7)
    ds["cover"] = g.dataarray(
        cls,
        name="cover",
        units="1",
        long_name="Land cover",
        attrs={"flag_values": np.array([0, 1, 2], dtype=np.uint8), "flag_meanings": "w r m"},
    )
    return ds


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


# ----------------------------------------------------------------- atomic_path
def test_atomic_path_success(tmp_path: Path) -> None:
    final = tmp_path / "sub" / "dir" / "ledger.json"  # parents are created
    with atomic_path(final) as tmp:
        assert tmp.parent == final.parent  # same folder: the rename is atomic
        assert tmp != final
        tmp.write_text("{}")
        assert not final.exists()  # nothing under the final name before success
    assert final.read_text() == "{}"
    assert _listing(final.parent) == ["ledger.json"]


def test_atomic_path_failure_leaves_nothing(tmp_path: Path) -> None:
    final = tmp_path / "out.tif"
    with pytest.raises(RuntimeError, match="boom"), atomic_path(final) as tmp:
        tmp.write_bytes(b"half a file")
        raise RuntimeError("boom")
    assert _listing(tmp_path) == []


def test_atomic_path_failure_keeps_existing_file(tmp_path: Path) -> None:
    final = tmp_path / "out.csv"
    final.write_text("old content\n")
    with pytest.raises(KeyboardInterrupt), atomic_path(final) as tmp:
        tmp.write_text("new, partial")
        raise KeyboardInterrupt  # an interrupted run
    assert final.read_text() == "old content\n"
    assert _listing(tmp_path) == ["out.csv"]


def test_atomic_path_replaces_existing_file(tmp_path: Path) -> None:
    final = tmp_path / "out.csv"
    final.write_text("old\n")
    with atomic_path(final) as tmp:
        tmp.write_text("new\n")
    assert final.read_text() == "new\n"
    assert _listing(tmp_path) == ["out.csv"]


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_atomic_path_file_mode_follows_umask(tmp_path: Path, mask: int, mode: int) -> None:
    # A file created normally has mode 0o666 & ~umask: 0o644 for umask 022, 0o640 for 027.
    # (tempfile.mkstemp always makes 0o600, which left outputs unreadable to the group.)
    old = os.umask(mask)
    try:
        path = write_json({"a": 1}, tmp_path / "x.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_atomic_path_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    with pytest.raises(OutputError) as info, atomic_path(blocker / "x.json"):
        pass  # pragma: no cover
    assert str(blocker) in str(info.value)
    assert "fix:" in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_atomic_path_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="cannot create a file"), atomic_path(folder / "x"):
            pass  # pragma: no cover
    finally:
        folder.chmod(0o700)


# ------------------------------------------------------------------------ COG
def test_write_cog_is_a_valid_cog(tmp_path: Path, big_layer: xr.DataArray) -> None:
    path = write_cog(big_layer, tmp_path / "agb.tif")
    assert path == tmp_path / "agb.tif"
    assert _listing(tmp_path) == ["agb.tif"]
    with rasterio.open(path) as src:
        assert src.profile["tiled"] is True
        assert (src.profile["blockxsize"], src.profile["blockysize"]) == (256, 256)
        # 600 x 520 > 256: overviews at 2 (300 x 260) and 4 (150 x 130 < 256).
        assert src.overviews(1) == [2, 4]
        layout = src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT")
        if layout is not None:  # GDAL >= 3.1 reports it
            assert layout == "COG"
        assert src.crs.to_epsg() == 32649
        assert tuple(src.transform)[:6] == (10.0, 0.0, X0, 0.0, -10.0, Y0 + 5200.0)
        assert (src.width, src.height, src.count) == (600, 520, 1)
        assert src.dtypes[0] == "float32"
        assert src.nodata is not None and np.isnan(src.nodata)
        tags = src.tags()
        assert tags["units"] == "Mg DM/ha"
        assert tags["long_name"] == "Aboveground biomass"
        data = src.read(1)
    np.testing.assert_array_equal(data, big_layer.values)  # NaN positions included
    assert int(np.isnan(data).sum()) == 1 + 10 * 30


def test_write_cog_small_int_layer_with_extra_tags(tmp_path: Path) -> None:
    g = _grid(40, 30)
    classes = (np.arange(1200) % 4).astype(np.uint8).reshape(30, 40)
    da = g.dataarray(classes, name="cover", units="1", long_name="Land cover")
    path = write_cog(da, tmp_path / "cover.tif", nodata=255, tags={"epoch": "2024"})
    with rasterio.open(path) as src:
        assert src.profile["tiled"] is True
        assert src.overviews(1) == []  # 40 x 30 fits in one block
        assert src.nodata == 255
        assert src.dtypes[0] == "uint8"
        assert src.tags()["epoch"] == "2024"
        np.testing.assert_array_equal(src.read(1), classes)


def test_write_cog_band_descriptions(tmp_path: Path) -> None:
    g = _grid(6, 4)
    base = g.dataarray(np.zeros((4, 6)), name="refl", units="1", long_name="Reflectance")
    stack = xr.concat([base, base + 1, base + 2], dim="band").assign_coords(
        band=["red", "nir", "swir"]
    )
    path = write_cog(stack, tmp_path / "stack.tif")
    with rasterio.open(path) as src:
        assert src.count == 3
        assert src.descriptions == ("red", "nir", "swir")
        assert src.read(2).tolist() == np.ones((4, 6)).tolist()


def test_write_cog_without_crs(tmp_path: Path) -> None:
    da = xr.DataArray(np.zeros((3, 3)), dims=("y", "x"), name="bare")
    with pytest.raises(OutputError, match="has no CRS") as info:
        write_cog(da, tmp_path / "bare.tif")
    assert "bare.tif" in str(info.value)
    assert _listing(tmp_path) == []


def test_write_cog_failure_leaves_no_file(tmp_path: Path, big_layer: xr.DataArray) -> None:
    final = tmp_path / "agb.tif"
    with pytest.raises(TypeError, match="bool"):  # GeoTIFF has no bool type
        write_cog(big_layer > 10, final)
    assert _listing(tmp_path) == []
    # An existing output is left untouched by a failed rewrite.
    write_cog(big_layer, final)
    before = final.read_bytes()
    with pytest.raises(TypeError):
        write_cog(big_layer > 10, final)
    assert final.read_bytes() == before
    assert _listing(tmp_path) == ["agb.tif"]


def test_write_cog_works_without_importing_rioxarray(tmp_path: Path) -> None:
    # The .rio accessor exists only once rioxarray is imported; write_cog used it
    # without importing it (AttributeError: 'DataArray' object has no attribute 'rio').
    # In a fresh interpreter, build a layer whose CRS is recorded the CF/rioxarray way
    # (a spatial_ref coordinate with crs_wkt) without importing rioxarray.
    script = f"""
import sys
import numpy as np, xarray as xr
from pyproj import CRS
from carbonsink.io.writers import write_cog
wkt = CRS.from_epsg(32649).to_wkt()
da = xr.DataArray(
    np.ones((2, 3), dtype="float32"), dims=("y", "x"),
    coords={{"y": [15.0, 5.0], "x": [5.0, 15.0, 25.0],
            "spatial_ref": ((), 0, {{"crs_wkt": wkt, "spatial_ref": wkt}})}},
)
da.encoding["grid_mapping"] = "spatial_ref"
assert "rioxarray" not in sys.modules
write_cog(da, {str(tmp_path / "a.tif")!r})
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with rasterio.open(tmp_path / "a.tif") as src:
        assert src.crs.to_epsg() == 32649
        # x centres 5, 15, 25 and y centres 15, 5 -> 10 m cells, upper-left (0, 20).
        assert tuple(src.transform)[:6] == (10.0, 0.0, 0.0, 0.0, -10.0, 20.0)


# --------------------------------------------------------------------- NetCDF
def test_write_netcdf_round_trip(tmp_path: Path, small_dataset: xr.Dataset) -> None:
    path = write_netcdf(small_dataset, tmp_path / "epoch.nc")
    assert _listing(tmp_path) == ["epoch.nc"]
    with xr.open_dataset(path, decode_coords="all") as back:
        back = back.load()
    np.testing.assert_array_equal(back["soc"].values, small_dataset["soc"].values)
    np.testing.assert_array_equal(back["cover"].values, small_dataset["cover"].values)
    assert back["cover"].dtype == np.uint8
    # CF-1.8 (docs/design.md §5): "Mg C/ha" becomes UDUNITS' "Mg ha-1", the label is kept
    # and the substance joins the long name; "1" and the flags' type are CF's already.
    assert back["soc"].attrs["units"] == "Mg ha-1"
    assert back["soc"].attrs["units_label"] == "Mg C/ha"
    assert back["soc"].attrs["long_name"] == "Soil organic carbon"  # "carbon" is in it
    assert back["cover"].attrs["units"] == "1"
    assert back["cover"].attrs["long_name"] == "Land cover"
    assert back.attrs["Conventions"] == "CF-1.8" and back.attrs["source"].startswith("carbonsink")
    assert small_dataset["soc"].attrs["units"] == "Mg C/ha"  # the caller's Dataset unchanged
    assert back["cover"].attrs["flag_meanings"] == "w r m"
    assert back.attrs["epoch"] == "2024"
    assert back["soc"].encoding.get("zlib") is True
    # CRS and grid survive: the file is on the same grid.
    assert back.rio.crs.to_epsg() == 32649
    assert Grid.from_xarray(back) == Grid.from_xarray(small_dataset)
    np.testing.assert_array_equal(back["x"].values, small_dataset["x"].values)
    # The caller's Dataset is not modified (its encoding gets no zlib keys).
    assert "zlib" not in small_dataset["soc"].encoding
    assert small_dataset["soc"].encoding.get("grid_mapping") == "spatial_ref"


def test_write_netcdf_failure_leaves_no_file(tmp_path: Path, small_dataset: xr.Dataset) -> None:
    bad = small_dataset.copy()
    bad.attrs["nested"] = {"a": 1}  # netCDF attributes cannot hold a dict
    final = tmp_path / "epoch.nc"
    with pytest.raises(TypeError, match="nested"):
        write_netcdf(bad, final)
    assert _listing(tmp_path) == []
    write_netcdf(small_dataset, final)
    before = final.read_bytes()
    with pytest.raises(TypeError):
        write_netcdf(bad, final)
    assert final.read_bytes() == before
    assert _listing(tmp_path) == ["epoch.nc"]


def test_write_netcdf_restores_the_chunk_cache(tmp_path: Path, small_dataset: xr.Dataset) -> None:
    # The write's small per-variable cache (WRITE_CHUNK_CACHE_BYTES) is the write's only,
    # also when it fails.
    import netCDF4

    before = netCDF4.get_chunk_cache()
    assert before[0] != WRITE_CHUNK_CACHE_BYTES
    write_netcdf(small_dataset, tmp_path / "epoch.nc")
    assert netCDF4.get_chunk_cache() == before
    bad = small_dataset.copy()
    bad.attrs["nested"] = {"a": 1}
    with pytest.raises(TypeError):
        write_netcdf(bad, tmp_path / "bad.nc")
    assert netCDF4.get_chunk_cache() == before


# ----------------------------------------------------------------------- JSON
def test_write_json_sorted_keys_exact_text(tmp_path: Path) -> None:
    path = write_json({"b": 1, "a": {"d": 2, "c": [3, None]}}, tmp_path / "x.json")
    # By construction: keys sorted at every level, 2-space indent, trailing newline.
    expected = (
        '{\n  "a": {\n    "c": [\n      3,\n      null\n    ],\n    "d": 2\n  },\n  "b": 1\n}\n'
    )
    assert path.read_text(encoding="utf-8") == expected


def test_write_json_converts_numpy_paths_dates_and_keeps_unicode(tmp_path: Path) -> None:
    obj = {
        "n": np.int64(3),
        "f": np.float32(0.5),
        "arr": np.array([1.5, 2.0]),
        "path": Path("out") / "agb.tif",
        "date": dt.date(2024, 5, 1),
        "unit": "亩",
        "t": (1, 2),
    }
    path = write_json(obj, tmp_path / "x.json")
    text = path.read_text(encoding="utf-8")
    assert "亩" in text  # UTF-8, not \\u escapes
    assert json.loads(text) == {
        "n": 3,
        "f": 0.5,
        "arr": [1.5, 2.0],
        "path": "out/agb.tif",
        "date": "2024-05-01",
        "unit": "亩",
        "t": [1, 2],
    }


@pytest.mark.parametrize(
    ("obj", "where"),
    [
        ({"a": {"b": [1.0, float("nan")]}}, "$.a.b[1]"),
        ({"total": float("inf")}, "$.total"),
        ({"x": np.float64("nan")}, "$.x"),
        ({"x": [{"y": np.float32("nan")}]}, "$.x[0].y"),  # float32 is not a Python float
        ({"arr": np.array([1.0, -np.inf])}, "$.arr[1]"),  # inside an array
    ],
)
def test_write_json_refuses_nan_naming_the_key(
    tmp_path: Path, obj: dict[str, object], where: str
) -> None:
    with pytest.raises(OutputError) as info:
        write_json(obj, tmp_path / "x.json")
    msg = str(info.value)
    assert f"value at {where} is" in msg
    assert "null" in msg  # the fix
    assert _listing(tmp_path) == []


def test_write_json_keeps_existing_file_on_nan(tmp_path: Path) -> None:
    final = tmp_path / "ledger.json"
    write_json({"ok": 1.0}, final)
    before = final.read_bytes()
    with pytest.raises(OutputError):
        write_json({"ok": float("nan")}, final)
    assert final.read_bytes() == before


# ------------------------------------------------------------------------ CSV
def test_write_csv_round_trip(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "plot_id": ["P1", "P2", "芦苇"],
            "agb_mg_ha": [12.8, 0.01, 3.0],
            "n_trees": [3, 0, 7],
        }
    )
    path = write_csv(frame, tmp_path / "plots.csv")
    raw = path.read_bytes()
    assert b"\r\n" not in raw
    assert raw.decode("utf-8").splitlines()[0] == "plot_id,agb_mg_ha,n_trees"
    back = pd.read_csv(path)
    pd.testing.assert_frame_equal(back, frame)


def test_write_csv_float_format_and_index(tmp_path: Path) -> None:
    frame = pd.DataFrame({"v": [1.0 / 3.0, 2.0]}, index=pd.Index(["a", "b"], name="k"))
    path = write_csv(frame, tmp_path / "t.csv", index=True, float_format="%.3f")
    # 1/3 -> 0.333, 2 -> 2.000
    assert path.read_text(encoding="utf-8") == "k,v\na,0.333\nb,2.000\n"


# ------------------------------------------------------------ determinism
def test_identical_inputs_give_identical_bytes(
    tmp_path: Path, big_layer: xr.DataArray, small_dataset: xr.Dataset
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        write_json({"z": 1, "a": [0.1, 2]}, folder / "x.json")
        write_csv(pd.DataFrame({"v": [0.1, 0.2]}), folder / "x.csv")
        write_cog(big_layer, folder / "x.tif")
        write_netcdf(small_dataset, folder / "x.nc")
    for name in ("x.json", "x.csv", "x.tif", "x.nc"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_write_layer_cog_streams_a_lazy_layer_in_strips(tmp_path: Path) -> None:
    import dask.array as da

    from carbonsink.io.writers import write_layer_cog

    g = _grid(7, 10)
    values = np.arange(70, dtype=np.float32).reshape(10, 7)
    values[4, 2] = np.nan
    layer = g.dataarray(
        da.from_array(values, chunks=(3, 4)), name="ndvi", units="1", long_name="NDVI"
    )
    calls: list[tuple[int, int]] = []
    path = write_layer_cog(
        layer, tmp_path / "ndvi.tif", block_rows=4, on_block=lambda d, t: calls.append((d, t))
    )
    # 10 rows in strips of 4: 4, 8, 10.
    assert calls == [(4, 10), (8, 10), (10, 10)]
    with rasterio.open(path) as src:
        np.testing.assert_array_equal(src.read(1), values)
        assert src.tags()["long_name"] == "NDVI"
        assert src.transform == g.transform


def test_write_layer_cog_bool_and_legend(tmp_path: Path) -> None:
    from carbonsink.io.writers import write_layer_cog

    g = _grid(3, 2)
    mask = g.dataarray(
        np.array([[True, False, True], [False, False, True]]),
        name="water",
        units="1",
        long_name="water",
        attrs={"flag_values": [0, 1], "flag_meanings": "land water"},
    )
    with rasterio.open(write_layer_cog(mask, tmp_path / "water.tif")) as src:
        assert src.dtypes == ("uint8",)
        np.testing.assert_array_equal(src.read(1), [[1, 0, 1], [0, 0, 1]])
        assert src.tags()["flag_meanings"] == "land water"


def test_write_layer_cog_refuses_3d_and_crs_less_layers(tmp_path: Path) -> None:
    from carbonsink.io.writers import write_layer_cog

    with pytest.raises(OutputError, match="single-band"):
        write_layer_cog(xr.DataArray(np.zeros((2, 2, 2)), name="x"), tmp_path / "a.tif")
    with pytest.raises(OutputError, match="no CRS"):
        write_layer_cog(xr.DataArray(np.zeros((2, 2)), dims=("y", "x")), tmp_path / "b.tif")
    assert not list(tmp_path.iterdir())


def test_write_layer_cogs_writes_several_layers_from_shared_input(tmp_path: Path) -> None:
    import dask.array as da

    from carbonsink.io.writers import write_layer_cogs

    g = _grid(5, 6)
    base = g.dataarray(
        da.from_array(np.arange(30, dtype=np.float32).reshape(6, 5), chunks=2),
        name="b",
        units="1",
        long_name="b",
    )
    doubled = base * 2
    doubled.name = "doubled"
    positive = base > 10
    positive.name = "positive"
    paths = write_layer_cogs(
        [doubled, positive], [tmp_path / "d.tif", tmp_path / "p.tif"], block_rows=4
    )
    with rasterio.open(paths[0]) as src:
        np.testing.assert_array_equal(src.read(1), np.arange(30).reshape(6, 5) * 2)
    with rasterio.open(paths[1]) as src:
        np.testing.assert_array_equal(
            src.read(1), (np.arange(30).reshape(6, 5) > 10).astype(np.uint8)
        )


def test_write_layer_cogs_refuses_mismatched_layers_and_publishes_nothing(tmp_path: Path) -> None:
    from carbonsink.io.writers import write_layer_cogs

    a = _grid(5, 6).dataarray(np.zeros((6, 5)), name="a", units="1", long_name="a")
    b = _grid(4, 6).dataarray(np.zeros((6, 4)), name="b", units="1", long_name="b")
    with pytest.raises(OutputError, match="write layers of one grid together"):
        write_layer_cogs([a, b], [tmp_path / "a.tif", tmp_path / "b.tif"])
    with pytest.raises(OutputError, match="one output path per layer"):
        write_layer_cogs([a], [])
    assert not list(tmp_path.iterdir())


def test_windowed_cog_equals_gdal_default_conversion_and_leaves_no_scratch(
    tmp_path: Path, big_layer: xr.DataArray
) -> None:
    # The writer has GDAL keep its temporary overviews uncompressed (faster); the COG
    # must hold the same bytes as GDAL's default conversion (ZSTD temporaries) of the
    # same scratch, overviews included (600 x 520 cells: levels 2 and 4 of 256-px blocks).
    import rasterio.shutil

    from carbonsink.io.writers import WindowedCOGWriter

    values = big_layer.values
    kwargs = {
        "width": 600,
        "height": 520,
        "transform": big_layer.rio.transform(),
        "crs": "EPSG:32649",
        "tags": {"units": "Mg DM/ha", "long_name": "Aboveground biomass"},
    }
    writer = WindowedCOGWriter(tmp_path / "out" / "agb.tif", **kwargs)
    for row in range(0, 520, 200):  # three strips, the last one 120 rows
        writer.write(values[row : row + 200], row_off=row, col_off=0)
    path = writer.close()
    assert _listing(tmp_path / "out") == ["agb.tif"]

    reference = WindowedCOGWriter(tmp_path / "ref" / "scratch.tif", **kwargs)
    reference.write(values, row_off=0, col_off=0)
    reference._dataset.close()  # the scratch as close() finds it, converted the default way
    with rasterio.open(reference._partial) as src:
        rasterio.shutil.copy(
            src,
            tmp_path / "ref" / "agb.tif",
            driver="COG",
            compress="DEFLATE",
            level=1,
            blocksize=256,
            overview_resampling="average",
            BIGTIFF="IF_SAFER",
        )
    assert path.read_bytes() == (tmp_path / "ref" / "agb.tif").read_bytes()
    with rasterio.open(path) as src:
        assert src.overviews(1) == [2, 4]
        np.testing.assert_array_equal(src.read(1), values)
