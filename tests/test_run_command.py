"""End to end: `carbonsink run` on the sample survey (docs/design.md §5; issues 7, 8 and 19).

Two runs of the sample survey are made once for the module, both asking 20 AGB
bootstrap replicates of every stratum (``bootstrap_comparison``: a mapped
stratum's AGB error is its residual correction, not the bootstrap's spread,
docs/methodology.md §6.4, so by default no replicate is fitted for it; the
comparison's 200 replicates would be the better part of a run's time):

* A — uninterrupted, on an external Dask cluster (a scheduler and two workers
  started as a user would);
* B — the same data with the 2020 plots and soil as Excel workbooks, serial,
  killed with SIGKILL as soon as its first epoch is in the stage cache, then
  started again, which resumes from that cache.

Their ledgers must be identical but for the hash of the inputs, their tables
byte-identical: that shows that the cluster gives the serial result, that a
resumed run gives the uninterrupted one and that workbooks give the CSV
tables' numbers. The claims are checked against the truth stored with the
sample survey.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from carbonsink.io.vectors import load_boundary
from carbonsink.pipeline.cache import file_sha256
from carbonsink.pipeline.outputs import OUTPUTS
from carbonsink.pipeline.publish import STAGING, verify_outputs
from tests.conftest import PROJECT_ROOT
from tests.scene_edits import set_scl, without_band
from tests.survey_edits import QUICK_REPLICATES, quick_bootstrap, quick_sample, without_lidar
from tests.workbooks import csv_as_workbook

SAMPLE = PROJECT_ROOT / "sample_data" / "junshan"
SURVEY = SAMPLE / "survey.toml"


def _carbonsink(*args: str) -> list[str]:
    return [sys.executable, "-m", "carbonsink", "-q", *args]


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample survey (its truth left in SAMPLE) asking 20 AGB bootstrap replicates of
    every stratum (the comparison bootstrap: its replicates run on the cluster's workers)."""
    return quick_sample(tmp_path_factory.mktemp("quick") / "junshan", compare=True)


@pytest.fixture(scope="module")
def run_a(tmp_path_factory: pytest.TempPathFactory, survey: Path, external_cluster: str) -> Path:
    out = tmp_path_factory.mktemp("run_a")
    result = subprocess.run(
        _carbonsink("run", str(survey), "--out", str(out), "--scheduler", external_cluster),
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="module")
def run_b(tmp_path_factory: pytest.TempPathFactory, workbook_survey: Path) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("run_b")
    command = _carbonsink("run", str(workbook_survey), "--out", str(out), "--workers", "1")
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 600
    cache = out / ".cache"
    while time.monotonic() < deadline and process.poll() is None:
        if any(cache.glob("epoch-2020-*/entry.json")):
            break
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "ledger.json").exists()
    resumed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT_ROOT)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    return out, resumed.stdout


def _without_input_hash(folder: Path) -> dict[str, Any]:
    """A run's ledger without the hash of its inputs (the one thing workbooks change)."""
    ledger: dict[str, Any] = json.loads((folder / "ledger.json").read_text(encoding="utf-8"))
    ledger["run"].pop("run_sha256")
    return ledger


