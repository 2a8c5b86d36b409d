"""Tests of carbonsink.preflight and `carbonsink validate` (issue acceptance)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine

from carbonsink.preflight import preflight
from tests.conftest import PROJECT_ROOT
from tests.scene_edits import set_scl, without_band
from tests.workbooks import csv_as_workbook


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "carbonsink", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_sample_survey_is_clean(sample_survey: Path) -> None:
    report = preflight(sample_survey)
    assert report.errors == [], "\n".join(str(p) for p in report.errors)
    assert report.grid is not None
    assert report.grid.resolution == 10.0
    # Every table, image and LiDAR tile of both epochs was opened.
    suffixes = {p.suffix for p in report.checked}
    assert {".geojson", ".tif", ".laz", ".csv"} <= suffixes


def test_validate_command_exits_0_on_sample(sample_survey: Path) -> None:
    result = run_cli("validate", str(sample_survey))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok" in result.stdout


@pytest.fixture
def broken_survey(tmp_path: Path, sample_survey: Path, shared_data: Path) -> Path:
    """A copy of the sample survey with five distinct problems planted."""
    survey_dir = tmp_path / "junshan"
    shutil.copytree(sample_survey.parent, survey_dir)
    # 1. a missing file
    (survey_dir / "plots_2025.csv").unlink()
    # 2. a table with a misspelled column
    soil_2020 = survey_dir / "soil_2020.csv"
    text = soil_2020.read_text(encoding="utf-8")
    soil_2020.write_text(
        text.replace("bulk_density_g_cm3", "bulk_densty_g_cm3", 1), encoding="utf-8"
    )
    # 3. a negative bulk density (line 3 = second data row)
    soil_2025 = survey_dir / "soil_2025.csv"
    frame = pd.read_csv(soil_2025, dtype=str, keep_default_na=False)
    frame.loc[1, "bulk_density_g_cm3"] = "-0.4"
    frame.to_csv(soil_2025, index=False)
    # 4. a raster that does not overlap the boundary: shift it 200 km east
    image = sorted((survey_dir / "imagery").glob("s2_2025-*.tif"))[0]
    with rasterio.open(image) as src:
        profile = src.profile
        values = src.read()
        t = src.transform
        descriptions = src.descriptions
    profile.update(transform=Affine(t.a, t.b, t.c + 200_000.0, t.d, t.e, t.f))
    with rasterio.open(image, "w", **profile) as dst:
        dst.write(values)
        for i, d in enumerate(descriptions, start=1):
            if d:
                dst.set_band_description(i, d)
    # 5. PDAL_lone-star.laz: header says EPSG:4326, coordinates are projected metres
    #    (source: PDAL test/data, see ../shared/data/SOURCES.md)
    shutil.copy(shared_data / "lidar" / "PDAL_lone-star.laz", survey_dir / "lidar" / "2025")
    return survey_dir / "survey.toml"


def test_broken_survey_reports_every_problem(broken_survey: Path) -> None:
    report = preflight(broken_survey)
    errors = [str(p) for p in report.errors]
    text = "\n".join(errors)
    assert any("plots_2025.csv" in e and "does not exist" in e for e in errors), text
    assert any("soil_2020.csv" in e and "rename column 'bulk_densty_g_cm3'" in e for e in errors), (
        text
    )
    assert any(
        "soil_2025.csv" in e and "line 3" in e and "bulk_density_g_cm3" in e for e in errors
    ), text
    assert any("s2_2025" in e and "does not overlap" in e for e in errors), text
    assert any("PDAL_lone-star.laz" in e and "EPSG:4326" in e for e in errors), text
    assert len(errors) == 5, text


def test_validate_command_lists_all_and_exits_2(broken_survey: Path) -> None:
    result = run_cli("validate", str(broken_survey))
    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    for needle in (
        "plots_2025.csv",
        "bulk_densty_g_cm3",
        "-0.4",
        "does not overlap",
        "PDAL_lone-star.laz",
    ):
        assert needle in output
    assert "5 error(s)" in result.stdout


def test_geographic_analysis_crs_names_utm_zone(tmp_path: Path, sample_survey: Path) -> None:
    survey_dir = tmp_path / "s"
    shutil.copytree(sample_survey.parent, survey_dir)
    path = survey_dir / "survey.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace('crs = "EPSG:32649"', 'crs = "EPSG:4326"', 1),
        encoding="utf-8",
    )
    report = preflight(path)
    (problem,) = [p for p in report.errors if p.where == "[survey].crs"]
    # Junshan, ~112.9 E: UTM zone 49 N = EPSG:32649.
    assert "EPSG:32649" in str(problem.fix)


def test_bad_survey_file_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "survey.toml"
    path.write_text("[survey]\nname = 'x'\n", encoding="utf-8")
    report = preflight(path)
    assert report.survey is None
    assert sorted(p.where or "" for p in report.errors) == [
        "epochs",
        "survey.boundary",
        "survey.crs",
    ]
    assert not report.ok


def test_points_outside_boundary_warned(tmp_path: Path, sample_survey: Path) -> None:
    survey_dir = tmp_path / "s"
    shutil.copytree(sample_survey.parent, survey_dir)
    samples = survey_dir / "landcover_2020.csv"
    frame = pd.read_csv(samples)
    frame.loc[0, "x"] = frame["x"].max() + 50_000.0  # 50 km east of everything
    frame.to_csv(samples, index=False)
    report = preflight(survey_dir / "survey.toml")
    assert report.ok
    (warning,) = [w for w in report.warnings if "landcover_2020.csv" in str(w)]
    assert warning.where == "line 2"
    assert np.isfinite(frame["x"]).all()


def test_a_workbook_table_is_checked_by_sheet_and_row(tmp_path: Path, sample_survey: Path) -> None:
    # The 2020 land-cover samples as sheet 样本 of an .xlsx (CSV line n = Excel row n): the
    # sample in row 7 moved 50 km east is warned about by its sheet and row; the same
    # workbook without a crs in its entry is an error (a workbook carries no CRS).
    survey_dir = _copy(tmp_path, sample_survey)
    csv = survey_dir / "landcover_2020.csv"
    x_far = float(pd.read_csv(csv)["x"].max()) + 50_000.0
    csv_as_workbook(csv, survey_dir / "landcover_2020.xlsx", sheet="样本", cells={(7, "x"): x_far})
    toml = survey_dir / "survey.toml"
    text = toml.read_text(encoding="utf-8")
    old = 'landcover_samples = { path = "landcover_2020.csv", crs = "EPSG:32649" }'
    assert old in text
    toml.write_text(text.replace(old, old.replace(".csv", ".xlsx")), encoding="utf-8")
    report = preflight(toml, quick=True)
    assert report.ok
    (warning,) = [w for w in report.warnings if "landcover_2020.xlsx" in str(w)]
    assert "1 of 400 points lie outside the project boundary" in warning.message
    assert warning.where == "sheet '样本', row 7"
    no_crs = 'landcover_samples = { path = "landcover_2020.xlsx" }'
    toml.write_text(text.replace(old, no_crs), encoding="utf-8")
    (error,) = preflight(toml, quick=True).errors
    assert "landcover_2020.xlsx" in str(error) and "carries no CRS" in error.message


def _boundary_ring(sample_survey: Path) -> list[list[float]]:
    gj = json.loads((sample_survey.parent / "boundary.geojson").read_text(encoding="utf-8"))
    geometry = gj["features"][0]["geometry"]
    rings = geometry["coordinates"] if geometry["type"] == "Polygon" else geometry["coordinates"][0]
    return [list(map(float, xy)) for xy in rings[0]]


def _with_boundary(tmp_path: Path, sample_survey: Path, ring: list[list[float]]) -> Path:
    survey_dir = tmp_path / "s"
    shutil.copytree(sample_survey.parent, survey_dir)
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    (survey_dir / "boundary.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8"
    )
    return survey_dir / "survey.toml"


def test_a_twisted_boundary_is_an_error_before_any_compute(
    tmp_path: Path, sample_survey: Path
) -> None:
    # Swapping the second vertex of the project polygon with the one halfway round twists
    # it: repairing it would change its area by far more than 0.1 %, so validate refuses
    # it, naming the feature and both areas, and exits 2.
    ring = _boundary_ring(sample_survey)
    half = len(ring) // 2
    ring[1], ring[half] = ring[half], ring[1]
    path = _with_boundary(tmp_path, sample_survey, ring)
    report = preflight(path)
    (problem,) = [p for p in report.errors if p.where == "feature 1"]
    assert "invalid polygon" in problem.message and " ha to " in problem.message
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout


def test_a_needle_repair_is_a_warning_in_validate_and_the_ledger(
    tmp_path: Path, sample_survey: Path
) -> None:
    # A needle notch on the first edge that crosses back over itself: the repair changes
    # the area by far less than 0.1 % (a 1e-6-wide needle), so it is kept — and named in
    # validate's warnings and in the ledger's (code boundary-repaired).
    from carbonsink.pipeline.context import RunContext
    from carbonsink.pipeline.stages.ledger import ledger_warnings

    ring = _boundary_ring(sample_survey)
    (x0, y0), (x1, y1) = ring[0], ring[1]
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    cx = sum(x for x, _ in ring[:-1]) / (len(ring) - 1)
    cy = sum(y for _, y in ring[:-1]) / (len(ring) - 1)
    inner = [mx + 0.1 * (cx - mx), my + 0.1 * (cy - my)]
    behind = [mx - 1e-6 * (x1 - x0), my - 1e-6 * (y1 - y0)]
    ring = [ring[0], [mx, my], inner, behind, *ring[1:]]
    path = _with_boundary(tmp_path, sample_survey, ring)
    report = preflight(path)
    assert report.ok
    (warning,) = [w for w in report.warnings if w.where == "[survey].boundary"]
    assert warning.message.startswith("feature 1: invalid polygon (Self-intersection")
    ctx = RunContext.build(path)
    (recorded,) = [w for w in ledger_warnings(ctx, []) if w.code == "boundary-repaired"]
    assert recorded.message == warning.message


def _copy(tmp_path: Path, sample_survey: Path) -> Path:
    survey_dir = tmp_path / "s"
    shutil.copytree(sample_survey.parent, survey_dir, ignore=shutil.ignore_patterns("truth"))
    return survey_dir


@pytest.mark.parametrize(
    ("table", "header", "swapped"),
    [
        ("plots_2020.csv", "plot_id,lon,lat,", "plot_id,lat,lon,"),
        ("landcover_2020.csv", "x,y,", "y,x,"),
    ],
)
def test_swapped_coordinate_columns_are_named_with_the_fix(
    tmp_path: Path, sample_survey: Path, table: str, header: str, swapped: str
) -> None:
    # The plots are lon/lat (CGCS2000, EPSG:4490): a header with the two names swapped puts
    # every plot at longitude ~29°, latitude ~113°, which no geographic CRS allows. The
    # land-cover samples are UTM 49N metres: swapped, eastings of ~3,255 km lie outside the
    # zone or the boundary. Either way the error says the columns look swapped, names the
    # header line and gives the fix.
    survey_dir = _copy(tmp_path, sample_survey)
    path = survey_dir / table
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(header)
    lines[0] = lines[0].replace(header, swapped, 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = preflight(survey_dir / "survey.toml")
    (error,) = [e for e in report.errors if table in str(e)]
    first, second = header.split(",")[-3:-1]
    assert "look swapped" in error.message
    assert error.where == f"line 1 (header: {first}, {second})"
    assert f"swap the names of the {first} and {second} columns" in (error.fix or "")


def test_a_semicolon_table_and_decimal_commas_get_their_hint(
    tmp_path: Path, sample_survey: Path
) -> None:
    survey_dir = _copy(tmp_path, sample_survey)
    samples = survey_dir / "landcover_2025.csv"
    samples.write_text(samples.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")
    soil = survey_dir / "soil_2020.csv"
    frame = pd.read_csv(soil, dtype=str, keep_default_na=False)
    frame.loc[3, "bulk_density_g_cm3"] = frame.loc[3, "bulk_density_g_cm3"].replace(".", ",")
    frame.to_csv(soil, index=False)
    report = preflight(survey_dir / "survey.toml")
    (separator,) = [e for e in report.errors if "landcover_2025.csv" in str(e)]
    assert "separated by semicolons" in separator.message and separator.where == "line 1"
    (comma,) = [e for e in report.errors if "soil_2020.csv" in str(e)]
    assert "bulk_density_g_cm3 is not a number" in comma.message
    assert "decimal comma" in comma.message and comma.where == "line 5"


def test_a_class_with_fewer_than_two_samples_is_foreseen(
    tmp_path: Path, sample_survey: Path
) -> None:
    # Keep a single poplar sample in 2025: validate warns before any compute.
    survey_dir = _copy(tmp_path, sample_survey)
    samples = survey_dir / "landcover_2025.csv"
    frame = pd.read_csv(samples)
    poplar = frame.index[frame["class"] == "poplar"]
    assert len(poplar) >= 2
    frame.drop(index=poplar[1:]).to_csv(samples, index=False)
    report = preflight(survey_dir / "survey.toml")
    assert report.ok
    (warning,) = [w for w in report.warnings if "landcover_2025.csv" in str(w)]
    assert "fewer than 2 reference samples: poplar (1)" in warning.message


def test_validate_decodes_every_point_unless_quick(tmp_path: Path, sample_survey: Path) -> None:
    # 2,000 bytes flipped in the middle of a LAZ file: its header and chunk table are
    # intact, so the header check passes (and so does --quick); decoding the points fails.
    survey_dir = _copy(tmp_path, sample_survey)
    laz = sorted((survey_dir / "lidar" / "2020").glob("*.laz"))[0]
    data = bytearray(laz.read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + 2000):
        data[i] ^= 0x5A
    laz.write_bytes(bytes(data))
    full = run_cli("validate", str(survey_dir / "survey.toml"))
    assert full.returncode == 2, full.stdout + full.stderr
    assert laz.name in full.stdout + full.stderr
    assert "the point data is damaged: decoding stops after" in full.stdout + full.stderr
    assert "Traceback" not in full.stdout + full.stderr
    quick = run_cli("validate", "--quick", str(survey_dir / "survey.toml"))
    assert quick.returncode == 0, quick.stdout + quick.stderr


def test_a_scene_without_its_quality_band_is_foreseen(tmp_path: Path, sample_survey: Path) -> None:
    # Issue 16: a Sentinel-2 scene without its SCL band enters the composite with its
    # clouds unmasked; validate says so before any compute (and the run's ledger does too).
    survey_dir = _copy(tmp_path, sample_survey)
    scene = survey_dir / "imagery" / "s2_2025-09-13.tif"
    without_band(scene, "SCL")
    report = preflight(survey_dir / "survey.toml")
    assert report.ok
    (warning,) = [w for w in report.warnings if scene.name in str(w)]
    assert "no quality band (SCL)" in warning.message and "clouds-unmasked" in warning.message


def test_a_wholly_clouded_scene_is_foreseen_as_left_out(
    tmp_path: Path, sample_survey: Path
) -> None:
    # Issue 16: SCL 9 (cloud, high probability) on every pixel of one 2025 scene: the run's
    # composite leaves it out (no usable pixel inside the survey) and the ledger warns
    # scene-dropped; validate foresees it from the same band, read as the run reads it.
    survey_dir = _copy(tmp_path, sample_survey)
    scene = survey_dir / "imagery" / "s2_2025-09-13.tif"
    set_scl(scene, 9)
    report = preflight(survey_dir / "survey.toml")
    assert report.ok, report.errors
    (warning,) = [w for w in report.warnings if scene.name in str(w)]
    assert warning.where == "band SCL"
    assert "every pixel over the project as cloud" in warning.message
    assert "scene-dropped" in warning.message
    # The run's imagery stage agrees: the scene is left out of the 2025 composite.
    from carbonsink.pipeline.context import RunContext, find_epoch
    from carbonsink.pipeline.stages.imagery import epoch_composite

    ctx = RunContext.build(survey_dir / "survey.toml")
    composite = epoch_composite(ctx, find_epoch(ctx.survey, "2025"))
    assert [f for f in composite.attrs["flagged_scenes"] if scene.name in f]


def test_a_scene_clouded_but_for_a_clear_patch_is_not_flagged(
    tmp_path: Path, sample_survey: Path
) -> None:
    # Cloud everywhere except a 20 × 20 pixel clear patch in the middle of the scene (inside
    # the boundary): one usable pixel is enough for the composite, so no warning.
    survey_dir = _copy(tmp_path, sample_survey)
    scene = survey_dir / "imagery" / "s2_2025-09-13.tif"
    with rasterio.open(scene) as src:
        rows, cols = src.height // 2, src.width // 2
    set_scl(scene, 9, (slice(rows - 10, rows + 10), slice(cols - 10, cols + 10)))
    report = preflight(survey_dir / "survey.toml")
    assert report.ok
    assert not [w for w in report.warnings if scene.name in str(w)]


def test_an_epoch_whose_scenes_are_all_clouded_is_an_error(
    tmp_path: Path, sample_survey: Path
) -> None:
    # Both 2025 scenes wholly clouded: the composite would have no usable pixel at all, which
    # the run could only find after the 2020 epoch's compute — validate refuses it up front.
    survey_dir = _copy(tmp_path, sample_survey)
    for name in ("s2_2025-09-13.tif", "s2_2025-09-23.tif"):
        set_scl(survey_dir / "imagery" / name, 8)
    report = preflight(survey_dir / "survey.toml")
    assert not report.ok
    (error,) = report.errors
    assert error.where == "epochs[2] (2025).imagery"
    assert "every scene of epoch '2025' is wholly clouded" in error.message
    assert error.fix == "add a scene with clear sky over the project"


def test_a_scene_with_none_of_the_sensors_bands_is_an_error(
    tmp_path: Path, sample_survey: Path
) -> None:
    # The band count and names against the sensor profile: a 1-band file named as a
    # Sentinel-2 scene holds none of its bands — an error naming the file and the fix.
    import rasterio

    survey_dir = _copy(tmp_path, sample_survey)
    scene = survey_dir / "imagery" / "s2_2020-09-10.tif"
    with rasterio.open(scene) as src:
        profile = {**src.profile, "count": 1}
        data = src.read([1])
    scene.unlink()
    with rasterio.open(scene, "w", **profile) as dst:
        dst.write(data)
    report = preflight(survey_dir / "survey.toml")
    (error,) = [e for e in report.errors if scene.name in str(e)]
    assert "none of the bands of sensor 'sentinel-2-l2a'" in error.message
    assert "1 unnamed band(s)" in error.message and "band map" in (error.fix or "")


def _without_line(toml: Path, section: str, line: str) -> None:
    text = toml.read_text(encoding="utf-8")
    at = text.index(line, text.index(section))
    toml.write_text(text[:at] + text[at + len(line) :], encoding="utf-8")


def test_a_default_flux_in_place_of_a_measurement_is_foreseen(
    tmp_path: Path, sample_survey: Path
) -> None:
    # Issue 16: reed without its n2o_flux_mg_m2_d takes the vm0033 profile's freshwater N2O
    # default, 0.000864 t N2O ha⁻¹ yr⁻¹ = 0.000864 × 10⁹ mg / 10⁴ m² / 365 d
    # = 0.236712 mg N2O m⁻² d⁻¹; validate says so before any compute, as the ledger's
    # default-flux warning will. Without its ch4_flux_mg_m2_d there is no default at all
    # (vm0033 has no freshwater CH4 default): an error, which the run would otherwise only
    # meet in its ledger stage after the whole compute.
    survey_dir = _copy(tmp_path, sample_survey)
    toml = survey_dir / "survey.toml"
    _without_line(toml, "[vegetation.classes.reed]", "n2o_flux_mg_m2_d = 0.0")
    report = preflight(toml)
    assert report.ok
    (warning,) = [w for w in report.warnings if "default-flux" in w.message]
    assert warning.message.startswith("the N2O flux of class(es) reed (0.236712) mg N2O m⁻² d⁻¹")
    assert "vm0033 profile's default factor" in warning.message
    assert warning.where == "[vegetation.classes]"
    assert warning.fix == "set n2o_flux_mg_m2_d per class from a flux measurement"
    _without_line(toml, "[vegetation.classes.reed]", "ch4_flux_mg_m2_d = 3.0\n")
    (error,) = preflight(toml).errors
    assert error.where == "[vegetation.classes.reed].ch4_flux_mg_m2_d"
    assert "no CH4 flux and the methodology profile gives no default factor" in error.message


def test_water_polygons_are_checked_before_any_compute(tmp_path: Path, sample_survey: Path) -> None:
    # The 2025 epoch's water evidence: a missing file, a file of points, then polygons far
    # from the project — each an error naming the entry or file, with its fix.
    survey_dir = _copy(tmp_path, sample_survey)
    toml = survey_dir / "survey.toml"
    text = toml.read_text(encoding="utf-8")
    anchor = 'lidar = [{ path = "lidar/2025/*.laz" }]\n'
    assert anchor in text

    def errors_with(polygons: str) -> list:  # type: ignore[type-arg]
        entry = f'water_evidence = {{ polygons = "{polygons}", crs = "EPSG:32649" }}\n'
        toml.write_text(text.replace(anchor, anchor + entry), encoding="utf-8")
        return [e for e in preflight(toml).errors if polygons in str(e) or "water" in str(e)]

    (missing,) = errors_with("water_2025.gpkg")
    assert "does not exist" in missing.message
    feature = {"type": "Feature", "properties": {}}
    points = {**feature, "geometry": {"type": "Point", "coordinates": [700_000.0, 3_250_000.0]}}
    (survey_dir / "points.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [points]}), encoding="utf-8"
    )
    (no_polygons,) = errors_with("points.geojson")
    assert "water polygon file holds no polygons" in no_polygons.message
    ring = [[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 0.0]]
    away = {
        **feature,
        "geometry": {"type": "Polygon", "coordinates": [[[500_000 + x, y] for x, y in ring]]},
    }
    (survey_dir / "away.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [away]}), encoding="utf-8"
    )
    (elsewhere,) = errors_with("away.geojson")
    assert "water polygon file does not overlap the project boundary" in elsewhere.message
    # Two ponds 1 km west and east of the project: their joint extent spans it, they do not.
    from carbonsink.io.vectors import load_boundary

    xmin, ymin, xmax, _ = load_boundary(survey_dir / "boundary.geojson").to_crs("EPSG:32649").bounds
    ponds = [
        {
            **feature,
            "geometry": {"type": "Polygon", "coordinates": [[[x + a, ymin + b] for a, b in ring]]},
        }
        for x in (xmin - 1_000.0, xmax + 1_000.0)
    ]
    (survey_dir / "ponds.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": ponds}), encoding="utf-8"
    )
    (beside,) = errors_with("ponds.geojson")
    assert "no polygon of the water polygon file meets the project boundary" in beside.message
    assert beside.path is not None and beside.path.endswith("ponds.geojson")


def test_a_raster_on_another_celestial_body_is_an_error_not_a_traceback(
    tmp_path: Path, sample_survey: Path
) -> None:
    # PROJ has no path from a Mars CRS to a UTM zone: Transformer.from_crs raises
    # ProjError, which must become the file's error, naming both CRSs.
    survey_dir = tmp_path / "s"
    shutil.copytree(sample_survey.parent, survey_dir)
    image = sorted((survey_dir / "imagery").glob("s2_2025-*.tif"))[0]
    with rasterio.open(image, "r+") as dst:
        dst.crs = rasterio.crs.CRS.from_user_input("IAU_2015:49910")  # Mars, equirectangular
    report = preflight(survey_dir / "survey.toml")
    errors = [p for p in report.errors if image.name in str(p)]
    assert len(errors) == 1, "\n".join(str(p) for p in report.errors)
    assert "cannot be transformed" in errors[0].message
    assert "Mars" in errors[0].message
    result = run_cli("validate", str(survey_dir / "survey.toml"))
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr


def test_samples_by_both_methods_are_checked(tmp_path: Path, sample_survey: Path) -> None:
    # [soil] method_pairs with Chinese headers (样品编号, 测定方法, 有机碳(%)): five samples
    # are too few (eq. 3.3b needs 10); ten pass, and the file counts among the inputs (the
    # stage cache's key).
    survey_dir = _copy(tmp_path, sample_survey)
    toml = survey_dir / "survey.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(
        text.replace("[soil]\n", '[soil]\nmethod_pairs = { path = "pairs.csv" }\n', 1),
        encoding="utf-8",
    )
    pairs = survey_dir / "pairs.csv"

    def write(n: int) -> None:
        rows = [f"S{i},{m},{v}" for i in range(n) for m, v in (("CHN", 2.0), ("dichromate", 2.1))]
        pairs.write_text("样品编号,测定方法,有机碳(%)\n" + "\n".join(rows) + "\n", encoding="utf-8")

    write(5)
    report = preflight(toml)
    (error,) = [e for e in report.errors if "pairs.csv" in str(e)]
    assert "5 sample(s) measured by both methods; at least 10" in str(error)
    write(10)
    report = preflight(toml)
    assert report.errors == [], "\n".join(str(p) for p in report.errors)
    assert pairs in report.checked
    # Samples by two methods neither of which is the first epoch's (CHN).
    pairs.write_text(pairs.read_text(encoding="utf-8").replace("CHN", "LOI"), encoding="utf-8")
    (error,) = preflight(toml).errors
    assert "not by the first epoch's method 'chn'" in str(error)
    pairs.write_text("样品编号,测定方法,有机碳(%)\nS1,CHN,2.0\nS1,CHN,2.1\n", encoding="utf-8")
    result = run_cli("validate", str(toml))
    assert result.returncode == 2
    assert "pairs.csv" in result.stdout and "measured twice by the same method" in result.stdout
