"""Tests for carbonsink.io.pointclouds: synthetic LAS files and real PDAL/laspy test clouds."""

from __future__ import annotations

from pathlib import Path

import laspy
import numpy as np
import pytest
from pyproj import CRS, Transformer

from carbonsink.crs import crs_plausibility_problem
from carbonsink.errors import CRSError, InputError, InputNotFoundError
from carbonsink.io.point_chunks import CHAIN_LAYERS
from carbonsink.io.pointclouds import PointChunk, iter_points, read_lidar_info, read_points
from carbonsink.units import FOOT_M, US_SURVEY_FOOT_M

UTM49 = "EPSG:32649"
#: CGCS2000 / 3-degree Gauss-Kruger CM 114E: the CRS of Chinese drone surveys.
GK114 = "EPSG:4547"


def write_las(
    path: Path,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    *,
    crs: str | None,
    version: str = "1.2",
    point_format: int = 3,
    seed: int = 1,
) -> Path:
    """Write points as LAS; LAS 1.2 stores the CRS as GeoTIFF keys, PF 6 as WKT."""
    rng = np.random.default_rng(seed)
    header = laspy.LasHeader(point_format=point_format, version=version)
    header.scales = np.array([0.001, 0.001, 0.001])
    header.offsets = np.array([np.floor(x.min()), np.floor(y.min()), 0.0])
    if crs is not None:
        header.add_crs(CRS.from_user_input(crs))
    las = laspy.LasData(header)
    las.x, las.y, las.z = x, y, z
    n = len(x)
    las.classification = rng.choice([1, 2, 5], size=n).astype(np.uint8)
    las.return_number = np.ones(n, np.uint8)
    las.number_of_returns = np.ones(n, np.uint8)
    las.intensity = rng.integers(0, 65535, size=n).astype(np.uint16)
    las.user_data = (np.arange(n) % 256).astype(np.uint8)
    las.write(path)
    return path


