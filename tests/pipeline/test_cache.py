"""Tests of carbonsink.pipeline.cache: content keys and the stage cache."""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import carbonsink
from carbonsink.pipeline.cache import StageCache, code_fingerprint, content_key, file_sha256
from carbonsink.pipeline.outputs import OutputFolder


def test_file_sha256_of_known_bytes(tmp_path: Path) -> None:
    # FIPS 180-2 test vector: SHA-256("abc") = ba7816bf…f20015ad; read in 1-byte
    # chunks to exercise the chunked reader.
    path = tmp_path / "abc.txt"
    path.write_bytes(b"abc")
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert file_sha256(path, chunk=1) == expected == hashlib.sha256(b"abc").hexdigest()


def test_content_key_is_the_sha256_of_sorted_json() -> None:
    # json.dumps([{"a": 1, "b": 2}], sort_keys=True) == '[{"a": 1, "b": 2}]'
    expected = hashlib.sha256(b'[{"a": 1, "b": 2}]').hexdigest()
    assert content_key({"b": 2, "a": 1}) == expected
    assert content_key({"a": 1}) != content_key({"a": 2})


def test_stage_cache_computes_once_per_key(tmp_path: Path) -> None:
    calls: list[str] = []

    def compute(value: str) -> dict[str, str]:
        calls.append(value)
        return {"value": value}

    folder = OutputFolder(tmp_path)
    cache = StageCache(folder, enabled=True)
    assert cache.get("stage", "a" * 64, lambda: compute("first")) == {"value": "first"}
    # The entry is named by the output registry: .cache/<stage>-<first 24 hex of the key>/
    assert (tmp_path / ".cache" / f"stage-{'a' * 24}" / "entry.json").is_file()
    # Same key: read back, not recomputed (a fresh cache object, as after a restart).
    again = StageCache(folder, enabled=True)
    assert again.get("stage", "a" * 64, lambda: compute("second")) == {"value": "first"}
    assert [r.cached for r in again.records] == [True]
    # A changed input is a new key: recomputed.
    assert again.get("stage", "b" * 64, lambda: compute("third")) == {"value": "third"}
    # --fresh: the cache is not read.
    fresh = StageCache(folder, enabled=False)
    assert fresh.get("stage", "a" * 64, lambda: compute("fourth")) == {"value": "fourth"}
    assert calls == ["first", "third", "fourth"]
    assert not list((tmp_path / ".cache").glob(".tmp*"))


def test_without_a_folder_nothing_is_cached(tmp_path: Path) -> None:
    cache = StageCache(None, enabled=True)
    assert cache.get("stage", "c" * 64, lambda: 1) == 1
    assert cache.get("stage", "c" * 64, lambda: 2) == 2
    assert cache.timed("outputs", lambda: 3) == 3
    assert [(r.name, r.cached) for r in cache.records] == [
        ("stage", False),
        ("stage", False),
        ("outputs", False),
    ]
    assert not list(tmp_path.iterdir())


def test_a_result_let_go_is_read_back_with_or_without_fresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The run lets an earlier epoch's result go once cached and reads it back later:
    # the same arrays, also under --fresh (the entry is this run's), and no new record.
    value = {"grid": np.arange(12.0).reshape(3, 4), "name": "reed"}
    for enabled in (True, False):
        folder = OutputFolder(tmp_path / str(enabled))
        cache = StageCache(folder, enabled=enabled)
        assert not cache.stored("stage", "e" * 64)
        cache.get("stage", "e" * 64, lambda: value)
        assert cache.stored("stage", "e" * 64) and not cache.stored("stage", "f" * 64)
        back = cache.reread("stage", "e" * 64, lambda: {"grid": np.zeros(1), "name": "again"})
        np.testing.assert_array_equal(back["grid"], value["grid"])
        assert back["name"] == "reed" and len(cache.records) == 1
    # Removed meanwhile: computed again, with a warning.
    caplog.set_level(logging.WARNING, logger="carbonsink")
    (_entry(tmp_path / "True", "e" * 64) / "arrays.npz").unlink()
    cache = StageCache(OutputFolder(tmp_path / "True"), enabled=True)
    again = cache.reread("stage", "e" * 64, lambda: {"grid": np.zeros(1), "name": "again"})
    assert again["name"] == "again"
    assert any("read back" in r.getMessage() for r in caplog.records)
    # Without a folder nothing is stored: the result is computed (the run keeps it instead).
    none = StageCache(None, enabled=True)
    assert not none.stored("stage", "e" * 64)
    assert none.reread("stage", "e" * 64, lambda: 7) == 7


