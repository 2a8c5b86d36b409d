"""Tests for carbonsink.io.tables: CSV and GeoPackage point tables, and real CCN soil cores."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from carbonsink.errors import CRSError, InputError, InputNotFoundError
from carbonsink.io.tables import read_point_table, read_table, table_crs, table_points

UTM50 = "EPSG:32650"


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def plots_csv(tmp_path: Path) -> Path:
    # line 1 header; 2 P1; 3 blank; 4-5 P2 (a quoted note with a line break);
    # 6 P3.
    return write_text(
        tmp_path / "plots.csv",
        'plot_id,x,y,agb_g_m2,note\nP1,500100,3300100,850.5,ok\n\nP2,500200,3300200,920,"two\n'
        'lines"\nP3,500300,3300300,1010,ok\n',
    )


# --------------------------------------------------------------------- CSV
def test_csv_index_is_the_line_number(plots_csv: Path) -> None:
    frame = read_table(plots_csv)
    assert frame.index.name == "line"
    assert list(frame.index) == [2, 4, 6]
    assert list(frame.columns) == ["plot_id", "x", "y", "agb_g_m2", "note"]
    assert frame.loc[4, "note"] == "two\nlines"
    assert frame.loc[6, "agb_g_m2"] == 1010


def test_bad_coordinate_errors_name_the_lines(tmp_path: Path) -> None:
    # line 3: x is text; line 5: y is empty.
    path = write_text(
        tmp_path / "soil.csv",
        "core_id,x,y\nC1,500100,3300100\nC2,50O200,3300200\nC3,500300,3300300\nC4,500400,\n",
    )
    frame = read_table(path)
    with pytest.raises(InputError, match="non-numeric x") as err:
        table_points(frame, crs=UTM50, target_crs=UTM50, path=path)
    assert err.value.problem.where == "line 3"
    assert "50O200" in str(err.value)
    frame.loc[3, "x"] = "500200"
    with pytest.raises(InputError, match="non-numeric y") as err:
        table_points(frame, crs=UTM50, target_crs=UTM50, path=path)
    assert err.value.problem.where == "line 5"


def test_bom_and_chinese_text(tmp_path: Path) -> None:
    # Excel's "CSV UTF-8" starts with a byte-order mark; it must not end up in
    # the first column's name.
    path = write_text(
        tmp_path / "plots.csv", "\ufeffplot_id,x,y,veg_class\nP1,1.5,2.5,芦苇\nP2,3,4,苔草\n"
    )
    frame = read_table(path)
    assert list(frame.columns) == ["plot_id", "x", "y", "veg_class"]
    assert list(frame["veg_class"]) == ["芦苇", "苔草"]
    assert list(frame.index) == [2, 3]


def test_gbk_file_is_refused_with_the_line(tmp_path: Path) -> None:
    # 苔草 in GBK is CC A6 B2 DD: CC A6 happens to be valid UTF-8, but B2 cannot
    # start a UTF-8 character, so decoding fails on line 3. (Some GBK text, e.g.
    # 芦苇 = C2 AB CE AD, is valid UTF-8 by accident and cannot be caught.)
    path = write_text(tmp_path / "gbk.csv", "plot_id,veg_class\nP1,reed\nP2,苔草\n", "gbk")
    with pytest.raises(InputError, match="not UTF-8") as err:
        read_table(path)
    assert err.value.problem.where == "line 3"
    assert "UTF-8" in (err.value.problem.fix or "")


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ("", "empty", None),
        ("\n  \n", "empty", None),
        ("plot_id,x,y\n", "no data rows", "line 2"),
        ("a,b\n1,2\n3,4,5\n", "3 fields but the header has 2", "line 3"),
        ('a,b\n1,2\n3,"open\n', "cannot be parsed", "line 3"),
        ("a,a\n1,2\n", "repeats column", "line 1"),
    ],
)
def test_unreadable_csv(tmp_path: Path, text: str, message: str, where: str | None) -> None:
    path = write_text(tmp_path / "bad.csv", text)
    with pytest.raises(InputError, match=message) as err:
        read_table(path)
    assert err.value.problem.where == where
    assert err.value.path == path


def test_missing_table(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        read_table(tmp_path / "absent.csv")


def test_csv_needs_a_crs_from_the_survey(plots_csv: Path) -> None:
    with pytest.raises(CRSError, match="CSV file carries no CRS") as err:
        table_crs(plots_csv)
    assert 'crs = "EPSG:' in (err.value.problem.fix or "")
    assert table_crs(plots_csv, crs=UTM50).to_epsg() == 32650


# ------------------------------------------------------------- coordinates
def test_lonlat_on_the_central_meridian(tmp_path: Path) -> None:
    # UTM 50N has its central meridian at 117 E, where easting is exactly
    # 500,000 m; on the equator northing is 0.
    path = write_text(tmp_path / "gps.csv", "id,lon,lat\nA,117,0\nB,117,30\n")
    frame = read_table(path)
    x, y = table_points(frame, crs="EPSG:4326", target_crs=UTM50, path=path)
    np.testing.assert_allclose(x, [500_000.0, 500_000.0], atol=1e-6)
    assert y[0] == pytest.approx(0.0, abs=1e-6)
    # At 30 N, northing = 0.9996 x meridian arc (3,320,113.4 m on WGS 84).
    assert y[1] == pytest.approx(0.9996 * 3_320_113.4, abs=1.0)


def test_lonlat_columns_need_a_geographic_crs(tmp_path: Path) -> None:
    path = write_text(tmp_path / "gps.csv", "id,lon,lat\nA,113.1,29.4\n")
    with pytest.raises(CRSError, match="projected"):
        table_points(read_table(path), crs=UTM50, target_crs=UTM50, path=path)


def test_projected_values_with_a_geographic_crs_are_refused(plots_csv: Path) -> None:
    with pytest.raises(CRSError, match="wrong CRS label"):
        table_points(read_table(plots_csv), crs="EPSG:4326", target_crs=UTM50, path=plots_csv)


def test_degrees_with_a_projected_crs_are_refused(tmp_path: Path) -> None:
    # x/y that are lon/lat of plots a few km apart, labelled UTM metres.
    path = write_text(tmp_path / "plots.csv", "id,x,y\nA,113.10,29.40\nB,113.12,29.43\n")
    with pytest.raises(CRSError, match="degrees"):
        table_points(read_table(path), crs="EPSG:32649", target_crs="EPSG:32649", path=path)


def test_no_coordinate_columns(tmp_path: Path) -> None:
    path = write_text(tmp_path / "plots.csv", "id,east,north\nA,1,2\n")
    with pytest.raises(InputError, match="no coordinate columns x and y"):
        table_points(read_table(path), crs=UTM50, target_crs=UTM50, path=path)


# -------------------------------------------------------------- GeoPackage
@pytest.fixture
def cores_gpkg(tmp_path: Path) -> Path:
    frame = gpd.GeoDataFrame(
        {"core_id": ["C1", "C2", "C3"], "soc_pct": [1.2, 2.5, 3.1]},
        geometry=gpd.points_from_xy([38_500_100.0, 38_500_200.0, 38_500_300.0], [3.3e6] * 3),
        crs="EPSG:2362",  # Xian 1980 / 3-degree Gauss-Kruger zone 38 (zone-prefixed eastings)
    )
    path = tmp_path / "cores.gpkg"
    frame.to_file(path, layer="cores", driver="GPKG")
    return path


def test_gpkg_round_trip_with_its_crs(cores_gpkg: Path) -> None:
    frame = read_table(cores_gpkg)
    assert frame.index.name == "line"
    assert list(frame.index) == [1, 2, 3]
    assert "geometry" not in frame.columns
    np.testing.assert_array_equal(frame["x"], [38_500_100.0, 38_500_200.0, 38_500_300.0])
    np.testing.assert_array_equal(frame["y"], [3.3e6] * 3)
    assert list(frame["core_id"]) == ["C1", "C2", "C3"]
    assert table_crs(cores_gpkg).to_epsg() == 2362
    points = read_point_table(cores_gpkg, target_crs="EPSG:2362")
    assert points.crs.to_epsg() == 2362
    np.testing.assert_allclose(shapely.get_x(points.geometry.values), frame["x"])


def test_gpkg_errors_name_the_feature(cores_gpkg: Path) -> None:
    frame = read_table(cores_gpkg)
    frame.loc[2, "x"] = np.nan
    with pytest.raises(InputError, match="missing or non-numeric x") as err:
        table_points(frame, crs="EPSG:2362", target_crs="EPSG:2362", path=cores_gpkg)
    assert err.value.problem.where == "feature 2"


def test_gpkg_override_replaces_its_crs(cores_gpkg: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="carbonsink"):
        crs = table_crs(cores_gpkg, crs="EPSG:4513")  # CGCS2000 3-degree GK zone 38
    assert crs.to_epsg() == 4513
    assert "replaces the file's EPSG:2362" in caplog.text


def test_gpkg_layers_must_be_chosen(cores_gpkg: Path) -> None:
    extra = gpd.GeoDataFrame({"a": [1]}, geometry=gpd.points_from_xy([1.0], [2.0]), crs=UTM50)
    extra.to_file(cores_gpkg, layer="other", driver="GPKG")
    with pytest.raises(InputError, match="2 layers"):
        read_table(cores_gpkg)
    assert list(read_table(cores_gpkg, layer="cores")["core_id"]) == ["C1", "C2", "C3"]
    assert table_crs(cores_gpkg, layer="other").to_epsg() == 32650
    with pytest.raises(InputError, match="no layer 'nope'"):
        read_table(cores_gpkg, layer="nope")


def test_read_point_table_keeps_columns_and_lines(plots_csv: Path) -> None:
    points = read_point_table(plots_csv, target_crs=UTM50, crs=UTM50)
    assert isinstance(points, gpd.GeoDataFrame)
    assert list(points.index) == [2, 4, 6]
    assert points.crs.to_epsg() == 32650
    assert {"plot_id", "x", "y", "agb_g_m2", "note"} <= set(points.columns)
    np.testing.assert_allclose(shapely.get_x(points.geometry.values), [500_100, 500_200, 500_300])


# --------------------------------------------------------------- real data
# Snedden (2018), USGS data release doi:10.5066/F7BK1BJ8, via the Coastal Carbon
# Network CCN-Data-Library (commit e203ea7151); see ../shared/data/SOURCES.md.
@pytest.mark.shared_data
def test_snedden_cores_need_a_crs_and_use_latitude_longitude(shared_data: Path) -> None:
    path = shared_data / "soil" / "ccn_snedden_2018" / "Snedden_2018_cores.csv"
    frame = read_table(path)
    # 25 cores over 51 lines: every record's quoted position_notes holds a line
    # break, so the records start on lines 2, 4, ..., 50.
    assert len(frame) == 25
    assert list(frame.index) == list(range(2, 51, 2))
    assert {"latitude", "longitude"} <= set(frame.columns)
    with pytest.raises(CRSError):
        table_crs(path)
    crs = table_crs(path, crs="EPSG:4326")
    x, y = table_points(frame, crs=crs, target_crs="EPSG:32615", path=path)
    assert len(x) == 25 and np.isfinite(x).all() and np.isfinite(y).all()
    # Core 171_1 at 29.3237667 N, 89.79605 W is 3.20395 deg east of UTM 15N's
    # central meridian (93 W). Transverse Mercator to third order:
    # E = 500,000 + k0 N L (1 + L^2 (1 - t^2 + eta^2) / 6), L = dlambda cos(phi)
    # = 0.0559194 x 0.87191 = 0.048757, N = 6,383,263 m, t^2 = 0.3161:
    # 0.9996 x 6,383,263 x 0.048757 x (1 + 0.0003959 x 0.689) ~ 811,187 m.
    assert frame.loc[2, "core_id"] == "171_1"
    assert x[0] == pytest.approx(811_187, abs=100)
    assert pd.api.types.is_float_dtype(frame["latitude"])


def test_text_columns_keep_leading_zeros(tmp_path: Path) -> None:
    path = tmp_path / "plots.csv"
    path.write_text("plot_id,x,y\n001,1.5,2.5\n010,3.0,4.0\n", encoding="utf-8")
    frame = read_table(path, text_columns=("plot_id",))
    assert list(frame["plot_id"]) == ["001", "010"]
    assert list(frame["x"]) == [1.5, 3.0]
    # Without the hint pandas guesses integers, losing the zeros.
    assert list(read_table(path)["plot_id"]) == [1, 10]
