"""The LiDAR terrain model checked against surveyed ground points, and its per-class bias removed.

Dense marsh grass hides the ground: a fifth of the returns SMRF keeps as
ground can be vegetation, so the terrain model (DTM) sits above the true
ground by a bias that depends on the vegetation (+17 cm under the synthetic
survey's sedge, 0 on bare mud; 17–49 cm in drone surveys of real marshes,
7 cm RMSE after a class-based correction against RTK points — the LEAN
correction, Buffington et al. 2016). Surveyed points (RTK GNSS) measure it
(docs/methodology.md §8.8):

    e_i = DTM(x_i, y_i) − z_i                                       (8.8a)
    b̂_c = mean of e_i over the n_c points of class c,  SE_c = s_c / √n_c   (8.8b)
    RMSE_c = √(mean e_i²),  RMSE_c after = √(mean (e_i − b̂_c)²)       (8.8c)

with DTM bilinear between the DTM's cell centres (eq. 8.3). A class with
at least :data:`MIN_CLASS_POINTS` points is corrected: the cells its map puts
in class c take DTM − b̂_c and heights h + b̂_c (every height percentile and
the maximum and mean of a cell shift by exactly b̂_c; the cover fractions
are not recomputed, see §8.8).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from carbonsink.errors import InputTableError
from carbonsink.lidar.surfaces import PointSamples, Raster

__all__ = [
    "MIN_CLASS_POINTS",
    "DtmCheck",
    "check_dtm",
    "check_dtm_at",
    "correct_metrics",
    "height_metrics",
    "raster_of",
    "read_checkpoints",
]

#: Fewest checkpoints of a class for its bias to be estimated and removed.
MIN_CLASS_POINTS: Final = 5

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DtmCheck:
    """The DTM against an epoch's checkpoints.

    Attributes
    ----------
    points
        One row per checkpoint: ``checkpoint_id``, ``x``, ``y``, ``z``,
        ``class``, ``dtm_m`` (NaN where the DTM has no value) and ``error_m``
        (eq. 8.8a).
    classes
        One row per class with checkpoints on the DTM: ``n``, ``bias_m``,
        ``sd_m``, ``se_bias_m``, ``rmse_m``, ``corrected`` (n ≥
        :data:`MIN_CLASS_POINTS`) and ``rmse_after_m`` (eq. 8.8b–c; the
        RMSE itself where not corrected).
    vertical_datum
        The datum the survey states for the checkpoints' heights.
    correct
        Whether the survey asked for the correction.
    """

    points: pd.DataFrame
    classes: pd.DataFrame
    vertical_datum: str
    correct: bool

    def bias(self) -> dict[str, float]:
        """Class → b̂_c (m) of the classes the correction applies to (empty when not asked)."""
        if not self.correct:
            return {}
        used = self.classes[self.classes["corrected"].astype(bool)]
        return {str(c): float(b) for c, b in used["bias_m"].items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for the ledger and the report (m)."""
        on_dtm = int(np.isfinite(self.points["error_m"]).sum())
        return {
            "status": "checked",
            "vertical_datum": self.vertical_datum,
            "points": len(self.points),
            "points_on_dtm": on_dtm,
            "correction_asked": self.correct,
            "corrected": bool(self.bias()),
            "min_class_points": MIN_CLASS_POINTS,
            "classes": {
                str(name): {
                    "n": int(row["n"]),
                    "bias_m": _finite(row["bias_m"]),
                    "se_bias_m": _finite(row["se_bias_m"]),
                    "rmse_m": _finite(row["rmse_m"]),
                    "corrected": bool(row["corrected"]) and self.correct,
                    "rmse_after_m": _finite(row["rmse_after_m" if self.correct else "rmse_m"]),
                }
                for name, row in self.classes.iterrows()
            },
        }


def _finite(value: Any) -> float | None:
    """A float for JSON, ``None`` for NaN (one checkpoint has no SD)."""
    number = float(value)
    return number if np.isfinite(number) else None


