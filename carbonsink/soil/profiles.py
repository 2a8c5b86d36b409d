"""Core stocks: layer stocks, the equal-area spline and SOC stocks to standard depths.

A soil core is a column of layers (``depth_top_cm`` – ``depth_bottom_cm``)
with organic carbon, bulk density and coarse fragments. :func:`layer_stocks`
gives each layer's stock (docs/methodology.md §3); :func:`core_stocks` sums them
to standard depths (0–30 and 0–100 cm by default), filling the depths no layer
covers — gaps between layers, a missing surface layer, the part below the
deepest layer — with the mass-preserving (equal-area) spline of Bishop,
McBratney & Laslett (1999) or a linear rule, flagging each such core.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from carbonsink.errors import ConfigError, InputError, Problem
from carbonsink.schemas import check_table
from carbonsink.soil.conversion import (
    OM_TO_OC,
    SiteRegression,
    _carbon_terms,
    _standard_errors,
)

__all__ = [
    "EqualAreaSpline",
    "core_stocks",
    "depth_label",
    "fit_equal_area_spline",
    "layer_stocks",
    "summarize_core_stocks",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Interpolation = Literal["spline", "linear"]
INTERPOLATIONS: tuple[str, ...] = ("spline", "linear")
#: At most this many problems are spelled out in one error message.
_MAX_PROBLEMS_SHOWN = 50


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


# ------------------------------------------------------------ core stocks
def depth_label(depth_cm: float) -> str:
    """The depth as it appears in column names: ``30`` for 30.0, ``22.5`` for 22.5."""
    value = float(depth_cm)
    return str(int(value)) if value.is_integer() else repr(value)


def _uncovered(
    tops: FloatArray, bottoms: FloatArray, depth: float
) -> list[tuple[int, float, float]]:
    """Intervals of [0, depth] no layer covers: (kind, start, stop).

    kind −1: above the first layer; i ≥ 0: the gap below layer i; n: below the
    last layer.
    """
    n = tops.size
    pieces: list[tuple[int, float, float]] = []
    if tops[0] > 0:
        pieces.append((-1, 0.0, float(tops[0])))
    pieces.extend((i, float(bottoms[i]), float(tops[i + 1])) for i in range(n - 1))
    pieces.append((n, float(bottoms[-1]), math.inf))
    clipped = []
    for kind, start, stop in pieces:
        a, c = max(start, 0.0), min(stop, depth)
        if c > a:
            clipped.append((kind, a, c))
    return clipped


def _depth_weights(
    tops: FloatArray,
    bottoms: FloatArray,
    depth: float,
    *,
    interpolation: str,
    operator: tuple[FloatArray, FloatArray] | None,
) -> FloatArray:
    """w such that the 0–depth stock is w · ρ (ρ the layers' SOC densities per cm)."""
    n = tops.size
    weights = np.clip(np.minimum(bottoms, depth) - tops, 0.0, None)
    for kind, start, stop in _uncovered(tops, bottoms, depth):
        if interpolation == "spline":
            assert operator is not None
            alpha, slopes = operator
            weights = weights + _spline_integral(tops, bottoms, alpha, slopes, start, stop)
        elif kind == -1:
            weights[0] += stop - start
        elif kind == n:
            weights[-1] += stop - start
        else:
            gap = tops[kind + 1] - bottoms[kind]
            s0, s1 = start - bottoms[kind], stop - bottoms[kind]
            lower = (s1**2 - s0**2) / (2.0 * gap)
            weights[kind] += (stop - start) - lower
            weights[kind + 1] += lower
    return weights


def _table_problems(layers: pd.DataFrame, path: str) -> list[Problem]:
    """check_table's problems, each naming the core (checked core by core)."""
    problems = check_table(layers, "soil", path=path)
    if not problems:
        return []
    header = [p for p in problems if p.where and p.where.startswith("header")]
    if header or "core_id" not in layers.columns:
        return problems
    cores = layers["core_id"].astype("string").str.strip().fillna("")
    named: list[Problem] = []
    for core, group in layers.groupby(cores.to_numpy(), sort=True):
        label = f"core {core!r}" if core else "rows without core_id"
        for problem in check_table(group, "soil", path=path):
            message = problem.message
            if not message.startswith(f"core {core!r}"):
                message = f"{label}: {message}"
            named.append(Problem(message, path=problem.path, where=problem.where, fix=problem.fix))
    return named or problems


def _raise_problems(problems: Sequence[Problem], path: str) -> None:
    shown = "\n".join(f"  - {p}" for p in problems[:_MAX_PROBLEMS_SHOWN])
    more = len(problems) - _MAX_PROBLEMS_SHOWN
    if more > 0:
        shown += f"\n  - ... and {more} more"
    raise InputError(
        f"{len(problems)} problem(s) in the soil table:\n{shown}",
        path=path,
        fix="correct each layer listed above",
    )


def _check_depths(depths_cm: Sequence[float]) -> tuple[float, ...]:
    depths = tuple(float(d) for d in depths_cm)
    if not depths or any(not (math.isfinite(d) and d > 0) for d in depths):
        raise ConfigError(
            f"depths_cm must be positive numbers, got {list(depths_cm)}",
            where="[soil].depths_cm",
            fix="use depths in cm below the surface, e.g. [30, 100]",
        )
    labels = [depth_label(d) for d in depths]
    if len(set(labels)) != len(labels):
        raise ConfigError(
            f"depths_cm repeats a depth: {list(depths_cm)}",
            where="[soil].depths_cm",
            fix="list each depth once",
        )
    return depths


def core_stocks(
    layers: pd.DataFrame,
    *,
    depths_cm: Sequence[float] = (30, 100),
    om_to_oc: str = "dichromate",
    interpolation: str = "spline",
    spline_lambda: float = 0.1,
    site_regression: SiteRegression | None = None,
    path: str | None = None,
) -> pd.DataFrame:
    """SOC stock of each core from the surface to each standard depth, Mg C/ha.

    Parameters
    ----------
    layers
        A soil table (docs/design.md §3): ``core_id``, ``x``/``y`` (or
        ``lon``/``lat``), ``depth_top_cm``, ``depth_bottom_cm``,
        ``bulk_density_g_cm3``, one of ``soc_pct``/``om_pct``/``om_g_kg``;
        optional ``coarse_frac`` (blank = 0), ``method`` and standard errors
        ``soc_se_pct``, ``om_se_pct``, ``om_se_g_kg``,
        ``bulk_density_se_g_cm3``, ``coarse_frac_se``. Index = line numbers
        (as from :func:`carbonsink.io.tables.read_table`); messages cite them.
    depths_cm
        Standard depths D (cm); a stock 0–D is reported for each.
    om_to_oc
        OM -> OC conversion (:data:`carbonsink.soil.conversion.OM_TO_OC`).
    interpolation
        ``"spline"`` (equal-area spline) or ``"linear"``: how depths no layer
        covers are filled (see Notes).
    spline_lambda
        λ of the equal-area spline.
    site_regression
        For ``om_to_oc="site-regression"``.
    path
        The file name for messages.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``core_id`` (sorted); columns ``x``, ``y`` (the table's
        coordinates as given, in its CRS), ``max_depth_cm``, ``n_layers``,
        ``has_gap`` (some depth above the deepest layer is not sampled: a gap
        between layers or a first layer starting below the surface), and for
        each depth D (formatted by :func:`depth_label`): ``soc_0_{D}_mg_ha``,
        ``soc_0_{D}_se_mg_ha``, ``extrapolated_0_{D}`` (the core is shallower
        than D).

    Raises
    ------
    InputError
        With every problem of the table, each naming the core and line(s):
        missing or blank required columns (e.g. bulk density), values out of
        range (OC > 60 %), depth_top_cm ≥ depth_bottom_cm, overlapping layers,
        unknown lab methods (:func:`carbonsink.schemas.check_table`); also OC
        above 60 % after conversion.
    ConfigError
        Unknown ``om_to_oc`` or ``interpolation``, bad ``depths_cm`` or
        ``spline_lambda``, ``"site-regression"`` without a regression.

    Notes
    -----
    Per layer the SOC density is ρ_i = OC_i [%] × BD_i × (1 − CF_i) in
    Mg C ha⁻¹ cm⁻¹, so that ρ_i × d_i is the layer stock SOC_i of
    docs/methodology.md §3 (:func:`layer_stocks`). Where layers cover 0–D, the
    stock is the direct layer sum: Σ ρ_i × (overlap of layer i with 0–D), i.e.
    full layers plus the proportional part of the layer that straddles D —
    the measured stock, whatever ``interpolation`` is. The depths no layer
    covers are filled:

    * ``"spline"``: with the integral of the equal-area spline
      (:func:`fit_equal_area_spline`) fitted to ρ, which is mass-preserving
      (its integral over a layer is that layer's stock as λ → 0 and differs
      by at most 6nλ‖Δρ‖₂/d_min in 2-norm over the layer means for λ > 0); it bridges gaps and is
      constant above the first layer and below the last (its value at the
      bottom of the deepest layer).
    * ``"linear"``: ρ piecewise constant within layers, linear across a gap
      between the two neighbouring layers' values, the first layer's value
      above it and the last layer's below it.

    Both make the stock a linear combination w · ρ, so standard errors
    propagate exactly to first order: Var(ρ_i) = (BD(1−CF))² Var(OC_i) +
    (OC(1−CF))² Var(BD_i) + (OC·BD)² Var(CF_i), independent between layers,
    plus, for a site regression, the coefficient covariance shared by all
    converted layers. The SE is 0 when the table gives no standard errors and
    the conversion has none (measured OC or a fixed factor); it never includes
    the error of the extrapolation itself, which is why extrapolated stocks
    are flagged.
    """
    display = path or "soil table"
    depths = _check_depths(depths_cm)
    if interpolation not in INTERPOLATIONS:
        raise ConfigError(
            f"unknown interpolation {interpolation!r}",
            where="[soil].interpolation",
            fix=f"use one of {', '.join(INTERPOLATIONS)}",
        )
    _check_lambda(spline_lambda)
    if om_to_oc not in OM_TO_OC:
        raise ConfigError(
            f"unknown OM -> OC conversion {om_to_oc!r}",
            where="[soil].om_to_oc",
            fix=f"use one of {', '.join(OM_TO_OC)}",
        )
    problems = _table_problems(layers, display)
    if problems:
        _raise_problems(problems, display)

    terms = _carbon_terms(layers, om_to_oc=om_to_oc, site_regression=site_regression, path=path)
    top = pd.to_numeric(layers["depth_top_cm"]).to_numpy(dtype=np.float64)
    bottom = pd.to_numeric(layers["depth_bottom_cm"]).to_numpy(dtype=np.float64)
    bd = pd.to_numeric(layers["bulk_density_g_cm3"]).to_numpy(dtype=np.float64)
    cf = np.zeros(len(layers))
    if "coarse_frac" in layers.columns:
        cf = np.nan_to_num(
            pd.to_numeric(layers["coarse_frac"], errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            ),
            nan=0.0,
        )
    bd_se = np.nan_to_num(_standard_errors(layers, "bulk_density_se_g_cm3", path), nan=0.0)
    cf_se = np.nan_to_num(_standard_errors(layers, "coarse_frac_se", path), nan=0.0)
    oc = terms.oc_pct
    density = oc * bd * (1.0 - cf)
    density_var = (
        (bd * (1.0 - cf)) ** 2 * terms.independent_var
        + (oc * (1.0 - cf)) ** 2 * bd_se**2
        + (oc * bd) ** 2 * cf_se**2
    )
    density_gradient = (bd * (1.0 - cf))[:, None] * terms.gradient
    covariance = (
        np.asarray(site_regression.covariance, dtype=np.float64)
        if site_regression is not None
        else np.zeros((2, 2))
    )
    xcol, ycol = ("x", "y") if {"x", "y"} <= set(layers.columns) else ("lon", "lat")
    xs = pd.to_numeric(layers[xcol]).to_numpy(dtype=np.float64)
    ys = pd.to_numeric(layers[ycol]).to_numpy(dtype=np.float64)

    cores = layers["core_id"].astype("string").str.strip().to_numpy(dtype=object)
    labels = [depth_label(d) for d in depths]
    records: list[dict[str, object]] = []
    for core in sorted(set(cores)):
        rows = np.flatnonzero(cores == core)
        rows = rows[np.lexsort((bottom[rows], top[rows]))]
        tops, bottoms = top[rows], bottom[rows]
        operator = None
        if interpolation == "spline" and any(_uncovered(tops, bottoms, d) for d in depths):
            operator = _spline_parameters(tops, bottoms, np.eye(rows.size), float(spline_lambda))
        record: dict[str, object] = {
            "core_id": core,
            "x": float(xs[rows[0]]),
            "y": float(ys[rows[0]]),
            "max_depth_cm": float(bottoms.max()),
            "n_layers": int(rows.size),
            "has_gap": bool(tops[0] > 0 or (tops[1:] > bottoms[:-1]).any()),
        }
        for depth, label in zip(depths, labels, strict=True):
            w = _depth_weights(tops, bottoms, depth, interpolation=interpolation, operator=operator)
            shared = w @ density_gradient[rows]
            variance = float(w**2 @ density_var[rows] + shared @ covariance @ shared)
            record[f"soc_0_{label}_mg_ha"] = float(w @ density[rows])
            record[f"soc_0_{label}_se_mg_ha"] = math.sqrt(max(variance, 0.0))
            record[f"extrapolated_0_{label}"] = bool(bottoms.max() < depth)
        records.append(record)
    table = pd.DataFrame.from_records(records).set_index("core_id")
    for label in labels:
        n_extrapolated = int(table[f"extrapolated_0_{label}"].sum())
        if n_extrapolated:
            logger.info(
                "%s: %d of %d cores are shallower than %s cm; their 0–%s cm stocks are "
                "extrapolated (%s) and flagged",
                display,
                n_extrapolated,
                len(table),
                label,
                label,
                interpolation,
            )
    return table


def summarize_core_stocks(stocks: pd.DataFrame, depths_cm: Sequence[float]) -> pd.DataFrame:
    """The core stocks at each depth in one row: cores, mean, range, extrapolated cores.

    Parameters
    ----------
    stocks
        :func:`core_stocks` of a soil table.
    depths_cm
        The depths it was computed at.

    Returns
    -------
    pandas.DataFrame
        Index ``depth`` (the label, e.g. ``"30"``): ``cores``, ``mean_mg_ha``,
        ``min_mg_ha``, ``max_mg_ha`` (Mg C/ha, unweighted over the cores) and
        ``extrapolated`` (cores shallower than the depth).
    """
    rows = []
    for depth in depths_cm:
        label = depth_label(depth)
        column = stocks[f"soc_0_{label}_mg_ha"].to_numpy(dtype=np.float64)
        rows.append(
            {
                "depth": label,
                "cores": int(column.size),
                "mean_mg_ha": float(column.mean()),
                "min_mg_ha": float(column.min()),
                "max_mg_ha": float(column.max()),
                "extrapolated": int(stocks[f"extrapolated_0_{label}"].sum()),
            }
        )
    return pd.DataFrame(rows).set_index("depth")
