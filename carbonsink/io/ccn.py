"""Coastal Carbon Network (CCN) soil cores as a carbonsink soil table.

The CCN Data Library (Smithsonian, github.com/Smithsonian/CCN-Data-Library)
publishes each study as CSV files: ``<study>_depthseries.csv`` (one row per
sampled interval: ``core_id``, ``depth_min``, ``depth_max`` in cm,
``dry_bulk_density`` in g cm⁻³, ``fraction_carbon``,
``fraction_organic_matter``), ``<study>_cores.csv`` (one row per core:
``core_id``, ``latitude``, ``longitude`` in WGS 84, the date) and optionally
``<study>_methods.csv``. :func:`read_ccn_cores` renames and rescales these to
the soil table of docs/design.md §3. This module knows the format, not the
science: stocks are computed by :mod:`carbonsink.soil.core_stocks`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from carbonsink.errors import ConfigError, InputError, InputNotFoundError
from carbonsink.io.tables import read_table

__all__ = ["CCN_CRS", "read_ccn_cores"]

logger = logging.getLogger(__name__)

#: CCN coordinates are WGS 84 longitude/latitude.
CCN_CRS: Final = "EPSG:4326"
_DEPTHSERIES_SUFFIX: Final = "_depthseries.csv"
_CORES_SUFFIX: Final = "_cores.csv"
_METHODS_SUFFIX: Final = "_methods.csv"
_DEPTHSERIES_COLUMNS: Final = ("core_id", "dry_bulk_density")
#: Depth columns: the sampled interval, or the interval a non-contiguous sample
#: stands for (the CCN ``representative_depth_*`` variant).
_DEPTH_COLUMNS: Final = {
    "measured": ("depth_min", "depth_max"),
    "representative": ("representative_depth_min", "representative_depth_max"),
}
_CARBON_COLUMNS: Final = ("fraction_carbon", "fraction_organic_matter")
_CORES_COLUMNS: Final = ("core_id", "latitude", "longitude")
#: CCN ``fraction_carbon_method`` values (lower-case) -> carbonsink ``method``.
_CARBON_METHODS: Final = {
    "ea": "CHN",
    "elemental analyzer": "CHN",
    "elemental analysis": "CHN",
    "chn": "CHN",
    "dumas": "dumas",
    "walkley-black": "walkley-black",
    "wet oxidation": "dichromate",
}


def _files(source: Path) -> tuple[Path, Path, Path | None]:
    """The depthseries, cores and (optional) methods files of a study."""
    if source.is_dir():
        found = sorted(source.glob(f"*{_DEPTHSERIES_SUFFIX}"))
        if not found:
            raise InputNotFoundError(
                f"no *{_DEPTHSERIES_SUFFIX} file in the folder",
                path=source,
                fix="give the folder of one CCN study (it holds <study>_depthseries.csv "
                "and <study>_cores.csv)",
            )
        if len(found) > 1:
            raise InputError(
                f"the folder holds {len(found)} depthseries files "
                f"({', '.join(f.name for f in found)})",
                path=source,
                fix="pass the path of the one *_depthseries.csv to read",
            )
        depthseries = found[0]
    else:
        if not source.is_file():
            raise InputNotFoundError(
                "the CCN depthseries file or folder does not exist",
                path=source,
                fix="check the path",
            )
        if not source.name.endswith(_DEPTHSERIES_SUFFIX):
            raise InputError(
                f"expected a CCN *{_DEPTHSERIES_SUFFIX} file, got {source.name!r}",
                path=source,
                fix="pass <study>_depthseries.csv or the study's folder",
            )
        depthseries = source
    study = depthseries.name[: -len(_DEPTHSERIES_SUFFIX)]
    cores = depthseries.with_name(study + _CORES_SUFFIX)
    if not cores.is_file():
        candidates = sorted(depthseries.parent.glob(f"*{_CORES_SUFFIX}"))
        if len(candidates) != 1:
            raise InputNotFoundError(
                f"the cores file {cores.name!r} with the coordinates is missing",
                path=cores,
                fix="download <study>_cores.csv of the study next to its depthseries file",
            )
        cores = candidates[0]
    methods = depthseries.with_name(study + _METHODS_SUFFIX)
    return depthseries, cores, methods if methods.is_file() else None


def _require(frame: pd.DataFrame, columns: tuple[str, ...], path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"column(s) {', '.join(repr(c) for c in missing)} missing (columns found: "
            f"{', '.join(map(str, frame.columns))})",
            path=path,
            where="line 1",
            fix="use the CCN Data Library file as published (derivative/ folder)",
        )


def _numbers(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    raw = frame[column]
    text = raw.astype("string").str.strip()
    bad = values.isna() & raw.notna() & (text != "") & (text.str.upper() != "NA")
    if bad.any():
        lines = ", ".join(str(i) for i in frame.index[bad.to_numpy()][:10])
        raise InputError(
            f"{column} is not a number ({', '.join(repr(v) for v in raw[bad].head(3))})",
            path=path,
            where=f"line(s) {lines}",
            fix=f"write {column} as a plain number (or NA when unknown)",
        )
    return values.astype("float64")


def _carbon_methods(methods: Path | None, depthseries: pd.DataFrame) -> pd.Series:
    """The carbonsink ``method`` of each row's ``fraction_carbon``, where the methods file says.

    A methods file describes the methods per ``study_id`` and ``method_id``
    (a download of several studies, each with its methods; a study with
    several, e.g. EA on some sites and a regression on LOI on others), and
    the depthseries rows name theirs; ids repeat between studies ("single
    set of methods"), so rows are matched on both. A row whose method the
    file does not name, names in words carbonsink does not know, or names
    twice with different methods, gets a blank method.
    """
    blank = pd.Series(pd.NA, index=depthseries.index, dtype="string")
    if methods is None:
        return blank
    table = read_table(methods, text_columns=("method_id", "study_id"))
    if "fraction_carbon_method" not in table.columns or table.empty:
        return blank
    named = table["fraction_carbon_method"].astype("string").str.strip().str.lower()
    mapped = named.map(lambda v: _CARBON_METHODS.get(v, pd.NA) if isinstance(v, str) else pd.NA)
    keys = [k for k in ("study_id", "method_id") if k in table.columns and k in depthseries.columns]
    if not keys:
        found = {v for v in mapped if isinstance(v, str)}
        return blank.fillna(found.pop()) if len(found) == 1 and mapped.notna().all() else blank

    def key_of(frame: pd.DataFrame) -> pd.Series:
        parts = [frame[k].astype("string").str.strip().fillna("") for k in keys]
        return parts[0] if len(parts) == 1 else parts[0] + "\x1f" + parts[1]

    # One method per (study, method id); an id the file gives several methods gets none.
    methods_of: dict[str, set[str | None]] = {}
    for key, method in zip(key_of(table), mapped, strict=True):
        methods_of.setdefault(key, set()).add(method if isinstance(method, str) else None)
    by_key = {k: next(iter(v)) for k, v in methods_of.items() if len(v) == 1 and None not in v}
    return key_of(depthseries).map(lambda v: by_key.get(v, pd.NA)).astype("string")


def read_ccn_cores(path: str | os.PathLike[str], *, depths: str = "measured") -> pd.DataFrame:
    """Read one CCN study's cores as a carbonsink soil table.

    Parameters
    ----------
    path
        The study's folder (holding one ``*_depthseries.csv`` and its
        ``*_cores.csv``) or the ``*_depthseries.csv`` file itself.
    depths
        ``"measured"``: the sampled intervals (``depth_min``/``depth_max``);
        ``"representative"``: the intervals the samples stand for
        (``representative_depth_min``/``max``, the CCN variant for
        non-contiguous sampling: a 2 cm slice at 8–10 cm standing for
        0–18 cm). A study that gives only the representative columns is read
        with them whatever this says; several samples standing for one
        interval are replicates (averaged by the stock computation).

    Returns
    -------
    pandas.DataFrame
        One row per depth interval, index ``line`` = line numbers in the
        depthseries file, columns ``core_id``, ``x`` (= longitude), ``y``
        (= latitude), ``depth_top_cm`` (= depth_min), ``depth_bottom_cm``
        (= depth_max, or the representative depths), ``bulk_density_g_cm3``
        (= dry_bulk_density),
        ``soc_pct`` (= fraction_carbon × 100), ``om_pct`` (= fraction_organic_matter
        × 100, only on rows without fraction_carbon), ``method`` (``"loi"`` on
        those rows; on carbon rows the study's method when its methods file
        names a known one, for the study or the row's ``method_id``, else
        blank), ``study_id``, ``site_id`` and ``date``
        when present. ``attrs["crs"]`` is ``"EPSG:4326"``; ``attrs["source"]``
        the depthseries file.

    Raises
    ------
    InputNotFoundError
        When the folder or a file is missing.
    InputError
        When a required column is missing, a value is not a number, a core id
        repeats in the cores file, or a core of the depthseries has no
        coordinates.

    Notes
    -----
    Values are copied, not checked: missing bulk densities stay blank and are
    reported by the soil stage, which names the core and line. CCN
    ``fraction_carbon`` may be total carbon when carbonates were not removed
    (see the methods file's ``carbonates_removed``); it is used as organic
    carbon, as the CCN does for marsh soils.
    """
    if depths not in _DEPTH_COLUMNS:
        raise ConfigError(
            f"unknown depths {depths!r}",
            fix=f"use one of {', '.join(_DEPTH_COLUMNS)}",
        )
    depthseries_path, cores_path, methods_path = _files(Path(path))
    ids = ("core_id", "site_id", "study_id", "method_id")
    depthseries = read_table(depthseries_path, text_columns=ids)
    cores = read_table(cores_path, text_columns=ids)
    depth_columns = _DEPTH_COLUMNS[depths]
    if not set(_DEPTH_COLUMNS["measured"]) & set(depthseries.columns):
        depth_columns = _DEPTH_COLUMNS["representative"]
    _require(depthseries, _DEPTHSERIES_COLUMNS + depth_columns, depthseries_path)
    top = _numbers(depthseries, depth_columns[0], depthseries_path)
    bottom = _numbers(depthseries, depth_columns[1], depthseries_path)
    if depth_columns != _DEPTH_COLUMNS["measured"] and "depth_min" in depthseries.columns:
        # Contiguous samples may leave the representative columns blank: their own depths.
        top = top.fillna(_numbers(depthseries, "depth_min", depthseries_path))
        bottom = bottom.fillna(_numbers(depthseries, "depth_max", depthseries_path))
    _require(cores, _CORES_COLUMNS, cores_path)
    if not any(c in depthseries.columns for c in _CARBON_COLUMNS):
        raise InputError(
            "neither fraction_carbon nor fraction_organic_matter is present",
            path=depthseries_path,
            where="line 1",
            fix="this study has no carbon data; choose a study that reports fraction_carbon "
            "or fraction_organic_matter",
        )

    core_ids = cores["core_id"].astype("string").str.strip()
    repeated = core_ids[core_ids.duplicated(keep=False)]
    if len(repeated):
        raise InputError(
            f"core_id(s) {', '.join(sorted(set(repeated.dropna())))} appear more than once",
            path=cores_path,
            where=f"lines {', '.join(map(str, repeated.index[:10]))}",
            fix="each core needs one row in the cores file",
        )
    lon = _numbers(cores, "longitude", cores_path)
    lat = _numbers(cores, "latitude", cores_path)
    lon_by_core = dict(zip(core_ids, lon, strict=True))
    lat_by_core = dict(zip(core_ids, lat, strict=True))

    series_ids = depthseries["core_id"].astype("string").str.strip()
    unknown = sorted(set(series_ids.dropna()) - set(lon_by_core))
    no_coords = sorted(
        c
        for c in set(series_ids.dropna()) & set(lon_by_core)
        if not (np.isfinite(lon_by_core[c]) and np.isfinite(lat_by_core[c]))
    )
    if unknown or no_coords:
        what = []
        if unknown:
            what.append(f"not in {cores_path.name}: {', '.join(unknown[:10])}")
        if no_coords:
            what.append(f"without latitude/longitude: {', '.join(no_coords[:10])}")
        raise InputError(
            f"core(s) of the depthseries have no coordinates ({'; '.join(what)})",
            path=depthseries_path,
            fix=f"complete {cores_path.name}, or drop those cores",
        )

    carbon = (
        _numbers(depthseries, "fraction_carbon", depthseries_path)
        if "fraction_carbon" in depthseries.columns
        else pd.Series(np.nan, index=depthseries.index)
    )
    organic_matter = (
        _numbers(depthseries, "fraction_organic_matter", depthseries_path)
        if "fraction_organic_matter" in depthseries.columns
        else pd.Series(np.nan, index=depthseries.index)
    )
    has_carbon = carbon.notna()
    method = _carbon_methods(methods_path, depthseries).where(has_carbon, pd.NA)
    method[~has_carbon & organic_matter.notna()] = "loi"

    table = pd.DataFrame(
        {
            "core_id": series_ids,
            "x": series_ids.map(lon_by_core).astype("float64"),
            "y": series_ids.map(lat_by_core).astype("float64"),
            "depth_top_cm": top,
            "depth_bottom_cm": bottom,
            "bulk_density_g_cm3": _numbers(depthseries, "dry_bulk_density", depthseries_path),
            "soc_pct": carbon * 100.0,
            "om_pct": organic_matter.where(~has_carbon) * 100.0,
            "method": method,
        },
        index=depthseries.index.copy(),
    )
    for column in ("study_id", "site_id"):
        if column in depthseries.columns:
            table[column] = depthseries[column].astype("string")
    if {"year", "month", "day"} <= set(cores.columns):
        dates = pd.to_datetime(
            cores[["year", "month", "day"]].apply(pd.to_numeric, errors="coerce"),
            errors="coerce",
        ).dt.strftime("%Y-%m-%d")
        table["date"] = series_ids.map(dict(zip(core_ids, dates, strict=True))).astype("string")
    table.attrs["crs"] = CCN_CRS
    table.attrs["source"] = str(depthseries_path)
    logger.debug(
        "%s: %d intervals of %d cores", depthseries_path, len(table), table["core_id"].nunique()
    )
    return table
