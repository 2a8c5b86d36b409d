"""Tests of carbonsink.lidar.options: the halo every tile needs."""

from __future__ import annotations

import pytest

from carbonsink.lidar.ground import SMRFParameters
from carbonsink.lidar.options import LidarOptions


def test_halo_covers_the_ground_filter_and_the_dtm_fill() -> None:
    # SMRF's reach with PDAL's defaults: openings up to 18 cells read 2 × 18 = 36 m, the
    # minimum surface's fill 2 cells, the provisional surface's 6 + 4, the bilinear
    # lookup 1 and the canopy-floor test 2 + 2 cells (its window, the points of the
    # cells it reads and the half cell of a point's own cell, rounded up): 36 + 17 =
    # 53 m. The water labels it sees reach 60 m (tests/lidar/test_water.py); the DTM
    # fill reaches 6 cells in 4 sweeps, plus one cell: 11 cells. 1 m cells: 53 + 60 +
    # 11 = 124 m; 0.5 m: 53 + 60 + 5.5 = 118.5 m; without water detection 53 + 11 = 64 m.
    assert SMRFParameters().reach_m() == pytest.approx(53.0)
    assert LidarOptions().halo_m() == pytest.approx(124.0)
    assert LidarOptions(dtm_cell=0.5).halo_m() == pytest.approx(118.5)
    assert LidarOptions(water=None).halo_m() == pytest.approx(64.0)
    assert LidarOptions(ground="trust").halo_m() == pytest.approx(64.0)
