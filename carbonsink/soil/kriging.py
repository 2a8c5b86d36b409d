"""Spatial prediction of soil organic carbon stocks: variograms, kriging, cross-validation.

Core stocks (Mg C/ha at point support, e.g. 0–30 cm) are interpolated onto the
analysis grid by ordinary kriging, or by regression kriging on grid-aligned
covariates (elevation, land-cover class, indices), with a prediction variance
and a central prediction interval per cell (METHODOLOGY.md §3). The kriging is
local — each cell uses its ``n_neighbours`` nearest cores — and runs over the
grid in tiles, so memory stays bounded whatever the grid size (DESIGN.md §6).

The pieces are public so that they can be used and checked one by one:

* :func:`empirical_variogram` and :func:`fit_variogram` (models in
  :data:`VARIOGRAM_MODELS`) give a :class:`VariogramModel` with its nugget,
  partial sill and range in stated units;
* :func:`predict_soc` maps the stock with its variance and interval;
* :func:`cross_validate_soc` scores the same procedure by leave-one-out or
  spatial-block cross-validation (:class:`SocCrossValidation`);
* :func:`sample_covariates` reads covariate layers at the cores.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr
from scipy.linalg import solve_triangular
from scipy.optimize import least_squares
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from carbonsink.errors import ConfigError, GridError, InputError, ModelError
from carbonsink.grid import Grid

__all__ = [
    "MIN_POINTS_VARIOGRAM",
    "SOC_METHODS",
    "SOC_UNITS",
    "SOC_VARIANCE_UNITS",
    "VARIOGRAM_MODELS",
    "EmpiricalVariogram",
    "SocCrossValidation",
    "SocMethod",
    "Support",
    "VariogramModel",
    "VariogramName",
    "cross_validate_soc",
    "empirical_variogram",
    "fit_variogram",
    "predict_soc",
    "sample_covariates",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

SocMethod = Literal["regression-kriging", "ordinary-kriging"]
VariogramName = Literal["spherical", "exponential", "gaussian"]
Support = Literal["cell", "point"]

#: The spatial prediction methods :func:`predict_soc` knows.
SOC_METHODS: Final[tuple[str, ...]] = get_args(SocMethod)
#: Units of a SOC stock density.
SOC_UNITS: Final = "Mg C/ha"
#: Units of the variance of a SOC stock density (and of semivariances).
SOC_VARIANCE_UNITS: Final = "(Mg C/ha)^2"
#: Fewest points a variogram is fitted to (45 pairs); fewer give no usable variogram.
MIN_POINTS_VARIOGRAM: Final = 10
#: Default number of distance classes of the empirical variogram.
DEFAULT_N_LAGS: Final = 12

#: Neighbour sets whose kriging systems are built at once (≈ 9 kB each for k = 32).
_SETS_PER_BATCH: Final = 1024
#: Largest ‖A·A⁻¹ − I‖ accepted for a kriging system before it is called singular.
_INVERSE_TOLERANCE: Final = 1e-6


# ---------------------------------------------------------------- variograms
def _spherical(h_over_a: FloatArray) -> FloatArray:
    """Spherical structure: 1.5 r − 0.5 r³ for r = h/a < 1, else 1."""
    r = np.minimum(h_over_a, 1.0)
    return np.asarray(r * (1.5 - 0.5 * r * r), dtype=np.float64)


def _exponential(h_over_a: FloatArray) -> FloatArray:
    """Exponential structure with practical range a: 1 − exp(−3 h/a)."""
    return np.asarray(-np.expm1(-3.0 * h_over_a), dtype=np.float64)


def _gaussian(h_over_a: FloatArray) -> FloatArray:
    """Gaussian structure with practical range a: 1 − exp(−3 (h/a)²)."""
    return np.asarray(-np.expm1(-3.0 * h_over_a * h_over_a), dtype=np.float64)


#: Normalised variogram structures f(h/a) (0 at the origin, → 1 at and beyond the range a).
VARIOGRAM_MODELS: Final[Mapping[str, Callable[[FloatArray], FloatArray]]] = MappingProxyType(
    {"spherical": _spherical, "exponential": _exponential, "gaussian": _gaussian}
)


def _check_choice(value: object, choices: Sequence[str], what: str) -> None:
    if not isinstance(value, str) or value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ConfigError(
            f"unknown {what} {value!r}; valid: {valid}",
            fix=f"set the {what} to one of {valid}",
        )


@dataclass(frozen=True)
class EmpiricalVariogram:
    """The experimental semivariogram of point values, by distance class.

    Attributes
    ----------
    lag_m
        Mean separation distance of the pairs in each class, m.
    semivariance
        Matheron's estimate γ̂(h) per class, in ``units``.
    n_pairs
        Number of point pairs in each class.
    units
        Units of ``semivariance``.
    """

    lag_m: FloatArray
    semivariance: FloatArray
    n_pairs: npt.NDArray[np.int64]
    units: str = SOC_VARIANCE_UNITS

    def to_frame(self) -> pd.DataFrame:
        """The classes as a table: ``lag_m, semivariance, n_pairs``."""
        return pd.DataFrame(
            {"lag_m": self.lag_m, "semivariance": self.semivariance, "n_pairs": self.n_pairs}
        )


@dataclass(frozen=True)
class VariogramModel:
    """A fitted (or given) isotropic variogram: nugget + partial sill × f(h / range).

    Parameters
    ----------
    model
        ``"spherical"``, ``"exponential"`` or ``"gaussian"`` (:data:`VARIOGRAM_MODELS`).
    nugget
        Semivariance at an infinitesimal distance, in ``units``.
    psill
        Partial sill (sill − nugget), in ``units``.
    range_m
        (Practical) range in metres: where the spherical model reaches its sill,
        and the exponential and Gaussian models 95 % of the partial sill.
    units
        Units of nugget, partial sill and sill.

    Notes
    -----
    γ(0) = 0 and, for h > 0, γ(h) = c₀ + c₁ f(h/a) with

    * spherical f(r) = 1.5 r − 0.5 r³ (r < 1), 1 (r ≥ 1);
    * exponential f(r) = 1 − exp(−3 r);
    * Gaussian f(r) = 1 − exp(−3 r²);

    (Webster & Oliver 2007, *Geostatistics for Environmental Scientists*,
    2nd ed., §6.3, practical-range forms). The covariance is
    C(h) = c₀ + c₁ − γ(h). pykrige writes the Gaussian with (4/7 a)² instead of
    a²/3; spherical and exponential are the same as pykrige's.
    """

    model: VariogramName
    nugget: float
    psill: float
    range_m: float
    units: str = SOC_VARIANCE_UNITS

    def __post_init__(self) -> None:
        _check_choice(self.model, tuple(VARIOGRAM_MODELS), "variogram model")
        for label, value in (("nugget", self.nugget), ("partial sill", self.psill)):
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(
                    f"variogram {label} {value!r} is not a number ≥ 0",
                    fix=f"give the {label} in {self.units}, ≥ 0",
                )
        if not (math.isfinite(self.range_m) and self.range_m > 0):
            raise ConfigError(
                f"variogram range {self.range_m!r} m is not a positive number",
                fix="give the range in metres, > 0",
            )
        if self.nugget + self.psill <= 0:
            raise ConfigError(
                "the variogram's sill (nugget + partial sill) is 0",
                fix="give a positive nugget or partial sill",
            )

    @property
    def sill(self) -> float:
        """Total sill, nugget + partial sill, in ``units``."""
        return self.nugget + self.psill

    def semivariance(self, distance_m: npt.ArrayLike) -> FloatArray:
        """γ(h) at separation distances ``distance_m`` (0 exactly at h = 0)."""
        h = np.asarray(distance_m, dtype=np.float64)
        shape = VARIOGRAM_MODELS[self.model](h / self.range_m)
        gamma = self.nugget + self.psill * shape
        return np.asarray(np.where(h > 0, gamma, 0.0), dtype=np.float64)

    def covariance(self, distance_m: npt.ArrayLike) -> FloatArray:
        """C(h) = sill − γ(h); C(0) = sill."""
        return self.sill - self.semivariance(distance_m)

    def to_dict(self) -> dict[str, Any]:
        """The parameters with their units, e.g. for a manifest or dataset attributes."""
        return {
            "model": self.model,
            "nugget": self.nugget,
            "psill": self.psill,
            "sill": self.sill,
            "range_m": self.range_m,
            "units": self.units,
            "range_units": "m",
        }


def _as_points(
    x: npt.ArrayLike, y: npt.ArrayLike, values: npt.ArrayLike, *, what: str = "value"
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validated float64 copies of point coordinates and values."""
    xs = np.array(x, dtype=np.float64, ndmin=1).ravel()
    ys = np.array(y, dtype=np.float64, ndmin=1).ravel()
    zs = np.array(values, dtype=np.float64, ndmin=1).ravel()
    if not (xs.size == ys.size == zs.size):
        raise InputError(
            f"x, y and {what}s have different lengths ({xs.size}, {ys.size}, {zs.size})",
            fix="give one x, y and value per core",
        )
    bad_xy = ~(np.isfinite(xs) & np.isfinite(ys))
    if bad_xy.any():
        raise InputError(
            f"{int(bad_xy.sum())} point(s) have missing or infinite coordinates",
            where=_positions_text(np.flatnonzero(bad_xy)),
            fix="drop those points or give their coordinates",
        )
    bad = ~np.isfinite(zs)
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} point(s) have a missing (NaN) or infinite {what}",
            where=_positions_text(np.flatnonzero(bad)),
            fix=f"drop those points or give their {what} (core stock in {SOC_UNITS})",
        )
    return xs, ys, zs


