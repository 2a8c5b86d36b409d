"""The stage cache of a run: finished stages kept in ``OUT/.cache`` by content hash.

Stages whose inputs have not changed are read back, so an interrupted or
repeated run resumes where it stopped and gives identical numbers for the
same seed. Each entry's name holds the SHA-256 of everything it was computed
from (carbonsink version, a fingerprint of its code, survey settings, seed
and the bytes of every input file), so a changed input or a changed
carbonsink is a cache miss, never a stale result.

An entry is a folder (:mod:`carbonsink.pipeline.cache_codec`): ``entry.json``
(the result as JSON, and the sha256 of the entry's other files),
``arrays.npz`` (its arrays, read with ``allow_pickle=False``) and one
``.skops`` file per fitted estimator — never a pickle, so nothing in an
entry is executed. It is written to a temporary folder and renamed into
place; one that does not verify or decode (truncated, tampered with, of an
older format) is removed and recomputed, with a warning. Temporary folders of
a killed run, and entries the last complete run did not use
(:meth:`StageCache.prune`), are removed. Delete ``OUT/.cache`` (or run with
``--fresh``) to recompute everything.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import secrets
import shutil
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from carbonsink.pipeline.cache_codec import (
    CacheFormatError,
    UnsupportedValueError,
    decode,
    encode,
)
from carbonsink.pipeline.outputs import OutputFolder

__all__ = ["StageCache", "StageRecord", "code_fingerprint", "content_key", "file_sha256"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Version of the entry layout; an entry of another version is recomputed.
CACHE_FORMAT = 1
_CACHE_DIR = ".cache"
_TEMP_PREFIX = ".tmp-"
#: What reading an entry raises when it is damaged, tampered with or of another format.
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile)


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


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 (hex) of carbonsink's source: every ``.py`` file of the package, by path and bytes.

    Part of every cache key, so an entry computed by other code (an edited
    checkout, another release) is never read back.
    """
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


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
        self._used: set[Path] = set()
        if folder is not None:
            self._remove_orphans(folder.root / _CACHE_DIR)

    def get(self, name: str, key: str, compute: Callable[[], _T]) -> _T:
        """The stage's result: read back when cached (and intact), else computed (and cached)."""
        start = time.perf_counter()
        if self.folder is None:
            value = compute()
            self.records.append(StageRecord(name, time.perf_counter() - start, False))
            return value
        entry = self._entry(name, key)
        self._used.add(entry.parent)
        if self.enabled and entry.is_file():
            try:
                cached: _T = _read_entry(entry.parent)
            except _UNREADABLE as exc:
                logger.warning(
                    "the cache entry %s is damaged or of another format (%s): it is removed "
                    "and the stage computed again",
                    entry.parent.name,
                    exc,
                )
                shutil.rmtree(entry.parent, ignore_errors=True)
            else:
                self.records.append(StageRecord(name, time.perf_counter() - start, True))
                logger.info("stage %s: read from the cache (%s)", name, entry.parent.name)
                return cached
        value = compute()
        try:
            _write_entry(entry.parent, value)
        except UnsupportedValueError as exc:  # our own fault: the run goes on uncached
            logger.warning("stage %s is not cached: the cache cannot hold %s", name, exc)
        self.records.append(StageRecord(name, time.perf_counter() - start, False))
        logger.info("stage %s: computed in %.1f s", name, time.perf_counter() - start)
        return value

    def stored(self, name: str, key: str) -> bool:
        """Whether the stage's entry is on disk (written or read by :meth:`get`)."""
        return self.folder is not None and self._entry(name, key).is_file()

    def reread(self, name: str, key: str, compute: Callable[[], _T]) -> _T:
        """A stage's result read back from its entry, which :meth:`get` has made or read.

        For results the run lets go between stages (an earlier epoch's, while the
        next epoch's stage runs) and needs again; unlike :meth:`get`, with or
        without ``--fresh`` and without a new timing record. An entry damaged or
        removed meanwhile is computed again (with a warning).
        """
        if self.folder is None:
            return compute()
        entry = self._entry(name, key)
        try:
            value: _T = _read_entry(entry.parent)
        except _UNREADABLE as exc:
            logger.warning(
                "the cache entry %s could not be read back (%s): stage %s is computed again",
                entry.parent.name,
                exc,
                name,
            )
            return compute()
        logger.info("stage %s: read back from the cache (%s)", name, entry.parent.name)
        return value

    def _entry(self, name: str, key: str) -> Path:
        """The ``entry.json`` of a stage's entry (the run has an output folder)."""
        assert self.folder is not None
        return self.folder.path("stage_cache", stage=name, key=key[:24])

    def timed(self, name: str, compute: Callable[[], _T]) -> _T:
        """Run a stage that is never cached, and record its time."""
        start = time.perf_counter()
        value = compute()
        self.records.append(StageRecord(name, time.perf_counter() - start, False))
        return value

    def prune(self) -> list[Path]:
        """Remove the entries this run did not use (after it completed); return them.

        The cache then holds only what a rerun of the same survey reads, so its
        size stays that of one run's stage results.
        """
        if self.folder is None:
            return []
        removed = []
        for entry in sorted((self.folder.root / _CACHE_DIR).glob("*")):
            if entry.is_dir() and entry not in self._used and not entry.name.startswith("."):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        if removed:
            logger.info("removed %d cache entries this run did not use", len(removed))
        return removed

    @staticmethod
    def _remove_orphans(cache: Path) -> None:
        """Temporary folders of killed runs, and files of older cache formats (pickles)."""
        if not cache.is_dir():
            return
        for path in sorted(cache.iterdir()):
            if path.name.startswith(_TEMP_PREFIX) and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
                logger.info("removed an unfinished cache entry of an interrupted run (%s)", path)
            elif path.is_file():  # entries are folders: a file is of an older format
                path.unlink(missing_ok=True)
                logger.info("removed %s (an older cache format, never read)", path)


