"""SOC of each stratum from its own cores: block kriging with a stratum mean, jointly over epochs.

The survey-wide block kriging of :mod:`carbonsink.soil.block_variance`
estimates one mean for the whole project, and a stationary field with one
mean spreads the cores of one stratum over the others: a stratum with no
cores (open water) inherits the gains measured elsewhere, and a small stratum
inherits the project's small relative error. Here every stratum gets its own
mean, estimated from the cores that fall in it, with the spatially
correlated residual kriged as before — universal block kriging with stratum
indicators as the drift (kriging with a categorical external drift) — and
the errors of every stratum and epoch come as one joint covariance matrix,
so that the ledger's Monte Carlo can draw them together and the strata add
up to the project in every draw (docs/methodology.md §3.10).

A stratum is *measured* when it holds at least :data:`MIN_STRATUM_CORES`
cores in every epoch; the others get no estimate here, and the accounting
stage holds their soil stock constant (no soil sink, with a ledger warning).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy.spatial.distance import cdist

from carbonsink.errors import ConfigError, InputError, ModelError
from carbonsink.grid import Grid
from carbonsink.i18n import gettext
from carbonsink.soil.block_variance import (
    DEFAULT_N_BLOCK_POINTS,
    DEFAULT_SITE_RADIUS_M,
    BlockDiscretisation,
    core_arrays,
    discretise_block,
    mean_covariance_to_block,
    solve_kriging,
    structured_covariance,
)
from carbonsink.soil.soc_model import measurement_variances
from carbonsink.spatial.points import point_values, require_distinct_locations
from carbonsink.spatial.variogram import VariogramModel, empirical_variogram, fit_variogram

__all__ = [
    "MIN_SCALE_DOF",
    "MIN_STRATUM_CORES",
    "CoreSet",
    "StratumBlocks",
    "residual_variogram",
    "stratum_blocks",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Fewest cores a stratum needs in every epoch for its own soil estimate.
MIN_STRATUM_CORES: Final = 2

#: Fewest residual degrees of freedom for a stratum's own residual scale (eq. 3.23a).
MIN_SCALE_DOF: Final = 4


@dataclass(frozen=True)
class CoreSet:
    """One epoch's cores: location (grid CRS, m), stock and its SE (Mg C/ha)."""

    x: FloatArray
    y: FloatArray
    values: FloatArray
    se: FloatArray | None = None


