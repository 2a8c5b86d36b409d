"""Monte Carlo propagation of uncertainty (IPCC 2006 Vol. 1 Ch. 3, Approach 2).

Uncertain inputs are described by small frozen dataclasses (:class:`Normal`,
:class:`LogNormal`, :class:`Uniform`, :class:`Triangular`, :class:`Fixed`,
:class:`Empirical`), each with ``draw(rng, n)``. A :class:`MonteCarlo` run
draws every *named* parameter once and reuses that array wherever the name is
used again: a parameter shared by both epochs (carbon fraction, root:shoot, a
model's bias) is therefore the same draw in both, and the correlation of the
epochs' errors is carried into their difference (docs/methodology.md §6).

Reproducibility: each named parameter gets its own random stream,
``numpy.random.default_rng(SeedSequence(seed, spawn_key=(k,)))`` (a PCG64
generator) where ``k`` is a stable 64-bit integer made from the name with
BLAKE2b (:func:`parameter_key`) — never Python's ``hash()``, which is salted
per process. So a draw depends only on the seed, the name, the distribution
and the number of draws: not on the order in which the parameters are drawn
nor on which other parameters exist.

:func:`summarize` gives the mean, median, SD, 90 % and 95 % intervals and the
relative half-width; :func:`convergence` checks that the 5th and 95th
percentiles are stable to ~1 % as the draws grow; :func:`run_until_converged`
doubles the number of draws until they are.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd

from carbonsink.errors import ConfigError, InputError, ModelError

__all__ = [
    "DEFAULT_DRAWS",
    "Convergence",
    "Empirical",
    "Fixed",
    "LogNormal",
    "MonteCarlo",
    "MonteCarloRun",
    "Normal",
    "Summary",
    "Triangular",
    "Uncertain",
    "Uniform",
    "convergence",
    "parameter_key",
    "run_until_converged",
    "summarize",
]

logger = logging.getLogger(__name__)

#: Minimum number of draws for aggregated terms (docs/methodology.md §6; IPCC 2006 Vol. 1 §3.2.3).
DEFAULT_DRAWS: Final = 10_000

FloatArray = npt.NDArray[np.float64]


# ------------------------------------------------------------------ descriptors
@runtime_checkable
class Uncertain(Protocol):
    """Anything that can draw ``n`` values of an uncertain quantity."""

    def draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        """``n`` independent draws (first axis of the result has length ``n``)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description for the ledger."""
        ...


def _finite(name: str, distribution: str, **values: float) -> None:
    for key, value in values.items():
        if not math.isfinite(value):
            raise ConfigError(
                f"{distribution} {key} is {value}",
                where=name,
                fix=f"give a finite {key}",
            )


@dataclass(frozen=True)
class Normal:
    """Normal distribution N(mean, sd²).

    Notes
    -----
    Not truncated: keep sd small against the mean for a quantity that cannot
    be negative, or use :class:`LogNormal`.
    """

    mean: float
    sd: float

    def __post_init__(self) -> None:
        _finite("Normal", "Normal", mean=self.mean, sd=self.sd)
        if self.sd < 0:
            raise ConfigError(
                f"Normal sd is {self.sd}", where="Normal", fix="the standard deviation is ≥ 0"
            )

    def draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        """``n`` normal draws."""
        return rng.normal(self.mean, self.sd, size=n)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"distribution": "normal", "mean": self.mean, "sd": self.sd}


@dataclass(frozen=True)
class LogNormal:
    """Log-normal distribution given by its arithmetic mean and SD.

    Use :meth:`from_median_gsd` for a median and a geometric SD.

    Notes
    -----
    With CV = sd / mean: σ² = ln(1 + CV²), μ = ln(mean) − σ²/2, so that
    ln X ~ N(μ, σ²), median = e^μ and GSD = e^σ (IPCC 2006 Vol. 1 Ch. 3,
    Table 3.3; Limpert et al. 2001, BioScience 51:341).
    """

    mean: float
    sd: float

    def __post_init__(self) -> None:
        _finite("LogNormal", "LogNormal", mean=self.mean, sd=self.sd)
        if self.mean <= 0 or self.sd < 0:
            raise ConfigError(
                f"LogNormal needs mean > 0 and sd ≥ 0; got mean {self.mean}, sd {self.sd}",
                where="LogNormal",
                fix="a log-normal quantity is positive; use Normal for a signed quantity",
            )

    @classmethod
    def from_median_gsd(cls, median: float, gsd: float) -> LogNormal:
        """The log-normal with this median and geometric standard deviation (≥ 1).

        Notes
        -----
        σ = ln GSD, mean = median × e^(σ²/2), sd = mean × sqrt(e^(σ²) − 1).
        """
        _finite("LogNormal", "LogNormal", median=median, gsd=gsd)
        if median <= 0 or gsd < 1:
            raise ConfigError(
                f"LogNormal needs median > 0 and GSD ≥ 1; got median {median}, GSD {gsd}",
                where="LogNormal.from_median_gsd",
                fix="the geometric SD is a factor ≥ 1 (e.g. 1.5 for ×/÷ 1.5)",
            )
        sigma2 = math.log(gsd) ** 2
        mean = median * math.exp(sigma2 / 2.0)
        return cls(mean=mean, sd=mean * math.sqrt(math.expm1(sigma2)))

    @property
    def mu_log(self) -> float:
        """μ, the mean of ln X."""
        return math.log(self.mean) - self.sigma_log**2 / 2.0

    @property
    def sigma_log(self) -> float:
        """σ, the SD of ln X."""
        return math.sqrt(math.log1p((self.sd / self.mean) ** 2))

    def draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        """``n`` log-normal draws."""
        return rng.lognormal(self.mu_log, self.sigma_log, size=n)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "distribution": "lognormal",
            "mean": self.mean,
            "sd": self.sd,
            "median": math.exp(self.mu_log),
            "gsd": math.exp(self.sigma_log),
        }


@dataclass(frozen=True)
class Uniform:
    """Uniform distribution on [low, high]."""

    low: float
    high: float

    def __post_init__(self) -> None:
        _finite("Uniform", "Uniform", low=self.low, high=self.high)
        if self.low > self.high:
            raise ConfigError(
                f"Uniform low {self.low} is above high {self.high}",
                where="Uniform",
                fix="give low ≤ high",
            )

    def draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        """``n`` uniform draws."""
        return rng.uniform(self.low, self.high, size=n)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"distribution": "uniform", "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Triangular:
    """Triangular distribution with a lower limit, a mode and an upper limit."""

    low: float
    mode: float
    high: float

    def __post_init__(self) -> None:
        _finite("Triangular", "Triangular", low=self.low, mode=self.mode, high=self.high)
        if not self.low <= self.mode <= self.high or self.low == self.high:
            raise ConfigError(
                f"Triangular needs low ≤ mode ≤ high and low < high; got "
                f"({self.low}, {self.mode}, {self.high})",
                where="Triangular",
                fix="order the three values as low, mode, high (use Fixed for a single value)",
            )

    def draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        """``n`` triangular draws."""
        return rng.triangular(self.low, self.mode, self.high, size=n)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"distribution": "triangular", "low": self.low, "mode": self.mode, "high": self.high}


@dataclass(frozen=True)
class Fixed:
    """A value taken as exact (no uncertainty)."""

    value: float

    def __post_init__(self) -> None:
        _finite("Fixed", "Fixed", value=self.value)

    def draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        """``n`` copies of the value (``rng`` is not used)."""
        return np.full(n, self.value, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"distribution": "fixed", "value": self.value}


@dataclass(frozen=True, eq=False)
class Empirical:
    """Resampling with replacement of given replicates (e.g. bootstrap map totals).

    Parameters
    ----------
    samples
        ``(B,)`` replicates of a scalar, or ``(B, k)`` replicates of ``k``
        quantities that belong together (e.g. the stratum totals of one
        bootstrap refit); rows are resampled whole, so the dependence between
        the ``k`` columns is kept. The array is copied; the caller's is not
        touched.

    Notes
    -----
    A draw picks rows with equal probability 1/B, with replacement (Efron &
    Tibshirani 1993, ch. 6). Equality compares the samples' values.
    """

    samples: FloatArray = field(repr=False)

    def __post_init__(self) -> None:
        samples = np.array(self.samples, dtype=np.float64, copy=True)
        if samples.ndim not in (1, 2) or samples.shape[0] == 0 or samples.size == 0:
            raise InputError(
                f"Empirical samples have shape {samples.shape}",
                where="Empirical",
                fix="pass a non-empty (B,) or (B, k) array of replicates",
            )
        bad = int(np.count_nonzero(~np.isfinite(samples)))
        if bad:
            raise InputError(
                f"{bad} of the Empirical samples are not finite",
                where="Empirical",
                fix="drop failed replicates (NaN/inf) before building the distribution",
            )
        samples.setflags(write=False)
        object.__setattr__(self, "samples", samples)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Empirical):
            return NotImplemented
        return self.samples.shape == other.samples.shape and bool(
            np.array_equal(self.samples, other.samples)
        )

    def __hash__(self) -> int:
        return hash((self.samples.shape, self.samples.tobytes()))

    def __repr__(self) -> str:
        return f"Empirical(shape={self.samples.shape})"

    def draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        """``n`` rows drawn with replacement: shape ``(n,)`` or ``(n, k)``."""
        rows = rng.integers(0, self.samples.shape[0], size=n)
        return self.samples[rows]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (count, mean and SD of the replicates, not the values)."""
        return {
            "distribution": "empirical",
            "n_samples": int(self.samples.shape[0]),
            "shape": list(self.samples.shape),
            "mean": np.mean(self.samples, axis=0).tolist(),
            "sd": np.std(self.samples, axis=0, ddof=1).tolist()
            if self.samples.shape[0] > 1
            else None,
        }


