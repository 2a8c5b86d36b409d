"""The stage cache of a run: finished stages kept in ``OUT/.cache`` by content hash.

Stages whose inputs have not changed are read back, so an interrupted or
repeated run resumes where it stopped and gives identical numbers for the
same seed. Each entry's name holds the SHA-256 of everything it was computed
from (carbonsink version, survey settings, seed and the bytes of every input
file), so a changed input is a cache miss, never a stale result.

The cache holds Python pickles of carbonsink's own results and is read back
only from the output folder the run itself wrote. Delete ``OUT/.cache`` (or
run with ``--fresh``) to recompute everything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from carbonsink.io.writers import atomic_path
from carbonsink.pipeline.outputs import OutputFolder

__all__ = ["StageCache", "StageRecord", "content_key", "file_sha256"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


def file_sha256(path: Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def content_key(*parts: Any) -> str:
    """SHA-256 (hex) of JSON-serialisable parts (sorted keys): a cache key."""
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StageRecord:
    """One stage of a run: its name, wall time (s) and whether it came from the cache."""

    name: str
    seconds: float
    cached: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "seconds": round(self.seconds, 3), "cached": self.cached}


class StageCache:
    """Stage results under ``OUT/.cache``, named by their content hash.

    Parameters
    ----------
    folder
        The run's output folder (``None``: nothing is cached, stages are
        only timed).
    enabled
        Read existing entries (``--resume``); ``False`` recomputes and
        rewrites them (``--fresh``).
    """

    def __init__(self, folder: OutputFolder | None, *, enabled: bool) -> None:
        self.folder = folder
        self.enabled = enabled
        self.records: list[StageRecord] = []

    def get(self, name: str, key: str, compute: Callable[[], _T]) -> _T:
        """The stage's result: read back when cached, else computed (and cached)."""
        start = time.perf_counter()
        path = (
            None
            if self.folder is None
            else self.folder.path("stage_cache", stage=name, key=key[:24])
        )
        if self.enabled and path is not None and path.is_file():
            with path.open("rb") as handle:
                value: _T = pickle.load(handle)  # our own cache, see the module doc
            self.records.append(StageRecord(name, time.perf_counter() - start, True))
            logger.info("stage %s: read from the cache (%s)", name, path.name)
            return value
        value = compute()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp, tmp.open("wb") as handle:
                pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        self.records.append(StageRecord(name, time.perf_counter() - start, False))
        logger.info("stage %s: computed in %.1f s", name, time.perf_counter() - start)
        return value

    def timed(self, name: str, compute: Callable[[], _T]) -> _T:
        """Run a stage that is never cached, and record its time."""
        start = time.perf_counter()
        value = compute()
        self.records.append(StageRecord(name, time.perf_counter() - start, False))
        return value
