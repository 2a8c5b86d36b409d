"""The synthetic drone flight's conditions: dense water, flooded land, closed reed beds.

The default conditions are the survey's: the committed sample's point clouds, made with
them, stay byte-identical to the generator's (tests/synthetic/test_generator.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from carbonsink.synthetic.landscape import Landscape, build_landscape
from carbonsink.synthetic.lidar import (
    RETURN_GROUND,
    RETURN_VEGETATION,
    RETURN_WATER,
    FlightConditions,
    _returns,
    ground_at,
)
from carbonsink.synthetic.parameters import CLASS_BY_NAME, SCALES


@pytest.fixture(scope="module")
def landscape() -> Landscape:
    return build_landscape(20240830, SCALES["small"])


def _pulses(landscape: Landscape, cells: np.ndarray, per_cell: int = 50) -> tuple:
    """``per_cell`` pulses spread over each of the (row, col) cells given (UTM x, y)."""
    t = landscape.landscape_grid.transform
    res = landscape.landscape_grid.resolution
    rng = np.random.default_rng(1)
    rows = np.repeat(cells[:, 0], per_cell) + rng.uniform(0.05, 0.95, len(cells) * per_cell)
    cols = np.repeat(cells[:, 1], per_cell) + rng.uniform(0.05, 0.95, len(cells) * per_cell)
    return t.c + cols * res, t.f - rows * res, rows - 0.5, cols - 0.5


def _cells(mask: np.ndarray, n: int = 200) -> np.ndarray:
    cells = np.argwhere(mask)
    return cells[np.linspace(0, len(cells) - 1, min(n, len(cells))).astype(int)]


def test_a_closed_reed_bed_returns_no_ground(landscape: Landscape) -> None:
    epoch = landscape.epochs[-1]
    reed = epoch.class_code == CLASS_BY_NAME["reed"].code
    x, y, _, _ = _pulses(landscape, _cells(reed))
    rng = np.random.default_rng(5)
    closed = _returns(landscape, epoch, x, y, rng, FlightConditions(dense_reed=True))
    open_ = _returns(landscape, epoch, x, y, np.random.default_rng(5), FlightConditions())
    assert (open_["kind"] == RETURN_GROUND).sum() > 100  # reed as surveyed lets some through
    assert not (closed["kind"] == RETURN_GROUND).any()
    # Every pulse hits the canopy: each yields at least one vegetation return.
    assert np.unique(closed["pulse"]).size == x.size


def test_flooded_land_returns_from_the_raised_water(landscape: Landscape) -> None:
    # Raise the water 0.5 m: land cells lower than that are flooded. Their ground
    # returns become water returns at the new level (±8 mm), kept with the odds
    # 0.73 / 0.97; vegetation returns below the level are gone, above it stay.
    epoch = landscape.epochs[-1]
    level = epoch.spec.water_level_m + 0.5
    water = epoch.class_code == CLASS_BY_NAME["water"].code
    x, y, row_f, col_f = _pulses(landscape, _cells(~water & (epoch.elevation_m < level - 0.1)))
    ground = ground_at(epoch, row_f, col_f)
    assert (ground < level).mean() > 0.9
    conditions = FlightConditions(water_return_p=0.73, flood_m=0.5)
    ret = _returns(landscape, epoch, x, y, np.random.default_rng(7), conditions)
    flooded = (ground < level)[ret["pulse"]]
    kind, z = ret["kind"], ret["z"]
    assert not (flooded & (kind == RETURN_GROUND)).any()
    surface = flooded & (kind == RETURN_WATER)
    assert surface.sum() > 1000
    np.testing.assert_allclose(z[surface], level, atol=5 * 0.008)
    assert (z[flooded & (kind == RETURN_VEGETATION)] >= level).all()
    # Water returns are the last of their pulse, under any emergent canopy.
    last = ret["return_number"] == ret["number_of_returns"]
    assert last[surface].all()


def test_flooding_keeps_the_lakes_odds(landscape: Landscape) -> None:
    # The lake returns from 73 % of its pulses flooded or not: raising the level moves
    # its returns up, it does not give the silent pulses a second chance. 10,000
    # pulses: SE √(0.73 · 0.27 / 10,000) = 0.0044, so ± 0.02 is 4.5 SE.
    epoch = landscape.epochs[-1]
    water = epoch.class_code == CLASS_BY_NAME["water"].code
    x, y, _, _ = _pulses(landscape, _cells(water, 200), per_cell=50)
    for flood in (0.0, 0.5):
        conditions = FlightConditions(water_return_p=0.73, flood_m=flood)
        ret = _returns(landscape, epoch, x, y, np.random.default_rng(11), conditions)
        share = np.unique(ret["pulse"][ret["kind"] == RETURN_WATER]).size / x.size
        assert share == pytest.approx(0.73, abs=0.02)