@dataclass(frozen=True)
class StratumBlocks:
    """Block-kriged mean SOC of each stratum and epoch, with their joint error covariance.

    Attributes
    ----------
    strata
        Stratum names, in the order of every array.
    measured
        Per stratum: it holds at least :data:`MIN_STRATUM_CORES` cores in every epoch.
    n_cores
        ``(E, S)`` cores of each epoch in each stratum.
    mean_mg_ha
        ``(E, S)`` kriged mean stock, Mg C/ha (NaN where not measured).
    area_ha
        ``(S,)`` true area of each stratum's cells inside the mask, ha.
    covariance
        ``(E·S, E·S)`` covariance of the errors of the means, (Mg C/ha)²,
        epoch-major (row ``e·S + s``); rows of strata not measured are 0.
    variograms
        Each epoch's residual variogram (about the stratum means).
    variogram_sources
        Per epoch, ``"residuals"`` or why the given fallback variogram was used.
    sharing
        What the first and last epochs' errors share (:func:`_shared_parts`):
        ``revisit_pairs``, ``tau2`` (the non-shared variance of a revisited
        site), ``shared_partial_sill``, ``shared_nugget``; empty for one epoch
        or given variograms.
    scales
        ``(S,)`` each stratum's residual scale κ_s (eq. 3.23a; all 1 when the
        strata share one residual variance). The variograms are of the
        standardised residuals r / κ.
    """

    strata: tuple[str, ...]
    measured: tuple[bool, ...]
    n_cores: npt.NDArray[np.int64]
    mean_mg_ha: FloatArray
    area_ha: FloatArray
    covariance: FloatArray
    variograms: tuple[VariogramModel, ...]
    variogram_sources: tuple[str, ...]
    sharing: Mapping[str, float] = field(default_factory=dict)
    scales: tuple[float, ...] = ()

    @property
    def total_t_c(self) -> FloatArray:
        """``(E, S)`` totals, mean × area, t C."""
        return np.asarray(self.mean_mg_ha * self.area_ha[None, :], dtype=np.float64)

    @property
    def total_covariance_t_c(self) -> FloatArray:
        """``(E·S, E·S)`` covariance of the totals' errors, t C²."""
        area = np.tile(self.area_ha, len(self.variograms))
        return np.asarray(self.covariance * np.outer(area, area), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary per epoch and stratum (mean, SE, cores, area)."""
        n_strata = len(self.strata)
        se = np.sqrt(np.clip(np.diag(self.covariance), 0.0, None))
        return {
            "units": "Mg C/ha",
            "strata": {
                s: {
                    "measured": self.measured[i],
                    "area_ha": float(self.area_ha[i]),
                    "n_cores": [int(n) for n in self.n_cores[:, i]],
                    "residual_scale": float(self.scales[i]) if self.scales else 1.0,
                    "mean": [_json(m) for m in self.mean_mg_ha[:, i]],
                    "se": [
                        _json(se[e * n_strata + i]) if self.measured[i] else None
                        for e in range(len(self.variograms))
                    ],
                }
                for i, s in enumerate(self.strata)
            },
            "variogram_sources": list(self.variogram_sources),
            "variogram": {
                "model": self.variograms[-1].model,
                "nugget": self.variograms[-1].nugget,
                "partial_sill": self.variograms[-1].psill,
                "range_m": self.variograms[-1].range_m,
                "units": self.variograms[-1].units,
            },
            "sharing": {k: _json(v) for k, v in self.sharing.items()},
        }


def _json(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def residual_variogram(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    values: npt.ArrayLike,
    groups: npt.ArrayLike,
    *,
    model: str,
    epochs: npt.ArrayLike | None = None,
) -> VariogramModel:
    """The variogram of core stocks about their stratum means (one or several epochs pooled).

    Parameters
    ----------
    x, y, values
        Cores (grid CRS m, Mg C/ha).
    groups
        Stratum code of each core.
    model
        Variogram model name (``"spherical"``, ...).
    epochs
        Epoch of each core, when several surveys are pooled: the means are
        then per epoch and stratum, and only pairs of one epoch are used.

    Returns
    -------
    VariogramModel

    Raises
    ------
    InputError, ModelError
        Too few cores or no variation (:func:`~carbonsink.spatial.variogram.fit_variogram`).

    Notes
    -----
    r_i = z_i − z̄_g(i), the residual of each core from the mean of its
    stratum (and epoch: the OLS fit of the indicator drift); Matheron's
    estimator and Cressie's weighted fit as for the map (docs/methodology.md
    §3.7). The residuals of a stratum sum to 0, which biases the
    semivariance low by about a factor (1 − 1/n_g) — small for strata of a
    few cores or more and ignored. Pooling two surveys of one field doubles
    the pairs: two separate fits of ~40 cores each scatter widely.
    """
    zs = np.asarray(values, dtype=np.float64)
    strata = np.asarray(groups).ravel()
    labels = np.zeros(zs.size, dtype=np.int64) if epochs is None else np.asarray(epochs).ravel()
    residuals = zs.copy()
    for label in np.unique(labels):
        here = labels == label
        residuals[here] = _stratum_residuals(zs[here], strata[here])
    empirical = empirical_variogram(x, y, residuals, groups=labels)
    return fit_variogram(empirical, model=model)  # type: ignore[arg-type]


def _core_strata(
    cores: CoreSet, grid: Grid, strata_map: npt.NDArray[np.integer]
) -> npt.NDArray[np.int64]:
    row, col = grid.index(np.asarray(cores.x), np.asarray(cores.y))
    row = np.asarray(row)
    col = np.asarray(col)
    on = (row >= 0) & (row < grid.height) & (col >= 0) & (col < grid.width)
    codes = np.full(row.shape, -1, dtype=np.int64)
    codes[on] = strata_map[row[on], col[on]]
    return np.asarray(codes)


@dataclass(frozen=True)
class _EpochSystem:
    xy: FloatArray
    weights: FloatArray  # (n, S) kriging weights per target stratum (0 for unmeasured)
    noise: FloatArray
    process_nugget: float


def _uk_weights(
    v: VariogramModel,
    xy: FloatArray,
    noise: FloatArray,
    drift: FloatArray,
    targets: FloatArray,
    to_blocks: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Universal block-kriging weights of every target and the cores' covariance matrix."""
    n, p = drift.shape
    process_nugget = max(v.nugget - float(noise.mean()), 0.0)
    cov = structured_covariance(v, cdist(xy, xy))
    cov[np.arange(n), np.arange(n)] += process_nugget + noise
    a = np.zeros((n + p, n + p))
    a[:n, :n] = cov
    a[:n, n:] = drift
    a[n:, :n] = drift.T
    rhs = np.vstack([to_blocks, targets])
    solution = solve_kriging(a, rhs, v)
    return solution[:n], cov


