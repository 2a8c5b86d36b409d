"""``carbonsink lidar classify``: the chain's labels written back into a copy of the cloud."""

from __future__ import annotations

from pathlib import Path

import laspy
import numpy as np
import pytest

from carbonsink.cli import main
from carbonsink.io.pointclouds import read_points
from carbonsink.lidar.options import LidarOptions
from carbonsink.lidar.processing import classify_file, grid_for_files, process_lidar
from tests.test_cli import run_main


@pytest.fixture(scope="module")
def sample_file(sample_survey: Path) -> Path:
    # One of the four 2025 tiles of the sample: LAS 1.4, point format 6, EPSG:4547.
    return sorted((sample_survey.parent / "lidar" / "2025").glob("*.laz"))[0]


@pytest.fixture(scope="module")
def classified(sample_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("classified") / "classified.laz"
    with pytest.raises(SystemExit) as info:
        main(["-q", "lidar", "classify", str(sample_file), "-o", str(out)])
    assert info.value.code in (0, None)
    return out


def test_the_copy_keeps_every_point_in_its_place(sample_file: Path, classified: Path) -> None:
    source, copy = laspy.read(sample_file), laspy.read(classified)
    assert len(copy.points) == len(source.points)
    for name in ("X", "Y", "Z", "intensity", "return_number", "gps_time", "user_data"):
        np.testing.assert_array_equal(np.asarray(copy[name]), np.asarray(source[name]), name)
    assert copy.header.point_format.id == source.header.point_format.id
    # The generator writes every point unassigned (1); now there are ground and water.
    assert set(np.unique(np.asarray(source.classification))) == {1}
    assert {1, 2, 9} <= set(np.unique(np.asarray(copy.classification)))


def test_its_classes_are_the_chains_labels(sample_file: Path, classified: Path) -> None:
    classes = np.asarray(laspy.read(classified).classification)
    np.testing.assert_array_equal(classes, classify_file(sample_file))
    # The chain over the same file in one tile labels the same shares of ground and
    # water: its QA counts them over the points in the tile's cells (the grid's; a
    # point on the grid's east or south edge is in none).
    grid = grid_for_files([sample_file], crs=None, resolution=10.0)
    run = process_lidar([sample_file], grid, tile_size=10_000, options=LidarOptions())
    assert len(run.qa) == 1
    qa = run.qa.iloc[0]
    points = read_points(sample_file, target_crs=grid.crs)
    row, col = grid.index(points.x, points.y)
    cells = (row >= 0) & (row < grid.height) & (col >= 0) & (col < grid.width)
    assert 0.999 * classes.size < cells.sum() <= classes.size
    assert qa["points"] == cells.sum()
    assert qa["ground_fraction"] == pytest.approx(np.mean(classes[cells] == 2), abs=1e-12)
    assert qa["water_fraction"] == pytest.approx(np.mean(classes[cells] == 9), abs=1e-12)
    # And the truth of the generator (user_data: 0 ground, 1 vegetation, 2 water):
    # no water return is ground.
    truth = points.user_data
    assert not np.any((classes == 2) & (truth == 2))


def test_trust_keeps_the_files_ground(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A tiny cloud whose class 2 is its ground: with --ground trust it stays.
    las = laspy.create(point_format=3, file_version="1.2")
    rng = np.random.default_rng(1)
    n = 400
    las.header.offsets = [500_000.0, 3_000_000.0, 0.0]
    las.header.scales = [0.01, 0.01, 0.01]
    las.x = 500_000 + rng.uniform(0, 40, n)
    las.y = 3_000_000 + rng.uniform(0, 40, n)
    las.z = 20 + rng.uniform(0, 2, n)
    las.classification = np.where(np.arange(n) % 3 == 0, 2, 1).astype(np.uint8)
    source = tmp_path / "tiny.las"
    las.write(source)
    out = tmp_path / "tiny_classified.las"
    code, text = run_main(
        [
            "lidar",
            "classify",
            str(source),
            "-o",
            str(out),
            "--file-crs",
            "EPSG:32649",
            "--ground",
            "trust",
        ],
        capsys,
    )
    assert code == 0, text
    np.testing.assert_array_equal(
        np.asarray(laspy.read(out).classification), np.asarray(las.classification)
    )


def test_the_copy_never_overwrites_the_file_read(
    sample_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local = tmp_path / sample_file.name
    local.write_bytes(sample_file.read_bytes())
    code, text = run_main(["lidar", "classify", str(local), "-o", str(local)], capsys)
    assert code == 2
    assert "would overwrite the file read" in text and "Traceback" not in text
    assert local.read_bytes() == sample_file.read_bytes()


@pytest.mark.parametrize(
    ("name", "message"),
    [("folder", "the output is a folder"), ("classified.txt", "not .las or .laz")],
)
def test_a_bad_output_is_refused_before_any_work(
    sample_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    message: str,
) -> None:
    (tmp_path / "folder").mkdir()
    out = tmp_path / name
    code, text = run_main(["lidar", "classify", str(sample_file), "-o", str(out)], capsys)
    assert code == 2
    assert message in text and "Traceback" not in text and "internal error" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


def test_water_polygons_make_a_bright_level_lake_water(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The constructed bright lake of tests/lidar/test_water.py (water as bright as land:
    # not dark, so not water on its own) moved to UTM 49N, with the lake (x < 100 m)
    # drawn as a water polygon: with --water-polygons the lake's returns are class 9,
    # without they are not; every point keeps its place either way.
    import json

    from tests.lidar.test_water import _lake

    s = _lake(water_factor=0.8, water_intensity=(90.0, 150.0))
    x0, y0 = 500_000.0, 3_000_000.0
    las = laspy.create(point_format=3, file_version="1.2")
    las.header.offsets = [x0, y0, 0.0]
    las.header.scales = [0.001, 0.001, 0.001]
    las.x, las.y, las.z = x0 + s["x"], y0 + s["y"], s["z"]
    las.intensity = s["intensity"]
    las.classification = np.ones(s["x"].size, dtype=np.uint8)
    source = tmp_path / "lake.las"
    las.write(source)
    ring = [[x0, y0], [x0 + 100, y0], [x0 + 100, y0 + 120], [x0, y0 + 120], [x0, y0]]
    polygons = tmp_path / "water.geojson"
    polygons.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )

    def classify(out: Path, *options: str) -> tuple[int, str]:
        command = ["lidar", "classify", str(source), "--file-crs", "EPSG:32649", "-o", str(out)]
        return run_main([*command, *options], capsys)

    plain, known = tmp_path / "plain.las", tmp_path / "known.las"
    code, text = classify(plain)
    assert code == 0, text
    code, text = classify(
        known, "--water-polygons", str(polygons), "--water-polygons-crs", "EPSG:32649"
    )
    assert code == 0, text
    lake = s["kind"] == 2
    # The same polygon as the "water" layer of a GeoPackage that also holds a "roads"
    # layer: the file names no layer by itself (exit 2, naming both); with
    # --water-polygons-layer water the labels are those of the GeoJSON.
    import geopandas as gpd
    from shapely.geometry import Polygon, box

    package = tmp_path / "layers.gpkg"
    gpd.GeoDataFrame(geometry=[box(x0 + 150, y0, x0 + 160, y0 + 10)], crs=32649).to_file(
        package, layer="roads"
    )
    gpd.GeoDataFrame(geometry=[Polygon(ring)], crs=32649).to_file(package, layer="water")
    layered = tmp_path / "layered.las"
    code, text = classify(layered, "--water-polygons", str(package))
    assert code == 2 and "holds 2 layers (roads, water)" in text and "Traceback" not in text
    assert not layered.exists()
    code, text = classify(
        layered, "--water-polygons", str(package), "--water-polygons-layer", "water"
    )
    assert code == 0, text
    without = np.asarray(laspy.read(plain).classification)
    with_evidence = laspy.read(known)
    classes = np.asarray(with_evidence.classification)
    assert not (without == 9).any()
    assert (classes[lake] == 9).mean() >= 0.999
    assert not (classes[~lake] == 9).any()
    np.testing.assert_array_equal(np.asarray(laspy.read(layered).classification), classes)
    np.testing.assert_array_equal(np.asarray(with_evidence.x), np.asarray(las.x))