def _published(root: Path) -> dict[str, bytes]:
    """Every published file of an output folder (not the stage cache), with its bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".cache" not in p.parts
    }


def test_a_rerun_killed_while_writing_leaves_the_previous_set_then_publishes_its_own(
    run_a: Path, survey: Path, tmp_path: Path
) -> None:
    # A rerun with a changed setting (the language, which no stage reads: a Chinese ledger
    # and report) into a complete folder, killed once its new ledger is written but its
    # maps, report and manifest are not: the folder is still run A's complete set, byte
    # for byte (issue 16: not the new ledger beside the old report). The next run cleans
    # up, resumes from the cache (every stage is run A's) and publishes a complete set of
    # its own.
    out = tmp_path / "out"
    shutil.copytree(run_a, out)
    before = _published(out)
    command = _carbonsink("run", str(survey), "--out", str(out), "--lang", "zh-CN")
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 600
    staged_ledger = out / STAGING / "ledger.json"
    while time.monotonic() < deadline and process.poll() is None:
        if staged_ledger.is_file():
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    left = _published(out)
    assert {k for k in left if k.split("/")[0] == STAGING}, "killed before staging"
    assert {k: v for k, v in left.items() if k.split("/")[0] != STAGING} == before
    assert verify_outputs(out) != []  # the staging folder is still there
    resumed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT_ROOT)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "interrupted run" in (out / "run.log").read_text(encoding="utf-8")
    assert verify_outputs(out) == []
    new = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    stages = {s["name"]: s["cached"] for s in new["stages"]}
    assert stages["epoch-2020"] and stages["epoch-2025"] and stages["ledger-inputs-2025"]
    ledger = json.loads((out / "ledger.json").read_text(encoding="utf-8"))
    assert ledger["claim"] == json.loads(before["ledger.json"])["claim"]
    assert (out / "ledger.json").read_bytes() != before["ledger.json"]
    assert "碳" in (out / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def ledger(run_a: Path) -> dict[str, Any]:
    return json.loads((run_a / "ledger.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return json.loads((SAMPLE / "truth" / "totals.json").read_text(encoding="utf-8"))["sink"]


def test_killed_serial_run_resumes_to_the_ledger_of_an_uninterrupted_cluster_run(
    run_a: Path, run_b: tuple[Path, str]
) -> None:
    out_b, _ = run_b
    assert _without_input_hash(out_b) == _without_input_hash(run_a)
    # The GeoPackage too, written at another time: its last_change is the last epoch's date.
    assert (out_b / "carbonsink.gpkg").read_bytes() == (run_a / "carbonsink.gpkg").read_bytes()
    manifest = json.loads((out_b / "manifest.json").read_text(encoding="utf-8"))
    cached = {s["name"] for s in manifest["stages"] if s["cached"]}
    assert "epoch-2020" in cached
    assert "epoch-2025" not in cached


def test_output_folder_has_every_product(run_a: Path) -> None:
    for name in (
        "manifest.json",
        "ledger.json",
        "report.html",
        "run.log",
        "change.nc",
        "cube_2020.nc",
        "cube_2025.nc",
    ):
        assert (run_a / name).is_file(), name
    maps = {p.name for p in (run_a / "maps").glob("*.tif")}
    assert {
        "carbon_mg_ha_2020.tif",
        "carbon_mg_ha_2025.tif",
        "removals_t_co2e_ha_yr.tif",
        "removals_sd_t_co2e_ha_yr.tif",
        "landcover_2025.tif",
        "soc_sd_mg_ha_2025.tif",
    } <= maps
    tables = {p.name for p in (run_a / "tables").glob("*.csv")}
    assert {
        "ledger_strata.csv",
        "ledger_vintages.csv",
        "core_stocks_2020.csv",
        "landcover_areas_2025.csv",
        "biomass_cv_2025_imagery.csv",
    } <= tables
    manifest = json.loads((run_a / "manifest.json").read_text(encoding="utf-8"))
    # 21 input files of the sample survey (the preflight's list; the two checkpoint tables
    # included) with their sha256.
    assert len(manifest["inputs"]) == 21
    assert all(len(item["sha256"]) == 64 for item in manifest["inputs"])
    assert manifest["seed"] == 20240830
    # Every file of the folder but the manifest itself and the stage cache is listed,
    # with the id, format and units its OUTPUTS entry declares, its size and sha256.
    listed = {entry["path"]: entry for entry in manifest["outputs"]}
    on_disk = {
        p.relative_to(run_a).as_posix()
        for p in run_a.rglob("*")
        if p.is_file() and not p.relative_to(run_a).parts[0].startswith(".")
    }
    assert set(listed) == on_disk - {"manifest.json"}
    # Besides, only the stage cache and the folder's lock (both declared, not published).
    assert {p.name for p in run_a.glob(".*")} == {".cache", ".lock"}
    # The cache holds data formats only, one folder per stage, and at most twice the bytes
    # of the published outputs (issue 16: it was 11 × with pickles of the LiDAR rasters).
    cache = run_a / ".cache"
    assert not [p for p in cache.rglob("*") if p.suffix == ".pkl"]
    assert {p.suffix for p in cache.rglob("*") if p.is_file()} <= {".json", ".npz", ".skops"}
    cached = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
    published = sum(entry["bytes"] for entry in manifest["outputs"])
    assert cached <= 2 * published, (cached, published)
    assert verify_outputs(run_a) == []
    ledger = json.loads((run_a / "ledger.json").read_text(encoding="utf-8"))
    assert ledger["run"]["run_sha256"] == manifest["run_sha256"]
    assert listed["report.html"]["id"] == "report_html"
    # The report's provenance shows the run time (set before the report is rendered).
    assert "<dt>Run time</dt>" in (run_a / "report.html").read_text(encoding="utf-8")
    agb = run_a / "maps" / "agb_mg_ha_2025.tif"
    assert listed["maps/agb_mg_ha_2025.tif"] == {
        "path": "maps/agb_mg_ha_2025.tif",
        "id": "map_agb",
        "format": "cog",
        "long_name": OUTPUTS["map_agb"].long_name,
        "units": "Mg DM/ha",
        "bytes": agb.stat().st_size,
        "sha256": file_sha256(agb),
    }
    assert not list(run_a.rglob("*.tmp*"))


def test_true_sink_is_inside_the_reported_90_percent_interval(
    ledger: dict[str, Any], truth: dict[str, Any]
) -> None:
    # truth/totals.json: removals 44/12 × Δ(agb_c + bgb_c + dom_c + soc_0_100) = 899.16
    # and net = removals − CH4 = 832.80 t CO2e/yr (the synthetic world has no N2O; the
    # sample survey says so with n2o_flux_mg_m2_d = 0); soc_0_100 is the autochthonous
    # change (the floods' sediment carbon is not the wetland's sink).
    project = ledger["project"]
    low, high = project["removals"]["ci90"]
    assert low <= truth["removals_t_co2e_yr"] <= high
    low, high = project["net"]["ci90"]
    assert low <= truth["net_t_co2e_yr"] <= high
    # CH4: the configured fluxes on the area-adjusted 2025 classes, the truth the same
    # fluxes on the true areas: within the area errors (±10 %).
    assert project["non_co2_emissions"]["mean"] == pytest.approx(truth["ch4_t_co2e_yr"], rel=0.10)
    # The tradable total: the truth carried through the same chain lies in the tradable
    # interval — the applied rule's kept fraction of the true net (vm0033), less the 15 %
    # buffer on the true stock change (VM0033 eq. 93-94: NER_stock, here the removals, no
    # baseline): 832.80 × kept − 0.15 × 899.16.
    rule = next(r for r in project["uncertainty_rules"] if r["applied"])
    assert rule["rule"] == "vm0033"
    kept = rule["adjusted"] / rule["estimate"]
    true_tradable = max(truth["net_t_co2e_yr"] * kept - 0.15 * truth["removals_t_co2e_yr"], 0.0)
    low, high = ledger["claim"]["tradable_ci90_t_co2e_yr"]
    assert low <= true_tradable <= high


def test_pool_changes_are_near_the_truth(ledger: dict[str, Any], truth: dict[str, Any]) -> None:
    total = next(r for r in ledger["strata"] if r["stratum"] == "total")
    # Dead organic matter (a third of the plots carry agb_dead_g_m2: dead:live ratios):
    # the true DOM carbon of each epoch (truth/totals.json: 416.2 and 456.3 t C) lies in
    # the ledger's 90 % interval of that epoch's DOM stock.
    epochs = json.loads((SAMPLE / "truth" / "totals.json").read_text(encoding="utf-8"))["epochs"]
    for epoch in ("2020", "2025"):
        low, high = ledger["stocks"][epoch]["dom"]["total"]["ci90"]
        assert low <= epochs[epoch]["stocks_t_c"]["dom_c"] <= high, epoch
    # The SOC change is the bulk of the sink: 266.46 t C/yr of autochthonous carbon in
    # truth (307.88 at fixed depth, 89.85 brought by the sediment) lies in the 90 % interval.
    soc = truth["delta_c_t_c_yr"]["soc_0_100"]
    assert total["d_soc_0_100_p5_t_c_yr"] <= soc <= total["d_soc_0_100_p95_t_c_yr"]
    # The soil change is counted at equivalent soil mass, net of the allochthonous
    # carbon; the deduction's truth 89.85 t C/yr × 5.0075 yr = 449.9 t C lies within
    # 1.645 × its common relative SD (0.1 / 1.2) plus the kriging's spread of the total.
    change = ledger["soil_change"]
    assert change["basis"] == "equivalent-mass"
    counted = change["counted"]["total"]
    years = truth["years"]
    assert abs(counted["change_t_c"] - soc * years) <= 1.645 * counted["se_t_c"]
    deducted = change["allochthonous"]["total_t_c"]
    true_deposit = truth["delta_c_t_c_yr"]["soc_allochthonous"] * years
    assert 0.5 * true_deposit < deducted < 1.5 * true_deposit
    # Vegetation lost 29.2 t C/yr (poplar removed): the sign and order of magnitude.
    assert -80.0 < total["d_agb_t_c_yr"] + total["d_bgb_t_c_yr"] < 0.0


def test_every_stratum_holds_its_true_removals_and_open_water_sells_nothing(
    run_a: Path, ledger: dict[str, Any]
) -> None:
    # Each stratum's 90 % interval of removals holds the true change of its cells: the
    # 2025 map's strata scored on the synthetic world's stocks (truth_<epoch>.nc, the
    # soil's autochthonous change; carbonsink.synthetic.scoring.stratum_sink).
    import rasterio

    from carbonsink.config import load_survey
    from carbonsink.grid import Grid
    from carbonsink.synthetic.scoring import stratum_sink

    with rasterio.open(run_a / "maps" / "landcover_2025.tif") as src:
        strata_map = src.read(1)
        grid = Grid(crs=src.crs, transform=src.transform, width=src.width, height=src.height)
    legend = load_survey(SURVEY).vegetation.by_code()
    truth = stratum_sink(
        SAMPLE / "truth", strata_map, grid.cell_area_ha, legend, pools=ledger["pools"]
    )
    rows = {r["stratum"]: r for r in ledger["strata"]}
    assert set(legend.values()) <= set(rows), "a class without its ledger row"
    # (p5, truth, p95) of each stratum's removals, t CO2e/yr
    intervals = {
        name: (
            rows[name]["removals_p5_t_co2e_yr"],
            truth[name]["removals_t_co2e_yr"],
            rows[name]["removals_p95_t_co2e_yr"],
        )
        for name in [*legend.values(), "total"]
    }
    outside = {name: v for name, v in intervals.items() if not v[0] <= v[1] <= v[2]}
    assert not outside, f"strata whose interval misses the truth (p5, truth, p95): {outside}"
    # Open water has no cores of its own: its soil is held (no soil sink), a warning
    # says why, and it sells nothing (or its interval holds 0).
    water = rows["water"]
    low, high = water["tradable_ci90_t_co2e_yr"]
    assert water["tradable_t_co2e_yr"] == 0.0 or low <= 0.0 <= high
    assert any(
        w["code"] == "soil-not-sampled" and "water" in w["message"] for w in ledger["warnings"]
    )


def test_the_terrain_is_checked_and_its_class_bias_removed(
    run_a: Path, ledger: dict[str, Any]
) -> None:
    # The sample's checkpoints: 12 RTK points per land class and epoch on the true ground
    # (± 2 cm). Per class the DTM's cell means are compared with the true cell elevations
    # (truth/truth_<epoch>.nc): after the correction each class's bias is within ±3 cm of
    # the truth, and where the raw terrain was off by more than 5 cm (dense sedge, +17 cm;
    # methodology §8.8) its RMSE is at most half the raw one and the heights' gap to the
    # true canopy shrinks. The raw terrain is the cube's plus the bias removed from each
    # mapped class (eq. 8.8d: an exact shift; carbonsink.synthetic.scoring.dtm_scores).
    import xarray as xr

    from carbonsink.config import load_survey
    from carbonsink.synthetic.scoring import dtm_scores

    legend = load_survey(SURVEY).vegetation.by_code()
    for epoch in ("2020", "2025"):
        check = ledger["lidar"][epoch]["dtm_check"]
        assert check["status"] == "checked" and check["corrected"] is True
        table = pd.read_csv(SAMPLE / f"checkpoints_{epoch}.csv")
        assert check["points_on_dtm"] == check["points"] == len(table)
        bias = {c: v["bias_m"] for c, v in check["classes"].items() if v["corrected"]}
        counts = table["class"].value_counts()
        assert set(bias) == set(counts[counts >= 5].index)
        with (
            xr.open_dataset(run_a / f"cube_{epoch}.nc") as cube,
            xr.open_dataset(SAMPLE / "truth" / f"truth_{epoch}.nc") as truth,
        ):
            scores = dtm_scores(cube, truth, legend, bias)
        print(f"{epoch}\n{scores.round(3).to_string()}")
        assert "sedge" in scores.index and len(scores) >= 3
        for name, row in scores.drop(index="water", errors="ignore").iterrows():
            assert abs(row["bias_m"]) <= 0.03, (epoch, name)
            if abs(row["bias_raw_m"]) > 0.05:
                assert row["rmse_m"] <= 0.5 * row["rmse_raw_m"], (epoch, name)
                assert abs(row["height_gap_m"]) < abs(row["height_gap_raw_m"]), (epoch, name)
    listed = {p.name for p in (run_a / "tables").glob("dtm_checkpoints_*.csv")}
    assert listed == {"dtm_checkpoints_2020.csv", "dtm_checkpoints_2025.csv"}


def test_ledger_records_what_the_epochs_outside_aoa_errors_share(
    ledger: dict[str, Any],
) -> None:
    # Eq. 6.8d: per stratum with cells outside the AOA in both epochs, φ in [0, 1] and the
    # covariance φ × the two epochs' outside-AOA SEs (the ledger's inputs), each SE part
    # of its correction's. On the sample the outside-AOA areas of poplar and sedge overlap
    # (methodology §6.4: φ 0.43 and 0.29), so those covariances are positive.
    shared = ledger["outside_aoa_shared"]["agb_t_dm"]
    first, last = (ledger["inputs"][e]["agb_residual_correction_t_dm"] for e in ("2020", "2025"))
    assert {"poplar", "sedge"} <= set(shared)
    for stratum, record in shared.items():
        assert 0.0 <= record["shared"] <= 1.0
        one, two = first[stratum]["outside_aoa_se"], last[stratum]["outside_aoa_se"]
        assert one <= first[stratum]["se"] and two <= last[stratum]["se"]
        assert record["covariance_t_dm2"] == pytest.approx(record["shared"] * one * two)
    assert shared["poplar"]["covariance_t_dm2"] > 0 and shared["sedge"]["covariance_t_dm2"] > 0


def test_ledger_records_the_profile_chain_and_polygon(ledger: dict[str, Any]) -> None:
    assert ledger["schema"] == "carbonsink-ledger/1"
    assert ledger["profile"]["name"] == "vm0033"
    assert ledger["pools"] == ["agb", "bgb", "dom", "soc_0_100"]
    # One route for both epochs (30 plots carry agb_dead_g_m2 in each), said once.
    assert [n for n in ledger["notes"] if n.startswith("dead organic matter")] == [
        "dead organic matter: dead:live ratios per class: 30 plots carry agb_dead_g_m2, "
        "fewer than the 40 a model needs"
    ]
    assert ledger["monte_carlo"]["n_draws"] >= 10_000
    assert ledger["monte_carlo"]["seed"] == 20240830
    rules = ledger["project"]["uncertainty_rules"]
    assert [r["rule"] for r in rules] == ["vm0033", "ar-tool14", "lower-bound"]
    assert [r["applied"] for r in rules] == [True, False, False]
    project = ledger["project"]
    # VM0033 eq. 94: the 15 % buffer is taken of the stock change, not of the adjusted net.
    assert project["buffer_base"] == "stock-change"
    assert project["buffer_base_value"] == pytest.approx(project["ner_stock"]["mean"])
    assert project["adjusted"] > 0
    assert project["buffer"] == pytest.approx(0.15 * max(project["ner_stock"]["mean"], 0.0))
    assert project["tradable"] == pytest.approx(max(project["adjusted"] - project["buffer"], 0.0))
    assert (
        ledger["polygon"]["sha256"]
        == load_boundary(SAMPLE / "boundary.geojson").fingerprint()["sha256"]
    )
    # The sample's clouds record intensities: water is found as level and dark surfaces
    # too, against the land's intensity (the generator's mud and plants, 75-125).
    for epoch in ("2020", "2025"):
        water = ledger["lidar"][epoch]
        assert water["detection"] == "level and dark, or sparse"
        assert 75 <= water["land_intensity"] <= 140 and water["land_density_m2"] > 0
    codes = {(w["code"], w["where"]) for w in ledger["warnings"]}
    assert ("outside-aoa", "epoch 2020") in codes
    assert ("outside-aoa", "epoch 2025") in codes


def test_every_netcdf_of_the_run_passes_the_cf_checker(run_a: Path, tmp_path: Path) -> None:
    # Issue 20: the NCAS CF checker (cfchecker, as CF-1.8) finds no error and no warning
    # in the cubes and the change file.
    from tests.cf_check import cf_messages

    files = sorted(run_a.glob("*.nc"))
    assert [f.name for f in files] == ["change.nc", "cube_2020.nc", "cube_2025.nc"]
    for path in files:
        found = cf_messages(path, tmp_path)
        assert found == {"ERROR": [], "WARN": []}, (path.name, found)


def test_maps_say_what_they_are_and_class_maps_open_styled(run_a: Path) -> None:
    # Issue 20: what gdalinfo and QGIS show — each band's unit and description, and the
    # land-cover map's colour table (the report's colours) with a QGIS style beside it.
    import rasterio

    from carbonsink.report.figures import CLASS_COLOURS

    manifest = json.loads((run_a / "manifest.json").read_text(encoding="utf-8"))
    listed = {entry["path"]: entry["id"] for entry in manifest["outputs"]}
    with rasterio.open(run_a / "maps" / "agb_mg_ha_2025.tif") as src:
        assert src.units == ("Mg DM/ha",) and src.descriptions == ("above-ground biomass",)
    with rasterio.open(run_a / "maps" / "removals_t_co2e_ha_yr.tif") as src:
        assert src.units == ("t CO2e/ha/yr",)
    for epoch in ("2020", "2025"):
        with rasterio.open(run_a / "maps" / f"landcover_{epoch}.tif") as src:
            assert src.nodata == 255
            names = src.tags()["flag_meanings"].split()
            codes = [int(c) for c in src.tags()["flag_values"].split()]
            table = src.colormap(1)
        for code, name in zip(codes, names, strict=True):
            hex_colour = CLASS_COLOURS[name]
            rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
            assert table[code] == (*rgb, 255), name
        # GDAL reads each class's name at its code (the map's .aux.xml).
        from tests.qgis_check import gdal_category_names

        categories = f"maps/landcover_{epoch}.tif.aux.xml"
        assert listed[categories] == "map_landcover_categories"
        read = gdal_category_names(run_a / "maps" / f"landcover_{epoch}.tif")
        assert [read[code] for code in codes] == names
        assert len(read) == max(codes) + 1
        style = f"maps/landcover_{epoch}.qml"
        assert listed[style] == "map_landcover_style"
        text = (run_a / style).read_text(encoding="utf-8")
        for name in names:
            assert f'color="{CLASS_COLOURS[name]}"' in text and f'label="{name}"' in text


def test_the_qgis_project_opens_every_map_and_point_layer_valid_and_styled(
    run_a: Path, tmp_path: Path
) -> None:
    # Issue 20, item 2: QGIS itself (python3-qgis) reads OUT/carbonsink.qgs. Every map of
    # maps/*.tif is a raster layer once, every layer is valid in the sample's CRS (UTM 49N,
    # as its provider reads it from the file), grouped by epoch; the point layers hold
    # the rows of the run's core and checkpoint tables.
    from tests.qgis_check import load_in_qgis

    manifest = json.loads((run_a / "manifest.json").read_text(encoding="utf-8"))
    listed = {entry["path"]: entry["id"] for entry in manifest["outputs"]}
    assert listed["carbonsink.qgs"] == "gis_project"
    assert listed["carbonsink.gpkg"] == "gis_vectors"
    report = load_in_qgis(run_a / "carbonsink.qgs", tmp_path / "render.png")
    assert report["read"] and report["crs"] == "EPSG:32649"
    # It opens on the grid's extent (the cube's outer cell edges).
    import xarray as xr

    with xr.open_dataset(run_a / "cube_2025.nc") as cube:
        half = float(cube["x"][1] - cube["x"][0]) / 2
        edges = [
            float(cube["x"].min()) - half,
            float(cube["y"].min()) - half,
            float(cube["x"].max()) + half,
            float(cube["y"].max()) + half,
        ]
    assert report["view_extent"] == pytest.approx(edges)
    assert report["groups"] == ["Change 2020–2025", "Epoch 2025", "Epoch 2020"]
    layers = report["layers"]
    assert all(layer["valid"] for layer in layers), [x["name"] for x in layers if not x["valid"]]
    assert {(x["crs"], x["provider_crs"]) for x in layers} == {("EPSG:32649", "EPSG:32649")}
    rasters = sorted(x["source"] for x in layers if x["kind"] == "raster")
    assert rasters == sorted(str(p.resolve()) for p in (run_a / "maps").glob("*.tif"))
    renderers = {x["source"].rsplit("/", 1)[-1]: x["renderer"] for x in layers}
    assert renderers["landcover_2025.tif"] == "paletted"
    assert renderers["agb_mg_ha_2020.tif"] == "singlebandpseudocolor"
    for epoch in ("2020", "2025"):
        in_group = {x["name"].split(",")[0]: x for x in layers if x["group"] == f"Epoch {epoch}"}
        cores = pd.read_csv(run_a / "tables" / f"core_stocks_{epoch}.csv")
        checkpoints = pd.read_csv(run_a / "tables" / f"dtm_checkpoints_{epoch}.csv")
        assert in_group["Soil cores"]["features"] == len(cores)
        assert in_group["Terrain checkpoints (RTK)"]["features"] == len(checkpoints)
        # Every plot of the sample's table is used by a model (none is left out).
        plots = pd.read_csv(SAMPLE / f"plots_{epoch}.csv")
        assert in_group["Biomass plots"]["features"] == len(plots)
    # It opens on the last epoch: its carbon map under its points, and the boundary.
    assert report["rendered"] and report["rendered_layers"] == [
        "Project boundary",
        f"Biomass plots, 2025 ({len(plots)})",
        f"Soil cores, 2025 ({len(cores)})",
        f"Terrain checkpoints (RTK), 2025 ({len(checkpoints)})",
        "Carbon stock of the counted pools, 2025 (Mg C/ha)",
    ]


def test_tables_agree_with_the_json(run_a: Path, ledger: dict[str, Any]) -> None:
    strata = pd.read_csv(run_a / "tables" / "ledger_strata.csv").set_index("stratum")
    total = next(r for r in ledger["strata"] if r["stratum"] == "total")
    assert strata.loc["total", "tradable_t_co2e_yr"] == pytest.approx(total["tradable_t_co2e_yr"])
    vintages = pd.read_csv(run_a / "tables" / "ledger_vintages.csv")
    project = vintages[vintages["stratum"] == "total"]
    # 2020-09-15 → 2025-09-18: vintage 2020 has 16 + 31 + 30 + 31 = 108 days, 2025
    # Jan 1 → Sep 18 = 260 days; 108 + 3 × 365 + 366 + 260 = 1829 days in all.
    assert list(project["vintage"]) == [2020, 2021, 2022, 2023, 2024, 2025]
    assert list(project["days"]) == [108, 365, 365, 365, 366, 260]
    assert project["tradable_t_co2e"].sum() == pytest.approx(ledger["claim"]["tradable_t_co2e"])


def test_a_preflight_error_stops_before_any_compute(tmp_path: Path) -> None:
    import shutil

    survey_dir = tmp_path / "survey"
    shutil.copytree(SAMPLE, survey_dir, ignore=shutil.ignore_patterns("lidar", "truth"))
    (survey_dir / "plots_2025.csv").unlink()
    (survey_dir / "soil_2020.csv").write_text("core_id,lon,lat\nA,1,2\n", encoding="utf-8")
    out = tmp_path / "out"
    result = subprocess.run(
        _carbonsink("run", str(survey_dir / "survey.toml"), "--out", str(out)),
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )
    text = result.stdout + result.stderr
    assert result.returncode == 2
    assert "plots_2025.csv" in text
    assert "soil_2020.csv" in text
    assert "Traceback" not in text
    assert not out.exists()


def test_ch4_sensitivity_breaks_even_where_ch4_cancels_the_removals(
    run_a: Path, ledger: dict[str, Any]
) -> None:
    # The sample survey has no N2O and no baseline, so the net is 0 when the scaled CH4
    # equals the removals: multiplier = removals / CH4 (both t CO2e/yr); the table's CH4
    # is the point estimate on the adjusted areas, the ledger's the Monte Carlo mean
    # (log-normal fluxes with their means set to the configured values): within 2 %.
    sensitivity = ledger["ch4_sensitivity"]
    project = ledger["project"]
    expected = project["removals"]["mean"] / project["non_co2_emissions"]["mean"]
    assert sensitivity["break_even_multiplier"] == pytest.approx(expected, rel=0.02)
    table = pd.read_csv(run_a / "tables" / "ch4_sensitivity.csv")
    assert list(table["ch4_multiplier"]) == [0.0, 0.5, 1.0, 2.0, 4.0]


def test_the_run_says_what_holds_its_uncertainty(run_a: Path, ledger: dict[str, Any]) -> None:
    # eq. 6.14 on the sample survey: the groups of varying inputs, largest share first; the
    # budget's half-width is the net's (its 90 % interval halved, t CO2e/yr), and each
    # group known exactly leaves at most that. The table and the report say the same.
    budget = ledger["u_budget"]
    low, high = ledger["project"]["net"]["ci90"]
    assert budget["half_width90"] == pytest.approx((high - low) / 2.0, rel=1e-9)
    shares = [g["variance_share"] for g in budget["groups"]]
    assert shares == sorted(shares, reverse=True)
    groups = {g["group"] for g in budget["groups"]}
    assert {"soc_total", "agb_residual", "root_shoot", "carbon_fraction"} <= groups
    assert all(g["half_width90"] <= budget["half_width90"] * 1.01 for g in budget["groups"])
    table = pd.read_csv(run_a / "tables" / "u_budget.csv")
    assert list(table["group"]) == [g["group"] for g in budget["groups"]]
    report = (run_a / "report.html").read_text(encoding="utf-8")
    assert 'id="u-budget"' in report and "What holds U" in report


def test_verify_command_checks_a_folder_against_its_manifest(run_a: Path, tmp_path: Path) -> None:
    ok = subprocess.run(
        _carbonsink("verify", str(run_a)), capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok" in ok.stdout
    changed = tmp_path / "changed"
    shutil.copytree(run_a, changed, ignore=shutil.ignore_patterns(".cache"))
    (changed / "tables" / "ledger_strata.csv").write_text("edited\n", encoding="utf-8")
    bad = subprocess.run(
        _carbonsink("verify", str(changed)), capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert "ledger_strata.csv" in bad.stdout and "Traceback" not in bad.stdout + bad.stderr


def test_a_failing_output_stage_leaves_the_previous_set_untouched(
    run_a: Path, survey: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The report writer fails (a full disk, say) after the ledger, cubes and maps of the
    # rerun are written: nothing of the rerun is published — not a new ledger beside the
    # old report — and its log is kept as run-failed.log. The rerun reads its stages from
    # run A's cache, so only the accounting and the outputs are computed again.
    import carbonsink.report.html as html
    from carbonsink.errors import OutputError
    from carbonsink.pipeline import run_survey

    out = tmp_path / "out"
    shutil.copytree(run_a, out)
    before = _published(out)

    def full_disk(*args: object, **kwargs: object) -> list[Path]:
        raise OutputError("no space left on the device", path=out, fix="free some space")

    monkeypatch.setattr(html, "write_report", full_disk)
    with pytest.raises(OutputError, match="no space"):
        run_survey(survey, out)
    after = _published(out)
    log = after.pop("run-failed.log")
    assert b"stage epoch-2020: read from the cache" in log
    assert after == before
    assert not (out / STAGING).exists()
    assert verify_outputs(out) == []


def test_the_first_epoch_is_let_go_and_read_back_for_the_accounting(run_a: Path) -> None:
    # An earlier epoch's results leave memory once cached while the next epoch's stage
    # runs (docs/design.md §6), and are read back after it: the last epoch's never are.
    # That the read-back results give the held ones' ledger: test_run.py's library run
    # (no output folder, results held) and CLI run (read back) give the same bytes.
    log = (run_a / "run.log").read_text(encoding="utf-8")
    assert re.search(r"stage epoch-2020: computed in [\d.]+ s", log)
    assert "stage epoch-2020: read back from the cache" in log
    assert "stage epoch-2025: read back" not in log
    assert log.index("stage epoch-2025: computed") < log.index("stage epoch-2020: read back")


def test_every_warning_of_the_run_log_is_in_the_ledger_and_the_report(run_a: Path) -> None:
    # Issue 16: a condition that moves the claim is never only a log line. Every WARNING
    # line of the package in run A's log is a ledger warning and shown in the report —
    # its own text, or (outside the AOA) the ledger's warning that states it with numbers.
    from markupsafe import escape

    log = (run_a / "run.log").read_text(encoding="utf-8").splitlines()
    lines = [
        line.split(" WARNING ", 1)[1].split(": ", 1)
        for line in log
        if " WARNING carbonsink." in line and " WARNING carbonsink.pipeline" not in line
    ]
    assert lines, "the sample run logs warnings (6 bootstrap blocks, cells outside the AOA)"
    ledger = json.loads((run_a / "ledger.json").read_text(encoding="utf-8"))
    report = (run_a / "report.html").read_text(encoding="utf-8")
    codes = {w["code"] for w in ledger["warnings"]}
    for logger, message in lines:
        if "outside the area of applicability" in message:
            assert "outside-aoa" in codes
            continue
        stated = [w for w in ledger["warnings"] if w["message"].startswith(message)]
        assert stated, (logger, message)
        assert str(escape(message)) in report, message
    assert "bootstrap-coarse" in codes


#: The sample's classes renamed as a Chinese team might name them (issue 16 item 6).
def _run_ok(survey: Path, out: Path) -> None:
    """Run a copy of the sample end to end on one worker; it must succeed."""
    result = subprocess.run(
        _carbonsink("run", str(survey / "survey.toml"), "--out", str(out), "--workers", "1"),
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _validate_and_run(survey: Path, out: Path, *, verbose: bool = False) -> str:
    """``validate --quick`` a copy of the sample (it must pass), then run it; what validate
    printed (with ``verbose``, its INFO lines too)."""
    said = _validate(survey, verbose=verbose)
    _run_ok(survey, out)
    return said


def _validate(survey: Path, *, verbose: bool = False) -> str:
    """``validate --quick`` a copy of the sample (it must pass); what it printed."""
    toml = str(survey / "survey.toml")
    validate = subprocess.run(
        [
            sys.executable,
            "-m",
            "carbonsink",
            *(["-v"] if verbose else []),
            "validate",
            "--quick",
            toml,
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    return validate.stdout + validate.stderr


RENAMED = {"sedge": "苔草 Carex", "reed": "芦苇 / Phragmites australis"}


@pytest.fixture(scope="module")
def renamed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample survey with two classes renamed (spaces, a slash, Chinese), run end to end."""
    root = tmp_path_factory.mktemp("renamed")
    survey = root / "junshan"
    shutil.copytree(SAMPLE, survey, ignore=shutil.ignore_patterns("truth"))
    text = (survey / "survey.toml").read_text(encoding="utf-8")
    for old, new in RENAMED.items():
        assert f"[vegetation.classes.{old}]" in text
        text = text.replace(f"[vegetation.classes.{old}]", f'[vegetation.classes."{new}"]')
    (survey / "survey.toml").write_text(text, encoding="utf-8")
    # The claim is compared within 3 %: the bootstrap moves its spread, not its mean.
    quick_bootstrap(survey / "survey.toml")
    for table, column in [
        ("landcover_{}.csv", "class"),
        ("plots_{}.csv", "veg_class"),
        ("checkpoints_{}.csv", "class"),
    ]:
        for epoch in ("2020", "2025"):
            path = survey / table.format(epoch)
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            frame[column] = frame[column].replace(RENAMED)
            frame.to_csv(path, index=False)
    out = root / "out"
    _run_ok(survey, out)
    return out


