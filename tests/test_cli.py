"""Tests of the command line (exit codes, messages, no tracebacks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from carbonsink import __version__
from carbonsink.cli import main
from tests.conftest import PROJECT_ROOT


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out + captured.err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_main(["--version"], capsys)
    assert code == 0
    assert out.strip() == f"carbonsink {__version__}"


def test_python_dash_m_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "carbonsink", "--version"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_missing_survey_is_bad_input_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_main(["validate", str(tmp_path / "absent.toml")], capsys)
    assert code == 2
    assert "does not exist" in out
    assert "Traceback" not in out


def test_an_unsupported_report_language_stops_the_run_before_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import SAMPLE_SURVEY

    out = tmp_path / "out"
    code, text = run_main(["run", str(SAMPLE_SURVEY), "--lang", "fr", "-o", str(out)], capsys)
    assert code == 2
    assert "the language 'fr' is not one carbonsink's texts are written in" in text
    assert "use one of en (English), zh-CN" in text
    assert "Traceback" not in text
    assert not out.exists()


def test_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_main(["validate"], capsys)
    assert code == 2
    assert "Missing argument" in out


def test_quiet_and_verbose_flags_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for flag in ("-q", "-v", "-vv"):
        code, _ = run_main([flag, "validate", str(tmp_path / "absent.toml")], capsys)
        assert code == 2


def test_quiet_filters_the_console_not_the_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-q`` hides warnings on the console; the ledger still captures them (stages.logged)."""
    import logging

    from carbonsink.pipeline.stages.logged import capture

    run_main(["-q", "validate", str(tmp_path / "absent.toml")], capsys)
    package = logging.getLogger("carbonsink")
    assert package.getEffectiveLevel() == logging.WARNING
    (console,) = [h for h in package.handlers if not isinstance(h, logging.NullHandler)]
    assert console.level == logging.ERROR

    def stage() -> None:
        logging.getLogger("carbonsink.biomass.bootstrap").warning("only 6 blocks")

    _, lines = capture(stage)()
    assert [(name, str(said)) for name, said in lines] == [
        ("carbonsink.biomass.bootstrap", "only 6 blocks")
    ]
    assert "only 6 blocks" not in capsys.readouterr().err


def test_internal_error_exit_1_and_debug_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import carbonsink.preflight

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(carbonsink.preflight, "preflight", explode)
    code, out = run_main(["validate", str(tmp_path / "s.toml")], capsys)
    assert code == 1
    assert "internal error" in out and "boom" in out
    assert "Traceback" not in out
    code, out = run_main(["--debug", "validate", str(tmp_path / "s.toml")], capsys)
    assert code == 1
    assert "Traceback" in out


