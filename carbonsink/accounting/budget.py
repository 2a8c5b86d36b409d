"""The uncertainty budget: how much of a Monte Carlo output's variance each group of inputs carries.

A claim's U says how uncertain the net is, not why. The budget answers the
question a project developer asks next — which measurement would narrow it —
by holding each group of the Monte Carlo's named streams at its mean in turn
and measuring what is left (docs/methodology.md §6.10). It reruns the same
model on the same streams (the same seed), so the difference between the full
and the held run is the group's part, not Monte Carlo noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from carbonsink.accounting.distributions import Uncertain
from carbonsink.accounting.montecarlo import MonteCarlo
from carbonsink.accounting.summaries import as_draws

__all__ = ["BudgetRow", "HeldMonteCarlo", "stream_group", "variance_budget"]

FloatArray = npt.NDArray[np.float64]


def _in_group(group: str) -> Callable[[str], bool]:
    return lambda name: stream_group(name) == group


def _half_width(draws: FloatArray) -> float:
    low, high = np.percentile(draws, [5.0, 95.0])
    return float(high - low) / 2.0


class HeldMonteCarlo(MonteCarlo):
    """A :class:`MonteCarlo` whose streams in ``held`` return their mean in every draw.

    The stream is drawn as usual and then replaced by the mean of its draws
    (along the draws' axis), so that an input known exactly keeps its
    expected value: a standard normal error becomes ~0, a parameter its
    mean, a bootstrap row the mean row.
    """

    def __init__(self, seed: int, n_draws: int, held: Callable[[str], bool]) -> None:
        super().__init__(seed, n_draws)
        self._held = held
        self._held_names: set[str] = set()

    def draw(self, name: str, spec: Uncertain) -> FloatArray:
        values = super().draw(name, spec)
        if not self._held(name) or name in self._held_names:
            return values
        # Kept in place of the draws, so that ``draws`` and ``evaluate`` see it too.
        mean = np.ascontiguousarray(np.broadcast_to(values.mean(axis=0), values.shape))
        mean.setflags(write=False)
        self._draws[name] = mean
        self._held_names.add(name)
        return mean


def stream_group(name: str) -> str:
    """The budget group of a stream: its kind, the part of its name before the first ``/``.

    ``soc_total/2025/reed`` → ``soc_total``; ``root_shoot/reed`` →
    ``root_shoot``. The epochs of a kind are one group: the SOC totals' and
    the AGB corrections' standard normals become the epochs' errors through
    the square root of their joint covariance (eq. 6.3), so one epoch's
    streams are not that epoch's error when the epochs share errors.
    """
    return name.split("/", 1)[0]


@dataclass(frozen=True)
class BudgetRow:
    """One group of inputs and the output's spread without its uncertainty.

    Attributes
    ----------
    group
        The streams' group (:func:`stream_group`).
    streams
        How many named streams of the group vary (those that do not are left
        out, and a group of none is not listed).
    share
        1 − Var(output, group held at its mean) / Var(output): the part of
        the variance that fixing the group at its mean removes.
    half_width
        The output's 90 % half-width with the group held ((q95 − q5) / 2 of
        the draws, as the ledger's U), in the output's units.
    """

    group: str
    streams: int
    share: float
    half_width: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "streams": self.streams,
            "variance_share": self.share,
            "half_width90": self.half_width,
        }


def variance_budget(
    evaluate: Callable[[MonteCarlo], npt.ArrayLike],
    *,
    seed: int,
    n_draws: int,
) -> tuple[float, list[BudgetRow]]:
    """The output's 90 % half-width, and each group's part of its variance.

    Parameters
    ----------
    evaluate
        Builds the 1-D output draws from a :class:`MonteCarlo` (the model the
        ledger runs).
    seed, n_draws
        The run's seed and number of draws.

    Returns
    -------
    half_width, rows
        The full output's 90 % half-width ((q95 − q5) / 2) and one row per
        group, largest share first (ties: by name).

    Notes
    -----
    With V the output's variance over the draws and V₋g its variance when
    every stream of group g is held at its mean (the same seed, so the same
    draws of every other stream)::

        (6.14) share_g = 1 − V₋g / V

    — the variance left with g fixed at one value, its mean. For an output
    that is a sum of independent parts this is g's first-order variance
    fraction (Saltelli et al. 2008, *Global Sensitivity Analysis*, §1.2.7) and
    the shares add up to 1. Where groups multiply (AGB × root:shoot × carbon
    fraction) a group's share also holds its interactions with the others,
    closer to a total-effect index, and the shares can add up to more than 1;
    a floor at zero or a cap can make a share slightly negative.
    """
    full = MonteCarlo(seed, n_draws)
    output = as_draws(evaluate(full), what="variance_budget")
    variance = float(np.var(output))
    groups: dict[str, int] = {}
    for name, draws in full.draws.items():
        if np.ptp(draws, axis=0).any():  # a stream that never varies carries nothing
            group = stream_group(name)
            groups[group] = groups.get(group, 0) + 1
    rows = []
    for group, count in groups.items():
        held = HeldMonteCarlo(seed, n_draws, _in_group(group))
        draws = as_draws(evaluate(held), what="variance_budget")
        share = 1.0 - float(np.var(draws)) / variance if variance > 0 else 0.0
        rows.append(BudgetRow(group, count, share, _half_width(draws)))
    rows.sort(key=lambda row: (-row.share, row.group))
    return _half_width(output), rows
