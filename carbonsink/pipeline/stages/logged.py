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

A line is kept as an :class:`~carbonsink.i18n.Message` — the stages log
``logger.warning(deferred("…", n=…))`` — so the ledger says it in the run's
language, also when the stage was read back from a cache an English run
wrote. A line logged as plain text (another library's, or a %-format) is
kept as it was said.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from carbonsink.accounting.ledger import LedgerWarning
from carbonsink.i18n import N_, Message, shown, verbatim
from carbonsink.i18n import gettext as _

__all__ = ["LOGGED_CODES", "LoggedLine", "capture", "logged_warnings"]

_T = TypeVar("_T")

#: A logged line: (logger name, what it says).
LoggedLine = tuple[str, Message]

#: Logger → (ledger code, its effect on the claim or ``""``), for the kinds of line a stage logs.
LOGGED_CODES: dict[str, tuple[str, str]] = {
    "carbonsink.biomass.bootstrap": (
        "bootstrap-coarse",
        N_(
            "its spread enters the claim only in strata without a residual correction: each "
            "mapped stratum's AGB error is that of its correction (docs/methodology.md §6.4)"
        ),
    ),
    "carbonsink.biomass.model_choice": ("lidar-model-not-used", ""),
    "carbonsink.biomass.aoa": ("aoa-weights", ""),
    "carbonsink.imagery.area_estimate": ("landcover-few-samples", ""),
    "carbonsink.imagery.landcover": ("landcover-class-absent", N_("the class adds 0 ha")),
    "carbonsink.lidar.processing": ("lidar-outside-grid", N_("the file adds no LiDAR metric")),
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
            said = record.msg
            if not isinstance(said, Message) or record.args:
                said = verbatim(record.getMessage())
            self.lines.append((record.name, said))


def _ours(name: str) -> bool:
    return name == "carbonsink" or name.startswith("carbonsink.")


class _Shown(logging.Filter):
    """Passes other loggers' records, and the package's at or above the level it showed."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return not _ours(record.name) or record.levelno >= self.level


@dataclass
class _Raised:
    """The package's level while captures run: the first raises it, the last restores it."""

    count: int = 0
    level: int = logging.NOTSET
    shown: _Shown | None = None
    handlers: list[logging.Handler] = field(default_factory=list)


_RAISED = _Raised()
_LOCK = threading.Lock()


@contextmanager
def _collecting() -> Iterator[_Collector]:
    """Collect the package's WARNING lines while the block runs.

    A quiet setting (``--quiet``, a notebook's ``basicConfig(level=ERROR)``, an
    ERROR level on the package) must not drop the lines the ledger carries: the
    package passes WARNING while a stage runs, and every handler that saw its
    records before — its own and its parents' — gets a filter that keeps what
    it showed (the package's records below that level reach only the
    collectors). Captures may overlap (stages in threads): the first raises
    the level, the last restores it.
    """
    collector = _Collector()
    package = logging.getLogger("carbonsink")
    with _LOCK:
        if _RAISED.count == 0:
            level_shown = package.getEffectiveLevel()
            _RAISED.level = package.level
            if level_shown > logging.WARNING:
                _RAISED.shown = _Shown(level_shown)
                logger: logging.Logger | None = package
                while logger is not None:
                    _RAISED.handlers += logger.handlers
                    logger = logger.parent if logger.propagate else None
                for handler in _RAISED.handlers:
                    handler.addFilter(_RAISED.shown)
                package.setLevel(logging.WARNING)
        _RAISED.count += 1
        package.addHandler(collector)
    try:
        yield collector
    finally:
        with _LOCK:
            package.removeHandler(collector)
            _RAISED.count -= 1
            if _RAISED.count == 0:
                package.setLevel(_RAISED.level)
                if _RAISED.shown is not None:
                    for handler in _RAISED.handlers:
                        handler.removeFilter(_RAISED.shown)
                _RAISED.shown, _RAISED.handlers = None, []


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


def logged_warnings(where: Message, lines: Sequence[LoggedLine]) -> list[LedgerWarning]:
    """Ledger warnings of a stage's logged lines (each kind once per message), in their order.

    Said in the active language (:func:`carbonsink.i18n.language`); which
    lines are left out, and which repeat, is decided on their English.
    """
    out: list[LedgerWarning] = []
    seen: set[tuple[str, str]] = set()
    for name, said in lines:
        english = str(said)
        if any(name == logger and pattern.search(english) for logger, pattern in _STATED):
            continue
        code, effect = LOGGED_CODES.get(name, ("stage-warning", ""))
        if (code, english) in seen:
            continue
        seen.add((code, english))
        text = str(shown(said))
        if effect:
            text = _("{message}; {effect}").format(message=text, effect=_(effect))
        out.append(LedgerWarning(code, text, where=str(shown(where))))
    return out
