"""Point tables (plots, soil cores, land-cover samples) from CSV, Excel or GeoPackage.

Every table comes back with an index named ``line``: the 1-based line of the
record in the CSV file (the header is line 1, so the first data row is line 2,
and a record with a quoted line break counts its first line), the row number
Excel shows for a workbook (:mod:`carbonsink.io.spreadsheets`), or the 1-based
feature number in a GeoPackage. Messages can then say "line 12" or
"sheet '土壤', row 12", the place a user sees in a text editor or spreadsheet
(:func:`carbonsink.schemas.rows_text`). Chinese column headers that say
unambiguously what they hold are renamed to the schema's names
(:mod:`carbonsink.io.header_aliases`).

This module knows formats, not science: the table schemas and value ranges
belong to :mod:`carbonsink.schemas`.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import os
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pyproj import CRS

from carbonsink.crs import (
    as_crs,
    crs_label,
    crs_plausibility_problem,
    resolve_crs,
    transformer,
)
from carbonsink.errors import CRSError, InputError
from carbonsink.io.files import CSV_SUFFIXES, choose_layer, existing_file, table_format
from carbonsink.io.header_aliases import apply_header_aliases, canonical_name
from carbonsink.io.spreadsheets import (
    cells_as_text,
    numbers_from_text,
    read_workbook,
    refuse_repeated_names,
)
from carbonsink.schemas import (
    HEADER_ATTR,
    ROW_WORD_ATTR,
    decimal_comma_hint,
    header_place,
    rows_text,
)

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["CSV_SUFFIXES", "read_point_table", "read_table", "table_crs", "table_points"]

logger = logging.getLogger(__name__)

#: Coordinate column pairs accepted for a geographic CRS, in order of preference.
LONLAT_COLUMNS: tuple[tuple[str, str], ...] = (("lon", "lat"), ("longitude", "latitude"))

_GBK_FIX = (
    'or, if it is GBK/GB18030 text (as Chinese Excel and WPS save "CSV (comma delimited)"), '
    'add encoding = "gbk" to the table\'s survey entry'
)
_UTF8_FIX = (
    'save the file as UTF-8 (in Excel: "CSV UTF-8"; in WPS/LibreOffice choose the UTF-8 '
    "character set), " + _GBK_FIX
)


# --------------------------------------------------------------------- read
def read_table(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    text_columns: Collection[str] = (),
    kind: str | None = None,
) -> pd.DataFrame:
    """Read a CSV, Excel or GeoPackage table with line (or row) numbers as its index.

    Parameters
    ----------
    path
        A CSV file (``.csv``/``.txt``; UTF-8 with or without a byte-order
        mark unless ``encoding`` says otherwise; any text in the cells, e.g.
        Chinese class names), an Excel workbook (``.xlsx``) or a GeoPackage /
        other OGR vector file.
    layer
        The layer of a multi-layer GeoPackage.
    sheet
        The sheet of a workbook: its name, or its number from 1; ``None``:
        the first sheet.
    encoding
        The text encoding of a CSV file, any Python codec name (``"gbk"``,
        ``"gb18030"``); ``None``: UTF-8.
    text_columns
        Columns read as text whatever they look like (identifiers such as
        ``001`` keep their leading zeros). The names are the schema's: a
        column named by a header alias counts under the name it becomes.
    kind
        The table's kind (``"plots"``, ``"soil"``, ``"landcover_samples"``,
        ``"checkpoints"``): Chinese headers of that kind are renamed to the
        schema's names (:func:`carbonsink.io.header_aliases.apply_header_aliases`).
        ``None``: only ``经度``/``纬度``.

    Returns
    -------
    pandas.DataFrame
        All columns as read (numbers parsed, text kept), index named ``line``:
        the CSV line, the workbook row as Excel numbers it, or the feature
        number. ``attrs`` say which (:func:`carbonsink.schemas.rows_text`).
        For a GeoPackage without ``x``/``y`` columns, the point geometry's
        coordinates are added as ``x`` and ``y``; the geometry column itself
        is dropped.

    Raises
    ------
    InputNotFoundError
        When the file does not exist.
    InputError
        When it is empty, has no data rows, is not text in its encoding (or
        the encoding is unknown), has a row with more fields than the header,
        repeats a column name, cannot be parsed, is a spreadsheet format
        other than ``.xlsx``, has no such sheet, or has a Chinese header
        that is refused (the message names the line or the sheet and row).
    """
    file = existing_file(path, what="table")
    form = table_format(file)
    if form == "csv":
        return _read_csv(file, text_columns, encoding=encoding, kind=kind)
    if form == "workbook":
        frame = apply_header_aliases(read_workbook(file, sheet=sheet), kind=kind, path=file)
        for name in text_columns:
            if name in frame.columns:
                frame[name] = cells_as_text(frame[name])
        return numbers_from_text(frame, keep=text_columns)
    frame = apply_header_aliases(_read_vector_table(file, layer), kind=kind, path=file)
    for name in text_columns:
        if name in frame.columns:
            frame[name] = frame[name].astype("string")
    return frame


def _codec(encoding: str | None, file: Path) -> str:
    """The Python codec to decode a CSV with (UTF-8 with its byte-order mark by default)."""
    if encoding is None:
        return "utf-8-sig"
    try:
        name = codecs.lookup(encoding).name
    except LookupError as exc:
        raise InputError(
            f"unknown text encoding {encoding!r} (the table's encoding key)",
            path=file,
            fix='give a Python codec name: encoding = "gbk" or "gb18030" for Chinese Windows '
            "files, or leave encoding out for UTF-8",
        ) from exc
    return "utf-8-sig" if name == "utf-8" else name


def _decode(raw: bytes, file: Path, encoding: str | None) -> str:
    codec = _codec(encoding, file)
    if codec != "utf-8-sig" and raw.startswith(codecs.BOM_UTF8):
        raise InputError(
            f"the file starts with a UTF-8 byte-order mark, but its entry says encoding = "
            f"{encoding!r}",
            path=file,
            where="line 1",
            fix="remove encoding from the table's survey entry (the file is UTF-8)",
        )
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        if codec == "utf-8-sig":
            raise InputError(
                "the file is not UTF-8 text", path=file, where=f"line {line}", fix=_UTF8_FIX
            ) from exc
        raise InputError(
            f"the file is not {encoding} text",
            path=file,
            where=f"line {line}",
            fix='give the file\'s true encoding (leave encoding out for UTF-8; "gb18030" '
            'reads every Chinese Windows file "gbk" reads and more)',
        ) from exc


def _read_csv(
    file: Path,
    text_columns: Collection[str] = (),
    *,
    encoding: str | None = None,
    kind: str | None = None,
) -> pd.DataFrame:
    text = _decode(file.read_bytes(), file, encoding)
    if not text.strip():
        raise InputError(
            "the file is empty", path=file, fix="export the table again with a header row"
        )
    header_line, header, record_lines = _record_lines(text, file)
    if not record_lines:
        raise InputError(
            "the file has a header but no data rows",
            path=file,
            where=f"line {header_line + 1}",
            fix="add the data rows under the header",
        )
    names = [name.strip() for name in header]
    if len(names) == 1:
        for separator, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
            if separator in names[0]:
                raise InputError(
                    f"the header is one column, {names[0][:60]!r}: the file looks separated "
                    f"by {label}, not commas",
                    path=file,
                    where=f"line {header_line}",
                    fix="save it as comma-separated CSV (in a spreadsheet: 'CSV UTF-8 (comma "
                    "delimited)', with '.' as the decimal separator)",
                )
    refuse_repeated_names(names, path=file, where=f"line {header_line}")
    if any(not n for n in names):
        blank = [i for i, n in enumerate(names, start=1) if not n]
        raise InputError(
            f"column(s) {', '.join(map(str, blank))} of the header have no name",
            path=file,
            where=f"line {header_line}",
            fix="name every column, or delete empty trailing columns",
        )
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            skip_blank_lines=True,
            dtype={n: "string" for n in names if canonical_name(n, kind) in text_columns},
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(
            f"the CSV cannot be parsed ({exc})",
            path=file,
            fix="check quoting and separators (use commas; quote text containing commas)",
        ) from exc
    if len(frame) != len(record_lines):  # pragma: no cover - the two parsers disagree
        raise InputError(
            f"found {len(record_lines)} records but pandas read {len(frame)} rows",
            path=file,
            fix="check quoting (a stray quote character can swallow line breaks)",
        )
    frame.columns = pd.Index(names)
    frame.index = pd.Index(record_lines, name="line")
    frame.attrs[ROW_WORD_ATTR] = "line"
    frame.attrs[HEADER_ATTR] = header_line
    return apply_header_aliases(frame, kind=kind, path=file)


def _record_lines(text: str, file: Path) -> tuple[int, list[str], list[int]]:
    """The header's line, the header and the 1-based starting line of every non-blank
    data record.

    Blank and whitespace-only lines are skipped, as pandas skips them. A
    record with more fields than the header is an error naming its line.
    """
    reader = csv.reader(io.StringIO(text), strict=True)
    header: list[str] | None = None
    header_line = 1
    starts: list[int] = []
    next_line = 1
    try:
        for record in reader:
            start = next_line
            next_line = reader.line_num + 1
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if header is None:
                header, header_line = record, start
                continue
            if len(record) > len(header):
                raise InputError(
                    f"the row has {len(record)} fields but the header has {len(header)}",
                    path=file,
                    where=f"line {start}",
                    fix="remove the extra separator, or quote text that contains commas",
                )
            starts.append(start)
    except csv.Error as exc:
        raise InputError(
            f"the CSV cannot be parsed ({exc})",
            path=file,
            where=f"line {next_line}",
            fix="check the quoting on that line (every opening quote needs a closing one)",
        ) from exc
    if header is None:  # pragma: no cover - guarded by the empty-file check
        raise InputError("the file has no header row", path=file, fix="add a header row")
    return header_line, header, starts


def _read_vector_table(file: Path, layer: str | None) -> pd.DataFrame:
    import pyogrio

    name = choose_layer(file, layer)
    try:
        frame = pyogrio.read_dataframe(file, layer=name)
    except Exception as exc:  # pyogrio raises DataSourceError and GDAL errors
        raise InputError(
            f"layer {name!r} cannot be read ({exc})",
            path=file,
            fix="check that the file is a complete GeoPackage",
        ) from exc
    if len(frame) == 0:
        raise InputError(
            f"layer {name!r} has no features", path=file, fix="add the rows to the layer"
        )
    table = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    lines = pd.Index(np.arange(1, len(frame) + 1), name="line")
    table.index = lines
    table.attrs[ROW_WORD_ATTR] = "feature"
    if "geometry" in frame and not {"x", "y"} & set(table.columns):
        geometry = frame.geometry
        types = geometry.geom_type.to_numpy()
        not_points = [
            int(i) for i, t in zip(lines, types, strict=True) if t is not None and t != "Point"
        ]
        if not_points:
            raise InputError(
                f"features must be points, found {types[lines.get_loc(not_points[0])]}",
                path=file,
                where=rows_text(table.attrs, not_points),
                fix="store plots and cores as points, or add x and y columns",
            )
        empty = geometry.isna().to_numpy() | geometry.is_empty.to_numpy()
        x = np.full(len(frame), np.nan)
        y = np.full(len(frame), np.nan)
        x[~empty] = geometry[~empty].x.to_numpy()
        y[~empty] = geometry[~empty].y.to_numpy()
        table["x"] = x
        table["y"] = y
    return table


# ---------------------------------------------------------------------- CRS
def table_crs(path: str | os.PathLike[str], *, crs: Any = None, layer: str | None = None) -> CRS:
    """The CRS of a table's coordinates: the survey's override, else the file's.

    Parameters
    ----------
    path
        A CSV, Excel or GeoPackage table.
    crs
        The CRS given in the survey entry. Required for CSV files and
        workbooks, which carry no CRS.
    layer
        The layer of a multi-layer GeoPackage.

    Raises
    ------
    CRSError
        When no CRS is known (always the case for a CSV or workbook without ``crs``).
    InputNotFoundError, InputError
        When the file is missing or unreadable.
    """
    file = existing_file(path, what="table")
    form = table_format(file)
    file_crs: Any = None
    if form == "vector":
        import pyogrio

        name = choose_layer(file, layer)
        try:
            file_crs = pyogrio.read_info(file, layer=name).get("crs")
        except Exception as exc:  # pyogrio raises DataSourceError and GDAL errors
            raise InputError(
                f"layer {name!r} cannot be read ({exc})",
                path=file,
                fix="check that the file is a complete GeoPackage",
            ) from exc
    resolved, _ = resolve_crs(file_crs, crs, path=file)
    if resolved is None:
        what = {
            "csv": "a CSV file carries no CRS",
            "workbook": "a spreadsheet (.xlsx) carries no CRS",
        }.get(form, "the layer has no CRS")
        raise CRSError(
            f"the table's coordinates have no CRS: {what}",
            path=file,
            fix='add crs = "EPSG:...." to the survey entry of this table (e.g. "EPSG:4326" '
            'for GPS longitude/latitude, "EPSG:4490" for CGCS2000 lon/lat)',
        )
    return resolved


# ------------------------------------------------------------ coordinates
def _coordinate_columns(frame: pd.DataFrame, crs: CRS, path: Path) -> tuple[str, str]:
    columns = set(frame.columns)
    lonlat = [pair for pair in LONLAT_COLUMNS if set(pair) <= columns]
    geographic = crs.is_geographic
    if {"x", "y"} <= columns:
        if lonlat:
            logger.debug("%s: using x/y; ignoring %s/%s", path, *lonlat[0])
        return "x", "y"
    if lonlat:
        if not geographic:
            raise CRSError(
                f"the table has {lonlat[0][0]}/{lonlat[0][1]} columns but its CRS "
                f"{crs_label(crs)} is projected",
                path=path,
                fix='give the longitude/latitude CRS (e.g. crs = "EPSG:4326"), or name '
                "projected coordinate columns x and y",
            )
        return lonlat[0]
    accepted = "x and y" + (" (or lon and lat)" if geographic else "")
    raise InputError(
        f"the table has no coordinate columns {accepted}; its columns are "
        f"{', '.join(map(str, frame.columns))}",
        path=path,
        where=header_place(frame.attrs),
        fix=f"name the coordinate columns {accepted}",
    )


def table_points(
    frame: pd.DataFrame,
    *,
    crs: Any,
    target_crs: Any,
    path: str | os.PathLike[str],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Coordinates of every row of a table, transformed to ``target_crs``.

    Parameters
    ----------
    frame
        A table from :func:`read_table` (index ``line``).
    crs
        The CRS of the table's coordinates (see :func:`table_crs`).
    target_crs
        The CRS to return coordinates in (the analysis CRS).
    path
        The file the table came from, for messages.

    Returns
    -------
    x, y
        float64 arrays, one value per row of ``frame``, in ``target_crs``.

    Raises
    ------
    InputError
        When coordinate columns are missing, or rows have missing or
        non-numeric coordinates (the message lists their lines), or a point
        cannot be transformed.
    CRSError
        When the coordinates do not fit the CRS: projected values with a
        geographic CRS, degrees with a projected CRS, or ``lon``/``lat``
        columns with a projected CRS.

    Notes
    -----
    ``x``/``y`` are used when present, in any CRS. For a geographic CRS
    ``lon``/``lat`` or ``longitude``/``latitude`` are accepted too.
    """
    file = Path(path)
    source = as_crs(crs)
    target = as_crs(target_crs)
    x_col, y_col = _coordinate_columns(frame, source, file)
    values: dict[str, npt.NDArray[np.float64]] = {}
    for column in (x_col, y_col):
        numbers = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(numbers)
        if bad.any():
            lines = list(frame.index[bad])
            examples = ", ".join(repr(v) for v in frame[column][bad].head(3).tolist())
            raise InputError(
                f"{int(bad.sum())} row(s) have a missing or non-numeric {column} (e.g. {examples})"
                + decimal_comma_hint(frame[column][bad]),
                path=file,
                where=rows_text(frame.attrs, lines),
                fix=f"give every row a number in {column} (decimal point, no units)",
            )
        values[column] = numbers
    x, y = values[x_col], values[y_col]
    bounds = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
    problem = crs_plausibility_problem(source, bounds)
    if (
        problem
        and crs_plausibility_problem(source, (bounds[1], bounds[0], bounds[3], bounds[2])) is None
    ):
        raise CRSError(
            f"the {x_col} and {y_col} columns look swapped: {x_col} spans {bounds[0]:g} to "
            f"{bounds[2]:g} and {y_col} {bounds[1]:g} to {bounds[3]:g}, which fit "
            f"{source.name} only the other way round",
            path=file,
            where=f"{header_place(frame.attrs)} (header: {x_col}, {y_col})",
            fix=f"swap the names of the {x_col} and {y_col} columns in the header ({x_col} is "
            f"the {'longitude' if source.is_geographic else 'easting'})",
        )
    if problem:
        raise CRSError(
            problem,
            path=file,
            fix='set the table\'s true CRS with crs = "EPSG:...." in its survey entry',
        )
    if source.equals(target, ignore_axis_order=True):
        return x.copy(), y.copy()
    to_target = transformer(source, target, path=file, what="table")
    tx, ty = to_target.transform(x, y, errcheck=False)
    tx = np.asarray(tx, dtype=np.float64)
    ty = np.asarray(ty, dtype=np.float64)
    failed = ~(np.isfinite(tx) & np.isfinite(ty))
    if failed.any():
        raise InputError(
            f"{int(failed.sum())} point(s) cannot be transformed from {crs_label(source)} "
            f"to {crs_label(target)}",
            path=file,
            where=rows_text(frame.attrs, list(frame.index[failed])),
            fix="check those coordinates and the table's CRS",
        )
    return tx, ty


def read_point_table(
    path: str | os.PathLike[str],
    *,
    target_crs: Any,
    crs: Any = None,
    layer: str | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    kind: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a point table as a GeoDataFrame in ``target_crs``.

    Parameters
    ----------
    path
        A CSV, Excel or GeoPackage table.
    target_crs
        The CRS of the returned geometry (the analysis CRS).
    crs
        The CRS of the table's coordinates (required for CSV and workbooks).
    layer, sheet, encoding, kind
        As for :func:`read_table`.

    Returns
    -------
    geopandas.GeoDataFrame
        Every column of the file (coordinates as given), plus point
        geometry in ``target_crs``; index ``line``; ``attrs`` as
        :func:`read_table` sets them.

    Raises
    ------
    InputNotFoundError, InputError, CRSError
        As :func:`read_table`, :func:`table_crs` and :func:`table_points`.
    """
    import geopandas as gpd

    frame = read_table(path, layer=layer, sheet=sheet, encoding=encoding, kind=kind)
    source = table_crs(path, crs=crs, layer=layer)
    x, y = table_points(frame, crs=source, target_crs=target_crs, path=path)
    target = as_crs(target_crs)
    points = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(x, y), crs=target)
    points.attrs.update(frame.attrs)
    return points
