"""Distributions of the uncertain inputs of the Monte Carlo (IPCC 2006 Vol. 1 Ch. 3, Approach 2).

Uncertain inputs are described by small frozen dataclasses (:class:`Normal`,
:class:`LogNormal`, :class:`Uniform`, :class:`Triangular`, :class:`Fixed`,
:class:`Empirical`), each with ``draw(rng, n)`` and ``to_dict()`` (the
:class:`Uncertain` protocol). :class:`~carbonsink.accounting.montecarlo.MonteCarlo`
draws them, one named stream each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from carbonsink.errors import ConfigError, InputError

__all__ = [
    "Empirical",
    "Fixed",
    "LogNormal",
    "Normal",
    "Triangular",
    "Uncertain",
    "Uniform",
]

FloatArray = npt.NDArray[np.float64]


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
