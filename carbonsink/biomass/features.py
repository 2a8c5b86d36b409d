"""Model features at the biomass plots, taken from the epoch's cube.

A plot and a grid cell rarely have the same size. A 1 m² clip plot inside a
10 m cell samples one spot of the cell: the cell's features describe its
surroundings, and the plot's departure from the cell mean (within-cell
heterogeneity) becomes part of the model residual — so the model predicts
the cell mean, and its prediction intervals include that heterogeneity. A
plot larger than a cell (e.g. a 20 m × 20 m = 400 m² forest plot on 10 m
cells) covers several cells: its features are the mean over the cells whose
centres lie inside its square footprint (at least the cell holding its
centre). Plots outside the grid, or whose cells have no feature values
(masked, cloud gaps, no LiDAR), are reported and left out, never silently
filled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from carbonsink.errors import InputError, InputTableError, Problem
from carbonsink.schemas import check_table
from carbonsink.units import g_m2_to_mg_ha

__all__ = ["PlotFeatures", "cells_of_points", "feature_matrix", "plot_features", "validate_plots"]


def validate_plots(plots: pd.DataFrame, *, path: str = "plots") -> pd.DataFrame:
    """Check a plot table against the ``plots`` schema; raise listing every problem.

    Returns
    -------
    pandas.DataFrame
        The table with ``agb_mg_ha`` (= ``agb_g_m2`` × 0.01) added.

    Raises
    ------
    InputError
        Duplicate plot ids, negative or implausible AGB, missing columns, ...
        each naming the file and line.
    """
    problems = [p for p in check_table(plots, "plots", path=path) if p.severity == "error"]
    if problems:
        raise InputTableError(problems, what="plot table")
    out = plots.copy()
    out["agb_mg_ha"] = g_m2_to_mg_ha(pd.to_numeric(out["agb_g_m2"]).to_numpy(dtype=np.float64))
    return out


@dataclass(frozen=True)
class PlotFeatures:
    """Features at the plots that could be used, and why the others could not.

    Attributes
    ----------
    table
        One row per usable plot (index ``plot_id``): ``x``, ``y``,
        ``agb_mg_ha``, ``cells`` (number of cells averaged) and one column
        per feature.
    excluded
        One row per left-out plot: ``plot_id`` and ``reason``.
    feature_names
        The feature columns, in cube order.
    """

    table: pd.DataFrame
    excluded: pd.DataFrame
    feature_names: tuple[str, ...]

    def problems(self) -> list[Problem]:
        """The exclusions as warnings (for the report and the ledger)."""
        return [
            Problem(f"plot {row.plot_id} left out: {row.reason}", severity="warning")
            for row in self.excluded.itertuples()
        ]


def _footprint_cells(
    offset_x: float,
    offset_y: float,
    side_m: float,
    resolution: float,
    height: int,
    width: int,
) -> tuple[slice, slice]:
    """Cells whose centres lie in a square plot of side ``side_m`` (at least the plot's cell).

    ``offset_x`` and ``offset_y`` are the plot centre's distances from the
    first cell centre, along columns (east) and rows (south), in metres.
    """
    half = side_m / 2.0
    col_lo = math.ceil((offset_x - half) / resolution - 1e-9)
    col_hi = math.floor((offset_x + half) / resolution + 1e-9)
    row_lo = math.ceil((offset_y - half) / resolution - 1e-9)
    row_hi = math.floor((offset_y + half) / resolution + 1e-9)
    if col_hi < col_lo:  # smaller than a cell: the cell holding the centre
        col_lo = col_hi = math.floor(offset_x / resolution + 0.5)
    if row_hi < row_lo:
        row_lo = row_hi = math.floor(offset_y / resolution + 0.5)
    return (
        slice(max(row_lo, 0), min(row_hi + 1, height)),
        slice(max(col_lo, 0), min(col_hi + 1, width)),
    )


def cells_of_points(
    cube: xr.Dataset, x: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], float]:
    """Row and column of the cube's cell holding each point, and the cell size.

    The cube's ``x``/``y`` coordinates are regular cell centres (north up).
    Points outside the cube get a row or column outside its shape.
    """
    xs = cube["x"].values
    ys = cube["y"].values
    resolution = float(abs(xs[1] - xs[0])) if len(xs) > 1 else float(abs(ys[1] - ys[0]))
    col = np.floor((np.asarray(x, dtype=np.float64) - (xs[0] - resolution / 2)) / resolution)
    row = np.floor(((ys[0] + resolution / 2) - np.asarray(y, dtype=np.float64)) / resolution)
    return row.astype(np.int64), col.astype(np.int64), resolution


def plot_features(
    cube: xr.Dataset,
    plots: pd.DataFrame,
    *,
    features: list[str] | tuple[str, ...],
    target: str = "agb_mg_ha",
) -> PlotFeatures:
    """Feature values at each plot, with the plot-versus-cell support handled.

    Parameters
    ----------
    cube
        ``(y, x)`` layers on the analysis grid (indices, LiDAR metrics, class
        probabilities, ...), with regular ``x``/``y`` cell-centre coordinates.
    plots
        ``plot_id``, ``x``, ``y`` (grid CRS), the ``target`` and ``size_m2``.
    features
        The cube variables to use.
    target
        The plots' measured quantity the model learns (``agb_mg_ha``; ``dom_mg_ha``
        for dead organic matter), Mg DM/ha.

    Returns
    -------
    PlotFeatures

    Raises
    ------
    InputError
        A feature missing from the cube, or no plot usable (all outside the
        grid or in cells without features) — the message gives the reasons.

    Notes
    -----
    A plot of side √size ≤ one cell takes its cell's values; a larger plot
    averages the cells whose centres fall inside its square footprint of
    side √size centred on the plot (module docstring).
    """
    missing = [f for f in features if f not in cube.data_vars]
    if missing:
        raise InputError(
            f"feature(s) {', '.join(missing)} are not in the cube "
            f"(it has {', '.join(map(str, cube.data_vars))})",
            fix="compute those layers first (imagery indices, LiDAR metrics) or drop them",
        )
    xs = cube["x"].values
    ys = cube["y"].values
    height, width = len(ys), len(xs)
    stack = np.stack([np.asarray(cube[f].values, dtype=np.float64) for f in features])
    row, col, resolution = cells_of_points(cube, plots["x"].to_numpy(), plots["y"].to_numpy())
    rows: list[dict[str, object]] = []
    excluded: list[dict[str, object]] = []
    sizes = pd.to_numeric(plots["size_m2"]).to_numpy(dtype=np.float64)
    plot_x = plots["x"].to_numpy(dtype=np.float64)
    plot_y = plots["y"].to_numpy(dtype=np.float64)
    measured = plots[target].to_numpy(dtype=np.float64)
    for i, plot_id in enumerate(plots["plot_id"].astype(str)):
        if not (0 <= row[i] < height and 0 <= col[i] < width):
            excluded.append({"plot_id": plot_id, "reason": "outside the analysis grid"})
            continue
        rs, cs = _footprint_cells(
            plot_x[i] - xs[0], ys[0] - plot_y[i], math.sqrt(sizes[i]), resolution, height, width
        )
        block = stack[:, rs, cs].reshape(len(features), -1)
        complete = np.isfinite(block).all(axis=0)
        if not complete.any():
            present = np.asarray(np.isfinite(block).any(axis=1), dtype=bool).tolist()
            gaps = [f for f, ok in zip(features, present, strict=True) if not ok]
            excluded.append(
                {
                    "plot_id": plot_id,
                    "reason": f"no value of {', '.join(gaps)} in its cell(s) "
                    "(masked, cloud gap or no LiDAR)",
                }
            )
            continue
        values = block[:, complete].mean(axis=1)
        rows.append(
            {
                "plot_id": plot_id,
                "x": float(plot_x[i]),
                "y": float(plot_y[i]),
                target: float(measured[i]),
                "cells": int(complete.sum()),
                **dict(zip(features, values.tolist(), strict=True)),
            }
        )
    if not rows:
        reasons = pd.Series([e["reason"] for e in excluded]).value_counts()
        raise InputError(
            f"none of the {len(plots)} plots can be used: "
            + "; ".join(f"{n} {reason}" for reason, n in reasons.items()),
            fix="check the plots' CRS and coordinates against the survey boundary",
        )
    table = pd.DataFrame(rows).set_index("plot_id")
    return PlotFeatures(
        table=table,
        excluded=pd.DataFrame(excluded, columns=["plot_id", "reason"]),
        feature_names=tuple(features),
    )


def feature_matrix(
    cube: xr.Dataset,
    features: list[str] | tuple[str, ...],
    rows: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """The cells as a ``(cells, features)`` matrix and the mask of complete rows.

    ``rows`` (a flat boolean mask of the cells, in C order) keeps only those
    cells' rows; default every cell. The columns are written into the matrix
    one by one (stacking float64 copies of them held every value twice:
    1.2 GB for 31 features of a 213 km² grid).
    """
    if not features:
        raise ValueError("a feature matrix needs at least one feature")
    size = int(np.prod([cube.sizes[d] for d in cube[features[0]].dims]))
    n = size if rows is None else int(np.count_nonzero(rows))
    matrix = np.empty((n, len(features)), dtype=np.float64)
    complete = np.ones(n, dtype=bool)
    for j, name in enumerate(features):
        column = np.asarray(cube[name].values).ravel()
        if column.size != size:
            raise ValueError(f"feature {name!r} has {column.size} cells, {features[0]!r} {size}")
        if rows is not None:
            column = column[rows]
        matrix[:, j] = column
        complete &= np.isfinite(column)
    return matrix, complete
