"""Tests of carbonsink.config: the survey file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from carbonsink.config import DEFAULT_CLASSES, load_survey
from carbonsink.errors import ConfigError, InputNotFoundError, SurveyFileError

MINIMAL = """
[survey]
name = "test"
crs = "EPSG:32649"
boundary = "boundary.geojson"

[[epochs]]
name = "2020"
date = "2020-09-15"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "survey.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_survey_gets_methodology_defaults(tmp_path: Path) -> None:
    survey = load_survey(write(tmp_path, MINIMAL))
    assert survey.survey.resolution == 10.0
    assert survey.epochs[0].date == dt.date(2020, 9, 15)
    # docs/methodology.md §2: CF 0.47; R reed 1.0, Miscanthus 0.5, Carex 1.5, poplar 0.24.
    classes = survey.vegetation.classes
    assert {c.carbon_fraction for c in classes.values()} == {0.47}
    assert classes["reed"].root_shoot == 1.0
    assert classes["miscanthus"].root_shoot == 0.5
    assert classes["sedge"].root_shoot == 1.5
    assert classes["poplar"].root_shoot == 0.24
    # docs/methodology.md §3: 0-30 cm and 0-100 cm; Chinese 有机质 / 1.724.
    assert survey.soil.depths_cm == [30.0, 100.0]
    assert survey.soil.om_to_oc == "dichromate"
    assert survey.accounting.mc_draws >= 10_000
    assert set(DEFAULT_CLASSES) == set(classes)


def test_relative_paths_resolve_against_the_survey_folder(tmp_path: Path) -> None:
    text = MINIMAL + 'plots = { path = "tables/plots.csv", crs = "EPSG:4490" }\n'
    survey = load_survey(write(tmp_path, text))
    assert survey.survey.boundary == tmp_path.resolve() / "boundary.geojson"
    assert survey.epochs[0].plots is not None
    assert survey.epochs[0].plots.path == tmp_path.resolve() / "tables" / "plots.csv"
    assert survey.epochs[0].plots.crs == "EPSG:4490"
    assert survey.root == tmp_path.resolve()


def test_lidar_glob_expands_sorted(tmp_path: Path) -> None:
    folder = tmp_path / "lidar" / "2020"
    folder.mkdir(parents=True)
    for name in ("b.laz", "a.laz", "c.las"):
        (folder / name).write_bytes(b"")
    text = MINIMAL + 'lidar = [{ path = "lidar/2020/*.laz", crs = "EPSG:4547" }]\n'
    survey = load_survey(write(tmp_path, text))
    files = survey.epochs[0].lidar[0].files()
    assert [f.name for f in files] == ["a.laz", "b.laz"]
    assert survey.epochs[0].lidar[0].ground == "classify"


def test_every_problem_reported_at_once_with_suggestions(tmp_path: Path) -> None:
    text = MINIMAL.replace('name = "2020"', 'name = "2020"\nplots = { path = "p.csv", crss = "x" }')
    text += """
[biomass]
modle = "random-forest"
[soil]
depths_cm = [30, 20]
[vegetation.classes.sedge]
code = 3
root_shot = 1.5
[accounting]
buffer_pct = 150
"""
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, text))
    problems = {p.where: p for p in info.value.problems}
    assert set(problems) == {
        "epochs[1].plots.crss",
        "biomass.modle",
        "soil.depths_cm",
        "vegetation.classes.sedge.root_shot",
        "accounting.buffer_pct",
    }
    assert 'did you mean "crs"' in str(problems["epochs[1].plots.crss"].fix)
    assert 'did you mean "model"' in str(problems["biomass.modle"].fix)
    assert 'did you mean "root_shoot"' in str(problems["vegetation.classes.sedge.root_shot"].fix)
    assert "150" in problems["accounting.buffer_pct"].message
    # The error is a ConfigError (and so a ValueError) for library callers.
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, ValueError)


def test_unknown_top_level_table_suggests_nearest(tmp_path: Path) -> None:
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, MINIMAL + "[vegetaton]\n"))
    (problem,) = info.value.problems
    assert problem.where == "vegetaton"
    assert 'did you mean "vegetation"' in str(problem.fix)


def test_unreadable_crs_and_missing_key(tmp_path: Path) -> None:
    text = MINIMAL.replace('crs = "EPSG:32649"', 'crs = "EPSG:99999"').replace(
        'boundary = "boundary.geojson"\n', ""
    )
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, text))
    wheres = sorted(p.where or "" for p in info.value.problems)
    assert wheres == ["survey.boundary", "survey.crs"]


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(SurveyFileError) as info:
        # MINIMAL starts with a newline, so `name = ...` is on line 3.
        load_survey(write(tmp_path, MINIMAL.replace('name = "test"', 'name = "test" oops')))
    assert "line 3" in info.value.problems[0].message


