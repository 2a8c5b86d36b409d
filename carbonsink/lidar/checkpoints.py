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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from carbonsink.lidar.surfaces import Raster

__all__ = [
    "MIN_CLASS_POINTS",
    "DtmCheck",
    "check_dtm",
    "correct_metrics",
    "height_metrics",
    "raster_of",
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
        used = self.classes[self.classes["corrected"]]
        return {str(c): float(b) for c, b in used["bias_m"].items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for the ledger and the report (m)."""
        on_dtm = int(np.isfinite(self.points["error_m"]).sum())
        return {
            "status": "checked",
            "vertical_datum": self.vertical_datum,
            "points": len(self.points),
            "points_on_dtm": on_dtm,
            "corrected": self.correct,
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


def raster_of(surface: xr.DataArray) -> Raster:
    """A north-up ``(y, x)`` DataArray of cell centres as a :class:`Raster`."""
    x = surface["x"].to_numpy()
    y = surface["y"].to_numpy()
    cell = float(abs(x[1] - x[0])) if x.size > 1 else float(abs(y[0] - y[1]))
    return Raster(
        values=np.asarray(surface.values, dtype=np.float64),
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
        ``x``, ``y`` (the DTM's CRS, m), ``z`` (m, the point clouds' datum),
        ``class`` (vegetation class at the point) and optionally
        ``checkpoint_id``.
    vertical_datum
        The datum the survey states for ``z`` (recorded).
    correct
        Whether the per-class bias is to be removed (recorded; see
        :meth:`DtmCheck.bias`).

    Returns
    -------
    DtmCheck
        Points outside the DTM (or on its gaps) keep NaN errors and count in
        no class.
    """
    x = points["x"].to_numpy(dtype=np.float64)
    y = points["y"].to_numpy(dtype=np.float64)
    z = points["z"].to_numpy(dtype=np.float64)
    rows = (dtm.y1 - y) / dtm.cell - 0.5
    cols = (x - dtm.x0) / dtm.cell - 0.5
    h, w = dtm.shape
    on = (rows >= -0.5) & (rows <= h - 0.5) & (cols >= -0.5) & (cols <= w - 0.5)
    at = np.full(x.size, np.nan)
    if on.any():
        at[on] = dtm.sample(x[on], y[on])
    ids = (
        points["checkpoint_id"].astype(str).to_numpy()
        if "checkpoint_id" in points
        else np.array([f"line {i}" for i in points.index])
    )
    table = pd.DataFrame(
        {
            "checkpoint_id": ids,
            "x": x,
            "y": y,
            "z": z,
            "class": points["class"].astype(str).to_numpy(),
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
    for name in height_metrics([str(n) for n in metrics.data_vars]):
        out[name] = metrics[name] + offset.astype(metrics[name].dtype)
    if "dtm_mean" in metrics:
        out["dtm_mean"] = metrics["dtm_mean"] - offset.astype(metrics["dtm_mean"].dtype)
    for var in metrics.data_vars:
        out[var].attrs = dict(metrics[var].attrs)
    return out
