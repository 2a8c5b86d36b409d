"""A soil sheet with gaps through the survey: validate, `soil stocks`, the ledger's warnings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from carbonsink.cli import main
from carbonsink.pipeline import RunContext, find_epoch
from carbonsink.pipeline.stages.soil import epoch_core_stocks, soil_gap_warnings
from carbonsink.preflight import preflight

GAP_OPTIONS = 'bulk_density_gaps = "pedotransfer"\nincomplete_cores = "exclude"\n'


def _gapped_survey(tmp_path: Path, sample_survey: Path, *, options: str) -> Path:
    """The sample survey with a 2025 soil sheet as labs deliver them.

    Lines of soil_2025.csv (header = line 1): line 2 is C2025-01 0–10 cm; a copy
    of it with another organic matter is appended (a lab replicate); line 3
    loses its bulk density; line 4 its organic matter; core C2025-02 gets a
    layer overlapping its first.
    """
    folder = tmp_path / "s"
    shutil.copytree(sample_survey.parent, folder, ignore=shutil.ignore_patterns("truth"))
    soil = folder / "soil_2025.csv"
    frame = pd.read_csv(soil, dtype=str, keep_default_na=False)
    replicate = frame.iloc[[0]].copy()
    replicate["om_g_kg"] = "45.73"
    second = frame.index[frame["core_id"] == "C2025-02"][0]
    overlap = frame.loc[[second]].copy()
    overlap["depth_top_cm"], overlap["depth_bottom_cm"] = "5", "15"
    frame.loc[1, "bulk_density_g_cm3"] = ""
    frame.loc[2, "om_g_kg"] = ""
    frame = pd.concat([frame, replicate, overlap], ignore_index=True)
    frame.to_csv(soil, index=False)
    toml = folder / "survey.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("[soil]\n", "[soil]\n" + options),
        encoding="utf-8",
    )
    return toml


def test_validate_names_each_gap_unless_the_survey_chooses_to_fill(
    tmp_path: Path, sample_survey: Path
) -> None:
    strict = preflight(_gapped_survey(tmp_path / "a", sample_survey, options=""))
    errors = " | ".join(str(e) for e in strict.errors if "soil_2025.csv" in str(e))
    assert "bulk_density_g_cm3 is empty" in errors and "line 3" in errors
    assert "no value in any of" in errors and "line 4" in errors
    assert "core 'C2025-02' has overlapping layers" in errors
    # The replicate of line 2 (appended at the end) is merged, not an overlap.
    assert "core 'C2025-01' has overlapping" not in errors

    chosen = preflight(_gapped_survey(tmp_path / "b", sample_survey, options=GAP_OPTIONS))
    assert [e for e in chosen.errors if "soil_2025.csv" in str(e)] == []


def test_soil_stocks_fills_lists_and_warns(
    tmp_path: Path, sample_survey: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    survey = _gapped_survey(tmp_path, sample_survey, options=GAP_OPTIONS)
    with pytest.raises(SystemExit) as info:
        main(["soil", "stocks", str(survey), "-e", "2025", "-o", str(tmp_path / "out")])
    text = capsys.readouterr().out
    assert info.value.code in (0, None), text
    codes = ("soil-bd-estimated", "soil-rows-dropped", "soil-cores-excluded", "soil-replicates")
    assert all(code in text for code in codes)
    table = pd.read_csv(tmp_path / "out" / "tables" / "core_stocks_2025.csv")
    left_out = table[table["excluded"].notna()]
    assert left_out["core_id"].tolist() == ["C2025-02"]
    assert left_out["excluded"].iloc[0].startswith("intervals overlap and are not replicates")
    assert left_out["soc_0_30_mg_ha"].isna().all()
    counted = table[table["excluded"].isna()].set_index("core_id")
    assert counted.loc["C2025-01", "replicate_layers"] == 1
    assert counted.loc["C2025-01", "bd_filled_layers"] == 1
    assert counted.loc["C2025-01", "dropped_layers"] == 1
    # The filled bulk density's error reaches the core's stock SE (the sample's
    # measured layers carry none of their own).
    assert counted.loc["C2025-01", "soc_0_30_se_mg_ha"] > 0


def test_the_ledger_warnings_say_what_moved(tmp_path: Path, sample_survey: Path) -> None:
    survey = _gapped_survey(tmp_path, sample_survey, options=GAP_OPTIONS)
    ctx = RunContext.build(survey)
    epoch = find_epoch(ctx.survey, "2025")
    stocks = epoch_core_stocks(ctx, epoch)
    warnings = {w.code: w for w in soil_gap_warnings(stocks, epoch="2025", path="soil_2025.csv")}
    assert set(warnings) == {
        "soil-bd-estimated",
        "soil-rows-dropped",
        "soil-cores-excluded",
        "soil-replicates",
    }
    assert warnings["soil-bd-estimated"].message.startswith("1 layer(s) of 1 core(s)")
    assert "ideal mixing" in warnings["soil-bd-estimated"].message
    assert "no carbon value: 1 row(s) of 1 core(s)" in warnings["soil-rows-dropped"].message
    assert "C2025-02 — intervals overlap" in warnings["soil-cores-excluded"].message
    assert warnings["soil-replicates"].message.startswith("1 interval(s) are given on several")
    assert all(w.where == "epoch 2025 soil table soil_2025.csv" for w in warnings.values())
    # A clean sheet gives none.
    sample = RunContext.build(sample_survey)
    clean = epoch_core_stocks(sample, find_epoch(sample.survey, "2025"))
    assert soil_gap_warnings(clean, epoch="2025", path="soil_2025.csv") == []