def test_missing_survey_file(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="does not exist"):
        load_survey(tmp_path / "nope.toml")


def test_epochs_must_be_ordered_and_unique(tmp_path: Path) -> None:
    text = MINIMAL + '\n[[epochs]]\nname = "2020"\ndate = "2019-01-01"\n'
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, text))
    message = info.value.problems[0].message
    assert "unique" in message


def test_epoch_names_differing_only_in_case_are_refused(tmp_path: Path) -> None:
    # A GeoPackage's tables (plots_A, plots_a) and some disks do not tell them apart.
    text = MINIMAL.replace('name = "2020"', 'name = "A"') + (
        '\n[[epochs]]\nname = "a"\ndate = "2026-01-01"\n'
    )
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, text))
    message = info.value.problems[0].message
    assert "unique, upper and lower case alike; repeated: A, a" in message


def test_sensor_requirements(tmp_path: Path) -> None:
    text = MINIMAL + 'imagery = [{ path = "a.tif", sensor = "generic" }]\n'
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, text))
    assert "band map" in info.value.problems[0].message
    text = MINIMAL + 'imagery = [{ path = "a.tif", sensor = "sentinel-3" }]\n'
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, text))
    assert "sentinel-2-l2a" in info.value.problems[0].message


def test_duplicate_class_codes_refused(tmp_path: Path) -> None:
    text = MINIMAL + "[vegetation.classes.a]\ncode = 1\n[vegetation.classes.b]\ncode = 1\n"
    with pytest.raises(SurveyFileError, match="share code 1"):
        load_survey(write(tmp_path, text))


def test_lidar_entries_of_an_epoch_share_crs_and_ground(tmp_path: Path) -> None:
    # One run of the LiDAR chain takes one crs and one ground setting: refused when the
    # survey is read, before any compute.
    text = MINIMAL + (
        'lidar = [{ path = "a.laz", crs = "EPSG:4547" }, { path = "b.laz", crs = "EPSG:32649" }]\n'
    )
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, text))
    problem = info.value.problems[0]
    assert "different crs or ground" in problem.message
    assert problem.where == "epochs[1]"


def test_checkpoints_need_the_epochs_lidar_and_a_vertical_datum(tmp_path: Path) -> None:
    # Checkpoints check the LiDAR terrain: without point clouds there is nothing to check.
    entry = 'checkpoints = { path = "cp.csv", crs = "EPSG:32649", vertical_datum = "EGM2008" }\n'
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, MINIMAL + entry))
    problem = info.value.problems[0]
    assert "no lidar entry" in problem.message and problem.where == "epochs[1]"
    # With LiDAR the entry loads; the datum is required (no geoid model is applied).
    lidar = 'lidar = [{ path = "a.laz", crs = "EPSG:4547" }]\n'
    survey = load_survey(write(tmp_path, MINIMAL + lidar + entry))
    checkpoints = survey.epochs[0].checkpoints
    assert checkpoints is not None and checkpoints.vertical_datum == "EGM2008"
    assert checkpoints.correct is True
    with pytest.raises(SurveyFileError) as info:
        load_survey(
            write(tmp_path, MINIMAL + lidar + entry.replace(', vertical_datum = "EGM2008"', ""))
        )
    assert "vertical_datum" in str(info.value.problems[0].where) + info.value.problems[0].message