def stratum_blocks(
    epochs: Sequence[CoreSet],
    grid: Grid,
    strata_map: npt.NDArray[np.integer],
    strata: Mapping[str, int],
    *,
    variograms: Sequence[VariogramModel],
    mask: npt.NDArray[np.bool_],
    n_block_points: int = DEFAULT_N_BLOCK_POINTS,
    site_radius_m: float = DEFAULT_SITE_RADIUS_M,
    min_cores: int = MIN_STRATUM_CORES,
    fit_variograms: bool = True,
    signed: bool = False,
    noun: str = "core",
    stratum_scales: bool = False,
    given_scales: Mapping[str, float] | None = None,
    shared: tuple[VariogramModel, float] | None = None,
) -> StratumBlocks:
    """Mean SOC of every stratum at every epoch by universal block kriging, with their covariance.

    Parameters
    ----------
    epochs
        One or more epochs' cores (earliest first).
    grid
        The analysis grid.
    strata_map
        ``grid.shape`` stratum codes (the change strata: the last epoch's classes).
    strata
        Stratum name → code, in table order.
    variograms
        Each epoch's variogram: with ``fit_variograms`` a fallback (the SOC
        map's) that the residual variogram about the stratum means replaces
        when it can be fitted; without, the variograms used.
    mask
        Cells of the project (inside the boundary).
    n_block_points
        About how many points discretise each stratum's block.
    site_radius_m
        Cores of two epochs this close are one site revisited (they share
        the process nugget, :func:`~carbonsink.soil.block_variance.block_change`).
    min_cores
        Fewest cores a stratum needs in every epoch to be measured.
    fit_variograms
        Fit each epoch's variogram to the residuals about the stratum means
        (:func:`residual_variogram`), or take ``variograms`` as they are.
    signed
        The values may be negative (e.g. model residuals); SOC stocks may not.
    noun
        What a point is, for the error messages (``"core"``, ``"plot"``).
    stratum_scales
        Each stratum has its own residual variance (eq. 3.23a): the values are
        kriged divided by their stratum's scale κ_g, and each stratum's mean
        and the covariance are scaled back. Without, one residual variance.
    given_scales
        Stratum name → κ_s to use instead of estimating them from the values
        (with ``stratum_scales``; a sampling design whose values are not yet
        measured, :mod:`carbonsink.design`).
    shared
        Without ``fit_variograms``: the structured variogram and process
        nugget every two epochs share (:func:`_shared_parts`' estimate from a
        run); by default the smaller partial sill and the smaller nugget.

    Returns
    -------
    StratumBlocks

    Raises
    ------
    ConfigError
        ``variograms`` does not give one per epoch, or ``min_cores`` < 1.
    InputError
        Bad cores (as :func:`~carbonsink.soil.block_variance.areal_mean_variance`).
    ModelError
        A singular kriging system.

    Notes
    -----
    Model: Z_e(x) = β_{e,g(x)} + R_e(x), with g(x) the stratum of x, β the
    stratum means and R a zero-mean field of covariance C_e (the residual
    variogram). For the block B_s of stratum s the weights λ solve

        [C  F; Fᵀ 0] [λ; μ] = [C̄(X, B_s); f_s]

    with F the (n × p) indicators of the strata holding cores and f_s = e_s,
    so Σ_{i ∈ s} λ_i = 1 and Σ_{i ∈ t} λ_i = 0 for t ≠ s: the estimate is
    unbiased whatever the means (Cressie 1993 §3.4; Webster & Oliver 2007
    §9.2, kriging with external drift). The errors e_{e,s} = λᵀZ_e(X) −
    Z̄_e(B_s) have

        Cov(e_{e,s}, e_{e,t}) = λ_sᵀ C λ_t − λ_sᵀ C̄(X, B_t) − λ_tᵀ C̄(X, B_s) + C̄(B_s, B_t)

    within an epoch, and between epochs the same with the structured
    covariance the two epochs share (the smaller partial sill) and the
    process nugget of revisited sites, as in
    :func:`~carbonsink.soil.block_variance.block_change` (Papritz & Webster
    1995). Nugget and measurement error are treated as there.
    """
    if len(variograms) != len(epochs):
        raise ConfigError(
            f"{len(variograms)} variograms for {len(epochs)} epochs",
            fix="give each epoch's variogram",
        )
    if min_cores < 1:
        raise ConfigError(f"min_cores {min_cores} is below 1", fix="use at least 1")
    names = list(strata)
    codes = np.array([strata[s] for s in names])
    blocks: list[BlockDiscretisation | None] = []
    areas = np.zeros(len(names))
    for i, code in enumerate(codes):
        cells = mask & (strata_map == code)
        if cells.any():
            block = discretise_block(grid, mask=cells, n_points=n_block_points)
            blocks.append(block)
            areas[i] = block.block_area_ha
        else:
            blocks.append(None)
    arrays = []
    counts = np.zeros((len(epochs), len(names)), dtype=np.int64)
    for e, cores in enumerate(epochs):
        if signed:
            xs, ys, zs = point_values(cores.x, cores.y, cores.values, noun=noun)
            require_distinct_locations(xs, ys, noun=noun)
            xy = np.column_stack([xs, ys])
        else:
            xy, zs = core_arrays(cores.x, cores.y, cores.values)
        groups = _core_strata(cores, grid, strata_map)
        counts[e] = [(groups == c).sum() for c in codes]
        arrays.append((xy, zs, groups, measurement_variances(cores.se, zs.size)))
    measured = (counts >= min_cores).all(axis=0) & (areas > 0)
    target = np.flatnonzero(measured)
    if stratum_scales and given_scales is not None:
        scale_of = {
            int(strata[name]): float(k) for name, k in given_scales.items() if name in strata
        }
    else:
        scale_of = _stratum_scales(arrays) if stratum_scales else {}
    scales = np.array([scale_of.get(int(c), 1.0) for c in codes])
    if scale_of:
        arrays = [_standardised(a, scale_of) for a in arrays]
    if fit_variograms:
        fitted, sources = _pooled_variogram(arrays, variograms)
    else:
        fitted, sources = list(variograms), [gettext("given")] * len(variograms)
    systems: list[_EpochSystem] = []
    for (xy, _, groups, noise), v in zip(arrays, fitted, strict=True):
        drift_codes = np.unique(groups)
        drift = (groups[:, None] == drift_codes[None, :]).astype(np.float64)
        rhs_blocks = np.zeros((xy.shape[0], target.size))
        rhs_drift = np.zeros((drift_codes.size, target.size))
        for j, i in enumerate(target.tolist()):
            target_block = blocks[int(i)]
            assert target_block is not None
            rhs_blocks[:, j] = mean_covariance_to_block(v, xy, target_block)
            rhs_drift[np.flatnonzero(drift_codes == codes[i]), j] = 1.0
        weights, _ = _uk_weights(v, xy, noise, drift, rhs_drift, rhs_blocks)
        full = np.zeros((xy.shape[0], len(names)))
        full[:, target] = weights
        systems.append(
            _EpochSystem(
                xy=xy, weights=full, noise=noise, process_nugget=max(v.nugget - noise.mean(), 0)
            )
        )
    n_epochs, n_strata = len(epochs), len(names)
    means = np.full((n_epochs, n_strata), np.nan)
    for e, ((_, zs, _, _), system) in enumerate(zip(arrays, systems, strict=True)):
        means[e, target] = scales[target] * (zs @ system.weights[:, target])
    covariance = np.zeros((n_epochs * n_strata, n_epochs * n_strata))
    sharing: dict[str, float] = {}
    for e1 in range(n_epochs):
        for e2 in range(e1, n_epochs):
            if e1 == e2:
                v, nugget = fitted[e1], 0.0
            elif fit_variograms:
                v, nugget, sharing = _shared_parts(
                    arrays[e1], arrays[e2], fitted[e1], site_radius_m=site_radius_m
                )
            elif shared is not None:
                v, nugget = shared
            else:
                v = _shared(fitted[e1], fitted[e2])
                nugget = min(systems[e1].process_nugget, systems[e2].process_nugget)
            block_cov = _error_covariance(
                systems[e1],
                systems[e2],
                v,
                blocks,
                target,
                same_epoch=e1 == e2,
                shared_nugget=nugget,
                site_radius_m=site_radius_m,
            )
            covariance[e1 * n_strata : (e1 + 1) * n_strata, e2 * n_strata : (e2 + 1) * n_strata] = (
                block_cov
            )
            if e2 != e1:
                covariance[
                    e2 * n_strata : (e2 + 1) * n_strata, e1 * n_strata : (e1 + 1) * n_strata
                ] = block_cov.T
    tiled = np.tile(scales, n_epochs)
    covariance *= np.outer(tiled, tiled)
    for e in range(n_epochs):
        for i in target.tolist():
            k = e * n_strata + i
            logger.info(
                "stratum %s, epoch %d: %d cores, mean SOC %.2f ± %.2f Mg C/ha over %.2f ha",
                names[i],
                e + 1,
                counts[e, i],
                means[e, i],
                math.sqrt(max(covariance[k, k], 0.0)),
                areas[i],
            )
    return StratumBlocks(
        strata=tuple(names),
        measured=tuple(bool(m) for m in measured),
        n_cores=counts,
        mean_mg_ha=means,
        area_ha=areas,
        covariance=covariance,
        variograms=tuple(fitted),
        variogram_sources=tuple(sources),
        sharing=sharing,
        scales=tuple(float(k) for k in scales),
    )


