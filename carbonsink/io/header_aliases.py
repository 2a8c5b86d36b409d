"""Chinese column headers read as carbonsink's column names (docs/design.md §3).

A field team's table often names its columns as the lab report does —
``样点编号``, ``经度``, ``容重(g/cm³)``, ``有机质(g/kg)``. :func:`apply_header_aliases`
renames such columns to the schema's names (``core_id``, ``lon``,
``bulk_density_g_cm3``, ``om_g_kg``) when the header says unambiguously what
the column holds, in which unit:

* Headers are compared after Unicode NFKC normalisation (full-width letters,
  digits, ``％`` and ``（）`` become their half-width forms), with ``【】[]``
  read as brackets and every space removed: ``有机质 （g/kg）`` is
  ``有机质(g/kg)``. Units are compared in lower case without ``·``, ``.``,
  ``*``, ``^``: ``g·kg⁻¹``, ``g kg-1`` and ``g/kg`` are one unit.
* Where a quantity is reported in more than one unit (organic matter in g/kg
  or %), the header must say which: ``有机质`` alone is refused, ``有机质(%)``
  becomes ``om_pct`` and ``有机质(g/kg)`` ``om_g_kg``. A unit carbonsink does not
  read (``有机质(mg/kg)``) is refused, never scaled by guess. The only
  conversion is organic carbon in g/kg, divided by 10 into ``soc_pct``.
* ``土层(cm)`` = ``"0-10"`` splits into ``depth_top_cm`` and ``depth_bottom_cm``.
* A file that has an alias and the column it stands for (``有机碳(%)`` and
  ``soc_pct``), or two aliases of one column, is refused naming both.

This module knows names and units, not value ranges: those are checked on the
renamed table by :func:`carbonsink.schemas.check_table`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from carbonsink.errors import InputError
from carbonsink.schemas import COLUMN_SOURCES_ATTR, header_place, rows_text

__all__ = ["ALIASES", "Alias", "Target", "apply_header_aliases", "canonical_name"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """What a header alias with a given unit becomes.

    Attributes
    ----------
    column
        The schema column (for a depth range, the top of the two).
    divisor
        Values in the file ÷ ``divisor`` = values in the column's unit (g/kg ÷ 10 = %).
    bottom
        For a depth range (``"0-10"``): the column of its bottom depth.
    unit_in_values
        For a depth range whose header gives no unit: every value must end in ``cm``.
    """

    column: str
    divisor: float = 1.0
    bottom: str | None = None
    unit_in_values: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,) if self.bottom is None else (self.column, self.bottom)


@dataclass(frozen=True)
class Alias:
    """Chinese names of one quantity, the units they may carry and the table kinds they serve.

    ``units`` maps a unit (``""``: the header gives none) to its :class:`Target`;
    a unit missing from it is refused. ``kinds`` ``None``: every table.
    """

    names: tuple[str, ...]
    quantity: str
    units: Mapping[str, Target]
    kinds: frozenset[str] | None = None


_SOIL = frozenset({"soil"})
_PLOTS = frozenset({"plots"})
_CHECKPOINTS = frozenset({"checkpoints"})
#: The carbon and method columns serve the soil table and its samples measured by both methods.
_SOIL_CARBON = frozenset({"soil", "method_pairs"})
_DEPTHS = Target("depth_top_cm", bottom="depth_bottom_cm")
_BULK_DENSITY = Target("bulk_density_g_cm3")

#: The header aliases (documented in docs/design.md §3; a test keeps the two in step).
ALIASES: tuple[Alias, ...] = (
    Alias(
        ("经度", "东经"), "longitude", {"": Target("lon"), "°": Target("lon"), "°E": Target("lon")}
    ),
    Alias(
        ("纬度", "北纬"), "latitude", {"": Target("lat"), "°": Target("lat"), "°N": Target("lat")}
    ),
    Alias(
        ("样方编号", "样方号", "样地编号", "样地号", "样点编号", "样点号"),
        "plot identifier",
        {"": Target("plot_id")},
        _PLOTS,
    ),
    Alias(("植被类型",), "vegetation class", {"": Target("veg_class")}, _PLOTS),
    Alias(
        ("地上生物量", "地上生物量干重", "地上干生物量"),
        "dry above-ground biomass",
        {"g/m2": Target("agb_g_m2")},
        _PLOTS,
    ),
    Alias(("样方面积",), "plot area", {"m2": Target("size_m2")}, _PLOTS),
    Alias(
        ("日期", "采样日期", "调查日期"),
        "date",
        {"": Target("date")},
        frozenset({"plots", "soil"}),
    ),
    Alias(
        ("样点编号", "样点号", "采样点编号", "土芯编号", "柱芯编号", "剖面编号", "钻孔编号"),
        "core identifier",
        {"": Target("core_id")},
        _SOIL,
    ),
    Alias(
        ("深度上限", "上限深度", "起始深度", "顶部深度"),
        "top depth of the layer",
        {"cm": Target("depth_top_cm")},
        _SOIL,
    ),
    Alias(
        ("深度下限", "下限深度", "终止深度", "底部深度"),
        "bottom depth of the layer",
        {"cm": Target("depth_bottom_cm")},
        _SOIL,
    ),
    Alias(
        ("土层", "土层深度", "采样深度", "取样深度", "深度"),
        "depth range of the layer",
        {"cm": _DEPTHS, "": Target(_DEPTHS.column, bottom=_DEPTHS.bottom, unit_in_values=True)},
        _SOIL,
    ),
    Alias(
        ("容重", "土壤容重"),
        "bulk density",
        {"": _BULK_DENSITY, "g/cm3": _BULK_DENSITY, "t/m3": _BULK_DENSITY},
        _SOIL,
    ),
    Alias(
        ("有机质", "土壤有机质", "有机质含量"),
        "organic matter",
        {"g/kg": Target("om_g_kg"), "%": Target("om_pct")},
        _SOIL_CARBON,
    ),
    Alias(
        ("有机碳", "土壤有机碳", "有机碳含量", "总有机碳"),
        "organic carbon",
        {"%": Target("soc_pct"), "g/kg": Target("soc_pct", divisor=10.0)},
        _SOIL_CARBON,
    ),
    Alias(("测定方法", "分析方法", "测试方法"), "lab method", {"": Target("method")}, _SOIL_CARBON),
    Alias(
        ("样品编号", "样品号"),
        "sample identifier",
        {"": Target("sample_id")},
        frozenset({"method_pairs"}),
    ),
    Alias(
        ("类别", "地类", "植被类型", "土地覆盖类型"),
        "class",
        {"": Target("class")},
        frozenset({"landcover_samples", "checkpoints"}),
    ),
    Alias(
        ("点号", "点名", "检查点编号"),
        "checkpoint identifier",
        {"": Target("checkpoint_id")},
        _CHECKPOINTS,
    ),
    Alias(("高程",), "surveyed ground elevation", {"m": Target("z")}, _CHECKPOINTS),
)

#: Spellings of each unit after :func:`_compact_unit` → the unit's key in :attr:`Alias.units`.
_UNIT_SPELLINGS: dict[str, str] = {
    "%": "%",
    "g/kg": "g/kg",
    "gkg-1": "g/kg",
    "g/cm3": "g/cm3",
    "gcm-3": "g/cm3",
    "t/m3": "t/m3",
    "tm-3": "t/m3",
    "g/m2": "g/m2",
    "gm-2": "g/m2",
    "m2": "m2",
    "平方米": "m2",
    "cm": "cm",
    "厘米": "cm",
    "m": "m",
    "米": "m",
    "°": "°",
    "度": "°",
    "deg": "°",
    "°e": "°E",
    "e": "°E",
    "°n": "°N",
    "n": "°N",
    "mg/kg": "mg/kg",
    "mgkg-1": "mg/kg",
    "kg/m3": "kg/m3",
    "kgm-3": "kg/m3",
    "kg/m2": "kg/m2",
    "kgm-2": "kg/m2",
    "mm": "mm",
}
_BRACKETS = str.maketrans({"【": "(", "】": ")", "[": "(", "]": ")", "〔": "(", "〕": ")"})
_UNIT_NOISE = re.compile(r"[\s·•∙⋅*^.]")
_SEPARATORS = "/,_:;-"
_RANGE = re.compile(
    r"(?P<top>\d+(?:\.\d+)?)\s*(?:cm)?\s*(?:-|~|–|—|―|至|到)\s*(?P<bottom>\d+(?:\.\d+)?)\s*(?P<unit>cm)?",
    re.IGNORECASE,
)


#: A date as the readers give a spreadsheet's date cell (ISO text), or as a datetime.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?")


def _normal(header: str) -> str:
    """A header as compared: NFKC, ``【】[]`` as ``()``, no spaces."""
    text = unicodedata.normalize("NFKC", header).translate(_BRACKETS)
    return "".join(text.split())


def _compact_unit(text: str) -> str:
    return _UNIT_NOISE.sub("", text.replace("−", "-")).lower()


@dataclass(frozen=True)
class _Match:
    """A header read as an alias: its alias and name, and the unit as written."""

    header: str
    alias: Alias
    name: str
    unit_text: str
    unit: str | None  # the unit's key; None when carbonsink does not know it

    @property
    def target(self) -> Target | None:
        return None if self.unit is None else self.alias.units.get(self.unit)


def _aliases(kind: str | None) -> list[tuple[str, Alias]]:
    """(normalised name, alias) of the aliases serving ``kind``, longest name first."""
    pairs = [
        (_normal(name), alias)
        for alias in ALIASES
        if alias.kinds is None or (kind is not None and kind in alias.kinds)
        for name in alias.names
    ]
    return sorted(pairs, key=lambda pair: -len(pair[0]))


def _match(header: str, kind: str | None) -> _Match | None:
    """The alias a header stands for, or ``None`` (not an alias: the column is kept as named)."""
    text = _normal(header)
    for name, alias in _aliases(kind):
        if text == name:
            return _Match(header, alias, name, "", "")
        if not text.startswith(name):
            continue
        rest = text[len(name) :]
        if rest.startswith("(") and rest.endswith(")") and rest.count("(") == 1:
            unit_text = rest[1:-1]
            unit = _UNIT_SPELLINGS.get(_compact_unit(unit_text)) if unit_text else ""
            return _Match(header, alias, name, unit_text, unit)
        # A unit written without brackets (有机质g/kg, 有机质/%): only a unit carbonsink
        # knows, so that 经度误差 or 深度上限 are not read as 经度 or 深度 with a unit.
        unit_text = rest.lstrip(_SEPARATORS)
        unit = _UNIT_SPELLINGS.get(_compact_unit(unit_text))
        if unit is not None:
            return _Match(header, alias, name, unit_text, unit)
    return None


def canonical_name(header: str, kind: str | None) -> str:
    """The column a header becomes (``"样点编号"`` → ``"core_id"`` in a soil table); the
    header itself when it is no alias, or an alias with a unit that is refused."""
    found = _match(header, kind)
    target = None if found is None else found.target
    return header if target is None else target.column


def _units_text(alias: Alias) -> str:
    """``"g/kg (→ om_g_kg) or % (→ om_pct)"``; units of one column together."""
    by_column: dict[str, list[str]] = {}
    for unit, target in alias.units.items():
        if unit:
            by_column.setdefault(target.column, []).append(unit)
    return " or ".join(f"{' or '.join(units)} (→ {c})" for c, units in by_column.items())


def _unit_problem(found: _Match) -> str | None:
    """Why a header's unit is refused, or ``None`` when it is read."""
    if found.target is not None:
        return None
    alias = found.alias
    examples = " or ".join(f"{found.name}({u})" for u in alias.units if u)
    if not found.unit_text:
        return (
            f"column {found.header!r} does not say in which unit it gives the {alias.quantity}: "
            f"name it {examples}"
        )
    return (
        f"column {found.header!r} gives the {alias.quantity} in {found.unit_text!r}; carbonsink "
        f"reads it in {_units_text(alias)}: convert the values and name the column {examples}"
    )