def test_water_evidence_needs_lidar_some_evidence_and_imagery_for_imagery(
    tmp_path: Path,
) -> None:
    lidar = 'lidar = [{ path = "a.laz", crs = "EPSG:4547" }]\n'
    polygons = 'water_evidence = { polygons = "water.gpkg" }\n'
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, MINIMAL + polygons))
    assert "no lidar entry" in info.value.problems[0].message
    survey = load_survey(write(tmp_path, MINIMAL + lidar + polygons))
    evidence = survey.epochs[0].water_evidence
    assert evidence is not None and evidence.polygons == tmp_path / "water.gpkg"
    assert evidence.imagery is False and evidence.mndwi_threshold == 0.0
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, MINIMAL + lidar + "water_evidence = { imagery = false }\n"))
    assert "names no evidence" in info.value.problems[0].message
    # The imagery's water mask needs the epoch's imagery.
    mask = "water_evidence = { imagery = true }\n"
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, MINIMAL + lidar + mask))
    assert "has none" in info.value.problems[0].message
    imagery = 'imagery = [{ path = "s2.tif", sensor = "sentinel-2-l2a" }]\n'
    survey = load_survey(write(tmp_path, MINIMAL + imagery + lidar + mask))
    assert survey.epochs[0].water_evidence is not None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            '{ imagery = true, crs = "EPSG:4547", layer = "water" }',
            "gives crs and layer but no polygons",
        ),
        ('{ imagery = true, layer = "water" }', "gives layer but no polygons"),
        (
            '{ polygons = "water.gpkg", mndwi_threshold = 0.1 }',
            "gives mndwi_threshold but no imagery = true",
        ),
    ],
)
def test_water_evidence_options_of_a_source_not_given_are_refused(
    tmp_path: Path, entry: str, message: str
) -> None:
    # Each would be read and silently ignored: the CRS and layer describe the polygons,
    # the threshold sets the imagery's water mask.
    head = 'imagery = [{ path = "s2.tif", sensor = "sentinel-2-l2a" }]\n'
    head += 'lidar = [{ path = "a.laz", crs = "EPSG:4547" }]\n'
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, MINIMAL + head + f"water_evidence = {entry}\n"))
    assert message in info.value.problems[0].message
    # The default threshold, unstated, is no option given; nor is it when the settings
    # come back from the run cache with every default written out.
    survey = load_survey(
        write(tmp_path, MINIMAL + head + 'water_evidence = { polygons = "water.gpkg" }\n')
    )
    evidence = survey.epochs[0].water_evidence
    assert evidence is not None
    assert type(evidence).model_validate(evidence.model_dump(mode="json")) == evidence


@pytest.mark.parametrize(
    ("old", "new", "what"),
    [
        ('name = "2020"', 'name = "../../x"', "epoch name"),
        ('name = "2020"', 'name = "2025/26"', "epoch name"),
    ],
)
def test_names_that_become_file_names_are_checked(
    tmp_path: Path, old: str, new: str, what: str
) -> None:
    # An epoch name is part of output file names (cube_<epoch>.nc): a separator or '..'
    # is refused up front.
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, MINIMAL.replace(old, new)))
    message = info.value.problems[0].message
    assert what in message and "cannot be part of a file name" in message


def _classes(*names: str) -> str:
    return "".join(
        f'[vegetation.classes."{name}"]\ncode = {code}\n\n' for code, name in enumerate(names, 1)
    )


def test_class_names_with_spaces_and_any_script_are_kept_and_named_safely(tmp_path: Path) -> None:
    # Issue 16: class names are the survey team's words — a space, a slash, Chinese — and
    # stay so in the ledger and the report; the layers and files they name take a slug.
    from carbonsink.io.files import file_name_slug

    names = ("open water", "芦苇 reed", "Carex/sedge")
    survey = load_survey(
        write(tmp_path, MINIMAL.replace("[[epochs]]", _classes(*names) + "[[epochs]]"))
    )
    assert set(names) <= set(survey.vegetation.classes)
    assert [file_name_slug(n) for n in names] == ["open_water", "芦苇_reed", "Carex_sedge"]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("open water", "open_water"), "would name the same output files"),
        (("Reed", "reed"), "ignore case"),
        (("--",), "no letter or digit"),
        (("tab\\there",), "control characters"),
    ],
)
def test_class_names_that_cannot_name_files_are_refused(
    tmp_path: Path, names: tuple[str, ...], expected: str
) -> None:
    text = MINIMAL.replace("[[epochs]]", _classes(*names) + "[[epochs]]")
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, text))
    assert expected in info.value.problems[0].message


def test_year_fraction() -> None:
    from carbonsink.config import Epoch

    # 2020 is a leap year: 15 Sep is day-of-year 259 (0-based 258); 258/366 = 0.70492
    epoch = Epoch(name="a", date=dt.date(2020, 9, 15))
    assert epoch.year_fraction == pytest.approx(2020 + 258 / 366)


