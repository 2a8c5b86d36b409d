"""Warnings the stages log, kept with their results and carried into the ledger.

A stage's WARNING lines would otherwise live only in ``run.log`` — and not
even there when the stage is read back from the cache. :func:`capture`
records them while a stage computes (they are cached with its result), and
:func:`logged_warnings` turns them into ledger warnings: a stable code per
kind, the message (which names the file, class or cells concerned) and, where
it can be said, its effect on the claim. Lines that an existing ledger
warning already states with its numbers (cells outside the area of
applicability, scenes left out, clouds unmasked, cells not predicted) are
not repeated.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from carbonsink.accounting.ledger import LedgerWarning

__all__ = ["LOGGED_CODES", "LoggedLine", "capture", "logged_warnings"]

_T = TypeVar("_T")

#: A logged line: (logger name, message).
LoggedLine = tuple[str, str]

#: Logger → (ledger code, its effect on the claim or ``""``), for the kinds of line a stage logs.
LOGGED_CODES: dict[str, tuple[str, str]] = {
    "carbonsink.biomass.bootstrap": (
        "bootstrap-coarse",
        "the bootstrap SD is shown in the ledger's inputs for comparison only: each mapped "
        "stratum's AGB error is that of its residual correction (docs/methodology.md §6.4), "
        "so this does not move the claim",
    ),
    "carbonsink.biomass.model_choice": ("lidar-model-not-used", ""),
    "carbonsink.biomass.aoa": ("aoa-weights", ""),
    "carbonsink.imagery.accuracy": ("landcover-one-sample", ""),
    "carbonsink.imagery.landcover": ("landcover-class-absent", "the class adds 0 ha"),
    "carbonsink.lidar.processing": ("lidar-outside-grid", "the file adds no LiDAR metric"),
    "carbonsink.io.pointclouds": ("lidar-crs-record", ""),
    "carbonsink.soil.conversion": ("oc-extrapolated", ""),
    "carbonsink.soil.soc_map": ("soc-map", ""),
    "carbonsink.soil.block_variance": ("soc-negative-mean", ""),
}

#: Lines an existing ledger warning already states (logger, message pattern).
_STATED = (
    ("carbonsink.biomass.agb_map", re.compile(r"outside the area of applicability|not predicted")),
    ("carbonsink.biomass.aoa", re.compile(r"outside the model's area of applicability")),
    ("carbonsink.imagery.composite", re.compile(r"left out of the composite")),
    ("carbonsink.imagery.scenes", re.compile(r"clouds are not masked")),
)

#: Loggers whose lines are about the run's own files, not the claim.
_NOT_CLAIM = ("carbonsink.pipeline",)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.lines: list[LoggedLine] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(_NOT_CLAIM):
            self.lines.append((record.name, record.getMessage()))


@contextmanager
def _collecting() -> Iterator[_Collector]:
    collector = _Collector()
    package = logging.getLogger("carbonsink")
    previous_level = package.level
    # A quiet console (``--quiet``, or a notebook that set the package to ERROR)
    # must not drop the lines the ledger carries: the package passes WARNING
    # while the stage runs; what the console shows is its handler's level.
    if package.getEffectiveLevel() > logging.WARNING:
        package.setLevel(logging.WARNING)
    package.addHandler(collector)
    try:
        yield collector
    finally:
        package.removeHandler(collector)
        package.setLevel(previous_level)


def capture(compute: Callable[[], _T]) -> Callable[[], tuple[_T, tuple[LoggedLine, ...]]]:
    """``compute`` returning also the WARNING lines the package logged while it ran.

    Lines logged in other processes (LiDAR tiles and bootstrap replicates on a
    Dask cluster) are not seen here: the stages log their warnings in the
    process that runs the stage, so the same lines are captured whatever the
    executor.
    """

    def run() -> tuple[_T, tuple[LoggedLine, ...]]:
        with _collecting() as collector:
            value = compute()
        return value, tuple(collector.lines)

    return run


def logged_warnings(where: str, lines: Sequence[LoggedLine]) -> list[LedgerWarning]:
    """Ledger warnings of a stage's logged lines (each kind once per message), in their order."""
    out: list[LedgerWarning] = []
    seen: set[tuple[str, str]] = set()
    for name, message in lines:
        if any(name == logger and pattern.search(message) for logger, pattern in _STATED):
            continue
        code, effect = LOGGED_CODES.get(name, ("stage-warning", ""))
        text = f"{message}; {effect}" if effect else message
        if (code, text) in seen:
            continue
        seen.add((code, text))
        out.append(LedgerWarning(code, text, where=where))
    return out