def apply_header_aliases(frame: pd.DataFrame, *, kind: str | None, path: Path) -> pd.DataFrame:
    """Rename (and where the header's unit says so, convert) Chinese-named columns.

    Parameters
    ----------
    frame
        A table as read, its columns named as in the file; ``attrs`` say where
        its header and rows are (:func:`carbonsink.schemas.rows_text`).
    kind
        ``"plots"``, ``"soil"``, ``"landcover_samples"``, ``"checkpoints"``, or
        ``None`` for a table of no known kind (only the coordinates'
        aliases ``经度``/``纬度`` apply then).
    path
        The file, for messages and the log.

    Returns
    -------
    pandas.DataFrame
        ``frame`` itself when no header is an alias; else a copy with those
        columns renamed (in place of the original column), organic carbon in
        g/kg divided by 10, a ``"0-10"`` depth range split into
        ``depth_top_cm``/``depth_bottom_cm``, and
        ``attrs[COLUMN_SOURCES_ATTR]`` naming the original header of each.
        The renames are logged at INFO.

    Raises
    ------
    InputError
        A header that is an alias without its unit, or with a unit carbonsink
        does not read; two columns that become one (an alias and the column
        it stands for); a depth range that is not ``top-bottom``.
    """
    matches = {str(c): _match(str(c), kind) for c in frame.columns}
    refused = [p for m in matches.values() if m is not None and (p := _unit_problem(m))]
    if refused:
        raise InputError(
            "; ".join(refused),
            path=path,
            where=header_place(frame.attrs),
            fix="rename the column as shown (see the header aliases in docs/design.md §3), or "
            "use carbonsink's own column name with the values in its unit",
        )
    givers: dict[str, list[str]] = {}
    for header, found in matches.items():
        target = None if found is None else found.target
        for column in (header,) if target is None else target.columns:
            givers.setdefault(column, []).append(header)
    clashes = {column: headers for column, headers in givers.items() if len(headers) > 1}
    if clashes:
        column, headers = next(iter(clashes.items()))
        raise InputError(
            f"columns {' and '.join(repr(h) for h in headers)} both give {column}",
            path=path,
            where=header_place(frame.attrs),
            fix=f"keep one of them (delete or rename the other, e.g. {headers[-1]!r} → "
            f"'{headers[-1]}_other')",
        )
    renamed = {h: m for h, m in matches.items() if m is not None and m.target is not None}
    if not renamed:
        return frame
    columns: dict[str, pd.Series] = {}
    sources: dict[str, str] = dict(frame.attrs.get(COLUMN_SOURCES_ATTR) or {})
    for header in map(str, frame.columns):
        found = renamed.get(header)
        if found is None or found.target is None:
            columns[header] = frame[header]
            continue
        target = found.target
        if target.bottom is not None:
            top, bottom = _split_depths(frame, header, target, path)
            columns[target.column], columns[target.bottom] = top, bottom
            sources[target.column] = sources[target.bottom] = f"{header!r} split"
        elif target.divisor != 1.0:
            columns[target.column] = _divided(frame[header], target.divisor)
            sources[target.column] = f"{header!r} ÷ {target.divisor:g}"
        else:
            columns[target.column] = frame[header]
            sources[target.column] = repr(header)
    out = pd.DataFrame(columns, index=frame.index)
    out.attrs.update(frame.attrs)
    out.attrs[COLUMN_SOURCES_ATTR] = sources
    logger.info(
        "%s: read the columns %s",
        path.name,
        ", ".join(
            f"{sources[m.target.column]} as {' and '.join(m.target.columns)}"
            for m in renamed.values()
            if m.target is not None
        ),
    )
    return out


