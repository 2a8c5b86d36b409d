"""Tests of carbonsink.lidar.options: the halo every tile needs."""

from __future__ import annotations

import pytest

from carbonsink.lidar.ground import SMRFParameters
from carbonsink.lidar.options import LidarOptions


def test_halo_covers_the_ground_filter_and_the_dtm_fill() -> None:
    # SMRF's reach with PDAL's defaults: openings up to 18 cells read 2 × 18 = 36 m, the
    # minimum surface's fill 2 cells, the provisional surface's 6 + 4, the bilinear
    # lookup 1 and the canopy-floor test 2 cells: 36 + 15 = 51 m. The water labels it
    # sees reach 60 m (tests/lidar/test_water.py); the DTM fill reaches 6 cells in 4
    # sweeps, plus one cell: 11 cells. 1 m cells: 51 + 60 + 11 = 122 m; 0.5 m:
    # 51 + 60 + 5.5 = 116.5 m; without water detection 51 + 11 = 62 m.
    assert SMRFParameters().reach_m() == pytest.approx(51.0)
    assert LidarOptions().halo_m() == pytest.approx(122.0)
    assert LidarOptions(dtm_cell=0.5).halo_m() == pytest.approx(116.5)
    assert LidarOptions(water=None).halo_m() == pytest.approx(62.0)
    assert LidarOptions(ground="trust").halo_m() == pytest.approx(62.0)
