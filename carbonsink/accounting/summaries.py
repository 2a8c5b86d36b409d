"""Summaries of Monte Carlo draws and the check that there are enough of them.

:func:`summarize` gives the mean, median, SD, 90 % and 95 % intervals and the
relative half-width (docs/methodology.md §6); :func:`convergence` checks that the
5th and 95th percentiles are stable to ~1 % as the draws grow (IPCC 2006
Vol. 1 §3.2.3.1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from carbonsink.errors import InputError, ModelError

__all__ = [
    "Convergence",
    "Summary",
    "as_draws",
    "convergence",
    "summarize",
]

FloatArray = npt.NDArray[np.float64]


# ------------------------------------------------------------------ summaries
def as_draws(draws: npt.ArrayLike, *, what: str) -> FloatArray:
    """Monte Carlo output checked to be a finite 1-D array of at least two draws.

    Parameters
    ----------
    draws
        The draws of one quantity.
    what
        The function asking, named in the error.

    Returns
    -------
    numpy.ndarray
        The draws as float64.

    Raises
    ------
    InputError
        Not a 1-D array of at least two draws.
    ModelError
        Non-finite draws.
    """
    values = np.asarray(draws, dtype=np.float64)
    if values.ndim != 1 or values.size < 2:
        raise InputError(
            f"{what} needs a 1-D array of at least 2 draws; got shape {values.shape}",
            where=what,
            fix="summarise one quantity at a time (one column of a (n, k) output)",
        )
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise ModelError(
            f"{bad} of {values.size} draws are not finite",
            where=what,
            fix="check the inputs' distributions and bound them",
        )
    return values


@dataclass(frozen=True)
class Summary:
    """Summary statistics of Monte Carlo draws (docs/methodology.md §6).

    ``ci90`` = (p5, p95) and ``ci95`` = (p2.5, p97.5) are equal-tailed
    percentile intervals; ``relative_half_width_90`` = (p95 − p5) / 2 / |mean|
    (infinite when the mean is 0); ``intervals`` holds
    (confidence, low, high) for every confidence asked.
    """

    mean: float
    median: float
    sd: float
    p5: float
    p95: float
    ci90: tuple[float, float]
    ci95: tuple[float, float]
    relative_half_width_90: float
    n_draws: int
    seed: int | None
    intervals: tuple[tuple[float, float, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (an infinite relative half-width becomes ``None``)."""
        return {
            "mean": self.mean,
            "median": self.median,
            "sd": self.sd,
            "p5": self.p5,
            "p95": self.p95,
            "ci90": list(self.ci90),
            "ci95": list(self.ci95),
            "relative_half_width_90": self.relative_half_width_90
            if math.isfinite(self.relative_half_width_90)
            else None,
            "n_draws": self.n_draws,
            "seed": self.seed,
            "intervals": [
                {"confidence": c, "low": low, "high": high} for c, low, high in self.intervals
            ],
        }


def summarize(
    draws: npt.ArrayLike,
    *,
    confidences: Sequence[float] = (0.90, 0.95),
    seed: int | None = None,
) -> Summary:
    """Mean, median, SD, percentile intervals and relative half-width of draws.

    Parameters
    ----------
    draws
        1-D Monte Carlo output.
    confidences
        Two-sided confidence levels in (0, 1) of the intervals in
        ``Summary.intervals``; the 90 % and 95 % intervals are always given.
    seed
        The seed that produced the draws, kept for the ledger.

    Returns
    -------
    Summary

    Raises
    ------
    InputError
        Not a 1-D array of at least two draws, or a confidence outside (0, 1).
    ModelError
        Non-finite draws.

    Notes
    -----
    Interval at confidence c: the (1 − c)/2 and (1 + c)/2 quantiles of the
    draws (linear interpolation); relative half-width U = (p95 − p5) / 2 /
    |mean| (IPCC 2006 Vol. 1 §3.2.3; VM0033 v2.1 §8.5).
    """
    values = as_draws(draws, what="summarize")
    levels = tuple(float(c) for c in confidences)
    if any(not 0.0 < c < 1.0 for c in levels):
        raise InputError(
            f"confidence levels must lie in (0, 1); got {levels}",
            where="summarize",
            fix="give levels such as 0.90 and 0.95",
        )
    mean = float(np.mean(values))
    p = np.percentile(values, [5.0, 95.0, 2.5, 97.5, 50.0])
    intervals: list[tuple[float, float, float]] = []
    for c in levels:
        low, high = np.percentile(values, [50.0 * (1.0 - c), 50.0 * (1.0 + c)])
        intervals.append((c, float(low), float(high)))
    half_width = (float(p[1]) - float(p[0])) / 2.0
    return Summary(
        mean=mean,
        median=float(p[4]),
        sd=float(np.std(values, ddof=1)),
        p5=float(p[0]),
        p95=float(p[1]),
        ci90=(float(p[0]), float(p[1])),
        ci95=(float(p[2]), float(p[3])),
        relative_half_width_90=half_width / abs(mean) if mean != 0.0 else math.inf,
        n_draws=int(values.size),
        seed=seed,
        intervals=tuple(intervals),
    )