def test_versions_lists_libraries(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_main(["versions"], capsys)
    assert code == 0
    for name in ("carbonsink", "rasterio", "laspy", "gdal", "proj"):
        assert name in out


def test_sample_data_command_writes_a_valid_survey(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_main(["sample-data", str(tmp_path / "j"), "--seed", "7"], capsys)
    assert code == 0, out
    survey = tmp_path / "j" / "survey.toml"
    assert survey.is_file()
    code, out = run_main(["validate", str(survey)], capsys)
    assert code == 0, out


def test_lidar_metrics_command_writes_products(
    tmp_path: Path, sample_survey: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import xarray as xr

    files = sorted(str(p) for p in (sample_survey.parent / "lidar" / "2025").glob("*.laz"))
    out = tmp_path / "lidar"
    code, text = run_main(
        [
            "lidar",
            "metrics",
            *files,
            "--survey",
            str(sample_survey),
            "-o",
            str(out),
            "--workers",
            "2",
            "--checkpoints",
            str(sample_survey.parent / "checkpoints_2025.csv"),
            "--checkpoints-crs",
            "EPSG:32649",
            "--vertical-datum",
            "the point clouds'",
            # Water evidence over the whole project (its boundary as the "water polygons"):
            # the level test still decides; the agreement is printed.
            "--water-polygons",
            str(sample_survey.parent / "boundary.geojson"),
        ],
        capsys,
    )
    assert code == 0, text
    assert "ha by the LiDAR and the polygons" in text and "ha by the polygons only" in text
    for name in ("lidar_metrics.nc", "lidar_tiles_qa.csv", "dtm.tif", "chm.tif"):
        assert (out / name).is_file()
    # The sample's 48 checkpoints of 2025 (12 per class in the flight block, no poplar
    # there), each with the DTM there and DTM − z; the raw DTM sits 0.16-0.17 m above the
    # true ground under sedge and within 0.04 m under the others (methodology §8.8).
    import pandas as pd

    check = pd.read_csv(out / "dtm_checkpoints.csv")
    assert len(check) == 48 and check["error_m"].notna().all()
    np.testing.assert_allclose(check["error_m"], check["dtm_m"] - check["z"], atol=2e-4)
    bias = check.groupby("class")["error_m"].mean()
    assert 0.10 < bias["sedge"] < 0.25
    assert (bias.drop("sedge").abs() < 0.06).all()
    assert "sedge: n 12" in text
    from tests.cf_check import cf_messages

    found = cf_messages(out / "lidar_metrics.nc", tmp_path)  # CF-1.8: no error, no warning
    assert found == {"ERROR": [], "WARN": []}, found
    with xr.open_dataset(out / "lidar_metrics.nc") as cube:
        assert cube["h_p95"].attrs["units"] == "m"
        assert cube["return_density"].attrs["units"] == "m-2"
        # The sample's grid: 131 x 195 cells of 10 m (sample_data/junshan/README.md).
        assert cube.sizes == {"y": 131, "x": 195}


def test_lidar_commands_need_a_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run_main(["lidar", "metrics", "a.laz", "-o", str(tmp_path)], capsys)
    assert code == 2
    assert "--survey" in text and "Traceback" not in text
    # Checkpoints without their vertical datum are refused before any work.
    code, text = run_main(
        ["lidar", "metrics", "a.laz", "-o", str(tmp_path), "--checkpoints", "cp.csv"], capsys
    )
    assert code == 2 and "--vertical-datum" in text and "Traceback" not in text


@pytest.mark.parametrize(
    ("command", "options", "named"),
    [
        (["metrics"], ["--checkpoints-crs", "EPSG:32649"], "--checkpoints-crs"),
        (["metrics"], ["--vertical-datum", "EGM2008"], "--vertical-datum"),
        (["metrics"], ["--water-polygons-layer", "water"], "--water-polygons-layer"),
        (["classify"], ["--water-polygons-crs", "EPSG:32649"], "--water-polygons-crs"),
    ],
)
def test_lidar_options_of_an_input_not_given_are_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    options: list[str],
    named: str,
) -> None:
    # Each describes an input (checkpoints, water polygons) the command was not given:
    # it would be ignored, so it is refused before any work (exit 2), naming the input.
    grid = ["--crs", "EPSG:32649", "--resolution", "10"] if command == ["metrics"] else []
    code, text = run_main(
        ["lidar", *command, "a.laz", "-o", str(tmp_path / "out.laz"), *grid, *options], capsys
    )
    input_flag = (
        "--checkpoints" if "checkpoints" in named or "datum" in named else "--water-polygons"
    )
    assert code == 2 and named in text and f"describe {input_flag}," in text
    assert "Traceback" not in text and not (tmp_path / "out.laz").exists()


def test_lidar_chm_suggests_a_metre_crs_for_feet(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # PDAL_autzen_trim.laz (PDAL test data) is in Oregon Lambert, international feet;
    # its centre (~123.07 W, 44.06 N) lies in UTM zone 10N = EPSG:32610.
    laz = shared_data / "lidar" / "PDAL_autzen_trim.laz"
    code, text = run_main(["lidar", "chm", str(laz), "-o", str(tmp_path / "chm.tif")], capsys)
    assert code == 2
    assert "EPSG:32610" in text
    code, text = run_main(
        [
            "-q",
            "lidar",
            "chm",
            str(laz),
            "--crs",
            "EPSG:32610",
            "-o",
            str(tmp_path / "chm.tif"),
            "--workers",
            "1",
        ],
        capsys,
    )
    assert code == 0, text
    import rasterio

    with rasterio.open(tmp_path / "chm.tif") as src:
        assert src.res == (0.5, 0.5)
        assert src.crs.to_epsg() == 32610
        assert src.tags()["units"] == "m"


@pytest.mark.slow
def test_imagery_classify_and_indices_commands(
    tmp_path: Path, sample_survey: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import rasterio

    out = tmp_path / "imagery"
    code, text = run_main(
        ["-q", "imagery", "classify", str(sample_survey), "-e", "2020", "-o", str(out)], capsys
    )
    assert code == 0, text
    assert "held-out overall accuracy" in text
    with rasterio.open(out / "landcover.tif") as src:
        assert src.nodata == 255
        assert src.tags()["flag_meanings"] == "water mudflat sedge reed miscanthus poplar"
        codes = set(np.unique(src.read(1)).tolist())
        assert src.colorinterp[0].name == "palette"  # a colour table
        # Water as in the report: its hex colour as (r, g, b, alpha).
        from carbonsink.report.figures import CLASS_COLOURS

        water = CLASS_COLOURS["water"]
        assert src.colormap(1)[1] == (*(int(water[i : i + 2], 16) for i in (1, 3, 5)), 255)
    assert 'label="poplar"' in (out / "landcover.qml").read_text(encoding="utf-8")
    # GDAL's category names of the class map, beside it.
    from tests.qgis_check import gdal_category_names

    assert gdal_category_names(out / "landcover.tif")[1:7] == [
        "water", "mudflat", "sedge", "reed", "miscanthus", "poplar"
    ]  # fmt: skip
    assert codes <= {1, 2, 3, 4, 5, 6, 255}
    for name in ("confusion", "areas", "cv", "samples"):
        assert (out / "tables" / f"landcover_{name}.csv").is_file()
    record = json.loads((out / "landcover_accuracy.json").read_text(encoding="utf-8"))
    assert record["areas"]["confidence"] == 0.95

    code, text = run_main(
        [
            "-q",
            "imagery",
            "indices",
            str(sample_survey),
            "-e",
            "2025",
            "-o",
            str(out),
            "-i",
            "ndvi",
        ],
        capsys,
    )
    assert code == 0, text
    with rasterio.open(out / "ndvi.tif") as src:
        assert src.tags()["units"] == "1"
        ndvi = src.read(1)
    assert np.nanmax(ndvi) <= 1.0 and np.nanmin(ndvi) >= -1.0
    with rasterio.open(out / "valid_count.tif") as src:
        # Two scenes per epoch: 0, 1 or 2 usable observations.
        assert set(np.unique(src.read(1)).tolist()) <= {0, 1, 2}


def test_imagery_index_with_a_missing_band_is_bad_input(
    tmp_path: Path, sample_survey: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = run_main(
        ["imagery", "indices", str(sample_survey), "-e", "2020", "-o", str(tmp_path), "-i", "ndxx"],
        capsys,
    )
    assert code == 2
    assert "unknown spectral index 'ndxx'" in text


def test_soil_commands(
    tmp_path: Path, sample_survey: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd
    import rasterio

    code, text = run_main(
        ["-q", "soil", "stocks", str(sample_survey), "-e", "2020", "-o", str(tmp_path)], capsys
    )
    assert code == 0, text
    stocks = pd.read_csv(tmp_path / "tables" / "core_stocks_2020.csv")
    assert len(stocks) == 40
    # Coordinates are written in full (UTM metres), not rounded to 6 digits.
    assert (stocks["y"] % 1 != 0).any()
    code, text = run_main(
        ["-q", "soil", "map", str(sample_survey), "-e", "2020", "-o", str(tmp_path)], capsys
    )
    assert code == 0, text
    assert "leave-one-out RMSE" in text
    with rasterio.open(tmp_path / "soc_0_30_mg_ha_variance.tif") as src:
        assert src.tags()["units"] == "(Mg C/ha)^2"
    code, text = run_main(
        ["soil", "map", str(sample_survey), "-e", "2020", "-o", str(tmp_path), "--depth", "50"],
        capsys,
    )
    assert code == 2
    assert "not one of the survey's depths_cm" in text


@pytest.mark.slow
def test_biomass_fit_then_predict(
    tmp_path: Path, sample_survey: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import rasterio

    code, text = run_main(
        ["biomass", "fit", str(sample_survey), "-e", "2025", "-o", str(tmp_path)], capsys
    )
    assert code == 0, text
    assert "imagery model (random-forest" in text and "spatial CV" in text
    models = tmp_path / "models" / "2025"
    card = json.loads((models / "imagery.card.json").read_text(encoding="utf-8"))
    assert card["used_for_map"] is True
    assert len(card["training_data_sha256"]) == 64
    assert (tmp_path / "biomass_cv_2025_imagery.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    code, text = run_main(
        [
            "-q",
            "biomass",
            "predict",
            str(sample_survey),
            "-e",
            "2025",
            "-m",
            str(models),
            "-o",
            str(tmp_path / "maps"),
        ],
        capsys,
    )
    assert code == 0, text
    with rasterio.open(tmp_path / "maps" / "agb_mg_ha.tif") as src:
        assert src.tags()["units"] == "Mg DM/ha"
        agb = src.read(1)
    with rasterio.open(tmp_path / "maps" / "agb_upper_mg_ha.tif") as src:
        upper = src.read(1)
    finite = np.isfinite(agb)
    assert finite.any() and np.all(agb[finite] <= upper[finite] + 1e-4)


def test_biomass_predict_without_models_is_bad_input(
    tmp_path: Path, sample_survey: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = run_main(
        [
            "biomass",
            "predict",
            str(sample_survey),
            "-e",
            "2020",
            "-m",
            str(tmp_path),
            "-o",
            str(tmp_path / "maps"),
        ],
        capsys,
    )
    assert code == 2
    assert "no biomass model" in text