def _stratum_residuals(zs: FloatArray, groups: npt.NDArray[np.int64]) -> FloatArray:
    """Each value less the mean of its stratum."""
    residuals = zs.copy()
    for code in np.unique(groups):
        members = groups == code
        residuals[members] -= zs[members].mean()
    return residuals


_Arrays = tuple[FloatArray, FloatArray, npt.NDArray[np.int64], FloatArray]


def _stratum_scales(arrays: Sequence[_Arrays]) -> dict[int, float]:
    """Each stratum code's residual scale κ_g (eq. 3.23a); empty when the pooled variance is 0.

    Notes
    -----
    The residuals about each epoch's stratum means give every stratum its
    sum of squares SS_g on ν_g = Σ_e (n_{e,g} − 1) degrees of freedom, and
    the pooled variance is s_p² = Σ SS_g / Σ ν_g. A stratum with
    ν_g ≥ :data:`MIN_SCALE_DOF` takes its own variance s_g² = SS_g / ν_g,
    widened for having been estimated from ν_g degrees of freedom so that
    a normal 90 % interval has the Student-t one's width,

        κ_g² = (s_g² / s_p²) × (t_{0.95, ν_g} / z_{0.95})²,

    and any other κ_g = 1 (the pooled variance).
    """
    from scipy.stats import norm, t

    sums: dict[int, float] = {}
    dof: dict[int, float] = {}
    for _, zs, groups, _ in arrays:
        residuals = _stratum_residuals(zs, groups)
        for code in np.unique(groups).tolist():
            members = groups == code
            sums[code] = sums.get(code, 0.0) + float(residuals[members] @ residuals[members])
            dof[code] = dof.get(code, 0.0) + float(members.sum() - 1)
    total_dof = sum(dof.values())
    pooled = sum(sums.values()) / total_dof if total_dof > 0 else 0.0
    if not pooled > 0:
        return {}
    z95 = float(norm.ppf(0.95))
    return {
        code: math.sqrt(sums[code] / dof[code] / pooled) * float(t.ppf(0.95, dof[code])) / z95
        if dof[code] >= MIN_SCALE_DOF
        else 1.0
        for code in sums
    }


