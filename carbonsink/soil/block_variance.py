"""Uncertainty of a survey's SOC total: block kriging of the areal mean.

The SOC map of :func:`carbonsink.soil.soc_map.predict_soc` gives a variance
per cell, but the variance of the survey *total* is not the sum of the cell
variances: the cells' errors are strongly correlated (neighbouring cells are
kriged from the same cores). The right figure is the block-kriging variance
of the mean over the whole surveyed area B (docs/methodology.md §3 and §6), which
:func:`areal_mean_variance` computes by ordinary kriging of the block mean
from all cores at once (a global neighbourhood: one (n + 1)² system for n
cores). Its :class:`BlockEstimate` carries the mean, the total in t C and
their standard errors, for the Monte Carlo of the accounting stage.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Final, get_args

import numpy as np
import numpy.typing as npt
from scipy.spatial.distance import cdist

from carbonsink.errors import ConfigError, GridError, InputError, ModelError
from carbonsink.grid import Grid
from carbonsink.i18n import deferred
from carbonsink.soil.soc_model import (
    SOC_UNITS,
    SOC_VARIANCE_UNITS,
    SocMethod,
    check_core_stocks,
    measurement_variances,
)
from carbonsink.spatial.variogram import VARIOGRAM_MODELS, VariogramModel

__all__ = [
    "DEFAULT_N_BLOCK_POINTS",
    "DEFAULT_SITE_RADIUS_M",
    "BlockChange",
    "BlockDiscretisation",
    "BlockEstimate",
    "areal_mean_variance",
    "block_change",
    "core_arrays",
    "discretise_block",
    "mean_covariance_to_block",
    "solve_kriging",
    "structured_covariance",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Default number of points the block is discretised into.
DEFAULT_N_BLOCK_POINTS: Final = 400
#: Cores of two epochs this close (m) are one site revisited (:func:`block_change`).
DEFAULT_SITE_RADIUS_M: Final = 5.0
#: Largest number of covariances evaluated at once (32 MB of float64).
_COVARIANCES_PER_CHUNK: Final = 1 << 22
#: Largest condition number of the kriging matrix accepted (≈ 4 significant digits left).
_MAX_CONDITION: Final = 1e12


@dataclass(frozen=True)
class BlockEstimate:
    """The kriged mean SOC stock of a block (the survey area) and its total.

    Attributes
    ----------
    mean_mg_ha
        Ordinary-kriging estimate of the area-weighted mean stock over the
        block, Mg C/ha.
    variance
        Block-kriging (estimation) variance of ``mean_mg_ha``, (Mg C/ha)².
    se
        √variance, Mg C/ha.
    total_t_c
        mean × block area, t C (1 Mg = 1 t).
    total_se_t_c
        se × block area, t C.
    n_points
        Number of cores used.
    block_area_ha
        True area of the block's cells (Σ :attr:`Grid.cell_area_ha` over the mask), ha.
    n_block_points
        Number of points the block was discretised into.
    units
        Units of ``mean_mg_ha`` and ``se``; ``variance`` is in their square.
    """

    mean_mg_ha: float
    variance: float
    se: float
    total_t_c: float
    total_se_t_c: float
    n_points: int
    block_area_ha: float
    n_block_points: int
    units: str = SOC_UNITS

    def to_dict(self) -> dict[str, Any]:
        """The figures with their units, e.g. for a manifest or a report."""
        return {
            "mean_mg_ha": self.mean_mg_ha,
            "variance": self.variance,
            "se": self.se,
            "total_t_c": self.total_t_c,
            "total_se_t_c": self.total_se_t_c,
            "n_points": self.n_points,
            "block_area_ha": self.block_area_ha,
            "n_block_points": self.n_block_points,
            "units": self.units,
            "variance_units": SOC_VARIANCE_UNITS,
            "total_units": "t C",
        }


@dataclass(frozen=True)
class BlockDiscretisation:
    """Points standing for a block of grid cells, each with the area it represents.

    Attributes
    ----------
    x, y
        Point coordinates in the grid's CRS, m.
    area_ha
        True area of the block's cells each point stands for, ha; sums to
        ``block_area_ha``.
    stride
        Side of the square groups of cells each point stands for, in cells.
    block_area_ha
        True area of all the block's cells, ha.
    """

    x: FloatArray
    y: FloatArray
    area_ha: FloatArray
    stride: int
    block_area_ha: float

    @property
    def weights(self) -> FloatArray:
        """Area shares of the points, summing to 1."""
        return np.asarray(self.area_ha / self.area_ha.sum(), dtype=np.float64)


def discretise_block(
    grid: Grid,
    *,
    mask: npt.ArrayLike | None = None,
    n_points: int = DEFAULT_N_BLOCK_POINTS,
) -> BlockDiscretisation:
    """Discretise the masked cells of a grid into about ``n_points`` weighted points.

    Parameters
    ----------
    grid
        The analysis grid.
    mask
        Boolean ``grid.shape`` array, ``True`` for the cells of the block;
        default every cell.
    n_points
        Target number of points.

    Returns
    -------
    BlockDiscretisation

    Raises
    ------
    ConfigError
        ``n_points`` is not a whole number ≥ 1.
    GridError
        The mask is not on the grid, or selects no cell.

    Notes
    -----
    The grid is cut into square groups of s × s cells, starting at the
    upper-left corner, with the stride s = max(1, round(√(N / n_points))) for
    N masked cells. Each group holding masked cells gives one point: the
    area-weighted centroid of its masked cell centres, with weight the true
    area of those cells (:attr:`Grid.cell_area_ha`). The points thus form a
    regular lattice (one per s × s group) inside the block, every masked cell
    is represented once, the weights sum to the block's true area and the
    block's centroid is kept exactly; along an irregular boundary a group's
    point moves to the centroid of its masked part. About N / s² ≈ n_points
    points result (more along a ragged mask). With s = 1 every masked cell
    centre is a point.
    """
    if isinstance(n_points, bool) or not (isinstance(n_points, int | np.integer) and n_points >= 1):
        raise ConfigError(
            f"n_block_points {n_points!r} is not a whole number ≥ 1",
            fix=f"use e.g. {DEFAULT_N_BLOCK_POINTS} points",
        )
    inside = _block_mask(mask, grid)
    n_cells = int(inside.sum())
    if n_cells == 0:
        raise GridError(
            "the mask selects no cell of the grid, so there is no area to average over",
            fix="give the survey's inside-boundary mask (e.g. Grid.boundary_mask)",
        )
    stride = max(1, round(math.sqrt(n_cells / int(n_points))))
    area = np.where(inside, grid.cell_area_ha, 0.0)
    sums = [
        _group_sums(layer, stride)
        for layer in (area, area * grid.x[None, :], area * grid.y[:, None])
    ]
    group_area, group_ax, group_ay = (s.ravel() for s in sums)
    used = group_area > 0
    area_ha = group_area[used]
    return BlockDiscretisation(
        x=group_ax[used] / area_ha,
        y=group_ay[used] / area_ha,
        area_ha=area_ha,
        stride=stride,
        block_area_ha=float(area.sum()),
    )


def _group_sums(layer: FloatArray, stride: int) -> FloatArray:
    """Sums of ``layer`` over square groups of ``stride`` × ``stride`` cells (zero-padded)."""
    rows, cols = layer.shape
    pad_r = -rows % stride
    pad_c = -cols % stride
    padded = np.pad(layer, ((0, pad_r), (0, pad_c)))
    groups = padded.reshape((rows + pad_r) // stride, stride, (cols + pad_c) // stride, stride)
    return np.asarray(groups.sum(axis=(1, 3)), dtype=np.float64)


def _block_mask(mask: npt.ArrayLike | None, grid: Grid) -> npt.NDArray[np.bool_]:
    if mask is None:
        return np.ones(grid.shape, dtype=bool)
    arr = np.asarray(mask)
    if arr.shape != grid.shape:
        raise GridError(
            f"the block mask has shape {arr.shape}, the grid is {grid.shape}",
            fix="give a boolean mask on the analysis grid (e.g. Grid.boundary_mask)",
        )
    if arr.dtype != bool and not (
        np.issubdtype(arr.dtype, np.number) and np.isin(arr, (0, 1)).all()
    ):
        raise GridError(
            "the block mask holds values other than True/False (or 1/0)",
            fix="give a boolean mask, True for the cells of the block",
        )
    return np.asarray(arr.astype(bool), dtype=np.bool_)


def structured_covariance(variogram: VariogramModel, distance_m: FloatArray) -> FloatArray:
    """c₁ (1 − f(h / a)): the covariance without the nugget's spike at h = 0."""
    shape = VARIOGRAM_MODELS[variogram.model](distance_m / variogram.range_m)
    return np.asarray(variogram.psill * (1.0 - shape), dtype=np.float64)


