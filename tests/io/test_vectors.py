"""Tests for carbonsink.io.vectors: project boundaries from GeoJSON and GeoPackage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from pyproj import CRS
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from carbonsink.errors import CRSError, InputError, InputNotFoundError
from carbonsink.io.vectors import boundary_crs, footprint_in, load_boundary, read_boundary

UTM50 = "EPSG:32650"


def write_geojson(path: Path, geometries: list[Any], crs_name: str | None = None) -> Path:
    features = [
        {"type": "Feature", "properties": {"n": i}, "geometry": shapely.geometry.mapping(g)}
        for i, g in enumerate(geometries)
    ]
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs_name:
        doc["crs"] = {"type": "name", "properties": {"name": crs_name}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def write_gpkg(path: Path, geometries: list[Any], crs: str | None) -> Path:
    frame = gpd.GeoDataFrame({"n": range(len(geometries))}, geometry=geometries, crs=crs)
    frame.to_file(path, driver="GPKG")
    return path


def test_geojson_without_crs_member_is_lonlat(tmp_path: Path) -> None:
    # 0.01 x 0.01 degree square on the equator, west edge on UTM 50N's central
    # meridian (117 E). Its UTM size: east 0.9996 x a x dlambda =
    # 0.9996 x 6,378,137 x 1.745329e-4 = 1,112.75 m; north 0.9996 x (meridian
    # radius at the equator a (1 - e^2) = 6,335,439 m) x 1.745329e-4 = 1,105.31 m.
    path = write_geojson(tmp_path / "area.geojson", [box(117.0, 0.0, 117.01, 0.01)])
    assert boundary_crs(path).to_epsg() == 4326
    boundary = read_boundary(path, target_crs=UTM50)
    assert isinstance(boundary, Polygon)
    xmin, ymin, xmax, ymax = boundary.bounds
    assert xmin == pytest.approx(500_000.0, abs=1e-6)
    assert ymin == pytest.approx(0.0, abs=1e-6)
    assert xmax - xmin == pytest.approx(1_112.75, abs=0.1)
    assert ymax - ymin == pytest.approx(1_105.31, abs=0.1)
    assert boundary.area == pytest.approx(1_112.75 * 1_105.31, rel=2e-4)


def test_geojson_with_a_projected_crs_member(tmp_path: Path) -> None:
    square = box(500_000, 3_300_000, 501_000, 3_301_000)
    path = write_geojson(tmp_path / "utm.geojson", [square], "urn:ogc:def:crs:EPSG::32650")
    assert boundary_crs(path).to_epsg() == 32650
    assert read_boundary(path, target_crs=UTM50).equals(square)


def test_projected_geojson_without_crs_member_needs_an_override(tmp_path: Path) -> None:
    square = box(500_000, 3_300_000, 501_000, 3_301_000)
    path = write_geojson(tmp_path / "utm.geojson", [square])
    with pytest.raises(CRSError, match="wrong CRS label"):
        read_boundary(path, target_crs=UTM50)
    assert read_boundary(path, target_crs=UTM50, crs=UTM50).equals(square)
    assert boundary_crs(path, crs=UTM50).to_epsg() == 32650


def test_features_are_unioned(tmp_path: Path) -> None:
    # Two overlapping 1 km squares (overlap 0.5 km x 1 km) and a detached one:
    # area 1 + 1 - 0.5 + 1 = 2.5 km².
    a = box(500_000, 3_300_000, 501_000, 3_301_000)
    b = box(500_500, 3_300_000, 501_500, 3_301_000)
    c = box(505_000, 3_300_000, 506_000, 3_301_000)
    path = write_gpkg(tmp_path / "parts.gpkg", [a, b, MultiPolygon([c])], UTM50)
    boundary = read_boundary(path, target_crs=UTM50)
    assert isinstance(boundary, MultiPolygon)
    assert len(boundary.geoms) == 2
    assert boundary.area == pytest.approx(2.5e6)


def test_a_bow_tie_boundary_is_refused(tmp_path: Path) -> None:
    # A bow-tie: (0,0) (2,2) (2,0) (0,2) crosses itself at (1,1), making two
    # triangles of base 2 and height 1, area 1 each (scaled by 100 m here:
    # 2 x 100 x 100 = 20,000 m² = 2 ha). As drawn (shoelace) the two lobes
    # cancel: 0 ha. Which area was meant cannot be guessed: an error, no repair.
    x0, y0 = 500_000.0, 3_300_000.0
    ring = [(x0, y0), (x0 + 200, y0 + 200), (x0 + 200, y0), (x0, y0 + 200), (x0, y0)]
    bowtie = Polygon(ring)
    assert not bowtie.is_valid
    path = write_gpkg(tmp_path / "bowtie.gpkg", [bowtie], UTM50)
    with pytest.raises(InputError) as caught:
        read_boundary(path, target_crs=UTM50)
    problem = caught.value.problem
    assert problem.where == "feature 1"
    assert "Self-intersection" in problem.message
    assert "from 0.00 ha to 2.00 ha" in problem.message
    assert problem.fix is not None and "Fix Geometries" in problem.fix


def test_a_repair_that_keeps_the_area_is_recorded(tmp_path: Path) -> None:
    # A 1 km square (100 ha) whose top edge makes a needle notch down to y = 500 m and
    # back up 0.5 m further on, crossing itself: as drawn the notch triangle
    # (0.5 m × 500 m / 2 = 125 m²) counts once more, 100.0125 ha; repaired, 100 ha:
    # a change of 125 / 1,000,125 = 0.0125 % < 0.1 %, so the repair is kept and named.
    x0, y0 = 500_000.0, 3_300_000.0
    ring = [
        (x0, y0),
        (x0 + 1000, y0),
        (x0 + 1000, y0 + 1000),
        (x0 + 500, y0 + 1000),
        (x0 + 500, y0 + 500),
        (x0 + 500.5, y0 + 1000),
        (x0, y0 + 1000),
    ]
    path = write_gpkg(tmp_path / "notch.gpkg", [Polygon(ring)], UTM50)
    boundary = load_boundary(path)
    assert boundary.to_crs(UTM50).area == pytest.approx(1_000_000.0)
    (said,) = boundary.repairs
    repair = str(said)
    assert repair.startswith("feature 1: invalid polygon (Self-intersection")
    assert "0.012%" in repair and "100.0125 ha → 100.0000 ha" in repair


def test_reprojection_between_projected_crss(tmp_path: Path) -> None:
    # UTM 49N (central meridian 111 E) and CGCS2000 GK CM 114E differ; a square
    # keeps its area to within the two scale factors (< 0.2 %).
    square = box(700_000, 3_250_000, 701_000, 3_251_000)
    path = write_gpkg(tmp_path / "square.gpkg", [square], "EPSG:32649")
    moved = read_boundary(path, target_crs="EPSG:4547")
    assert moved.area == pytest.approx(1e6, rel=2e-3)
    assert not box(*moved.bounds).intersects(square)  # other false easting


def test_a_boundary_on_another_celestial_body_cannot_be_moved_to_earth(tmp_path: Path) -> None:
    # PROJ has no operation from a Mars CRS to a UTM zone (Transformer.from_crs raises
    # ProjError): a CRSError naming both, not pyproj's traceback.
    square = box(700_000, 3_250_000, 701_000, 3_251_000)
    path = write_gpkg(tmp_path / "mars.gpkg", [square], "IAU_2015:49910")
    with pytest.raises(CRSError, match=r"cannot be transformed.*no transformation") as info:
        read_boundary(path, target_crs="EPSG:32649")
    assert "Mars" in info.value.problem.message
    assert info.value.problem.path == str(path)


def test_the_footprint_of_an_extent_in_another_crs() -> None:
    # A 1 km UTM 49N square at easting 700 km (200 km from 49N's central meridian: scale
    # k = 0.9996 (1 + 200² / (2 · 6371²)) = 1.00009), seen from UTM 50N, 6° east, where it
    # lies ~382 km west of the central meridian (k = 0.9996 (1 + 382² / (2 · 6371²)) =
    # 1.00140): its area grows by (1.00140 / 1.00009)² = 1.0026, and it lies west of
    # 50N's false easting of 500 km. From a Mars CRS: None (PROJ cannot).
    shape = footprint_in((700_000, 3_250_000, 701_000, 3_251_000), CRS("EPSG:32649"), CRS(UTM50))
    assert shape is not None
    assert shape.area == pytest.approx(1.0026e6, rel=5e-4)
    assert shape.bounds[2] < 500_000
    mars = footprint_in((0, 0, 1000, 1000), CRS("IAU_2015:49910"), CRS(UTM50))
    assert mars is None


def test_boundary_in_lonlat(tmp_path: Path) -> None:
    # Easting 500,000 m is UTM 50N's central meridian, 117 E; northing 0 is the equator.
    square = box(500_000, 0, 501_000, 1_000)
    path = write_gpkg(tmp_path / "square.gpkg", [square], UTM50)
    lonlat = read_boundary(path, target_crs="EPSG:4326")
    west, south, east, north = lonlat.bounds
    assert west == pytest.approx(117.0, abs=1e-9)
    assert south == pytest.approx(0.0, abs=1e-9)
    # 1 km is about 1 / 111.3 = 0.009 degrees at the equator.
    assert east - west == pytest.approx(0.009, abs=2e-4)
    assert north - south == pytest.approx(0.009, abs=2e-4)


def test_no_polygons(tmp_path: Path) -> None:
    path = write_gpkg(
        tmp_path / "points.gpkg",
        [Point(500_000, 3_300_000), LineString([(500_000, 3_300_000), (500_100, 3_300_100)])],
        UTM50,
    )
    with pytest.raises(InputError, match="no polygons") as err:
        read_boundary(path, target_crs=UTM50)
    assert "1 LineString, 1 Point" in str(err.value)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(InputError, match="no geometry"):
        read_boundary(path, target_crs=UTM50)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        read_boundary(tmp_path / "absent.geojson", target_crs=UTM50)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_gpkg_without_crs_needs_an_override(tmp_path: Path) -> None:
    square = box(500_000, 3_300_000, 501_000, 3_301_000)
    path = write_gpkg(tmp_path / "nocrs.gpkg", [square], None)
    with pytest.raises(CRSError, match="no CRS") as err:
        read_boundary(path, target_crs=UTM50)
    assert err.value.path == path
    with pytest.raises(CRSError):
        boundary_crs(path)
    assert read_boundary(path, target_crs=UTM50, crs=UTM50).equals(square)


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.gpkg"
    path.write_bytes(b"SQLite format 3\x00 truncated")
    with pytest.raises(InputError):
        read_boundary(path, target_crs=UTM50)


# ------------------------------------------------------------ fingerprint
def test_fingerprint_ignores_format_crs_and_vertex_order(tmp_path: Path) -> None:
    # The same square (0.01° side at 113°E, 29.4°N) as GeoJSON in lon/lat with
    # its ring started at another corner and reversed, and as a GeoPackage in
    # UTM 49N: one hash (coordinates snapped to 1e-7° ≈ 1 cm absorb the
    # reprojection round trip, ~1e-9°).
    square = box(113.0, 29.4, 113.01, 29.41)
    ring = list(square.exterior.coords)[:-1]
    rotated = Polygon(list(reversed(ring[2:] + ring[:2])))
    a = write_geojson(tmp_path / "a.geojson", [square])
    b = write_geojson(tmp_path / "b.geojson", [rotated])
    utm = gpd.GeoSeries([square], crs="EPSG:4326").to_crs("EPSG:32649").iloc[0]
    c = write_gpkg(tmp_path / "c.gpkg", [utm], "EPSG:32649")
    hashes = {load_boundary(p).fingerprint()["sha256"] for p in (a, b, c)}
    assert len(hashes) == 1
    assert load_boundary(a).fingerprint()["bounds_lonlat"] == pytest.approx(
        [113.0, 29.4, 113.01, 29.41]
    )


def test_fingerprint_changes_when_the_polygon_moves_by_a_metre(tmp_path: Path) -> None:
    # 1e-5° of longitude at 29.4°N is ≈ 0.97 m: a different parcel, a different hash.
    a = write_geojson(tmp_path / "a.geojson", [box(113.0, 29.4, 113.01, 29.41)])
    b = write_geojson(tmp_path / "b.geojson", [box(113.00001, 29.4, 113.01001, 29.41)])
    assert load_boundary(a).fingerprint()["sha256"] != load_boundary(b).fingerprint()["sha256"]
