"""Tests for carbonsink.io._crs: which CRS applies, and whether coordinates fit it."""

from __future__ import annotations

import pytest
from pyproj import CRS

from carbonsink.errors import CRSError
from carbonsink.io._crs import crs_plausibility_problem, resolve_crs

WGS84 = CRS.from_epsg(4326)
UTM49 = CRS.from_epsg(32649)


def test_override_wins_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="carbonsink"):
        crs, source = resolve_crs(WGS84, "EPSG:32649", path="cloud.laz")
    assert (crs, source) == (UTM49, "override")
    assert "cloud.laz" in caplog.text and "replaces the file's EPSG:4326" in caplog.text


def test_same_override_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="carbonsink"):
        assert resolve_crs(UTM49, "EPSG:32649", path="a.tif") == (UTM49, "override")
    assert caplog.text == ""


def test_file_crs_or_none() -> None:
    assert resolve_crs("EPSG:32649", None, path="a.tif") == (UTM49, "file")
    assert resolve_crs(None, None, path="a.tif") == (None, None)


def test_unreadable_override_names_the_file() -> None:
    with pytest.raises(CRSError) as err:
        resolve_crs(None, "EPSG:99999999", path="plots.csv")
    assert str(err.value.path) == "plots.csv"


@pytest.mark.parametrize(
    ("crs", "bounds", "flagged"),
    [
        # UTM metres labelled lon/lat (PDAL lone-star): x in the hundreds of thousands.
        (WGS84, (515_368.6, 4_918_340.4, 515_401.0, 4_918_381.1), True),
        (WGS84, (113.0, 29.3, 113.2, 29.5), False),  # Junshan in degrees
        (WGS84, (-180.5, -90.0, 180.5, 90.0), False),  # global grid, half-cell edges
        # Junshan lon/lat (a 20 km survey spans 0.2 degrees) labelled UTM 49N.
        (UTM49, (113.0, 29.3, 113.2, 29.5), True),
        (UTM49, (0.0, 0.0, 100.0, 80.0), False),  # a real local grid near the origin
        (UTM49, (500_000.0, 3_300_000.0, 501_000.0, 3_301_000.0), False),
        (None, (1e6, 1e7, 2e6, 2e7), False),
    ],
)
def test_plausibility(
    crs: CRS | None, bounds: tuple[float, float, float, float], flagged: bool
) -> None:
    problem = crs_plausibility_problem(crs, bounds)
    assert (problem is not None) is flagged
    if flagged:
        assert problem is not None and "wrong CRS label" in problem
