"""Tests for tables in Excel workbooks (carbonsink.io.spreadsheets through read_table).

Every workbook is built cell by cell with openpyxl, so each test states the
Excel row a value stands in; the table's index and the messages must give
that same number.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carbonsink.errors import CRSError, InputError
from carbonsink.io.tables import read_point_table, read_table, table_crs, table_points
from carbonsink.schemas import TABLE_SCHEMAS, check_table
from tests.workbooks import write_workbook

UTM50 = "EPSG:32650"
#: The soil schema's required columns (x/y for coordinates) and soc_pct.
SOIL_HEADER = [*(c.name for c in TABLE_SCHEMAS["soil"].required), "soc_pct"]


def _soil_rows(first: int, count: int) -> dict[int, list[object]]:
    """Soil layers in rows first, first + 1, ...: core C<row>, 0-10 cm, BD 1.1, SOC 2 %."""
    return {
        row: [f"C{row}", 500_000.0 + row, 3_300_000.0, 0, 10, 1.1, 2.0]
        for row in range(first, first + count)
    }


def test_the_index_is_the_row_excel_shows(tmp_path: Path) -> None:
    # Row 1 header; rows 2-3 records; row 4 empty; row 5 a record with a 7 in column B.
    path = write_workbook(
        tmp_path / "plots.xlsx",
        {
            "plots": {
                1: ["plot_id", "agb_g_m2", "note"],
                2: ["P1", 850.5, "ok"],
                3: ["P2", 920, None],
                5: ["P5", 7, "five"],
            }
        },
    )
    frame = read_table(path)
    assert frame.index.name == "line"
    assert list(frame.index) == [2, 3, 5]
    assert frame.loc[5, "agb_g_m2"] == 7
    assert frame.loc[5, "plot_id"] == "P5"
    assert frame.loc[2, "agb_g_m2"] == 850.5
    assert np.isnan(frame.loc[3, "note"])
    assert frame.attrs["carbonsink_sheet"] == "plots"


def test_leading_empty_rows_and_columns_are_counted(tmp_path: Path) -> None:
    # The table starts in B3 (rows 1-2 and column A empty): the header is row 3, so the
    # record in row 5 is index 5 and a bad value there is "row 5".
    path = write_workbook(
        tmp_path / "t.xlsx",
        {"S": {3: [None, "plot_id", "x", "y"], 4: [None, "A", 1.5, 2.5], 5: [None, "B", "x?", 4]}},
    )
    frame = read_table(path)
    assert list(frame.columns) == ["plot_id", "x", "y"]
    assert list(frame.index) == [4, 5]
    with pytest.raises(InputError, match="non-numeric x") as err:
        table_points(frame, crs=UTM50, target_crs=UTM50, path=path)
    assert err.value.problem.where == "sheet 'S', row 5"


def test_trailing_formatted_empty_cells_are_ignored(tmp_path: Path) -> None:
    import openpyxl

    path = write_workbook(tmp_path / "t.xlsx", {"S": {1: ["a", "b"], 2: [1, 2]}})
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["S"]
    sheet["F40"].number_format = "0.00"  # what Excel leaves after a cell was cleared
    sheet["C2"] = "   "  # a cell holding only spaces is empty too
    workbook.save(path)
    frame = read_table(path)
    assert list(frame.columns) == ["a", "b"]
    assert list(frame.index) == [2]


def test_cells_keep_their_types(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "t.xlsx",
        {
            "S": {
                1: ["plot_id", "date", "agb_g_m2", "size_m2", "code"],
                2: ["007", dt.datetime(2020, 9, 14), 936.4, 1, 12],
                3: ["010", dt.datetime(2020, 9, 15, 10, 30), "1200.5", 0.25, 3.0],
            }
        },
    )
    frame = read_table(path, text_columns=("plot_id", "code"))
    # Text stays text (leading zeros kept: the cell is text in Excel), dates become ISO
    # text as they read in a CSV, numbers stay numbers; a number stored as text in a
    # column of numbers reads as a number, as in a CSV.
    assert list(frame["plot_id"]) == ["007", "010"]
    assert list(frame["date"]) == ["2020-09-14", "2020-09-15 10:30:00"]
    assert list(frame["agb_g_m2"]) == [936.4, 1200.5]
    assert pd.api.types.is_float_dtype(frame["agb_g_m2"])
    assert list(frame["size_m2"]) == [1.0, 0.25]
    assert list(frame["code"]) == ["12", "3"]


@pytest.mark.parametrize(("sheet", "expected"), [("土壤", "C12"), (2, "C12"), ("  土壤 ", "C12")])
def test_a_sheet_is_chosen_by_name_or_number(
    tmp_path: Path, sheet: str | int, expected: str
) -> None:
    path = write_workbook(
        tmp_path / "survey.xlsx",
        {
            "plots": {1: ["plot_id", "x"], 2: ["P1", 1.0]},
            "土壤": {1: SOIL_HEADER, **_soil_rows(12, 1)},
        },
    )
    assert list(read_table(path)["plot_id"]) == ["P1"]  # the first sheet by default
    frame = read_table(path, sheet=sheet)
    assert list(frame["core_id"]) == [expected]
    assert list(frame.index) == [12]


def test_an_unknown_sheet_lists_the_sheets(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "survey.xlsx",
        {"plots": {1: ["a"], 2: [1]}, "土壤": {1: ["a"], 2: [1]}},
    )
    with pytest.raises(InputError, match="no sheet 'soil'") as err:
        read_table(path, sheet="soil")
    assert "'plots', '土壤'" in str(err.value)
    assert err.value.path == path
    with pytest.raises(InputError, match="2 sheet"):
        read_table(path, sheet=3)


def test_an_invalid_value_in_row_12_of_sheet_soil_is_named(tmp_path: Path) -> None:
    rows = {1: SOIL_HEADER, **_soil_rows(2, 15)}
    rows[12] = ["C12", 500_012.0, 3_300_000.0, 0, 10, -0.4, 2.0]  # a negative bulk density
    path = write_workbook(tmp_path / "soil.xlsx", {"说明": {1: ["notes"]}, "土壤": rows})
    frame = read_table(path, sheet="土壤", text_columns=TABLE_SCHEMAS["soil"].text_columns())
    problems = check_table(frame, "soil", path=path.name)
    assert len(problems) == 1
    text = str(problems[0])
    assert problems[0].where == "sheet '土壤', row 12"
    assert "row 12" in text and "土壤" in text and "bulk_density_g_cm3" in text


def test_missing_columns_name_the_header_row(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "soil.xlsx", {"土壤": {2: ["core_id", "x", "y"], 3: ["C", 1, 2]}}
    )
    problems = check_table(read_table(path), "soil", path=path.name)
    assert problems and all(p.where == "header (sheet '土壤', row 2)" for p in problems)


def test_a_workbook_needs_a_crs_from_the_survey(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "p.xlsx", {"S": {1: ["id", "x", "y"], 2: ["A", 500_100.0, 3.3e6]}}
    )
    with pytest.raises(CRSError, match=r"spreadsheet \(.xlsx\) carries no CRS"):
        table_crs(path)
    points = read_point_table(path, target_crs=UTM50, crs=UTM50)
    assert list(points.index) == [2]
    assert points.attrs["carbonsink_sheet"] == "S"
    assert points.geometry.x.iloc[0] == 500_100.0


@pytest.mark.parametrize("suffix", [".xls", ".xlsm", ".ods", ".et"])
def test_other_spreadsheet_formats_are_refused_with_the_fix(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"plots{suffix}"
    path.write_bytes(b"whatever")
    with pytest.raises(InputError, match="does not read") as err:
        read_table(path)
    assert ".xlsx" in (err.value.problem.fix or "")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "old-format Excel file"),
        (b"plot_id,x,y\nP1,1,2\n", "not an .xlsx workbook"),
        (b"PK\x03\x04broken", "cannot be read"),
    ],
)
def test_a_file_named_xlsx_that_is_not_one(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "plots.xlsx"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as err:
        read_table(path)
    assert "save it as an Excel workbook (.xlsx)" in (err.value.problem.fix or "")


@pytest.mark.parametrize(
    ("rows", "message", "where"),
    [
        ({}, "the sheet is empty", "sheet 'S'"),
        ({3: ["a", "b"]}, "header but no data rows", "sheet 'S', row 4"),
        ({1: ["a", None, "c"], 2: [1, 2, 3]}, "column(s) B hold values", "sheet 'S', row 1"),
        ({1: ["a", "a"], 2: [1, 2]}, "repeats column(s) 'a'", "sheet 'S', row 1"),
    ],
)
def test_unreadable_sheets(
    tmp_path: Path, rows: dict[int, list[object]], message: str, where: str
) -> None:
    path = write_workbook(tmp_path / "t.xlsx", {"S": rows})
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        read_table(path)
    assert err.value.problem.where == where


def test_a_formula_whose_value_was_never_saved_is_refused(tmp_path: Path) -> None:
    # openpyxl writes the formula, not its result: read as values, C3 would be empty. A
    # blank cell that holds nothing (B4) is a blank, not an error.
    path = write_workbook(
        tmp_path / "t.xlsx",
        {"S": {1: ["id", "agb_g_m2", "twice"], 2: ["A", 1, 2], 3: ["B", 3, "=B3*2"], 4: ["C"]}},
    )
    with pytest.raises(InputError, match=r"1 cell\(s\) hold a formula .*\(C3\)") as err:
        read_table(path)
    assert err.value.problem.where == "sheet 'S', cell C3"
    assert "save it" in (err.value.problem.fix or "")
