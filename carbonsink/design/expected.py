"""The claim's uncertainty at the next monitoring epoch for a given number of cores and plots.

A completed run knows every epoch's errors. The next epoch, ``years`` after
the last, is built as the ledger would see it (docs/methodology.md §9.1):

* **its stocks** continue the measured trend: every stratum's total of every
  quantity is the last epoch's moved on by its change since the first epoch
  × years / (t_last − t_first) (a linear rate; a stock does not go below 0);
* **its SOC errors** are those of universal block kriging (§3.10) with the
  design's cores — the first epoch's sites revisited first, then new
  balanced sites (:mod:`~carbonsink.design.placement`) — under the run's
  fitted residual variogram, residual scales κ_s and what revisits share
  (eq. 6.11), jointly with every earlier epoch; plus what the last epoch
  carried beyond its kriging variance (the allochthonous deduction's and a
  lab method's common errors);
* **its AGB corrections** keep the last epoch's errors outside the area of
  applicability, and the rest of each stratum's variance scales with its
  number of plots as a mean does, SE²_in × m_last / m.

The ledger's own Monte Carlo (:func:`~carbonsink.accounting.ledger.build_ledger`)
then runs on every epoch with that one added: its cumulative chain at the
new epoch gives the U the claim would carry, and the tradable credits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from carbonsink.accounting.ledger import Ledger, build_ledger
from carbonsink.accounting.pools import KeyedTotals, StratumTotals
from carbonsink.accounting.simulation import EpochInputs, joint_covariance
from carbonsink.design.placement import StratumSites, edge_distance, stratum_sites
from carbonsink.errors import InputError
from carbonsink.pipeline.run import RunResult
from carbonsink.pipeline.stages.ledger_arguments import LedgerArguments, ledger_arguments
from carbonsink.pipeline.stages.ledger_soil import hold, method_change
from carbonsink.pipeline.stages.soil import soc_column
from carbonsink.soil.stratum_blocks import CoreSet, stratum_blocks
from carbonsink.spatial.variogram import VariogramModel

__all__ = [
    "DesignBasis",
    "Expected",
    "current_effort",
    "design_basis",
    "expected_claim",
    "u_range",
]

FloatArray = npt.NDArray[np.float64]
#: Fewest sites ordered per stratum and kind (the search may add up to this many).
DEFAULT_MAX_SITES = 200
#: How far inside the boundary a new site's cell centre lies, m: 5 SDs of a 2 m
#: handheld-GNSS position, so a plot navigated to it is still inside.
SITE_MARGIN_M = 10.0
#: Planning SD of one soil sample's relative difference between two organic-carbon
#: methods, for the calibration a design may propose (eq. 9.8) [U].
DEFAULT_PAIR_SD = 0.10


@dataclass(frozen=True)
class Expected:
    """What a design leaves the claim at the next epoch.

    Attributes
    ----------
    cores, plots
        Stratum → cores and plots of the next epoch.
    u
        The relative half-width the claim's rule would use.
    u_range
        Its 90 % range over what the next epoch's net may turn out to be
        (eq. 9.6): the forecast's own error and the new estimate's; ``inf``
        where the net may be 0 or less.
    ner_t_co2e, ner_ci90_t_co2e
        Mean and 90 % interval of the cumulative net, t CO2e.
    tradable_t_co2e
        The cumulative tradable credits at the next epoch, t CO2e.
    ledger
        The ledger of every epoch and the design's (for its details).
    epoch
        The next epoch's aggregates as the design leaves them (eq. 9.1–9.3).
    pairs
        Soil samples measured by both organic-carbon methods (eq. 9.8).
    """

    cores: Mapping[str, int]
    plots: Mapping[str, int]
    u: float
    u_range: tuple[float, float]
    ner_t_co2e: float
    ner_ci90_t_co2e: tuple[float, float]
    tradable_t_co2e: float
    ledger: Ledger
    epoch: EpochInputs
    pairs: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (``design.json``)."""
        return {
            "cores": dict(self.cores),
            "plots": dict(self.plots),
            "pairs": self.pairs,
            "u": _finite(self.u),
            "u_range90": [_finite(u) for u in self.u_range],
            "ner_t_co2e": self.ner_t_co2e,
            "ner_ci90_t_co2e": list(self.ner_ci90_t_co2e),
            "tradable_t_co2e": self.tradable_t_co2e,
        }


