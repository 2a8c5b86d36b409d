"""Soil sheets with replicate rows and unusable rows and cores (carbonsink.io.soil_sheets)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from carbonsink.errors import ConfigError, InputError
from carbonsink.io.soil_sheets import MIN_ERROR_LAYERS, merge_replicates, usable_layers
from carbonsink.schemas import check_table


def _sheet(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A soil table at one place; index = CSV lines (the first data row is line 2)."""
    frame = pd.DataFrame(rows)
    frame.insert(1, "x", 500_000.0)
    frame.insert(2, "y", 3_250_000.0)
    frame.index = pd.Index(range(2, len(frame) + 2), name="line")
    return frame


def _row(core: str, top: float, bottom: float, **values: object) -> dict[str, object]:
    return {"core_id": core, "depth_top_cm": top, "depth_bottom_cm": bottom, **values}


def test_replicates_are_averaged_with_their_spread_as_error() -> None:
    sheet = _sheet(
        [
            _row("A", 0, 10, soc_pct=2.0, bulk_density_g_cm3=1.0),
            _row("A", 0, 10, soc_pct=3.0, bulk_density_g_cm3=1.2),
            _row("A", 10, 20, soc_pct=1.0, bulk_density_g_cm3=1.3),
        ]
    )
    merged, lines = merge_replicates(sheet)
    assert lines == {2: (2, 3)}
    assert list(merged.index) == [2, 4]
    # Means 2.5 % and 1.1 g/cm³; SE of a mean of two = SD/√2 = |a − b|/2:
    # OC (3 − 2)/2 = 0.5, BD (1.2 − 1.0)/2 = 0.1.
    assert merged.loc[2, "soc_pct"] == pytest.approx(2.5)
    assert merged.loc[2, "bulk_density_g_cm3"] == pytest.approx(1.1)
    assert merged.loc[2, "soc_se_pct"] == pytest.approx(0.5)
    assert merged.loc[2, "bulk_density_se_g_cm3"] == pytest.approx(0.1)
    # The interval given once keeps its values and no error.
    assert merged.loc[4, "soc_pct"] == 1.0
    assert math.isnan(merged.loc[4, "soc_se_pct"])
    # After the merge the table check finds no overlapping layers.
    assert check_table(merged, "soil", path="soil.csv") == []
    # The raw table, checked as it is, does.
    assert any("overlapping" in p.message for p in check_table(sheet, "soil", path="soil.csv"))


def test_a_labs_own_larger_error_wins_over_the_spread() -> None:
    sheet = _sheet(
        [
            _row("A", 0, 10, soc_pct=2.0, soc_se_pct=1.0, bulk_density_g_cm3=1.0),
            _row("A", 0, 10, soc_pct=3.0, soc_se_pct=1.0, bulk_density_g_cm3=1.0),
        ]
    )
    merged, _ = merge_replicates(sheet)
    # Spread 0.5 against √(1² + 1²)/2 = 0.7071: the stated errors are larger.
    assert merged.loc[2, "soc_se_pct"] == pytest.approx(math.sqrt(2.0) / 2.0)
    # Identical BDs: spread 0, no stated error -> SE 0.
    assert merged.loc[2, "bulk_density_se_g_cm3"] == 0.0


def test_split_samples_complete_each_other() -> None:
    # A ¹⁴C-age row and a bulk-density/OM row of the same interval (as in Drexler et al.).
    sheet = _sheet(
        [
            _row("B", 104, 106, c14_age=960.0),
            _row("B", 104, 106, bulk_density_g_cm3=0.11, om_pct=45.0),
        ]
    )
    merged, lines = merge_replicates(sheet)
    assert lines == {2: (2, 3)}
    row = merged.loc[2]
    assert (row["bulk_density_g_cm3"], row["om_pct"], row["c14_age"]) == (0.11, 45.0, 960.0)
    assert row["bulk_density_se_g_cm3"] == 0.0  # one value: its own (blank) error


def test_unparsed_values_and_different_methods_are_not_merged() -> None:
    sheet = _sheet(
        [
            _row("A", 0, 10, soc_pct="2,5", bulk_density_g_cm3=1.0),
            _row("A", 0, 10, soc_pct=3.0, bulk_density_g_cm3=1.0),
            _row("B", 0, 10, soc_pct=2.0, bulk_density_g_cm3=1.0, method="CHN"),
            _row("B", 0, 10, soc_pct=3.0, bulk_density_g_cm3=1.0, method="dichromate"),
        ]
    )
    merged, lines = merge_replicates(sheet)
    assert lines == {}
    assert len(merged) == 4
    messages = [p.message for p in check_table(merged, "soil", path="soil.csv")]
    assert any("soc_pct is not a number" in m for m in messages)
    assert any("core 'B' has overlapping layers" in m for m in messages)