def test_class_names_with_spaces_slashes_and_chinese_work_end_to_end(
    renamed_run: Path, run_a: Path
) -> None:
    import xarray as xr
    from markupsafe import escape

    ledger = json.loads((renamed_run / "ledger.json").read_text(encoding="utf-8"))
    strata = {row["stratum"] for row in ledger["strata"]}
    assert set(RENAMED.values()) <= strata
    # The same survey under other names: the same land-cover areas and, within the Monte
    # Carlo's noise, the same claim (the names key the random streams of their classes and
    # name the models' probability features, so the draws are not the same draws: 831.3
    # against 839.7 t CO2e/yr when measured, 1 %; the net's MC standard error is ~9).
    original = json.loads((run_a / "ledger.json").read_text(encoding="utf-8"))
    renamed = {new: old for old, new in RENAMED.items()}
    for epoch in ("2020", "2025"):
        areas = ledger["inputs"][epoch]["stratum_area_ha"]
        assert {renamed.get(k, k): v for k, v in areas.items()} == (
            original["inputs"][epoch]["stratum_area_ha"]
        )
    assert ledger["claim"]["net_t_co2e_yr"] == pytest.approx(
        original["claim"]["net_t_co2e_yr"], rel=0.03
    )
    # Run A asked the comparison bootstrap (every key's model-fit SD beside its stratum's
    # correction); this run the default: every stratum of the sample has a residual
    # correction, so no replicate was fitted and no key shows a bootstrap SD.
    for epoch in ("2020", "2025"):
        ours, theirs = ledger["inputs"][epoch], original["inputs"][epoch]
        corrected = set(ours["agb_residual_correction_t_dm"])  # a name may hold a slash
        assert all(any(k.startswith(f"{s}/") for s in corrected) for k in ours["agb_t_dm"])
        assert all(set(entry) == {"map"} for entry in ours["agb_t_dm"].values())
        assert ours["agb_bootstrap_replicates"] == 0
        assert ours["agb_bootstrap_cells"]["predicted"] == 0
        assert all(entry["bootstrap_sd"] > 0 for entry in theirs["agb_t_dm"].values())
        assert theirs["agb_bootstrap_replicates"] == QUICK_REPLICATES
    report = (renamed_run / "report.html").read_text(encoding="utf-8")
    assert all(str(escape(name)) in report for name in RENAMED.values())
    # Layers and files take the slug; nothing lands outside OUT or in a subfolder named by a
    # class; the class map keeps the names themselves.
    with xr.open_dataset(renamed_run / "cube_2025.nc") as cube:
        assert "p_苔草_Carex" in cube and "p_芦苇_Phragmites_australis" in cube
        assert cube["landcover"].attrs["class_names"].split("\n")[2:4] == list(RENAMED.values())
    assert verify_outputs(renamed_run) == []
    assert (
        not list(renamed_run.parent.glob("*.tif")) and not (renamed_run / "maps" / "芦苇").exists()
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 30 MB tmpfs: room for one run of the sample (24 MB of outputs and cache), not two."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs needs root (CI runs as root): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_full_disk_is_foreseen_or_caught_and_the_previous_set_stays(
    run_a: Path, small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Run A's complete set and cache fill 24 of the disk's 30 MB. A rerun with another seed
    # needs about 2 × 25,545 cells × 500 B = 25.5 MB of outputs and cache, plus the point
    # buckets of the epoch with the most points, 2020's 2,596,569 × 23 B = 59.7 MB: 85 MB,
    # refused before any compute, naming the folder and both numbers (exit 2). With the
    # estimate defeated, the rerun's first epoch hits the full disk (its point buckets or
    # its cache write): an OutputError that says so (exit 2 from the command line), and
    # the previous set is byte for byte as it was.
    import carbonsink.pipeline.run as run_module
    from carbonsink.errors import OutputError
    from carbonsink.pipeline import run_survey

    out = small_disk / "out"
    shutil.copytree(run_a, out)
    before = _published(out)
    refused = subprocess.run(
        _carbonsink("run", str(SURVEY), "--out", str(out), "--seed", "21"),
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = re.sub(r"\s+", " ", refused.stdout + refused.stderr)
    assert "the disk of the output folder has" in message
    assert "MB free; this run needs about 85 MB" in message
    assert "Traceback" not in message
    assert _published(out) == before
    monkeypatch.setattr(run_module, "BYTES_PER_CELL_EPOCH", 1)
    monkeypatch.setattr(run_module, "BUCKET_BYTES_PER_POINT", 0)
    with pytest.raises(OutputError, match="the disk of the output folder is full"):
        run_survey(SURVEY, out, seed=21)
    after = _published(out)
    after.pop("run-failed.log", None)
    assert after == before
    assert verify_outputs(out) == []
    assert not list((out / ".cache").glob(".tmp-*"))


@pytest.fixture(scope="module")
def clouded_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The sample with a 2020 scene stripped of its SCL band and a 2025 scene wholly clouded.

    Returns the output folder and what ``validate`` printed first.
    """
    root = tmp_path_factory.mktemp("clouded")
    survey = root / "junshan"
    shutil.copytree(SAMPLE, survey, ignore=shutil.ignore_patterns("truth", "lidar"))
    without_band(survey / "imagery" / "s2_2020-09-20.tif", "SCL")
    set_scl(survey / "imagery" / "s2_2025-09-23.tif", 9)
    # The test reads the imagery's record: 20 bootstrap replicates, and no LiDAR.
    quick_bootstrap(survey / "survey.toml")
    without_lidar(survey / "survey.toml")
    out = root / "out"
    return out, _validate_and_run(survey, out)


def test_unmasked_and_dropped_scenes_are_foreseen_and_on_the_record(
    clouded_run: tuple[Path, str],
) -> None:
    # Issue 16: both conditions move the claim, so validate names them before the run and
    # the ledger and the report carry them after it, with the files named.
    out, validate = clouded_run
    assert "s2_2020-09-20.tif" in validate and "no quality band (SCL)" in validate
    assert "s2_2025-09-23.tif" in validate and "every pixel over the project" in validate
    ledger = json.loads((out / "ledger.json").read_text(encoding="utf-8"))
    found = {(w["code"], w["where"]): w["message"] for w in ledger["warnings"]}
    unmasked = found[("clouds-unmasked", "epoch 2020 imagery")]
    dropped = found[("scene-dropped", "epoch 2025 imagery")]
    assert "s2_2020-09-20.tif" in unmasked and "1 scene(s)" in unmasked
    assert "s2_2025-09-23.tif" in dropped and "no usable pixel" in dropped
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "clouds-unmasked" in report and "scene-dropped" in report
    assert "s2_2025-09-23.tif" in report
    assert verify_outputs(out) == []


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def external_cluster() -> Iterator[str]:
    """A Dask scheduler and two single-threaded workers, started as a user would."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    bin_dir = Path(sys.executable).parent
    scheduler = subprocess.Popen(
        [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", port,
         "--no-dashboard"],
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            [
                str(bin_dir / "dask"),
                "worker",
                address,
                "--nthreads",
                "1",
                "--nworkers",
                "1",
                "--no-dashboard",
                "--name",
                f"w{i}",
            ],
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(2, timeout=60)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for process in (*workers, scheduler):
            process.terminate()
        for process in (*workers, scheduler):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_an_external_dask_cluster_gives_the_serial_ledger(
    run_a: Path, external_cluster: str, run_b: tuple[Path, str]
) -> None:
    # Run A ran on the cluster, run B serially on the same data (as workbooks): the same
    # ledger but for the inputs' hash.
    from distributed import Client

    assert _without_input_hash(run_a) == _without_input_hash(run_b[0])

    def finished(dask_scheduler: Any) -> dict[str, int]:
        return {
            name: int(prefix.state_counts.get("memory", 0))
            for name, prefix in dask_scheduler.task_prefixes.items()
        }

    with Client(external_cluster, timeout="10s") as client:
        done = client.run_on_scheduler(finished)
        workers = client.scheduler_info()["workers"]
    # The imagery's block reads, the LiDAR tiles' three phases (water cells, water and SMRF
    # cells, the chain), the SOC maps' kriging tiles and the bootstrap replicates ran as
    # tasks on the two workers.
    assert len(workers) == 2
    jobs = ("read-raster", "water_cells_job", "water_job", "tile_job", "krige_tile")
    for job in (*jobs, "run_replicates"):
        assert any(job in name and count > 0 for name, count in done.items()), (job, done)


#: The 2020 plot and soil tables as a Chinese field team keeps them: Excel workbooks with the
#: lab report's headers (issue 18 item 2; docs/design.md §3).
WORKBOOKS = {
    "plots_2020": (
        "样方",
        {
            "plot_id": "样方编号",
            "lon": "经度",
            "lat": "纬度",
            "agb_g_m2": "地上生物量(g/m²)",
            "size_m2": "样方面积（m²）",
            "veg_class": "植被类型",
            "date": "调查日期",
        },
    ),
    "soil_2020": (
        "土壤",
        {
            "core_id": "样点编号",
            "lon": "经度",
            "lat": "纬度",
            "depth_top_cm": "深度上限(cm)",
            "depth_bottom_cm": "深度下限 (cm)",
            "bulk_density_g_cm3": "容重(g/cm³)",
            "soc_pct": "有机碳(%)",
            "method": "测定方法",
            "date": "采样日期",
        },
    ),
}


@pytest.fixture(scope="module")
def workbook_survey(tmp_path_factory: pytest.TempPathFactory, survey: Path) -> Path:
    """Run A's survey with its 2020 plots and soil as .xlsx (Chinese headers, a named sheet
    for the soil, date cells)."""
    root = tmp_path_factory.mktemp("workbooks") / "junshan"
    shutil.copytree(survey.parent, root)
    text = (root / "survey.toml").read_text(encoding="utf-8")
    for name, (sheet, headers) in WORKBOOKS.items():
        csv_as_workbook(
            root / f"{name}.csv",
            root / f"{name}.xlsx",
            sheet=sheet,
            headers=headers,
            dates=("date",),
        )
        (root / f"{name}.csv").unlink()
        old = f'path = "{name}.csv"'
        assert old in text
        sheet_key = ', sheet = "土壤"' if name.startswith("soil") else ""
        text = text.replace(old, f'path = "{name}.xlsx"{sheet_key}')
    (root / "survey.toml").write_text(text, encoding="utf-8")
    return root / "survey.toml"


def test_workbooks_with_chinese_headers_give_the_csv_results(
    workbook_survey: Path, run_b: tuple[Path, str], run_a: Path
) -> None:
    flat = re.sub(r"\s+", " ", _validate(workbook_survey.parent, verbose=True))
    # validate -v says which columns it renamed, naming the file.
    assert "plots_2020.xlsx: read the columns" in flat and "soil_2020.xlsx: read the" in flat
    # Same data, another container: the same numbers to the bit. Every table of run B (the
    # workbooks) is run A's (the CSV tables), and so is the ledger but for the inputs' hash.
    out = run_b[0]
    ours, theirs = _published(out), _published(run_a)
    tables = sorted(name for name in theirs if name.startswith("tables/"))
    assert "tables/core_stocks_2020.csv" in tables
    assert [name for name in tables if ours.get(name) != theirs[name]] == []
    ledgers = [json.loads(files["ledger.json"]) for files in (ours, theirs)]
    hashes = [ledger["run"].pop("run_sha256") for ledger in ledgers]
    assert hashes[0] != hashes[1]
    assert ledgers[0] == ledgers[1]
    assert verify_outputs(out) == []