@dataclass(frozen=True)
class DesignBasis:
    """Everything a design's prediction needs from a completed run.

    Attributes
    ----------
    run
        The run.
    arguments
        Its ledger's inputs (every epoch's, SOC block-kriged) and shared errors.
    years
        Years from the last epoch to the next.
    core_sites, plot_sites
        Stratum → its ordered candidate sites (:mod:`~carbonsink.design.placement`).
    cores_now, plots_now
        Stratum → cores and plots of the last epoch.
    measured
        The strata whose soil is measured (cores in every epoch): only they
        take cores.
    method_sd
        The relative SD of the lab-method bias the last epoch's SOC carries
        (eq. 3.3a: its method is not the first epoch's), else ``None``.
    method_totals
        The last epoch's SOC totals that bias scales, t C, in the SOC blocks'
        stratum order (0 for a held stratum); empty without it.
    """

    run: RunResult
    arguments: LedgerArguments
    years: float
    core_sites: Mapping[str, StratumSites]
    plot_sites: Mapping[str, StratumSites]
    cores_now: Mapping[str, int]
    plots_now: Mapping[str, int]
    measured: tuple[str, ...]
    method_sd: float | None = None
    method_totals: FloatArray = dataclasses.field(default_factory=lambda: np.zeros(0))


def calibrated_sd(sd: float, pair_sd: float, pairs: int) -> float:
    """The lab-method bias's relative SD once ``pairs`` samples are measured by both methods.

    Parameters
    ----------
    sd
        The bias's SD before (``[soil] method_bias_sd_pct`` / 100, or σ_N of
        the survey's own samples by both methods, eq. 3.3b).
    pair_sd
        The SD of one sample's relative difference between the methods.
    pairs
        Samples measured by both.

    Notes
    -----
    The new method's OC is corrected by the pairs' mean relative difference,
    whose error has the SD ``pair_sd / √N``; with the planning SD as prior::

        (9.8) 1 / σ²_N = 1 / σ_m² + N / s_d²

    (the precision of a normal mean with a normal prior). ``sd`` 0 stays 0.

    Examples
    --------
    >>> round(calibrated_sd(0.02, 0.10, 25), 6)  # 1/σ² = 2,500 + 2,500
    0.014142
    """
    if sd <= 0.0 or pairs <= 0:
        return max(sd, 0.0)
    return 1.0 / math.sqrt(1.0 / (sd * sd) + pairs / (pair_sd * pair_sd))


def _stratum_of(run: RunResult, xy: FloatArray) -> npt.NDArray[np.int64]:
    """The stratum code (last land cover) of each point; −1 outside the grid or boundary."""
    ctx = run.context
    rows, cols = ctx.grid.index(xy[:, 0], xy[:, 1])
    strata = run.results[-1].cube.cube["landcover"].values
    inside = ctx.inside.values.astype(bool)
    ok = (rows >= 0) & (rows < ctx.grid.height) & (cols >= 0) & (cols < ctx.grid.width)
    out = np.full(xy.shape[0], -1, dtype=np.int64)
    r, c = rows[ok], cols[ok]
    out[ok] = np.where(inside[r, c], strata[r, c], -1)
    return out