def _standardised(arrays: _Arrays, scale_of: Mapping[int, float]) -> _Arrays:
    """One epoch's values divided by their stratum's scale, measurement variances by its square."""
    xy, zs, groups, noise = arrays
    kappa = np.array([scale_of.get(int(g), 1.0) for g in groups])
    return xy, zs / kappa, groups, noise / kappa**2


def _pooled_variogram(
    arrays: Sequence[_Arrays], fallbacks: Sequence[VariogramModel]
) -> tuple[list[VariogramModel], list[str]]:
    """One residual variogram of every epoch's cores, pooled (pairs within an epoch only).

    The residuals are the cores' deviations from their epoch's stratum means;
    pooling the epochs' pairs (``groups``) fits one model to twice the data,
    where two separate fits of ~40 cores each scatter widely. When it cannot
    be fitted, each epoch keeps its fallback (the SOC map's variogram).
    """
    xy = np.vstack([a[0] for a in arrays])
    try:
        pooled = residual_variogram(
            xy[:, 0],
            xy[:, 1],
            np.concatenate([a[1] for a in arrays]),
            np.concatenate([a[2] for a in arrays]),
            model=fallbacks[-1].model,
            epochs=np.concatenate([np.full(a[1].size, e) for e, a in enumerate(arrays)]),
        )
    except (InputError, ModelError) as exc:
        reason = gettext("the SOC map's variogram (residuals: {problem})").format(
            problem=exc.problem.message
        )
        return list(fallbacks), [reason] * len(arrays)
    return [pooled] * len(arrays), [gettext("residuals, epochs pooled")] * len(arrays)