def read_checkpoints(
    path: str | os.PathLike[str],
    *,
    target_crs: Any,
    crs: Any = None,
    layer: str | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    known_classes: Collection[str] | None = None,
) -> pd.DataFrame:
    """A checkpoint table checked against its schema, with ``x``/``y`` in ``target_crs``.

    Parameters
    ----------
    path
        CSV, Excel workbook or GeoPackage with ``x``, ``y`` (or ``lon``,
        ``lat``), ``z`` (m) and optionally ``class`` and ``checkpoint_id``
        (Chinese headers such as ``高程(m)`` are renamed:
        :mod:`carbonsink.io.header_aliases`).
    target_crs
        The CRS of the returned ``x``/``y`` (the DTM's).
    crs
        The table's CRS (required for CSV and workbooks).
    layer
        The layer of a multi-layer GeoPackage.
    sheet
        The sheet of a workbook (name, or number from 1; the first when ``None``).
    encoding
        The text encoding of a CSV file (UTF-8 when ``None``).
    known_classes
        The survey's class names; a ``class`` outside them is a problem.

    Returns
    -------
    pandas.DataFrame
        The file's columns with ``x``/``y`` replaced by ``target_crs``
        coordinates; index ``line`` (the file's line numbers, or a workbook's
        row numbers).

    Raises
    ------
    InputTableError
        Every schema problem, each naming the file and its lines.
    InputNotFoundError, InputError, CRSError
        As :func:`carbonsink.io.tables.read_table` and
        :func:`~carbonsink.io.tables.table_points`.
    """
    from pathlib import Path

    from carbonsink.io.tables import read_table, table_crs, table_points
    from carbonsink.schemas import TABLE_SCHEMAS, check_table

    file = Path(path)
    frame = read_table(
        file,
        layer=layer,
        sheet=sheet,
        encoding=encoding,
        text_columns=TABLE_SCHEMAS["checkpoints"].text_columns(),
        kind="checkpoints",
    )
    problems = [
        p
        for p in check_table(frame, "checkpoints", path=file.name, known_classes=known_classes)
        if p.severity == "error"
    ]
    if problems:
        raise InputTableError(problems, what="checkpoint table")
    source = table_crs(file, crs=crs, layer=layer)
    x, y = table_points(frame, crs=source, target_crs=target_crs, path=file)
    out = frame.drop(columns=["lon", "lat"], errors="ignore").copy()
    out["x"], out["y"] = x, y
    out["z"] = pd.to_numeric(out["z"])
    return out


def raster_of(surface: xr.DataArray) -> Raster:
    """A ``(y, x)`` DataArray of cell centres as a north-up :class:`Raster` (flipped if need be).

    Raises
    ------
    ValueError
        Fewer than 2 cells along an axis.
    """
    if surface.sizes["x"] < 2 or surface.sizes["y"] < 2:
        raise ValueError("a DTM of fewer than 2 × 2 cells has no cell size to read")
    if surface["y"].values[0] < surface["y"].values[-1]:
        surface = surface.isel(y=slice(None, None, -1))
    if surface["x"].values[0] > surface["x"].values[-1]:
        surface = surface.isel(x=slice(None, None, -1))
    x = surface["x"].to_numpy()
    y = surface["y"].to_numpy()
    cell = float(x[1] - x[0])
    values = np.asarray(surface.values)
    return Raster(
        # A float32 DTM is read as it is (bilinear_at computes in float64 either way): a
        # float64 copy of a regional survey's 1 m DTM would be 2.4 GB more.
        values=values if np.issubdtype(values.dtype, np.floating) else values.astype(np.float64),
        x0=float(x[0]) - cell / 2,
        y1=float(y[0]) + cell / 2,
        cell=cell,
    )


def check_dtm(
    dtm: Raster,
    points: pd.DataFrame,
    *,
    vertical_datum: str,
    correct: bool = True,
) -> DtmCheck:
    """The DTM's error at each checkpoint and per class (docs/methodology.md eq. 8.8a–c).

    Parameters
    ----------
    dtm
        The epoch's terrain model (m; NaN where it has no value).
    points
        ``x``, ``y`` (the DTM's CRS, m), ``z`` (m, the point clouds' datum)
        and optionally ``class`` (vegetation class at the point; without one
        a point counts in class ``all``) and ``checkpoint_id`` (else ``line
        <index>``, the index being the file's line numbers).
    vertical_datum
        The datum the survey states for ``z`` (recorded).
    correct
        Whether the per-class bias is to be removed (recorded; see
        :meth:`DtmCheck.bias`).

    Returns
    -------
    DtmCheck
        Points outside the DTM, or with a DTM gap among the four cells
        around them, keep NaN errors and count in no class.
    """
    x = points["x"].to_numpy(dtype=np.float64)
    y = points["y"].to_numpy(dtype=np.float64)
    samples = PointSamples(x, y, x0=dtm.x0, y1=dtm.y1, cell=dtm.cell, shape=dtm.shape)
    samples.take(dtm.values, row_off=0, col_off=0)
    return check_dtm_at(samples.values(), points, vertical_datum=vertical_datum, correct=correct)


