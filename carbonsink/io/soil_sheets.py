"""Soil sheets as labs deliver them: replicate rows, rows and cores that cannot be used.

:func:`usable_layers` takes a soil table (docs/design.md §3) as read and returns
the layers the stock computation can use, with the record of what it did —
always merging the rows of one interval (replicate or split samples), and, as
the survey's ``[soil]`` options choose, leaving out rows with no depth or no
carbon value and cores whose intervals overlap or have no usable row left
(``incomplete_cores = "exclude"``), and marking the blank bulk densities the
soil stage will estimate (``bulk_density_gaps = "pedotransfer"``, the model in
:mod:`carbonsink.soil.layer_gaps`). The preflight and the soil stage both call
it, so ``validate`` checks the table the run will use. This module knows the
shape of the sheet, not the science.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from carbonsink.errors import ConfigError, InputError
from carbonsink.i18n import N_
from carbonsink.schemas import rows_text

__all__ = [
    "BULK_DENSITY_GAPS",
    "INCOMPLETE_CORES",
    "MIN_ERROR_LAYERS",
    "SoilSheet",
    "merge_replicates",
    "numeric_column",
    "om_fraction",
    "usable_layers",
]

FloatArray = npt.NDArray[np.float64]
#: ``bulk_density_gaps`` choices.
BULK_DENSITY_GAPS: Final = ("error", "pedotransfer")
#: ``incomplete_cores`` choices.
INCOMPLETE_CORES: Final = ("error", "exclude")
#: Estimating bulk densities needs at least this many layers with bulk density and
#: organic matter, to measure the prediction error on.
MIN_ERROR_LAYERS: Final = 10

#: Value columns averaged over replicates, and the columns of their standard errors.
_SE_OF: Final = {
    "soc_pct": "soc_se_pct",
    "om_pct": "om_se_pct",
    "om_g_kg": "om_se_g_kg",
    "bulk_density_g_cm3": "bulk_density_se_g_cm3",
    "coarse_frac": "coarse_frac_se",
}
_CARBON_COLUMNS: Final = ("soc_pct", "om_pct", "om_g_kg")


@dataclass(frozen=True)
class SoilSheet:
    """A soil table after :func:`usable_layers`, with the record of every change.

    Attributes
    ----------
    layers
        The usable layers (index: the file's lines; a merged interval keeps
        the first line of its rows).
    replicates
        First line → every line averaged into it.
    to_fill
        Lines whose blank bulk density is to be estimated (``"pedotransfer"``).
    dropped
        Rows left out: ``core_id``, ``line``, ``reason``.
    excluded
        Cores left out: ``core_id``, ``lines`` (their place, e.g. ``"lines
        4, 5"`` or ``"sheet '土壤', rows 4, 5"``), ``reason``.
    """

    layers: pd.DataFrame
    replicates: dict[int, tuple[int, ...]] = field(default_factory=dict)
    to_fill: tuple[int, ...] = ()
    dropped: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["core_id", "line", "reason"])
    )
    excluded: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["core_id", "lines", "reason"])
    )


def _blank(frame: pd.DataFrame, column: str) -> npt.NDArray[np.bool_]:
    if column not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    raw = frame[column]
    text = raw.astype("string").str.strip()
    return (raw.isna() | (text == "") | (text.str.upper() == "NA")).to_numpy(dtype=bool)


def numeric_column(frame: pd.DataFrame, column: str) -> FloatArray:
    """A column as float64, NaN where blank, not a number or absent (the checks name those)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _cores(frame: pd.DataFrame) -> npt.NDArray[np.object_]:
    return frame["core_id"].astype("string").str.strip().fillna("").to_numpy(dtype=object)


def merge_replicates(layers: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, tuple[int, ...]]]:
    """Average the rows of one core that share both depths (replicate or split samples).

    Parameters
    ----------
    layers
        A soil table, index = line numbers.

    Returns
    -------
    tuple
        The table with one row per interval (the first line's row, its values
        replaced by the replicates' means) and first line → lines merged.

    Notes
    -----
    Per value column (``soc_pct``, ``om_pct``, ``om_g_kg``,
    ``bulk_density_g_cm3``, ``coarse_frac``) the mean x̄ of the n rows that
    give a value, and its standard error
    SE(x̄) = max(s/√n, √(Σ SEᵢ²)/n) with s the replicates' SD (n ≥ 2) and SEᵢ
    the rows' own standard errors (blank = 0): the spread of the replicates
    is their measurement error, unless the lab's stated errors are larger.
    Rows with a value that is not a number are left as they are (the table
    check names them), as are groups whose rows give different lab methods.
    """
    if not {"core_id", "depth_top_cm", "depth_bottom_cm"} <= set(layers.columns) or layers.empty:
        return layers, {}
    top = numeric_column(layers, "depth_top_cm")
    bottom = numeric_column(layers, "depth_bottom_cm")
    key = pd.DataFrame({"core": _cores(layers), "top": top, "bottom": bottom}, index=layers.index)
    key = key[np.isfinite(top) & np.isfinite(bottom)]
    repeated = key[key.duplicated(["core", "top", "bottom"], keep=False)]
    if repeated.empty:
        return layers, {}
    values = [c for c in _SE_OF if c in layers.columns]
    numbers = {c: numeric_column(layers, c) for c in values}
    unparsed = np.zeros(len(layers), dtype=bool)
    for column in values:
        unparsed |= ~_blank(layers, column) & ~np.isfinite(numbers[column])
    position = {line: i for i, line in enumerate(layers.index)}
    out = layers.copy()
    merged: dict[int, tuple[int, ...]] = {}
    drop: list[int] = []
    for _, group in repeated.groupby(["core", "top", "bottom"], sort=False):
        rows = np.array([position[line] for line in group.index])
        if unparsed[rows].any():
            continue
        if "method" in layers.columns:
            methods = {
                str(m).strip()
                for m, blank in zip(
                    layers["method"].iloc[rows], _blank(layers.iloc[rows], "method"), strict=True
                )
                if not blank
            }
            if len(methods) > 1:
                continue
        first = group.index[0]
        for column in values:
            found = numbers[column][rows]
            have = np.isfinite(found)
            if not have.any():
                continue
            n = int(have.sum())
            own_se = np.nan_to_num(numeric_column(layers.iloc[rows[have]], _SE_OF[column]), nan=0.0)
            spread = float(np.std(found[have], ddof=1) / math.sqrt(n)) if n >= 2 else 0.0
            se = max(spread, float(np.sqrt(np.sum(own_se**2))) / n)
            if not pd.api.types.is_float_dtype(out[column]):
                out[column] = out[column].astype("object")
            out.loc[first, column] = float(found[have].mean())
            se_column = _SE_OF[column]
            if se_column not in out.columns:
                out[se_column] = np.nan
            out.loc[first, se_column] = se
        for column in layers.columns:
            if column in values or column in _SE_OF.values():
                continue
            blank = _blank(layers.iloc[rows], column)
            if blank[0] and not blank.all():
                out.loc[first, column] = layers[column].iloc[rows[np.argmin(blank)]]
        merged[int(first)] = tuple(int(v) for v in group.index)
        drop.extend(group.index[1:])
    return out.drop(index=drop), merged