def mean_covariance_to_block(
    variogram: VariogramModel, xy: FloatArray, block: BlockDiscretisation
) -> FloatArray:
    """C̄(xᵢ, B) = Σⱼ wⱼ C(|xᵢ − pⱼ|) for each row of ``xy``, in chunks of rows."""
    points = np.column_stack([block.x, block.y])
    weights = block.weights
    out = np.empty(xy.shape[0], dtype=np.float64)
    step = max(1, _COVARIANCES_PER_CHUNK // points.shape[0])
    for start in range(0, xy.shape[0], step):
        rows = slice(start, start + step)
        out[rows] = structured_covariance(variogram, cdist(xy[rows], points)) @ weights
    return out


def core_arrays(
    x: npt.ArrayLike, y: npt.ArrayLike, values: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Validated (n, 2) coordinates and n stocks, at least one core.

    The checks are :func:`~carbonsink.soil.soc_model.check_core_stocks`'s.
    """
    xs, ys, zs = check_core_stocks(x, y, values)
    if zs.size == 0:
        raise InputError("no cores given", fix="give at least one core stock")
    return np.column_stack([xs, ys]), zs


def _block_weights(
    v: VariogramModel, xy: FloatArray, noise_var: FloatArray, block: BlockDiscretisation
) -> tuple[FloatArray, float]:
    """Ordinary block-kriging weights of the cores and the block variance σ²_B (≥ 0)."""
    process_nugget = max(v.nugget - float(noise_var.mean()), 0.0)
    if process_nugget + v.psill <= 0:
        raise ModelError(
            "the variogram's sill is no larger than the measurement variance of the cores",
            fix="check value_se: it should be the standard error of each core stock",
        )
    n = xy.shape[0]
    a = np.zeros((n + 1, n + 1), dtype=np.float64)
    a[:n, :n] = structured_covariance(v, cdist(xy, xy))
    a[np.arange(n), np.arange(n)] += process_nugget + noise_var
    a[n, :n] = 1.0
    a[:n, n] = 1.0
    rhs = np.empty(n + 1, dtype=np.float64)
    rhs[:n] = mean_covariance_to_block(v, xy, block)
    rhs[n] = 1.0
    solution = solve_kriging(a, rhs, v)
    weights, mu = solution[:n], float(solution[n])
    points = np.column_stack([block.x, block.y])
    block_cov = float(mean_covariance_to_block(v, points, block) @ block.weights)
    variance = block_cov - float(weights @ rhs[:n]) - mu
    floor = -1e-9 * max(v.sill, 1.0)
    if variance < floor:
        raise ModelError(
            f"the block kriging variance came out negative ({variance:.3g} {v.units})",
            fix="check the variogram (a valid model with a positive sill)",
        )
    return weights, max(variance, 0.0)


def _block_estimate(
    variogram: VariogramModel,
    xy: FloatArray,
    zs: FloatArray,
    noise_var: FloatArray,
    block: BlockDiscretisation,
) -> tuple[BlockEstimate, FloatArray]:
    """The block estimate of validated cores, and the kriging weights behind it."""
    weights, variance = _block_weights(variogram, xy, noise_var, block)
    variance = max(variance, 0.0)
    mean = float(weights @ zs)
    se = math.sqrt(variance)
    area = block.block_area_ha
    if mean < 0:
        logger.warning(
            deferred(
                "the kriged mean stock of the block is negative ({mean:.4g} {units}): kriging "
                "weights below 0 outweigh the cores",
                mean=float(mean),
                units=SOC_UNITS,
            )
        )
    estimate = BlockEstimate(
        mean_mg_ha=mean,
        variance=variance,
        se=se,
        total_t_c=mean * area,
        total_se_t_c=se * area,
        n_points=zs.size,
        block_area_ha=area,
        n_block_points=block.x.size,
    )
    logger.info(
        "block kriging of the mean SOC over %.2f ha from %d cores (%d block points): "
        "%.3f ± %.3f %s, total %.1f ± %.1f t C",
        area,
        zs.size,
        block.x.size,
        mean,
        se,
        SOC_UNITS,
        estimate.total_t_c,
        estimate.total_se_t_c,
    )
    return estimate, weights


def areal_mean_variance(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    values: npt.ArrayLike,
    grid: Grid,
    *,
    variogram_model: VariogramModel,
    mask: npt.ArrayLike | None = None,
    n_block_points: int = DEFAULT_N_BLOCK_POINTS,
    value_se: npt.ArrayLike | None = None,
    method: SocMethod = "ordinary-kriging",
) -> BlockEstimate:
    """Ordinary-kriging estimate of the survey's mean SOC stock and its block variance.

    Parameters
    ----------
    x, y
        Core locations in the grid's CRS, m (cores outside the block inform
        the estimate too).
    values
        Core stocks (e.g. 0–30 cm), Mg C/ha.
    grid
        The analysis grid.
    variogram_model
        The variogram of the core values, e.g. the one :func:`predict_soc`
        fitted (its dataset attributes ``variogram_*``); its nugget includes
        the measurement variance, as :func:`predict_soc` takes it.
    mask
        Boolean ``grid.shape`` array, ``True`` for the cells of the block B
        (e.g. inside the project boundary); default every cell.
    n_block_points
        About how many points discretise the block (:func:`discretise_block`).
    value_se
        Standard error of each core stock, Mg C/ha, treated as measurement
        error as :func:`predict_soc` does.
    method
        ``"ordinary-kriging"`` only; ``"regression-kriging"`` raises (see Notes).

    Returns
    -------
    BlockEstimate
        Mean (Mg C/ha), block-kriging variance and SE, and the total and its
        SE in t C over the block's true area.

    Raises
    ------
    ConfigError
        ``method`` is ``"regression-kriging"`` or unknown; bad ``n_block_points``.
    InputError
        No cores, NaN or negative stocks or coordinates, two cores at one
        location, ``value_se`` of the wrong length or negative.
    GridError
        The mask is not on the grid or selects no cell.
    ModelError
        A singular kriging system, or a variogram sill no larger than the
        measurement variance.

    Notes
    -----
    *Block kriging* (Journel & Huijbregts 1978, *Mining Geostatistics*, §V.A;
    Webster & Oliver 2007, *Geostatistics for Environmental Scientists*, 2nd
    ed., §8.3) estimates the mean z_B = (1/|B|) ∫_B z(s) ds by
    ẑ_B = Σᵢ λᵢ z(xᵢ), the weights solving

        [C 1; 1ᵀ 0] [λ; μ] = [C̄(x, B); 1],

    with estimation variance

        σ²_B = C̄(B, B) − λᵀ C̄(x, B) − μ,

    where Cᵢⱼ = C(|xᵢ − xⱼ|) + δᵢⱼ (c₀' + seᵢ²) between the cores,
    C̄(xᵢ, B) the mean covariance between core i and the block and C̄(B, B)
    the mean covariance within the block. The block is discretised by
    :func:`discretise_block` into points pⱼ with area weights wⱼ (Σ wⱼ = 1):
    C̄(xᵢ, B) = Σⱼ wⱼ C(|xᵢ − pⱼ|), C̄(B, B) = Σⱼ Σₖ wⱼ wₖ C(|pⱼ − pₖ|). The
    estimate is the area-weighted mean, as totals use true cell areas.

    *Nugget*: C(h) = c₁ (1 − f(h/a)) in C̄(x, B) and C̄(B, B). The nugget is
    variation at distances shorter than the closest cores (micro-site and
    laboratory variation); over a block far larger than its scale it
    averages out and contributes nothing to C̄(B, B) or C̄(x, B) (Webster &
    Oliver 2007 §8.3). It does enter C at the cores, on the diagonal, since
    each core measures it.

    *Measurement error*, as in :func:`predict_soc`: seᵢ² is added to the
    diagonal of C and the nugget is reduced by the mean se² (floored at 0),
    c₀' = max(c₀ − mean seᵢ², 0), so that it is not counted twice; the
    target (the true block mean) holds no measurement error.

    *Total*: T̂ = ẑ_B × A and SE(T̂) = σ_B × A with A = Σ true cell areas of
    the block (:attr:`Grid.cell_area_ha`), Mg C/ha × ha = t C.

    *Neighbourhood*: all n cores enter one (n + 1)² system (a global
    neighbourhood: every core informs a survey-wide mean), unlike the map's
    local kriging; the cost is O(n³) for the solve plus O(n m + m²) for the
    covariance averages with m block points, i.e. instant for hundreds of
    cores and m = 400. The map total Σ ẑ_c a_c of a local-neighbourhood map
    differs slightly from ẑ_B × A; with a global neighbourhood the two are
    equal, the kriging estimate being linear in the target.

    *Discretisation*: m points each standing for a group vⱼ of s × s cells
    replace the average covariance over the groups by the covariance between
    their centroids. The j = k terms overstate C̄(B, B) by
    Σⱼ wⱼ² γ̄(vⱼ, vⱼ) ≈ (1/m) c₁ × 1.5 × 0.52 L/a for a spherical model and
    groups of side L = s × resolution (0.52 L the mean distance between two
    points of a square); the other terms err only to second order in L/a.
    On the synthetic survey (Junshan, 2020, 21,817 cells, 40 cores) the SE
    with the default (486 points, s = 7) is 0.5 % above the SE with every
    cell centre as a point.

    *Checks* (tests/soil/test_block_variance.py): on 300 simulated Gaussian
    fields (spherical, c₀ = 20, c₁ = 80 (Mg C/ha)², a = 250 m, 60 × 60 cells,
    40 cores) mean((z_B − ẑ_B)²) / σ²_B = 0.94 and the 90 % intervals cover
    the true mean in 92 % of them; on the synthetic survey the true 2020
    total, 10,384 t C, is 0.33 SE above the estimate 10,301 ± 251 t C.

    *Regression kriging* is not supported: the block mean of an RK map is
    x̄_Bᵀβ̂ + ε̂_B, and the error of the OLS trend and the error of the
    kriged residual mean are correlated over a survey-sized block (the OLS
    residuals sum to zero at the cores), so the per-cell sum of variances
    :func:`predict_soc` uses does not carry over; the universal-kriging
    form (Cressie 1993 §3.4.5) would be needed. A ``ConfigError`` says so.
    """
    if method == "regression-kriging":
        raise ConfigError(
            "the variance of the survey's mean SOC stock is computed for ordinary kriging "
            "only; regression kriging's trend and residual errors are correlated over the "
            "whole survey and their block variance is not implemented",
            fix="use method='ordinary-kriging' (the block variance of the values), or "
            "propagate the regression-kriging map's uncertainty by a spatial-block bootstrap",
        )
    if method not in get_args(SocMethod):
        valid = ", ".join(repr(m) for m in get_args(SocMethod))
        raise ConfigError(
            f"unknown SOC prediction method {method!r}; valid: {valid}",
            fix="use method='ordinary-kriging'",
        )
    if not isinstance(variogram_model, VariogramModel):
        raise ConfigError(
            f"variogram_model is a {type(variogram_model).__name__}, not a VariogramModel",
            fix="pass the fitted VariogramModel (e.g. from fit_variogram, or built from "
            "predict_soc's variogram_* attributes)",
        )
    xy, zs = core_arrays(x, y, values)
    noise_var = measurement_variances(value_se, zs.size)
    block = discretise_block(grid, mask=mask, n_points=n_block_points)
    estimate, _ = _block_estimate(variogram_model, xy, zs, noise_var, block)
    return estimate


def solve_kriging(a: FloatArray, rhs: FloatArray, variogram: VariogramModel) -> FloatArray:
    """Solve the ordinary-kriging system, or fail with a ModelError when it is singular."""
    condition = float(np.linalg.cond(a))
    if not (math.isfinite(condition) and condition < _MAX_CONDITION):
        raise ModelError(
            f"the block kriging system of {a.shape[0] - 1} cores is singular or "
            f"ill-conditioned (condition number {condition:.3g}) with the "
            f"{variogram.model} variogram (nugget {variogram.nugget:.3g})",
            fix="use a variogram with a nugget > 0, or the spherical or exponential model",
        )
    return np.asarray(np.linalg.solve(a, rhs), dtype=np.float64)


@dataclass(frozen=True)
class BlockChange:
    """Block-kriging estimates of two epochs' mean SOC and the correlation of their errors.

    Attributes
    ----------
    first, second
        Each epoch's :class:`BlockEstimate` (as :func:`areal_mean_variance`).
    error_covariance
        Cov(e₁, e₂) of the two block-mean errors, (Mg C/ha)².
    error_correlation
        Cov / (σ₁ σ₂), in [−1, 1] (0 when a variance is 0).
    change_mg_ha, change_se_mg_ha
        Mean change (second − first) and its SE, Mg C/ha.
    shared_variogram
        The structured covariance taken as common to both epochs.
    """

    first: BlockEstimate
    second: BlockEstimate
    error_covariance: float
    error_correlation: float
    change_mg_ha: float
    change_se_mg_ha: float
    shared_variogram: VariogramModel

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        v = self.shared_variogram
        return {
            "first": self.first.to_dict(),
            "second": self.second.to_dict(),
            "error_covariance": self.error_covariance,
            "error_correlation": self.error_correlation,
            "change_mg_ha": self.change_mg_ha,
            "change_se_mg_ha": self.change_se_mg_ha,
            "shared_variogram": {
                "model": v.model,
                "partial_sill": v.psill,
                "range_m": v.range_m,
                "units": v.units,
            },
        }


def block_change(
    first: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike, npt.ArrayLike | None],
    second: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike, npt.ArrayLike | None],
    grid: Grid,
    *,
    variograms: tuple[VariogramModel, VariogramModel],
    mask: npt.ArrayLike | None = None,
    n_block_points: int = DEFAULT_N_BLOCK_POINTS,
    site_radius_m: float = DEFAULT_SITE_RADIUS_M,
) -> BlockChange:
    """Block kriging of both epochs' mean SOC with the covariance of their errors.

    Parameters
    ----------
    first, second
        ``(x, y, stocks, stock_se)`` of each epoch's cores (grid CRS m,
        Mg C/ha; SE may be ``None``).
    grid
        The analysis grid.
    variograms
        Each epoch's fitted variogram (as for :func:`areal_mean_variance`).
    mask
        Cells of the block (default every cell).
    n_block_points
        About how many points discretise the block.
    site_radius_m
        Cores of the two epochs closer than this are the same site revisited:
        they share the site's micro-scale variation (the process nugget).

    Returns
    -------
    BlockChange

    Notes
    -----
    The kriging error of epoch k is e_k = Σᵢ λ_kᵢ Z_k(x_kᵢ) − Z_k(B) (with
    its independent measurement noise). When the same ground is sampled twice
    the two fields share their spatial pattern: Z₂ = Z₁ + D, with the change D
    independent of Z₁. The structured (spatially correlated) covariance common
    to both epochs is taken as that of the epoch with the smaller partial
    sill, C_s. The nugget is micro-scale variation plus measurement error
    (the cores' SE): the measurement errors of the two epochs are independent,
    the micro-scale variation of a site persists, so a core revisited within
    ``site_radius_m`` shares the smaller of the two process nuggets
    c₀ₛ = min(c₀ₖ − mean SEₖ²), and cores of different sites share nothing of
    it. Then, with C₁₂(xᵢ, yⱼ) = C_s(|xᵢ − yⱼ|) + c₀ₛ [|xᵢ − yⱼ| ≤ r],

        Cov(e₁, e₂) = λ₁ᵀ C₁₂(X₁, X₂) λ₂ − λ₁ᵀ C̄_s(X₁, B) − λ₂ᵀ C̄_s(X₂, B) + C̄_s(B, B)

    and Var(ẑ₂ − ẑ₁ − (Z₂(B) − Z₁(B))) = σ²_B1 + σ²_B2 − 2 Cov(e₁, e₂)
    (the covariance of two linear predictors, Journel & Huijbregts 1978
    §V.A; Papritz & Webster 1995, Eur. J. Soil Sci. 46:295, for kriging
    soil change from two surveys). Cores at the same sites make the errors
    positively correlated, so the change is known better than the two stocks.
    """
    v1, v2 = variograms
    if not math.isfinite(site_radius_m) or site_radius_m < 0:
        raise ConfigError(
            f"site radius {site_radius_m} m is not a distance ≥ 0",
            fix="give the largest distance between two visits of one site, in metres",
        )
    estimates = []
    weights = []
    points = []
    process_nuggets = []
    block = discretise_block(grid, mask=mask, n_points=n_block_points)
    for (x, y, values, se), v in ((first, v1), (second, v2)):
        xy, zs = core_arrays(x, y, values)
        noise = measurement_variances(se, zs.size)
        process_nuggets.append(max(v.nugget - float(noise.mean()), 0.0))
        estimate, w = _block_estimate(v, xy, zs, noise, block)
        estimates.append(estimate)
        weights.append(w)
        points.append(xy)
    shared = v1 if v1.psill <= v2.psill else v2
    block_xy = np.column_stack([block.x, block.y])
    block_cov = float(mean_covariance_to_block(shared, block_xy, block) @ block.weights)
    distance = cdist(points[0], points[1])
    shared_nugget = min(process_nuggets) * (distance <= site_radius_m)
    cross_cov = structured_covariance(shared, distance) + shared_nugget
    cross = float(weights[0] @ cross_cov @ weights[1])

    to_block = [
        float(w @ mean_covariance_to_block(shared, xy, block))
        for w, xy in zip(weights, points, strict=True)
    ]
    covariance = cross - to_block[0] - to_block[1] + block_cov
    e1, e2 = estimates
    denominator = math.sqrt(e1.variance * e2.variance)
    correlation = float(np.clip(covariance / denominator, -1.0, 1.0)) if denominator > 0 else 0.0
    covariance = correlation * denominator
    change_var = max(e1.variance + e2.variance - 2.0 * covariance, 0.0)
    return BlockChange(
        first=e1,
        second=e2,
        error_covariance=covariance,
        error_correlation=correlation,
        change_mg_ha=e2.mean_mg_ha - e1.mean_mg_ha,
        change_se_mg_ha=math.sqrt(change_var),
        shared_variogram=shared,
    )
