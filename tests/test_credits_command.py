"""End to end: `carbonsink credits` on the sample survey against its stored truth."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from carbonsink.cli import main
from carbonsink.io.vectors import boundary_fingerprint
from tests.conftest import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "sample_data" / "junshan"


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out + captured.err


@pytest.fixture(scope="module")
def credits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("credits")
    with pytest.raises(SystemExit) as info:
        main(["-q", "credits", str(SAMPLE / "survey.toml"), "--out", str(out), "--workers", "2"])
    assert int(info.value.code or 0) == 0
    return out


@pytest.fixture(scope="module")
def ledger(credits_run: Path) -> dict[str, Any]:
    return json.loads((credits_run / "ledger.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return json.loads((SAMPLE / "truth" / "totals.json").read_text(encoding="utf-8"))["sink"]


def test_true_sink_is_inside_the_reported_90_percent_interval(
    ledger: dict[str, Any], truth: dict[str, Any]
) -> None:
    # truth/totals.json: removals 44/12 × Δ(agb_c + bgb_c + soc_0_100) = 875.35 and
    # net = removals − CH4 = 808.99 t CO2e/yr (the synthetic world has no N2O; the
    # sample survey says so with n2o_flux_mg_m2_d = 0).
    project = ledger["project"]
    low, high = project["removals"]["ci90"]
    assert low <= truth["removals_t_co2e_yr"] <= high
    low, high = project["net"]["ci90"]
    assert low <= truth["net_t_co2e_yr"] <= high
    # CH4 with the configured fluxes on the area-adjusted 2025 classes; the truth
    # uses the true 2025 class areas: same fluxes, so within the area errors (±10 %).
    assert project["non_co2_emissions"]["mean"] == pytest.approx(truth["ch4_t_co2e_yr"], rel=0.10)


def test_pool_changes_are_near_the_truth(ledger: dict[str, Any], truth: dict[str, Any]) -> None:
    total = next(r for r in ledger["strata"] if r["stratum"] == "total")
    # The SOC change is the bulk of the sink: 267.97 t C/yr in truth.
    assert total["d_soc_0_100_t_c_yr"] == pytest.approx(
        truth["delta_c_t_c_yr"]["soc_0_100"], rel=0.25
    )
    veg = total["d_agb_t_c_yr"] + total["d_bgb_t_c_yr"]
    # Vegetation lost 29.2 t C/yr (poplar removed): the sign and order of magnitude.
    assert -80.0 < veg < 0.0


def test_ledger_records_the_profile_chain_and_polygon(ledger: dict[str, Any]) -> None:
    assert ledger["schema"] == "carbonsink-ledger/1"
    assert ledger["profile"]["name"] == "vm0033"
    assert ledger["pools"] == ["agb", "bgb", "soc_0_100"]
    assert ledger["monte_carlo"]["n_draws"] >= 10_000
    assert ledger["monte_carlo"]["seed"] == 20240830
    rules = ledger["project"]["uncertainty_rules"]
    assert [r["rule"] for r in rules] == ["vm0033", "ar-tool14", "lower-bound"]
    assert [r["applied"] for r in rules] == [True, False, False]
    project = ledger["project"]
    # buffer 15 % of the adjusted (all stock) and tradable = adjusted − buffer
    assert project["buffer"] == pytest.approx(0.15 * max(project["adjusted"], 0.0))
    assert project["tradable"] == pytest.approx(max(project["adjusted"], 0.0) - project["buffer"])
    assert (
        ledger["polygon"]["sha256"] == boundary_fingerprint(SAMPLE / "boundary.geojson")["sha256"]
    )
    codes = {(w["code"], w["where"]) for w in ledger["warnings"]}
    assert ("outside-aoa", "epoch 2020") in codes
    assert ("outside-aoa", "epoch 2025") in codes


def test_tables_agree_with_the_json(credits_run: Path, ledger: dict[str, Any]) -> None:
    out = credits_run
    strata = pd.read_csv(out / "tables" / "ledger_strata.csv").set_index("stratum")
    total = next(r for r in ledger["strata"] if r["stratum"] == "total")
    assert strata.loc["total", "tradable_t_co2e_yr"] == pytest.approx(total["tradable_t_co2e_yr"])
    vintages = pd.read_csv(out / "tables" / "ledger_vintages.csv")
    project = vintages[vintages["stratum"] == "total"]
    # 2020-09-15 → 2025-09-18: vintages 2020 (16 + 31 + 30 + 31 = 108 days) … 2025
    # (Jan 1 → Sep 18 = 260 days); 108 + 3 × 365 + 366 + 260 = 1829 days in all.
    assert list(project["vintage"]) == [2020, 2021, 2022, 2023, 2024, 2025]
    assert list(project["days"]) == [108, 365, 365, 365, 366, 260]
    assert project["tradable_t_co2e"].sum() == pytest.approx(ledger["claim"]["tradable_t_co2e"])


def test_a_preflight_error_stops_before_any_compute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    survey_dir = tmp_path / "survey"
    shutil.copytree(SAMPLE, survey_dir, ignore=shutil.ignore_patterns("lidar", "truth"))
    (survey_dir / "plots_2025.csv").unlink()
    (survey_dir / "soil_2020.csv").write_text("core_id,lon,lat\nA,1,2\n", encoding="utf-8")
    out = tmp_path / "out"
    code, text = _run(["credits", str(survey_dir / "survey.toml"), "--out", str(out)], capsys)
    assert code == 2
    assert "plots_2025.csv" in text
    assert "soil_2020.csv" in text
    assert "Traceback" not in text
    assert not out.exists()
