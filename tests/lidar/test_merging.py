"""Tests of carbonsink.lidar.merging: the merged layers, in memory or streamed to GeoTIFFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

from carbonsink.lidar.processing import process_lidar


def test_every_variable_has_units_and_long_name(one_tile) -> None:  # type: ignore[no-untyped-def]
    for name, da in one_tile.metrics.data_vars.items():
        assert da.attrs.get("units") and da.attrs.get("long_name"), name
    for da in (one_tile.dtm, one_tile.chm):
        assert da.attrs["units"] == "m" and da.attrs.get("long_name")
    assert one_tile.dtm.shape == (160, 200) and one_tile.chm.shape == (320, 400)


def test_streamed_surfaces_equal_the_surfaces_in_memory(
    synthetic: dict,
    one_tile,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    # Tile by tile into GeoTIFFs (tiles of 6 cells) or whole in memory: the same cells.
    streamed = process_lidar(
        [synthetic["unclassified"]],
        synthetic["grid"],
        tile_size=6,
        dtm_path=tmp_path / "dtm.tif",
        chm_path=tmp_path / "chm.tif",
    )
    assert streamed.dtm is None and streamed.chm is None
    assert (streamed.dtm_path, streamed.chm_path) == (tmp_path / "dtm.tif", tmp_path / "chm.tif")
    for path, layer in ((streamed.dtm_path, one_tile.dtm), (streamed.chm_path, one_tile.chm)):
        with rasterio.open(path) as dataset:
            np.testing.assert_array_equal(dataset.read(1), layer.values.astype(np.float32))
            assert dataset.tags()["units"] == "m"
            assert dataset.transform.a == layer.x.values[1] - layer.x.values[0]


def test_surfaces_not_asked_for_are_not_kept(synthetic: dict, one_tile) -> None:  # type: ignore[no-untyped-def]
    # The run keeps no CHM and the DTM only for checkpoints: the metrics are the same.
    dtm_only = process_lidar(
        [synthetic["unclassified"]], synthetic["grid"], tile_size=100, keep_surfaces=("dtm",)
    )
    assert dtm_only.chm is None and dtm_only.chm_path is None
    np.testing.assert_array_equal(dtm_only.dtm.values, one_tile.dtm.values)
    neither = process_lidar(
        [synthetic["unclassified"]], synthetic["grid"], tile_size=100, keep_surfaces=()
    )
    assert neither.dtm is None and neither.chm is None
    for name in one_tile.metrics.data_vars:
        np.testing.assert_array_equal(
            neither.metrics[name].values, one_tile.metrics[name].values, err_msg=name
        )


def test_the_dtm_sampled_while_merging_equals_the_whole_dtm_sampled(
    synthetic: dict,
    one_tile,  # type: ignore[no-untyped-def]
) -> None:
    # Checkpoints need no DTM in memory: sampled tile by tile (tiles of 6 cells, so most
    # points' four DTM cells are on two or four tiles) as the whole DTM's bilinear samples.
    from carbonsink.lidar.checkpoints import raster_of

    whole = raster_of(one_tile.dtm)
    rng = np.random.default_rng(3)
    xmin, ymin, xmax, ymax = synthetic["grid"].bounds
    x = rng.uniform(xmin - 2.0, xmax + 2.0, 300)
    y = rng.uniform(ymin - 2.0, ymax + 2.0, 300)
    tiled = process_lidar(
        [synthetic["unclassified"]], synthetic["grid"], tile_size=6, keep_surfaces=(), dtm_at=(x, y)
    )
    assert tiled.dtm is None and tiled.dtm_at is not None
    expected = np.full(x.size, np.nan)
    on = (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)
    expected[on] = whole.sample(x[on], y[on])
    np.testing.assert_array_equal(tiled.dtm_at, expected)
    assert np.isfinite(expected).sum() > 200


def test_the_tiles_make_only_the_surfaces_the_merge_uses(synthetic: dict, tmp_path: Path) -> None:
    from carbonsink.lidar.merging import Merger
    from carbonsink.lidar.options import LidarOptions

    grid, options = synthetic["grid"], LidarOptions()
    xy = (np.array([grid.bounds[0] + 5.0]), np.array([grid.bounds[1] + 5.0]))

    def needs(**kwargs) -> frozenset[str]:  # type: ignore[no-untyped-def]
        merger = Merger(grid, options, **{"dtm_path": None, "chm_path": None, **kwargs})
        merger.abort()
        return merger.needs

    assert needs(keep=()) == frozenset()
    assert needs(keep=(), dtm_at=xy) == {"dtm"}
    assert needs(keep=("chm",)) == {"chm"}
    assert needs(keep=(), chm_path=tmp_path / "chm.tif") == {"chm"}
    assert needs(keep=("dtm", "chm")) == {"dtm", "chm"}


def test_the_buckets_are_cleared_beside_the_finish_even_when_it_fails(tmp_path: Path) -> None:
    # The merger's finish (the COG conversions) and the deletion of the tiles' buckets run
    # side by side; the buckets go whether the finish succeeds or raises, and only the
    # folder's files go (its subfolders are left to the temporary folder's own cleanup).
    import pytest

    from carbonsink.lidar.processing import _finish_clearing

    class Finishes:
        def finish(self) -> str:
            return "merged"

    class Fails:
        def finish(self) -> str:
            raise OSError("disk full")

    for merger, outcome in ((Finishes(), "merged"), (Fails(), None)):
        folder = tmp_path / type(merger).__name__
        (folder / "kept").mkdir(parents=True)
        for name in ("r0000c0000-00000.bin", "r0000c0000-00001.bin", "labels-r0000c0000.npy"):
            (folder / name).write_bytes(b"\0" * 64)
        if outcome is None:
            with pytest.raises(OSError, match="disk full"):
                _finish_clearing(merger, folder)  # type: ignore[arg-type]
        else:
            assert _finish_clearing(merger, folder) == outcome  # type: ignore[arg-type]
        assert [p.name for p in folder.iterdir()] == ["kept"]