def _divided(values: pd.Series, divisor: float) -> pd.Series:
    """Numbers ÷ ``divisor``; what is not a number stays as written (the schema names it)."""
    numbers = pd.to_numeric(values, errors="coerce")
    if int(numbers.notna().sum()) == int(values.notna().sum()):
        return numbers / divisor
    return values.astype(object).where(numbers.isna(), numbers / divisor)


def _split_depths(
    frame: pd.DataFrame, header: str, target: Target, path: Path
) -> tuple[pd.Series, pd.Series]:
    """``"0-10"`` (or ``0～10cm``, ``0至10``) → top and bottom depths in cm; blank → blank."""
    tops: list[str | None] = []
    bottoms: list[str | None] = []
    bad: list[object] = []
    dates: list[object] = []
    for row, value in frame[header].items():
        if (
            value is None
            or (isinstance(value, float) and np.isnan(value))
            or not str(value).strip()
        ):
            tops.append(None)
            bottoms.append(None)
            continue
        text = unicodedata.normalize("NFKC", str(value)).strip()
        if isinstance(value, dt.date) or _ISO_DATE.fullmatch(text):
            dates.append(row)
        found = _RANGE.fullmatch(text)
        if found is None or (target.unit_in_values and not found["unit"]):
            bad.append(row)
            tops.append(None)
            bottoms.append(None)
            continue
        tops.append(found["top"])
        bottoms.append(found["bottom"])
    if bad:
        examples = ", ".join(repr(frame.at[row, header]) for row in bad[:3])
        unit = " in cm (each value ending in cm, as the header gives no unit)"
        raise InputError(
            f"column {header!r} holds values that are not depth ranges such as 0-10"
            f"{unit if target.unit_in_values else ''} (e.g. {examples})"
            + (
                "; the spreadsheet turned some ranges into dates — format the column as Text "
                "and type them again"
                if dates
                else ""
            ),
            path=path,
            where=rows_text(frame.attrs, bad),
            fix=f"write each layer as top-bottom in cm (e.g. 0-10), name the column "
            f"{header.split('(')[0]}(cm), or give depth_top_cm and depth_bottom_cm columns",
        )
    top = pd.to_numeric(pd.Series(tops, index=frame.index, dtype=object))
    bottom = pd.to_numeric(pd.Series(bottoms, index=frame.index, dtype=object))
    return top, bottom
