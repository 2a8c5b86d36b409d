"""Fixtures of the tiled LiDAR chain's tests: the synthetic LAS, run in one tile and in many."""

from __future__ import annotations

import numpy as np
import pytest

from carbonsink.grid import Grid
from carbonsink.lidar.processing import process_lidar
from tests.lidar.synthetic_cloud import CRS_UTM, HEIGHT, WIDTH, X0, Y0, synthetic_points, write_las


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("lidar")
    pts = synthetic_points()
    unclassified = write_las(folder / "unclassified.las", pts, np.ones(pts["x"].size, np.uint8))
    asprs = np.select([pts["kind"] == 0, pts["kind"] == 2], [2, 9], 1).astype(np.uint8)
    classified = write_las(folder / "classified.las", pts, asprs)
    grid = Grid.from_bounds((X0, Y0, X0 + WIDTH, Y0 + HEIGHT), crs=CRS_UTM, resolution=10.0)
    return {"points": pts, "unclassified": unclassified, "classified": classified, "grid": grid}


@pytest.fixture(scope="module")
def one_tile(synthetic: dict):  # type: ignore[no-untyped-def]
    return process_lidar([synthetic["unclassified"]], synthetic["grid"], tile_size=100)


@pytest.fixture(scope="module")
def many_tiles(synthetic: dict):  # type: ignore[no-untyped-def]
    # Tile size 6 cells (60 m) with the 4-cell point halo (test_options.py): 4 × 3 tiles.
    return process_lidar([synthetic["unclassified"]], synthetic["grid"], tile_size=6)