#: zlib level of the entries' arrays: level 1 writes an epoch of the 43.5 km² generator
#: survey (210 MB of arrays) in 5.1 s against 8.3 s at numpy's level 6, 2 % larger.
_ARRAY_COMPRESSION = 1


def _save_arrays(buffer: io.BytesIO, arrays: Mapping[str, np.ndarray]) -> None:
    """An ``.npz`` of ``arrays`` (what :func:`numpy.savez_compressed` writes, at a faster level)."""
    with zipfile.ZipFile(
        buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=_ARRAY_COMPRESSION
    ) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def _write_entry(final: Path, value: Any) -> None:
    """Write a result as a cache entry folder, atomically (temporary folder, then rename)."""
    tree, arrays, blobs = encode(value)
    temp = final.parent / f"{_TEMP_PREFIX}{final.name}-{secrets.token_hex(4)}"
    temp.mkdir(parents=True)
    try:
        files: dict[str, str] = {}
        buffer = io.BytesIO()
        _save_arrays(buffer, arrays)
        for name, data in [("arrays.npz", buffer.getvalue())] + [
            (f"{key}.skops", blob) for key, blob in blobs.items()
        ]:
            (temp / name).write_bytes(data)
            files[name] = hashlib.sha256(data).hexdigest()
        entry = {"format": CACHE_FORMAT, "files": files, "result": tree}
        (temp / "entry.json").write_text(json.dumps(entry), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        temp.rename(final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _read_entry(folder: Path) -> Any:
    """The result of a cache entry folder, after checking every file's sha256.

    Raises
    ------
    ValueError
        The entry is of another format, a file is missing or differs from its
        sha256, or the result does not decode (:class:`CacheFormatError`).
    """
    entry = json.loads((folder / "entry.json").read_text(encoding="utf-8"))
    if entry.get("format") != CACHE_FORMAT:
        raise ValueError(f"format {entry.get('format')!r}, not {CACHE_FORMAT}")
    data = {}
    for name, digest in entry["files"].items():
        if "/" in name or "\\" in name or name.startswith("."):
            raise CacheFormatError(f"the entry names the file {name!r}")
        data[name] = (folder / name).read_bytes()
        if hashlib.sha256(data[name]).hexdigest() != digest:
            raise ValueError(f"{name} differs from its sha256 (changed or truncated)")
    with np.load(io.BytesIO(data.pop("arrays.npz")), allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    blobs = {name.removesuffix(".skops"): blob for name, blob in data.items()}
    return decode(entry["result"], arrays, blobs)
