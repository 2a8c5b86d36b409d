"""Schemas of the input tables (docs/design.md §3) and the checks that enforce them.

Each table kind — ``plots``, ``soil``, ``landcover_samples``, ``checkpoints`` — declares its
columns with units and valid ranges (docs/methodology.md §1.4) in :data:`TABLE_SCHEMAS`.
:func:`check_table` returns *every* problem of a table at once, each naming
the file, the lines and the fix; the preflight and the stages share it.

A table read by :func:`carbonsink.io.tables.read_table` has an index of
record numbers and says in ``DataFrame.attrs`` what they count: lines of a
CSV file (``"line 12"``), features of a GeoPackage layer (``"feature 12"``)
or rows of a workbook sheet as Excel numbers them (``"sheet '土壤', row 12"``).
Every message that points into a table formats its place with
:func:`rows_text` and :func:`header_place`, so the readers, the schemas and
the preflight say the same thing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from carbonsink.errors import Problem

__all__ = [
    "COLUMN_SOURCES_ATTR",
    "HEADER_ATTR",
    "MIN_METHOD_PAIRS",
    "ROW_WORD_ATTR",
    "SHEET_ATTR",
    "TABLE_SCHEMAS",
    "Column",
    "TableSchema",
    "check_table",
    "column_label",
    "header_place",
    "method_names",
    "rows_text",
    "sheet_prefix",
]

TableKind = Literal["plots", "soil", "landcover_samples", "checkpoints", "method_pairs"]

_MAX_LINES_SHOWN = 8

#: ``attrs`` key: what the index counts, ``"line"`` (CSV), ``"feature"`` (GeoPackage)
#: or ``"row"`` (a workbook sheet).
ROW_WORD_ATTR = "carbonsink_row_word"
#: ``attrs`` key: the name of the workbook sheet the table was read from.
SHEET_ATTR = "carbonsink_sheet"
#: ``attrs`` key: the line (CSV) or row (sheet) number of the header.
HEADER_ATTR = "carbonsink_header"
#: ``attrs`` key: ``{column: how it was read}`` for the columns a header alias renamed,
#: e.g. ``{"soc_pct": "'有机碳(g/kg)' ÷ 10"}``.
COLUMN_SOURCES_ATTR = "carbonsink_column_sources"


def sheet_prefix(attrs: Mapping[Any, Any]) -> str:
    """``"sheet '土壤', "`` for a table read from a workbook, else ``""``."""
    sheet = attrs.get(SHEET_ATTR)
    return "" if sheet is None else f"sheet {sheet!r}, "


def rows_text(attrs: Mapping[Any, Any], rows: Sequence[Any], *, most: int = 10) -> str:
    """The place of some records: ``"line 12"``, ``"lines 3, 7"``, ``"sheet 'X', rows 3, 7"``.

    Parameters
    ----------
    attrs
        The table's ``DataFrame.attrs`` (what its index counts, its sheet).
    rows
        Index values of the records.
    most
        At most this many are listed; the rest are counted (``"and 5 more"``).

    Returns
    -------
    str
        The place, e.g. ``"sheet '土壤', row 12"`` or ``"lines 1, ..., 10 and 5 more"``.
    """
    items = list(rows)
    word = str(attrs.get(ROW_WORD_ATTR, "line"))
    shown = ", ".join(str(v) for v in items[:most])
    more = f" and {len(items) - most} more" if len(items) > most else ""
    plural = word if len(items) == 1 else f"{word}s"
    return f"{sheet_prefix(attrs)}{plural} {shown}{more}"


def header_place(attrs: Mapping[Any, Any]) -> str:
    """Where the table's column names are: ``"line 1"``, ``"sheet 'X', row 3"`` or
    ``"the layer's field names"``."""
    word = str(attrs.get(ROW_WORD_ATTR, "line"))
    if word == "feature":
        return "the layer's field names"
    return f"{sheet_prefix(attrs)}{word} {attrs.get(HEADER_ATTR, 1)}"


def column_label(attrs: Mapping[Any, Any], name: str) -> str:
    """A column's name for messages: ``"soc_pct"``, or ``"soc_pct (column '有机碳(g/kg)' ÷ 10)"``
    when a header alias gave it."""
    source = dict(attrs.get(COLUMN_SOURCES_ATTR) or {}).get(name)
    return name if source is None else f"{name} (column {source})"


@dataclass(frozen=True)
class Column:
    """One column of an input table.

    ``low``/``high`` bound numeric values (inclusive unless ``low_open``);
    ``units`` is shown in messages.
    """

    name: str
    kind: Literal["number", "text"] = "number"
    units: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    description: str = ""

    def range_text(self) -> str:
        unit = f" {self.units}" if self.units else ""
        if self.low is not None and self.high is not None:
            return f"{self.low:g}–{self.high:g}{unit}"
        if self.low is not None:
            return f"{'>' if self.low_open else '≥'} {self.low:g}{unit}"
        if self.high is not None:
            return f"≤ {self.high:g}{unit}"
        return "any value"


@dataclass(frozen=True)
class TableSchema:
    """Columns of a table kind: required, alternatives (one of a group), optional."""

    kind: TableKind
    required: tuple[Column, ...]
    #: Groups of which at least one column must be present (e.g. soil carbon).
    one_of: tuple[tuple[Column, ...], ...] = ()
    optional: tuple[Column, ...] = ()
    #: Column whose values must be unique (``None``: no id column).
    unique: str | None = None
    extra_checks: tuple[Callable[[pd.DataFrame, str], list[Problem]], ...] = field(default=())
    #: Whether rows are points (``x``/``y`` or ``lon``/``lat`` required).
    located: bool = True

    def columns(self) -> tuple[Column, ...]:
        grouped = tuple(c for group in self.one_of for c in group)
        return self.required + grouped + self.optional

    def text_columns(self) -> tuple[str, ...]:
        """Names of the text columns (read as text so ``001`` stays ``001``)."""
        return tuple(c.name for c in self.columns() if c.kind == "text")


def _soil_layer_checks(frame: pd.DataFrame, path: str) -> list[Problem]:
    """Soil-specific checks: depth order, overlapping or repeated layers per core."""
    problems: list[Problem] = []
    if not {"core_id", "depth_top_cm", "depth_bottom_cm"} <= set(frame.columns):
        return problems
    top = pd.to_numeric(frame["depth_top_cm"], errors="coerce")
    bottom = pd.to_numeric(frame["depth_bottom_cm"], errors="coerce")
    inverted = frame.index[(top >= bottom).to_numpy()]
    if len(inverted):
        problems.append(
            Problem(
                f"depth_top_cm is not above depth_bottom_cm ({_values(frame, inverted)})",
                path=path,
                where=_lines(frame, inverted),
                fix="each layer needs depth_top_cm < depth_bottom_cm (depths in cm below "
                "the surface, top first)",
            )
        )
    ok = (top < bottom).to_numpy()
    layers = pd.DataFrame({"core": frame["core_id"].astype(str), "top": top, "bottom": bottom})[ok]
    for core, group in layers.groupby("core", sort=True):
        ordered = group.sort_values(["top", "bottom"])
        overlap = ordered["top"].to_numpy()[1:] < ordered["bottom"].to_numpy()[:-1]
        if overlap.any():
            lines = [
                f"{a}/{b}"
                for a, b in zip(
                    ordered.index[:-1][overlap], ordered.index[1:][overlap], strict=True
                )
            ]
            problems.append(
                Problem(
                    f"core {core!r} has overlapping layers "
                    f"({frame.attrs.get(ROW_WORD_ATTR, 'line')}s {', '.join(lines)})",
                    path=path,
                    where=f"{sheet_prefix(frame.attrs)}core {core}",
                    fix="layers of one core must not overlap; fix the depths or split the "
                    "core into separate core_ids",
                )
            )
    if {"x", "y"} <= set(frame.columns) or {"lon", "lat"} <= set(frame.columns):
        xcol, ycol = ("x", "y") if "x" in frame.columns else ("lon", "lat")
        coords = frame[["core_id", xcol, ycol]].astype({"core_id": str})
        spread = coords.groupby("core_id")[[xcol, ycol]].nunique()
        moving = spread.index[(spread > 1).any(axis=1)]
        for core in moving:
            problems.append(
                Problem(
                    f"core {core!r} has different coordinates on different lines",
                    path=path,
                    where=_lines(frame, frame.index[coords["core_id"] == core]),
                    fix="give every layer of a core the same coordinates, or use different "
                    "core_ids for different locations",
                )
            )
    return problems


def method_names(values: pd.Series) -> pd.Series:
    """Lab method names as compared: without case or surrounding spaces ("CHN" = "chn ")."""
    return values.astype("string").str.strip().str.lower()


def _soil_method_check(frame: pd.DataFrame, path: str) -> list[Problem]:
    if "method" not in frame.columns:
        return []
    known = {"chn", "dichromate", "walkley-black", "loi", "dumas"}
    methods = method_names(frame["method"])
    bad = frame.index[methods.notna().to_numpy() & ~methods.isin(known).to_numpy()]
    if not len(bad):
        return []
    return [
        Problem(
            f"unknown method {_values(frame, bad, 'method')}",
            path=path,
            where=_lines(frame, bad),
            fix="use one of CHN, Dumas (combustion OC), dichromate/Walkley-Black (有机质), "
            "LOI (loss on ignition)",
        )
    ]


def _pairs_check(frame: pd.DataFrame, path: str) -> list[Problem]:
    """Samples by both methods: two methods in the table, each sample once by each."""
    if not {"sample_id", "method"} <= set(frame.columns):
        return []
    ids = frame["sample_id"].astype("string").str.strip()
    methods = method_names(frame["method"])
    known = ids.notna() & methods.notna()
    problems: list[Problem] = []
    distinct = sorted(methods[known].unique())
    if len(distinct) != 2:
        problems.append(
            Problem(
                f"the table names {len(distinct)} method(s) ({', '.join(distinct) or 'none'}); "
                "samples by both methods compare exactly two",
                path=path,
                where=f"column method ({header_place(frame.attrs)})",
                fix="give each sample one row measured by the first epoch's method and one by "
                "the later epochs' method",
            )
        )
    rows = pd.DataFrame({"id": ids, "method": methods})[known.to_numpy()]
    repeated = rows.index[rows.duplicated(keep=False).to_numpy()]
    if len(repeated):
        problems.append(
            Problem(
                "a sample is measured twice by the same method "
                f"({_values(frame, repeated, 'sample_id')})",
                path=path,
                where=_lines(frame, repeated),
                fix="average the replicates into one row per sample and method",
            )
        )
    counts = rows.groupby("id")["method"].nunique()
    single = rows.index[rows["id"].isin(counts.index[counts < 2]).to_numpy()]
    if len(distinct) == 2 and len(single):
        problems.append(
            Problem(
                f"a sample has no row by the other method ({_values(frame, single, 'sample_id')})",
                path=path,
                where=_lines(frame, single),
                fix="remove the sample or add its measurement by the other method",
            )
        )
    return problems


#: Fewest samples by both OC methods (``[soil] method_pairs``): the t-variance factor
#: (N − 1)/(N − 3) of a mean whose SD is estimated is then at most 1.29 (eq. 3.3b).
MIN_METHOD_PAIRS: Final = 10
#: A soil sample's organic carbon: measured OC, or organic matter (LOI %, 有机质 g/kg).
_SOIL_CARBON: Final = (
    (
        Column("soc_pct", units="%", low=0.0, high=60.0),
        Column("om_pct", units="%", low=0.0, high=100.0),
        Column("om_g_kg", units="g/kg", low=0.0, high=1_000.0),
    ),
)
_X = Column("x", units="CRS units", description="x coordinate (or lon for geographic CRSs)")
_Y = Column("y", units="CRS units", description="y coordinate (or lat for geographic CRSs)")

#: The input table schemas of docs/design.md §3 with docs/methodology.md value ranges.
TABLE_SCHEMAS: dict[str, TableSchema] = {
    "plots": TableSchema(
        kind="plots",
        required=(
            Column("plot_id", kind="text", description="unique plot identifier"),
            _X,
            _Y,
            Column(
                "agb_g_m2",
                units="g/m²",
                low=0.0,
                high=50_000.0,
                description="dry above-ground biomass",
            ),
            Column(
                "size_m2",
                units="m²",
                low=0.0,
                low_open=True,
                high=10_000.0,
                description="plot area",
            ),
        ),
        optional=(
            Column("veg_class", kind="text"),
            Column("date", kind="text"),
            Column("agb_dead_g_m2", units="g/m²", low=0.0, high=50_000.0),
        ),
        unique="plot_id",
    ),
    "soil": TableSchema(
        kind="soil",
        required=(
            Column("core_id", kind="text"),
            _X,
            _Y,
            Column("depth_top_cm", units="cm", low=0.0, high=1_000.0),
            Column("depth_bottom_cm", units="cm", low=0.0, low_open=True, high=1_000.0),
            Column("bulk_density_g_cm3", units="g/cm³", low=0.01, high=2.65),
        ),
        one_of=_SOIL_CARBON,
        optional=(
            Column("coarse_frac", units="volume fraction", low=0.0, high=1.0),
            Column("method", kind="text"),
            Column("date", kind="text"),
            Column(
                "accretion_cm",
                units="cm",
                low=0.0,
                high=200.0,
                description="sediment above a marker horizon laid at the first survey",
            ),
            Column(
                "accretion_cm_yr",
                units="cm/yr",
                low=0.0,
                high=20.0,
                description="accretion rate of a dated core (Cs-137, Pb-210)",
            ),
        ),
        extra_checks=(_soil_layer_checks, _soil_method_check),
    ),
    "checkpoints": TableSchema(
        kind="checkpoints",
        required=(
            _X,
            _Y,
            Column(
                "z",
                units="m",
                low=-500.0,
                high=9_000.0,
                description="surveyed ground elevation (the point clouds' vertical datum)",
            ),
        ),
        optional=(
            Column("checkpoint_id", kind="text"),
            Column("class", kind="text", description="vegetation class at the point"),
        ),
        unique="checkpoint_id",
    ),
    "method_pairs": TableSchema(
        kind="method_pairs",
        required=(
            Column("sample_id", kind="text", description="the sample measured by both methods"),
            Column("method", kind="text", description="the organic-carbon method of the row"),
        ),
        one_of=_SOIL_CARBON,
        extra_checks=(_soil_method_check, _pairs_check),
        located=False,
    ),
    "landcover_samples": TableSchema(
        kind="landcover_samples",
        required=(_X, _Y, Column("class", kind="text")),
        optional=(
            Column("weight", low=0.0, low_open=True),
            Column("source", kind="text"),
        ),
    ),
}


def _lines(frame: pd.DataFrame, index: Sequence[object] | pd.Index) -> str:
    return rows_text(frame.attrs, list(index), most=_MAX_LINES_SHOWN)


_DECIMAL_COMMA = re.compile(r"\s*[-+]?\d+,\d+\s*")


def decimal_comma_hint(values: pd.Series) -> str:
    """A hint when the non-numbers look like numbers with a decimal comma (``12,5``)."""
    text = values.astype("string").dropna()
    if len(text) and text.map(lambda v: bool(_DECIMAL_COMMA.fullmatch(v))).all():
        return (
            "; these look like numbers with a decimal comma — the file was probably saved "
            "with a European number format"
        )
    return ""


def _values(frame: pd.DataFrame, index: pd.Index, column: str | None = None) -> str:
    if column is None:
        pairs = frame.loc[index[:_MAX_LINES_SHOWN], ["depth_top_cm", "depth_bottom_cm"]]
        text = ", ".join(f"{a}–{b} cm" for a, b in pairs.itertuples(index=False))
    else:
        text = ", ".join(repr(v) for v in frame.loc[index[:_MAX_LINES_SHOWN], column])
    return text + (" ..." if len(index) > _MAX_LINES_SHOWN else "")


def _coordinate_columns(frame: pd.DataFrame) -> tuple[str, str] | None:
    if {"x", "y"} <= set(frame.columns):
        return "x", "y"
    if {"lon", "lat"} <= set(frame.columns):
        return "lon", "lat"
    return None


def _missing_column(
    name: str, present: Collection[str], schema: TableSchema, path: str, header: str
) -> Problem:
    known = {c.name for c in schema.columns()}
    candidates = [c for c in present if c not in known]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    fix = f"rename column {close[0]!r} to {name!r}" if close else f"add a column {name!r}"
    return Problem(
        f"required column {name!r} is missing (columns found: {', '.join(present) or 'none'})",
        path=path,
        where=header,
        fix=fix,
    )


def check_table(
    frame: pd.DataFrame,
    kind: str,
    *,
    path: str,
    known_classes: Collection[str] | None = None,
    may_be_blank: Collection[str] = (),
) -> list[Problem]:
    """Every schema and value problem of an input table.

    Parameters
    ----------
    frame
        The table as read by :func:`carbonsink.io.tables.read_table` (index =
        1-based line numbers in the file).
    kind
        ``"plots"``, ``"soil"``, ``"landcover_samples"`` or ``"checkpoints"``.
    path
        The file name to put in messages.
    known_classes
        Class names of the survey legend; class labels outside it are problems.
    may_be_blank
        Required columns whose blank cells are not problems (e.g. the bulk
        densities the soil stage estimates, ``[soil] bulk_density_gaps``).

    Returns
    -------
    list of Problem
        Empty when the table is valid.
    """
    schema = TABLE_SCHEMAS[kind]
    present = [str(c) for c in frame.columns]
    problems: list[Problem] = []
    if frame.empty:
        return [Problem("the table has no rows", path=path, fix="add the measurements")]

    coords = _coordinate_columns(frame)
    header = f"header ({header_place(frame.attrs)})"
    for column in schema.required:
        if column.name in ("x", "y"):
            continue
        if column.name not in frame.columns:
            problems.append(_missing_column(column.name, present, schema, path, header))
    if coords is None and schema.located:
        problems.append(
            Problem(
                "coordinate columns are missing: need x and y (or lon and lat for a "
                f"geographic CRS); columns found: {', '.join(present)}",
                path=path,
                where=header,
                fix="name the coordinate columns x, y (or lon, lat)",
            )
        )
    for group in schema.one_of:
        if not any(c.name in frame.columns for c in group):
            alternatives = " / ".join(c.name for c in group)
            matches = [difflib.get_close_matches(c.name, present, n=1, cutoff=0.6) for c in group]
            hint = next(
                (
                    f"rename {m[0]!r} to {c.name!r}"
                    for c, m in zip(group, matches, strict=True)
                    if m
                ),
                f"add one of the columns {alternatives}",
            )
            problems.append(
                Problem(
                    f"none of the columns {alternatives} is present",
                    path=path,
                    where=header,
                    fix=hint,
                )
            )

    for column in schema.required:
        if column.name in frame.columns and column.name not in ("x", "y"):
            blank_ok = column.name in may_be_blank
            problems.extend(_check_column(frame, column, path, allow_blank=blank_ok))
    if coords is not None:
        for name in coords:
            problems.extend(_check_column(frame, Column(name), path, allow_blank=False))
    for column in (*(c for g in schema.one_of for c in g), *schema.optional):
        if column.name in frame.columns:
            problems.extend(_check_column(frame, column, path, allow_blank=True))
    for group in schema.one_of:
        present_names = [c.name for c in group if c.name in frame.columns]
        if present_names:
            filled = frame[present_names].apply(pd.to_numeric, errors="coerce").notna().any(axis=1)
            if not filled.all():
                lines = frame.index[~filled.to_numpy()]
                problems.append(
                    Problem(
                        f"no value in any of {', '.join(present_names)}",
                        path=path,
                        where=_lines(frame, lines),
                        fix="give each row a value in one of these columns",
                    )
                )

    if schema.unique and schema.unique in frame.columns:
        ids = frame[schema.unique].astype("string")
        repeated = ids[ids.duplicated(keep=False) & ids.notna()]
        for value, lines in repeated.groupby(repeated, sort=True).groups.items():
            problems.append(
                Problem(
                    f"{schema.unique} {value!r} appears more than once",
                    path=path,
                    where=_lines(frame, lines),
                    fix=f"give every row its own {schema.unique}",
                )
            )

    class_column = {"plots": "veg_class", "landcover_samples": "class", "checkpoints": "class"}.get(
        kind
    )
    if known_classes is not None and class_column and class_column in frame.columns:
        labels = frame[class_column].astype("string").str.strip()
        unknown = labels.notna() & ~labels.isin(list(known_classes))
        for value, lines in labels[unknown].groupby(labels[unknown], sort=True).groups.items():
            similar = difflib.get_close_matches(str(value), list(known_classes), n=1, cutoff=0.6)
            fix = (
                f'did you mean "{similar[0]}"?'
                if similar
                else ("use one of the survey's classes or add it to [vegetation.classes]")
            )
            problems.append(
                Problem(
                    f"{class_column} {value!r} is not a class of the survey "
                    f"({', '.join(sorted(known_classes))})",
                    path=path,
                    where=_lines(frame, lines),
                    fix=fix,
                )
            )

    for extra in schema.extra_checks:
        problems.extend(extra(frame, path))
    return problems


def _check_column(
    frame: pd.DataFrame, column: Column, path: str, *, allow_blank: bool
) -> list[Problem]:
    raw = frame[column.name]
    blank = raw.isna() | (raw.astype("string").str.strip() == "")
    label = column_label(frame.attrs, column.name)
    problems: list[Problem] = []
    if blank.any() and not allow_blank:
        lines = frame.index[blank.to_numpy()]
        problems.append(
            Problem(
                f"{label} is empty",
                path=path,
                where=_lines(frame, lines),
                fix=f"fill in {column.name} on every row, or remove the rows",
            )
        )
    if column.kind != "number":
        return problems
    values = pd.to_numeric(raw, errors="coerce")
    not_numeric = values.isna() & ~blank
    if not_numeric.any():
        lines = frame.index[not_numeric.to_numpy()]
        problems.append(
            Problem(
                f"{label} is not a number ({_values(frame, lines, column.name)})"
                + decimal_comma_hint(raw[not_numeric]),
                path=path,
                where=_lines(frame, lines),
                fix=f"write {label} as a plain number"
                + (f" in {column.units}" if column.units and label == column.name else "")
                + " with a decimal point",
            )
        )
    arr = values.to_numpy(dtype=np.float64)
    finite = np.isfinite(arr)
    bad = ~finite & values.notna().to_numpy()
    if column.low is not None:
        below = arr <= column.low if column.low_open else arr < column.low
        bad |= finite & below
    if column.high is not None:
        bad |= finite & (arr > column.high)
    if bad.any():
        lines = frame.index[bad]
        problems.append(
            Problem(
                f"{label} is outside {column.range_text()} ({_values(frame, lines, column.name)})",
                path=path,
                where=_lines(frame, lines),
                fix=f"check the values and units of {column.name}"
                + (f" ({column.description})" if column.description else ""),
            )
        )
    return problems