class Planted:
    """What a planted pickle would run on load: it writes a file."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.target, "executed"))


def _entry(tmp_path: Path, key: str = "d" * 64) -> Path:
    return tmp_path / ".cache" / f"stage-{key[:24]}"


def test_a_planted_pickle_is_never_loaded_and_is_removed(tmp_path: Path) -> None:
    # An entry of the old format (a pickle whose loading would write a file) is never read:
    # the cache removes it and computes the stage.
    cache_dir = tmp_path / ".cache"
    cache_dir.mkdir()
    target = tmp_path / "pwned.txt"
    planted = cache_dir / f"stage-{'d' * 24}.pkl"
    planted.write_bytes(pickle.dumps(Planted(target)))
    cache = StageCache(OutputFolder(tmp_path), enabled=True)
    assert cache.get("stage", "d" * 64, lambda: {"value": 1}) == {"value": 1}
    assert not target.exists() and not planted.exists()


@pytest.mark.parametrize("damage", ["truncate-arrays", "edit-arrays", "drop-json", "bad-class"])
def test_a_damaged_or_tampered_entry_is_recomputed_with_a_warning(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder = OutputFolder(tmp_path)
    value = {"grid": np.arange(12.0).reshape(3, 4), "name": "reed"}
    StageCache(folder, enabled=True).get("stage", "d" * 64, lambda: value)
    entry = _entry(tmp_path)
    arrays = entry / "arrays.npz"
    if damage == "truncate-arrays":  # a write killed half-way, or a full disk
        arrays.write_bytes(arrays.read_bytes()[:40])
    elif damage == "edit-arrays":  # same size, other bytes: the sha256 differs
        data = bytearray(arrays.read_bytes())
        data[-10] ^= 0xFF
        arrays.write_bytes(bytes(data))
    elif damage == "drop-json":
        (entry / "entry.json").write_text("{", encoding="utf-8")
    else:  # a planted node naming a class outside carbonsink: refused, never built
        doc = json.loads((entry / "entry.json").read_text(encoding="utf-8"))
        doc["result"] = {"$dataclass": {"module": "os", "name": "system"}, "state": {}}
        (entry / "entry.json").write_text(json.dumps(doc), encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="carbonsink")
    again = StageCache(folder, enabled=True)
    result = again.get("stage", "d" * 64, lambda: {"grid": np.zeros(2), "name": "new"})
    assert result["name"] == "new"
    assert [r.cached for r in again.records] == [False]
    assert any("damaged" in r.getMessage() for r in caplog.records)
    # The recomputed entry replaced the damaged one and reads back.
    third = StageCache(folder, enabled=True).get("stage", "d" * 64, lambda: None)
    assert third is not None and third["name"] == "new"


def test_orphans_of_a_killed_run_and_unused_entries_are_removed(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path)
    first = StageCache(folder, enabled=True)
    first.get("stage", "e" * 64, lambda: 1)
    first.get("other", "f" * 64, lambda: 2)
    orphan = tmp_path / ".cache" / ".tmp-stage-1234-abcd"
    orphan.mkdir()
    (orphan / "arrays.npz").write_bytes(b"half")
    second = StageCache(folder, enabled=True)
    assert not orphan.exists()
    assert second.get("stage", "e" * 64, lambda: 3) == 1
    # After a complete run, only what it used stays.
    removed = second.prune()
    assert [p.name for p in removed] == [f"other-{'f' * 24}"]
    assert sorted(p.name for p in (tmp_path / ".cache").iterdir()) == [f"stage-{'e' * 24}"]


def test_code_fingerprint_is_the_sha256_of_the_package_source() -> None:
    package = Path(carbonsink.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    assert code_fingerprint() == digest.hexdigest()