def test_table_entries_take_a_sheet_and_an_encoding(tmp_path: Path) -> None:
    text = MINIMAL + (
        'plots = { path = "plots.xlsx", crs = "EPSG:4490", sheet = "样方" }\n'
        'soil = { path = "soil.xlsx", crs = "EPSG:4326", sheet = 2 }\n'
        'landcover_samples = { path = "lc.csv", crs = "EPSG:32649", encoding = "gbk" }\n'
    )
    epoch = load_survey(write(tmp_path, text)).epochs[0]
    assert epoch.plots is not None and epoch.plots.sheet == "样方"
    assert epoch.soil is not None and epoch.soil.sheet == 2
    assert epoch.landcover_samples is not None and epoch.landcover_samples.encoding == "gbk"
    assert type(epoch.soil).model_validate(epoch.soil.model_dump(mode="json")) == epoch.soil


@pytest.mark.parametrize(
    ("entry", "where", "message"),
    [
        (
            '{ path = "p.csv", encoding = "gkb" }',
            "epochs[1].plots.encoding",
            "unknown text encoding 'gkb'",
        ),
        (
            '{ path = "p.xlsx", encoding = "gbk" }',
            "epochs[1].plots",
            "encoding applies to CSV files",
        ),
        (
            '{ path = "p.csv", sheet = "plots" }',
            "epochs[1].plots",
            "sheet applies to Excel workbooks",
        ),
        (
            '{ path = "p.xlsx", layer = "plots" }',
            "epochs[1].plots",
            "write sheet = 'plots' instead",
        ),
        ('{ path = "p.xlsx", sheet = 0 }', "epochs[1].plots.sheet", ""),
        ('{ path = "p.xlsx", sheet = "" }', "epochs[1].plots.sheet", ""),
        ('{ path = "p.xlsx", sheet = 1.5 }', "epochs[1].plots.sheet", "counting from 1"),
    ],
)
def test_table_options_that_do_not_fit_the_file_are_refused(
    tmp_path: Path, entry: str, where: str, message: str
) -> None:
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, MINIMAL + f"plots = {entry}\n"))
    problems = info.value.problems
    assert problems and all(p.where is not None and p.where.startswith(where) for p in problems)
    assert message in " ".join(p.message for p in problems)


@pytest.mark.parametrize("name", ["Junshan\\twetland", "Jun\\nshan", "Junshan\\u0007"])
def test_a_survey_name_that_cannot_title_the_outputs_is_refused(tmp_path: Path, name: str) -> None:
    # The name titles the report, its PDF pages and the QGIS project (XML cannot hold a
    # control character): a tab pasted from a spreadsheet is refused with the fix.
    text = MINIMAL.replace('name = "test"', f'name = "{name}"', 1)
    assert text != MINIMAL
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, text))
    assert "give a printable name" in info.value.problems[0].message


def test_the_100_year_benefit_is_stated_per_pool_group(tmp_path: Path) -> None:
    text = MINIMAL + "\n[accounting]\nbenefit_100yr_t_co2e = { soil = 1250.5 }\n"
    survey = load_survey(write(tmp_path, text))
    assert survey.accounting.benefit_100yr_t_co2e == {"soil": 1250.5}
    # A group the caps do not know, and a negative benefit, are refused where they are written.
    for bad, words in (("{ wood = 10.0 }", "wood"), ("{ soil = -1.0 }", "greater than or equal")):
        text = MINIMAL + f"\n[accounting]\nbenefit_100yr_t_co2e = {bad}\n"
        with pytest.raises(SurveyFileError) as info:
            load_survey(write(tmp_path, text))
        problem = info.value.problems[0]
        assert "benefit_100yr_t_co2e" in str(problem.where) and words in problem.message


def test_a_measured_root_shoot_se_excludes_a_range_and_a_ratio_of_zero(tmp_path: Path) -> None:
    measured = "[vegetation.classes.reed]\ncode = 4\nroot_shoot = 1.12\nroot_shoot_se = 0.08\n"
    survey = load_survey(write(tmp_path, MINIMAL + measured))
    assert survey.vegetation.classes["reed"].root_shoot_se == 0.08
    for extra, words in (
        ("root_shoot_range = [0.5, 3.0]\n", "give one of them"),
        ("", "remove root_shoot_se"),
    ):
        text = MINIMAL + measured + extra
        if not extra:
            text = text.replace("root_shoot = 1.12", "root_shoot = 0.0")
        with pytest.raises(SurveyFileError) as info:
            load_survey(write(tmp_path, text))
        (problem,) = info.value.problems
        assert problem.where.startswith("vegetation.classes.reed")
        assert words in f"{problem.message} {problem.fix}"
    with pytest.raises(SurveyFileError) as info:
        load_survey(write(tmp_path, MINIMAL + measured.replace("0.08", "-0.08")))
    (problem,) = info.value.problems
    assert problem.where == "vegetation.classes.reed.root_shoot_se"