def check_dtm_at(
    at: FloatArray,
    points: pd.DataFrame,
    *,
    vertical_datum: str,
    correct: bool = True,
) -> DtmCheck:
    """:func:`check_dtm` from the DTM's values at the points, sampled already.

    ``at`` is the DTM bilinear at each point of ``points`` (NaN off it or
    at a gap), as :class:`~carbonsink.lidar.surfaces.PointSamples` gives it
    while the chain merges its tiles (:attr:`LidarResult.dtm_at`).
    """
    x = points["x"].to_numpy(dtype=np.float64)
    y = points["y"].to_numpy(dtype=np.float64)
    z = points["z"].to_numpy(dtype=np.float64)
    ids = (
        points["checkpoint_id"].astype(str).to_numpy()
        if "checkpoint_id" in points
        else np.array([f"line {i}" for i in points.index])  # the file's line numbers
    )
    labels = (
        points["class"].astype("string").str.strip().fillna("all").to_numpy(dtype=object)
        if "class" in points
        else np.full(len(points), "all", dtype=object)
    )
    table = pd.DataFrame(
        {
            "checkpoint_id": ids,
            "x": x,
            "y": y,
            "z": z,
            "class": labels,
            "dtm_m": at,
            "error_m": at - z,
        }
    )
    rows_out = []
    for name, group in table[np.isfinite(table["error_m"])].groupby("class", sort=True):
        e = group["error_m"].to_numpy()
        n = e.size
        bias = float(e.mean())
        sd = float(e.std(ddof=1)) if n > 1 else float("nan")
        corrected = n >= MIN_CLASS_POINTS
        rmse = float(np.sqrt(np.mean(e**2)))
        rows_out.append(
            {
                "class": str(name),
                "n": n,
                "bias_m": bias,
                "sd_m": sd,
                "se_bias_m": sd / np.sqrt(n) if n > 1 else float("nan"),
                "rmse_m": rmse,
                "corrected": corrected,
                "rmse_after_m": float(np.sqrt(np.mean((e - bias) ** 2))) if corrected else rmse,
            }
        )
    columns = ["n", "bias_m", "sd_m", "se_bias_m", "rmse_m", "corrected", "rmse_after_m"]
    classes = (
        pd.DataFrame(rows_out).set_index("class")
        if rows_out
        else pd.DataFrame(columns=columns, index=pd.Index([], name="class"))
    )
    return DtmCheck(points=table, classes=classes, vertical_datum=vertical_datum, correct=correct)


def height_metrics(names: Sequence[str]) -> list[str]:
    """The metrics that are heights above the DTM: ``h_max``, ``h_mean`` and ``h_p<NN>``.

    Each shifts by exactly b when the terrain under a cell drops by b; ``h_sd``
    does not, and the cover fractions cannot be shifted without the returns.
    """
    return [n for n in names if n.startswith("h_") and n != "h_sd"]


def correct_metrics(
    metrics: xr.Dataset,
    class_map: npt.NDArray[np.integer],
    legend: Mapping[int, str],
    bias: Mapping[str, float],
) -> xr.Dataset:
    """The LiDAR metrics with each class's DTM bias removed (docs/methodology.md eq. 8.8d).

    ``dtm_mean`` − b̂_c and every height metric + b̂_c on the cells the map
    puts in class c; classes without a bias are left as they are.

    Parameters
    ----------
    metrics
        The epoch's ``(y, x)`` metrics on the analysis grid.
    class_map
        ``(y, x)`` class codes of the epoch's land-cover map on that grid.
    legend
        Class code → class name.
    bias
        Class name → b̂_c (m), from :meth:`DtmCheck.bias`.
    """
    offset = np.zeros(class_map.shape, dtype=np.float64)
    for code, name in legend.items():
        if name in bias:
            offset[class_map == code] = bias[name]
    out = metrics.copy()
    shifted = height_metrics([str(n) for n in metrics.data_vars])
    for name in shifted:
        out[name] = metrics[name] + offset.astype(metrics[name].dtype)
    if "dtm_mean" in metrics:
        out["dtm_mean"] = metrics["dtm_mean"] - offset.astype(metrics["dtm_mean"].dtype)
        shifted.append("dtm_mean")
    note = "; ".join(f"{name} {value:+.3f} m" for name, value in sorted(bias.items()))
    for var in metrics.data_vars:
        out[var].attrs = dict(metrics[var].attrs)
        if var in shifted:
            out[var].attrs["dtm_bias_removed"] = f"{note} (docs/methodology.md eq. 8.8d)"
    return out
