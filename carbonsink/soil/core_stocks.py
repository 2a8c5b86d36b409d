"""SOC stocks of cores to standard depths and at an equivalent soil mass.

:func:`core_stocks` sums a soil table's layers to standard depths (0–30 and
0–100 cm by default), filling the depths no layer covers — gaps between
layers, a missing surface layer, the part below the deepest layer — with the
equal-area spline of :mod:`~carbonsink.soil.profiles` or a linear rule, and
flagging each such core. Given reference soil masses it also gives each
core's SOC in that mass of soil plus the sediment deposited on it since the
first survey (equivalent soil mass, docs/methodology.md §3.4).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import brentq

from carbonsink.errors import ConfigError, InputError, Problem
from carbonsink.io.soil_sheets import om_fraction, usable_layers
from carbonsink.schemas import check_table, method_names
from carbonsink.soil.conversion import (
    OM_TO_OC,
    SiteRegression,
    _carbon_terms,
    _standard_errors,
)
from carbonsink.soil.layer_gaps import fill_bulk_densities
from carbonsink.soil.profiles import (
    INTERPOLATIONS,
    _check_lambda,
    _spline_integral,
    _spline_parameters,
)

__all__ = ["core_stocks", "depth_label", "summarize_core_stocks"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
#: At most this many problems are spelled out in one error message.
_MAX_PROBLEMS_SHOWN = 50
#: Mg of soil per ha in 1 cm of soil at 1 g cm⁻³ (1 cm × 1 ha = 100 m³).
MG_HA_PER_CM_G_CM3 = 100.0
#: Deepest equivalent depth searched for a reference mass, cm.
_MAX_EQUIVALENT_DEPTH_CM = 2_000.0


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


def _accretion_cm(
    layers: pd.DataFrame,
    cores: npt.NDArray[np.object_],
    years_since_first: float | None,
    path: str,
) -> dict[str, float] | None:
    """Each core's sediment thickness deposited since the first survey, cm (NaN: none given).

    From ``accretion_cm`` (a marker horizon), else ``accretion_cm_yr`` × the
    years since the first survey; ``None`` when the table has neither column.
    """
    if "accretion_cm" in layers.columns:
        column, factor = "accretion_cm", 1.0
    elif "accretion_cm_yr" in layers.columns:
        if years_since_first is None:
            return None  # the first survey itself: nothing deposited since
        column, factor = "accretion_cm_yr", float(years_since_first)
    else:
        return None
    values = pd.to_numeric(layers[column], errors="coerce").to_numpy(dtype=np.float64)
    out: dict[str, float] = {}
    for core in sorted(set(cores)):
        found = values[cores == core]
        found = np.unique(found[np.isfinite(found)])
        if found.size > 1:
            raise InputError(
                f"core {core!r} gives {found.size} different {column} values "
                f"({', '.join(f'{v:g}' for v in found)})",
                path=path,
                where=f"column {column}",
                fix="give one value per core (repeat it on every layer) or leave it blank",
            )
        out[str(core)] = float(found[0]) * factor if found.size else math.nan
    return out


def _equivalent_depth(
    weights: Callable[[float], FloatArray],
    mass_density: FloatArray,
    target_mg_ha: float,
    core: str,
    path: str,
) -> float:
    """z* with M(z*) = w(z*) · μ = target (Brent's method on the monotone M)."""
    if target_mg_ha <= 0.0:
        return 0.0

    def excess(z: float) -> float:
        return float(weights(z) @ mass_density) - target_mg_ha

    high = 10.0
    while excess(high) < 0.0:
        high *= 2.0
        if high > _MAX_EQUIVALENT_DEPTH_CM:
            raise InputError(
                f"core {core!r} does not reach a soil mass of {target_mg_ha:,.0f} Mg/ha "
                f"within {_MAX_EQUIVALENT_DEPTH_CM:,.0f} cm (its bulk densities are too low)",
                path=path,
                fix="check the core's bulk densities (g/cm³) or use a smaller depth",
            )
    return float(brentq(excess, 0.0, high, xtol=1e-6))


def core_stocks(
    layers: pd.DataFrame,
    *,
    depths_cm: Sequence[float] = (30, 100),
    om_to_oc: str = "dichromate",
    interpolation: str = "spline",
    spline_lambda: float = 0.1,
    site_regression: SiteRegression | None = None,
    path: str | None = None,
    reference_mass_mg_ha: Mapping[float, float] | None = None,
    years_since_first: float | None = None,
    bulk_density_gaps: str = "error",
    incomplete_cores: str = "error",
    oc_factors: Mapping[str, float] | None = None,
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
    reference_mass_mg_ha
        Depth D → reference soil mass M_ref(D) [Mg ha⁻¹]: when given, each core's
        SOC at equivalent soil mass is added for those depths (see Notes).
    years_since_first
        Years since the first survey: ``None`` for the first survey itself
        (nothing deposited since; the ESM target is M_ref alone), else the
        sediment deposited since is added to the target, and an
        ``accretion_cm_yr`` column (dated cores) is multiplied by it.
    bulk_density_gaps, incomplete_cores
        How gaps in the table are handled (:func:`~carbonsink.io.soil_sheets.usable_layers`):
        ``"error"`` (the default: each is a problem of the table), or
        ``"pedotransfer"`` (missing bulk densities from organic matter, ideal
        mixing) and ``"exclude"`` (rows without depth or carbon dropped, cores
        that stay unusable left out). Replicate rows of one interval are
        always averaged.
    oc_factors
        Lab method (lower case) → factor on the organic carbon (and its SE)
        of the layers measured by it: the lab-method correction 1 / (1 + b̂)
        of eq. 3.3b (:mod:`carbonsink.soil.method_calibration`). ``None``:
        every layer as measured.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``core_id`` (sorted); columns ``x``, ``y`` (the table's
        coordinates as given, in its CRS), ``max_depth_cm``, ``n_layers``,
        ``has_gap`` (some depth above the deepest layer is not sampled: a gap
        between layers or a first layer starting below the surface),
        ``replicate_layers`` (intervals averaged from several rows),
        ``bd_filled_layers`` (layers whose bulk density was estimated),
        ``dropped_layers`` (rows left out), and for
        each depth D (formatted by :func:`depth_label`): ``soc_0_{D}_mg_ha``,
        ``soc_0_{D}_se_mg_ha``, ``extrapolated_0_{D}`` (the core is shallower
        than D) and ``mass_0_{D}_mg_ha`` (soil mass 0–D, Mg ha⁻¹). With an
        ``accretion_cm`` (or ``accretion_cm_yr``) column: ``accretion_cm`` and
        the sediment deposited since the first survey, ``accreted_mass_mg_ha``
        and ``accreted_soc_mg_ha`` (its mass and carbon; NaN where the core
        has no value). With ``reference_mass_mg_ha``:
        ``esm_0_{D}_mg_ha``, ``esm_0_{D}_se_mg_ha``, ``esm_depth_0_{D}_cm``
        (the equivalent depth z*) and ``esm_extrapolated_0_{D}``.
        ``attrs["excluded_cores"]``: the cores left out (``core_id``,
        ``lines``, ``reason`` records); ``attrs["layer_gaps"]``: what was
        repaired (counts, dropped rows and the bulk-density model), for the
        ledger.

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

    Equivalent soil mass (docs/methodology.md eq. 3.7–3.9a): the soil mass
    0–z is M(z) = w(z) · μ with μ_i = BD_i (1 − CF_i) × 100 Mg ha⁻¹ cm⁻¹ and
    the same weights w as the stocks (so gaps and the part below the deepest
    layer are filled alike). A core's equivalent depth z* solves
    M(z*) = M_ref + m_acc (Brent's method), m_acc = M(accretion) the mass of
    the sediment above the marker horizon (0 without accretion), and its ESM
    stock is S(z*) = w(z*) · ρ: the carbon of the reference soil plus the
    sediment laid on it, with ρ uniform within each layer (Ellert & Bettany
    1995). A core without an accretion value takes the mean accreted mass of
    the cores that have one. Its SE propagates the layers' errors at fixed z*.
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
    sheet = usable_layers(
        layers,
        bulk_density_gaps=bulk_density_gaps,
        incomplete_cores=incomplete_cores,
        path=display,
    )
    gaps = fill_bulk_densities(sheet, path=display)
    layers = gaps.layers
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
    factor: npt.NDArray[np.float64] = np.ones(len(layers))
    if oc_factors and "method" in layers.columns:
        methods = method_names(layers["method"])
        factor = np.asarray(methods.map(dict(oc_factors)).fillna(1.0), dtype=np.float64)
    oc = terms.oc_pct * factor
    independent_var = terms.independent_var * factor**2
    # Filled bulk densities (eq. 3.2c): their residual error is taken as fully
    # correlated within a core, their k1/k2 error as shared by every filled layer.
    filled = layers.index.isin(gaps.filled_lines)
    filled_sd = np.zeros(len(layers))
    filled_gradient = np.zeros((len(layers), 2))
    k_covariance = np.zeros((2, 2))
    if gaps.model is not None and filled.any():
        _, residual_se, gradient = gaps.model.predict_parts(om_fraction(layers)[filled])
        per_bd = (oc * (1.0 - cf))[filled]
        bd_se[filled] = 0.0
        filled_sd[filled] = per_bd * residual_se
        filled_gradient[filled] = per_bd[:, None] * gradient
        k_covariance = gaps.model.covariance_log
    density = oc * bd * (1.0 - cf)
    density_var = (
        (bd * (1.0 - cf)) ** 2 * independent_var
        + (oc * (1.0 - cf)) ** 2 * bd_se**2
        + (oc * bd) ** 2 * cf_se**2
    )
    density_gradient = (bd * (1.0 - cf) * factor)[:, None] * terms.gradient
    covariance = (
        np.asarray(site_regression.covariance, dtype=np.float64)
        if site_regression is not None
        else np.zeros((2, 2))
    )

    def variance_of(w: FloatArray, rows: npt.NDArray[np.intp]) -> float:
        """Var(w · ρ) of a core: independent layer errors, the site regression's and the
        filled bulk densities' shared terms, and their within-core residual."""
        shared = w @ density_gradient[rows]
        k_part = w @ filled_gradient[rows]
        return float(
            w**2 @ density_var[rows]
            + shared @ covariance @ shared
            + (w @ filled_sd[rows]) ** 2
            + k_part @ k_covariance @ k_part
        )

    xcol, ycol = ("x", "y") if {"x", "y"} <= set(layers.columns) else ("lon", "lat")
    xs = pd.to_numeric(layers[xcol]).to_numpy(dtype=np.float64)
    ys = pd.to_numeric(layers[ycol]).to_numpy(dtype=np.float64)

    cores = layers["core_id"].astype("string").str.strip().to_numpy(dtype=object)
    labels = [depth_label(d) for d in depths]
    accretion = _accretion_cm(layers, cores, years_since_first, display)
    mass_density = bd * (1.0 - cf) * MG_HA_PER_CM_G_CM3
    records: list[dict[str, object]] = []
    columns: list[
        tuple[npt.NDArray[np.intp], FloatArray, FloatArray, tuple[FloatArray, FloatArray] | None]
    ] = []
    for core in sorted(set(cores)):
        rows = np.flatnonzero(cores == core)
        rows = rows[np.lexsort((bottom[rows], top[rows]))]
        tops, bottoms = top[rows], bottom[rows]
        operator = None
        if interpolation == "spline" and (
            reference_mass_mg_ha is not None or any(_uncovered(tops, bottoms, d) for d in depths)
        ):
            operator = _spline_parameters(tops, bottoms, np.eye(rows.size), float(spline_lambda))
        record: dict[str, object] = {
            "core_id": core,
            "x": float(xs[rows[0]]),
            "y": float(ys[rows[0]]),
            "max_depth_cm": float(bottoms.max()),
            "n_layers": int(rows.size),
            "has_gap": bool(tops[0] > 0 or (tops[1:] > bottoms[:-1]).any()),
            "replicate_layers": sum(int(line) in sheet.replicates for line in layers.index[rows]),
            "bd_filled_layers": int(np.isin(layers.index[rows], gaps.filled_lines).sum()),
            "dropped_layers": int((sheet.dropped["core_id"] == core).sum()),
        }
        for depth, label in zip(depths, labels, strict=True):
            w = _depth_weights(tops, bottoms, depth, interpolation=interpolation, operator=operator)
            variance = variance_of(w, rows)
            record[f"soc_0_{label}_mg_ha"] = float(w @ density[rows])
            record[f"soc_0_{label}_se_mg_ha"] = math.sqrt(max(variance, 0.0))
            record[f"extrapolated_0_{label}"] = bool(bottoms.max() < depth)
            record[f"mass_0_{label}_mg_ha"] = float(w @ mass_density[rows])
        if accretion is not None:
            acc = accretion.get(core, math.nan)
            record["accretion_cm"] = acc
            above = (
                _depth_weights(tops, bottoms, acc, interpolation=interpolation, operator=operator)
                if math.isfinite(acc) and acc > 0
                else np.zeros(rows.size)
            )
            record["accreted_mass_mg_ha"] = (
                float(above @ mass_density[rows]) if math.isfinite(acc) else math.nan
            )
            record["accreted_soc_mg_ha"] = (
                float(above @ density[rows]) if math.isfinite(acc) else math.nan
            )
        records.append(record)
        columns.append((rows, tops, bottoms, operator))
    if reference_mass_mg_ha is not None:
        since = years_since_first is not None
        added = np.array(
            [r.get("accreted_mass_mg_ha", 0.0) if since else 0.0 for r in records],
            dtype=np.float64,
        )
        fill = float(np.nanmean(added)) if np.isfinite(added).any() else 0.0
        added = np.where(np.isfinite(added), added, fill)
        for record, (rows, tops, bottoms, operator), extra in zip(
            records, columns, added, strict=True
        ):
            for depth, label in zip(depths, labels, strict=True):
                if depth not in reference_mass_mg_ha:
                    continue
                target = float(reference_mass_mg_ha[depth]) + float(extra)
                weights = partial(
                    _depth_weights, tops, bottoms, interpolation=interpolation, operator=operator
                )
                z_star = _equivalent_depth(weights, mass_density[rows], target, core, display)
                w = weights(z_star)
                variance = variance_of(w, rows)
                record[f"esm_0_{label}_mg_ha"] = float(w @ density[rows])
                record[f"esm_0_{label}_se_mg_ha"] = math.sqrt(max(variance, 0.0))
                record[f"esm_depth_0_{label}_cm"] = z_star
                record[f"esm_extrapolated_0_{label}"] = bool(bottoms.max() < z_star)
    table = pd.DataFrame.from_records(records).set_index("core_id")
    table.attrs["excluded_cores"] = sheet.excluded.to_dict("records")
    table.attrs["layer_gaps"] = {
        "replicate_layers": len(sheet.replicates),
        "replicate_rows": sum(len(v) for v in sheet.replicates.values()),
        "bd_filled_layers": len(gaps.filled_lines),
        "bulk_density_model": gaps.model.describe() if gaps.model is not None else None,
        "dropped": sheet.dropped.to_dict("records"),
    }
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
