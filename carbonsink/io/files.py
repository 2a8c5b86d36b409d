"""Checks shared by the readers and writers: the input file exists, which format a
table is in, which layer of a vector file to read, and whether a name can become part
of a file name."""

from __future__ import annotations

import codecs
import os
import re
import unicodedata
from pathlib import Path
from typing import Literal

from carbonsink.errors import InputError, InputNotFoundError

#: A GDAL virtual path into an archive: ``/vsizip/{/data/x.zip}/inner/b.jp2``.
_VIRTUAL = re.compile(r"^/vsi(?:zip|tar)/\{(?P<archive>[^}]+)\}/(?P<member>.+)$")

__all__ = [
    "CSV_SUFFIXES",
    "FILE_NAME_RULE",
    "WORKBOOK_SUFFIXES",
    "checked_encoding",
    "checked_sheet",
    "choose_layer",
    "existing_file",
    "file_name_problem",
    "file_name_slug",
    "list_layers",
    "table_format",
    "table_options_problem",
]

#: File name endings of tables read as CSV text.
CSV_SUFFIXES = frozenset({".csv", ".txt"})
#: File name endings of tables read as Excel workbooks (Office Open XML).
WORKBOOK_SUFFIXES = frozenset({".xlsx"})
#: Spreadsheet formats that are not read, and what they are (for the message).
UNREAD_SPREADSHEETS = {
    ".xls": "an Excel 97–2003 workbook (.xls)",
    ".xlsm": "a macro-enabled Excel workbook (.xlsm)",
    ".xlsb": "a binary Excel workbook (.xlsb)",
    ".ods": "an OpenDocument spreadsheet (.ods)",
    ".et": "a WPS spreadsheet (.et)",
    ".numbers": "an Apple Numbers spreadsheet (.numbers)",
}
#: How a table is read: CSV text, an Excel workbook, or a vector file through GDAL/OGR.
TableFormat = Literal["csv", "workbook", "vector"]

_SAFE_NAME = re.compile(r"[^\W_][\w.-]*")
_UNSAFE_RUN = re.compile(r"[^\w.-]+")
#: What a name that becomes part of a file name may hold (epochs, models, class slugs).
FILE_NAME_RULE = (
    "letters (of any script), digits, '.', '_' and '-', starting with a letter or digit"
)


def file_name_problem(value: str) -> str | None:
    """Why ``value`` cannot be part of a file name, or ``None`` when it can.

    A name that becomes part of an output file name (an epoch called
    ``2025``, a class called ``reed``) must stay inside its folder on every
    system: no path separators, no ``..``, no spaces, nothing that starts
    with a dot (:data:`FILE_NAME_RULE`).
    """
    if _SAFE_NAME.fullmatch(value) and ".." not in value:
        return None
    return f"{value!r} cannot be part of a file name: use {FILE_NAME_RULE}"


def file_name_slug(name: str) -> str:
    """The part of a file or layer name that stands for ``name`` (a class name, say).

    ``name`` itself when it can be part of a file name; else its NFKC form
    with every run of other characters (spaces, ``/``, ``\\``, punctuation)
    turned into ``_`` and ``._-`` stripped from both ends: ``"芦苇 reed"`` →
    ``"芦苇_reed"``, ``"Carex/sedge"`` → ``"Carex_sedge"``. Empty when ``name``
    has no letter or digit (the caller refuses it).
    """
    if file_name_problem(name) is None:
        return name
    slug = _UNSAFE_RUN.sub("_", unicodedata.normalize("NFKC", name)).strip("._-")
    while ".." in slug:
        slug = slug.replace("..", ".")
    return slug if file_name_problem(slug) is None else ""


