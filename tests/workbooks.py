"""Excel workbooks for the tests, written with openpyxl cell by cell.

A sheet is given as ``{row number: [values from column A]}`` so that a test
says in which Excel row each record stands — the number its messages must cite.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import pandas as pd

Rows = Mapping[int, Sequence[object]]


def write_workbook(path: Path, sheets: Mapping[str, Rows]) -> Path:
    """Write an ``.xlsx`` whose sheets (in the order given) hold the rows at their row numbers."""
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row, values in rows.items():
            for column, value in enumerate(values, start=1):
                if value is not None:
                    sheet.cell(row=row, column=column, value=value)
    workbook.save(path)
    return path


def csv_as_workbook(
    csv: Path,
    path: Path,
    *,
    sheet: str = "Sheet1",
    headers: Mapping[str, str] | None = None,
    cells: Mapping[tuple[int, str], object] | None = None,
    dates: Collection[str] = (),
) -> Path:
    """A CSV table as one sheet of a workbook, its header in row 1 (CSV line n = Excel row n).

    ``headers`` renames columns (e.g. to Chinese); ``cells`` sets values by
    (Excel row, original column name); the ``dates`` columns (ISO dates in the
    CSV) become date cells, as Excel makes of a typed date. Numbers are
    written as numbers, text as text, blanks as empty cells.
    """
    frame = pd.read_csv(csv, keep_default_na=False, dtype=str)
    names = list(frame.columns)
    rows: dict[int, list[object]] = {1: [(headers or {}).get(n, n) for n in names]}
    for row, record in enumerate(frame.itertuples(index=False), start=2):
        rows[row] = [
            dt.datetime.fromisoformat(v) if n in dates and v else _value(v)
            for n, v in zip(names, record, strict=True)
        ]
    for (row, name), value in (cells or {}).items():
        rows[row][names.index(name)] = value
    return write_workbook(path, {sheet: rows})


def _value(text: str) -> object:
    if text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(text) if text.lstrip("-").isdigit() else number