def design_basis(
    run: RunResult,
    *,
    years: float | None = None,
    max_sites: int = DEFAULT_MAX_SITES,
    margin_m: float = SITE_MARGIN_M,
) -> DesignBasis:
    """Prepare the prediction of a run's next epoch.

    Parameters
    ----------
    run
        A completed run of at least two epochs.
    years
        Years to the next epoch; by default the last period's length.
    max_sites
        Sites ordered per stratum and kind.
    margin_m
        New sites' cells have their centre at least this far inside the
        boundary, m.

    Raises
    ------
    InputError
        One epoch only, or ``years`` not positive.
    """
    ctx, results = run.context, run.results
    if len(results) < 2:
        raise InputError(
            "a sampling design needs a run of two epochs or more (it predicts the change)",
            where=str(ctx.survey.survey.name),
            fix="run the survey with a second epoch first",
        )
    spans = [(b.epoch.date - a.epoch.date).days / 365.25 for a, b in itertools.pairwise(results)]
    step = spans[-1] if years is None else float(years)
    if not step > 0:
        raise InputError(f"{years} years to the next epoch", fix="give a positive number")
    # The run's own SOC blocks and shared errors, or (a RunResult built by hand) again.
    arguments = run.ledger_arguments or ledger_arguments(
        ctx, results, run.ledger_inputs, depth=float(ctx.profile.soil_depth_cm)
    )
    legend = ctx.survey.vegetation.by_code()
    strata_map = results[-1].cube.cube["landcover"].values
    cube = results[-1].cube.cube
    yy, xx = np.meshgrid(ctx.grid.y, ctx.grid.x, indexing="ij")
    # A site found a handheld GNSS's few metres off is still inside (docs/methodology.md §9.2).
    region = ctx.boundary.to_crs(ctx.survey.crs).buffer(-margin_m)
    inside = ctx.inside.values.astype(bool) & shapely.contains_xy(region, xx, yy)
    dry = inside & ~(np.nan_to_num(cube["water"].values) > 0)
    layers = results[-1].biomass.layers
    outside = (
        np.nan_to_num(layers["agb_outside_aoa"].values) > 0
        if "agb_outside_aoa" in layers
        else np.zeros_like(dry)
    )
    applicable = dry & ~outside
    first_cores = results[0].core_stocks[["x", "y"]].to_numpy(dtype=np.float64)
    first_strata = _stratum_of(run, first_cores)
    last_cores = _stratum_of(run, results[-1].core_stocks[["x", "y"]].to_numpy(np.float64))
    entry = results[-1].epoch.plots
    plots = (
        np.zeros((0, 2))
        if entry is None
        else ctx.points(entry)[["x", "y"]].to_numpy(dtype=np.float64)
    )
    plot_strata = _stratum_of(run, plots)
    blocks = arguments.blocks
    measured = tuple(s for s, m in zip(blocks.strata, blocks.measured, strict=True) if m)
    core_sites, plot_sites, cores_now, plots_now = {}, {}, {}, {}
    cell = ctx.grid.resolution
    for code, name in legend.items():
        cores_now[name] = int((last_cores == code).sum())
        plots_now[name] = int((plot_strata == code).sum())
        region = dry & (strata_map == code)
        if name in measured:
            core_sites[name] = stratum_sites(
                np.column_stack([xx[region], yy[region]]),
                first_sites=first_cores[first_strata == code],
                n_max=max_sites,
                edge_m=edge_distance(region, cell)[region],
            )
        region = applicable & (strata_map == code)
        if region.any():
            plot_sites[name] = stratum_sites(
                np.column_stack([xx[region], yy[region]]),
                n_max=max_sites,
                edge_m=edge_distance(region, cell)[region],
            )
    method = method_change(ctx, results)
    method_sd, method_totals = None, np.zeros(0)
    if method is not None and method[0] > 0 and len(results) - 1 in method[2]:
        # eq. 3.3a as the run's ledger adds it (ledger_soil.soc_quantities): σ_m² T̂ T̂ᵀ over
        # the last epoch's measured strata.
        soc_last = arguments.inputs[-1].quantities["soc_t_c"]
        assert isinstance(soc_last, StratumTotals)
        method_sd = method[0]
        method_totals = np.array(
            [
                soc_last.totals[s] if m else 0.0
                for s, m in zip(blocks.strata, blocks.measured, strict=True)
            ]
        )
    return DesignBasis(
        run=run,
        arguments=arguments,
        years=step,
        core_sites=core_sites,
        plot_sites=plot_sites,
        cores_now=cores_now,
        plots_now=plots_now,
        measured=measured,
        method_sd=method_sd,
        method_totals=method_totals,
    )