def existing_file(path: str | os.PathLike[str], *, what: str = "input file") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if it names an existing file.

    Parameters
    ----------
    path
        The file to check.
    what
        How to name the file in the error message (``"raster"``, ``"point cloud"``).

    Raises
    ------
    InputNotFoundError
        When nothing exists at ``path``.
    InputError
        When ``path`` is a folder or another non-file.

    Notes
    -----
    A GDAL path into an archive, ``/vsizip/{archive}/member`` or
    ``/vsitar/{archive}/member`` (:mod:`carbonsink.io.products`), exists when
    the archive lists the member.
    """
    file = Path(path)
    virtual = _VIRTUAL.match(str(path))
    if virtual is not None:
        from carbonsink.io.products import archive_members

        archive = Path(virtual["archive"])
        members = (
            {m.removeprefix("./") for m in archive_members(archive)} if archive.is_file() else set()
        )
        if virtual["member"].removeprefix("./") not in members:
            raise InputNotFoundError(
                f"the {what} {virtual['member']!r} is not in the archive",
                path=archive,
                fix="download the product again (the archive may be incomplete)",
            )
        return file
    if not file.exists():
        raise InputNotFoundError(
            f"the {what} does not exist",
            path=file,
            fix="check the path (relative paths resolve against the survey file's folder)",
        )
    if not file.is_file():
        raise InputError(
            f"the {what} is not a file",
            path=file,
            fix="give the path of a file, not of a folder",
        )
    return file


def table_format(path: str | os.PathLike[str]) -> TableFormat:
    """How the table at ``path`` is read, from its name's ending.

    ``.csv``/``.txt`` are CSV text, ``.xlsx`` an Excel workbook; anything else
    goes to GDAL/OGR (GeoPackage, ...).

    Raises
    ------
    InputError
        For a spreadsheet format that is not read (``.xls``, ``.xlsm``,
        ``.xlsb``, ``.ods``, ``.et``, ``.numbers``): the fix says to save it
        as ``.xlsx`` or CSV.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in WORKBOOK_SUFFIXES:
        return "workbook"
    if suffix in UNREAD_SPREADSHEETS:
        raise InputError(
            f"the table is {UNREAD_SPREADSHEETS[suffix]}, which carbonsink does not read",
            path=file,
            fix="open it in Excel, WPS or LibreOffice and save it as an Excel workbook "
            "(.xlsx) or as CSV UTF-8, then name that file in the survey",
        )
    return "vector"


def checked_sheet(value: object) -> object:
    """A table entry's ``sheet`` as given: a name, or a number from 1 (``None``: the first).

    Raises
    ------
    ValueError
        For anything else (``0``, ``1.5``, ``""``), saying what to give.
    """
    named = isinstance(value, str) and bool(value.strip())
    numbered = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    if value is None or named or numbered:
        return value
    raise ValueError(
        "give the sheet's name (text), or its number counting from 1 (the first sheet)"
    )


def checked_encoding(value: str | None) -> str | None:
    """A table entry's ``encoding`` when Python knows the codec (``"gbk"``, ``"gb18030"``).

    Raises
    ------
    ValueError
        For an unknown codec, naming it and what to give.
    """
    if value is None:
        return None
    try:
        codecs.lookup(value)
    except LookupError as exc:
        raise ValueError(
            f"unknown text encoding {value!r}: give a Python codec name such as "
            '"gbk" or "gb18030" (Chinese Windows files), or leave encoding out for UTF-8'
        ) from exc
    return value


def table_options_problem(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    sheet: object = None,
    encoding: str | None = None,
) -> str | None:
    """Why a table entry's reading options do not fit its file's format, or ``None``.

    ``sheet`` is for ``.xlsx`` workbooks, ``encoding`` for CSV files, and a
    workbook has no ``layer`` (judged by the name's ending; the file is not opened).
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if sheet is not None and suffix not in WORKBOOK_SUFFIXES:
        return f"sheet applies to Excel workbooks (.xlsx), not to {file.name}: remove sheet"
    if encoding is not None and suffix not in CSV_SUFFIXES:
        return f"encoding applies to CSV files (.csv, .txt), not to {file.name}: remove encoding"
    if layer is not None and suffix in WORKBOOK_SUFFIXES:
        return (
            f"{file.name} is a workbook, which has sheets, not layers: write sheet = {layer!r} "
            "instead of layer"
        )
    return None


def list_layers(file: Path) -> list[str]:
    """Names of the layers of an OGR vector file (GeoPackage, GeoJSON, ...)."""
    import pyogrio

    try:
        return [str(name) for name in pyogrio.list_layers(file)[:, 0]]
    except Exception as exc:  # pyogrio raises DataSourceError and GDAL errors
        raise InputError(
            f"the file cannot be read as vector data ({exc})",
            path=file,
            fix="give a GeoPackage (.gpkg), GeoJSON or shapefile (or a UTF-8 CSV for tables)",
        ) from exc


def choose_layer(file: Path, layer: str | None) -> str:
    """The layer to read: ``layer`` if the file has it, else the only layer.

    Raises
    ------
    InputError
        When ``layer`` does not exist, or the file has several layers and
        none is named.
    """
    layers = list_layers(file)
    if layer is not None:
        if layer not in layers:
            raise InputError(
                f"the file has no layer {layer!r} (its layers: {', '.join(layers)})",
                path=file,
                fix="name one of the layers listed",
            )
        return layer
    if not layers:
        raise InputError("the file holds no layer", path=file, fix="export the file again")
    if len(layers) > 1:
        raise InputError(
            f"the file holds {len(layers)} layers ({', '.join(layers)}) and none was chosen",
            path=file,
            fix='name the layer to use (layer = "..." in the survey entry; on the command '
            "line, the file's layer option)",
        )
    return layers[0]