#: Fewest revisited sites to estimate what two epochs' errors share.
MIN_REVISIT_PAIRS: Final = 5


def _shared_parts(
    first: _Arrays, second: _Arrays, v: VariogramModel, *, site_radius_m: float
) -> tuple[VariogramModel, float, dict[str, float]]:
    """The structured covariance and process nugget two epochs' cores share.

    Notes
    -----
    Z₂ = Z₁ + D: what D adds is not shared. At a site revisited within
    ``site_radius_m`` the difference of the residuals d = r₂ − r₁ has, if the
    epochs shared everything but the measurement errors, variance
    se₁² + se₂²; the excess τ² = max(0, mean(d²) − mean(se₁² + se₂²)) is what
    they do not share (a new micro-site at each visit, the change field D).
    It is taken first from the process nugget, then from the structured
    part: c₀ₛ = max(0, c₀′ − τ²/2), c₁ₛ = max(0, c₁ − max(0, τ²/2 − c₀′))
    (method of moments on the model of docs/methodology.md §6.5). With
    fewer than :data:`MIN_REVISIT_PAIRS` revisits the nugget is not shared
    and the structured part is (c₀ₛ = 0, c₁ₛ = c₁).
    """
    xy1, z1, g1, noise1 = first
    xy2, z2, g2, noise2 = second
    r1, r2 = _stratum_residuals(z1, g1), _stratum_residuals(z2, g2)
    # Each epoch's process nugget is the nugget less its own mean measurement
    # variance (as in its kriging system); the smaller is what a site can keep.
    process = max(min(v.nugget - float(noise1.mean()), v.nugget - float(noise2.mean())), 0.0)
    distance = cdist(xy1, xy2)
    i, j = np.nonzero(distance <= site_radius_m)
    if i.size < MIN_REVISIT_PAIRS:
        tau2 = math.nan
        nugget, psill = 0.0, v.psill
    else:
        tau2 = max(0.0, float(np.mean((r2[j] - r1[i]) ** 2 - noise1[i] - noise2[j])))
        nugget = max(0.0, process - tau2 / 2.0)
        psill = max(0.0, v.psill - max(0.0, tau2 / 2.0 - process))
    shared = VariogramModel(
        model=v.model, nugget=v.nugget, psill=max(psill, 1e-12 * v.psill), range_m=v.range_m
    )
    record = {
        "revisit_pairs": float(i.size),
        "tau2": tau2,
        "shared_partial_sill": psill,
        "shared_nugget": nugget,
    }
    return shared, nugget, record