def _trend(first: float, last: float, fraction: float) -> float:
    """The last value moved on by its change since the first × ``fraction``, at least 0."""
    return max(last + (last - first) * fraction, 0.0)


def _soc_joint(
    basis: DesignBasis,
    cores: Mapping[str, int],
    *,
    pairs: int = 0,
    pair_sd: float = DEFAULT_PAIR_SD,
) -> tuple[FloatArray, FloatArray]:
    """The SOC totals' errors with the design's epoch added: joint covariance and its block.

    With ``pairs``, the lab-method bias the last epoch carries on to the next
    is the calibrated one (eq. 9.8) instead of the run's (``[soil]
    method_bias_sd_pct``, or σ_N of ``[soil] method_pairs``, eq. 3.3b).
    """
    run, arguments = basis.run, basis.arguments
    ctx, results = run.context, run.results
    depth = float(ctx.profile.soil_depth_cm)
    column = soc_column(depth)
    blocks = arguments.blocks
    sets = [
        CoreSet(
            x=r.core_stocks["x"].to_numpy(),
            y=r.core_stocks["y"].to_numpy(),
            values=r.core_stocks[column].to_numpy(),
            se=r.core_stocks[column.replace("_mg_ha", "_se_mg_ha")].to_numpy(),
        )
        for r in results
    ]
    chosen = [basis.core_sites[s].xy[: cores.get(s, 0)] for s in basis.measured]
    xy = np.vstack(chosen) if chosen else np.zeros((0, 2))
    se_last = sets[-1].se
    se = float(np.nanmedian(se_last)) if se_last is not None and se_last.size else 0.0
    sets.append(
        CoreSet(x=xy[:, 0], y=xy[:, 1], values=np.full(len(xy), 100.0), se=np.full(len(xy), se))
    )
    v = blocks.variograms[-1]
    sharing = blocks.sharing
    psill = sharing.get("shared_partial_sill", v.psill)
    shared = VariogramModel(
        model=v.model,
        nugget=v.nugget,
        psill=max(float(psill) if math.isfinite(psill) else v.psill, 1e-12 * v.psill),
        range_m=v.range_m,
    )
    nugget = float(sharing.get("shared_nugget", 0.0))
    legend = ctx.survey.vegetation.by_code()
    design = stratum_blocks(
        sets,
        ctx.grid,
        results[-1].cube.cube["landcover"].values,
        {legend[c]: c for c in sorted(legend)},
        variograms=[v] * len(sets),
        mask=ctx.inside.values.astype(bool),
        fit_variograms=False,
        stratum_scales=True,
        given_scales=dict(zip(blocks.strata, blocks.scales, strict=True)),
        shared=(shared, nugget if math.isfinite(nugget) else 0.0),
    )
    n = len(blocks.strata)
    e = len(results)
    kriged = design.total_covariance_t_c
    # The run's own errors of the existing epochs, in the blocks' stratum order.
    run_joint = joint_covariance(
        arguments.inputs, "soc_t_c", blocks.strata, arguments.error_covariance.get("soc_t_c")
    )
    joint = np.zeros(((e + 1) * n, (e + 1) * n))
    joint[: e * n, : e * n] = run_joint
    joint[e * n :, :] = kriged[e * n :, :]
    joint[:, e * n :] = kriged[:, e * n :]
    # What the last epoch carried beyond its kriging (the allochthonous deduction's and a
    # lab method's common errors) carries on to the next.
    last = slice((e - 1) * n, e * n)
    extra = run_joint[last, last] - blocks.total_covariance_t_c[last, last]
    joint[e * n :, e * n :] += np.where(np.isfinite(extra), extra, 0.0)
    if pairs > 0 and basis.method_sd is not None:
        after = calibrated_sd(basis.method_sd, pair_sd, pairs)
        t = basis.method_totals
        joint[e * n :, e * n :] += (after * after - basis.method_sd**2) * np.outer(t, t)
    held = [i for i, s in enumerate(blocks.strata) if s not in basis.measured]
    joint = hold(joint, held, n_epochs=e + 1)
    return joint, joint[e * n :, e * n :]