def _check_stocks(zs: FloatArray) -> None:
    negative = zs < 0
    if negative.any():
        raise InputError(
            f"{int(negative.sum())} core stock(s) are negative "
            f"(smallest {zs.min():.4g} {SOC_UNITS})",
            where=_positions_text(np.flatnonzero(negative)),
            fix="check those cores: a SOC stock is ≥ 0",
        )


def _positions_text(positions: npt.NDArray[np.intp], *, limit: int = 8) -> str:
    shown = ", ".join(str(int(p)) for p in positions[:limit])
    more = f" and {positions.size - limit} more" if positions.size > limit else ""
    return f"point(s) at position {shown}{more}"


def _check_distinct(xs: FloatArray, ys: FloatArray) -> None:
    """Kriging systems are singular when two points share a location."""
    xy = np.column_stack([xs, ys])
    _, inverse, counts = np.unique(xy, axis=0, return_inverse=True, return_counts=True)
    if (counts > 1).any():
        dupes = np.flatnonzero(counts[inverse.ravel()] > 1)
        raise InputError(
            f"{int((counts > 1).sum())} location(s) hold more than one point",
            where=_positions_text(dupes),
            fix="average the cores taken at the same location into one value first",
        )


def empirical_variogram(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    n_lags: int = DEFAULT_N_LAGS,
    max_lag_m: float | None = None,
) -> EmpiricalVariogram:
    """Matheron's experimental semivariogram of point values.

    Parameters
    ----------
    x, y
        Point coordinates in a projected CRS, m.
    values
        One value per point (e.g. core stocks in Mg C/ha, or regression residuals).
    n_lags
        Number of equal-width distance classes between 0 and ``max_lag_m``.
    max_lag_m
        Largest separation used; default half the largest distance between
        two points (Journel & Huijbregts 1978 rule of thumb).

    Returns
    -------
    EmpiricalVariogram
        Non-empty classes only.

    Raises
    ------
    InputError
        Fewer than :data:`MIN_POINTS_VARIOGRAM` points, NaN values, or all
        points at one place.

    Notes
    -----
    γ̂(h) = 1 / (2 N(h)) Σ_{(i,j): |sᵢ − sⱼ| ∈ h} (z(sᵢ) − z(sⱼ))² (Matheron
    1962; Webster & Oliver 2007 eq. 4.13), h the mean distance of the pairs
    in the class. All n(n − 1)/2 pair distances are formed at once, which is
    fine for the few hundred cores of a survey (500 cores → 125,000 pairs).
    """
    xs, ys, zs = _as_points(x, y, values)
    if xs.size < MIN_POINTS_VARIOGRAM:
        raise InputError(
            f"a variogram needs at least {MIN_POINTS_VARIOGRAM} points; {xs.size} given",
            fix=f"sample at least {MIN_POINTS_VARIOGRAM} cores, or give a fixed VariogramModel",
        )
    if n_lags < 1:
        raise ConfigError(f"n_lags is {n_lags}", fix="use at least 1 distance class")
    xy = np.column_stack([xs, ys])
    distance = pdist(xy)
    half_sq_diff = 0.5 * pdist(zs[:, None], metric="sqeuclidean")
    longest = float(distance.max())
    if longest <= 0:
        raise InputError("all points are at the same location", fix="check the coordinates")
    limit = 0.5 * longest if max_lag_m is None else float(max_lag_m)
    if not (math.isfinite(limit) and limit > 0):
        raise ConfigError(f"max_lag_m {max_lag_m!r} is not a positive distance", fix="give m > 0")
    edges = np.linspace(0.0, limit, n_lags + 1)
    keep = (distance > 0) & (distance <= limit)
    which = np.clip(np.searchsorted(edges, distance[keep], side="left") - 1, 0, n_lags - 1)
    n_pairs = np.bincount(which, minlength=n_lags).astype(np.int64)
    sum_d = np.bincount(which, weights=distance[keep], minlength=n_lags)
    sum_g = np.bincount(which, weights=half_sq_diff[keep], minlength=n_lags)
    full = n_pairs > 0
    return EmpiricalVariogram(
        lag_m=sum_d[full] / n_pairs[full],
        semivariance=sum_g[full] / n_pairs[full],
        n_pairs=n_pairs[full],
    )


