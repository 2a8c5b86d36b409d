"""How many cores and plots per stratum: the cheapest path to the target uncertainty.

From the last epoch's effort, each step adds a block of cores, a block of
plots or — when the last epoch's SOC carries a lab-method bias (eq. 3.3a) —
doubles the soil samples measured by both organic-carbon methods (from
:data:`PAIR_BLOCK`; eq. 9.8), whichever lowers the predicted U
(:func:`~carbonsink.design.expected.expected_claim`) more per unit of cost,
until U reaches the target, the budgets are spent, or none lowers it
(docs/methodology.md §9.3).
Within a block the units go to the strata by Neyman allocation, the optimum
for a stratified total (Cochran 1977 §5.5): n_s ∝ A_s κ_s for cores (area ×
the stratum's residual SOC scale, so that A_s² κ_s² / n_s is balanced) and
n_s ∝ SE_in,s √m_s for plots (the part of the stratum's AGB correction error
that plots reduce). The path is the U-against-effort curve of the report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from carbonsink.accounting.pools import KeyedTotals
from carbonsink.design.expected import (
    DEFAULT_PAIR_SD,
    DesignBasis,
    Expected,
    current_effort,
    expected_claim,
)
from carbonsink.errors import InputError

__all__ = ["Allocation", "Step", "allocate", "neyman"]

#: A block adds this share of the last epoch's total (at least :data:`MIN_BLOCK`).
BLOCK_SHARE = 0.15
MIN_BLOCK = 4
#: The first calibration step measures this many samples by both methods; each next doubles.
PAIR_BLOCK = 10


@dataclass(frozen=True)
class Step:
    """One point of the path: the design, its cost and what it leaves the claim."""

    kind: str  # "current", "cores", "plots" or "pairs"
    cost: float
    expected: Expected


@dataclass(frozen=True)
class Allocation:
    """The path from the current effort and the design chosen on it.

    Attributes
    ----------
    steps
        Every design evaluated along the path, the current effort first.
    chosen
        The cheapest step that reaches the target, else the lowest U found.
    reached
        The chosen step's U is at most the target.
    target_u
        The target it was chosen for.
    """

    steps: tuple[Step, ...]
    chosen: Step
    reached: bool
    target_u: float


def neyman(total: int, weights: Mapping[str, float], floor: Mapping[str, int]) -> dict[str, int]:
    """Split ``total`` units over strata ∝ ``weights``, each at least its ``floor``.

    Largest-remainder rounding of the proportional shares; a stratum whose
    share is below its floor keeps the floor and the rest is shared again.

    Examples
    --------
    >>> neyman(10, {"a": 3.0, "b": 1.0}, {"a": 0, "b": 0})
    {'a': 8, 'b': 2}
    """
    names = [s for s in weights if weights[s] > 0 or floor.get(s, 0) > 0]
    fixed: dict[str, int] = {}
    while True:
        free = [s for s in names if s not in fixed]
        left = total - sum(fixed.values())
        weight = sum(weights[s] for s in free)
        shares = {s: (left * weights[s] / weight if weight > 0 else 0.0) for s in free}
        low = [s for s in free if shares[s] < floor.get(s, 0)]
        if not low:
            break
        for s in low:
            fixed[s] = floor.get(s, 0)
    out = {s: math.floor(v) for s, v in shares.items()}
    remainder = left - sum(out.values())
    for s in sorted(shares, key=lambda k: (-(shares[k] - math.floor(shares[k])), k))[:remainder]:
        out[s] += 1
    return {s: (fixed | out).get(s, 0) for s in names}


def _core_weights(basis: DesignBasis) -> dict[str, float]:
    blocks = basis.arguments.blocks
    return {
        s: float(area) * float(kappa)
        for s, area, kappa in zip(blocks.strata, blocks.area_ha, blocks.scales, strict=True)
        if s in basis.measured
    }


def _plot_weights(basis: DesignBasis) -> dict[str, float]:
    agb = basis.arguments.inputs[-1].quantities.get("agb_t_dm")
    if not isinstance(agb, KeyedTotals):
        return {}
    out = {}
    for s, (_, se) in agb.corrections.items():
        inner = math.sqrt(max(se * se - agb.outside_se.get(s, 0.0) ** 2, 0.0))
        if s in basis.plot_sites and basis.plots_now.get(s, 0) >= 2:
            out[s] = inner * math.sqrt(basis.plots_now[s])
    return out


def allocate(
    basis: DesignBasis,
    *,
    target_u: float,
    budget_cores: int | None = None,
    budget_plots: int | None = None,
    cost_core: float = 1.0,
    cost_plot: float = 1.0,
    budget_pairs: int | None = None,
    cost_pair: float = 1.0,
    pair_sd: float = DEFAULT_PAIR_SD,
    max_steps: int = 20,
    n_draws: int = 10_000,
    progress: Callable[[str], None] | None = None,
) -> Allocation:
    """The cheapest design on the path that brings U to ``target_u`` (module docstring).

    Parameters
    ----------
    basis
        The run's :func:`~carbonsink.design.expected.design_basis`.
    target_u
        The target relative half-width, e.g. 0.20.
    budget_cores, budget_plots
        Most cores and plots the next epoch may take in all (default: as many
        as the ordered sites allow), at least the last epoch's.
    cost_core, cost_plot
        Cost of one core and of one plot (any unit; the path minimises it).
    budget_pairs, cost_pair, pair_sd
        Most soil samples to measure by both organic-carbon methods (default
        no limit; 0: no calibration), the cost of one, and the SD of one's
        relative difference between the methods (eq. 9.8). Only when the
        last epoch carries a lab-method bias.
    max_steps
        Most steps taken.
    n_draws
        Monte Carlo draws of each prediction.
    progress
        Called with a line per evaluated design.

    Raises
    ------
    InputError
        A budget below the last epoch's effort.
    """
    cores, plots = current_effort(basis)
    for budget, now, kind, option in (
        (budget_cores, sum(cores.values()), "cores", "--budget-cores"),
        (budget_plots, sum(plots.values()), "plots", "--budget-plots"),
    ):
        if budget is not None and budget < now:
            raise InputError(
                f"a budget of {budget} {kind} is below the last epoch's {now}: the design "
                "adds to the last epoch's effort, it does not plan a smaller one",
                where=option,
                fix=f"give {option} {now} or more (or leave it out for no limit)",
            )
    core_weights, plot_weights = _core_weights(basis), _plot_weights(basis)
    most_cores = sum(len(basis.core_sites[s].xy) for s in core_weights)
    most_plots = sum(len(basis.plot_sites[s].xy) for s in plot_weights) + sum(
        n for s, n in plots.items() if s not in plot_weights
    )
    cap_cores = most_cores if budget_cores is None else min(budget_cores, most_cores)
    cap_plots = most_plots if budget_plots is None else min(budget_plots, most_plots)

    def cost(c: Mapping[str, int], p: Mapping[str, int], pairs: int) -> float:
        return cost_core * sum(c.values()) + cost_plot * sum(p.values()) + cost_pair * pairs

    def evaluate(kind: str, c: dict[str, int], p: dict[str, int], pairs: int = 0) -> Step:
        expected = expected_claim(basis, c, p, n_draws=n_draws, pairs=pairs, pair_sd=pair_sd)
        if progress is not None:
            both = f", {pairs} samples by both methods" if pairs else ""
            progress(
                f"{kind}: {sum(c.values())} cores, {sum(p.values())} plots{both} → U "
                f"{100 * expected.u:.1f} %"
            )
        return Step(kind=kind, cost=cost(c, p, pairs), expected=expected)

    steps = [evaluate("current", dict(cores), dict(plots))]
    block_cores = max(MIN_BLOCK, round(BLOCK_SHARE * sum(cores.values())))
    block_plots = max(MIN_BLOCK, round(BLOCK_SHARE * sum(plots.values())))
    here = steps[0]
    for _ in range(max_steps):
        if here.expected.u <= target_u:
            break
        options = []
        c_now, p_now = dict(here.expected.cores), dict(here.expected.plots)
        pairs_now = here.expected.pairs
        total_c = min(sum(c_now.values()) + block_cores, cap_cores)
        if core_weights and total_c > sum(c_now.values()):
            limits = {s: len(basis.core_sites[s].xy) for s in core_weights}
            more = neyman(total_c, core_weights, c_now)
            more = {s: min(n, limits[s]) for s, n in more.items()}
            if more != c_now:
                options.append(evaluate("cores", more, p_now, pairs_now))
        free = {s: n for s, n in p_now.items() if s in plot_weights}
        total_p = min(
            sum(free.values()) + block_plots, cap_plots - (sum(p_now.values()) - sum(free.values()))
        )
        if plot_weights and total_p > sum(free.values()):
            limits = {s: len(basis.plot_sites[s].xy) for s in plot_weights}
            more_p = neyman(total_p, plot_weights, free)
            more_p = {s: min(n, limits[s]) for s, n in more_p.items()}
            if more_p != free:
                options.append(evaluate("plots", c_now, {**p_now, **more_p}, pairs_now))
        next_pairs = max(PAIR_BLOCK, 2 * pairs_now)
        if budget_pairs is not None:
            next_pairs = min(next_pairs, budget_pairs)
        if basis.method_sd is not None and next_pairs > pairs_now:
            options.append(evaluate("pairs", c_now, p_now, next_pairs))
        if not options:
            break
        steps.extend(options)
        gains = [(here.expected.u - o.expected.u) / max(o.cost - here.cost, 1e-9) for o in options]
        best = options[int(np.argmax(gains))]
        if best.expected.u >= here.expected.u:
            break
        here = best
    reaching = [s for s in steps if s.expected.u <= target_u]
    chosen = (
        min(reaching, key=lambda s: s.cost) if reaching else min(steps, key=lambda s: s.expected.u)
    )
    return Allocation(
        steps=tuple(steps), chosen=chosen, reached=bool(reaching), target_u=float(target_u)
    )