def _overlapping_cores(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Core → the places of each pair of layers that overlap (depths parsed, top < bottom)."""
    top = numeric_column(frame, "depth_top_cm")
    bottom = numeric_column(frame, "depth_bottom_cm")
    table = pd.DataFrame({"core": _cores(frame), "top": top, "bottom": bottom}, index=frame.index)
    table = table[np.isfinite(top) & np.isfinite(bottom) & (top < bottom)]
    found: dict[str, list[str]] = {}
    for core, group in table.groupby("core", sort=True):
        ordered = group.sort_values(["top", "bottom"])
        reach = np.maximum.accumulate(ordered["bottom"].to_numpy())
        overlap = ordered["top"].to_numpy()[1:] < reach[:-1]
        if overlap.any():
            pairs = zip(ordered.index[:-1][overlap], ordered.index[1:][overlap], strict=True)
            found[str(core)] = [rows_text(frame.attrs, [a, b]) for a, b in pairs]
    return found


def om_fraction(frame: pd.DataFrame) -> FloatArray:
    """Organic-matter fraction (0–1) from ``om_pct`` or ``om_g_kg``; NaN without either."""
    om_pct = numeric_column(frame, "om_pct")
    om_g_kg = numeric_column(frame, "om_g_kg")
    return np.where(np.isfinite(om_pct), om_pct / 100.0, om_g_kg / 1_000.0)


def usable_layers(
    layers: pd.DataFrame,
    *,
    bulk_density_gaps: str = "error",
    incomplete_cores: str = "error",
    path: str | None = None,
) -> SoilSheet:
    """Merge replicates; as chosen, leave out unusable rows and cores, mark bulk-density gaps.

    Parameters
    ----------
    layers
        A soil table (docs/design.md §3), index = line numbers.
    bulk_density_gaps
        ``"error"`` (a blank bulk density stays a problem of the table) or
        ``"pedotransfer"`` (the blank bulk densities of layers that report
        organic matter are marked ``to_fill``).
    incomplete_cores
        ``"error"`` or ``"exclude"``: rows with no depth or no carbon value
        are dropped (and, with ``"pedotransfer"``, rows whose blank bulk
        density has no organic matter to estimate it from); cores whose
        intervals overlap without being replicates, or with no row left, are
        excluded.
    path
        The file, for messages.

    Returns
    -------
    SoilSheet
        The usable layers and the record of each change.

    Raises
    ------
    ConfigError
        An unknown choice.
    InputError
        With ``"pedotransfer"``: fewer than :data:`MIN_ERROR_LAYERS` complete
        layers, or (without ``"exclude"``) a blank bulk density on a layer
        that reports no organic matter; with ``"exclude"``: no core is left.
    """
    if bulk_density_gaps not in BULK_DENSITY_GAPS:
        raise ConfigError(
            f"unknown bulk_density_gaps {bulk_density_gaps!r}",
            where="[soil].bulk_density_gaps",
            fix=f"use one of {', '.join(BULK_DENSITY_GAPS)}",
        )
    if incomplete_cores not in INCOMPLETE_CORES:
        raise ConfigError(
            f"unknown incomplete_cores {incomplete_cores!r}",
            where="[soil].incomplete_cores",
            fix=f"use one of {', '.join(INCOMPLETE_CORES)}",
        )
    frame, replicates = merge_replicates(layers)
    if "core_id" not in frame.columns:
        return SoilSheet(frame, replicates)
    exclude = incomplete_cores == "exclude"
    fill = bulk_density_gaps == "pedotransfer"
    dropped: list[dict[str, object]] = []

    def drop(mask: npt.NDArray[np.bool_], reason: str) -> None:
        nonlocal frame
        for core, line in zip(_cores(frame)[mask], frame.index[mask], strict=True):
            dropped.append({"core_id": core, "line": int(line), "reason": reason})
        frame = frame[~mask]

    if exclude:
        drop(_blank(frame, "depth_top_cm") | _blank(frame, "depth_bottom_cm"), N_("no depth"))
        no_carbon = np.ones(len(frame), dtype=bool)
        for column in _CARBON_COLUMNS:
            no_carbon &= _blank(frame, column)
        drop(no_carbon, N_("no carbon value"))
    bd_blank = _blank(frame, "bulk_density_g_cm3")
    om = om_fraction(frame)
    if fill and bd_blank.any():
        unfillable = bd_blank & ~np.isfinite(om)
        if unfillable.any() and exclude:
            drop(unfillable, N_("no bulk density and no organic matter to estimate it from"))
            bd_blank, om = _blank(frame, "bulk_density_g_cm3"), om_fraction(frame)
        elif unfillable.any():
            lines = [int(v) for v in frame.index[unfillable]]
            raise InputError(
                "bulk density is blank and the layer reports no organic matter (om_pct or "
                f"om_g_kg) to estimate it from ({rows_text(frame.attrs, lines, most=8)})",
                path=path,
                fix="give those layers organic matter or bulk density, or set [soil] "
                'incomplete_cores = "exclude" to leave them out',
            )
    excluded: list[dict[str, object]] = []
    if exclude:
        for core, pairs in _overlapping_cores(frame).items():
            rows = _cores(frame) == core
            excluded.append(
                {
                    "core_id": core,
                    "lines": rows_text(frame.attrs, list(frame.index[rows]), most=8),
                    "reason": "intervals overlap and are not replicates "
                    f"({'; '.join(pairs[:8])}{'; ...' if len(pairs) > 8 else ''})",
                }
            )
            frame = frame[~rows]
        bd_blank, om = _blank(frame, "bulk_density_g_cm3"), om_fraction(frame)
        gone = {str(d["core_id"]) for d in dropped} - set(_cores(frame))
        for core in sorted(gone - {str(e["core_id"]) for e in excluded}):
            its = [d["line"] for d in dropped if d["core_id"] == core]
            place = rows_text(frame.attrs, its, most=8)
            excluded.append({"core_id": core, "lines": place, "reason": N_("no usable layer")})
        if frame.empty:
            raise InputError(
                f"no core is left after leaving out the unusable ones ({len(excluded)} cores)",
                path=path,
                fix="check the table: every core lacks depths or carbon values, or overlaps",
            )
    to_fill: tuple[int, ...] = ()
    if fill and bd_blank.any():
        bd = numeric_column(frame, "bulk_density_g_cm3")
        complete = int((np.isfinite(bd) & np.isfinite(om) & ~bd_blank).sum())
        if complete < MIN_ERROR_LAYERS:
            raise InputError(
                f"only {complete} layer(s) have both bulk density and organic matter; "
                f"estimating the {int(bd_blank.sum())} missing bulk densities needs at least "
                f"{MIN_ERROR_LAYERS} to measure the prediction error on",
                path=path,
                fix="measure bulk density on more layers, or set [soil] bulk_density_gaps = "
                '"error" and fill the gaps yourself',
            )
        to_fill = tuple(int(v) for v in frame.index[bd_blank])
    return SoilSheet(
        layers=frame,
        replicates=replicates,
        to_fill=to_fill,
        dropped=pd.DataFrame(dropped, columns=["core_id", "line", "reason"]),
        excluded=pd.DataFrame(excluded, columns=["core_id", "lines", "reason"]),
    )