def fit_variogram(
    empirical: EmpiricalVariogram, *, model: VariogramName = "spherical"
) -> VariogramModel:
    """Fit a variogram model to an experimental variogram by weighted least squares.

    Parameters
    ----------
    empirical
        From :func:`empirical_variogram`.
    model
        ``"spherical"``, ``"exponential"`` or ``"gaussian"``.

    Returns
    -------
    VariogramModel
        Nugget and partial sill in the empirical variogram's units, range in m.

    Raises
    ------
    ConfigError
        Unknown model name.
    ModelError
        Fewer than two distance classes, or no variation at all.

    Notes
    -----
    Minimises Cressie's (1985, *Math. Geol.* 17:563) weighted criterion
    Σⱼ N(hⱼ) [γ̂(hⱼ) / γ(hⱼ; θ) − 1]², which weights classes with many pairs
    and short lags most, with :func:`scipy.optimize.least_squares` from
    three starting ranges (¼, ½ and 1 × the largest lag), keeping the best.
    Bounds: nugget and partial sill in [0, 2 max γ̂], range in
    [0.05, 2] × the largest lag — a range that runs to the upper bound means
    the data show no sill within the sampled distances (a trend: consider
    regression kriging).
    """
    _check_choice(model, tuple(VARIOGRAM_MODELS), "variogram model")
    lags = np.asarray(empirical.lag_m, dtype=np.float64)
    gamma = np.asarray(empirical.semivariance, dtype=np.float64)
    weights = np.sqrt(np.asarray(empirical.n_pairs, dtype=np.float64))
    if lags.size < 2:
        raise ModelError(
            f"the empirical variogram has {lags.size} distance class(es); a model needs ≥ 2",
            fix="use more points or more distance classes (n_lags)",
        )
    top = float(gamma.max())
    if not top > 0:
        raise ModelError(
            "the values do not vary (every semivariance is 0)",
            fix="check the core stocks; a constant map needs no kriging",
        )
    longest = float(lags.max())
    shape = VARIOGRAM_MODELS[model]

    # Parameters scaled to order 1: nugget / top, psill / top, range / longest.
    def residuals(theta: FloatArray) -> FloatArray:
        fitted = top * (theta[0] + theta[1] * shape(lags / (theta[2] * longest)))
        return np.asarray(weights * (gamma / np.maximum(fitted, 1e-12 * top) - 1.0))

    lower = np.array([0.0, 0.0, 0.05])
    upper = np.array([2.0, 2.0, 2.0])
    start_nugget = float(np.clip(gamma[0] / top * 0.5, 0.0, 1.0))
    best: Any = None
    for start_range in (0.25, 0.5, 1.0):
        start = np.array([start_nugget, max(1.0 - start_nugget, 0.05), start_range])
        fit = least_squares(residuals, start, bounds=(lower, upper), method="trf")
        if best is None or fit.cost < best.cost:
            best = fit
    nugget, psill, range_scaled = (float(v) for v in best.x)
    result = VariogramModel(
        model=model,
        nugget=nugget * top,
        psill=psill * top,
        range_m=range_scaled * longest,
        units=empirical.units,
    )
    logger.info(
        "fitted %s variogram: nugget %.4g, partial sill %.4g %s, range %.1f m",
        model,
        result.nugget,
        result.psill,
        result.units,
        result.range_m,
    )
    return result


# ------------------------------------------------------------ local kriging
class _LocalOrdinaryKriging:
    """Ordinary kriging from the ``k`` nearest points, one system per neighbour set.

    Cells whose k nearest points are the same set share the kriging matrix;
    it is inverted once per distinct set (order-k Voronoi region), and each
    cell then costs only its covariance vector and two products.
    """

    def __init__(
        self,
        xs: FloatArray,
        ys: FloatArray,
        zs: FloatArray,
        variogram: VariogramModel,
        *,
        noise_var: FloatArray,
        n_neighbours: int,
    ) -> None:
        self.xy = np.column_stack([xs, ys])
        self.z = zs
        self.variogram = variogram
        self.noise_var = noise_var
        self.k = min(n_neighbours, xs.size)
        self.tree = cKDTree(self.xy)
        # Fixed odd multipliers that hash a sorted neighbour set to one integer;
        # a collision is detected and resolved exactly in :meth:`predict`.
        multipliers = np.random.default_rng(self.k).integers(1, 2**62, size=self.k)
        self.set_hash = multipliers.astype(np.uint64) | np.uint64(1)

    def _systems(self, sets: npt.NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        """Inverse OK matrices (G, k+1, k+1) and weight vectors A⁻¹[z; 0] (G, k+1)."""
        g, k = sets.shape
        pts = self.xy[sets]
        dist = np.sqrt(((pts[:, :, None, :] - pts[:, None, :, :]) ** 2).sum(axis=-1))
        a = np.zeros((g, k + 1, k + 1), dtype=np.float64)
        a[:, :k, :k] = self.variogram.covariance(dist)
        diag = np.arange(k)
        a[:, diag, diag] += self.noise_var[sets]
        a[:, k, :k] = 1.0
        a[:, :k, k] = 1.0
        try:
            a_inv = np.linalg.inv(a)
        except np.linalg.LinAlgError:
            a_inv = np.full_like(a, np.nan)
        error = np.abs(a @ a_inv - np.eye(k + 1)).max(axis=(1, 2))
        if not np.all(error < _INVERSE_TOLERANCE):
            raise ModelError(
                f"the kriging system of a {k}-point neighbourhood is singular or "
                f"ill-conditioned with the {self.variogram.model} variogram "
                f"(nugget {self.variogram.nugget:.3g})",
                fix="use a variogram with a nugget > 0, or the spherical or exponential model",
            )
        rhs = np.zeros((g, k + 1), dtype=np.float64)
        rhs[:, :k] = self.z[sets]
        weights = np.einsum("gij,gj->gi", a_inv, rhs)
        return a_inv, weights

    def predict(
        self, xq: FloatArray, yq: FloatArray, *, point_support: bool
    ) -> tuple[FloatArray, FloatArray]:
        """Kriged value and kriging variance at query points.

        With ``point_support`` the target includes the nugget (a core taken
        there); otherwise it is the cell value, whose nugget (within-cell and
        measurement variation) averages out (see :func:`predict_soc`).
        """
        m, k = xq.size, self.k
        if m == 0:
            return np.empty(0), np.empty(0)
        _, found = self.tree.query(np.column_stack([xq, yq]), k=k)
        idx = np.sort(np.asarray(found, dtype=np.intp).reshape(m, k), axis=1)
        keys = (idx.astype(np.uint64) * self.set_hash).sum(axis=1, dtype=np.uint64)
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        sets = idx[first]
        if not np.array_equal(sets[inverse], idx):  # a hash collision: group exactly
            sets, inverse = np.unique(idx, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        del idx, keys
        prediction = np.empty(m, dtype=np.float64)
        variance = np.empty(m, dtype=np.float64)
        by_set = np.argsort(inverse, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(sets)))])
        # Systems are built in batches so that scattered query points (one set
        # each) cannot make the (sets, k+1, k+1) arrays large.
        for start in range(0, len(sets), _SETS_PER_BATCH):
            batch = slice(start, start + _SETS_PER_BATCH)
            a_inv, weights = self._systems(sets[batch])
            with threadpool_limits(limits=1, user_api="blas"):
                self._solve_groups(
                    sets[batch],
                    by_set,
                    bounds[start : start + _SETS_PER_BATCH + 1],
                    a_inv,
                    weights,
                    xq,
                    yq,
                    prediction,
                    variance,
                    point_support,
                )
        return prediction, np.maximum(variance, 0.0)

    def _solve_groups(
        self,
        sets: npt.NDArray[np.intp],
        by_set: npt.NDArray[np.intp],
        bounds: npt.NDArray[np.intp],
        a_inv: FloatArray,
        weights: FloatArray,
        xq: FloatArray,
        yq: FloatArray,
        prediction: FloatArray,
        variance: FloatArray,
        point_support: bool,
    ) -> None:
        """Fill ``prediction`` and ``variance`` for the cells of each neighbour set.

        The products are small ((cells of a set) × (k+1)²); multi-threaded BLAS
        only adds overhead to them, hence one BLAS thread (threadpoolctl).
        """
        k = self.k
        v = self.variogram
        shape = VARIOGRAM_MODELS[v.model]
        target = v.sill if point_support else v.psill
        for g, members in enumerate(sets):
            cells = by_set[bounds[g] : bounds[g + 1]]
            dx = xq[cells, None] - self.xy[members, 0]
            dy = yq[cells, None] - self.xy[members, 1]
            dist = np.sqrt(dx * dx + dy * dy)
            b = np.empty((cells.size, k + 1), dtype=np.float64)
            b[:, :k] = v.psill * (1.0 - shape(dist / v.range_m))
            if point_support and v.nugget > 0:
                b[:, :k] += np.where(dist == 0.0, v.nugget, 0.0)
            b[:, k] = 1.0
            prediction[cells] = b @ weights[g]
            variance[cells] = target - ((b @ a_inv[g]) * b).sum(axis=1)


