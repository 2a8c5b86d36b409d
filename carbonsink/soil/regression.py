"""The trend of regression kriging: covariates at the cores, the design matrix, the OLS fit.

Regression kriging (docs/methodology.md §3) explains the SOC stock of the cores by
grid-aligned covariates (elevation, land-cover class, indices) and kriges
what the trend leaves. This module holds the trend:

* :func:`sample_covariates` reads covariate layers at the cores
  (:func:`check_covariates` checks that the layers lie on the grid) and
  :func:`numeric_covariates` checks a table of covariates at the cores;
* :class:`RegressionDesign` turns covariate columns into design rows
  (intercept, continuous columns, one-hot classes);
* :func:`fit_regression` fits the trend by ordinary least squares and gives a
  :class:`RegressionFit` that predicts the trend and its variance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr
from scipy.linalg import solve_triangular

from carbonsink.errors import GridError, InputError, ModelError
from carbonsink.grid import Grid
from carbonsink.spatial.points import positions_text

__all__ = [
    "RegressionDesign",
    "RegressionFit",
    "check_covariates",
    "class_level_text",
    "fit_regression",
    "numeric_covariates",
    "sample_covariates",
]

FloatArray = npt.NDArray[np.float64]


# -------------------------------------------------------------- covariates
def check_covariates(covariates: xr.Dataset, grid: Grid) -> tuple[str, ...]:
    """Check that every covariate layer lies on the grid, and name the layers.

    Parameters
    ----------
    covariates
        Layers with dims ``("y", "x")`` (numpy- or dask-backed).
    grid
        The analysis grid.

    Returns
    -------
    tuple of str
        The names of the data variables, in dataset order.

    Raises
    ------
    InputError
        The dataset has no data variable.
    GridError
        A layer has other dims or another shape than the grid, or ``x``/``y``
        coordinates that are not the grid's cell centres.
    """
    names = tuple(str(n) for n in covariates.data_vars)
    if not names:
        raise InputError(
            "the covariates dataset has no data variables",
            fix="give grid-aligned layers such as elevation_m and class",
        )
    for name in names:
        layer = covariates[name]
        if layer.dims != ("y", "x") or layer.shape != grid.shape:
            raise GridError(
                f"covariate {name!r} has dims {layer.dims} and shape {layer.shape}; "
                f"the grid is ('y', 'x') {grid.shape}",
                fix="put every covariate on the analysis grid (Grid.dataarray) first",
            )
    for axis, centres in (("x", grid.x), ("y", grid.y)):
        if axis in covariates.coords:
            given = np.asarray(covariates[axis].values, dtype=np.float64)
            if not np.allclose(given, centres, rtol=0.0, atol=1e-6 * grid.resolution):
                raise GridError(
                    f"the covariates' {axis} coordinates are not the grid's cell centres",
                    fix="resample the covariates onto the analysis grid",
                )
    return names


def sample_covariates(
    covariates: xr.Dataset, grid: Grid, x: npt.ArrayLike, y: npt.ArrayLike
) -> pd.DataFrame:
    """Values of grid-aligned covariate layers in the cells holding points ``(x, y)``.

    Parameters
    ----------
    covariates
        Layers with dims ``("y", "x")`` on ``grid`` (numpy- or dask-backed).
    grid
        The analysis grid.
    x, y
        Point coordinates in the grid's CRS.

    Returns
    -------
    pandas.DataFrame
        One float64 column per layer, one row per point; NaN for points
        outside the grid or in missing cells.

    Raises
    ------
    InputError, GridError
        As :func:`check_covariates`.
    """
    names = check_covariates(covariates, grid)
    xs = np.array(x, dtype=np.float64, ndmin=1).ravel()
    ys = np.array(y, dtype=np.float64, ndmin=1).ravel()
    rows, cols = grid.index(xs, ys)
    inside = grid.contains(xs, ys)
    r = xr.DataArray(np.where(inside, rows, 0), dims="point")
    c = xr.DataArray(np.where(inside, cols, 0), dims="point")
    out: dict[str, FloatArray] = {}
    for name in names:
        vals = np.asarray(covariates[name].isel(y=r, x=c).values, dtype=np.float64)
        out[name] = np.where(inside, vals, np.nan)
    return pd.DataFrame(out)


def numeric_covariates(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """Numeric covariates at ``n`` points, one row per point, none missing.

    Parameters
    ----------
    frame
        Covariates at the points (e.g. from :func:`sample_covariates`), in
        the order of the points.
    n
        Number of points.

    Returns
    -------
    pandas.DataFrame
        The columns as float64 (text that is not a number becomes NaN and is
        refused), with a fresh ``0 … n − 1`` index.

    Raises
    ------
    InputError
        ``frame`` does not have ``n`` rows or has no column, or a point has
        no value of some covariate (the message names the columns and the
        positions).
    """
    if len(frame) != n:
        raise InputError(
            f"covariates_at_points has {len(frame)} rows for {n} points",
            fix="give one row of covariates per core, in the order of the cores",
        )
    if frame.shape[1] == 0:
        raise InputError("covariates_at_points has no columns", fix="give covariate columns")
    numeric: pd.DataFrame = (
        frame.apply(pd.to_numeric, errors="coerce").astype(np.float64).reset_index(drop=True)
    )
    bad = ~np.isfinite(numeric.to_numpy()).all(axis=1)
    if bad.any():
        missing = [str(c) for c in numeric.columns if numeric[c].isna().any()]
        raise InputError(
            f"{int(bad.sum())} point(s) have no covariate value ({', '.join(missing)}): "
            "outside the grid or in a missing cell",
            where=positions_text(np.flatnonzero(bad)),
            fix="drop those cores, fill the covariate layers there, or use ordinary kriging",
        )
    return numeric


# ------------------------------------------------------------------ design
def class_level_text(value: float) -> str:
    """A class code as text: ``3.0`` → ``"3"``, ``2.5`` → ``"2.5"``.

    Parameters
    ----------
    value
        A class code (stored as float in the covariate layers).

    Returns
    -------
    str
        The whole number without a decimal point, anything else in ``:g`` form.
    """
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class RegressionDesign:
    """The regression design: intercept, continuous columns and one-hot classes.

    Attributes
    ----------
    continuous
        Names of the continuous covariates, one term each.
    categorical
        Names of the class covariates.
    levels
        For each class covariate, the sorted class codes sampled by the
        points; the first is the reference level (no term), every other
        level gets a 0/1 term.
    """

    continuous: tuple[str, ...]
    categorical: tuple[str, ...]
    levels: tuple[tuple[float, ...], ...]

    @classmethod
    def from_points(cls, frame: pd.DataFrame, categorical: Sequence[str]) -> RegressionDesign:
        """The design of the covariates at the points.

        Parameters
        ----------
        frame
            Numeric covariates at the points (:func:`numeric_covariates`).
        categorical
            Names of the columns holding class codes; every other column is
            continuous.

        Returns
        -------
        RegressionDesign
            With the class levels the points sample.
        """
        cats = tuple(c for c in frame.columns if c in set(categorical))
        conts = tuple(str(c) for c in frame.columns if c not in set(cats))
        levels = tuple(
            tuple(float(v) for v in np.unique(frame[c].to_numpy(dtype=np.float64))) for c in cats
        )
        return cls(continuous=conts, categorical=tuple(str(c) for c in cats), levels=levels)

    @property
    def terms(self) -> tuple[str, ...]:
        """Names of the design columns: ``intercept``, continuous names, ``<class>=<level>``."""
        dummies = [
            f"{name}={class_level_text(v)}"
            for name, levels in zip(self.categorical, self.levels, strict=True)
            for v in levels[1:]
        ]
        return ("intercept", *self.continuous, *dummies)

    def unseen(self, columns: Mapping[str, FloatArray]) -> dict[str, list[float]]:
        """Class values present in ``columns`` but absent from the points.

        Parameters
        ----------
        columns
            Covariate values by name (e.g. at held-out points or in a tile).

        Returns
        -------
        dict
            Class covariate name → sorted class codes no point samples; only
            covariates with such codes are listed (NaN is ignored).
        """
        out: dict[str, list[float]] = {}
        for name, levels in zip(self.categorical, self.levels, strict=True):
            col = columns[name]
            present = np.unique(col[np.isfinite(col)])
            extra = sorted(set(present.tolist()) - set(levels))
            if extra:
                out[name] = extra
        return out

    def matrix(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        """Design rows for covariate values.

        Parameters
        ----------
        columns
            Covariate values by name, m values each.

        Returns
        -------
        numpy.ndarray
            (m, p) float64 with p = ``len(terms)``: 1, the continuous values,
            and 1.0/0.0 for each non-reference class level; rows with any
            missing input are NaN.
        """
        m = next(iter(columns.values())).size if columns else 0
        parts = [np.ones((m, 1))]
        missing = np.zeros(m, dtype=bool)
        for name in self.continuous:
            col = columns[name]
            missing |= ~np.isfinite(col)
            parts.append(col[:, None])
        for name, levels in zip(self.categorical, self.levels, strict=True):
            col = columns[name]
            missing |= ~np.isfinite(col)
            parts.extend((col == v)[:, None] for v in levels[1:])
        x = np.concatenate(parts, axis=1).astype(np.float64)
        x[missing] = np.nan
        return x


# --------------------------------------------------------------------- fit
@dataclass(frozen=True)
class RegressionFit:
    """An ordinary least squares trend with what its prediction variance needs.

    Attributes
    ----------
    design
        The design the trend was fitted with.
    coefficients
        β̂, one per term of ``design``.
    r_factor
        R of the QR decomposition of the design matrix X (XᵀX = RᵀR).
    residual_variance
        σ̂² = RSS / (n − p).
    """

    design: RegressionDesign
    coefficients: FloatArray
    r_factor: FloatArray
    residual_variance: float

    def predict(self, x0: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Trend x₀ᵀβ̂ and its variance σ̂² x₀ᵀ(XᵀX)⁻¹x₀ for design rows ``x0``.

        Parameters
        ----------
        x0
            (m, p) design rows (:meth:`RegressionDesign.matrix`).

        Returns
        -------
        trend, variance
            Two float64 arrays of m values.
        """
        trend = x0 @ self.coefficients
        u = solve_triangular(self.r_factor, x0.T, trans="T", lower=False)
        return trend, self.residual_variance * np.einsum("ij,ij->j", u, u)


