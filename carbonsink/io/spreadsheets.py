"""Tables in Excel workbooks (``.xlsx``), read with openpyxl.

A sheet becomes a table the way a person reads it: the first row with
anything in it is the header, the rows below are the records, and empty rows
and columns — within the table or left behind at its end by Excel — are
skipped. The index is the row number as Excel shows it (header in row 1: the
first record is row 2), so messages say ``sheet '土壤', row 12``.

Cells keep their types: numbers stay numbers, text stays text, and a date or
time (which Excel stores as a formatted number) becomes ISO text
(``2020-09-14``), as it reads in a CSV. A formula gives the value Excel last
computed and saved; a workbook written by a script and never opened in a
spreadsheet program holds no such value, and is refused naming the cells.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carbonsink.errors import InputError
from carbonsink.schemas import HEADER_ATTR, ROW_WORD_ATTR, SHEET_ATTR

__all__ = ["cells_as_text", "numbers_from_text", "read_workbook", "refuse_repeated_names"]

_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SAVE_AS_XLSX = (
    "open it in Excel, WPS or LibreOffice and save it as an Excel workbook (.xlsx) without "
    "a password"
)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell(value: object) -> object:
    """A cell's value as a table holds it: blank → NaN, dates and times → ISO text."""
    if _blank(value):
        return np.nan
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return value