def _stratum_sums(quantity: KeyedTotals) -> dict[str, float]:
    """Stratum → the sum of its keys' map totals."""
    sums: dict[str, float] = {}
    for (s, _), t in zip(quantity.keys, quantity.totals, strict=True):
        sums[s] = sums.get(s, 0.0) + float(t)
    return sums


def _next_agb(
    first: KeyedTotals,
    last: KeyedTotals,
    fraction: float,
    plots: Mapping[str, int],
    now: Mapping[str, int],
) -> KeyedTotals:
    """The last epoch's AGB moved on by the trend, with the design's plots' correction errors."""
    stratum_first, stratum_last = _stratum_sums(first), _stratum_sums(last)
    factor = {
        s: _trend(stratum_first.get(s, total), total, fraction) / total if total > 0 else 1.0
        for s, total in stratum_last.items()
    }
    scale = np.array([factor[s] for s, _ in last.keys])
    corrections = {}
    for s, (c, se) in last.corrections.items():
        outside = last.outside_se.get(s, 0.0)
        inner = max(se * se - outside * outside, 0.0)
        m_now, m_new = now.get(s, 0), plots.get(s, now.get(s, 0))
        ratio = m_now / m_new if m_now > 0 and m_new > 0 else 1.0
        corrections[s] = (c * factor.get(s, 1.0), math.sqrt(inner * ratio + outside * outside))
    return dataclasses.replace(
        last,
        totals=last.totals * scale,
        replicates=last.replicates * scale[None, :],
        corrections=corrections,
        correction_covariance=None,
    )


