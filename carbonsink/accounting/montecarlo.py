"""Monte Carlo propagation of uncertainty (IPCC 2006 Vol. 1 Ch. 3, Approach 2): the seeded engine.

Uncertain inputs are described by the distributions of
:mod:`carbonsink.accounting.distributions`, each with ``draw(rng, n)``. A
:class:`MonteCarlo` run draws every *named* parameter once and reuses that
array wherever the name is used again: a parameter shared by both epochs
(carbon fraction, root:shoot, a model's bias) is therefore the same draw in
both, and the correlation of the epochs' errors is carried into their
difference (docs/methodology.md §6).

Reproducibility: each named parameter gets its own random stream,
``numpy.random.default_rng(SeedSequence(seed, spawn_key=(k,)))`` (a PCG64
generator) where ``k`` is a stable 64-bit integer made from the name with
BLAKE2b (:func:`parameter_key`) — never Python's ``hash()``, which is salted
per process. So a draw depends only on the seed, the name, the distribution
and the number of draws: not on the order in which the parameters are drawn
nor on which other parameters exist.

:func:`run_until_converged` doubles the number of draws until the 5th and
95th percentiles of the output are stable to ~1 %
(:func:`~carbonsink.accounting.summaries.convergence`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from carbonsink.accounting.distributions import Uncertain
from carbonsink.accounting.summaries import (
    Convergence,
    Summary,
    as_draws,
    convergence,
    summarize,
)
from carbonsink.errors import ConfigError, ModelError

__all__ = [
    "DEFAULT_DRAWS",
    "MonteCarlo",
    "MonteCarloRun",
    "parameter_key",
    "run_until_converged",
]

logger = logging.getLogger(__name__)

#: Minimum number of draws for aggregated terms (docs/methodology.md §6; IPCC 2006 Vol. 1 §3.2.3).
DEFAULT_DRAWS: Final = 10_000

FloatArray = npt.NDArray[np.float64]


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


# ------------------------------------------------------------------ until converged
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
        output = as_draws(evaluate(mc), what="run_until_converged")
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