# ------------------------------------------------------------- regression
@dataclass(frozen=True)
class _Design:
    """The regression design: intercept, continuous columns and one-hot classes."""

    continuous: tuple[str, ...]
    categorical: tuple[str, ...]
    levels: tuple[tuple[float, ...], ...]

    @classmethod
    def from_points(cls, frame: pd.DataFrame, categorical: Sequence[str]) -> _Design:
        cats = tuple(c for c in frame.columns if c in set(categorical))
        conts = tuple(str(c) for c in frame.columns if c not in set(cats))
        levels = tuple(
            tuple(float(v) for v in np.unique(frame[c].to_numpy(dtype=np.float64))) for c in cats
        )
        return cls(continuous=conts, categorical=tuple(str(c) for c in cats), levels=levels)

    @property
    def terms(self) -> tuple[str, ...]:
        dummies = [
            f"{name}={_level_text(v)}"
            for name, levels in zip(self.categorical, self.levels, strict=True)
            for v in levels[1:]
        ]
        return ("intercept", *self.continuous, *dummies)

    @property
    def reference_levels(self) -> dict[str, float]:
        return {n: lv[0] for n, lv in zip(self.categorical, self.levels, strict=True)}

    def unseen(self, columns: Mapping[str, FloatArray]) -> dict[str, list[float]]:
        """Class values present in ``columns`` but absent from the points."""
        out: dict[str, list[float]] = {}
        for name, levels in zip(self.categorical, self.levels, strict=True):
            col = columns[name]
            present = np.unique(col[np.isfinite(col)])
            extra = sorted(set(present.tolist()) - set(levels))
            if extra:
                out[name] = extra
        return out

    def matrix(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        """Design rows (m, p); rows with any missing input are NaN."""
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


def _level_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class _Regression:
    """Ordinary least squares fit with what the prediction variance needs."""

    design: _Design
    coefficients: FloatArray
    r_factor: FloatArray
    residual_variance: float

    def predict(self, x0: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Trend x₀ᵀβ and its variance σ² x₀ᵀ(XᵀX)⁻¹x₀ for design rows ``x0``."""
        trend = x0 @ self.coefficients
        u = solve_triangular(self.r_factor, x0.T, trans="T", lower=False)
        return trend, self.residual_variance * np.einsum("ij,ij->j", u, u)


def _fit_regression(design: _Design, x: FloatArray, zs: FloatArray) -> _Regression:
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
    return _Regression(design, np.asarray(beta), np.asarray(r_factor), sigma2)


# ---------------------------------------------------------------- the model
@dataclass(frozen=True)
class _SocModel:
    """A fitted SOC model: optional regression trend + local OK of the residuals."""

    method: SocMethod
    variogram: VariogramModel
    kriging: _LocalOrdinaryKriging
    regression: _Regression | None
    measurement_variance_mean: float

    def predict(
        self,
        xq: FloatArray,
        yq: FloatArray,
        design_rows: FloatArray | None,
        *,
        point_support: bool,
    ) -> tuple[FloatArray, FloatArray]:
        residual, variance = self.kriging.predict(xq, yq, point_support=point_support)
        if self.regression is None:
            return residual, variance
        assert design_rows is not None
        trend, trend_variance = self.regression.predict(design_rows)
        return trend + residual, variance + trend_variance


def _needed_points(method: SocMethod, n_terms: int, fitting: bool) -> int:
    kriging = MIN_POINTS_VARIOGRAM if fitting else 1
    return (n_terms + kriging) if method == "regression-kriging" else max(kriging, 1)


def _fit_soc_model(
    xs: FloatArray,
    ys: FloatArray,
    zs: FloatArray,
    frame: pd.DataFrame | None,
    *,
    method: SocMethod,
    categorical: Sequence[str],
    variogram_model: VariogramName | VariogramModel,
    n_neighbours: int,
    noise_var: FloatArray,
) -> _SocModel:
    fitting = not isinstance(variogram_model, VariogramModel)
    regression: _Regression | None = None
    residuals = zs
    if method == "regression-kriging":
        assert frame is not None
        design = _Design.from_points(frame, categorical)
        needed = _needed_points(method, len(design.terms), fitting)
        if xs.size < needed:
            raise InputError(
                f"regression kriging with {len(design.terms)} regression terms "
                f"({', '.join(design.terms)}) needs at least {needed} points; {xs.size} given",
                fix="sample more cores, use fewer covariates, or method='ordinary-kriging'",
            )
        columns = {c: frame[c].to_numpy(dtype=np.float64) for c in frame.columns}
        x = design.matrix(columns)
        regression = _fit_regression(design, x, zs)
        residuals = zs - x @ regression.coefficients
    else:
        needed = _needed_points(method, 0, fitting)
        if xs.size < needed:
            raise InputError(
                f"ordinary kriging with a fitted variogram needs at least {needed} points; "
                f"{xs.size} given",
                fix="sample more cores, or give a fixed VariogramModel",
            )
    if isinstance(variogram_model, VariogramModel):
        variogram = variogram_model
    else:
        _check_choice(variogram_model, tuple(VARIOGRAM_MODELS), "variogram model")
        variogram = fit_variogram(empirical_variogram(xs, ys, residuals), model=variogram_model)
    measurement = float(noise_var.mean()) if noise_var.size else 0.0
    process_nugget = max(variogram.nugget - measurement, 0.0)
    if process_nugget + variogram.psill <= 0:
        raise ModelError(
            "the variogram's sill is no larger than the measurement variance of the cores",
            fix="check value_se: it should be the standard error of each core stock",
        )
    process = VariogramModel(
        model=variogram.model,
        nugget=process_nugget,
        psill=variogram.psill,
        range_m=variogram.range_m,
        units=variogram.units,
    )
    kriging = _LocalOrdinaryKriging(
        xs, ys, residuals, process, noise_var=noise_var, n_neighbours=n_neighbours
    )
    return _SocModel(method, variogram, kriging, regression, measurement)


# -------------------------------------------------------------- covariates
def _check_covariates(covariates: xr.Dataset, grid: Grid) -> tuple[str, ...]:
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
    """
    names = _check_covariates(covariates, grid)
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


def _points_frame(
    frame: pd.DataFrame, n: int, categorical: Sequence[str]
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Numeric covariates at the points; NaN rows are an error."""
    if len(frame) != n:
        raise InputError(
            f"covariates_at_points has {len(frame)} rows for {n} points",
            fix="give one row of covariates per core, in the order of the cores",
        )
    if frame.shape[1] == 0:
        raise InputError("covariates_at_points has no columns", fix="give covariate columns")
    numeric = frame.apply(pd.to_numeric, errors="coerce").astype(np.float64).reset_index(drop=True)
    bad = ~np.isfinite(numeric.to_numpy()).all(axis=1)
    if bad.any():
        missing = [str(c) for c in numeric.columns if numeric[c].isna().any()]
        raise InputError(
            f"{int(bad.sum())} point(s) have no covariate value ({', '.join(missing)}): "
            "outside the grid or in a missing cell",
            where=_positions_text(np.flatnonzero(bad)),
            fix="drop those cores, fill the covariate layers there, or use ordinary kriging",
        )
    cats = tuple(str(c) for c in numeric.columns if c in set(categorical))
    return numeric, cats


def _interval_z(interval: float) -> float:
    if not (isinstance(interval, int | float) and 0 < interval < 1):
        raise ConfigError(
            f"interval {interval!r} is not a probability between 0 and 1",
            fix="give the central interval as a fraction, e.g. 0.90",
        )
    return float(norm.ppf(0.5 + interval / 2.0))


def _noise(value_se: npt.ArrayLike | None, n: int) -> FloatArray:
    if value_se is None:
        return np.zeros(n, dtype=np.float64)
    se = np.array(value_se, dtype=np.float64, ndmin=1).ravel()
    if se.size != n:
        raise InputError(
            f"value_se has {se.size} entries for {n} points",
            fix="give one standard error per core, or none",
        )
    bad = ~(np.isfinite(se) & (se >= 0))
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} standard error(s) in value_se are missing or negative",
            where=_positions_text(np.flatnonzero(bad)),
            fix=f"give each core's stock standard error in {SOC_UNITS}, ≥ 0",
        )
    return se**2


def _check_options(method: str, n_neighbours: int, variogram_model: object) -> None:
    _check_choice(method, SOC_METHODS, "SOC prediction method")
    if not isinstance(variogram_model, VariogramModel):
        _check_choice(variogram_model, tuple(VARIOGRAM_MODELS), "variogram model")
    if isinstance(n_neighbours, bool) or not (
        isinstance(n_neighbours, int | np.integer) and n_neighbours >= 1
    ):
        raise ConfigError(
            f"n_neighbours {n_neighbours!r} is not a whole number ≥ 1",
            fix="use e.g. 32 nearest cores per cell",
        )


# -------------------------------------------------------------- prediction
def predict_soc(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    values: npt.ArrayLike,
    grid: Grid,
    *,
    covariates: xr.Dataset | None = None,
    categorical: Sequence[str] = ("class",),
    method: SocMethod = "regression-kriging",
    variogram_model: VariogramName | VariogramModel = "spherical",
    n_neighbours: int = 32,
    chunk_cells: int = 65_536,
    mask: npt.ArrayLike | None = None,
    name: str = "soc_0_30_mg_ha",
    interval: float = 0.90,
    value_se: npt.ArrayLike | None = None,
    support: Support = "point",
) -> xr.Dataset:
    """Map a SOC stock from core values by ordinary or regression kriging, with variance.

    Parameters
    ----------
    x, y
        Core locations in the grid's CRS, m.
    values
        Core stocks (e.g. 0–30 cm) in Mg C/ha.
    grid
        The analysis grid.
    covariates
        Grid-aligned layers (dims ``("y", "x")``, e.g. ``elevation_m`` and
        ``class``), every data variable used; required for regression kriging.
    categorical
        Names of covariate layers holding class codes, one-hot encoded with the
        smallest class sampled as the reference level.
    method
        ``"regression-kriging"`` or ``"ordinary-kriging"`` (:data:`SOC_METHODS`).
    variogram_model
        A model name to fit (:data:`VARIOGRAM_MODELS`) or a fixed
        :class:`VariogramModel` (of the residuals, for regression kriging).
    n_neighbours
        Nearest cores used for each cell.
    chunk_cells
        Cells per tile; tiles are ``√chunk_cells`` cells square.
    mask
        Boolean ``grid.shape`` array, ``True`` where to predict; default everywhere.
    name
        Name of the predicted variable.
    interval
        Central probability of the prediction interval.
    value_se
        Standard error of each core value (Mg C/ha), treated as measurement error.
    support
        What is predicted: ``"point"`` (default) the value a core would
        measure at the cell centre (the nugget included); ``"cell"`` the value
        of the grid cell, whose nugget variation averages out. ``"cell"`` is
        right only when the nugget is all micro-site and laboratory variation;
        a nugget fitted from few cores also holds short-range structure that
        the cells do have, and dropping it makes the intervals too narrow
        (synthetic survey, 2025 cores, ordinary kriging: fitted nugget 54
        (Mg C/ha)², coverage of the 90 % intervals 0.71 with ``"cell"``, 0.90
        with ``"point"``). ``"point"`` is the conservative default.

    Returns
    -------
    xarray.Dataset
        On ``grid`` (float32): ``<name>`` (Mg C/ha), ``<name>_variance``
        ((Mg C/ha)²), ``<name>_lower`` and ``<name>_upper``; NaN outside
        ``mask`` and where a covariate is missing. Attributes record the
        method, the variogram (nugget, partial sill, sill, range, units), the
        regression terms and coefficients, and the number of points.

    Raises
    ------
    ConfigError
        Unknown method or variogram model, bad interval or options; regression
        kriging without covariates.
    InputError
        Too few points (the message says how many are needed), NaN values or
        coordinates, points sharing a location, cores without covariate values.
    GridError
        All points outside the grid, covariates or mask not on the grid.
    ModelError
        Collinear covariates, a class in the grid that no core samples, a
        singular kriging system.

    Notes
    -----
    *Ordinary kriging* (OK) of a cell s₀ from its k nearest cores solves
    [C 1; 1ᵀ 0][λ; μ] = [c₀; 1] with Cᵢⱼ = C(|sᵢ − sⱼ|) + δᵢⱼ seᵢ²,
    c₀ᵢ = C(|sᵢ − s₀|), C(h) = sill − γ(h); ẑ(s₀) = λᵀz and
    σ²_OK(s₀) = C(0) − λᵀc₀ − μ (Webster & Oliver 2007 §8.2, in covariance
    form).

    *Regression kriging* (RK; Hengl, Heuvelink & Rossiter 2007, *Computers &
    Geosciences* 33:1301, "About regression-kriging") fits the trend
    z = Xβ + ε by ordinary least squares on the covariates at the cores
    (intercept, continuous layers, one-hot classes), kriges the residuals ε
    by OK with a variogram fitted to them, and adds: ẑ(s₀) = x₀ᵀβ̂ + ε̂(s₀),
    σ²(s₀) = σ²_OK,ε(s₀) + σ̂² x₀ᵀ(XᵀX)⁻¹x₀ with σ̂² = RSS / (n − p). This
    sum ignores the covariance between the trend error and the kriged
    residual (Hengl et al.'s universal-kriging form uses x₀ − Xᵀλ where this
    uses x₀), so it is conservative next to cores and exact far from them;
    fitting the variogram to OLS residuals slightly underestimates the sill.

    *Measurement error*: when ``value_se`` is given, seᵢ² is added to the
    diagonal of C for each core, and the fitted nugget is reduced by the mean
    se² (floored at 0) so that it is not counted twice; the target variance
    C(0) then excludes the measurement error (kriging of the true value,
    Cressie 1993, *Statistics for Spatial Data*, §3.2.1). Cores with larger
    SE weigh less.

    *Support*: cores are points, the map is of cells. The nugget is variation
    at distances shorter than the closest cores — micro-site differences and
    laboratory error — which averages out over a cell. With
    ``support="cell"`` the target is the cell value without the nugget:
    c₀ᵢ = c₁(1 − f(|sᵢ − s₀|/a)) and C(0) = c₁ (partial sill), while the
    cores keep the nugget on the diagonal of C. This is block kriging of the
    cell (Webster & Oliver 2007 §8.3: the nugget contributes nothing to the
    variance of a block much larger than its scale) with the structured part
    evaluated at the cell centre, which errs by at most c₁ f(res/√2 / a),
    e.g. 1.7 % of c₁ for 10 m cells and a 400 m spherical range. With
    ``support="point"`` C(0) = c₀ + c₁ and c₀ᵢ includes the nugget at zero
    distance, so kriging honours a core at its exact location.

    *Positivity*: stocks are kriged on the original scale, which keeps the
    map's total linear in the cores and unbiased (a log-scale kriging needs a
    variance-dependent back-transform that biases totals when the variogram
    is off). Normal intervals ẑ ± z₁₋α/₂ σ can reach below 0; the lower bound
    (and, rarely, a prediction) is clipped at 0, and the number of clipped
    predictions is logged and recorded in ``n_clipped_predictions``.

    *Memory and speed*: cells are processed in tiles of ``chunk_cells``; per
    tile a k-d tree (:class:`scipy.spatial.cKDTree`) gives each cell's k
    nearest cores. Neighbouring cells mostly share the same neighbour set
    (an order-k Voronoi region), so the (k+1)² system is built and inverted
    once per distinct set (batched :func:`numpy.linalg.inv`, ≈ 22,000 sets
    for 4 million cells and 500 cores) and each cell costs one (k+1)
    covariance vector and two small products, run with one BLAS thread
    (multi-threaded BLAS only adds overhead at that size). This was chosen by
    speed over pykrige's ``n_closest_points`` loop backend (one solve per
    cell in a Python loop: ≈ 2.2 s per 10,000 cells, ≈ 15 min for 4 million)
    and over a vectorised batched :func:`numpy.linalg.solve` of one system
    per cell (≈ 17 s per million cells for the solve alone, ≈ 70 s for 4
    million, plus a ``chunk × (k+1)²`` array per tile). benchmarks/bench_soil.py: a
    2000 × 2000 grid from 500 cores takes ≈ 18–20 s, 1.9–2.1 × the k-d
    tree query alone, with a peak RSS of ≈ 0.45 GB. Memory is the output (4
    float32 layers) plus a few ``chunk_cells × (k + 1)`` float64 arrays.
    """
    _check_options(method, n_neighbours, variogram_model)
    _check_choice(support, get_args(Support), "support")
    z = _interval_z(interval)
    if isinstance(chunk_cells, bool) or not (
        isinstance(chunk_cells, int | np.integer) and chunk_cells >= 1
    ):
        raise ConfigError(f"chunk_cells {chunk_cells!r} is not ≥ 1", fix="use e.g. 65536")
    xs, ys, zs = _as_points(x, y, values)
    _check_stocks(zs)
    _check_distinct(xs, ys)
    noise_var = _noise(value_se, xs.size)
    inside = grid.contains(xs, ys)
    if not inside.any():
        raise GridError(
            f"all {xs.size} points lie outside the grid {grid!r} "
            f"(points span x {xs.min():.1f}–{xs.max():.1f}, y {ys.min():.1f}–{ys.max():.1f})",
            fix="transform the cores to the grid's CRS (check the table's CRS)",
        )
    if not inside.all():
        logger.warning(
            "%d of %d points lie outside the grid; they inform the kriging but are not mapped",
            int((~inside).sum()),
            xs.size,
        )
    valid_mask = _mask_array(mask, grid)

    frame: pd.DataFrame | None = None
    names: tuple[str, ...] = ()
    if method == "ordinary-kriging" and covariates is not None:
        logger.info("ordinary kriging ignores the covariates given")
    if method == "regression-kriging":
        if covariates is None:
            raise ConfigError(
                "regression kriging needs covariates",
                fix="pass covariates= (e.g. elevation_m and class layers) or "
                "method='ordinary-kriging'",
            )
        names = _check_covariates(covariates, grid)
        frame, _ = _points_frame(sample_covariates(covariates, grid, xs, ys), xs.size, categorical)
    model = _fit_soc_model(
        xs,
        ys,
        zs,
        frame,
        method=method,
        categorical=categorical,
        variogram_model=variogram_model,
        n_neighbours=n_neighbours,
        noise_var=noise_var,
    )
    if model.regression is not None:
        assert covariates is not None
        _check_unseen_levels(model.regression.design, covariates, valid_mask, grid, chunk_cells)

    shape = grid.shape
    outputs = {key: np.full(shape, np.nan, dtype=np.float32) for key in ("pred", "var")}
    side = max(1, math.isqrt(chunk_cells))
    for tile in grid.tiles(size=side):
        rs, cs = tile.core_slices
        valid = valid_mask[rs, cs].reshape(-1).copy()
        design_rows: FloatArray | None = None
        if model.regression is not None:
            assert covariates is not None
            columns = {
                n: np.asarray(covariates[n].isel(y=rs, x=cs).values, dtype=np.float64).ravel()
                for n in names
            }
            rows = model.regression.design.matrix(columns)
            valid &= np.isfinite(rows).all(axis=1)
            design_rows = rows[valid]
        if not valid.any():
            continue
        gx, gy = np.meshgrid(grid.x[cs], grid.y[rs])
        pred, var = model.predict(
            gx.ravel()[valid], gy.ravel()[valid], design_rows, point_support=support == "point"
        )
        for key, vals in (("pred", pred), ("var", var)):
            block = np.full(valid.size, np.nan, dtype=np.float32)
            block[valid] = vals
            outputs[key][rs, cs] = block.reshape(tile.core[2], tile.core[3])

    prediction, variance = outputs["pred"], outputs["var"]
    negative = prediction < 0
    n_clipped = int(negative.sum())
    if n_clipped:
        logger.warning("%d predicted SOC stocks were negative and are set to 0", n_clipped)
        prediction[negative] = 0.0
    half = np.float32(z) * np.sqrt(variance)
    lower = np.maximum(prediction - half, np.float32(0.0))
    upper = prediction + half
    return _dataset(
        grid,
        model,
        name=name,
        layers=(prediction, variance, lower, upper),
        interval=interval,
        n_points=xs.size,
        n_neighbours=model.kriging.k,
        n_clipped=n_clipped,
        support=support,
    )


def _mask_array(mask: npt.ArrayLike | None, grid: Grid) -> npt.NDArray[np.bool_]:
    if mask is None:
        return np.ones(grid.shape, dtype=bool)
    arr = np.asarray(mask)
    if arr.shape != grid.shape:
        raise GridError(
            f"the mask has shape {arr.shape}, the grid is {grid.shape}",
            fix="give a boolean mask on the analysis grid (e.g. Grid.boundary_mask)",
        )
    return np.asarray(arr.astype(bool), dtype=np.bool_)


def _check_unseen_levels(
    design: _Design,
    covariates: xr.Dataset,
    valid_mask: npt.NDArray[np.bool_],
    grid: Grid,
    chunk_cells: int,
) -> None:
    """Fail before any kriging when a mapped cell has a class no core samples."""
    if not design.categorical:
        return
    seen: dict[str, set[float]] = {n: set() for n in design.categorical}
    side = max(1, math.isqrt(chunk_cells))
    for tile in grid.tiles(size=side):
        rs, cs = tile.core_slices
        inside = valid_mask[rs, cs]
        for name in design.categorical:
            layer = np.asarray(covariates[name].isel(y=rs, x=cs).values, dtype=np.float64)
            vals = layer[inside]
            seen[name].update(np.unique(vals[np.isfinite(vals)]).tolist())
    for name, levels in zip(design.categorical, design.levels, strict=True):
        extra = sorted(seen[name] - set(levels))
        if extra:
            raise ModelError(
                f"covariate {name!r} has class(es) {', '.join(_level_text(v) for v in extra)} "
                f"in the mapped area but no core samples them (cores sample "
                f"{', '.join(_level_text(v) for v in levels)})",
                fix="merge those classes into a sampled one, mask their cells, or core them",
            )


def _dataset(
    grid: Grid,
    model: _SocModel,
    *,
    name: str,
    layers: tuple[npt.NDArray[np.float32], ...],
    interval: float,
    n_points: int,
    n_neighbours: int,
    n_clipped: int,
    support: str,
) -> xr.Dataset:
    v = model.variogram
    pct = f"{interval * 100:g} %"
    attrs: dict[str, Any] = {
        "method": model.method,
        "variogram_model": v.model,
        "variogram_nugget": v.nugget,
        "variogram_partial_sill": v.psill,
        "variogram_sill": v.sill,
        "variogram_range_m": v.range_m,
        "variogram_units": v.units,
        "variogram_of": "residuals" if model.regression is not None else "values",
        "measurement_variance_mean": model.measurement_variance_mean,
        "n_points": n_points,
        "n_neighbours": n_neighbours,
        "interval": interval,
        "support": support,
        "n_clipped_predictions": n_clipped,
    }
    if model.regression is not None:
        reg = model.regression
        attrs["regression_terms"] = ", ".join(reg.design.terms)
        attrs["regression_coefficients"] = [float(c) for c in reg.coefficients]
        attrs["regression_residual_variance"] = reg.residual_variance
    ds = grid.dataset(attrs=attrs)
    prediction, variance, lower, upper = layers
    specs = (
        (name, prediction, SOC_UNITS, f"predicted {name} ({model.method})"),
        (f"{name}_variance", variance, SOC_VARIANCE_UNITS, f"prediction variance of {name}"),
        (f"{name}_lower", lower, SOC_UNITS, f"lower bound of the central {pct} interval, ≥ 0"),
        (f"{name}_upper", upper, SOC_UNITS, f"upper bound of the central {pct} interval"),
    )
    for var_name, arr, units, long_name in specs:
        ds[var_name] = grid.dataarray(arr, name=var_name, units=units, long_name=long_name)
    return ds


# -------------------------------------------------------- cross-validation
@dataclass(frozen=True)
class SocCrossValidation:
    """Cross-validation scores of a SOC map procedure.

    Attributes
    ----------
    method, variogram_model
        The procedure scored.
    folds
        ``"loo"`` or ``"spatial-blocks"``.
    n_folds
        Number of folds.
    block_m
        Block size of spatial folds, m (``nan`` for leave-one-out).
    n
        Number of points predicted.
    rmse_mg_ha
        Root mean square error, Mg C/ha.
    mean_error_mg_ha
        Mean of predicted − observed, Mg C/ha.
    r2
        1 − SSE / SST about the observed mean.
    coverage
        Fraction of observations inside their central ``interval`` interval.
    interval
        Central probability of the intervals.
    predictions
        Per point: ``point, fold, x, y, observed, predicted, variance, lower,
        upper, covered``.
    """

    method: str
    variogram_model: str
    folds: str
    n_folds: int
    block_m: float
    n: int
    rmse_mg_ha: float
    mean_error_mg_ha: float
    r2: float
    coverage: float
    interval: float
    predictions: pd.DataFrame = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The scores (without the per-point table), with units in the key names."""
        return {
            "method": self.method,
            "variogram_model": self.variogram_model,
            "folds": self.folds,
            "n_folds": self.n_folds,
            "block_m": self.block_m,
            "n": self.n,
            "rmse_mg_ha": self.rmse_mg_ha,
            "mean_error_mg_ha": self.mean_error_mg_ha,
            "r2": self.r2,
            "coverage": self.coverage,
            "interval": self.interval,
        }


def _fold_ids(
    xs: FloatArray,
    ys: FloatArray,
    folds: Literal["loo"] | int,
    block_m: float | None,
    seed: int,
    default_block_m: Callable[[], float],
) -> tuple[npt.NDArray[np.intp], float, int]:
    if isinstance(folds, str):
        if folds != "loo":
            raise ConfigError(
                f"unknown folds {folds!r}; valid: 'loo' or a whole number of spatial folds ≥ 2",
                fix="use folds='loo' or e.g. folds=5",
            )
        return np.arange(xs.size), math.nan, xs.size
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 2:
        raise ConfigError(
            f"folds {folds!r} is not 'loo' or a whole number ≥ 2",
            fix="use folds='loo' or e.g. folds=5",
        )
    size = default_block_m() if block_m is None else float(block_m)
    if not (math.isfinite(size) and size > 0):
        raise ConfigError(f"block_m {block_m!r} is not a positive distance", fix="give m > 0")
    bx = np.floor((xs - xs.min()) / size).astype(np.int64)
    by = np.floor((ys - ys.min()) / size).astype(np.int64)
    _, block = np.unique(np.column_stack([bx, by]), axis=0, return_inverse=True)
    block = block.ravel()
    n_blocks = int(block.max()) + 1
    if n_blocks < folds:
        raise ConfigError(
            f"the points fall in {n_blocks} block(s) of {size:g} m, fewer than {folds} folds",
            fix="use smaller blocks (block_m) or fewer folds",
        )
    rng = np.random.default_rng(seed)
    fold_of_block = np.empty(n_blocks, dtype=np.intp)
    fold_of_block[rng.permutation(n_blocks)] = np.arange(n_blocks) % folds
    return fold_of_block[block], size, int(folds)


def cross_validate_soc(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    covariates_at_points: pd.DataFrame | None = None,
    categorical: Sequence[str] = ("class",),
    method: SocMethod = "regression-kriging",
    variogram_model: VariogramName | VariogramModel = "spherical",
    n_neighbours: int = 32,
    folds: Literal["loo"] | int = "loo",
    block_m: float | None = None,
    interval: float = 0.90,
    value_se: npt.ArrayLike | None = None,
    seed: int = 0,
) -> SocCrossValidation:
    """Score :func:`predict_soc`'s procedure by leave-one-out or spatial-block CV.

    Parameters
    ----------
    x, y, values
        Core locations (m) and stocks (Mg C/ha).
    covariates_at_points
        Covariates at the cores, one row per core (e.g. from
        :func:`sample_covariates`); required for regression kriging.
    categorical
        Columns of ``covariates_at_points`` holding class codes.
    method, variogram_model, n_neighbours, interval, value_se
        As :func:`predict_soc`.
    folds
        ``"loo"`` (leave one out) or the number of spatial-block folds.
    block_m
        Side of the square blocks for spatial folds, m; default the range of
        the variogram fitted to all points (METHODOLOGY.md §6: blocks about
        the variogram range).
    seed
        Seed of the random assignment of blocks to folds.

    Returns
    -------
    SocCrossValidation

    Raises
    ------
    ConfigError, InputError, ModelError
        As :func:`predict_soc`; bad ``folds``/``block_m``; too few blocks.

    Notes
    -----
    Each fold refits everything learnt from data — the regression and, when a
    model name is given, the variogram — on the training points only, then
    predicts the held-out points. RMSE = √(mean (ẑ − z)²),
    R² = 1 − Σ(ẑ − z)² / Σ(z − z̄)², coverage = share of held-out z inside
    [max(ẑ − z₁₋α/₂ s, 0), ẑ + z₁₋α/₂ s] (METHODOLOGY.md §3). A held-out
    value is a measurement at a point, so s² is the point-support prediction
    variance (nugget included) plus its own se² when ``value_se`` is given.
    """
    _check_options(method, n_neighbours, variogram_model)
    z = _interval_z(interval)
    xs, ys, zs = _as_points(x, y, values)
    _check_stocks(zs)
    _check_distinct(xs, ys)
    noise_var = _noise(value_se, xs.size)
    frame: pd.DataFrame | None = None
    if method == "regression-kriging":
        if covariates_at_points is None:
            raise ConfigError(
                "regression kriging needs covariates_at_points",
                fix="pass covariates_at_points= (e.g. from sample_covariates) or "
                "method='ordinary-kriging'",
            )
        frame, _ = _points_frame(covariates_at_points, xs.size, categorical)

    def fit(train: npt.NDArray[np.bool_]) -> _SocModel:
        return _fit_soc_model(
            xs[train],
            ys[train],
            zs[train],
            None if frame is None else frame[train].reset_index(drop=True),
            method=method,
            categorical=categorical,
            variogram_model=variogram_model,
            n_neighbours=n_neighbours,
            noise_var=noise_var[train],
        )

    def default_block() -> float:
        return fit(np.ones(xs.size, dtype=bool)).variogram.range_m

    fold, size, n_folds = _fold_ids(xs, ys, folds, block_m, seed, default_block)
    predicted = np.empty(xs.size)
    variance = np.empty(xs.size)
    for f in range(n_folds):
        test = fold == f
        if not test.any():
            continue
        model = fit(~test)
        rows: FloatArray | None = None
        if model.regression is not None:
            assert frame is not None
            design = model.regression.design
            sub = frame[test].reset_index(drop=True)
            columns = {c: sub[c].to_numpy(dtype=np.float64) for c in sub.columns}
            unseen = design.unseen(columns)
            if unseen:
                name, levels = next(iter(unseen.items()))
                raise ModelError(
                    f"fold {f}: covariate {name!r} class(es) "
                    f"{', '.join(_level_text(v) for v in levels)} are held out but no "
                    "training core samples them",
                    fix="merge rare classes, or use larger folds (fewer, or leave-one-out)",
                )
            rows = design.matrix(columns)
        p, v = model.predict(xs[test], ys[test], rows, point_support=True)
        predicted[test] = p
        variance[test] = v + noise_var[test]
    half = z * np.sqrt(variance)
    lower = np.maximum(predicted - half, 0.0)
    upper = predicted + half
    covered = (zs >= lower) & (zs <= upper)
    error = predicted - zs
    sst = float(((zs - zs.mean()) ** 2).sum())
    sse = float((error**2).sum())
    table = pd.DataFrame(
        {
            "point": np.arange(xs.size),
            "fold": fold,
            "x": xs,
            "y": ys,
            "observed": zs,
            "predicted": predicted,
            "variance": variance,
            "lower": lower,
            "upper": upper,
            "covered": covered,
        }
    )
    return SocCrossValidation(
        method=method,
        variogram_model=(
            variogram_model.model
            if isinstance(variogram_model, VariogramModel)
            else str(variogram_model)
        ),
        folds="loo" if isinstance(folds, str) else "spatial-blocks",
        n_folds=n_folds,
        block_m=size,
        n=xs.size,
        rmse_mg_ha=math.sqrt(sse / xs.size),
        mean_error_mg_ha=float(error.mean()),
        r2=1.0 - sse / sst if sst > 0 else math.nan,
        coverage=float(covered.mean()),
        interval=interval,
        predictions=table,
    )
