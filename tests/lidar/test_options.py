"""Tests of carbonsink.lidar.options: the halo every tile needs."""

from __future__ import annotations

import pytest

from carbonsink.lidar.ground import SMRFParameters
from carbonsink.lidar.options import LidarOptions


def test_halo_covers_the_ground_filter_and_the_dtm_fill() -> None:
    # SMRF's reach with PDAL's defaults is 49 m; the water labels it sees reach 60 m
    # (tests/lidar/test_water.py); the DTM fill reaches 6 cells in 4 sweeps, plus one
    # cell: 11 cells. 1 m cells: 49 + 60 + 11 = 120 m; 0.5 m: 49 + 60 + 5.5 = 114.5 m;
    # without water detection (or trusting the files' classes) 49 + 11 = 60 m.
    assert SMRFParameters().reach_m() == pytest.approx(49.0)
    assert LidarOptions().halo_m() == pytest.approx(120.0)
    assert LidarOptions(dtm_cell=0.5).halo_m() == pytest.approx(114.5)
    assert LidarOptions(water=None).halo_m() == pytest.approx(60.0)
    assert LidarOptions(ground="trust").halo_m() == pytest.approx(60.0)
