"""Soil profiles: layer stocks and the equal-area spline through a core's layers.

A soil core is a column of layers (``depth_top_cm`` – ``depth_bottom_cm``)
with organic carbon, bulk density and coarse fragments. :func:`layer_stocks`
gives each layer's stock (docs/methodology.md §3); the mass-preserving
(equal-area) spline of Bishop, McBratney & Laslett (1999) fills the depths no
layer covers when :func:`carbonsink.soil.core_stocks.core_stocks` sums the
layers to standard depths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from carbonsink.errors import ConfigError, InputError

__all__ = [
    "EqualAreaSpline",
    "fit_equal_area_spline",
    "layer_stocks",
]

FloatArray = npt.NDArray[np.float64]
Interpolation = Literal["spline", "linear"]
INTERPOLATIONS: tuple[str, ...] = ("spline", "linear")


# ----------------------------------------------------------------- layers
def layer_stocks(
    oc_pct: npt.ArrayLike,
    bulk_density_g_cm3: npt.ArrayLike,
    thickness_cm: npt.ArrayLike,
    *,
    coarse_frac: npt.ArrayLike = 0.0,
) -> FloatArray:
    """SOC stock of each layer, Mg C/ha.

    Parameters
    ----------
    oc_pct
        Organic carbon, % of the fine-earth dry mass.
    bulk_density_g_cm3
        Dry bulk density of the fine earth, g/cm³.
    thickness_cm
        Layer thickness d, cm.
    coarse_frac
        Volume fraction of coarse fragments (0–1).

    Returns
    -------
    numpy.ndarray
        Stocks, broadcast from the inputs.

    Notes
    -----
    SOC_i [Mg C/ha] = OC_i [%] × BD_i [g/cm³] × d_i [cm] × (1 − CF_i)
    (docs/methodology.md §3): 1 % × 1 g/cm³ × 1 cm = 0.01 g C/cm² = 1 Mg C/ha.
    Check: 1.5 % × 1.2 g/cm³ × 30 cm = 54 Mg C/ha.
    """
    oc = np.asarray(oc_pct, dtype=np.float64)
    bd = np.asarray(bulk_density_g_cm3, dtype=np.float64)
    d = np.asarray(thickness_cm, dtype=np.float64)
    cf = np.asarray(coarse_frac, dtype=np.float64)
    return np.asarray(oc * bd * d * (1.0 - cf), dtype=np.float64)


# ----------------------------------------------------------------- spline
def _spline_parameters(
    tops: FloatArray, bottoms: FloatArray, values: FloatArray, lam: float
) -> tuple[FloatArray, FloatArray]:
    """``alpha`` (n, k) and ``slopes`` (n + 1, k) of the equal-area spline(s).

    ``values`` is (n, k): k profiles on the same layers (the fit is linear in
    the values, so the identity matrix gives the spline's linear operator).
    """
    n = tops.size
    k = values.shape[1]
    if n == 1:
        return values.astype(np.float64, copy=True), np.zeros((2, k))
    thickness = bottoms - tops
    gaps = tops[1:] - bottoms[:-1]
    # R (n−1 × n−1): R_ii = 2(d_i + d_i+1) + 6 g_i, R_i,i+1 = R_i+1,i = d_i+1.
    r = np.diag(2.0 * (thickness[:-1] + thickness[1:]) + 6.0 * gaps)
    inner = np.arange(n - 2)
    r[inner, inner + 1] = thickness[1:-1]
    r[inner + 1, inner] = thickness[1:-1]
    # Q (n−1 × n): first differences.
    q = np.zeros((n - 1, n))
    q[np.arange(n - 1), np.arange(n - 1)] = -1.0
    q[np.arange(n - 1), np.arange(1, n)] = 1.0
    r_inv_q = np.linalg.solve(r, q)
    z = np.eye(n) + 6.0 * n * lam * (q.T @ r_inv_q)
    s_bar = np.linalg.solve(z, values)
    b = 6.0 * (r_inv_q @ s_bar)
    slopes = np.vstack([np.zeros((1, k)), b, np.zeros((1, k))])
    b0 = slopes[:-1]
    b1 = slopes[1:]
    gamma = (b1 - b0) / (2.0 * thickness[:, None])
    alpha = s_bar - b0 * thickness[:, None] / 2.0 - gamma * thickness[:, None] ** 2 / 3.0
    return alpha, slopes


def _spline_integral(
    tops: FloatArray,
    bottoms: FloatArray,
    alpha: FloatArray,
    slopes: FloatArray,
    start: float,
    stop: float,
) -> FloatArray:
    """∫ f from ``start`` to ``stop`` (start ≤ stop) for each of the k splines."""
    thickness = bottoms - tops
    b0 = slopes[:-1]
    gamma = (slopes[1:] - b0) / (2.0 * thickness[:, None])
    total = np.zeros(alpha.shape[1])

    def overlap(low: float, high: float) -> tuple[float, float] | None:
        a, c = max(start, low), min(stop, high)
        return (a, c) if c > a else None

    above = overlap(-math.inf, float(tops[0]))
    if above:
        total += alpha[0] * (above[1] - above[0])
    for i in range(tops.size):
        part = overlap(float(tops[i]), float(bottoms[i]))
        if part:
            t0, t1 = part[0] - tops[i], part[1] - tops[i]
            total += (
                alpha[i] * (t1 - t0)
                + b0[i] * (t1**2 - t0**2) / 2.0
                + gamma[i] * (t1**3 - t0**3) / 3.0
            )
        if i + 1 < tops.size:
            gap = overlap(float(bottoms[i]), float(tops[i + 1]))
            if gap:
                slope = slopes[i + 1]
                phi = alpha[i + 1] - slope * (tops[i + 1] - bottoms[i])
                s0, s1 = gap[0] - bottoms[i], gap[1] - bottoms[i]
                total += phi * (s1 - s0) + slope * (s1**2 - s0**2) / 2.0
    below = overlap(float(bottoms[-1]), math.inf)
    if below:
        last = alpha[-1] + b0[-1] * thickness[-1] + gamma[-1] * thickness[-1] ** 2
        total += last * (below[1] - below[0])
    return total


@dataclass(frozen=True)
class EqualAreaSpline:
    """A fitted equal-area (mass-preserving) quadratic spline of one profile.

    Within layer i, f(z) = α_i + b_{i−1} t + γ_i t² with t = z − top_i; in a gap
    after layer i it is linear with slope b_i; above the first layer and below
    the last it is constant (its derivative there is 0). Built by
    :func:`fit_equal_area_spline`.

    Attributes
    ----------
    tops_cm, bottoms_cm
        The layers, sorted by depth, not overlapping.
    values
        The layer values the spline was fitted to.
    alpha
        f at the top of each layer.
    slopes
        f′ at the top of the first layer (0), at each knot (the bottom of layer
        i, equal to f′ at the top of layer i + 1), and at the bottom of the last
        layer (0): n + 1 values.
    lam
        The smoothing parameter λ.
    """

    tops_cm: FloatArray
    bottoms_cm: FloatArray
    values: FloatArray
    alpha: FloatArray
    slopes: FloatArray
    lam: float

    def integral(self, top_cm: float, bottom_cm: float) -> float:
        """∫ f(z) dz from ``top_cm`` to ``bottom_cm`` (exact, piecewise analytic)."""
        if bottom_cm < top_cm:
            return -self.integral(bottom_cm, top_cm)
        result = _spline_integral(
            self.tops_cm,
            self.bottoms_cm,
            self.alpha[:, None],
            self.slopes[:, None],
            float(top_cm),
            float(bottom_cm),
        )
        return float(result[0])

    def mean(self, top_cm: float, bottom_cm: float) -> float:
        """Mean of f between two depths (``top_cm < bottom_cm``)."""
        if not bottom_cm > top_cm:
            raise ValueError(f"mean needs top_cm < bottom_cm, got {top_cm}, {bottom_cm}")
        return self.integral(top_cm, bottom_cm) / (bottom_cm - top_cm)

    def fitted_means(self) -> FloatArray:
        """The spline's mean over each fitted layer (the smoothed layer values s̄)."""
        return np.array(
            [
                self.mean(float(a), float(b))
                for a, b in zip(self.tops_cm, self.bottoms_cm, strict=True)
            ]
        )

    def __call__(self, depth_cm: npt.ArrayLike) -> FloatArray:
        """f at the given depths (cm)."""
        z = np.asarray(depth_cm, dtype=np.float64)
        tops, bottoms, alpha, slopes = self.tops_cm, self.bottoms_cm, self.alpha, self.slopes
        thickness = bottoms - tops
        gamma = (slopes[1:] - slopes[:-1]) / (2.0 * thickness)
        last = alpha[-1] + slopes[-2] * thickness[-1] + gamma[-1] * thickness[-1] ** 2
        out = np.where(z < tops[0], alpha[0], last).astype(np.float64)
        for i in range(tops.size):
            inside = (z >= tops[i]) & (z <= bottoms[i])
            t = z - tops[i]
            out = np.where(inside, alpha[i] + slopes[i] * t + gamma[i] * t**2, out)
            if i + 1 < tops.size:
                gap = (z > bottoms[i]) & (z < tops[i + 1])
                phi = alpha[i + 1] - slopes[i + 1] * (tops[i + 1] - bottoms[i])
                out = np.where(gap, phi + slopes[i + 1] * (z - bottoms[i]), out)
        return np.asarray(out, dtype=np.float64)


def _check_layers(tops: FloatArray, bottoms: FloatArray) -> None:
    if tops.ndim != 1 or tops.shape != bottoms.shape or tops.size == 0:
        raise InputError(
            f"tops and bottoms must be equal-length 1-D arrays with at least one layer "
            f"(got shapes {tops.shape} and {bottoms.shape})",
            fix="give one top and one bottom depth per layer",
        )
    if not (np.isfinite(tops).all() and np.isfinite(bottoms).all()):
        raise InputError("layer depths must be finite numbers", fix="check the depths")
    if (bottoms <= tops).any():
        raise InputError(
            f"layer {int(np.argmax(bottoms <= tops)) + 1} has top ≥ bottom",
            fix="each layer needs top < bottom (cm below the surface)",
        )
    if (tops[1:] < bottoms[:-1]).any():
        raise InputError(
            "layers overlap or are not sorted by depth",
            fix="sort the layers from the surface down; they must not overlap",
        )


def fit_equal_area_spline(
    tops_cm: npt.ArrayLike,
    bottoms_cm: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    lam: float = 0.1,
) -> EqualAreaSpline:
    """Fit the equal-area quadratic spline of Bishop et al. (1999) to layer values.

    Parameters
    ----------
    tops_cm, bottoms_cm
        Layer depths (cm), sorted from the surface down, not overlapping; gaps
        between layers are allowed.
    values
        The mean value of the property over each layer.
    lam
        Smoothing parameter λ > 0 (Bishop et al. use 0.1 with depths in cm).

    Returns
    -------
    EqualAreaSpline

    Raises
    ------
    InputError
        When the layers are empty, unsorted, overlapping or inverted, or the
        values are not finite.
    ConfigError
        When ``lam`` is not a positive finite number.

    Notes
    -----
    f minimises (1/n) Σ (y_i − f̄_i)² + λ ∫ f′(z)² dz over quadratic splines
    with continuous f and f′ at the layer boundaries and f′ = 0 at the top and
    bottom (Bishop, McBratney & Laslett 1999, Geoderma 91:27–45, eq. 7). With
    the (n−1)×(n−1) matrix R (R_ii = 2(d_i + d_{i+1}) + 6 g_i,
    R_{i,i+1} = R_{i+1,i} = d_{i+1}; d thicknesses, g gaps) and the first-
    difference matrix Q: s̄ = (I + 6nλ QᵀR⁻¹Q)⁻¹ y are the fitted layer means,
    b = 6 R⁻¹ Q s̄ the slopes at the knots, γ_i = (b_i − b_{i−1}) / (2 d_i),
    α_i = s̄_i − b_{i−1} d_i / 2 − γ_i d_i² / 3. This follows ``ea_spline`` of
    the R package ithir (Malone) and ``mpspline_est1``/``mpspline_fit1`` of
    mpspline2 (O'Brien), including the linear bridge across gaps; unlike them
    it does not clip values to [0, 1000] (that would break mass preservation)
    and extends the spline as a constant above the first and below the last
    layer. The spline's mean over layer i is s̄_i exactly; s̄ → y as λ → 0,
    and a single layer gives the constant y_1. Since I + 6nλ QᵀR⁻¹Q ⪰ I,
    ‖R⁻¹‖ ≤ 1/(2 d_min) (R is diagonally dominant by at least d_i + d_{i+1})
    and ‖Q‖ ≤ 2: ‖s̄ − y‖₂ ≤ 6 n λ ‖Q y‖₂ / d_min.
    """
    tops = np.asarray(tops_cm, dtype=np.float64).ravel()
    bottoms = np.asarray(bottoms_cm, dtype=np.float64).ravel()
    y = np.asarray(values, dtype=np.float64).ravel()
    _check_layers(tops, bottoms)
    if y.shape != tops.shape or not np.isfinite(y).all():
        raise InputError(
            f"need one finite value per layer ({tops.size} layers, values {y.tolist()})",
            fix="give every layer a finite value",
        )
    _check_lambda(lam)
    alpha, slopes = _spline_parameters(tops, bottoms, y[:, None], float(lam))
    return EqualAreaSpline(
        tops_cm=tops.copy(),
        bottoms_cm=bottoms.copy(),
        values=y.copy(),
        alpha=alpha[:, 0].copy(),
        slopes=slopes[:, 0].copy(),
        lam=float(lam),
    )


def _check_lambda(lam: float) -> None:
    try:
        value = float(lam)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(lam, bool) or not (math.isfinite(value) and value > 0):
        raise ConfigError(
            f"spline_lambda must be a positive number, got {lam!r}",
            where="[soil].spline_lambda",
            fix="use the default 0.1 (Bishop et al. 1999)",
        )