def _column_letter(number: int) -> str:
    """``1`` → ``"A"``, ``28`` → ``"AB"`` (Excel's column names)."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _open(file: Path, *, data_only: bool = True) -> Any:
    """The workbook, read-only: with the values Excel last computed (``data_only``), or with
    the formulas as written."""
    import openpyxl

    with file.open("rb") as handle:
        magic = handle.read(8)
    if magic == _OLE2:
        raise InputError(
            "the file is not an .xlsx workbook: it is an old-format Excel file (.xls) renamed "
            ".xlsx, or a password-protected workbook",
            path=file,
            fix=_SAVE_AS_XLSX,
        )
    if not magic.startswith(_ZIP):
        raise InputError(
            "the file is not an .xlsx workbook (an .xlsx is a zip archive; this one is not — "
            "perhaps a CSV or text file named .xlsx)",
            path=file,
            fix=_SAVE_AS_XLSX + ", or name a CSV file .csv",
        )
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it drops (data validation, styles): they do
            # not change the cells' values.
            warnings.simplefilter("ignore")
            return openpyxl.load_workbook(file, read_only=True, data_only=data_only)
    except Exception as exc:  # zipfile, XML and openpyxl's own errors
        raise InputError(
            f"the workbook cannot be read ({type(exc).__name__}: {exc})",
            path=file,
            fix=_SAVE_AS_XLSX + " again (the file may be damaged or incomplete)",
        ) from exc


def _choose_sheet(workbook: Any, sheet: str | int | None, file: Path) -> Any:
    """The worksheet named (or numbered from 1) by ``sheet``; the first when ``None``."""
    import unicodedata

    sheets = list(workbook.worksheets)
    names = [str(s.title) for s in sheets]
    listed = ", ".join(repr(n) for n in names)
    if not sheets:
        raise InputError("the workbook has no worksheet", path=file, fix=_SAVE_AS_XLSX)
    if sheet is None:
        return sheets[0]
    if isinstance(sheet, int):
        if 1 <= sheet <= len(sheets):
            return sheets[sheet - 1]
        raise InputError(
            f"the workbook has {len(sheets)} sheet(s) ({listed}), no sheet number {sheet}",
            path=file,
            where=f"sheet {sheet}",
            fix="give the sheet's name or its number from 1 (sheet = ... in the survey entry)",
        )

    def key(name: str) -> str:
        return "".join(unicodedata.normalize("NFKC", name).split()).casefold()

    for candidates in (names, [key(n) for n in names]):
        wanted = sheet if candidates is names else key(sheet)
        if wanted in candidates:
            return sheets[candidates.index(wanted)]
    raise InputError(
        f"the workbook has no sheet {sheet!r}; its sheets are {listed}",
        path=file,
        where=f"sheet {sheet!r}",
        fix='name one of those sheets (sheet = "..." in the survey entry), or its number from 1',
    )


def _sheet_rows(
    file: Path, sheet: str | int | None, *, data_only: bool
) -> tuple[str, list[tuple[object, ...]]]:
    """The chosen sheet's name and every row it holds, from row 1 (values, or formulas)."""
    workbook = _open(file, data_only=data_only)
    try:
        worksheet = _choose_sheet(workbook, sheet, file)
        # The dimension a file declares can be wrong (some writers leave it out or
        # make it too small): read every row the sheet holds.
        worksheet.reset_dimensions()
        return str(worksheet.title), [tuple(r) for r in worksheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _refuse_unsaved_formulas(
    file: Path, name: str, values: list[tuple[object, ...]], header_at: int, used: list[int]
) -> None:
    """Refuse formulas whose value no spreadsheet program has saved (they read blank).

    A workbook written by a script holds formulas without their results; read
    as values, such a cell is empty. Its formulas are read here, on the cells
    of the table that read blank.
    """
    _, formulas = _sheet_rows(file, name, data_only=False)
    unsaved = [
        f"{_column_letter(j + 1)}{i + 1}"
        for i in range(header_at, len(values))
        for j in used
        if i < len(formulas)
        and j < len(formulas[i])
        and isinstance(formulas[i][j], str)
        and str(formulas[i][j]).startswith("=")
        and _blank(values[i][j] if j < len(values[i]) else None)
    ]
    if unsaved:
        raise InputError(
            f"{len(unsaved)} cell(s) hold a formula whose value was never saved "
            f"({', '.join(unsaved[:10])}{' ...' if len(unsaved) > 10 else ''}): the workbook "
            "was written by a program that does not compute formulas",
            path=file,
            where=f"sheet {name!r}, cell {unsaved[0]}",
            fix="open the workbook in Excel, WPS or LibreOffice and save it (which computes "
            "the formulas), or replace the formulas by their values",
        )


def read_workbook(path: str | Path, *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read one sheet of an ``.xlsx`` workbook as a table indexed by Excel row numbers.

    Parameters
    ----------
    path
        The workbook.
    sheet
        The sheet's name (exact, or equal but for case, spaces and full-width
        characters) or its number from 1 in the workbook's tab order;
        ``None``: the first sheet.

    Returns
    -------
    pandas.DataFrame
        One column per named header cell, one row per non-empty row below
        the header, cells as read (numbers, text; dates as ISO text; blanks
        NaN). Index named ``line``: the Excel row numbers. ``attrs`` record
        the sheet's name, that the index counts rows and the header's row
        (:func:`carbonsink.schemas.rows_text`).

    Raises
    ------
    InputError
        The file is not an ``.xlsx`` workbook (an old ``.xls``, a password-
        protected or damaged file), the sheet does not exist (the message
        lists the sheets), the sheet is empty or has only a header, a column
        holds values under an empty header cell, the header repeats a name,
        or a formula's value was never saved.
    """
    file = Path(path)
    name, rows = _sheet_rows(file, sheet, data_only=True)
    attrs: dict[str, object] = {ROW_WORD_ATTR: "row", SHEET_ATTR: name}
    filled = [i for i, row in enumerate(rows) if any(not _blank(v) for v in row)]
    where = f"sheet {name!r}"
    if not filled:
        raise InputError(
            "the sheet is empty",
            path=file,
            where=where,
            fix="put the table in this sheet (header in the first row), or choose another "
            'sheet with sheet = "..." in the survey entry',
        )
    header_at = filled[0]
    records = filled[1:]
    header_row = header_at + 1
    attrs[HEADER_ATTR] = header_row
    if not records:
        raise InputError(
            "the sheet has a header but no data rows",
            path=file,
            where=f"{where}, row {header_row + 1}",
            fix="add the data rows under the header",
        )
    width = max(len(rows[i]) for i in filled)

    def value(i: int, j: int) -> object:
        row = rows[i]
        return row[j] if j < len(row) else None

    header = [value(header_at, j) for j in range(width)]
    used = [j for j in range(width) if any(not _blank(value(i, j)) for i in filled)]
    unnamed = [j for j in used if _blank(header[j])]
    if unnamed:
        columns = ", ".join(_column_letter(j + 1) for j in unnamed)
        raise InputError(
            f"column(s) {columns} hold values but have no name in the header",
            path=file,
            where=f"{where}, row {header_row}",
            fix="name every column in the header row, or delete the values",
        )
    names = [_header_text(header[j]) for j in used]
    refuse_repeated_names(names, path=file, where=f"{where}, row {header_row}")
    if any(_blank(value(i, j)) for i in range(header_at, records[-1] + 1) for j in used):
        _refuse_unsaved_formulas(file, name, rows, header_at, used)
    data = {n: [_cell(value(i, j)) for i in records] for n, j in zip(names, used, strict=True)}
    frame = pd.DataFrame(data, index=pd.Index([i + 1 for i in records], name="line"))
    frame.attrs.update(attrs)
    return frame


def refuse_repeated_names(names: Sequence[str], *, path: Path, where: str) -> None:
    """Refuse a header that names a column twice (CSV and workbooks alike).

    Raises
    ------
    InputError
        Naming the repeated names, the file and ``where`` (the header's line or row).
    """
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(
            f"the header repeats column(s) {', '.join(repr(n) for n in repeated)}",
            path=path,
            where=where,
            fix="give every column a distinct name",
        )


def _header_text(value: object) -> str:
    """A header cell as a column name: text stripped; a number as written (``2020``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(_cell(value)).strip()


def cells_as_text(values: pd.Series) -> pd.Series:
    """A workbook column as text: ``1`` and ``1.0`` → ``"1"``, ``0.5`` → ``"0.5"``, blanks kept.

    Parameters
    ----------
    values
        A column from :func:`read_workbook` (identifiers, class names).

    Returns
    -------
    pandas.Series
        dtype ``string``.
    """

    def text(value: object) -> object:
        if isinstance(value, float):
            if np.isnan(value):
                return pd.NA
            return str(int(value)) if value.is_integer() else repr(value)
        return str(value)

    return values.map(text).astype("string")


def _stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def numbers_from_text(frame: pd.DataFrame, *, keep: Collection[str] = ()) -> pd.DataFrame:
    """Columns whose every value is a number or text that reads as one, as numbers.

    A spreadsheet can hold numbers as text (imported values, the green
    triangle in Excel); a CSV does not know the difference. This reads such
    a column as numbers, as a CSV reader would; a column with any other
    text stays as it is, and so do the ``keep`` columns (identifiers).

    Parameters
    ----------
    frame
        A table from :func:`read_workbook`.
    keep
        Columns left as they are.

    Returns
    -------
    pandas.DataFrame
        ``frame`` (attrs kept) with those columns converted.
    """
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if name in keep or column.dtype != object:
            continue
        present = column.dropna()
        if present.empty or any(isinstance(v, bool) for v in present):
            continue
        numbers = pd.to_numeric(present.map(_stripped), errors="coerce")
        if numbers.notna().all():
            out[name] = pd.to_numeric(column.map(_stripped))
    return out