# ------------------------------------------------------------------ convergence
@dataclass(frozen=True)
class Convergence:
    """Stability of the 5th/95th percentiles as the number of draws grows.

    Attributes
    ----------
    converged
        Every row with at least half the draws has p5 and p95 within
        ``tolerance`` of their values with all the draws.
    max_relative_change
        The largest such relative change (see :func:`convergence`).
    tolerance
        The tolerance used.
    table
        One row per cumulative number of draws ``n``: ``p5``, ``p95``,
        ``mean``, ``relative_change_p5``, ``relative_change_p95``.
    """

    converged: bool
    max_relative_change: float
    tolerance: float
    table: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "converged": self.converged,
            "max_relative_change": self.max_relative_change,
            "tolerance": self.tolerance,
            "table": [
                {key: float(value) for key, value in record.items()}
                for record in self.table.to_dict(orient="records")
            ],
        }


def convergence(
    draws: npt.ArrayLike,
    *,
    tolerance: float = 0.01,
    block: int = 1000,
) -> Convergence:
    """Whether the 5th and 95th percentiles are stable as the draws grow.

    Parameters
    ----------
    draws
        1-D Monte Carlo output, in the order drawn.
    tolerance
        Largest relative change allowed (0.01 = 1 %).
    block
        Step of the cumulative sample sizes: n = block, 2·block, …, N.

    Returns
    -------
    Convergence

    Raises
    ------
    InputError
        ``block`` < 2 or larger than the draws, or ``tolerance`` ≤ 0.

    Notes
    -----
    For each n the percentiles p5(n), p95(n) of the first n draws are
    compared with p5(N), p95(N) of all N draws:
    change = |p(n) − p(N)| / max(|p5(N)|, |p95(N)|). The denominator is the
    interval end farthest from zero, so a percentile close to zero (e.g. of a
    difference between epochs) does not blow the ratio up. The draws are
    converged when every n ≥ N/2 changes by less than ``tolerance``: doubling
    the draws no longer moves the interval by more than ~1 %, the stopping rule
    of docs/methodology.md §6 (IPCC 2006 Vol. 1 §3.2.3.1, step 5).
    """
    values = as_draws(draws, what="convergence")
    if not tolerance > 0:
        raise InputError(
            f"tolerance {tolerance} is not positive", where="convergence", fix="e.g. 0.01"
        )
    if block < 2 or block > values.size:
        raise InputError(
            f"block {block} does not fit {values.size} draws",
            where="convergence",
            fix="use 2 ≤ block ≤ number of draws (e.g. N/10)",
        )
    sizes = list(range(block, values.size + 1, block))
    if sizes[-1] != values.size:
        sizes.append(values.size)
    p5 = np.array([np.percentile(values[:n], 5.0) for n in sizes])
    p95 = np.array([np.percentile(values[:n], 95.0) for n in sizes])
    means = np.array([np.mean(values[:n]) for n in sizes])
    scale = max(abs(float(p5[-1])), abs(float(p95[-1])))
    if scale == 0.0:
        change5 = np.where(p5 == p5[-1], 0.0, np.inf)
        change95 = np.where(p95 == p95[-1], 0.0, np.inf)
    else:
        change5 = np.abs(p5 - p5[-1]) / scale
        change95 = np.abs(p95 - p95[-1]) / scale
    table = pd.DataFrame(
        {
            "n": sizes,
            "p5": p5,
            "p95": p95,
            "mean": means,
            "relative_change_p5": change5,
            "relative_change_p95": change95,
        }
    )
    late = np.asarray(sizes) * 2 >= values.size
    worst = float(max(change5[late].max(), change95[late].max()))
    # Fewer than two rows in the second half cannot show stability.
    converged = bool(worst < tolerance and int(np.count_nonzero(late)) >= 2)
    return Convergence(
        converged=converged, max_relative_change=worst, tolerance=float(tolerance), table=table
    )
