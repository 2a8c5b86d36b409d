"""Variograms: Matheron's empirical semivariogram and fitted isotropic models.

The variogram measures how the difference between two values grows with the
distance between their points; its fitted model gives kriging its weights
and a spatial cross-validation the size of its blocks (docs/methodology.md §3, §6).

* :func:`empirical_variogram` gives an :class:`EmpiricalVariogram` (by
  distance class);
* :func:`fit_variogram` fits one of :data:`VARIOGRAM_MODELS` to it and gives a
  :class:`VariogramModel` with its nugget, partial sill and range in stated
  units;
* :func:`spherical`, :func:`exponential` and :func:`gaussian` are the
  normalised model structures f(h/a).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import least_squares
from scipy.spatial.distance import pdist

from carbonsink.errors import ConfigError, InputError, ModelError
from carbonsink.spatial.points import point_values

__all__ = [
    "DEFAULT_N_LAGS",
    "DEFAULT_VARIANCE_UNITS",
    "MIN_POINTS_VARIOGRAM",
    "VARIOGRAM_MODELS",
    "EmpiricalVariogram",
    "VariogramModel",
    "VariogramName",
    "check_variogram_name",
    "empirical_variogram",
    "exponential",
    "fit_variogram",
    "gaussian",
    "spherical",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

VariogramName = Literal["spherical", "exponential", "gaussian"]

#: Fewest points a variogram is fitted to (45 pairs); fewer give no usable variogram.
MIN_POINTS_VARIOGRAM: Final = 10
#: Default number of distance classes of the empirical variogram.
DEFAULT_N_LAGS: Final = 12
#: Units of semivariances when none are given: those of SOC stock densities
#: (Mg C/ha)², the values the survey's variograms are mostly fitted to.
DEFAULT_VARIANCE_UNITS: Final = "(Mg C/ha)^2"


def spherical(h_over_a: FloatArray) -> FloatArray:
    """Spherical structure f(r) = 1.5 r − 0.5 r³ for r < 1, else 1.

    Parameters
    ----------
    h_over_a
        Distance over range, r = h / a (≥ 0).

    Returns
    -------
    numpy.ndarray
        f(r), float64: 0 at r = 0, reaching 1 at the range (r = 1).
    """
    r = np.minimum(h_over_a, 1.0)
    return np.asarray(r * (1.5 - 0.5 * r * r), dtype=np.float64)


def exponential(h_over_a: FloatArray) -> FloatArray:
    """Exponential structure with practical range a: f(r) = 1 − exp(−3 r).

    Parameters
    ----------
    h_over_a
        Distance over practical range, r = h / a (≥ 0).

    Returns
    -------
    numpy.ndarray
        f(r), float64: 0 at r = 0, 1 − e⁻³ ≈ 0.95 at the practical range.
    """
    return np.asarray(-np.expm1(-3.0 * h_over_a), dtype=np.float64)


def gaussian(h_over_a: FloatArray) -> FloatArray:
    """Gaussian structure with practical range a: f(r) = 1 − exp(−3 r²).

    Parameters
    ----------
    h_over_a
        Distance over practical range, r = h / a (≥ 0).

    Returns
    -------
    numpy.ndarray
        f(r), float64: 0 at r = 0, 1 − e⁻³ ≈ 0.95 at the practical range.
    """
    return np.asarray(-np.expm1(-3.0 * h_over_a * h_over_a), dtype=np.float64)


#: Normalised variogram structures f(h/a) (0 at the origin, → 1 at and beyond the range a).
VARIOGRAM_MODELS: Final[Mapping[str, Callable[[FloatArray], FloatArray]]] = MappingProxyType(
    {"spherical": spherical, "exponential": exponential, "gaussian": gaussian}
)


def check_variogram_name(name: object) -> None:
    """Refuse a variogram model name that is not in :data:`VARIOGRAM_MODELS`.

    Parameters
    ----------
    name
        The name to check, e.g. from a survey file.

    Raises
    ------
    ConfigError
        The name is unknown; the message lists the valid names.
    """
    if not isinstance(name, str) or name not in VARIOGRAM_MODELS:
        valid = ", ".join(repr(c) for c in VARIOGRAM_MODELS)
        raise ConfigError(
            f"unknown variogram model {name!r}; valid: {valid}",
            fix=f"set the variogram model to one of {valid}",
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
    units: str = DEFAULT_VARIANCE_UNITS

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
    units: str = DEFAULT_VARIANCE_UNITS

    def __post_init__(self) -> None:
        check_variogram_name(self.model)
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


def empirical_variogram(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    n_lags: int = DEFAULT_N_LAGS,
    max_lag_m: float | None = None,
    groups: npt.ArrayLike | None = None,
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
    groups
        One label per point: only pairs of the same group are used (e.g. two
        surveys of one field pooled into one variogram); default all pairs.

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
    xs, ys, zs = point_values(x, y, values)
    if xs.size < MIN_POINTS_VARIOGRAM:
        raise InputError(
            f"a variogram needs at least {MIN_POINTS_VARIOGRAM} points; {xs.size} given",
            fix=f"give at least {MIN_POINTS_VARIOGRAM} points, or a fixed VariogramModel",
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
    if groups is not None:
        labels = np.asarray(groups).ravel()
        if labels.size != xs.size:
            raise InputError(
                f"{labels.size} group labels for {xs.size} points", fix="give one label per point"
            )
        codes = np.unique(labels, return_inverse=True)[1].astype(np.float64)
        keep &= pdist(codes[:, None], metric="cityblock") == 0
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
    check_variogram_name(model)
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