@pytest.fixture
def utm_cloud(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    """10,000 points over 1 km² near Junshan in UTM 49N, z 20–40 m."""
    rng = np.random.default_rng(20240830)
    x = np.round(rng.uniform(500_000, 501_000, 10_000), 3)
    y = np.round(rng.uniform(3_300_000, 3_301_000, 10_000), 3)
    z = np.round(rng.uniform(20, 40, 10_000), 3)
    return write_las(tmp_path / "utm.las", x, y, z, crs=UTM49), x, y, z


# ------------------------------------------------------------------ header
def test_read_lidar_info_from_geotiff_keys(
    utm_cloud: tuple[Path, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    path, x, y, z = utm_cloud
    info = read_lidar_info(path)
    assert info.version == "1.2"
    assert info.point_format == 3
    assert info.point_count == 10_000
    assert info.crs is not None and info.crs.to_epsg() == 32649
    assert info.crs_source == "geotiff"
    assert (info.horizontal_unit_m, info.vertical_unit_m) == (1.0, 1.0)
    assert info.vertical_unit_source == "assumed"
    expected = (x.min(), y.min(), x.max(), y.max(), z.min(), z.max())
    np.testing.assert_allclose(info.bounds, expected, atol=1e-3)
    assert info.scales == (0.001, 0.001, 0.001)


def test_compound_wkt_gives_the_vertical_unit(tmp_path: Path) -> None:
    # NAD83(HARN) / Oregon GIC Lambert (ft) + NAVD88 height (m): feet across, metres up.
    path = write_las(
        tmp_path / "compound.las",
        np.array([636_000.0, 636_100.0]),
        np.array([849_000.0, 849_100.0]),
        np.array([400.0, 410.0]),
        crs="EPSG:2994+5703",
        version="1.4",
        point_format=6,
    )
    info = read_lidar_info(path)
    assert info.crs_source == "wkt"
    assert info.crs is not None and info.crs.is_compound
    assert info.horizontal_unit_m == FOOT_M
    assert info.vertical_unit_m == 1.0
    assert info.vertical_unit_source == "crs"


def test_feet_without_a_vertical_crs_are_assumed_feet_up(tmp_path: Path) -> None:
    path = write_las(
        tmp_path / "feet.las",
        np.array([636_000.0]),
        np.array([849_000.0]),
        np.array([400.0]),
        crs="EPSG:2994",
        version="1.4",
        point_format=6,
    )
    info = read_lidar_info(path)
    assert info.horizontal_unit_m == info.vertical_unit_m == FOOT_M
    assert info.vertical_unit_source == "assumed"


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        read_lidar_info(tmp_path / "absent.laz")
    junk = tmp_path / "junk.las"
    junk.write_bytes(b"LASF" + b"\x00" * 50)
    with pytest.raises(InputError, match="cannot be read") as err:
        read_lidar_info(junk)
    assert err.value.path == junk


# ------------------------------------------------------------------ points
def test_feet_are_converted_to_metres(tmp_path: Path) -> None:
    # EPSG:2994 (ft) and EPSG:2993 (m) are the same Lambert projection with
    # false easting 1,312,335.958 ft = 400,000 m / 0.3048, so the metre
    # coordinates are exactly the foot coordinates x 0.3048.
    x_ft = np.array([636_000.0, 636_500.0, 637_000.0])
    y_ft = np.array([849_000.0, 849_250.0, 849_400.0])
    z_ft = np.array([400.0, 450.0, 500.0])
    path = write_las(
        tmp_path / "feet.las", x_ft, y_ft, z_ft, crs="EPSG:2994", version="1.4", point_format=6
    )
    points = read_points(path, target_crs="EPSG:2993")
    np.testing.assert_allclose(points.x, x_ft * 0.3048, atol=1e-6)
    np.testing.assert_allclose(points.y, y_ft * 0.3048, atol=1e-6)
    np.testing.assert_allclose(points.z, z_ft * 0.3048, atol=1e-9)
    assert points.x.dtype == np.float64


def test_chunked_reading_with_bounds_matches_a_brute_force_filter(
    utm_cloud: tuple[Path, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    path, x, y, z = utm_cloud
    # Brute force: transform every point, then keep those in the closed box.
    gx, gy = Transformer.from_crs(UTM49, GK114, always_xy=True).transform(x, y)
    xmin, xmax = np.percentile(gx, [20, 70])
    ymin, ymax = np.percentile(gy, [10, 55])
    inside = (gx >= xmin) & (gx <= xmax) & (gy >= ymin) & (gy <= ymax)
    assert 1000 < inside.sum() < 5000

    chunks = list(
        iter_points(path, target_crs=GK114, bounds=(xmin, ymin, xmax, ymax), chunk_size=777)
    )
    assert len(chunks) > 1
    assert all(0 < len(chunk) <= 777 for chunk in chunks)
    points = PointChunk.concat(chunks)
    assert len(points) == int(inside.sum())
    np.testing.assert_allclose(points.x, gx[inside], atol=1e-6)
    np.testing.assert_allclose(points.y, gy[inside], atol=1e-6)
    np.testing.assert_allclose(points.z, z[inside], atol=1e-6)
    np.testing.assert_array_equal(points.user_data, (np.arange(10_000) % 256)[inside])
    assert points.classification.dtype == np.uint8
    assert points.intensity.dtype == np.uint16


def test_bounds_outside_the_file_give_no_points(
    utm_cloud: tuple[Path, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    path = utm_cloud[0]
    assert list(iter_points(path, target_crs=UTM49, bounds=(0, 0, 10, 10))) == []
    assert len(read_points(path, target_crs=UTM49, bounds=(0, 0, 10, 10))) == 0


def test_progress_reports_points_read(
    utm_cloud: tuple[Path, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    calls: list[tuple[int, int]] = []
    read_points(
        utm_cloud[0], target_crs=UTM49, chunk_size=4000, progress=lambda *a: calls.append(a)
    )
    assert calls == [(4000, 10_000), (8000, 10_000), (10_000, 10_000)]


@pytest.mark.parametrize("suffix", [".las", ".laz"])
def test_a_range_of_points_is_that_slice_of_the_whole_read_in_the_same_chunks(
    tmp_path: Path, suffix: str
) -> None:
    # Ranges starting at multiples of the chunk size cut the file where a whole
    # read cuts it: the same chunks, in order, whatever the range. The LAZ file
    # is entered by seeking into its compressed chunks.
    rng = np.random.default_rng(4)
    x = np.round(rng.uniform(500_000, 501_000, 10_000), 3)
    y = np.round(rng.uniform(3_300_000, 3_301_000, 10_000), 3)
    z = np.round(rng.uniform(20, 40, 10_000), 3)
    path = write_las(tmp_path / f"cloud{suffix}", x, y, z, crs=UTM49)
    whole = [c.user_data.copy() for c in iter_points(path, target_crs=GK114, chunk_size=1500)]
    parts = []
    for start in range(0, 10_000, 3000):  # ranges of two chunks of 1,500
        stop = min(start + 3000, 10_000)
        parts += [
            c.user_data.copy()
            for c in iter_points(path, target_crs=GK114, chunk_size=1500, start=start, stop=stop)
        ]
    assert [len(c) for c in parts] == [len(c) for c in whole] == [1500] * 6 + [1000]
    for a, b in zip(parts, whole, strict=True):
        np.testing.assert_array_equal(a, b)
    # A range past the end gives nothing; a range is a forward range.
    assert list(iter_points(path, target_crs=GK114, start=10_000, stop=12_000)) == []
    with pytest.raises(ValueError, match="forward range"):
        list(iter_points(path, target_crs=GK114, start=5, stop=4))


def _layered_laz(path: Path, n: int = 20_000) -> laspy.LasData:
    """A LAS 1.4 point format 6 file at ``path`` with every layer filled; laspy's full read."""
    rng = np.random.default_rng(6)
    x = np.round(rng.uniform(500_000, 501_000, n), 3)
    y = np.round(rng.uniform(3_300_000, 3_301_000, n), 3)
    z = np.round(rng.uniform(20, 40, n), 3)
    header = laspy.LasHeader(point_format=6, version="1.4")
    header.scales = np.array([0.001, 0.001, 0.001])
    header.offsets = np.array([500_000.0, 3_300_000.0, 0.0])
    header.add_crs(CRS.from_user_input(UTM49))
    las = laspy.LasData(header)
    las.x, las.y, las.z = x, y, z
    returns = rng.integers(1, 5, n)
    las.number_of_returns = returns.astype(np.uint8)
    las.return_number = rng.integers(1, returns + 1).astype(np.uint8)
    las.classification = rng.choice([1, 2, 5, 7, 9, 18], size=n).astype(np.uint8)
    las.intensity = rng.integers(0, 65535, size=n).astype(np.uint16)
    las.user_data = rng.integers(0, 256, size=n).astype(np.uint8)
    las.gps_time = rng.uniform(0, 1e6, n)
    las.scan_angle = rng.integers(-3000, 3000, n).astype(np.int16)
    las.point_source_id = rng.integers(0, 65535, n).astype(np.uint16)
    las.withheld = rng.integers(0, 2, n).astype(bool)
    las.write(path)
    return laspy.read(path)


def test_a_layered_laz_decodes_only_what_a_chunk_holds_and_the_same_values(
    tmp_path: Path,
) -> None:
    # LAS 1.4 point format 6 is compressed layer by layer; iter_points asks lazrs
    # for the layers a PointChunk holds only. Every other layer is filled here
    # (GPS time, scan angle, point source, flags), so a layer skipped that a
    # chunk needs, or a layer decoded into the wrong field, shows as a mismatch
    # against laspy's full read.
    n = 20_000
    path = tmp_path / "layered.laz"
    full = _layered_laz(path, n)

    for chunks in (
        list(iter_points(path, target_crs=UTM49, chunk_size=7_000)),
        list(iter_points(path, target_crs=UTM49, chunk_size=7_000, start=7_000, stop=14_000)),
    ):
        points = PointChunk.concat(chunks)
        part = slice(0, n) if len(points) == n else slice(7_000, 14_000)
        np.testing.assert_array_equal(points.x, np.asarray(full.x)[part])
        np.testing.assert_array_equal(points.y, np.asarray(full.y)[part])
        np.testing.assert_array_equal(points.z, np.asarray(full.z)[part])
        for name in (
            "classification",
            "return_number",
            "number_of_returns",
            "intensity",
            "user_data",
        ):
            np.testing.assert_array_equal(
                getattr(points, name), np.asarray(full[name])[part], err_msg=name
            )


def test_the_chains_layers_leave_out_only_the_user_data_which_reads_as_zero(
    tmp_path: Path,
) -> None:
    # lazrs leaves stale bytes in a layer it skips (the generator's truth kinds of
    # an earlier chunk, on its clouds); the chunk must say 0, not those.
    path = tmp_path / "layered.laz"
    full = _layered_laz(path)
    assert np.count_nonzero(full.user_data) > 19_000  # 255 of 256 values are not 0
    box = (500_100.0, 3_300_200.0, 500_700.0, 3_300_900.0)  # a part of the points
    inside = (full.x >= box[0]) & (full.x <= box[2]) & (full.y >= box[1]) & (full.y <= box[3])
    for bounds, keep in ((None, np.ones(len(full.x), dtype=bool)), (box, np.asarray(inside))):
        points = PointChunk.concat(
            list(
                iter_points(
                    path, target_crs=UTM49, bounds=bounds, chunk_size=7_000, layers=CHAIN_LAYERS
                )
            )
        )
        assert len(points) == int(keep.sum())
        np.testing.assert_array_equal(points.user_data, np.zeros(len(points), dtype=np.uint8))
        np.testing.assert_array_equal(points.x, np.asarray(full.x)[keep])
        np.testing.assert_array_equal(points.z, np.asarray(full.z)[keep])
        for name in ("classification", "return_number", "number_of_returns", "intensity"):
            np.testing.assert_array_equal(
                getattr(points, name), np.asarray(full[name])[keep], err_msg=name
            )


def test_point_chunk_concat_and_len() -> None:
    assert len(PointChunk.concat([])) == 0
    one = PointChunk(
        x=np.array([1.0, 2.0]),
        y=np.array([3.0, 4.0]),
        z=np.array([5.0, 6.0]),
        classification=np.array([2, 5], np.uint8),
        return_number=np.array([1, 1], np.uint8),
        number_of_returns=np.array([1, 2], np.uint8),
        intensity=np.array([10, 20], np.uint16),
        user_data=np.array([0, 0], np.uint8),
    )
    both = PointChunk.concat([one, one.select(np.array([False, True]))])
    assert len(both) == 3
    np.testing.assert_array_equal(both.x, [1.0, 2.0, 2.0])
    np.testing.assert_array_equal(both.classification, [2, 5, 5])


def test_point_chunk_select_keeps_every_layer_in_order() -> None:
    # Points 0..5 with layers derived from the index; mask T F F T T F keeps 0, 3 and 4
    # in every layer, dtypes unchanged.
    i = np.arange(6)
    chunk = PointChunk(
        x=i * 1.0,
        y=i * 2.0,
        z=i * 3.0,
        classification=(i + 1).astype(np.uint8),
        return_number=(i % 2 + 1).astype(np.uint8),
        number_of_returns=np.full(6, 2, np.uint8),
        intensity=(i * 100).astype(np.uint16),
        user_data=(i % 3).astype(np.uint8),
    )
    part = chunk.select(np.array([True, False, False, True, True, False]))
    expected = {
        "x": [0.0, 3.0, 4.0],
        "y": [0.0, 6.0, 8.0],
        "z": [0.0, 9.0, 12.0],
        "classification": [1, 4, 5],
        "return_number": [1, 2, 1],
        "number_of_returns": [2, 2, 2],
        "intensity": [0, 300, 400],
        "user_data": [0, 0, 1],
    }
    for name, values in expected.items():
        layer = getattr(part, name)
        np.testing.assert_array_equal(layer, values, err_msg=name)
        assert layer.dtype == getattr(chunk, name).dtype, name


def test_cloud_without_crs_needs_an_override(tmp_path: Path) -> None:
    x = np.array([500_000.0, 500_010.0])
    path = write_las(tmp_path / "nocrs.las", x, x * 6.6, np.array([1.0, 2.0]), crs=None)
    assert read_lidar_info(path).crs is None
    with pytest.raises(CRSError, match="no CRS record") as err:
        read_points(path, target_crs=UTM49)
    assert 'crs = "EPSG:' in (err.value.problem.fix or "")
    points = read_points(path, target_crs=UTM49, crs=UTM49)
    np.testing.assert_allclose(points.x, x)


def test_an_implausible_override_is_refused(
    utm_cloud: tuple[Path, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    with pytest.raises(CRSError, match="wrong CRS label") as err:
        read_points(utm_cloud[0], target_crs=UTM49, crs="EPSG:4326")
    assert "survey's crs" in (err.value.problem.fix or "")


def test_target_crs_must_be_projected_metres(
    utm_cloud: tuple[Path, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    with pytest.raises(CRSError, match="geographic"):
        read_points(utm_cloud[0], target_crs="EPSG:4326")


# --------------------------------------------------------------- real data
# PDAL test clouds, github.com/PDAL/PDAL test/data (commit ccf0ab7046), see
# ../shared/data/SOURCES.md.
LIDAR = Path("lidar")


@pytest.mark.shared_data
def test_autzen_units_and_crs(shared_data: Path) -> None:
    info = read_lidar_info(shared_data / LIDAR / "PDAL_autzen_trim.laz")
    assert info.crs is not None and info.crs.is_projected
    assert info.crs_source == "wkt"
    assert info.point_count == 110_000
    # The header's WKT and its GeoTIFF ProjLinearUnitsGeoKey (3076 = 9002) both
    # give the *international* foot, 0.3048 m, and the false easting
    # 1,312,335.958005 ft equals 400,000 m / 0.3048 exactly (with the US survey
    # foot it would be 1,312,333.333 ft). So the unit is 0.3048, not 1200/3937.
    assert info.horizontal_unit_m == FOOT_M
    assert info.vertical_unit_m == FOOT_M  # feet assumed for heights, US practice
    assert info.vertical_unit_source == "assumed"


@pytest.mark.shared_data
def test_autzen_points_in_metres(shared_data: Path) -> None:
    path = shared_data / LIDAR / "PDAL_autzen_trim.laz"
    xmin, ymin, xmax, ymax, zmin, zmax = read_lidar_info(path).bounds
    # EPSG:2993 is the same Lambert projection in metres (lat_1 43, lat_2 45.5,
    # lat_0 41.75, lon_0 -120.5, false easting 400,000 m, NAD83(HARN)):
    # x_m = x_ft x 0.3048, e.g. 636,001.76 ft x 0.3048 = 193,853.336448 m.
    points = read_points(path, target_crs="EPSG:2993", chunk_size=50_000)
    assert len(points) == 110_000
    assert xmin == pytest.approx(636_001.76)
    assert points.x.min() == pytest.approx(193_853.336448, abs=1e-4)
    assert points.x.max() == pytest.approx(xmax * 0.3048, abs=1e-4)
    assert points.y.min() == pytest.approx(ymin * 0.3048, abs=1e-4)
    assert points.y.max() == pytest.approx(ymax * 0.3048, abs=1e-4)
    # z: 406.26 ft x 0.3048 = 123.828048 m; 520.51 ft x 0.3048 = 158.651448 m.
    assert (zmin, zmax) == pytest.approx((406.26, 520.51))
    assert points.z.min() == pytest.approx(123.828048, abs=1e-6)
    assert points.z.max() == pytest.approx(158.651448, abs=1e-6)
    # With the US survey foot x would be 636,001.76 x 1200/3937 = 193,853.724 m,
    # 0.39 m off: the test tells the two feet apart.
    assert abs(points.x.min() - xmin * US_SURVEY_FOOT_M) > 0.3


@pytest.mark.shared_data
def test_autzen_in_utm_10n(shared_data: Path) -> None:
    path = shared_data / LIDAR / "PDAL_autzen_trim.laz"
    points = read_points(path, target_crs="EPSG:32610")
    # Autzen Stadium, Eugene (Oregon), is near 44.058 N, 123.069 W. On UTM 10N
    # (central meridian 123 W): E ~ 500,000 - 0.069 deg x 111.32 km x cos 44.06
    # ~ 494,480 m; N ~ meridian arc to 44.06 deg ~ 4,878,900 m (x 0.9996).
    assert points.x.mean() == pytest.approx(494_480, abs=3_000)
    assert points.y.mean() == pytest.approx(4_878_900, abs=3_000)
    # The cloud is 1,177.46 ft x 0.3048 = 358.9 m wide and 562.70 ft x 0.3048 =
    # 171.5 m tall; UTM's grid is turned ~1.7 deg from the Lambert grid, which
    # widens the box by at most ~171.5 x sin 1.7 deg ~ 5 m.
    assert points.x.max() - points.x.min() == pytest.approx(358.9, abs=8)
    assert points.y.max() - points.y.min() == pytest.approx(171.5, abs=12)
    assert points.z.max() == pytest.approx(520.51 * 0.3048, abs=1e-6)


@pytest.mark.shared_data
def test_us_survey_feet_from_geotiff_keys(shared_data: Path) -> None:
    # EPSG:2903 NAD83(HARN) / New Mexico Central (ftUS); its GeoTIFF keys also
    # carry VerticalUnitsGeoKey = 9003 (US survey foot).
    info = read_lidar_info(shared_data / LIDAR / "PDAL_4_6_crop.las")
    assert info.crs is not None and info.crs.to_epsg() == 2903
    assert info.horizontal_unit_m == pytest.approx(1200 / 3937, rel=1e-12)
    assert info.vertical_unit_m == pytest.approx(1200 / 3937, rel=1e-12)
    assert info.vertical_unit_source == "geotiff"


@pytest.mark.shared_data
def test_lone_star_mislabelled_lonlat_is_caught(shared_data: Path) -> None:
    path = shared_data / LIDAR / "PDAL_lone-star.laz"
    info = read_lidar_info(path)
    assert info.crs is not None and info.crs.to_epsg() == 4326
    assert crs_plausibility_problem(info.crs, info.bounds[:4]) is not None
    with pytest.raises(CRSError, match="wrong CRS label") as err:
        next(iter_points(path, target_crs="EPSG:32612"))
    assert 'crs = "EPSG:' in (err.value.problem.fix or "")
    # x 515,369-515,401, y 4,918,340-4,918,381 are UTM 12N metres: ~44.42 N,
    # 110.80 W, Lone Star Geyser (Yellowstone), z ~2,323-2,339 m.
    points = read_points(path, target_crs="EPSG:32612", crs="EPSG:32612")
    assert len(points) == 518_862
    assert 2_300 < points.z.min() < points.z.max() < 2_350


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "broken"), [("PDAL_warsaw_small.las", ("wkt",)), ("PDAL_autzen-thin.las", ())]
)
def test_broken_or_missing_crs_records(shared_data: Path, name: str, broken: tuple[str]) -> None:
    path = shared_data / LIDAR / name
    info = read_lidar_info(path)
    assert info.crs is None and info.crs_source is None
    assert info.unreadable_crs_records == broken
    with pytest.raises(CRSError) as err:
        read_points(path, target_crs=UTM49)
    assert 'crs = "EPSG:' in (err.value.problem.fix or "")
    assert err.value.path == path


@pytest.mark.shared_data
def test_warsaw_reads_with_an_override(shared_data: Path) -> None:
    # Easting 639,913-639,947 and northing 485,143-485,176 are Poland CS92
    # (EPSG:2180) metres in Warsaw; the override completes the broken header.
    points = read_points(
        shared_data / LIDAR / "PDAL_warsaw_small.las", target_crs="EPSG:2180", crs="EPSG:2180"
    )
    assert len(points) == 3_000
    assert points.x.min() == pytest.approx(639_913.26, abs=0.01)


@pytest.mark.parametrize("name", ["PDAL_autzen_trim.laz", "PDAL_4_6_crop.las"])
def test_truncated_file_is_reported_not_crashed(
    tmp_path: Path, shared_data: Path, name: str
) -> None:
    # A copy cut in half (PDAL test data): its header promises points the file lacks.
    source = shared_data / "lidar" / name
    cut = tmp_path / name
    data = source.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated") as info:
        read_lidar_info(cut)
    assert info.value.problem.path == str(cut)
    assert "re-download" in str(info.value.problem.fix)


def test_decoder_failure_is_an_input_error(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # lazrs reports a corrupt LAZ stream as a RuntimeError (LazrsError) in the
    # middle of decoding; it must surface as an InputError naming the file.
    source = shared_data / "lidar" / "PDAL_autzen_trim.laz"

    def fail(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("IoError: failed to fill whole buffer")

    monkeypatch.setattr(laspy.LasReader, "chunk_iterator", fail)
    with pytest.raises(InputError, match="failed to fill whole buffer") as info:
        read_points(source, target_crs="EPSG:32610")
    assert info.value.problem.path == str(source)
