"""Tests of carbonsink.lidar.options: the halo every tile needs."""

from __future__ import annotations

import pytest

from carbonsink.lidar.ground import SMRFParameters
from carbonsink.lidar.options import LidarOptions


def test_halo_covers_the_ground_filter_and_the_dtm_fill() -> None:
    # SMRF's reach with PDAL's defaults: openings up to 18 cells read 2 × 18 = 36 m, the
    # minimum surface's fill 2 cells, the provisional surface's 6 + 4, the bilinear
    # lookup 1, the canopy-floor test with its edge step 4k + 4 = 12 cells for k = 2
    # (the plane of the terrain within 2(k + 1) cells of a strip cell, whose cells are
    # terrain when no floor lies within k + 1, each floor reading k cells, and the
    # points one cell farther) and the half cell of a point's own cell, rounded up: 1.
    # 36 + 26 = 62 m. The water labels it sees reach 60 m (tests/lidar/test_water.py).
    # Both reaches are carried by the cells tiles share (carbonsink.lidar.phases); the
    # points a tile holds around its core reach its inner window — the terrain margin
    # (12.5 m, below) in whole DTM (1 m) and CHM (0.5 m) cells: 13 m — and, when SMRF
    # runs, the tested region beyond it (the canopy-floor tests' 12 SMRF cells and one
    # more, the window's edge not falling on a cell's) and the SMRF cell its last points
    # fall in: 14 m; and at least two water (2 m) or SMRF cells. On 10 m cells:
    # ⌈(13 + 14)/10⌉ = 3 cells; on 1 m cells 27; on 2 m cells ⌈13.5⌉ = 14; with 0.5 m DTM
    # cells (margin 5.5 + 0.5 + 0.5 = 6.5 m, on both lattices) ⌈20.5/10⌉ = 3; without
    # water detection 3 as well (two SMRF cells are 2 m); with the files' ground
    # (``trust``) the inner window alone: ⌈13/10⌉ = 2.
    assert SMRFParameters().floor_reach_cells() == 12
    assert SMRFParameters().reach_m() == pytest.approx(62.0)
    assert SMRFParameters(floor_edge=False).reach_m() == pytest.approx(53.0)
    assert LidarOptions().tested_reach_m() == pytest.approx(13.0)
    assert LidarOptions().inner_margin_m(10.0) == 13.0
    assert LidarOptions(dtm_cell=0.5).inner_margin_m(10.0) == 6.5
    assert LidarOptions().halo_cells(10.0) == 3
    assert LidarOptions().halo_cells(1.0) == 27
    assert LidarOptions().halo_cells(2.0) == 14
    assert LidarOptions(dtm_cell=0.5).halo_cells(10.0) == 3
    assert LidarOptions(water=None).halo_cells(10.0) == 3
    assert LidarOptions(ground="trust").halo_cells(10.0) == 2
    # Cells that do not nest: a 1 m DTM and a 0.4 m CHM meet every 2 m, so the margin
    # 11 × 1 + 1 + 0.4 = 12.4 m rounds up to 14 m.
    assert LidarOptions(chm_cell=0.4).terrain_margin_m() == pytest.approx(12.4)
    assert LidarOptions(chm_cell=0.4).inner_margin_m(10.0) == 14.0
    # 0.2 m DTM and 0.1 m CHM cells: 2.5 m in whole 0.2 m cells is 2.6 m, not a binary
    # fraction (floating point does not hold it exactly): whole grid cells instead, one
    # of 10 m or one of 3 m.
    assert LidarOptions(dtm_cell=0.2, chm_cell=0.1).inner_margin_m(10.0) == 10.0
    assert LidarOptions(dtm_cell=0.2, chm_cell=0.1).inner_margin_m(3.0) == 3.0
    # The margin the terrain, heights and metrics of a tile's core are made in: the
    # DTM's 11 cells, one DTM cell and one CHM cell more: 12.5 m.
    assert LidarOptions().terrain_margin_m() == pytest.approx(12.5)
