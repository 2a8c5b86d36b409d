"""Tests for carbonsink.crs: parse, label, projected check, UTM zone, override, plausibility."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import CRS

from carbonsink.crs import (
    as_crs,
    crs_label,
    crs_plausibility_problem,
    require_projected_crs,
    resolve_crs,
    suggest_utm_crs,
    transformer,
)
from carbonsink.errors import CRSError

WGS84 = CRS.from_epsg(4326)
UTM49 = CRS.from_epsg(32649)  # WGS 84 / UTM zone 49N (Dongting Lake area, 108-114°E)


# ------------------------------------------------------------- parse and label
def test_crs_label_with_and_without_an_epsg_code() -> None:
    # EPSG:32649 is named "WGS 84 / UTM zone 49N" in the EPSG database.
    assert crs_label(UTM49) == "EPSG:32649 (WGS 84 / UTM zone 49N)"
    # A CRS built from a PROJ string has no EPSG code and PROJ names it "unknown":
    # the label is that name in double quotes.
    custom = CRS.from_proj4("+proj=tmerc +lon_0=112.5 +k=1 +x_0=500000 +ellps=GRS80 +units=m")
    assert custom.to_epsg() is None
    assert crs_label(custom) == '"unknown"'


# ------------------------------------------------------------- projected, UTM
def test_geographic_crs_refused_with_utm_suggestion() -> None:
    # 112.9°E: zone = floor((112.9 + 180) / 6) + 1 = floor(48.82) + 1 = 49; 29.4°N is
    # north -> WGS 84 / UTM zone 49N = EPSG:32600 + 49 = EPSG:32649.
    with pytest.raises(CRSError) as info:
        require_projected_crs("EPSG:4326", lonlat_hint=(112.9, 29.4))
    msg = str(info.value)
    assert "geographic" in msg and "degrees" in msg
    assert "EPSG:32649" in msg
    assert "UTM zone 49N" in msg


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:4490"])
def test_geographic_crs_refused_without_hint(crs: str) -> None:
    # EPSG:4490 is CGCS2000 geographic, the Chinese national datum in degrees.
    with pytest.raises(CRSError) as info:
        require_projected_crs(crs)
    msg = str(info.value)
    assert crs in msg
    assert "projected CRS in metres" in msg and "UTM" in msg


def test_projected_crs_in_feet_refused() -> None:
    # EPSG:2903 = NAD83(HARN) / New Mexico Central (ftUS): projected, but in US survey feet.
    with pytest.raises(CRSError) as info:
        require_projected_crs("EPSG:2903", lonlat_hint=(-106.6, 35.1))
    msg = str(info.value)
    assert "foot" in msg and "not metres" in msg
    # -106.6°E: zone = floor(73.4 / 6) + 1 = 13 -> EPSG:32613.
    assert "EPSG:32613" in msg


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (112.9, 29.4, 32649),  # floor(292.9/6)+1 = 49, north
        (-122.4, 37.8, 32610),  # floor(57.6/6)+1 = 10, north
        (147.3, -42.9, 32755),  # floor(327.3/6)+1 = 55, south -> 32700 + 55
    ],
)
def test_suggest_utm_crs(lon: float, lat: float, epsg: int) -> None:
    assert suggest_utm_crs(lon, lat).to_epsg() == epsg


def test_projected_metre_crs_accepted() -> None:
    assert require_projected_crs("EPSG:32649").to_epsg() == 32649
    # CGCS2000 / 3-degree Gauss-Kruger CM 111E, metres.
    assert require_projected_crs(4547).to_epsg() == 4547
    assert as_crs(UTM49) is UTM49


def test_as_crs_refuses_garbage() -> None:
    with pytest.raises(CRSError, match="not a coordinate reference system") as info:
        as_crs("EPSG:not-a-code", what="[survey].crs")
    assert "[survey].crs" in str(info.value)
    assert "EPSG:32649" in (info.value.problem.fix or "")


# ---------------------------------------------------------- file vs override
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


def test_transformer_is_x_first_and_names_the_file_when_proj_has_no_path() -> None:
    # Longitude first (always_xy): 111° E on the equator is UTM 49N's central meridian,
    # easting 500,000 m, northing 0.
    x, y = transformer("EPSG:4326", "EPSG:32649").transform(111.0, 0.0)
    assert x == pytest.approx(500_000.0, abs=1e-6) and y == pytest.approx(0.0, abs=1e-6)
    # Mars to Earth: no operation exists.
    with pytest.raises(CRSError, match="PROJ knows no transformation") as info:
        transformer("IAU_2015:49910", "EPSG:32649", path="mars.tif", what="raster")
    assert info.value.problem.path == "mars.tif"
    assert "raster" in info.value.problem.message and "Mars" in info.value.problem.message


def test_a_transformer_is_made_once_per_pair_of_crs() -> None:
    # Each LiDAR read range asks for its file's transformer: the same pair (however
    # written) gives the same object, another pair another one; and a refused pair is
    # refused again, not remembered as a transformer.
    first = transformer("EPSG:4547", "EPSG:32649")
    assert transformer(CRS.from_epsg(4547), "epsg:32649") is first
    assert transformer("EPSG:4326", "EPSG:32649") is not first
    x, y = first.transform(500_000.0, 3_300_000.0)  # CM 114° E, 3,300 km north: UTM 49N
    assert 700_000 < x < 800_000 and 3_290_000 < y < 3_310_000
    for _ in range(2):
        with pytest.raises(CRSError, match="PROJ knows no transformation"):
            transformer("IAU_2015:49910", "EPSG:32649")


def test_many_points_through_a_checked_polynomial_agree_with_pyproj() -> None:
    # CGCS2000 Gauss-Krüger CM 114E (EPSG:4547) to UTM 49N over a 5 km x 5 km survey:
    # the cubic reproduces pyproj to well under the 0.1 mm it is checked against.
    from pyproj import Transformer

    from carbonsink.crs import transform_points

    to_utm = Transformer.from_crs("EPSG:4547", "EPSG:32649", always_xy=True)
    rng = np.random.default_rng(0)
    x = 408_000 + rng.uniform(0, 5000, 200_000)
    y = 3_253_000 + rng.uniform(0, 5000, 200_000)
    fx, fy = transform_points(to_utm, x, y)
    ex, ey = to_utm.transform(x, y)
    assert np.abs(fx - ex).max() < 1e-5 and np.abs(fy - ey).max() < 1e-5
    assert not np.array_equal(fx, ex)  # the polynomial was used, not pyproj


def test_a_transformation_no_cubic_fits_falls_back_to_pyproj() -> None:
    # Longitude/latitude over 12° x 8° to UTM: far from a cubic at 0.1 mm, so every point
    # goes through pyproj, bit for bit.
    from pyproj import Transformer

    from carbonsink.crs import transform_points

    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(105, 117, 5000), rng.uniform(22, 30, 5000)
    fx, fy = transform_points(to_utm, lon, lat)
    ex, ey = to_utm.transform(lon, lat)
    np.testing.assert_array_equal(fx, ex)
    np.testing.assert_array_equal(fy, ey)