def expected_claim(
    basis: DesignBasis,
    cores: Mapping[str, int],
    plots: Mapping[str, int],
    *,
    n_draws: int = 10_000,
    budget: bool = False,
    pairs: int = 0,
    pair_sd: float = DEFAULT_PAIR_SD,
) -> Expected:
    """The claim at the next epoch if it takes ``cores`` and ``plots`` per stratum.

    Parameters
    ----------
    basis
        :func:`design_basis` of the run.
    cores
        Measured stratum → cores of the next epoch (at least 2 each; others
        take none).
    plots
        Stratum → plots of the next epoch (missing: as many as the last).
    n_draws
        Monte Carlo draws (a fixed number: designs are compared on the same
        draws, with the run's seed).
    budget
        Also give the uncertainty budget of the net at the next epoch in the
        ledger's ``extra["u_budget"]`` (eq. 6.14; one more Monte Carlo per
        group of inputs).
    pairs, pair_sd
        Soil samples measured by both organic-carbon methods, and the SD of
        one's relative difference (eq. 9.8); no effect when the last epoch
        carries no lab-method bias.

    Returns
    -------
    Expected
    """
    from carbonsink.accounting.parameters import class_parameters

    run, arguments = basis.run, basis.arguments
    ctx = run.context
    inputs = arguments.inputs
    first, last = inputs[0], inputs[-1]
    span = (last.date - first.date).days / 365.25
    fraction = basis.years / span
    new_date = last.date + dt.timedelta(days=round(basis.years * 365.25))
    counts = {s: max(int(cores.get(s, 0)), 2) for s in basis.measured}
    pairs = pairs if basis.method_sd is not None else 0
    joint, block = _soc_joint(basis, counts, pairs=pairs, pair_sd=pair_sd)
    soc_first, soc_last = first.quantities["soc_t_c"], last.quantities["soc_t_c"]
    assert isinstance(soc_first, StratumTotals) and isinstance(soc_last, StratumTotals)
    strata = list(arguments.blocks.strata)
    totals = {
        s: soc_last.totals[s]
        if s in soc_last.held
        else _trend(soc_first.totals[s], soc_last.totals[s], fraction)
        for s in strata
    }
    quantities: dict[str, Any] = dict(last.quantities)
    quantities["soc_t_c"] = StratumTotals(totals=totals, covariance=block, held=soc_last.held)
    agb_first, agb_last = first.quantities.get("agb_t_dm"), last.quantities.get("agb_t_dm")
    if isinstance(agb_first, KeyedTotals) and isinstance(agb_last, KeyedTotals):
        quantities["agb_t_dm"] = _next_agb(agb_first, agb_last, fraction, plots, basis.plots_now)
    new = dataclasses.replace(last, name="design", date=new_date, quantities=quantities)
    covariance = dict(arguments.error_covariance)
    for name, keyed_joint in arguments.error_covariance.items():
        # The next epoch shares its cells outside the AOA with the first as the last does
        # (eq. 6.8d), and nothing with the others: its map is not made yet.
        one, two = first.quantities.get(name), last.quantities.get(name)
        if isinstance(one, KeyedTotals) and isinstance(two, KeyedTotals):
            size = keyed_joint.shape[1]
            covariance[name] = keyed_joint[: len(one.corrections), size - len(two.corrections) :]
    covariance["soc_t_c"] = joint
    profile = ctx.profile
    ledger = build_ledger(
        [*inputs, new],
        class_parameters(ctx.survey.vegetation.classes, profile),
        profile=profile,
        seed=ctx.seed,
        n_draws=n_draws,
        max_draws=n_draws,
        baseline_t_co2e_yr=ctx.survey.accounting.baseline_removals_t_co2e_yr,
        error_covariance=covariance,
        budget=budget,
    )
    chain = ledger.chains["total"]
    years = ledger.years or 0.0
    used = chain.uncertainty.get("used")
    u = math.inf if used is None else float(used)
    return Expected(
        cores=dict(counts),
        plots={s: int(plots.get(s, basis.plots_now.get(s, 0))) for s in basis.plots_now},
        u=u,
        u_range=u_range(u, ledger.draws["cumulative_net"], (span + basis.years) / span),
        ner_t_co2e=chain.net.mean * years,
        ner_ci90_t_co2e=(chain.net.ci90[0] * years, chain.net.ci90[1] * years),
        tradable_t_co2e=ledger.tradable_t_co2e,
        ledger=ledger,
        epoch=new,
        pairs=pairs,
    )


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def u_range(
    u: float, cumulative_net: FloatArray, scale: float, *, confidence: float = 0.90
) -> tuple[float, float]:
    """The range of the U a next epoch may find, over what its net may turn out to be.

    The design's net continues the trend from the first epoch to the last
    (eq. 9.1), so its forecast carries the current estimate's error × ``scale``
    = (t_new − t_first) / (t_last − t_first); the next estimate carries its
    own. With ε the draws' departures from their means, the estimate the next
    epoch finds is, draw by draw,

    N_new = N̂_new + ε_new − scale × ε_last                           (eq. 9.6)

    (errors both share, such as a root:shoot ratio's, cancel), and its U is the
    predicted half-width over it: U × |N̂_new| / N_new, between the quantiles (a
    forecast of 0 or less still has a range when the net may turn out positive).

    Parameters
    ----------
    u
        The predicted U (at the forecast net N̂_new).
    cumulative_net
        ``(n, E)`` draws of the net since the first epoch, t CO2e, at every
        later epoch, the design's last (:attr:`Ledger.draws` ``cumulative_net``).
    scale
        (t_new − t_first) / (t_last − t_first).
    confidence
        Of the range.

    Returns
    -------
    (low, high)
        ``inf`` where the net's quantile is 0 or less (both for a forecast of 0
        or an infinite U).
    """
    new, last = cumulative_net[:, -1], cumulative_net[:, -2]
    forecast = float(new.mean())
    half_width = u * abs(forecast)
    if not (math.isfinite(half_width) and forecast != 0.0):
        return math.inf, math.inf
    found = new - scale * (last - last.mean())
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(found, [tail, 1.0 - tail])
    return (
        half_width / high if high > 0 else math.inf,
        half_width / low if low > 0 else math.inf,
    )


def current_effort(basis: DesignBasis) -> tuple[dict[str, int], dict[str, int]]:
    """The last epoch's cores (measured strata, at least 2) and plots per stratum."""
    cores = {s: max(basis.cores_now.get(s, 0), 2) for s in basis.measured}
    return cores, dict(basis.plots_now)