def fit_regression(design: RegressionDesign, x: FloatArray, zs: FloatArray) -> RegressionFit:
    """Fit the trend z = Xβ + ε by ordinary least squares.

    Parameters
    ----------
    design
        The design of ``x``.
    x
        (n, p) design matrix at the points (:meth:`RegressionDesign.matrix`).
    zs
        The n values.

    Returns
    -------
    RegressionFit

    Raises
    ------
    ModelError
        The design matrix has rank < p (collinear or constant covariates).

    Notes
    -----
    β̂ by least squares (:func:`numpy.linalg.lstsq`), σ̂² = RSS / (n − p),
    and the R factor of X kept for x₀ᵀ(XᵀX)⁻¹x₀ = |R⁻ᵀx₀|².
    """
    n, p = x.shape
    if np.linalg.matrix_rank(x) < p:
        raise ModelError(
            f"the covariates are collinear at the {n} points (terms {', '.join(design.terms)})",
            fix="drop a covariate that is constant or duplicated at the cores, or merge classes",
        )
    beta, *_ = np.linalg.lstsq(x, zs, rcond=None)
    residuals = zs - x @ beta
    r_factor = np.linalg.qr(x, mode="r")
    sigma2 = float(residuals @ residuals / (n - p))
    return RegressionFit(design, np.asarray(beta), np.asarray(r_factor), sigma2)
