"""A small synthetic LAS for the tests of the tiled LiDAR chain.

A tilted plane with shrubs, trees and a sparse flat pond, whose true return
kind is kept in each point's ``user_data`` byte (0 ground, 1 vegetation,
2 water).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import laspy
import numpy as np
from pyproj import CRS

CRS_UTM = "EPSG:32649"
X0, Y0, WIDTH, HEIGHT = 400_000.0, 3_300_000.0, 200.0, 160.0  # 20 × 16 cells of 10 m


def terrain(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The true ground: a plane rising 5 % in x and 1 % in y."""
    return 25.0 + 0.05 * (x - X0) + 0.01 * (y - Y0)


def synthetic_points(seed: int = 0) -> dict[str, np.ndarray]:
    """Tilted plane (5 %), shrubs and trees, a flat sparse pond; kind 0/1/2 = ground/veg/water."""
    rng = np.random.default_rng(seed)
    n = int(WIDTH * HEIGHT * 6)
    x = X0 + rng.uniform(0, WIDTH, n)
    y = Y0 + rng.uniform(0, HEIGHT, n)
    pond = np.hypot(x - (X0 + 60), y - (Y0 + 100)) < 25
    kind = np.zeros(n, np.uint8)
    z = terrain(x, y) + rng.normal(0, 0.02, n)
    veg = ~pond & (rng.random(n) < np.where(x - X0 > 110, 0.6, 0.2))
    kind[veg] = 1
    tall = x - X0 > 110
    z[veg] = terrain(x[veg], y[veg]) + np.where(
        tall[veg], rng.uniform(1.0, 12.0, veg.sum()), rng.uniform(0.6, 2.0, veg.sum())
    )
    # Pond: 1/20 of the land density, level 0.5 m below its lowest shore, ± 5 mm.
    level = terrain(np.array([X0 + 35]), np.array([Y0 + 75]))[0] - 0.5
    sparse = pond & (rng.random(n) < 0.05)
    keep = ~pond | sparse
    z[sparse] = level + rng.uniform(-0.005, 0.005, sparse.sum())
    kind[sparse] = 2
    x, y, z, kind = x[keep], y[keep], z[keep], kind[keep]
    # Keep points ≥ 1 cm away from 10 m lines so that tile membership is unambiguous
    # after the LAS's 1 mm quantisation.
    for v in (x, y):
        frac = np.mod(v, 10.0)
        near = (frac < 0.01) | (frac > 9.99)
        v[near] += np.where(frac[near] < 0.01, 0.02, -0.02)
    return {"x": x, "y": y, "z": z, "kind": kind}


def write_las(path: Path, pts: dict[str, np.ndarray], classification: np.ndarray) -> Path:
    """Write the points as a LAS 1.2 file (1 mm scale) with these classes."""
    header = laspy.LasHeader(point_format=3, version="1.2")
    header.scales = np.array([0.001, 0.001, 0.001])
    header.offsets = np.array([X0, Y0, 0.0])
    header.add_crs(CRS.from_user_input(CRS_UTM))
    las = laspy.LasData(header)
    las.x, las.y, las.z = pts["x"], pts["y"], pts["z"]
    las.classification = classification
    las.user_data = pts["kind"]
    las.write(path)
    return path


def assert_same_run(got: Any, expected: Any, *, rasters: bool = True) -> None:
    """Two LiDAR runs (:class:`~carbonsink.lidar.merging.LidarResult`) agree cell for cell."""
    for name in expected.metrics.data_vars:
        np.testing.assert_array_equal(
            got.metrics[name].values, expected.metrics[name].values, err_msg=name
        )
    if rasters:
        np.testing.assert_array_equal(got.dtm.values, expected.dtm.values)
        np.testing.assert_array_equal(got.chm.values, expected.chm.values)