def _shared(v1: VariogramModel, v2: VariogramModel) -> VariogramModel:
    """The structured covariance two epochs share: the smaller partial sill's."""
    return v1 if v1.psill <= v2.psill else v2


def _error_covariance(
    first: _EpochSystem,
    second: _EpochSystem,
    v: VariogramModel,
    blocks: Sequence[BlockDiscretisation | None],
    target: npt.NDArray[np.intp],
    *,
    same_epoch: bool,
    shared_nugget: float,
    site_radius_m: float,
) -> FloatArray:
    """``(S, S)`` Cov(e_{1,s}, e_{2,t}) of the block means' errors (``stratum_blocks`` Notes)."""
    n_strata = len(blocks)
    out = np.zeros((n_strata, n_strata))
    distance = cdist(first.xy, second.xy)
    cores = structured_covariance(v, distance)
    if same_epoch:
        n = first.xy.shape[0]
        cores[np.arange(n), np.arange(n)] += first.process_nugget + first.noise
    else:
        cores += shared_nugget * (distance <= site_radius_m)
    w1 = first.weights[:, target]
    w2 = second.weights[:, target]
    to_blocks_1 = np.zeros((first.xy.shape[0], target.size))
    to_blocks_2 = np.zeros((second.xy.shape[0], target.size))
    points = []
    for j, i in enumerate(target):
        block = blocks[int(i)]
        assert block is not None
        to_blocks_1[:, j] = mean_covariance_to_block(v, first.xy, block)
        to_blocks_2[:, j] = mean_covariance_to_block(v, second.xy, block)
        points.append(block)
    between = np.zeros((target.size, target.size))
    for j, bj in enumerate(points):
        xy = np.column_stack([bj.x, bj.y])
        for k, bk in enumerate(points):
            between[j, k] = float(mean_covariance_to_block(v, xy, bk) @ bj.weights)
    cov = w1.T @ cores @ w2 - w1.T @ to_blocks_1 - to_blocks_2.T @ w2 + between
    out[np.ix_(target, target)] = cov
    return out
