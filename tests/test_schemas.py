"""Tests of carbonsink.schemas: input table schemas and value ranges."""

from __future__ import annotations

import pandas as pd

from carbonsink.schemas import TABLE_SCHEMAS, check_table

CLASSES = {"water", "mudflat", "sedge", "reed", "miscanthus", "poplar"}


def frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A table as read_table returns it: index = file line numbers (header is line 1)."""
    table = pd.DataFrame(rows)
    table.index = pd.RangeIndex(2, 2 + len(rows), name="line")
    return table


def soil_row(core: str, top: float, bottom: float, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "core_id": core,
        "x": 1.0,
        "y": 2.0,
        "depth_top_cm": top,
        "depth_bottom_cm": bottom,
        "bulk_density_g_cm3": 1.2,
        "soc_pct": 1.5,
    }
    row.update(extra)
    return row


def test_valid_tables_have_no_problems() -> None:
    plots = frame(
        [
            {
                "plot_id": "p1",
                "lon": 112.9,
                "lat": 29.4,
                "agb_g_m2": 1280.0,
                "size_m2": 1.0,
                "veg_class": "sedge",
            },
            {"plot_id": "p2", "lon": 112.91, "lat": 29.41, "agb_g_m2": 0.0, "size_m2": 1.0},
        ]
    )
    assert check_table(plots, "plots", path="plots.csv", known_classes=CLASSES) == []
    soil = frame([soil_row("c1", 0, 10), soil_row("c1", 10, 30), soil_row("c2", 0, 30)])
    assert check_table(soil, "soil", path="soil.csv") == []
    samples = frame([{"x": 1.0, "y": 2.0, "class": "reed"}])
    assert check_table(samples, "landcover_samples", path="s.csv", known_classes=CLASSES) == []


def test_misspelled_column_gets_rename_fix() -> None:
    soil = frame([{**soil_row("c1", 0, 10), "bulk_densty_g_cm3": 1.2}])
    soil = soil.drop(columns="bulk_density_g_cm3")
    (problem,) = check_table(soil, "soil", path="soil.csv")
    assert "bulk_density_g_cm3" in problem.message
    assert problem.fix == "rename column 'bulk_densty_g_cm3' to 'bulk_density_g_cm3'"
    assert problem.where == "header (line 1)"


def test_out_of_range_values_name_their_lines() -> None:
    soil = frame(
        [
            soil_row("c1", 0, 10, bulk_density_g_cm3=-0.4),  # line 2: BD < 0.01
            soil_row("c1", 10, 20),  # line 3: fine
            soil_row("c1", 20, 30, soc_pct=75.0),  # line 4: SOC > 60 %
            soil_row("c2", 30, 10),  # line 5: top >= bottom
        ]
    )
    problems = check_table(soil, "soil", path="soil.csv")
    by_text = {p.message.split(" ")[0]: p for p in problems}
    assert by_text["bulk_density_g_cm3"].where == "line 2"
    assert "0.01–2.65 g/cm³" in by_text["bulk_density_g_cm3"].message
    assert by_text["soc_pct"].where == "line 4"
    assert by_text["depth_top_cm"].where == "line 5"
    assert len(problems) == 3


def test_overlapping_layers_and_moving_core() -> None:
    soil = frame(
        [
            soil_row("c1", 0, 20),
            soil_row("c1", 10, 30),  # overlaps 0-20
            soil_row("c2", 0, 10),
            {**soil_row("c2", 10, 20), "x": 5.0},
        ]
    )
    messages = [p.message for p in check_table(soil, "soil", path="soil.csv")]
    assert any("core 'c1' has overlapping layers (lines 2/3)" in m for m in messages)
    assert any("core 'c2' has different coordinates" in m for m in messages)


def test_carbon_column_alternatives() -> None:
    row = soil_row("c1", 0, 10)
    del row["soc_pct"]
    problems = check_table(frame([row]), "soil", path="soil.csv")
    assert [p.message for p in problems] == [
        "none of the columns soc_pct / om_pct / om_g_kg is present"
    ]
    rows = [soil_row("c1", 0, 10), soil_row("c1", 10, 20, soc_pct=None)]
    rows[1]["om_g_kg"] = None
    problems = check_table(frame(rows), "soil", path="soil.csv")
    assert [(p.message, p.where) for p in problems] == [
        ("no value in any of soc_pct, om_g_kg", "line 3")
    ]


def test_duplicate_ids_negative_agb_unknown_class() -> None:
    plots = frame(
        [
            {
                "plot_id": "p1",
                "x": 1.0,
                "y": 1.0,
                "agb_g_m2": -5.0,
                "size_m2": 1.0,
                "veg_class": "sedge",
            },
            {
                "plot_id": "p1",
                "x": 1.0,
                "y": 1.0,
                "agb_g_m2": 10.0,
                "size_m2": 0.0,
                "veg_class": "seedge",
            },
        ]
    )
    problems = {
        p.message.split(" ")[0]: p
        for p in check_table(plots, "plots", path="plots.csv", known_classes=CLASSES)
    }
    assert problems["agb_g_m2"].where == "line 2"
    assert problems["size_m2"].where == "line 3"  # size must be > 0
    assert problems["plot_id"].where == "lines 2, 3"
    assert problems["veg_class"].fix == 'did you mean "sedge"?'


def test_non_numeric_and_empty_cells() -> None:
    plots = frame(
        [
            {"plot_id": "p1", "x": 1.0, "y": 1.0, "agb_g_m2": "12,5", "size_m2": 1.0},
            {"plot_id": None, "x": None, "y": 1.0, "agb_g_m2": 3.0, "size_m2": 1.0},
        ]
    )
    messages = sorted(p.message for p in check_table(plots, "plots", path="plots.csv"))
    assert messages == [
        "agb_g_m2 is not a number ('12,5'); these look like numbers with a decimal comma — "
        "the file was probably saved with a European number format",
        "plot_id is empty",
        "x is empty",
    ]


def test_missing_coordinates_and_empty_table() -> None:
    samples = frame([{"east": 1.0, "north": 2.0, "class": "reed"}])
    (problem,) = check_table(samples, "landcover_samples", path="s.csv")
    assert "coordinate columns are missing" in problem.message
    empty = frame([]).reindex(columns=["x", "y", "class"])
    assert check_table(empty, "landcover_samples", path="s.csv")[0].message == (
        "the table has no rows"
    )


def test_schema_registry_covers_design_tables() -> None:
    # docs/design.md §3 table schemas.
    assert {c.name for c in TABLE_SCHEMAS["plots"].required} == {
        "plot_id",
        "x",
        "y",
        "agb_g_m2",
        "size_m2",
    }
    assert {c.name for c in TABLE_SCHEMAS["soil"].required} == {
        "core_id",
        "x",
        "y",
        "depth_top_cm",
        "depth_bottom_cm",
        "bulk_density_g_cm3",
    }