def _incomplete() -> pd.DataFrame:
    return _sheet(
        [
            _row("A", 0, 10, soc_pct=2.0, bulk_density_g_cm3=1.0),  # line 2
            _row("A", 10, 20, bulk_density_g_cm3=1.1),  # line 3: no carbon
            _row("A", 20, 30, soc_pct=1.0, bulk_density_g_cm3=1.2),  # line 4
            _row("B", 0, 10, soc_pct=2.0, bulk_density_g_cm3=1.0),  # line 5
            _row("B", 5, 15, soc_pct=2.0, bulk_density_g_cm3=1.0),  # line 6: overlaps 5
            _row("C", np.nan, 10, soc_pct=2.0, bulk_density_g_cm3=1.0),  # line 7: no depth
            _row("D", 0, 10, bulk_density_g_cm3=1.0),  # line 8: no carbon
        ]
    )


def test_with_the_default_every_problem_stays_a_problem() -> None:
    sheet = usable_layers(_incomplete())
    assert len(sheet.layers) == 7 and sheet.dropped.empty and sheet.excluded.empty
    messages = " | ".join(p.message for p in check_table(sheet.layers, "soil", path="s.csv"))
    assert "no value in any of soc_pct" in messages
    assert "core 'B' has overlapping layers (lines 5/6)" in messages
    assert "depth_top_cm is empty" in messages


def test_exclude_drops_rows_and_cores_and_lists_each() -> None:
    sheet = usable_layers(_incomplete(), incomplete_cores="exclude")
    assert list(sheet.layers.index) == [2, 4]
    assert sheet.dropped.to_dict("records") == [
        {"core_id": "C", "line": 7, "reason": "no depth"},
        {"core_id": "A", "line": 3, "reason": "no carbon value"},
        {"core_id": "D", "line": 8, "reason": "no carbon value"},
    ]
    assert sheet.excluded.to_dict("records") == [
        {
            "core_id": "B",
            "lines": "lines 5, 6",
            "reason": "intervals overlap and are not replicates (lines 5, 6)",
        },
        {"core_id": "C", "lines": "line 7", "reason": "no usable layer"},
        {"core_id": "D", "lines": "line 8", "reason": "no usable layer"},
    ]
    assert check_table(sheet.layers, "soil", path="s.csv") == []


def test_nothing_left_is_an_error() -> None:
    sheet = _sheet([_row("A", 0, 10, bulk_density_g_cm3=1.0)])
    with pytest.raises(InputError, match="no core is left"):
        usable_layers(sheet, incomplete_cores="exclude", path="s.csv")


def test_bulk_density_gaps_marked_when_the_error_can_be_measured() -> None:
    complete = [
        _row("K", 10 * i, 10 * i + 10, om_pct=5.0 + i, bulk_density_g_cm3=1.0)
        for i in range(MIN_ERROR_LAYERS)
    ]
    blank = _row("L", 0, 10, om_pct=20.0, bulk_density_g_cm3=np.nan)
    no_om = _row("M", 0, 10, soc_pct=3.0, bulk_density_g_cm3=np.nan)
    sheet = usable_layers(_sheet([*complete, blank]), bulk_density_gaps="pedotransfer")
    assert sheet.to_fill == (2 + MIN_ERROR_LAYERS,)
    # A blank bulk density with no organic matter to estimate it from:
    with pytest.raises(InputError, match="no organic matter") as caught:
        usable_layers(_sheet([*complete, blank, no_om]), bulk_density_gaps="pedotransfer")
    assert f"(line {3 + MIN_ERROR_LAYERS})" in str(caught.value)
    # ... left out when the survey says so:
    sheet = usable_layers(
        _sheet([*complete, blank, no_om]),
        bulk_density_gaps="pedotransfer",
        incomplete_cores="exclude",
    )
    assert sheet.excluded["core_id"].tolist() == ["M"]
    assert sheet.dropped["reason"].tolist() == [
        "no bulk density and no organic matter to estimate it from"
    ]
    # One complete layer too few to measure the prediction error:
    with pytest.raises(InputError, match=f"only {MIN_ERROR_LAYERS - 1} layer"):
        usable_layers(_sheet([*complete[1:], blank]), bulk_density_gaps="pedotransfer")


def test_unknown_choices_name_the_key() -> None:
    with pytest.raises(ConfigError, match="bulk_density_gaps"):
        usable_layers(_incomplete(), bulk_density_gaps="guess")
    with pytest.raises(ConfigError, match="incomplete_cores"):
        usable_layers(_incomplete(), incomplete_cores="drop")