# ------------------------------------------------------------------ the engine
def parameter_key(name: str) -> int:
    """A stable 64-bit integer for a parameter name (BLAKE2b of its UTF-8 bytes).

    Unlike Python's ``hash()``, it is the same in every process and version.
    """
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "big")


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(
            f"Monte Carlo seed {seed!r} is not a non-negative integer",
            where="[survey].seed",
            fix="give an integer seed ≥ 0 and keep it in the ledger",
        )
    return int(seed)


class MonteCarlo:
    """A seeded Monte Carlo run whose named parameters are each drawn once.

    Parameters
    ----------
    seed
        Non-negative integer; the same seed gives the same draws.
    n_draws
        Number of draws (≥ 2; docs/methodology.md §6 asks ≥ 10,000 for aggregated terms).

    Notes
    -----
    ``draw(name, spec)`` memoises by ``name``: the first call draws from the
    stream of that name, later calls return the same (read-only) array. Use
    one name for a parameter shared by both epochs (e.g. ``"carbon_fraction"``
    or ``"agb_model_bias"``) and different names for independent errors (e.g.
    ``"plot_mean_2020"``, ``"plot_mean_2025"``): that is how errors shared by
    the epochs are propagated jointly (IPCC 2006 Vol. 1 §3.2.3.2; docs/methodology.md
    §6). The stream of a name is PCG64 seeded by
    ``SeedSequence(seed, spawn_key=(parameter_key(name),))``.
    """

    def __init__(self, seed: int, n_draws: int = DEFAULT_DRAWS) -> None:
        self.seed = _check_seed(seed)
        if isinstance(n_draws, bool) or not isinstance(n_draws, int | np.integer) or n_draws < 2:
            raise ConfigError(
                f"number of Monte Carlo draws {n_draws!r} is not an integer ≥ 2",
                where="[accounting].mc_draws",
                fix=f"use at least {DEFAULT_DRAWS} draws for aggregated terms",
            )
        self.n_draws = int(n_draws)
        self._draws: dict[str, FloatArray] = {}
        self._specs: dict[str, Uncertain] = {}

    def __repr__(self) -> str:
        return (
            f"MonteCarlo(seed={self.seed}, n_draws={self.n_draws}, parameters={len(self._draws)})"
        )

    def rng(self, name: str) -> np.random.Generator:
        """A fresh generator of the stream of ``name`` (same seed and name → same stream)."""
        sequence = np.random.SeedSequence(self.seed, spawn_key=(parameter_key(name),))
        return np.random.default_rng(sequence)

    def draw(self, name: str, spec: Uncertain) -> FloatArray:
        """The draws of parameter ``name`` (drawn on first use, then reused).

        Raises
        ------
        ConfigError
            ``name`` was already drawn from a different distribution.
        """
        if name in self._draws:
            if self._specs[name] != spec:
                raise ConfigError(
                    f"parameter {name!r} was drawn from {self._specs[name]!r} and is now asked "
                    f"from {spec!r}",
                    where=f"Monte Carlo parameter {name!r}",
                    fix="one name is one shared quantity: give independent quantities "
                    "different names",
                )
            return self._draws[name]
        values = np.asarray(spec.draw(self.rng(name), self.n_draws), dtype=np.float64)
        if values.ndim == 0 or values.shape[0] != self.n_draws:
            raise ModelError(
                f"{spec!r} returned shape {values.shape} for {self.n_draws} draws",
                where=f"Monte Carlo parameter {name!r}",
                fix="a distribution's draw(rng, n) must return n values along the first axis",
            )
        values.setflags(write=False)
        self._draws[name] = values
        self._specs[name] = spec
        logger.debug("drew %s: %r (%d draws)", name, spec, self.n_draws)
        return values

    @property
    def draws(self) -> Mapping[str, FloatArray]:
        """Read-only view of every parameter drawn so far."""
        return MappingProxyType(self._draws)

    @property
    def specs(self) -> Mapping[str, Uncertain]:
        """The distribution of every parameter drawn so far."""
        return MappingProxyType(self._specs)

    def evaluate(
        self,
        func: Callable[[Mapping[str, FloatArray]], npt.ArrayLike],
        *,
        specs: Mapping[str, Uncertain] | None = None,
    ) -> FloatArray:
        """Draw ``specs`` (memoised by name) and apply ``func`` to all the draws.

        Parameters
        ----------
        func
            Maps the read-only mapping name → draws to the output draws
            (first axis of length ``n_draws``), vectorised over the draws.
        specs
            Parameters to draw before calling ``func`` (those already drawn
            under the same name are reused).

        Returns
        -------
        numpy.ndarray
            The output draws as float64.

        Raises
        ------
        ModelError
            The output has the wrong length or non-finite values.
        """
        for name, spec in (specs or {}).items():
            self.draw(name, spec)
        output = np.asarray(func(self.draws), dtype=np.float64)
        if output.ndim == 0 or output.shape[0] != self.n_draws:
            raise ModelError(
                f"the Monte Carlo function returned shape {output.shape}, expected "
                f"{self.n_draws} draws along the first axis",
                where="MonteCarlo.evaluate",
                fix="write the function with array arithmetic on the draws (no reductions)",
            )
        bad = int(np.count_nonzero(~np.isfinite(output)))
        if bad:
            raise ModelError(
                f"{bad} of {output.size} Monte Carlo outputs are not finite",
                where="MonteCarlo.evaluate",
                fix="check the inputs' distributions (e.g. a Normal that reaches 0 in a "
                "denominator) and bound them",
            )
        return output

    def to_dict(self) -> dict[str, Any]:
        """Seed, number of draws and each parameter's distribution, for the ledger."""
        return {
            "seed": self.seed,
            "n_draws": self.n_draws,
            "rng": "numpy PCG64; one stream per name: "
            "SeedSequence(seed, spawn_key=(blake2b-64(name),))",
            "parameters": {name: spec.to_dict() for name, spec in self._specs.items()},
        }


# ------------------------------------------------------------------ summaries
def _as_draws(draws: npt.ArrayLike, *, what: str) -> FloatArray:
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
    values = _as_draws(draws, what="summarize")
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
    values = _as_draws(draws, what="convergence")
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


@dataclass(frozen=True)
class MonteCarloRun:
    """The result of :func:`run_until_converged`."""

    draws: FloatArray = field(repr=False)
    summary: Summary
    convergence: Convergence
    seed: int
    n_draws: int

    def to_dict(self) -> dict[str, Any]:
        """Summary and convergence, JSON-ready (not the draws)."""
        return {
            "seed": self.seed,
            "n_draws": self.n_draws,
            "summary": self.summary.to_dict(),
            "convergence": self.convergence.to_dict(),
        }


def run_until_converged(
    evaluate: Callable[[MonteCarlo], npt.ArrayLike],
    *,
    seed: int,
    start: int = DEFAULT_DRAWS,
    max_draws: int = 1_000_000,
    tolerance: float = 0.01,
) -> MonteCarloRun:
    """Run a Monte Carlo model, doubling the draws until its percentiles are stable.

    Parameters
    ----------
    evaluate
        Builds the 1-D output draws from a fresh :class:`MonteCarlo` (e.g.
        ``lambda mc: mc.evaluate(model, specs=specs)``).
    seed
        Seed of every run.
    start, max_draws
        First and largest number of draws; the number doubles from ``start``
        and the last run uses ``max_draws`` when doubling would overshoot it.
    tolerance
        As for :func:`convergence` (blocks of n/10).

    Returns
    -------
    MonteCarloRun
        The last run; ``convergence.converged`` is False when ``max_draws``
        was reached without convergence (also logged as a warning).

    Notes
    -----
    IPCC 2006 Vol. 1 §3.2.3.1: repeat until the percentiles of the output
    are stable; docs/methodology.md §6 sets the bar at ~1 %.
    """
    _check_seed(seed)
    if start < 20 or max_draws < start:
        raise ConfigError(
            f"draws: start {start}, max_draws {max_draws}",
            where="run_until_converged",
            fix="use 20 ≤ start ≤ max_draws",
        )
    n = start
    while True:
        mc = MonteCarlo(seed, n)
        output = _as_draws(evaluate(mc), what="run_until_converged")
        check = convergence(output, tolerance=tolerance, block=n // 10)
        logger.debug("%d draws: max relative change %.4f", n, check.max_relative_change)
        if check.converged or n >= max_draws:
            if not check.converged:
                logger.warning(
                    "Monte Carlo not converged at %d draws: percentiles move by %.2f %% "
                    "(tolerance %.2f %%)",
                    n,
                    100 * check.max_relative_change,
                    100 * tolerance,
                )
            return MonteCarloRun(
                draws=output,
                summary=summarize(output, seed=seed),
                convergence=check,
                seed=seed,
                n_draws=n,
            )
        n = min(2 * n, max_draws)
